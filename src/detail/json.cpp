#include "detail/json.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_stack.hpp>

#include <cmath>
#include <string>
#include <unordered_set>

namespace ee::detail::json {
namespace {

// Builds the value the way boost::json::parser does (a value_stack), and also keeps, per open
// object, the set of keys seen so far, to refuse duplicates that Boost.JSON would silently
// resolve to the last one.
class StrictHandler {
 public:
  static constexpr std::size_t max_object_size = bj::object::max_size();
  static constexpr std::size_t max_array_size = bj::array::max_size();
  static constexpr std::size_t max_key_size = bj::string::max_size();
  static constexpr std::size_t max_string_size = bj::string::max_size();

  bj::value_stack stack;
  bool duplicate_key = false;
  bool number_overflow = false;

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) {
    keys_.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t n, error_code&) {
    keys_.pop_back();
    stack.push_object(n);
    return true;
  }
  bool on_array_begin(error_code&) { return true; }
  bool on_array_end(std::size_t n, error_code&) {
    stack.push_array(n);
    return true;
  }
  bool on_key_part(bj::string_view s, std::size_t, error_code&) {
    pending_key_.append(s.data(), s.size());
    stack.push_chars(s);
    return true;
  }
  bool on_key(bj::string_view s, std::size_t, error_code& ec) {
    pending_key_.append(s.data(), s.size());
    bool const inserted = keys_.back().insert(std::move(pending_key_)).second;
    pending_key_.clear();
    if (!inserted) {
      duplicate_key = true;
      ec = make_error_code(errc::duplicate_json_key);
      return false;
    }
    stack.push_key(s);
    return true;
  }
  bool on_string_part(bj::string_view s, std::size_t, error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_string(bj::string_view s, std::size_t, error_code&) {
    stack.push_string(s);
    return true;
  }
  bool on_number_part(bj::string_view, error_code&) { return true; }
  bool on_int64(std::int64_t i, bj::string_view, error_code&) {
    stack.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, bj::string_view, error_code&) {
    stack.push_uint64(u);
    return true;
  }
  bool on_double(double d, bj::string_view, error_code& ec) {
    // 1e400 parses to infinity; no JSON consumer of ours can use a non-finite number.
    if (!std::isfinite(d)) {
      number_overflow = true;
      ec = make_error_code(errc::out_of_range);
      return false;
    }
    stack.push_double(d);
    return true;
  }
  bool on_bool(bool b, error_code&) {
    stack.push_bool(b);
    return true;
  }
  bool on_null(error_code&) {
    stack.push_null();
    return true;
  }
  bool on_comment_part(bj::string_view, error_code&) { return true; }
  bool on_comment(bj::string_view, error_code&) { return true; }

 private:
  std::vector<std::unordered_set<std::string>> keys_;
  std::string pending_key_;
};

}  // namespace

result<bj::value> parse(std::string_view text, ParseLimits limits) {
  if (text.size() > limits.max_bytes)
    return Error(errc::json_too_large, "JSON document of " + std::to_string(text.size()) +
                                           " bytes exceeds the limit of " + std::to_string(limits.max_bytes));
  bj::parse_options options;  // strict RFC 8259: no comments, no trailing commas, valid UTF-8
  options.max_depth = limits.max_depth;
  bj::basic_parser<StrictHandler> parser(options);
  parser.handler().stack.reset();
  error_code ec;
  auto const consumed = parser.write_some(false, text.data(), text.size(), ec);
  if (parser.handler().duplicate_key)
    return Error(errc::duplicate_json_key, "JSON object repeats a key (at byte " + std::to_string(consumed) + ")");
  if (parser.handler().number_overflow)
    return Error(errc::out_of_range, "JSON number at byte " + std::to_string(consumed) + " is out of range");
  if (ec == bj::error::too_deep)
    return Error(errc::json_too_deep, "JSON nesting exceeds " + std::to_string(limits.max_depth) + " levels");
  if (ec)
    return Error(errc::invalid_json, "invalid JSON at byte " + std::to_string(consumed) + ": " + ec.message());
  // write_some returns at the end of the first document; anything after it ("{} x", "01") is
  // not one document.
  if (!parser.done() || consumed != text.size())
    return Error(errc::invalid_json, "invalid JSON: unexpected data at byte " + std::to_string(consumed));
  return parser.handler().stack.release();
}

std::string serialize(bj::value const& v) { return bj::serialize(v); }

void append_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t plain = 0;  // start of the run of bytes copied as they are
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto const c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0x0f];
    }
  }
  out.append(text.data() + plain, text.size() - plain);
  out += '"';
}

void ObjectWriter::key(std::string_view key) {
  if (!first_) out_ += ',';
  first_ = false;
  append_string(out_, key);
  out_ += ':';
}

ObjectWriter& ObjectWriter::string(std::string_view key, std::string_view value) {
  this->key(key);
  append_string(out_, value);
  return *this;
}

ObjectWriter& ObjectWriter::boolean(std::string_view key, bool value) {
  this->key(key);
  out_ += value ? "true" : "false";
  return *this;
}

ObjectWriter& ObjectWriter::integer(std::string_view key, std::int64_t value) {
  this->key(key);
  out_ += std::to_string(value);
  return *this;
}

ObjectWriter& ObjectWriter::null(std::string_view key) {
  this->key(key);
  out_ += "null";
  return *this;
}

std::string_view kind_name(bj::value const& v) noexcept {
  switch (v.kind()) {
    case bj::kind::null: return "null";
    case bj::kind::bool_: return "boolean";
    case bj::kind::int64:
    case bj::kind::uint64:
    case bj::kind::double_: return "number";
    case bj::kind::string: return "string";
    case bj::kind::array: return "array";
    case bj::kind::object: return "object";
  }
  return "unknown";
}

