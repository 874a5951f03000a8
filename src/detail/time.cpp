#include "detail/time.hpp"

#include <algorithm>
#include <cstdio>

namespace ee::detail {
namespace {

namespace chr = std::chrono;

constexpr int kMinYear = 1678;
constexpr int kMaxYear = 2261;
// Unix seconds of 1678-01-01 and 2262-01-01, rounded inwards: the range where a nanosecond
// system_clock cannot overflow.
constexpr std::int64_t kMinUnixSeconds = -9'214'560'000;
constexpr std::int64_t kMaxUnixSeconds = 9'214'560'000;

Error bad_time(std::string_view what) { return Error(errc::bad_time, "RFC 3339 timestamp: " + std::string(what)); }

// Reads exactly `digits` decimal digits at `pos`.
bool read_number(std::string_view text, std::size_t pos, std::size_t digits, int& out) noexcept {
  if (pos + digits > text.size()) return false;
  int value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    char const c = text[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  out = value;
  return true;
}

}  // namespace

std::string format_rfc3339(SystemTime t, int fractional_digits) {
  auto const seconds = chr::floor<chr::seconds>(t);
  auto const days = chr::floor<chr::days>(seconds);
  chr::year_month_day const ymd{days};
  chr::hh_mm_ss const hms{seconds - days};
  char buf[48];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                        static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                        static_cast<int>(hms.seconds().count()));
  std::string out(buf, static_cast<std::size_t>(n));
  if (fractional_digits == 3 || fractional_digits == 6) {
    auto const micros = chr::duration_cast<chr::microseconds>(t - seconds).count();
    auto const value = fractional_digits == 3 ? micros / 1000 : micros;
    n = std::snprintf(buf, sizeof buf, ".%0*lld", fractional_digits, static_cast<long long>(value));
    out.append(buf, static_cast<std::size_t>(n));
  }
  out += 'Z';
  return out;
}

result<SystemTime> parse_rfc3339(std::string_view text) {
  // RFC 3339 section 5.6: full-date "T" full-time; time-offset is "Z" or +/-hh:mm.
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (text.size() < 20) return bad_time("too short");
  if (!read_number(text, 0, 4, year) || text[4] != '-' || !read_number(text, 5, 2, month) || text[7] != '-' ||
      !read_number(text, 8, 2, day))
    return bad_time("date must be YYYY-MM-DD");
  if (text[10] != 'T' && text[10] != 't' && text[10] != ' ') return bad_time("expected 'T' after the date");
  if (!read_number(text, 11, 2, hour) || text[13] != ':' || !read_number(text, 14, 2, minute) || text[16] != ':' ||
      !read_number(text, 17, 2, second))
    return bad_time("time must be hh:mm:ss");
  chr::year_month_day const ymd{chr::year{year}, chr::month{static_cast<unsigned>(month)},
                                chr::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return bad_time("no such date");
  // system_clock counts nanoseconds in 64 bits: years 1678..2261 are representable.
  if (year < kMinYear || year > kMaxYear) return bad_time("year outside 1678..2261");
  if (hour > 23 || minute > 59) return bad_time("hour or minute out of range");
  if (second > 59) return bad_time("seconds out of range (leap seconds are not accepted)");

  std::size_t pos = 19;
  chr::nanoseconds fraction{0};
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t const start = pos;
    std::int64_t nanos = 0;
    std::size_t used = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (used < 9) {
        nanos = nanos * 10 + (text[pos] - '0');
        ++used;
      }
      ++pos;
    }
    if (pos == start) return bad_time("empty fraction after '.'");
    for (; used < 9; ++used) nanos *= 10;
    fraction = chr::nanoseconds{nanos};
  }
  if (pos >= text.size()) return bad_time("missing time zone offset (Z or +hh:mm)");
  chr::minutes offset{0};
  char const zone = text[pos];
  if (zone == 'Z' || zone == 'z') {
    ++pos;
  } else if (zone == '+' || zone == '-') {
    int oh = 0, om = 0;
    if (!read_number(text, pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !read_number(text, pos + 4, 2, om))
      return bad_time("offset must be +hh:mm or -hh:mm");
    if (oh > 23 || om > 59) return bad_time("offset out of range");
    offset = chr::hours{oh} + chr::minutes{om};
    if (zone == '-') offset = -offset;
    pos += 6;
  } else {
    return bad_time("missing time zone offset (Z or +hh:mm)");
  }
  if (pos != text.size()) return bad_time("unexpected text after the timestamp");

  auto const local = chr::sys_days{ymd} + chr::hours{hour} + chr::minutes{minute} + chr::seconds{second};
  return chr::time_point_cast<SystemTime::duration>(local - offset + fraction);
}

std::int64_t to_unix_seconds(SystemTime t) noexcept {
  return chr::floor<chr::seconds>(t.time_since_epoch()).count();
}

SystemTime from_unix_seconds(std::int64_t seconds) noexcept {
  seconds = std::clamp(seconds, kMinUnixSeconds, kMaxUnixSeconds);
  return SystemTime{chr::seconds{seconds}};
}

}  // namespace ee::detail
