// Compact JWS parsing and JWT verification: RFC 7515 section 5.2 (validation steps), RFC 7519
// section 7.2 (validating a JWT) and the claim checks of section 4.1.
#include <easyenclave/jwt/token.hpp>
#include <easyenclave/time.hpp>

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "detail/json.hpp"
#include "detail/time.hpp"
#include "jwt/internal.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value_stack.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

namespace ee::jwt {
namespace {

namespace core = ::ee::detail;
namespace bj = boost::json;

constexpr std::array<std::pair<Algorithm, std::string_view>, 8> kAlgorithmNames{{
    {Algorithm::rs256, "RS256"},
    {Algorithm::rs384, "RS384"},
    {Algorithm::rs512, "RS512"},
    {Algorithm::ps256, "PS256"},
    {Algorithm::ps384, "PS384"},
    {Algorithm::ps512, "PS512"},
    {Algorithm::es256, "ES256"},
    {Algorithm::es384, "ES384"},
}};

// Header and payload are small JSON objects; a deep or huge one is an attack, not a token.
constexpr core::json::ParseLimits kJsonLimits{.max_bytes = 1024 * 1024, .max_depth = 16};

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

struct Segments {
  std::string_view header, payload, signature;
  std::string_view signing_input;  // header '.' payload, the bytes the signature covers
};

// RFC 7515 section 7.1: BASE64URL(header) '.' BASE64URL(payload) '.' BASE64URL(signature).
result<Segments> split(std::string_view compact, std::size_t max_bytes) {
  if (compact.size() > max_bytes)
    return Error(errc::token_too_large, "token is " + std::to_string(compact.size()) +
                                            " bytes; the limit is " + std::to_string(max_bytes));
  compact = trim(compact);
  auto const first = compact.find('.');
  auto const second = first == std::string_view::npos ? first : compact.find('.', first + 1);
  if (second == std::string_view::npos)
    return Error(errc::malformed_token, "token has fewer than three segments");
  if (compact.find('.', second + 1) != std::string_view::npos)
    return Error(errc::malformed_token,
                 "token has more than three segments (JWE and JSON serialisations are not accepted)");
  Segments s{compact.substr(0, first), compact.substr(first + 1, second - first - 1),
             compact.substr(second + 1), compact.substr(0, second)};
  if (s.header.empty()) return Error(errc::malformed_token, "token header segment is empty");
  if (s.payload.empty()) return Error(errc::malformed_token, "token payload segment is empty");
  return s;
}

result<std::string> decode_segment(std::string_view segment, std::string_view what) {
  auto text = core::base64url_decode_text(segment);
  if (!text)
    return Error(errc::malformed_encoding,
                 std::string(what) + " segment is not unpadded base64url (RFC 7515 section 2)");
  return std::move(*text);
}

// --- Strict JSON for the header and the claims ----------------------------------------------
//
// The rules of core::json::parse (one RFC 8259 document, UTF-8 checked by the parser, bounded
// size and depth, finite numbers, no object repeating a member name), built for the two small
// documents read on every verification. Two things cost more than the parse itself there: a set
// of strings per object to find repeated names (one allocation per name), and one allocation
// per string of the value. Here the names of the open objects go into one flat list (their
// bytes into one buffer), each compared with its object's earlier names by hash as it comes
// (an object of more than 64 names is sorted instead when it closes, so a hostile document
// stays O(n log n)), and the value is built in an arena (ClaimsArena).

// The claims' storage: one block sized from the payload, bump-allocated while the value is
// built. After freeze(), which runs before the token is published, every further allocation
// (a copy of the claims made later, on any thread) goes to the heap, so the block is never
// written again and the resource needs no lock. Memory outside the block is the heap's.
class ClaimsArena final : public bj::memory_resource {
 public:
  // make_shared_resource keeps the arena inside an object of its own (the storage_ptr points at
  // that, not at the arena), so the arena tells its caller where it is through `self`.
  ClaimsArena(std::size_t capacity, ClaimsArena** self)
      : block_(std::make_unique_for_overwrite<std::byte[]>(capacity)), capacity_(capacity) {
    *self = this;
  }
  void freeze() noexcept { frozen_ = true; }

