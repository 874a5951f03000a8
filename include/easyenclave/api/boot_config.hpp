#pragma once
/// @file The boot configuration on the kernel command line: the launcher writes it, the agent
/// reads it, both through this one codec so neither side can drift.
///
///   easyenclave.configz=<base64 of the zlib stream (RFC 1950) of the compact JSON object>
///   easyenclave.config=<base64 of the compact JSON object>
///
/// The encoder writes whichever is shorter. Base64 is the standard padded alphabet (RFC 4648
/// section 4, what `base64` in a shell produces): `A-Z a-z 0-9 + / =` holds no space and no
/// double quote, the only characters the kernel's parameter splitter (lib/cmdline.c) treats
/// specially, and the '=' padding is safe because the kernel splits `name=value` at the first '='.
#include <easyenclave/api/error.hpp>
#include <easyenclave/error.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ee::api {

/// The parameter names, without the '='.
inline constexpr std::string_view kBootConfigParam = "easyenclave.config";
inline constexpr std::string_view kBootConfigzParam = "easyenclave.configz";

/// The x86 kernel's COMMAND_LINE_SIZE, the terminating NUL included: a command line holds at most
/// kBootConfigMaxCmdline - 1 characters, shared with everything else on it. When the boot
/// configuration does not fit (`fits_command_line`), the launcher hands it over on a config
/// drive instead.
inline constexpr std::size_t kBootConfigMaxCmdline = 2048;

/// The largest JSON document either side accepts, before compression and after inflation; the
/// decoder never inflates past it (a zlib stream of a few kilobytes can expand to gigabytes).
inline constexpr std::size_t kBootConfigMaxJson = 64 * 1024;

/// The command-line parameter for the JSON object `json`, re-serialised compactly:
/// "easyenclave.configz=..." or "easyenclave.config=...", whichever is shorter (the plain form on
/// a tie). The result may be too long for a command line: check it with `fits_command_line`.
/// @returns errc::invalid_boot_config when `json` is not one strict JSON object (RFC 8259, no
///          repeated keys) or its compact form is larger than kBootConfigMaxJson.
/// Never throws (except bad_alloc). Thread-safe.
result<std::string> encode_boot_config(std::string_view json);

/// True when `param` (as `encode_boot_config` returns it) fits on a kernel command line that
/// already holds `others` characters of other parameters (plus the space between them).
/// Thread-safe.
bool fits_command_line(std::string_view param, std::size_t others = 0) noexcept;

/// Finds the boot configuration in a whole kernel command line (the text of `/proc/cmdline`:
/// parameters separated by white space, split as the kernel splits them, so a value may be in
/// double quotes) and returns its JSON text, compact.
/// @returns nullopt when neither parameter is present. errc::invalid_boot_config, with a message
///          naming the parameter and the problem, when: it appears more than once (or both forms
///          do); its value is empty; longer than any accepted configuration; not canonical base64;
///          (configz) not zlib, a truncated stream, bytes after the stream, or more than
///          kBootConfigMaxJson bytes once inflated; not JSON or not a JSON object.
/// Never throws (except bad_alloc). Thread-safe; `cmdline` is only read during the call.
result<std::optional<std::string>> decode_boot_config(std::string_view cmdline);

}  // namespace ee::api
