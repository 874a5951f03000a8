#pragma once
// Keeps every log line (at every level) while alive, for tests that check what is, or is never,
// logged. One at a time: it replaces the process's log sink and level.
#include <easyenclave/log.hpp>

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace ee::test {

class LogCapture {
 public:
  LogCapture() : previous_level_(ee::log::level()) {
    ee::log::set_level(ee::log::Level::trace);
    ee::log::set_sink([this](ee::log::Level, std::string_view component, std::string_view message) {
      std::lock_guard lock(mutex_);
      lines_.push_back(std::string(component) + ": " + std::string(message));
    });
  }
  ~LogCapture() {
    ee::log::set_sink({});
    ee::log::set_level(previous_level_);
  }
  LogCapture(LogCapture const&) = delete;
  LogCapture& operator=(LogCapture const&) = delete;

  // The lines that contain every one of `parts`.
  std::vector<std::string> matching(std::vector<std::string> const& parts) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (auto const& line : lines_) {
      bool all = true;
      for (auto const& part : parts) all = all && line.find(part) != std::string::npos;
      if (all) out.push_back(line);
    }
    return out;
  }

 private:
  ee::log::Level const previous_level_;
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

}  // namespace ee::test
