#pragma once
// A test-only JWS signer (RFC 7515 compact serialisation) with RSA and EC keys made by OpenSSL at
// run time. It lives in tests/fakes, never in src/: the library verifies tokens and never mints
// them. Used by the fake GitHub OIDC issuer, the fake Intel Trust Authority, the bad-token corpus
// and the benchmark.
//
// Test support: OpenSSL failures throw std::runtime_error naming the call.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ee::test {

class SigningKey {
 public:
  /// A fresh RSA key of `bits` bits (e = 65537).
  static SigningKey rsa(int bits, std::string kid);
  /// A fresh EC key on "P-256" or "P-384".
  static SigningKey ec(std::string const& curve, std::string kid);
  /// Loads a PKCS #8 PEM private key (as written by private_key_pem()).
  static SigningKey from_pem(std::string const& pem, std::string kid);

  std::string const& kid() const noexcept { return kid_; }
  /// The public JWK as a JSON object text: kty, kid, use "sig", n/e or crv/x/y, and `alg` when
  /// given. `extra` (e.g. R"("x5c":[...])") is appended inside the object when non-empty.
  std::string jwk_json(std::optional<std::string> alg = {}, std::string const& extra = {}) const;
  std::string private_key_pem() const;
  /// The DER SubjectPublicKeyInfo.
  std::vector<std::uint8_t> public_key_der() const;

  /// The raw JWS signature over `data` for `alg` (RS*, PS*: PKCS #1 / PSS; ES*: raw R||S, or
  /// with `der_ecdsa` the DER form a JWS must not carry).
  std::vector<std::uint8_t> signature(std::string_view alg, std::string_view data,
                                      bool der_ecdsa = false) const;
  /// base64url(header) '.' base64url(payload) '.' base64url(signature), header and payload as
  /// given byte for byte (so tests can sign duplicate keys, arrays, anything).
  std::string sign_raw(std::string_view alg, std::string_view header_json,
                       std::string_view payload_json, bool der_ecdsa = false) const;
  /// The usual header {"alg":alg,"kid":kid,"typ":"JWT"} over `claims_json`.
  std::string mint(std::string_view alg, std::string_view claims_json) const;

  struct Impl;

 private:
  SigningKey(std::shared_ptr<Impl const> impl, std::string kid)
      : impl_(std::move(impl)), kid_(std::move(kid)) {}
  std::shared_ptr<Impl const> impl_;
  std::string kid_;
};

/// {"keys":[jwk, ...]}
std::string jwks_json(std::vector<std::string> const& jwks);
/// base64url without padding.
std::string b64url(std::string_view bytes);
/// An HS256 token with `secret` as the HMAC key (for algorithm-confusion tests).
std::string sign_hs256(std::string_view secret, std::string_view header_json,
                       std::string_view payload_json);

}  // namespace ee::test
