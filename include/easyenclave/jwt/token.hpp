#pragma once
/// @file Compact JWS (RFC 7515) verification of JWTs (RFC 7519) against a JWK set (RFC 7517),
/// with no I/O: the key set, the pinned algorithms, the accepted issuers, the audience and the
/// clock are all parameters.
///
/// What is refused, whatever the options say: `alg` "none" and every HMAC algorithm (a JWKS
/// `oct` key or an RSA public key used as an HMAC secret is the classic algorithm confusion);
/// algorithms outside the verifier's pinned list; any `crit` extension (we implement none, RFC
/// 7515 section 4.1.11); a header without `kid`; a `kid` that is not in the set (never a fallback
/// to "the first key"); a key whose `alg` or `kty` does not fit the token's `alg`. A token's
/// `jku`, `x5u`, `jwk` and `x5c` header parameters are ignored: keys come only from the
/// configured set, and key-set URLs are configuration, never token input.
#include <easyenclave/error.hpp>
#include <easyenclave/jwt/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ee::jwt {

using TimePoint = std::chrono::system_clock::time_point;

/// The JWS algorithms implemented (RFC 7518 section 3.1): RSASSA-PKCS1-v1_5, RSASSA-PSS (MGF1
/// with the same hash, salt length = hash length, section 3.5) and ECDSA with raw r||s
/// signatures (section 3.4).
enum class Algorithm { rs256 = 1, rs384, rs512, ps256, ps384, ps512, es256, es384 };

/// "RS256", "PS384", ...
std::string_view to_string(Algorithm alg) noexcept;
/// Parses the registered name (case-sensitive); nullopt for anything else, "none" and HS*.
std::optional<Algorithm> parse_algorithm(std::string_view name) noexcept;

/// A pinned root for the `x5c` chains of a key set (for example the Intel Trust Authority Root
/// CA). Immutable; cheap to copy (copies share the parsed certificate); thread-safe.
class CertificateRoot {
 public:
  /// Parses one certificate, PEM or DER; `pem_or_der` need not outlive the call.
  /// @returns jwt::errc::invalid_options when it does not parse. Never throws (except bad_alloc).
  static result<CertificateRoot> from_certificate(std::span<std::uint8_t const> pem_or_der);
  /// Reads and parses a certificate file; core errc::io_error when unreadable.
  static result<CertificateRoot> from_file(std::filesystem::path const& path);
  /// SHA-256 of the certificate's DER, lower-case hex.
  std::string const& fingerprint() const noexcept;

  struct State;  // defined in src/jwt
  std::shared_ptr<State const> const& state() const noexcept { return state_; }

 private:
  explicit CertificateRoot(std::shared_ptr<State const> state) : state_(std::move(state)) {}
  std::shared_ptr<State const> state_;
};

/// What a key set holds, for diagnostics (`ee token verify`, logs). No key material.
struct KeyInfo {
  std::string kid{};
  std::optional<Algorithm> alg{};  ///< the JWK's `alg`, if it names an implemented algorithm
  std::string kty{};               ///< "RSA", "EC", "oct", ...
  std::string curve{};             ///< "P-256" / "P-384" for EC keys
  int bits = 0;                    ///< modulus or field size
  bool has_x5c = false;
  /// Empty when the key can verify; otherwise why not ("kty oct is never accepted",
  /// "n has a leading zero octet", "use is not sig", ...). Unusable keys are kept so that a
  /// token naming one fails with jwt::errc::malformed_key instead of "unknown kid".
  std::string problem{};
};

/// A parsed JWK set (RFC 7517 section 5). Public keys are imported into OpenSSL once, when the
/// set is parsed, so a verification costs one signature check. Immutable; cheap to copy (copies
/// share the keys); thread-safe.
class KeySet {
 public:
  /// An empty set: every token fails with unknown_kid.
  KeySet();
  /// Parses `{"keys":[...]}`. RSA keys come from `n`/`e` (2048 bits or more, no leading zero
  /// octets, RFC 7518 section 6.3.1), EC keys from `crv`/`x`/`y` (P-256 or P-384, coordinates of
  /// exactly the field size, the point on the curve, section 6.2.1); `x5c` certificates are
  /// standard base64 DER (section 4.7 of RFC 7517) and the first must hold the same public key.
  /// A key that fails these checks, has `use` other than "sig", an unknown or mismatched `alg`, or
  /// a `kty` other than RSA/EC is kept as unusable (KeyInfo::problem). `json` need not outlive the
  /// call.
  /// @returns jwt::errc::malformed_jwks when the text is not JSON, repeats a member name, or is
  ///          not an object with a `keys` array of objects each with a string `kty`.
  ///          Never throws (except bad_alloc).
  static result<KeySet> parse(std::string_view json);

