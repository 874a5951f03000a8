#include <easyenclave/agent/log_buffer.hpp>

#include <algorithm>

namespace ee::agent {

namespace {
// What a line costs beyond its text: the deque slot and the strings' headers, so a flood of
// empty lines is bounded too.
constexpr std::size_t kLineOverhead = 64;
constexpr std::string_view kCut = "...";
}  // namespace

LogBuffer::LogBuffer(std::size_t max_bytes, std::size_t max_line_bytes)
    : max_bytes_(max_bytes),
      max_line_bytes_(std::max<std::size_t>(max_line_bytes, kCut.size() + 1)) {}

std::size_t LogBuffer::cost(LogLine const& line) noexcept {
  return kLineOverhead + line.source.size() + line.text.size();
}

void LogBuffer::append(std::string_view source, std::string_view text,
                       std::chrono::system_clock::time_point at) {
  LogLine line;
  line.at = at;
  line.source = std::string(source);
  if (text.size() > max_line_bytes_) {
    line.text.reserve(max_line_bytes_);
    line.text.append(text.substr(0, max_line_bytes_ - kCut.size()));
    line.text.append(kCut);
  } else {
    line.text = std::string(text);
  }
  std::lock_guard lock(mutex_);
  line.seq = next_seq_++;
  bytes_ += cost(line);
  lines_.push_back(std::move(line));
  while (bytes_ > max_bytes_ && !lines_.empty()) {
    bytes_ -= cost(lines_.front());
    lines_.pop_front();
    ++dropped_;
  }
}

std::vector<LogLine> LogBuffer::read(std::optional<std::chrono::system_clock::time_point> since,
                                     std::optional<std::size_t> lines) const {
  std::lock_guard lock(mutex_);
  auto first = lines_.begin();
  if (since) {
    // Arrival order is time order up to clock steps; a step back only widens the answer.
    first = std::find_if(lines_.begin(), lines_.end(),
                         [&](LogLine const& l) { return l.at >= *since; });
  }
  auto available = static_cast<std::size_t>(lines_.end() - first);
  if (lines && *lines < available) first += static_cast<std::ptrdiff_t>(available - *lines);
  return {first, lines_.end()};
}

std::size_t LogBuffer::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

std::size_t LogBuffer::size() const {
  std::lock_guard lock(mutex_);
  return lines_.size();
}

std::uint64_t LogBuffer::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

}  // namespace ee::agent
