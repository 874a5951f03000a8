// Fuzzes the text the metrics read and write: the procfs parsers of the process metrics
// (src/detail/proc_self.cpp; the kernel writes that text, but the command name in it is the
// process's own choice) and the exposition the registry renders from label values and help text
// (src/metrics.cpp): whatever bytes a label holds, each series stays one line whose quoted value
// ends where its escaping says.
// And the reader of expositions the CP relays from agents (metrics::canonical_exposition): what it
// writes is its own canonical form, and it reads back to itself.
// Input: one mode byte (0: /proc/<pid>/stat; 1: /proc/stat for btime; 2: label values split at
// '|', rendered; 3: an exposition), then the text.
#include <easyenclave/metrics.hpp>

#include "detail/proc_self.hpp"
#include "fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

// Every line of a render is a comment or `name{labels} value` with balanced, escaped quotes.
void check_exposition(std::string_view text) {
  while (!text.empty()) {
    auto const end = text.find('\n');
    ee_fuzz::check(end != std::string_view::npos, "a render does not end with a newline");
    auto const line = text.substr(0, end);
    text.remove_prefix(end + 1);
    if (line.starts_with('#')) continue;
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (quoted && line[i] == '\\') {
        ++i;
        ee_fuzz::check(i < line.size(), "a label value ends in a lone backslash");
        continue;
      }
      if (line[i] == '"') quoted = !quoted;
    }
    ee_fuzz::check(!quoted, "a label value's quote is not closed on its line");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  ee_fuzz::Selected in;
  if (!ee_fuzz::select(data, size, 4, in)) return 0;
  auto const text = in.text();
  if (in.mode == 0) {
    (void)ee::detail::parse_proc_stat(text);
    return 0;
  }
  if (in.mode == 1) {
    (void)ee::detail::parse_boot_time(text);
    return 0;
  }
  if (in.mode == 3) {
    auto const once = ee::metrics::canonical_exposition(text, 1000);
    if (!once) return 0;
    check_exposition(*once);
    auto const twice = ee::metrics::canonical_exposition(*once, 1000);
    ee_fuzz::check(twice.has_value() && *twice == *once, "a canonical exposition is not a fixed point");
    return 0;
  }
  auto const bar = text.find('|');
  auto const first = text.substr(0, bar);
  auto const second = bar == std::string_view::npos ? std::string_view() : text.substr(bar + 1);
  ee::metrics::Registry registry;
  registry.counter("fuzz_total", std::string(first), {"a", "b"}).with({first, second}).inc();
  registry.histogram("fuzz_seconds", "h", {"a"}, {1}).with({second}).observe(0.5);
  check_exposition(registry.render());
  return 0;
}
