#include "launcher/host_tools.hpp"

#include <algorithm>
#include <cstdlib>

#include <unistd.h>

namespace ee::launcher::detail {

std::optional<std::filesystem::path> find_program(std::string_view name) {
  if (name.empty()) return std::nullopt;
  auto executable = [](std::filesystem::path const& p) {
    std::error_code ec;
    return std::filesystem::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string_view::npos) {
    std::filesystem::path const p(name);
    return executable(p) ? std::optional(p) : std::nullopt;
  }
  char const* path = std::getenv("PATH");
  // POSIX leaves the search path without PATH to the implementation; this is glibc's.
  std::string_view dirs = path != nullptr ? path : "/bin:/usr/bin";
  for (;;) {
    auto const colon = dirs.find(':');
    auto const dir = dirs.substr(0, colon);
    auto candidate = std::filesystem::path(dir.empty() ? "." : dir) / name;
    if (executable(candidate)) return candidate;
    if (colon == std::string_view::npos) return std::nullopt;
    dirs.remove_prefix(colon + 1);
  }
}

std::string output_tail(std::string_view text, std::size_t max_bytes) {
  constexpr std::string_view kSpace = " \t\r\n";
  auto const last = text.find_last_not_of(kSpace);
  if (last == std::string_view::npos) return {};
  text = text.substr(0, last + 1);
  bool const cut = text.size() > max_bytes;
  if (cut) text = text.substr(text.size() - max_bytes);
  text.remove_prefix(std::min(text.find_first_not_of(kSpace), text.size()));
  return cut ? "..." + std::string(text) : std::string(text);
}

}  // namespace ee::launcher::detail
