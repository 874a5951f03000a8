// Fuzzes compact JWS/JWT verification (RFC 7515 section 7.1, RFC 7519 section 7.2): structure,
// base64url, the header, algorithm pinning, key selection, the signature and the claims, against
// the fixed real Intel Trust Authority key set, with and without its x5c chain pinned to the
// set's own root; and peek_header, which callers use before they pick a key set.
#include <easyenclave/jwt/token.hpp>

#include "detail/encoding.hpp"
#include "detail/json.hpp"
#include "fuzz_support.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace {

struct Fixture {
  ee::jwt::KeySet keys;
  ee::jwt::VerifyOptions plain;
  ee::jwt::VerifyOptions pinned;
};

Fixture const& fixture() {
  static Fixture const f = [] {
    auto const jwks = ee_fuzz::data_file("ita_jwks_prod_2023.json");
    Fixture x{ee::jwt::KeySet::parse(jwks).value(), {}, {}};
    x.plain.algorithms = {ee::jwt::Algorithm::rs256, ee::jwt::Algorithm::ps384,
                          ee::jwt::Algorithm::es256};
    x.plain.issuers = {"Intel Trust Authority"};
    x.plain.required_claims = {"attester_tcb_status"};
    // The root of the first key's x5c chain (its last certificate), as a deployment pins it.
    auto const doc = ee::detail::json::parse(jwks).value();
    auto const& x5c = doc.at("keys").at(0).at("x5c").as_array();
    auto const der = ee::detail::base64_decode(std::string_view(x5c.back().as_string())).value();
    x.pinned = x.plain;
    x.pinned.x5c_root = ee::jwt::CertificateRoot::from_certificate(der).value();
    return x;
  }();
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)fixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  ee_fuzz::OpenSslErrorsCleared const queue_check;
  auto const text = ee_fuzz::as_text(data, size);
  (void)ee::jwt::peek_header(text);
  auto const& f = fixture();
  // 2023-12-05T00:09:10Z, the iat of the real token in the corpus.
  auto const now = ee::jwt::TimePoint{std::chrono::seconds{1701734950}};
  if (auto token = ee::jwt::verify(text, f.keys, f.plain, now)) {
    (void)token->string_claim("attester_tcb_status");
    (void)token->integer_claim("exp");
    (void)token->bool_claim("x");
  }
  (void)ee::jwt::verify(text, f.keys, f.pinned, now);
  return 0;
}
