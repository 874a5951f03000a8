#pragma once
/// @file Hex and base64 for callers of the library (CLIs, bindings, embedders). Decoders are
/// strict: one byte string has exactly one accepted encoding.
#include <easyenclave/error.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ee {

/// Lower-case hex. Never throws (except bad_alloc).
std::string hex_encode(std::span<std::uint8_t const> bytes);
/// Either case; errc::bad_hex for odd length or a non-hex character (with its offset).
result<std::vector<std::uint8_t>> hex_decode(std::string_view text);
/// RFC 4648 section 4, padded.
std::string base64_encode(std::span<std::uint8_t const> bytes);
/// Requires canonical padded base64; errc::bad_base64 otherwise.
result<std::vector<std::uint8_t>> base64_decode(std::string_view text);

}  // namespace ee
