#include <easyenclave/log.hpp>

#include "detail/log.hpp"
#include "detail/time.hpp"

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

namespace ee::log {
namespace {

// The sink is swapped rarely and read on every event: readers copy a shared_ptr under a short
// lock, so a sink being replaced is never destroyed while another thread is inside it. The state
// is allocated once and never destroyed, so threads still logging while the process exits never
// touch a destroyed mutex.
struct SinkState {
  std::mutex mutex;
  std::shared_ptr<Sink const> sink;
};
SinkState& sink_state() {
  static auto* state = new SinkState();
  return *state;
}
std::atomic<Level> g_level{Level::info};
std::atomic<bool> g_has_sink{false};

constexpr std::string_view kLevelNames[] = {"trace", "debug", "info", "warn", "error", "off"};

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    auto const u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", u);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

}  // namespace

void set_sink(Sink sink) {
  auto next = sink ? std::make_shared<Sink const>(std::move(sink)) : nullptr;
  auto& state = sink_state();
  std::lock_guard lock(state.mutex);
  g_has_sink.store(next != nullptr, std::memory_order_relaxed);
  state.sink = std::move(next);
}

void set_level(Level level) noexcept { g_level.store(level, std::memory_order_relaxed); }
Level level() noexcept { return g_level.load(std::memory_order_relaxed); }

bool enabled(Level at) noexcept {
  return at != Level::off && g_has_sink.load(std::memory_order_relaxed) &&
         static_cast<int>(at) >= static_cast<int>(level());
}

std::string_view to_string(Level at) noexcept {
  auto const index = static_cast<std::size_t>(at);
  return index < std::size(kLevelNames) ? kLevelNames[index] : "unknown";
}

bool parse_level(std::string_view text, Level& out) noexcept {
  for (std::size_t i = 0; i < std::size(kLevelNames); ++i) {
    if (kLevelNames[i] == text) {
      out = static_cast<Level>(i);
      return true;
    }
  }
  if (text == "warning") {
    out = Level::warn;
    return true;
  }
  return false;
}

bool parse_format(std::string_view text, Format& out) noexcept {
  if (text == "text") out = Format::text;
  else if (text == "json") out = Format::json;
  else return false;
  return true;
}

namespace {

// The value of a `request_id=` pair in a message: the characters a request id may hold
// (http::RequestContext::request_id). Empty when the message has none.
std::string_view request_id_in(std::string_view message) {
  constexpr std::string_view kKey = "request_id=";
  for (std::size_t at = message.find(kKey); at != std::string_view::npos; at = message.find(kKey, at + 1)) {
    if (at > 0 && message[at - 1] != ' ') continue;  // part of another key
    auto const start = at + kKey.size();
    auto end = start;
    while (end < message.size() && end - start < 128) {
      char const c = message[end];
      bool const ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '-';
      if (!ok) break;
      ++end;
    }
    if (end > start) return message.substr(start, end - start);
  }
  return {};
}

}  // namespace

Sink make_stderr_sink(Format format) {
  auto write_mutex = std::make_shared<std::mutex>();
  return [format, write_mutex](Level at, std::string_view component, std::string_view message) {
    std::string line;
    line.reserve(64 + component.size() + message.size());
    auto const ts = detail::format_rfc3339(std::chrono::system_clock::now(), 3);
    if (format == Format::json) {
      line += "{\"ts\":\"" + ts + "\",\"level\":\"";
      line += to_string(at);
      line += "\",\"component\":";
      append_json_string(line, component);
      line += ",\"msg\":";
      append_json_string(line, message);
      // A request's lines carry its id as a field of its own, to filter one request's lines.
      if (auto const id = request_id_in(message); !id.empty()) {
        line += ",\"request_id\":";
        append_json_string(line, id);
      }
      line += "}\n";
    } else {
      line += ts;
      line += ' ';
      line += to_string(at);
      line += ' ';
      line += component;
      line += ' ';
      for (char c : message) line += (c == '\n' || c == '\r') ? ' ' : c;  // one event, one line
      line += '\n';
    }
    std::lock_guard lock(*write_mutex);
    std::fwrite(line.data(), 1, line.size(), stderr);
  };
}

}  // namespace ee::log

namespace ee::detail::log {

void emit(Level level, std::string_view component, std::string_view message) {
  std::shared_ptr<ee::log::Sink const> sink;
  {
    auto& state = ee::log::sink_state();
    std::lock_guard lock(state.mutex);
    sink = state.sink;
  }
  if (sink) (*sink)(level, component, message);
}

}  // namespace ee::detail::log
