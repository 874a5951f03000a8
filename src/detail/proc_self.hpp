#pragma once
// What the process metrics read about this process from procfs (proc(5)): CPU time, memory,
// start time, descriptors. The parsers take the files' text, so they are tested (and fuzzed)
// without a /proc.
#include <cstdint>
#include <optional>
#include <string_view>

namespace ee::detail {

/// The fields of /proc/self/stat the metrics use, in the file's own units.
struct ProcStat {
  std::uint64_t utime_ticks = 0;      ///< field 14
  std::uint64_t stime_ticks = 0;      ///< field 15
  std::uint64_t start_ticks = 0;      ///< field 22: clock ticks after boot
  std::uint64_t virtual_bytes = 0;    ///< field 23
  std::uint64_t resident_pages = 0;   ///< field 24
};

/// Parses /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself hold
/// spaces and parentheses, so the fields after it are found from its last ')'. nullopt when the
/// text ends early or a field used is not a decimal number.
std::optional<ProcStat> parse_proc_stat(std::string_view text) noexcept;

/// The `btime` line of /proc/stat: boot time in seconds since the epoch. nullopt when absent.
std::optional<std::uint64_t> parse_boot_time(std::string_view proc_stat_text) noexcept;

/// This process's figures, converted to seconds and bytes; zeros for what cannot be read.
struct ProcSelf {
  double cpu_seconds = 0;
  double start_time_seconds = 0;
  std::uint64_t virtual_bytes = 0;
  std::uint64_t resident_bytes = 0;
};
ProcSelf read_proc_self();
std::size_t count_open_fds();
std::uint64_t max_fds();

}  // namespace ee::detail
