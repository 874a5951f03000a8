#include "detail/encoding.hpp"

#include <array>

namespace ee::detail {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Each byte's hex digit value, -1 for a byte that is not one (an ITA token carries 14 hex
// claims of up to 128 digits, decoded on every verification).
constexpr std::array<std::int8_t, 256> kHexValues = [] {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 10; ++i) table[static_cast<std::size_t>('0' + i)] = static_cast<std::int8_t>(i);
  for (int i = 0; i < 6; ++i) {
    table[static_cast<std::size_t>('a' + i)] = static_cast<std::int8_t>(10 + i);
    table[static_cast<std::size_t>('A' + i)] = static_cast<std::int8_t>(10 + i);
  }
  return table;
}();

int hex_value(char c) noexcept { return kHexValues[static_cast<unsigned char>(c)]; }

using DecodeTable = std::array<std::int8_t, 256>;

constexpr DecodeTable make_table(char const* alphabet) {
  DecodeTable table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  return table;
}
constexpr DecodeTable kBase64Table = make_table(kBase64);
constexpr DecodeTable kBase64UrlTable = make_table(kBase64Url);

// The same tables with each symbol's value already shifted to its place in a group of four
// (18, 12, 6 and 0 bits), and bit 31 set for a byte outside the alphabet: a group decodes to
// the OR of four lookups, negative when any symbol is invalid.
using GroupTables = std::array<std::array<std::uint32_t, 256>, 4>;

constexpr GroupTables make_group_tables(DecodeTable const& table) {
  GroupTables out{};
  for (std::size_t place = 0; place < 4; ++place)
    for (std::size_t c = 0; c < 256; ++c)
      out[place][c] = table[c] < 0 ? 0x80000000u
                                   : static_cast<std::uint32_t>(table[c]) << (18 - 6 * place);
  return out;
}
constexpr GroupTables kBase64Groups = make_group_tables(kBase64Table);
constexpr GroupTables kBase64UrlGroups = make_group_tables(kBase64UrlTable);

std::string encode64(ByteView bytes, char const* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t const n = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  std::size_t const rest = bytes.size() - i;
  if (rest == 1) {
    std::uint32_t const n = std::uint32_t{bytes[i]} << 16;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    if (pad) out += "==";
  } else if (rest == 2) {
    std::uint32_t const n = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    if (pad) out += '=';
  }
  return out;
}

// Decodes unpadded symbols into a byte vector or a string; `text.size() % 4` must not be 1.
// Rejects non-zero bits in the last symbol's unused low bits (RFC 4648 section 3.5), so every
// byte string has one encoding.
template <class Out>
result<Out> decode64(std::string_view text, DecodeTable const& table, GroupTables const& groups_table,
                     std::string_view name) {
  using Unit = typename Out::value_type;
  std::size_t const rest = text.size() % 4;
  if (rest == 1)
    return Error(errc::bad_base64, std::string(name) + ": length " + std::to_string(text.size()) +
                                       " cannot be a valid encoding");
  auto invalid_at = [&name](std::size_t offset) {
    return Error(errc::bad_base64, std::string(name) + ": invalid character at offset " + std::to_string(offset));
  };
  // Four symbols make three bytes, written in place (a 6 KB token is decoded on every
  // verification). The loop runs on plain pointers: a byte store through the container's
  // operator[] may alias the container itself, which would make the compiler reload its data
  // pointer after every byte.
  std::size_t const groups = text.size() / 4;
  Out out(groups * 3 + (rest == 0 ? 0 : rest - 1), Unit{});
  auto const* in = reinterpret_cast<unsigned char const*>(text.data());
  auto* const first = reinterpret_cast<unsigned char*>(out.data());
  auto const& [t0, t1, t2, t3] = groups_table;
  unsigned char* o = first;
  for (auto const* const end = in + 4 * groups; in != end; in += 4, o += 3) {
    std::uint32_t const n = t0[in[0]] | t1[in[1]] | t2[in[2]] | t3[in[3]];
    if (n & 0x80000000u) {
      std::size_t const at = static_cast<std::size_t>(o - first) / 3 * 4;
      for (std::size_t k = 0; k < 4; ++k)
        if (table[in[k]] < 0) return invalid_at(at + k);
    }
    o[0] = static_cast<unsigned char>(n >> 16);
    o[1] = static_cast<unsigned char>(n >> 8);
    o[2] = static_cast<unsigned char>(n);
  }
  if (rest == 0) return out;
  // Two symbols carry one byte and 4 unused bits, three carry two bytes and 2 unused bits; the
  // unused bits must be zero (RFC 4648 section 3.5), so every byte string has one encoding.
  std::uint32_t n = 0;
  for (std::size_t k = 0; k < rest; ++k) {
    int const v = table[in[k]];  // `in` is past the last whole group
    if (v < 0) return invalid_at(4 * groups + k);
    n = n << 6 | static_cast<std::uint32_t>(v);
  }
  std::size_t const unused = rest == 2 ? 4 : 2;
  if ((n & ((1u << unused) - 1)) != 0)
    return Error(errc::bad_base64, std::string(name) + ": non-zero padding bits (non-canonical encoding)");
  n >>= unused;
  if (rest == 2) {
    out[3 * groups] = static_cast<Unit>(n);
  } else {
    out[3 * groups] = static_cast<Unit>(n >> 8);
    out[3 * groups + 1] = static_cast<Unit>(n);
  }
  return out;
}

}  // namespace

