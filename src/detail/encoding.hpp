#pragma once
// Hex, base64 (RFC 4648 section 4) and base64url (section 5), strict in both directions:
// decoders reject every character outside the alphabet, wrong padding and non-canonical
// trailing bits, so one byte string has exactly one accepted encoding.
#include <easyenclave/error.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ee::detail {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<std::uint8_t const>;

inline ByteView as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<std::uint8_t const*>(s.data()), s.size()};
}
inline std::string_view as_chars(ByteView b) noexcept {
  return {reinterpret_cast<char const*>(b.data()), b.size()};
}

/// Lower-case hex.
std::string hex_encode(ByteView bytes);
/// Accepts upper and lower case; rejects odd length and non-hex characters (errc::bad_hex).
result<Bytes> hex_decode(std::string_view text);
/// Decodes into a fixed-size buffer; errc::bad_hex also when the length is not 2 * out.size().
result<void> hex_decode_into(std::string_view text, std::span<std::uint8_t> out);

/// Standard alphabet with '=' padding.
std::string base64_encode(ByteView bytes);
/// Requires padding to a multiple of 4; rejects whitespace, '-', '_' and non-zero trailing bits.
result<Bytes> base64_decode(std::string_view text);

/// URL-safe alphabet without padding (JWS, RFC 7515 section 2).
std::string base64url_encode(ByteView bytes);
/// Rejects '=', '+', '/', a length of 1 mod 4 and non-zero trailing bits.
result<Bytes> base64url_decode(std::string_view text);
/// The same, decoded straight into a string: for encoded text (a JWS header or payload) that is
/// kept as text, without a second copy.
result<std::string> base64url_decode_text(std::string_view text);

/// Every byte but the unreserved characters (RFC 3986 section 2.3) as %XX: a path segment or a
/// query value.
std::string percent_encode(std::string_view value);

}  // namespace ee::detail
