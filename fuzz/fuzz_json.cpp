// Fuzzes the strict JSON layer (src/detail/json.hpp) every API body, config and signed document
// goes through: parse with the default limits and with small ones (depth, size), the typed
// ObjectReader accessors on every member, reject_unknown, and the round trip: what serialize
// writes must parse again, to the same text when the document holds no double.
// Input: one byte choosing the limits (even: defaults, odd: 1 KiB and depth 4), then the text.
#include "detail/json.hpp"
#include "fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

namespace json = ee::detail::json;

void read_members(json::ObjectReader const& reader, int depth) {
  if (depth > 3) return;
  (void)reader.reject_unknown({"a", "b"});
  for (auto const& member : reader.object()) {
    std::string_view const key(member.key().data(), member.key().size());
    (void)reader.string(key);
    (void)reader.optional_string(key);
    (void)reader.integer(key, -1000, 1000);
    (void)reader.optional_integer(key);
    (void)reader.boolean(key);
    (void)reader.optional_boolean(key);
    (void)reader.array(key);
    (void)reader.string_array(key);
    (void)reader.field_error(key, ee::errc::invalid_value, "fuzz");
    if (auto child = reader.optional_child(key); child && *child) read_members(**child, depth + 1);
  }
  (void)reader.string("missing");
  (void)reader.optional_integer("missing");
}

// Boost.JSON 1.81 converts decimal to double without correct rounding (the `precise` number mode
// came in 1.83), so a double can change by an ulp on each serialise-and-parse cycle; found by
// this target. The strict layer reads only integers (ObjectReader::integer), so exact text
// round trips are required only of documents without doubles.
bool has_double(json::bj::value const& v) {
  if (v.is_double()) return true;
  if (auto const* a = v.if_array())
    for (auto const& e : *a)
      if (has_double(e)) return true;
  if (auto const* o = v.if_object())
    for (auto const& m : *o)
      if (has_double(m.value())) return true;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  ee_fuzz::Selected in;
  if (!ee_fuzz::select(data, size, 2, in)) return 0;
  json::ParseLimits limits;
  if (in.mode == 1) limits = json::ParseLimits{1024, 4};
  auto value = json::parse(in.text(), limits);
  if (!value) return 0;
  (void)json::kind_name(*value);
  if (auto reader = json::ObjectReader::from(*value)) read_members(*reader, 0);
  auto const text = json::serialize(*value);
  auto again = json::parse(text);
  ee_fuzz::check(again.has_value(), "serialize wrote JSON that parse refuses");
  ee_fuzz::check(has_double(*value) || json::serialize(*again) == text, "JSON does not round-trip");
  return 0;
}
