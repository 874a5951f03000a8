// JWT verification throughput on one core: the real production ITA token (PS384, RSA-3072) and a
// GitHub-shaped RS256 token (RSA-2048, minted here by the test-only signer), printed beside
// OpenSSL's raw RSA-3072 and RSA-2048 verifications per second measured in the same run. Keys are
// imported once (KeySet::parse), so a verification should cost the one RSA public-key operation
// plus parsing: the ratio shows how close it gets. Parsing the real ITA key set (two RSA-3072 keys,
// each with a three-certificate x5c chain) is printed beside OpenSSL decoding the six DER
// certificates alone, the part of the work no parser can skip.
//
// Usage: bench_jwt_verify [testdata_dir]   (default: the EE_TESTDATA_DIR compile definition)
#include "support.hpp"

#include <easyenclave/api/console_token.hpp>
#include <easyenclave/jwt/github_oidc.hpp>
#include <easyenclave/jwt/ita.hpp>
#include <easyenclave/jwt/token.hpp>

#include "detail/encoding.hpp"
#include "detail/json.hpp"
#include "detail/time.hpp"
#include "fakes/jws_signer.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/rsa.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr double kSecondsPerCase = 1.5;

double rate(char const* name, std::function<bool()> const& op) {
  return ee::bench::rate(name, op, {.seconds = kSecondsPerCase, .max_iterations = 2'000'000, .batch = 16});
}

using Clock = std::chrono::steady_clock;

#ifndef EE_TESTDATA_DIR
#define EE_TESTDATA_DIR "tests/data"
#endif


// OpenSSL's own RSA verification of a precomputed SHA-256 digest (PKCS #1 v1.5), with the key
// context set up once: what `openssl speed rsa<bits>` measures for verify.
double raw_rsa_verify(int bits) {
  EVP_PKEY* key = EVP_RSA_gen(static_cast<unsigned>(bits));
  unsigned char digest[32] = {1, 2, 3};
  EVP_PKEY_CTX* sign = EVP_PKEY_CTX_new(key, nullptr);
  EVP_PKEY_sign_init(sign);
  EVP_PKEY_CTX_set_rsa_padding(sign, RSA_PKCS1_PADDING);
  EVP_PKEY_CTX_set_signature_md(sign, EVP_sha256());
  std::vector<unsigned char> sig(static_cast<std::size_t>(EVP_PKEY_get_size(key)));
  std::size_t len = sig.size();
  EVP_PKEY_sign(sign, sig.data(), &len, digest, sizeof digest);
  EVP_PKEY_CTX* verify = EVP_PKEY_CTX_new(key, nullptr);
  EVP_PKEY_verify_init(verify);
  EVP_PKEY_CTX_set_rsa_padding(verify, RSA_PKCS1_PADDING);
  EVP_PKEY_CTX_set_signature_md(verify, EVP_sha256());
  std::string const name = "OpenSSL raw RSA-" + std::to_string(bits) + " verify";
  double const r = rate(name.c_str(), [&] { return EVP_PKEY_verify(verify, sig.data(), len, digest, sizeof digest) == 1; });
  EVP_PKEY_CTX_free(sign);
  EVP_PKEY_CTX_free(verify);
  EVP_PKEY_free(key);
  return r;
}

// The two parts of a PS384 verification of the ITA token that no implementation can skip,
// measured like the limit: OpenSSL's RSA-3072 PSS verification of a precomputed SHA-384 digest
// (salt 48, MGF1 SHA-384, context set up once), and SHA-384 of the token's signing input. Their
// combined time bounds what jwt::verify can reach against the limit.
struct Ps384Floor {
  double pss = 0;     // verifications per second
  double sha384 = 0;  // digests of the signing input per second
};

