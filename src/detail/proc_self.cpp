#include "detail/proc_self.hpp"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

#include <sys/resource.h>
#include <unistd.h>

namespace ee::detail {
namespace {

bool parse_decimal(std::string_view text, std::uint64_t& out) noexcept {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::string read_small_file(char const* path) {
  std::ifstream in(path, std::ios::binary);
  std::string text;
  // procfs files report size 0, so read until the end; these are a few hundred bytes.
  text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return text;
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text) noexcept {
  auto const close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  // Field 3 (state) starts after ") ".
  std::string_view rest = text.substr(close + 1);
  ProcStat stat;
  std::size_t field = 2;
  while (!rest.empty()) {
    auto const start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    auto const end = rest.find_first_of(" \n");
    auto const token = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
    ++field;
    std::uint64_t* slot = nullptr;
    switch (field) {
      case 14: slot = &stat.utime_ticks; break;
      case 15: slot = &stat.stime_ticks; break;
      case 22: slot = &stat.start_ticks; break;
      case 23: slot = &stat.virtual_bytes; break;
      case 24: slot = &stat.resident_pages; break;
      default: break;
    }
    if (slot != nullptr && !parse_decimal(token, *slot)) return std::nullopt;
    if (field == 24) return stat;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_boot_time(std::string_view text) noexcept {
  while (!text.empty()) {
    auto const end = text.find('\n');
    auto const line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    constexpr std::string_view kKey = "btime ";
    if (line.starts_with(kKey)) {
      std::uint64_t value = 0;
      if (parse_decimal(line.substr(kKey.size()), value)) return value;
      return std::nullopt;
    }
  }
  return std::nullopt;
}

ProcSelf read_proc_self() {
  ProcSelf self;
  auto const stat = parse_proc_stat(read_small_file("/proc/self/stat"));
  if (!stat) return self;
  auto const ticks = ::sysconf(_SC_CLK_TCK);
  auto const page = ::sysconf(_SC_PAGESIZE);
  if (ticks > 0) {
    self.cpu_seconds = static_cast<double>(stat->utime_ticks + stat->stime_ticks) / static_cast<double>(ticks);
    // The boot time does not change while we run; read it once.
    static std::optional<std::uint64_t> const boot = parse_boot_time(read_small_file("/proc/stat"));
    if (boot) {
      self.start_time_seconds =
          static_cast<double>(*boot) + static_cast<double>(stat->start_ticks) / static_cast<double>(ticks);
    }
  }
  self.virtual_bytes = stat->virtual_bytes;
  if (page > 0) self.resident_bytes = stat->resident_pages * static_cast<std::uint64_t>(page);
  return self;
}

std::size_t count_open_fds() {
  std::error_code ec;
  std::size_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++n;
  // The iterator's own descriptor was among them.
  return n > 0 ? n - 1 : 0;
}

std::uint64_t max_fds() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  return static_cast<std::uint64_t>(limit.rlim_cur);
}

}  // namespace ee::detail
