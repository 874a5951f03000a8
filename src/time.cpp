#include <easyenclave/time.hpp>

#include "detail/time.hpp"

#include <charconv>

namespace ee {

result<std::chrono::system_clock::time_point> parse_time(std::string_view text) {
  // All digits (optionally a leading '-'): Unix seconds.
  if (!text.empty() && text.find_first_not_of("-0123456789") == std::string_view::npos) {
    std::int64_t seconds = 0;
    auto const [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc{} || end != text.data() + text.size())
      return Error(errc::bad_time, "Unix time '" + std::string(text) + "' is not a 64-bit integer");
    return detail::from_unix_seconds(seconds);
  }
  return detail::parse_rfc3339(text);
}

std::string format_time(std::chrono::system_clock::time_point t) { return detail::format_rfc3339(t); }

}  // namespace ee