Ps384Floor ps384_floor(std::string const& token) {
  std::string_view const signing_input = std::string_view(token).substr(0, token.rfind('.'));
  EVP_PKEY* key = EVP_RSA_gen(3072);
  unsigned char digest[48];
  unsigned int digest_len = 0;
  EVP_Digest(signing_input.data(), signing_input.size(), digest, &digest_len, EVP_sha384(), nullptr);
  auto const set_pss = [](EVP_PKEY_CTX* ctx) {
    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha384());
    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha384());
    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST);
  };
  EVP_PKEY_CTX* sign = EVP_PKEY_CTX_new(key, nullptr);
  EVP_PKEY_sign_init(sign);
  set_pss(sign);
  std::vector<unsigned char> sig(static_cast<std::size_t>(EVP_PKEY_get_size(key)));
  std::size_t len = sig.size();
  EVP_PKEY_sign(sign, sig.data(), &len, digest, digest_len);
  EVP_PKEY_CTX* verify = EVP_PKEY_CTX_new(key, nullptr);
  EVP_PKEY_verify_init(verify);
  set_pss(verify);
  Ps384Floor parts;
  parts.pss = rate("OpenSSL raw RSA-3072 PSS verify (SHA-384)", [&] {
    return EVP_PKEY_verify(verify, sig.data(), len, digest, digest_len) == 1;
  });
  EVP_MD* sha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  parts.sha384 = rate("SHA-384 of the ITA signing input", [&] {
    unsigned char out[48];
    unsigned int out_len = 0;
    return EVP_Digest(signing_input.data(), signing_input.size(), out, &out_len, sha384, nullptr) == 1 &&
           out_len == 48;
  });
  EVP_MD_free(sha384);
  EVP_PKEY_CTX_free(sign);
  EVP_PKEY_CTX_free(verify);
  EVP_PKEY_free(key);
  return parts;
}

