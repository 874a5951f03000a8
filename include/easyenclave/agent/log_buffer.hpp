#pragma once
/// @file The agent's log: one ring buffer with a byte cap, shared by the agent's own log lines,
/// cloudflared's output and the workload's, and served (signed) through `GET /api/logs` to the
/// control plane. When full it drops the oldest lines, never the newest.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ee::agent {

struct LogLine {
  std::uint64_t seq = 0;  ///< 1, 2, 3, ... in arrival order; gaps mean dropped lines
  std::chrono::system_clock::time_point at{};
  std::string source{};  ///< "agent", "tunnel", "workload", "cp"
  std::string text{};
};

/// Thread-safe. Lines longer than `max_line_bytes` are cut (and marked with "...").
class LogBuffer {
 public:
  explicit LogBuffer(std::size_t max_bytes = 4 * 1024 * 1024,
                     std::size_t max_line_bytes = 8 * 1024);

  /// Appends one line; drops the oldest lines while the total exceeds the cap.
  void append(std::string_view source, std::string_view text,
              std::chrono::system_clock::time_point at = std::chrono::system_clock::now());

  /// The last `lines` lines (all when nullopt) at or after `since` (all when nullopt), oldest
  /// first.
  std::vector<LogLine> read(
      std::optional<std::chrono::system_clock::time_point> since = std::nullopt,
      std::optional<std::size_t> lines = std::nullopt) const;

  std::size_t bytes() const;
  std::size_t size() const;
  /// Lines dropped to stay under the cap since construction.
  std::uint64_t dropped() const;

 private:
  static std::size_t cost(LogLine const& line) noexcept;

  std::size_t const max_bytes_;
  std::size_t const max_line_bytes_;
  mutable std::mutex mutex_;
  std::deque<LogLine> lines_;
  std::size_t bytes_ = 0;
  std::uint64_t next_seq_ = 1;
  std::uint64_t dropped_ = 0;
};

}  // namespace ee::agent
