#pragma once
/// @file The boot configuration on the kernel command line: the launcher writes it, the agent
/// reads it, with this one codec so neither side can drift.
///
///   easyenclave.configz=<base64 of the zlib-compressed compact JSON object>
///   easyenclave.config=<base64 of the compact JSON object>
///
/// The encoder picks whichever is shorter. Base64 is the standard alphabet: it has no space or
/// quote, and its '=' padding is safe because the kernel splits a parameter at its first '='.
#include <easyenclave/api/error.hpp>
#include <easyenclave/error.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ee::api {

inline constexpr std::string_view kBootConfigParam = "easyenclave.config";
inline constexpr std::string_view kBootConfigzParam = "easyenclave.configz";
/// Above this the launcher hands the config over on a config drive instead (the kernel's own
/// command line limit is 2048 bytes on x86 by default, shared with everything else on it).
inline constexpr std::size_t kBootConfigMaxParam = 2048;
/// The largest JSON document the decoder accepts, compressed or not.
inline constexpr std::size_t kBootConfigMaxJson = 64 * 1024;

/// The command-line parameter ("easyenclave.configz=..." or "easyenclave.config=...", the shorter)
/// for `json`, which must be a JSON object; it is re-serialised compactly first.
/// @returns errc::invalid_boot_config when `json` is not a JSON object or is larger than
///          kBootConfigMaxJson. Never throws (except bad_alloc).
result<std::string> encode_boot_config(std::string_view json);

/// True when `param` (as encode_boot_config returns it) fits on the command line.
bool fits_command_line(std::string_view param) noexcept;

/// Finds the boot configuration in a whole kernel command line (`/proc/cmdline`: parameters
/// separated by spaces, a value optionally in double quotes) and returns its JSON text.
/// @returns nullopt when neither parameter is present; errc::invalid_boot_config naming what is
///          wrong: the parameter appears more than once (or both forms do), its value is empty,
///          not base64, not zlib, larger than kBootConfigMaxJson once inflated, or not a JSON
///          object. Never throws (except bad_alloc).
result<std::optional<std::string>> decode_boot_config(std::string_view cmdline);

}  // namespace ee::api
