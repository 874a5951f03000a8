// Fuzzes JWK set parsing (RFC 7517 section 5; RSA and EC keys, RFC 7518 section 6; x5c, RFC 7517
// section 4.7), the key descriptions, and key selection: a fixed real Intel Trust Authority token
// is verified against each key set that parses.
#include <easyenclave/jwt/token.hpp>

#include "fuzz_support.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace {

std::string const& token() {
  static std::string const t = ee_fuzz::data_file("ita_token_prod_20231205.jwt");
  return t;
}

ee::jwt::VerifyOptions const& options() {
  static ee::jwt::VerifyOptions const o = [] {
    ee::jwt::VerifyOptions v;
    v.algorithms = {ee::jwt::Algorithm::rs256, ee::jwt::Algorithm::ps384,
                    ee::jwt::Algorithm::es256, ee::jwt::Algorithm::es384};
    v.issuers = {"Intel Trust Authority"};
    return v;
  }();
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)token();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  ee_fuzz::OpenSslErrorsCleared const queue_check;
  auto keys = ee::jwt::KeySet::parse(ee_fuzz::as_text(data, size));
  if (!keys) return 0;
  auto const infos = keys->keys();
  ee_fuzz::check(infos.size() == keys->size(), "keys() and size() disagree");
  for (auto const& info : infos) ee_fuzz::check(keys->contains_kid(info.kid), "a listed kid is not contained");
  // 2023-12-05T00:09:10Z, the token's iat.
  auto const now = ee::jwt::TimePoint{std::chrono::seconds{1701734950}};
  (void)ee::jwt::verify(token(), *keys, options(), now);
  return 0;
}