std::string hex_encode(ByteView bytes) {
  std::string out;
  out.resize(bytes.size() * 2);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kHexDigits[bytes[i] >> 4];
    out[2 * i + 1] = kHexDigits[bytes[i] & 0x0f];
  }
  return out;
}

result<void> hex_decode_into(std::string_view text, std::span<std::uint8_t> out) {
  if (text.size() != out.size() * 2)
    return Error(errc::bad_hex, "expected " + std::to_string(out.size() * 2) + " hex characters, got " +
                                    std::to_string(text.size()));
  // Plain pointers, as in decode64: a byte store through the span would make the compiler
  // reload the text's pointer after each one.
  char const* const in = text.data();
  std::uint8_t* const o = out.data();
  for (std::size_t i = 0; i < out.size(); ++i) {
    int const hi = hex_value(in[2 * i]);
    int const lo = hex_value(in[2 * i + 1]);
    if ((hi | lo) < 0)
      return Error(errc::bad_hex, "invalid hex character at offset " + std::to_string(hi < 0 ? 2 * i : 2 * i + 1));
    o[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return {};
}

result<Bytes> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0)
    return Error(errc::bad_hex, "odd number of hex characters (" + std::to_string(text.size()) + ")");
  Bytes out(text.size() / 2);
  if (auto r = hex_decode_into(text, out); !r) return r.error();
  return out;
}

std::string base64_encode(ByteView bytes) { return encode64(bytes, kBase64, true); }
std::string base64url_encode(ByteView bytes) { return encode64(bytes, kBase64Url, false); }

result<Bytes> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0)
    return Error(errc::bad_base64, "base64: length " + std::to_string(text.size()) + " is not a multiple of 4");
  std::size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  return decode64<Bytes>(text.substr(0, text.size() - padding), kBase64Table, kBase64Groups, "base64");
}

result<Bytes> base64url_decode(std::string_view text) {
  return decode64<Bytes>(text, kBase64UrlTable, kBase64UrlGroups, "base64url");
}

result<std::string> base64url_decode_text(std::string_view text) {
  return decode64<std::string>(text, kBase64UrlTable, kBase64UrlGroups, "base64url");
}

std::string percent_encode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    bool const unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(c);
      continue;
    }
    auto const byte = static_cast<unsigned char>(c);
    out.push_back('%');
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0x0f]);
  }
  return out;
}

}  // namespace ee::detail