 private:
  void* do_allocate(std::size_t n, std::size_t align) override {
    if (!frozen_) {
      auto const base = reinterpret_cast<std::uintptr_t>(block_.get());
      std::size_t const start = (base + used_ + align - 1) / align * align - base;
      if (start <= capacity_ && n <= capacity_ - start) {
        used_ = start + n;
        return block_.get() + start;
      }
    }
    return ::operator new(n, std::align_val_t{align});
  }
  void do_deallocate(void* p, std::size_t, std::size_t align) override {
    // Compared as integers: p may come from the heap, and pointers into different objects do
    // not compare with < in C++.
    auto const at = reinterpret_cast<std::uintptr_t>(p);
    auto const base = reinterpret_cast<std::uintptr_t>(block_.get());
    if (at >= base && at - base < capacity_) return;
    ::operator delete(p, std::align_val_t{align});  // unsized: Clang declares no sized form by default
  }
  bool do_is_equal(bj::memory_resource const& other) const noexcept override { return this == &other; }

  std::unique_ptr<std::byte[]> block_;
  std::size_t capacity_;
  std::size_t used_ = 0;
  bool frozen_ = false;
};

class StrictHandler {
 public:
  static constexpr std::size_t max_object_size = bj::object::max_size();
  static constexpr std::size_t max_array_size = bj::array::max_size();
  static constexpr std::size_t max_key_size = bj::string::max_size();
  static constexpr std::size_t max_string_size = bj::string::max_size();

  // `temp` holds the value stack's work space (the result goes to `result_storage`).
  StrictHandler(bj::storage_ptr result_storage, unsigned char* temp, std::size_t temp_size)
      : stack(bj::storage_ptr(), temp, temp_size) {
    stack.reset(std::move(result_storage));
  }

  bj::value_stack stack;
  bool duplicate_key = false;