result<ObjectReader> ObjectReader::from(bj::value const& v, std::string path) {
  if (!v.is_object())
    return Error(errc::wrong_type, path + ": expected object, got " + std::string(kind_name(v)));
  return ObjectReader(&v.get_object(), std::move(path));
}

bool ObjectReader::contains(std::string_view key) const noexcept { return optional(key) != nullptr; }

std::string ObjectReader::field_path(std::string_view key) const { return path_ + "." + std::string(key); }

Error ObjectReader::field_error(std::string_view key, errc code, std::string_view what) const {
  return Error(code, field_path(key) + ": " + std::string(what));
}

bj::value const* ObjectReader::optional(std::string_view key) const noexcept {
  auto const* v = object_->if_contains(bj::string_view(key.data(), key.size()));
  return (v == nullptr || v->is_null()) ? nullptr : v;
}

result<bj::value const*> ObjectReader::required(std::string_view key) const {
  if (auto const* v = optional(key)) return v;
  return field_error(key, errc::missing_field, "required field is missing");
}

namespace {
Error type_error(ObjectReader const& r, std::string_view key, std::string_view expected, bj::value const& got) {
  return r.field_error(key, errc::wrong_type,
                       "expected " + std::string(expected) + ", got " + std::string(kind_name(got)));
}
}  // namespace

result<std::string> ObjectReader::string(std::string_view key) const {
  auto v = required(key);
  if (!v) return v.error();
  if (!(*v)->is_string()) return type_error(*this, key, "string", **v);
  auto const& s = (*v)->get_string();
  return std::string(s.data(), s.size());
}

result<std::optional<std::string>> ObjectReader::optional_string(std::string_view key) const {
  if (!optional(key)) return std::optional<std::string>{};
  auto s = string(key);
  if (!s) return s.error();
  return std::optional<std::string>(std::move(*s));
}

result<std::int64_t> ObjectReader::integer(std::string_view key, std::int64_t min, std::int64_t max) const {
  auto v = required(key);
  if (!v) return v.error();
  bj::value const& value = **v;
  std::int64_t n = 0;
  if (value.is_int64()) {
    n = value.get_int64();
  } else if (value.is_uint64()) {
    // Only values above INT64_MAX are stored as uint64 by the parser.
    return field_error(key, errc::out_of_range,
                       "integer must be between " + std::to_string(min) + " and " + std::to_string(max));
  } else if (value.is_double()) {
    return field_error(key, errc::wrong_type, "expected integer, got a number with a fraction or exponent");
  } else {
    return type_error(*this, key, "integer", value);
  }
  if (n < min || n > max)
    return field_error(key, errc::out_of_range,
                       "integer must be between " + std::to_string(min) + " and " + std::to_string(max));
  return n;
}

result<std::optional<std::int64_t>> ObjectReader::optional_integer(std::string_view key, std::int64_t min,
                                                                   std::int64_t max) const {
  if (!optional(key)) return std::optional<std::int64_t>{};
  auto n = integer(key, min, max);
  if (!n) return n.error();
  return std::optional<std::int64_t>(*n);
}

result<bool> ObjectReader::boolean(std::string_view key) const {
  auto v = required(key);
  if (!v) return v.error();
  if (!(*v)->is_bool()) return type_error(*this, key, "boolean", **v);
  return (*v)->get_bool();
}

result<std::optional<bool>> ObjectReader::optional_boolean(std::string_view key) const {
  if (!optional(key)) return std::optional<bool>{};
  auto b = boolean(key);
  if (!b) return b.error();
  return std::optional<bool>(*b);
}

result<ObjectReader> ObjectReader::child(std::string_view key) const {
  auto v = required(key);
  if (!v) return v.error();
  if (!(*v)->is_object()) return type_error(*this, key, "object", **v);
  return ObjectReader(&(*v)->get_object(), field_path(key));
}

result<std::optional<ObjectReader>> ObjectReader::optional_child(std::string_view key) const {
  if (!optional(key)) return std::optional<ObjectReader>{};
  auto c = child(key);
  if (!c) return c.error();
  return std::optional<ObjectReader>(std::move(*c));
}

result<bj::array const*> ObjectReader::array(std::string_view key) const {
  auto v = required(key);
  if (!v) return v.error();
  if (!(*v)->is_array()) return type_error(*this, key, "array", **v);
  return &(*v)->get_array();
}

result<std::vector<std::string>> ObjectReader::string_array(std::string_view key) const {
  auto a = array(key);
  if (!a) return a.error();
  std::vector<std::string> out;
  out.reserve((*a)->size());
  for (std::size_t i = 0; i < (*a)->size(); ++i) {
    auto const& item = (**a)[i];
    if (!item.is_string())
      return field_error(key, errc::wrong_type,
                         "element " + std::to_string(i) + ": expected string, got " + std::string(kind_name(item)));
    out.emplace_back(item.get_string().data(), item.get_string().size());
  }
  return out;
}

result<void> ObjectReader::reject_unknown(std::initializer_list<std::string_view> known) const {
  for (auto const& entry : *object_) {
    std::string_view const key(entry.key().data(), entry.key().size());
    bool found = false;
    for (auto k : known) found = found || k == key;
    // The key itself is echoed: keys are names chosen by the schema's author, not secrets.
    if (!found) return field_error(key, errc::invalid_value, "unknown field");
  }
  return {};
}

}  // namespace ee::detail::json