// The DER certificates of every x5c chain of a key set.
std::vector<std::vector<std::uint8_t>> x5c_certificates(std::string const& jwks) {
  std::vector<std::vector<std::uint8_t>> out;
  auto doc = ee::detail::json::parse(jwks).value();
  for (auto const& key : doc.as_object().at("keys").as_array())
    for (auto const& cert : key.as_object().at("x5c").as_array())
      out.push_back(ee::detail::base64_decode(std::string(cert.as_string())).value());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string const dir = argc > 1 ? argv[1] : EE_TESTDATA_DIR;
  auto const ita_token = ee::bench::read_file_or_exit(dir + "/attestation/ita/ita_tdx_token_prod_20231205.jwt");
  auto const ita_jwks = ee::bench::read_file_or_exit(dir + "/attestation/ita/ita_jwks_prod_2023.json");
  auto const ita_keys = ee::jwt::KeySet::parse(ita_jwks).value();
  auto const ita_now = ee::detail::from_unix_seconds(1701735000);

  auto const github_key = ee::test::SigningKey::rsa(2048, "bench-github");
  auto const github_keys = ee::jwt::KeySet::parse(ee::test::jwks_json({github_key.jwk_json("RS256")})).value();
  auto const now = std::chrono::system_clock::now();
  auto const iat = std::to_string(ee::detail::to_unix_seconds(now));
  auto const github_token = github_key.mint(
      "RS256", R"({"iss":"https://token.actions.githubusercontent.com","aud":"easyenclave",)"
               R"("sub":"repo:octo-org/octo-repo:ref:refs/heads/main","repository":"octo-org/octo-repo",)"
               R"("repository_id":"123456","repository_owner":"octo-org","repository_owner_id":"654321",)"
               R"("ref":"refs/heads/main","ref_type":"branch","sha":"0123456789abcdef0123456789abcdef01234567",)"
               R"("workflow":"deploy","job_workflow_ref":"octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main",)"
               R"("run_id":"42","run_number":"1","run_attempt":"1","actor":"octocat","event_name":"push",)"
               R"("runner_environment":"github-hosted","jti":"7e1b7e4c-5bd6-4b1e-9c1f-2f3a4b5c6d7e","iat":)" +
                   iat + R"(,"nbf":)" + iat + R"(,"exp":)" + std::to_string(ee::detail::to_unix_seconds(now) + 300) + "}");

  std::printf("ITA token %zu bytes (PS384, RSA-3072); GitHub-shaped token %zu bytes (RS256, RSA-2048)\n\n",
              ita_token.size(), github_token.size());
  double const raw3072 = raw_rsa_verify(3072);
  double const raw2048 = raw_rsa_verify(2048);
  auto const parts = ps384_floor(ita_token);
  // PSS verification then hashing, one after the other: the most a PS384 verification can reach.
  double const ceiling = 1 / (1 / parts.pss + 1 / parts.sha384);

  ee::jwt::VerifyOptions ita_options;
  ita_options.algorithms = {ee::jwt::Algorithm::ps384, ee::jwt::Algorithm::rs256};
  ita_options.issuers = {"Intel Trust Authority"};
  double const ps384 = rate("jwt::verify, real ITA token (PS384)",
                            [&] { return ee::jwt::verify(ita_token, ita_keys, ita_options, ita_now).has_value(); });
  double const ita = rate("jwt::verify_ita_token (PS384 + TDX claims)", [&] {
    return ee::jwt::verify_ita_token(ita_token, ita_keys, {}, ita_now).has_value();
  });
  ee::jwt::VerifyOptions github_options;
  github_options.algorithms = {ee::jwt::Algorithm::rs256};
  github_options.issuers = {"https://token.actions.githubusercontent.com"};
  github_options.audience = "easyenclave";
  double const rs256 = rate("jwt::verify, GitHub-shaped token (RS256)", [&] {
    return ee::jwt::verify(github_token, github_keys, github_options, now).has_value();
  });
  double const github = rate("jwt::verify_github_oidc (RS256 + claims)", [&] {
    return ee::jwt::verify_github_oidc(github_token, github_keys, {.audience = "easyenclave"}, now).has_value();
  });
  auto const certificates = x5c_certificates(ita_jwks);
  double const parse = rate("KeySet::parse, real ITA key set", [&] { return ee::jwt::KeySet::parse(ita_jwks).has_value(); });
  double const decode = rate("OpenSSL d2i_X509 of its x5c certificates", [&] {
    bool ok = true;
    for (auto const& der : certificates) {
      unsigned char const* p = der.data();
      X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
      ok = ok && cert != nullptr;
      X509_free(cert);
    }
    return ok;
  });
  // The console token an agent checks on each logs or stats request (ES256, the CP's P-256 key),
  // beside the one ECDSA verification inside it.
  auto const cp_key = ee::api::SigningKey::generate().value();
  ee::api::ConsoleClaims claims;
  claims.agent_id = "3f0e1c2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b";
  claims.scope = {"logs", "stats"};
  claims.issued_at = ee::detail::to_unix_seconds(now);
  claims.expires_at = claims.issued_at + 900;
  claims.jti = "0123456789abcdef0123456789abcdef";
  auto const console_token = ee::api::mint_console_token(claims, cp_key).value();
  auto const parsed = ee::api::parse_console_token(console_token).value();
  double const es256_raw = rate("api::PublicKey::verify (ECDSA P-256)", [&] {
    return cp_key.public_key().verify(ee::detail::as_bytes(parsed.signing_input), parsed.signature);
  });
  double const console = rate("api::verify_console_token (ES256 + claims)", [&] {
    return ee::api::verify_console_token(console_token, cp_key.public_key(), claims.agent_id, "logs", now).has_value();
  });
  rate("api::mint_console_token", [&] { return ee::api::mint_console_token(claims, cp_key).has_value(); });
  std::printf("\nratio verify_console_token / raw P-256 verify: %.2f\n", console / es256_raw);
  std::printf("ratio PS384 verify / raw RSA-3072:       %.2f\n", ps384 / raw3072);
  std::printf("  its floor: (raw PSS + SHA-384 of the input) / raw RSA-3072: %.2f; PS384 verify / floor: %.2f\n",
              ceiling / raw3072, ps384 / ceiling);
  std::printf("ratio verify_ita_token / raw RSA-3072:   %.2f\n", ita / raw3072);
  std::printf("ratio RS256 verify / raw RSA-2048:       %.2f\n", rs256 / raw2048);
  std::printf("ratio verify_github_oidc / raw RSA-2048: %.2f\n", github / raw2048);
  std::printf("ratio KeySet::parse / d2i_X509 of its %zu certificates: %.2f\n", certificates.size(), parse / decode);
  return 0;
}
