#pragma once
// Strict JSON on Boost.JSON.
//
// parse() accepts exactly one RFC 8259 document: no comments, no trailing commas, valid UTF-8,
// bounded depth and size, and no object with a repeated key (RFC 8259 section 4 leaves
// duplicates to the implementation; for signed tokens and API bodies a duplicate is ambiguity an
// attacker can use, so we refuse it).
//
// ObjectReader maps an object onto typed fields. Each accessor returns result<T> whose error
// names the field by its path ("body.tdx.mrtd"), says what was expected and what was found, and
// never echoes the value (it may be a secret).
#include <easyenclave/error.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ee::detail::json {

namespace bj = boost::json;

struct ParseLimits {
  std::size_t max_bytes = 4 * 1024 * 1024;
  std::size_t max_depth = 32;
};

/// errc::invalid_json (with the parser's reason and byte offset), json_too_deep,
/// json_too_large or duplicate_json_key.
result<bj::value> parse(std::string_view text, ParseLimits limits = {});

/// Compact serialisation.
std::string serialize(bj::value const& v);

/// "string", "number", "object", ... for messages.
std::string_view kind_name(bj::value const& v) noexcept;

/// Appends `text` as a JSON string (quotes included), escaped exactly as serialize() escapes it.
void append_string(std::string& out, std::string_view text);

/// Writes one JSON object straight into a string, byte for byte as serialize() would write the
/// same object: for views written many times per request (a listing of 100 000 agents), where
/// building a value tree first doubles the copies. Fields appear in the order written; keys are
/// the caller's constants and are not checked for repeats.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string& out) : out_(out) { out_ += '{'; }
  ObjectWriter(ObjectWriter const&) = delete;
  ObjectWriter& operator=(ObjectWriter const&) = delete;

  ObjectWriter& string(std::string_view key, std::string_view value);
  ObjectWriter& boolean(std::string_view key, bool value);
  ObjectWriter& integer(std::string_view key, std::int64_t value);
  ObjectWriter& null(std::string_view key);
  /// Closes the object; the writer must not be used after.
  void end() { out_ += '}'; }

 private:
  void key(std::string_view key);
  std::string& out_;
  bool first_ = true;
};

class ObjectReader {
 public:
  /// Views `v` as an object; errc::wrong_type naming `path` otherwise. `v` must outlive the
  /// reader and everything it returns by pointer.
  static result<ObjectReader> from(bj::value const& v, std::string path = "body");

  std::string const& path() const noexcept { return path_; }
  bj::object const& object() const noexcept { return *object_; }
  bool contains(std::string_view key) const noexcept;

  result<std::string> string(std::string_view key) const;
  result<std::optional<std::string>> optional_string(std::string_view key) const;
  /// Integers only (a JSON number with a fraction or exponent is wrong_type), within [min, max].
  result<std::int64_t> integer(std::string_view key,
                               std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                               std::int64_t max = std::numeric_limits<std::int64_t>::max()) const;
  result<std::optional<std::int64_t>> optional_integer(
      std::string_view key, std::int64_t min = std::numeric_limits<std::int64_t>::min(),
      std::int64_t max = std::numeric_limits<std::int64_t>::max()) const;
  result<bool> boolean(std::string_view key) const;
  result<std::optional<bool>> optional_boolean(std::string_view key) const;
  result<ObjectReader> child(std::string_view key) const;
  result<std::optional<ObjectReader>> optional_child(std::string_view key) const;
  result<bj::array const*> array(std::string_view key) const;
  result<std::vector<std::string>> string_array(std::string_view key) const;
  /// A field present with JSON null counts as absent for every optional_* accessor.

  /// errc::invalid_value naming the first key not in `known` (for bodies and configs where a
  /// typo must not be silently ignored).
  result<void> reject_unknown(std::initializer_list<std::string_view> known) const;

  /// An error of code `code` about field `key`: "<path>.<key>: <what>".
  Error field_error(std::string_view key, errc code, std::string_view what) const;

 private:
  ObjectReader(bj::object const* object, std::string path)
      : object_(object), path_(std::move(path)) {}
  result<bj::value const*> required(std::string_view key) const;
  bj::value const* optional(std::string_view key) const noexcept;
  std::string field_path(std::string_view key) const;

  bj::object const* object_;
  std::string path_;
};

}  // namespace ee::detail::json
