#pragma once
// Internals of the JWT module shared by token.cpp, keys.cpp, ita.cpp, github_oidc.cpp and
// describe.cpp: the definitions behind the public pimpls, OpenSSL ownership types and the
// signature primitive. Nothing here is API.
#include <easyenclave/jwt/token.hpp>

#include <boost/json/value.hpp>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ee::jwt::detail {

struct EvpPkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

enum class KeyType { rsa, ec, other };

/// The validity interval common to every certificate of a verified x5c chain.
struct ChainWindow {
  TimePoint not_before{};
  TimePoint not_after{};
};

/// One JWK, imported once.
struct Key {
  std::string kid{};
  std::optional<Algorithm> alg{};
  KeyType type = KeyType::other;
  std::string kty{};
  std::string curve{};  // "P-256" / "P-384"
  int bits = 0;
  EvpPkeyPtr pkey{};    // null when unusable
  std::vector<X509Ptr> x5c{};
  std::string problem{};

  // Result of checking x5c against a root, per root fingerprint: the chain's validity window or
  // the error. Filled on first use; guarded by `mutex`.
  mutable std::mutex mutex{};
  mutable std::vector<std::pair<std::string, result<ChainWindow>>> chain_checks{};
  // Verification contexts set up once per algorithm (padding, MGF1, salt, digest) and duplicated
  // per call: duplicating is much cheaper than OpenSSL 3's per-call provider fetch and setup.
  mutable std::vector<std::pair<Algorithm, std::shared_ptr<EVP_PKEY_CTX>>> verify_templates{};
};

/// Verifies `signature` over `message` with `key` for `alg` (the caller has checked that the key
/// type fits). ES* signatures arrive raw (r||s) and are converted to DER here.
/// @returns malformed_signature for a wrong length, bad_signature when it does not verify.
result<void> verify_signature(Key const& key, Algorithm alg, std::string_view message,
                              std::span<std::uint8_t const> signature);

/// Checks (once, then from the cache) that `key.x5c` chains to `root`, and that every
/// certificate is valid at `at`.
result<void> check_x5c(Key const& key, CertificateRoot const& root, TimePoint at);

/// Whether a key of this type and curve can produce `alg` signatures.
bool key_fits(Key const& key, Algorithm alg) noexcept;

}  // namespace ee::jwt::detail

namespace ee::jwt {

struct KeySet::Impl {
  std::vector<std::shared_ptr<detail::Key const>> keys{};
};

struct CertificateRoot::State {
  detail::X509Ptr certificate{};
  std::string fingerprint{};
};

struct Token::Impl {
  // The claims are moved in by construction: assigning a value built on another storage (the
  // claims' arena) would copy it.
  explicit Impl(boost::json::value c) : claims(std::move(c)) {}

  boost::json::value claims{};  // always an object
  Algorithm alg{};
  std::string kid{};
  std::string typ{};
  std::string header_json{};
  std::string claims_json{};
  std::optional<std::string> iss{};
  std::optional<std::string> sub{};
  std::vector<std::string> aud{};
  std::optional<TimePoint> exp{};
  std::optional<TimePoint> nbf{};
  std::optional<TimePoint> iat{};
  std::optional<std::string> jti{};
};

}  // namespace ee::jwt
