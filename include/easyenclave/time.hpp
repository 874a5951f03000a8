#pragma once
/// @file RFC 3339 timestamps for flags (`--at`), configs and API bodies.
#include <easyenclave/error.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace ee {

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)`; a Unix time in seconds
/// ("1752919234") is accepted too, because test vectors and injected clocks are given that way.
/// @returns errc::bad_time naming the problem (missing zone, no such date, ...). Never throws.
result<std::chrono::system_clock::time_point> parse_time(std::string_view text);

/// "2026-11-21T15:18:21Z". Never throws (except bad_alloc).
std::string format_time(std::chrono::system_clock::time_point t);

}  // namespace ee
