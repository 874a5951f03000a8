#pragma once
// RFC 3339 timestamps (the profile of ISO 8601 used by JSON APIs, Intel PCS and JWT tooling).
#include <easyenclave/error.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace ee::detail {

using SystemTime = std::chrono::system_clock::time_point;

/// "2026-11-21T15:18:21Z"; with `fractional_digits` 3 or 6, ".123" or ".123456" before the Z.
std::string format_rfc3339(SystemTime t, int fractional_digits = 0);

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)`, with 'T'/'t' or ' ' between date and
/// time and 'Z'/'z'. Rejects anything else: missing zone, out-of-range fields (month 13, Feb 30,
/// hour 24), trailing text, years outside 1678..2261 (what a nanosecond system_clock holds).
/// errc::bad_time names the problem. Leap seconds (":60") are refused.
result<SystemTime> parse_rfc3339(std::string_view text);

/// Seconds since the Unix epoch, for JWT NumericDate and injected clocks.
std::int64_t to_unix_seconds(SystemTime t) noexcept;
/// Clamps to about +/-292 years around 1970, the range a nanosecond system_clock can hold, so a
/// hostile `exp` of 2^62 becomes "far future" instead of overflowing.
SystemTime from_unix_seconds(std::int64_t seconds) noexcept;

}  // namespace ee::detail