  std::size_t size() const noexcept;
  std::vector<KeyInfo> keys() const;
  /// True when some key (usable or not) has this kid.
  bool contains_kid(std::string_view kid) const noexcept;

  struct Impl;  // defined in src/jwt
  std::shared_ptr<Impl const> const& impl() const noexcept { return impl_; }

 private:
  explicit KeySet(std::shared_ptr<Impl const> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl const> impl_;
};

/// What a verifier accepts. Each issuer's verifier pins its own algorithms and issuers.
struct VerifyOptions {
  /// The accepted algorithms; must not be empty (invalid_options).
  std::vector<Algorithm> algorithms{};
  /// Accepted `iss` values, compared exactly; must not be empty (invalid_options).
  std::vector<std::string> issuers{};
  /// When set, `aud` (a string or an array of strings, RFC 7519 section 4.1.3) must be present
  /// and contain it.
  std::optional<std::string> audience{};
  /// Further claims that must be present (any JSON type but null).
  std::vector<std::string> required_claims{};
  /// Allowed clock skew for `exp`, `nbf` and `iat`.
  std::chrono::seconds leeway{120};
  /// `exp` must be present (RFC 7519 makes it optional; every issuer we accept sets it).
  bool require_exp = true;
  /// Skip the `exp` check (only for inspecting captured tokens: `ee token verify --at` is the
  /// better tool). Never set it in a service.
  bool ignore_expiry = false;
  /// Tokens longer than this are refused before any parsing (token_too_large).
  std::size_t max_token_bytes = 64 * 1024;
  /// When set, the selected key must carry an `x5c` chain that leads to this root and whose
  /// certificates are all valid at the token's `iat` (or at the clock when it has none); the
  /// chain's signatures are checked once per key and root, then cached.
  std::optional<CertificateRoot> x5c_root{};
};

/// A verified token. Immutable; cheap to copy (copies share the parsed claims); thread-safe.
class Token {
 public:
  /// An empty token (no claims); what a default-constructed result holder carries.
  Token();
  Algorithm algorithm() const noexcept;
  /// The header's `kid` and `typ` ("" when absent).
  std::string const& kid() const noexcept;
  std::string const& type() const noexcept;
  /// The decoded header and payload, byte for byte as signed.
  std::string const& header_json() const noexcept;
  std::string const& claims_json() const noexcept;

  /// Registered claims (RFC 7519 section 4.1); absent ones are empty.
  std::optional<std::string> const& issuer() const noexcept;
  std::optional<std::string> const& subject() const noexcept;
  /// `aud` as a list (a single string becomes one element).
  std::vector<std::string> const& audience() const noexcept;
  std::optional<TimePoint> const& expires_at() const noexcept;
  std::optional<TimePoint> const& not_before() const noexcept;
  std::optional<TimePoint> const& issued_at() const noexcept;
  std::optional<std::string> const& jwt_id() const noexcept;

  /// A top-level claim of the given JSON type; nullopt when absent, null or of another type.
  std::optional<std::string> string_claim(std::string_view name) const;
  std::optional<std::int64_t> integer_claim(std::string_view name) const;
  std::optional<bool> bool_claim(std::string_view name) const;
  bool has_claim(std::string_view name) const noexcept;

  struct Impl;  // defined in src/jwt
  std::shared_ptr<Impl const> const& impl() const noexcept { return impl_; }
  explicit Token(std::shared_ptr<Impl const> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<Impl const> impl_;
};

/// Verifies a compact JWS JWT at `now`: structure, header, algorithm pinning, key selection by
/// `kid` and `alg` together, the signature, then the claims (`exp`, `nbf`, `iat` with
/// `options.leeway`, `iss`, `aud`, required claims) and, if configured, the key's x5c chain.
/// `compact` may carry surrounding ASCII whitespace (a trailing newline from a file); nothing else
/// is trimmed. No I/O. `compact`, `keys` and `options` are only read during the call.
/// @returns the Token, or a jwt::errc (see error.hpp) whose message names the header field or
///          claim at fault and never contains token contents. Thread-safe; never throws (except
///          bad_alloc).
result<Token> verify(std::string_view compact, KeySet const& keys, VerifyOptions const& options,
                     TimePoint now);

/// The unverified `alg` and `kid` of a token header, so a caller can choose a key set or
/// refresh a cache before verifying. Never trust these values for anything else.
struct UnverifiedHeader {
  std::string alg{};
  std::string kid{};
};
/// @returns the header fields, or malformed_token / malformed_encoding / malformed_header /
///          duplicate_key / token_too_large. Never throws (except bad_alloc).
result<UnverifiedHeader> peek_header(std::string_view compact,
                                     std::size_t max_token_bytes = 64 * 1024);

}  // namespace ee::jwt
