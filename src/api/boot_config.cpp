// The boot configuration codec (boot_config.hpp). The command line is attacker-adjacent input (the
// host may boot the VM with anything), so every step is bounded: the value's length before
// base64, the inflated size, the JSON depth.
#include <easyenclave/api/boot_config.hpp>

#include <easyenclave/encoding.hpp>

#include "detail/json.hpp"

#include <zlib.h>

#include <cstdint>
#include <span>
#include <vector>

namespace ee::api {
namespace {

namespace json = ::ee::detail::json;

// Base64 of the largest accepted document. A configz value is never longer: the encoder picks it
// only when it is shorter than the plain form.
constexpr std::size_t kMaxValue = (kBootConfigMaxJson + 2) / 3 * 4;

// An agent config is two levels deep; a little room for launcher-side additions.
constexpr std::size_t kMaxDepth = 16;

Error invalid(std::string text) { return Error(errc::invalid_boot_config, std::move(text)); }

std::span<std::uint8_t const> bytes_of(std::string_view text) {
  return {reinterpret_cast<std::uint8_t const*>(text.data()), text.size()};
}

// `text` checked to be one strict JSON object no larger than the bound, in compact form.
result<std::string> compact_object(std::string_view text, std::string_view what) {
  auto doc = json::parse(text, {.max_bytes = kBootConfigMaxJson, .max_depth = kMaxDepth});
  if (!doc) return invalid(std::string(what) + " is not JSON: " + doc.error().message());
  if (!doc->is_object()) return invalid(std::string(what) + " is not a JSON object");
  return json::serialize(*doc);
}

result<std::vector<std::uint8_t>> deflate(std::string_view text) {
  uLongf size = compressBound(static_cast<uLong>(text.size()));
  std::vector<std::uint8_t> out(size);
  int const rc = compress2(out.data(), &size, reinterpret_cast<Bytef const*>(text.data()),
                           static_cast<uLong>(text.size()), Z_BEST_COMPRESSION);
  if (rc != Z_OK) return invalid("zlib could not compress the boot configuration");
  out.resize(size);
  return out;
}

// Inflates one zlib stream (RFC 1950) in a single call into a buffer one byte larger than the
// bound, so a full buffer means "too large" without ever producing more.
result<std::string> inflate_bounded(std::vector<std::uint8_t> const& data, std::string_view name) {
  std::string const what(name);
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return invalid("zlib could not start inflating " + what);
  std::string out(kBootConfigMaxJson + 1, '\0');
  z.next_in = const_cast<Bytef*>(data.data());  // zlib's API is not const; it only reads input
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int const rc = inflate(&z, Z_FINISH);
  std::size_t const produced = out.size() - z.avail_out;
  bool const trailing = z.avail_in != 0;
  std::string const reason = z.msg != nullptr ? z.msg : "";
  inflateEnd(&z);
  if (produced > kBootConfigMaxJson) {
    return invalid(what + " inflates to more than " + std::to_string(kBootConfigMaxJson) +
                   " bytes");
  }
  if (rc == Z_STREAM_END) {
    if (trailing) return invalid(what + " has bytes after its zlib stream");
    out.resize(produced);
    return out;
  }
  if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
    return invalid(what + " is not zlib data" + (reason.empty() ? "" : " (" + reason + ")"));
  }
  // Z_BUF_ERROR with room left in the output: the input ended before the stream did.
  return invalid(what + " is a truncated zlib stream");
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

struct Param {
  std::string_view name;
  std::string_view value;  // without the quotes the kernel strips
};

// Splits a command line as the kernel does (lib/cmdline.c, next_arg()): parameters are separated
// by unquoted white space; a double quote toggles quoting anywhere in a parameter; a parameter
// that starts with a quote, or a value that does, loses that quote and the parameter's last
// character when that is a quote. A parameter without '=' has an empty value.
std::vector<Param> parameters(std::string_view line) {
  std::vector<Param> out;
  std::size_t i = 0;
  for (;;) {
    while (i < line.size() && is_space(line[i])) ++i;
    if (i == line.size()) break;
    bool const quoted = line[i] == '"';
    if (quoted) ++i;
    bool in_quote = quoted;
    std::size_t const start = i;
    while (i < line.size() && (in_quote || !is_space(line[i]))) {
      if (line[i] == '"') in_quote = !in_quote;
      ++i;
    }
    std::string_view const arg = line.substr(start, i - start);
    auto const eq = arg.find('=');
    bool const has_value = eq != std::string_view::npos;
    Param p{.name = has_value ? arg.substr(0, eq) : arg,
            .value = has_value ? arg.substr(eq + 1) : std::string_view()};
    bool strip_last_quote = quoted;
    if (p.value.starts_with('"')) {
      p.value.remove_prefix(1);
      strip_last_quote = true;
    }
    // The argument's last character belongs to the value when there is one.
    std::string_view& last = has_value ? p.value : p.name;
    if (strip_last_quote && last.ends_with('"')) last.remove_suffix(1);
    out.push_back(p);
  }
  return out;
}

}  // namespace

result<std::string> encode_boot_config(std::string_view text) {
  auto compact = compact_object(text, "the boot configuration");
  if (!compact) return compact.error();
  auto plain = std::string(kBootConfigParam) + "=" + base64_encode(bytes_of(*compact));
  auto deflated = deflate(*compact);
  if (!deflated) return deflated.error();
  auto zipped = std::string(kBootConfigzParam) + "=" + base64_encode(*deflated);
  return zipped.size() < plain.size() ? std::move(zipped) : std::move(plain);
}

bool fits_command_line(std::string_view param, std::size_t others) noexcept {
  std::size_t const separator = others == 0 ? 0 : 1;
  return others < kBootConfigMaxCmdline &&
         param.size() + separator < kBootConfigMaxCmdline - others;
}

result<std::optional<std::string>> decode_boot_config(std::string_view cmdline) {
  std::optional<Param> found;
  for (auto const& p : parameters(cmdline)) {
    if (p.name != kBootConfigParam && p.name != kBootConfigzParam) continue;
    if (found) {
      return invalid("the kernel command line carries the boot configuration more than once (" +
                     std::string(found->name) + " and " + std::string(p.name) + ")");
    }
    found = p;
  }
  if (!found) return std::optional<std::string>();

  std::string const name(found->name);
  if (found->value.empty()) return invalid(name + " is empty");
  if (found->value.size() > kMaxValue) {
    return invalid(name + " is longer than any accepted configuration (" +
                   std::to_string(kMaxValue) + " base64 characters)");
  }
  auto bytes = base64_decode(found->value);
  if (!bytes) return invalid(name + " is not base64: " + bytes.error().message());
  std::string text;
  if (found->name == kBootConfigzParam) {
    auto inflated = inflate_bounded(*bytes, name);
    if (!inflated) return inflated.error();
    text = std::move(*inflated);
  } else {
    text.assign(bytes->begin(), bytes->end());
  }
  auto compact = compact_object(text, name);
  if (!compact) return compact.error();
  return std::optional<std::string>(std::move(*compact));
}

}  // namespace ee::api
