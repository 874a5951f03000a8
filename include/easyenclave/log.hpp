#pragma once
/// @file The logging seam. The library never chooses a backend: it sends events to the sink the
/// application installs, and is silent by default. Events never carry tokens, keys or quotes.
#include <functional>
#include <string_view>

namespace ee::log {

enum class Level { trace = 0, debug, info, warn, error, off };

/// Receives one event. `component` is a short module name ("http", "tdx"); `message` is one
/// line of key=value text. Both views are valid only for the duration of the call. A sink may be
/// called from any thread, concurrently; it must not call back into `set_sink`.
using Sink = std::function<void(Level level, std::string_view component, std::string_view message)>;

/// Installs `sink` (an empty function restores silence). Thread-safe.
void set_sink(Sink sink);
/// Events below `level` are dropped before formatting. Default: `Level::info`. Thread-safe.
void set_level(Level level) noexcept;
Level level() noexcept;
/// True when an event at `level` would reach a sink. Thread-safe.
bool enabled(Level level) noexcept;

/// "trace", "debug", "info", "warn", "error", "off".
std::string_view to_string(Level level) noexcept;
/// Parses the names above; returns false and leaves `out` unchanged for anything else.
bool parse_level(std::string_view text, Level& out) noexcept;

enum class Format { text, json };
/// Parses "text" or "json"; returns false for anything else.
bool parse_format(std::string_view text, Format& out) noexcept;

/// A sink that writes one line per event to stderr: in `Format::text`
/// `2026-11-21T15:18:21.123Z info http msg...`, in `Format::json` an object with `ts`, `level`,
/// `component` and `msg`. Lines from concurrent threads never interleave.
Sink make_stderr_sink(Format format);

}  // namespace ee::log