  bool on_document_begin(bj::error_code&) { return true; }
  bool on_document_end(bj::error_code&) { return true; }
  bool on_object_begin(bj::error_code&) {
    opened_.push_back(names_.size());
    return true;
  }
  bool on_object_end(std::size_t n, bj::error_code& ec) {
    std::size_t const first = opened_.back();
    opened_.pop_back();
    // The object's names are the last ones, and their bytes the end of text_ (taken before
    // repeats() reorders them).
    std::size_t const text_start = first < names_.size() ? names_[first].offset : text_.size();
    if (names_.size() - first > kScanned && repeats(first)) {
      duplicate_key = true;
      ec = ::ee::make_error_code(::ee::errc::duplicate_json_key);
      return false;
    }
    names_.resize(first);
    text_.resize(text_start);
    stack.push_object(n);
    return true;
  }
  bool on_array_begin(bj::error_code&) { return true; }
  bool on_array_end(std::size_t n, bj::error_code&) {
    stack.push_array(n);
    return true;
  }
  bool on_key_part(bj::string_view s, std::size_t, bj::error_code&) {
    text_.append(s.data(), s.size());
    stack.push_chars(s);
    return true;
  }
  bool on_key(bj::string_view s, std::size_t, bj::error_code& ec) {
    // Names are appended in order and the list is only reordered by an object that closes and
    // drops them, so the new name starts where the last one ends.
    std::size_t const offset = names_.empty() ? 0 : names_.back().offset + names_.back().size;
    text_.append(s.data(), s.size());
    std::string_view const name(text_.data() + offset, text_.size() - offset);
    std::size_t const hash = std::hash<std::string_view>{}(name);
    // The first kScanned names of an object are compared with the earlier ones as they come;
    // an object with more is sorted when it closes (repeats()).
    std::size_t const first = opened_.back();
    if (names_.size() - first < kScanned) {
      for (std::size_t i = first; i < names_.size(); ++i) {
        if (names_[i].hash == hash && text(names_[i]) == name) {
          duplicate_key = true;
          ec = ::ee::make_error_code(::ee::errc::duplicate_json_key);
          return false;
        }
      }
    }
    names_.push_back({hash, offset, name.size()});
    stack.push_key(s);
    return true;
  }
  bool on_string_part(bj::string_view s, std::size_t, bj::error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_string(bj::string_view s, std::size_t, bj::error_code&) {
    stack.push_string(s);
    return true;
  }
  bool on_number_part(bj::string_view, bj::error_code&) { return true; }
  bool on_int64(std::int64_t i, bj::string_view, bj::error_code&) {
    stack.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, bj::string_view, bj::error_code&) {
    stack.push_uint64(u);
    return true;
  }
  bool on_double(double d, bj::string_view, bj::error_code& ec) {
    if (!std::isfinite(d)) {  // 1e400
      ec = ::ee::make_error_code(::ee::errc::out_of_range);
      return false;
    }
    stack.push_double(d);
    return true;
  }
  bool on_bool(bool b, bj::error_code&) {
    stack.push_bool(b);
    return true;
  }
  bool on_null(bj::error_code&) {
    stack.push_null();
    return true;
  }
  bool on_comment_part(bj::string_view, bj::error_code&) { return true; }
  bool on_comment(bj::string_view, bj::error_code&) { return true; }

 private:
  static constexpr std::size_t kScanned = 64;
  struct Name {
    std::size_t hash, offset, size;
  };
  std::string_view text(Name const& n) const noexcept { return {text_.data() + n.offset, n.size}; }

  // Whether the names from `first` on (the closing object's) hold one twice: sorted by hash
  // and then by their bytes, so O(n log n) even when an attacker makes every hash collide.
  bool repeats(std::size_t first) {
    if (names_.size() - first < 2) return false;
    auto const begin = names_.begin() + static_cast<std::ptrdiff_t>(first);
    std::sort(begin, names_.end(), [this](Name const& a, Name const& b) {
      return a.hash != b.hash ? a.hash < b.hash : text(a) < text(b);
    });
    for (auto it = begin + 1; it != names_.end(); ++it)
      if (it->hash == (it - 1)->hash && text(*it) == text(*(it - 1))) return true;
    return false;
  }

  std::vector<Name> names_;          // of the open objects, innermost last
  std::vector<std::size_t> opened_;  // per open object, the index of its first name
  std::string text_;                 // the names' bytes
};

result<bj::value> parse_object(std::string_view text, std::string_view what, errc not_object,
                               bj::storage_ptr storage) {
  if (text.size() > kJsonLimits.max_bytes)
    return Error(not_object, std::string(what) + " is larger than " +
                                 std::to_string(kJsonLimits.max_bytes) + " bytes");
  bj::parse_options options;  // strict RFC 8259: no comments, no trailing commas, valid UTF-8
  options.max_depth = kJsonLimits.max_depth;
  unsigned char temp[4096];
  bj::basic_parser<StrictHandler> parser(options, std::move(storage), temp, sizeof temp);
  bj::error_code ec;
  auto const consumed = parser.write_some(false, text.data(), text.size(), ec);
  if (parser.handler().duplicate_key)
    return Error(errc::duplicate_key, std::string(what) + " repeats a member name");
  // write_some stops at the end of the first document; "{} x" is not one document.
  if (ec || !parser.done() || consumed != text.size())
    return Error(not_object, std::string(what) + " is not valid JSON");
  auto value = parser.handler().stack.release();
  if (!value.is_object()) return Error(not_object, std::string(what) + " is not a JSON object");
  return value;
}

struct Header {
  Algorithm alg{};
  std::string kid, typ, json;
};

// RFC 7515 section 4.1 plus our refusals: "none" and HS* (section 4.1.1 lets the application
// decide which algorithms it accepts; ours never accept a symmetric one), unknown crit.
result<Header> read_header(std::string_view segment, VerifyOptions const& options) {
  auto text = decode_segment(segment, "header");
  if (!text) return text.error();
  // The header's value lives only in this call: a buffer on the stack holds it.
  unsigned char buffer[2048];
  bj::monotonic_resource storage(buffer, sizeof buffer);
  auto doc = parse_object(*text, "header", errc::malformed_header, &storage);
  if (!doc) return doc.error();
  auto const& obj = doc->as_object();
  Header h;
  h.json = std::move(*text);
  auto const* alg = obj.if_contains("alg");
  if (alg == nullptr || !alg->is_string())
    return Error(errc::malformed_header, "header alg is missing or not a string");
  std::string_view const name(alg->as_string());
  if (name == "none" || name.starts_with("HS"))
    return Error(errc::insecure_algorithm, name == "none" ? "header alg none is never accepted"
                                                          : "header alg HS* (HMAC) is never accepted");
  auto const parsed = parse_algorithm(name);
  if (!parsed) return Error(errc::unsupported_algorithm, "header alg is not a supported algorithm");
  if (std::find(options.algorithms.begin(), options.algorithms.end(), *parsed) ==
      options.algorithms.end())
    return Error(errc::algorithm_not_allowed,
                 "header alg " + std::string(name) + " is not allowed for this issuer");
  h.alg = *parsed;
  if (auto const* crit = obj.if_contains("crit")) {
    // Section 4.1.11: a recipient that does not understand a listed extension must reject. We
    // implement none, so any (well-formed or not) crit is refused.
    if (!crit->is_array() || crit->as_array().empty())
      return Error(errc::malformed_header, "header crit is not a non-empty array");
    return Error(errc::unknown_critical_header, "header crit lists an unsupported extension");
  }
  if (auto const* kid = obj.if_contains("kid")) {
    if (!kid->is_string()) return Error(errc::malformed_header, "header kid is not a string");
    h.kid = std::string(kid->as_string());
  }
  if (auto const* typ = obj.if_contains("typ")) {
    if (!typ->is_string()) return Error(errc::malformed_header, "header typ is not a string");
    h.typ = std::string(typ->as_string());
  }
  return h;
}

// The key is chosen by kid and alg together: the real ITA set has two entries under one kid
// (PS384 and RS256). No match is an error; there is no fallback to another key.
result<detail::Key const*> select_key(KeySet const& keys, Header const& h) {
  if (h.kid.empty()) return Error(errc::missing_kid, "header has no kid");
  detail::Key const* typed_match = nullptr;    // same kid, alg equal
  detail::Key const* untyped_match = nullptr;  // same kid, no alg, type fits
  bool seen = false, type_mismatch = false;
  std::string problem;
  for (auto const& key : keys.impl()->keys) {
    if (key->kid != h.kid) continue;
    seen = true;
    if (key->alg) {
      if (*key->alg == h.alg && !typed_match) typed_match = key.get();
      continue;
    }
    if (!key->problem.empty()) {
      if (problem.empty()) problem = key->problem;
      continue;
    }
    if (detail::key_fits(*key, h.alg)) {
      if (!untyped_match) untyped_match = key.get();
    } else {
      type_mismatch = true;
    }
  }
  auto const* key = typed_match ? typed_match : untyped_match;
  if (key) {
    if (!key->problem.empty())
      return Error(errc::malformed_key, "key for kid and alg " + std::string(to_string(h.alg)) +
                                            " is unusable: " + key->problem);
    return key;
  }
  if (!seen) return Error(errc::unknown_kid, "unknown kid: no key in the set has the token's kid");
  if (!problem.empty()) return Error(errc::malformed_key, "key for the token's kid is unusable: " + problem);
  if (type_mismatch)
    return Error(errc::key_type_mismatch, "key for the token's kid cannot verify " +
                                              std::string(to_string(h.alg)) + " (kty or curve)");
  return Error(errc::key_algorithm_mismatch,
               "the set has the token's kid, but not for alg " + std::string(to_string(h.alg)));
}

// RFC 7519 section 2: NumericDate, seconds since the epoch; non-integer values are allowed.
result<std::optional<TimePoint>> numeric_date(bj::object const& claims, std::string_view name) {
  auto const* v = claims.if_contains(name);
  if (v == nullptr || v->is_null()) return std::optional<TimePoint>{};
  std::int64_t seconds = 0;
  if (v->is_int64()) {
    seconds = v->as_int64();
  } else if (v->is_uint64()) {
    seconds = v->as_uint64() > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX
                                                                      : static_cast<std::int64_t>(v->as_uint64());
  } else if (v->is_double()) {
    double const d = std::floor(v->as_double());
    seconds = d >= 9.2e18 ? INT64_MAX : d <= -9.2e18 ? INT64_MIN : static_cast<std::int64_t>(d);
  } else {
    return Error(errc::invalid_claim, "claim " + std::string(name) + " is not a NumericDate");
  }
  return std::optional<TimePoint>(core::from_unix_seconds(seconds));
}

result<std::optional<std::string>> string_member(bj::object const& claims, std::string_view name) {
  auto const* v = claims.if_contains(name);
  if (v == nullptr || v->is_null()) return std::optional<std::string>{};
  if (!v->is_string()) return Error(errc::invalid_claim, "claim " + std::string(name) + " is not a string");
  return std::optional<std::string>(std::string(v->as_string()));
}

// Subtraction and addition that saturate instead of overflowing at far-away dates.
TimePoint plus(TimePoint t, std::chrono::seconds d) noexcept {
  if (d.count() > 0 && t > TimePoint::max() - d) return TimePoint::max();
  if (d.count() < 0 && t < TimePoint::min() - d) return TimePoint::min();
  return t + d;
}

result<void> check_claims(Token::Impl& t, bj::object const& claims, VerifyOptions const& options,
                          TimePoint now) {
  auto exp = numeric_date(claims, "exp");
  if (!exp) return exp.error();
  auto nbf = numeric_date(claims, "nbf");
  if (!nbf) return nbf.error();
  auto iat = numeric_date(claims, "iat");
  if (!iat) return iat.error();
  t.exp = *exp;
  t.nbf = *nbf;
  t.iat = *iat;
  // Section 4.1.4: the current time must be before exp (leeway allows for clock skew).
  if (!t.exp && options.require_exp) return Error(errc::missing_claim, "claim exp is missing");
  if (t.exp && !options.ignore_expiry && now >= plus(*t.exp, options.leeway))
    return Error(errc::token_expired, "token expired (exp " + format_time(*t.exp) + ")");
  // Section 4.1.5: not before nbf.
  if (t.nbf && now < plus(*t.nbf, -options.leeway))
    return Error(errc::token_not_yet_valid, "token not valid before nbf " + format_time(*t.nbf));
  // Section 4.1.6 leaves iat informational; a token from the future is a clock or forgery problem.
  if (t.iat && *t.iat > plus(now, options.leeway))
    return Error(errc::issued_in_future, "token iat " + format_time(*t.iat) + " is in the future");

  auto iss = string_member(claims, "iss");
  if (!iss) return iss.error();
  t.iss = std::move(*iss);
  if (!t.iss) return Error(errc::issuer_not_allowed, "claim iss is missing");
  if (std::find(options.issuers.begin(), options.issuers.end(), *t.iss) == options.issuers.end())
    return Error(errc::issuer_not_allowed, "claim iss is not an allowed issuer");

  // Section 4.1.3: aud is a string or an array of strings.
  if (auto const* aud = claims.if_contains("aud"); aud && !aud->is_null()) {
    if (aud->is_string()) {
      t.aud.emplace_back(aud->as_string());
    } else if (aud->is_array()) {
      for (auto const& item : aud->as_array()) {
        if (!item.is_string()) return Error(errc::invalid_claim, "claim aud has a non-string element");
        t.aud.emplace_back(item.as_string());
      }
    } else {
      return Error(errc::invalid_claim, "claim aud is neither a string nor an array");
    }
  }
  if (options.audience) {
    if (t.aud.empty()) return Error(errc::audience_missing, "claim aud is missing");
    if (std::find(t.aud.begin(), t.aud.end(), *options.audience) == t.aud.end())
      return Error(errc::audience_mismatch, "claim aud does not include the configured audience");
  }
  for (auto const& name : options.required_claims) {
    auto const* v = claims.if_contains(name);
    if (v == nullptr || v->is_null()) return Error(errc::missing_claim, "claim " + name + " is missing");
  }
  auto sub = string_member(claims, "sub");
  if (!sub) return sub.error();
  t.sub = std::move(*sub);
  auto jti = string_member(claims, "jti");
  if (!jti) return jti.error();
  t.jti = std::move(*jti);
  return {};
}

}  // namespace

std::string_view to_string(Algorithm alg) noexcept {
  for (auto const& [a, name] : kAlgorithmNames)
    if (a == alg) return name;
  return "unknown";
}

std::optional<Algorithm> parse_algorithm(std::string_view name) noexcept {
  for (auto const& [a, n] : kAlgorithmNames)
    if (n == name) return a;
  return std::nullopt;
}

result<Token> verify(std::string_view compact, KeySet const& keys, VerifyOptions const& options,
                     TimePoint now) {
  ::ee::detail::OpenSslErrorScope const openssl_errors;
  if (options.algorithms.empty())
    return Error(errc::invalid_options, "verifier has no allowed algorithms");
  if (options.issuers.empty()) return Error(errc::invalid_options, "verifier has no allowed issuers");
  auto segments = split(compact, options.max_token_bytes);
  if (!segments) return segments.error();
  auto header = read_header(segments->header, options);
  if (!header) return header.error();
  auto key = select_key(keys, *header);
  if (!key) return key.error();
  auto signature = core::base64url_decode(segments->signature);
  if (!signature)
    return Error(errc::malformed_encoding, "signature segment is not unpadded base64url (RFC 7515 section 2)");
  auto payload = decode_segment(segments->payload, "payload");
  if (!payload) return payload.error();
  // The signature is checked before the payload is parsed: nothing unauthenticated reaches the
  // JSON parser beyond the header.
  if (auto ok = detail::verify_signature(**key, header->alg, segments->signing_input, *signature); !ok)
    return ok.error();
  // Twice the text holds the value of a typical payload (the ITA token's 4 KB of claims take
  // about 5 KB); more goes to the heap.
  ClaimsArena* arena = nullptr;
  auto storage = bj::make_shared_resource<ClaimsArena>(2 * payload->size() + 512, &arena);
  auto claims = parse_object(*payload, "payload", errc::malformed_claims, std::move(storage));
  if (!claims) return claims.error();
  arena->freeze();

  // Moved in by construction: assigning a value to one of another storage would copy it.
  auto impl = std::make_shared<Token::Impl>(std::move(*claims));
  impl->alg = header->alg;
  impl->kid = std::move(header->kid);
  impl->typ = std::move(header->typ);
  impl->header_json = std::move(header->json);
  impl->claims_json = std::move(*payload);
  if (auto ok = check_claims(*impl, impl->claims.as_object(), options, now); !ok) return ok.error();
  if (options.x5c_root) {
    if (auto ok = detail::check_x5c(**key, *options.x5c_root, impl->iat.value_or(now)); !ok)
      return ok.error();
  }
  return Token(std::move(impl));
}

result<UnverifiedHeader> peek_header(std::string_view compact, std::size_t max_token_bytes) {
  auto segments = split(compact, max_token_bytes);
  if (!segments) return segments.error();
  auto text = decode_segment(segments->header, "header");
  if (!text) return text.error();
  auto doc = parse_object(*text, "header", errc::malformed_header, {});
  if (!doc) return doc.error();
  UnverifiedHeader out;
  auto const& obj = doc->as_object();
  if (auto const* alg = obj.if_contains("alg"); alg && alg->is_string()) out.alg = alg->as_string();
  if (auto const* kid = obj.if_contains("kid"); kid && kid->is_string()) out.kid = kid->as_string();
  return out;
}

// --- Token accessors ------------------------------------------------------------------------

Token::Token() : impl_(std::make_shared<Impl>(bj::object{})) {}

Algorithm Token::algorithm() const noexcept { return impl_->alg; }
std::string const& Token::kid() const noexcept { return impl_->kid; }
std::string const& Token::type() const noexcept { return impl_->typ; }
std::string const& Token::header_json() const noexcept { return impl_->header_json; }
std::string const& Token::claims_json() const noexcept { return impl_->claims_json; }
std::optional<std::string> const& Token::issuer() const noexcept { return impl_->iss; }
std::optional<std::string> const& Token::subject() const noexcept { return impl_->sub; }
std::vector<std::string> const& Token::audience() const noexcept { return impl_->aud; }
std::optional<TimePoint> const& Token::expires_at() const noexcept { return impl_->exp; }
std::optional<TimePoint> const& Token::not_before() const noexcept { return impl_->nbf; }
std::optional<TimePoint> const& Token::issued_at() const noexcept { return impl_->iat; }
std::optional<std::string> const& Token::jwt_id() const noexcept { return impl_->jti; }

std::optional<std::string> Token::string_claim(std::string_view name) const {
  auto const* v = impl_->claims.as_object().if_contains(name);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string(v->as_string());
}

std::optional<std::int64_t> Token::integer_claim(std::string_view name) const {
  auto const* v = impl_->claims.as_object().if_contains(name);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
    return static_cast<std::int64_t>(v->as_uint64());
  return std::nullopt;
}

std::optional<bool> Token::bool_claim(std::string_view name) const {
  auto const* v = impl_->claims.as_object().if_contains(name);
  if (v == nullptr || !v->is_bool()) return std::nullopt;
  return v->as_bool();
}

bool Token::has_claim(std::string_view name) const noexcept {
  auto const* v = impl_->claims.as_object().if_contains(name);
  return v != nullptr && !v->is_null();
}

}  // namespace ee::jwt
