// The boot configuration codec (boot_config.hpp). zlib's compress2/inflate with explicit bounds:
// a command line is attacker-adjacent input (a host may boot the VM with anything), so the
// decoder never inflates past kBootConfigMaxJson.
#include <easyenclave/api/boot_config.hpp>
#include <easyenclave/encoding.hpp>

#include "detail/json.hpp"

#include <zlib.h>

#include <vector>

namespace ee::api {
namespace {

namespace json = ::ee::detail::json;

Error invalid(std::string text) { return Error(errc::invalid_boot_config, std::move(text)); }

// The JSON text, checked to be one object no larger than the bound, in compact form.
result<std::string> compact_object(std::string_view text, std::string_view what) {
  auto doc = json::parse(text, {.max_bytes = kBootConfigMaxJson, .max_depth = 16});
  if (!doc) return invalid(std::string(what) + " is not JSON: " + doc.error().message());
  if (!doc->is_object()) return invalid(std::string(what) + " is not a JSON object");
  return json::serialize(*doc);
}

result<std::vector<std::uint8_t>> deflate(std::string_view text) {
  uLongf size = compressBound(static_cast<uLong>(text.size()));
  std::vector<std::uint8_t> out(size);
  int const rc = compress2(out.data(), &size, reinterpret_cast<Bytef const*>(text.data()),
                           static_cast<uLong>(text.size()), Z_BEST_COMPRESSION);
  if (rc != Z_OK) return invalid("zlib could not compress the configuration");
  out.resize(size);
  return out;
}

// Inflates a zlib stream, refusing output beyond the bound and trailing bytes after the stream.
result<std::string> inflate_bounded(std::vector<std::uint8_t> const& data) {
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return invalid("zlib could not start inflating");
  std::string out(kBootConfigMaxJson + 1, '\0');
  z.next_in = const_cast<Bytef*>(data.data());
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int const rc = inflate(&z, Z_FINISH);
  std::size_t const produced = out.size() - z.avail_out;
  bool const trailing = z.avail_in != 0;
  inflateEnd(&z);
  if (rc == Z_STREAM_END && !trailing) {
    out.resize(produced);
    return out;
  }
  if (produced > kBootConfigMaxJson) {
    return invalid(std::string(kBootConfigzParam) + " inflates to more than " +
                   std::to_string(kBootConfigMaxJson) + " bytes");
  }
  if (rc == Z_STREAM_END) return invalid(std::string(kBootConfigzParam) + " has bytes after its zlib stream");
  return invalid(std::string(kBootConfigzParam) + " is not a complete zlib stream");
}

// A parameter's value: `name=value` or `name="value with spaces"`.
struct Param {
  std::string_view name;
  std::string_view value;
};

// Splits a command line as the kernel does (lib/cmdline.c next_arg): parameters separated by
// spaces; a double quote opens a span in which spaces do not separate; the quotes are not part of
// the value.
std::vector<Param> parameters(std::string_view cmdline) {
  std::vector<Param> out;
  std::size_t i = 0;
  while (i < cmdline.size()) {
    while (i < cmdline.size() && (cmdline[i] == ' ' || cmdline[i] == '\n' || cmdline[i] == '\t')) ++i;
    if (i >= cmdline.size()) break;
    std::size_t const start = i;
    bool quoted = false;
    while (i < cmdline.size() && (quoted || (cmdline[i] != ' ' && cmdline[i] != '\n' && cmdline[i] != '\t'))) {
      if (cmdline[i] == '"') quoted = !quoted;
      ++i;
    }
    auto const arg = cmdline.substr(start, i - start);
    auto const eq = arg.find('=');
    Param p{.name = arg.substr(0, eq), .value = eq == std::string_view::npos ? std::string_view() : arg.substr(eq + 1)};
    if (p.value.size() >= 2 && p.value.front() == '"' && p.value.back() == '"') {
      p.value = p.value.substr(1, p.value.size() - 2);
    }
    out.push_back(p);
  }
  return out;
}

}  // namespace

result<std::string> encode_boot_config(std::string_view text) {
  auto compact = compact_object(text, "the boot configuration");
  if (!compact) return compact.error();
  auto const plain = std::string(kBootConfigParam) + "=" +
                     base64_encode(std::span(reinterpret_cast<std::uint8_t const*>(compact->data()), compact->size()));
  auto deflated = deflate(*compact);
  if (!deflated) return deflated.error();
  auto const zipped = std::string(kBootConfigzParam) + "=" + base64_encode(*deflated);
  return zipped.size() < plain.size() ? zipped : plain;
}

bool fits_command_line(std::string_view param) noexcept { return param.size() <= kBootConfigMaxParam; }

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
  // Base64 of the largest accepted document (or its deflated form, never larger in practice).
  constexpr std::size_t kMaxBase64 = (kBootConfigMaxJson + 2) / 3 * 4 + 64;
  if (found->value.empty()) return invalid(name + " is empty");
  if (found->value.size() > kMaxBase64) return invalid(name + " is longer than any accepted configuration");
  auto bytes = base64_decode(found->value);
  if (!bytes) return invalid(name + " is not base64: " + bytes.error().message());
  std::string text;
  if (name == kBootConfigzParam) {
    auto inflated = inflate_bounded(*bytes);
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
