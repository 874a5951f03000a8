// JWS/JWT verification: the real production ITA token against the real key set, and a corpus of
// crafted bad tokens, each refused with its own error code.
#include <easyenclave/jwt/token.hpp>

#include "detail/encoding.hpp"
#include "detail/json.hpp"
#include "detail/time.hpp"
#include "jwt/internal.hpp"
#include "fakes/jws_signer.hpp"
#include "support/temp_dir.hpp"

#include <boost/json/parse.hpp>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using ee::jwt::Algorithm;
using ee::jwt::errc;
using ee::jwt::KeySet;
using ee::jwt::VerifyOptions;
using ee::test::SigningKey;

constexpr std::int64_t kItaClock = 1701735000;  // 2023-12-05T00:10:00Z, inside the prod token
constexpr char const* kItaKid =
    "79d80711b754cceb307d4278dc59957f27eb55a8e33d3b824967975843dcbf21df924eebaf93fce186fd291d36817785";

std::string ita_file(std::string const& name) {
  return ee::test::read_file(ee::test::testdata("attestation/ita/" + name));
}

VerifyOptions ita_options() {
  VerifyOptions o;
  o.algorithms = {Algorithm::ps384, Algorithm::rs256};
  o.issuers = {"Intel Trust Authority", "https://portal.trustauthority.intel.com"};
  return o;
}

ee::jwt::TimePoint at(std::int64_t unix_seconds) { return ee::detail::from_unix_seconds(unix_seconds); }

// The Intel Trust Authority Root CA: the last certificate of the real key set's x5c.
ee::jwt::CertificateRoot ita_root() {
  auto doc = boost::json::parse(ita_file("ita_jwks_prod_2023.json"));
  auto const& x5c = doc.at("keys").at(0).at("x5c").as_array();
  auto der = ee::detail::base64_decode(std::string(x5c.back().as_string()));
  return ee::jwt::CertificateRoot::from_certificate(der.value()).value();
}

TEST(JwtKeySet, ParsesTheRealItaKeySet) {
  auto keys = KeySet::parse(ita_file("ita_jwks_prod_2023.json"));
  ASSERT_TRUE(keys) << keys.error().message();
  ASSERT_EQ(keys->size(), 2u);
  auto info = keys->keys();
  EXPECT_EQ(info[0].alg, Algorithm::ps384);
  EXPECT_EQ(info[1].alg, Algorithm::rs256);
  for (auto const& k : info) {
    EXPECT_EQ(k.kid, kItaKid);
    EXPECT_EQ(k.kty, "RSA");
    EXPECT_EQ(k.bits, 3072);
    EXPECT_TRUE(k.has_x5c);
    EXPECT_EQ(k.problem, "");
  }
  EXPECT_TRUE(keys->contains_kid(kItaKid));
}

TEST(JwtVerify, RealItaTokenVerifiesAtItsClock) {
  auto keys = KeySet::parse(ita_file("ita_jwks_prod_2023.json")).value();
  auto token = ee::jwt::verify(ita_file("ita_tdx_token_prod_20231205.jwt"), keys, ita_options(), at(kItaClock));
  ASSERT_TRUE(token) << token.error().message();
  EXPECT_EQ(token->algorithm(), Algorithm::ps384);
  EXPECT_EQ(token->kid(), kItaKid);
  EXPECT_EQ(token->type(), "JWT");
  EXPECT_EQ(token->issuer(), "Intel Trust Authority");
  EXPECT_EQ(ee::detail::to_unix_seconds(*token->issued_at()), 1701734950);
  EXPECT_EQ(ee::detail::to_unix_seconds(*token->not_before()), 1701734950);
  EXPECT_EQ(ee::detail::to_unix_seconds(*token->expires_at()), 1701735250);
  EXPECT_EQ(token->jwt_id(), "ff31d71a-197d-4a6d-84d6-920b39081a03");
  EXPECT_EQ(token->string_claim("attester_tcb_status"), "OutOfDate");
  EXPECT_EQ(token->integer_claim("tdx_seamsvn"), 3);
  EXPECT_EQ(token->bool_claim("tdx_is_debuggable"), false);
  EXPECT_TRUE(token->audience().empty());
}

TEST(JwtVerify, RealItaTokenX5cChainIsCheckedAtTheTokenTime) {
  auto keys = KeySet::parse(ita_file("ita_jwks_prod_2023.json")).value();
  auto options = ita_options();
  options.x5c_root = ita_root();
  auto const token = ita_file("ita_tdx_token_prod_20231205.jwt");
  EXPECT_TRUE(ee::jwt::verify(token, keys, options, at(kItaClock)));
  // Another root (Intel's SGX root): the chain is untrusted.
  auto const other = ee::jwt::CertificateRoot::from_file(ee::test::testdata("attestation/roots/intel_sgx_root_ca.pem"));
  ASSERT_TRUE(other);
  options.x5c_root = *other;
  auto r = ee::jwt::verify(token, keys, options, at(kItaClock));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::x5c_untrusted) << r.error().message();
}

TEST(JwtVerify, RealItaTokenFailsAfterExp) {
  auto keys = KeySet::parse(ita_file("ita_jwks_prod_2023.json")).value();
  auto const token = ita_file("ita_tdx_token_prod_20231205.jwt");
  // exp 1701735250 plus the default 120 s leeway.
  EXPECT_TRUE(ee::jwt::verify(token, keys, ita_options(), at(1701735250 + 119)));
  auto r = ee::jwt::verify(token, keys, ita_options(), at(1701735250 + 120));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::token_expired);
  EXPECT_EQ(r.error(), ee::condition::unauthenticated);
  EXPECT_NE(r.error().message().find("exp"), std::string::npos);
  auto options = ita_options();
  options.leeway = std::chrono::seconds(0);
  EXPECT_EQ(ee::jwt::verify(token, keys, options, at(1701735250)).error(), errc::token_expired);
}

TEST(JwtVerify, PilotTokenHasAnUnknownKid) {
  auto keys = KeySet::parse(ita_file("ita_jwks_prod_2023.json")).value();
  auto r = ee::jwt::verify(ita_file("ita_tdx_token_pilot_20240201.jwt"), keys, ita_options(), at(1706769600));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::unknown_kid);
  EXPECT_NE(r.error().message().find("unknown kid"), std::string::npos);
}

TEST(JwtVerify, RealTokenWithRs256HeaderSelectsTheRs256KeyAndFails) {
  // Same kid, other alg: the RS256 entry is chosen (kid and alg together) and the PSS signature
  // does not verify as PKCS #1 v1.5.
  auto keys = KeySet::parse(ita_file("ita_jwks_prod_2023.json")).value();
  auto const token = ita_file("ita_tdx_token_prod_20231205.jwt");
  auto const dot = token.find('.');
  std::string header = R"({"alg":"RS256","kid":")" + std::string(kItaKid) + R"(","typ":"JWT"})";
  auto r = ee::jwt::verify(ee::test::b64url(header) + token.substr(dot), keys, ita_options(), at(kItaClock));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::bad_signature);
}

TEST(JwtVerify, RealTokenWithATamperedPayloadFails) {
  auto keys = KeySet::parse(ita_file("ita_jwks_prod_2023.json")).value();
  auto token = ita_file("ita_tdx_token_prod_20231205.jwt");
  auto const pos = token.find('.') + 40;
  token[pos] = token[pos] == 'A' ? 'B' : 'A';
  EXPECT_EQ(ee::jwt::verify(token, keys, ita_options(), at(kItaClock)).error(), errc::bad_signature);
}

// A refusal's reason is in its Error; OpenSSL's queue is left as the caller had it, so a stale
// entry is never read as the cause of the caller's next failure.
TEST(JwtVerify, ARefusalLeavesTheOpenSslErrorQueueAsTheCallerHadIt) {
  ERR_clear_error();
  ERR_raise(ERR_LIB_USER, 42);  // the caller's own pending entry
  auto keys = KeySet::parse(ita_file("ita_jwks_prod_2023.json")).value();
  auto token = ita_file("ita_tdx_token_prod_20231205.jwt");
  auto const pos = token.rfind('.') + 10;
  token[pos] = token[pos] == 'A' ? 'B' : 'A';  // a signature that does not verify
  EXPECT_EQ(ee::jwt::verify(token, keys, ita_options(), at(kItaClock)).error(), errc::bad_signature);
  // A P-256 key whose point is not on the curve: OpenSSL refuses it when it is imported.
  std::string const off_curve =
      R"({"keys":[{"kty":"EC","kid":"k","crv":"P-256","x":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE","y":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"}]})";
  auto const parsed = KeySet::parse(off_curve);
  ASSERT_TRUE(parsed.has_value());
  ASSERT_EQ(parsed->keys().size(), 1u);
  EXPECT_FALSE(parsed->keys()[0].problem.empty());
  EXPECT_EQ(ERR_GET_REASON(ERR_get_error()), 42);
  EXPECT_EQ(ERR_get_error(), 0u);
}

TEST(JwtVerify, RequiresPinnedAlgorithmsAndIssuers) {
  auto keys = KeySet::parse(ita_file("ita_jwks_prod_2023.json")).value();
  auto const token = ita_file("ita_tdx_token_prod_20231205.jwt");
  VerifyOptions none;
  EXPECT_EQ(ee::jwt::verify(token, keys, none, at(kItaClock)).error(), errc::invalid_options);
  auto rs_only = ita_options();
  rs_only.algorithms = {Algorithm::rs256};
  EXPECT_EQ(ee::jwt::verify(token, keys, rs_only, at(kItaClock)).error(), errc::algorithm_not_allowed);
}

// --- the crafted corpus ------------------------------------------------------------------------

constexpr std::int64_t kNow = 1'750'000'000;

struct Corpus {
  SigningKey rsa = SigningKey::rsa(2048, "rsa-1");
  SigningKey rsa_untyped = SigningKey::rsa(2048, "rsa-2");
  SigningKey ec = SigningKey::ec("P-256", "ec-1");
  SigningKey stranger = SigningKey::rsa(2048, "rsa-1");  // same kid, not in the set
  KeySet keys = KeySet::parse(ee::test::jwks_json(
                                  {rsa.jwk_json("RS256"), rsa.jwk_json("PS256"), rsa_untyped.jwk_json(),
                                   ec.jwk_json("ES256"), R"({"kty":"oct","kid":"hmac-1","k":"c2VjcmV0"})"}))
                    .value();

  static std::string claims(std::string const& extra = "", std::string const& aud = R"("aud":"ee-test",)") {
    return R"({"iss":"https://issuer.test",)" + aud + R"("sub":"subject","iat":)" + std::to_string(kNow - 10) +
           R"(,"nbf":)" + std::to_string(kNow - 10) + R"(,"exp":)" + std::to_string(kNow + 300) + extra + "}";
  }
  static VerifyOptions options() {
    VerifyOptions o;
    o.algorithms = {Algorithm::rs256, Algorithm::ps256, Algorithm::es256};
    o.issuers = {"https://issuer.test"};
    o.audience = "ee-test";
    return o;
  }
  static std::string header(std::string const& alg, std::string const& kid, std::string const& extra = "") {
    return R"({"alg":")" + alg + R"(","kid":")" + kid + R"(","typ":"JWT")" + extra + "}";
  }
  static std::string with_time(std::string const& name, std::int64_t value) {
    auto c = claims();
    auto const pos = c.find("\"" + name + "\":");
    auto const end = c.find_first_of(",}", pos);
    return c.substr(0, pos) + "\"" + name + "\":" + std::to_string(value) + c.substr(end);
  }
};

Corpus& corpus() {
  static Corpus c;
  return c;
}

ee::result<ee::jwt::Token> check(std::string const& token, VerifyOptions const& options = Corpus::options()) {
  return ee::jwt::verify(token, corpus().keys, options, at(kNow));
}

TEST(JwtCorpus, GoodTokensVerify) {
  auto& c = corpus();
  for (auto alg : {"RS256", "PS256"}) {
    auto r = check(c.rsa.mint(alg, Corpus::claims()));
    EXPECT_TRUE(r) << alg << ": " << r.error().message();
  }
  auto es = check(c.ec.mint("ES256", Corpus::claims()));
  EXPECT_TRUE(es) << es.error().message();
  auto untyped = check(c.rsa_untyped.mint("RS256", Corpus::claims()));
  EXPECT_TRUE(untyped) << untyped.error().message();
  auto array_aud = check(c.rsa.mint("RS256", Corpus::claims("", R"("aud":["other","ee-test"],)")));
  ASSERT_TRUE(array_aud);
  EXPECT_EQ(array_aud->audience(), (std::vector<std::string>{"other", "ee-test"}));
  // A trailing newline (token read from a file) is fine.
  EXPECT_TRUE(check(c.rsa.mint("RS256", Corpus::claims()) + "\n"));
}

struct BadToken {
  std::string name;
  std::string token;
  errc expected;
};

std::vector<BadToken> bad_tokens() {
  auto& c = corpus();
  auto const good = c.rsa.mint("RS256", Corpus::claims());
  auto const dot1 = good.find('.');
  auto const dot2 = good.rfind('.');
  std::vector<BadToken> v;
  // Algorithms.
  v.push_back({"alg_none", ee::test::b64url(R"({"alg":"none","kid":"rsa-1"})") + "." +
                               ee::test::b64url(Corpus::claims()) + ".",
               errc::insecure_algorithm});
  v.push_back({"alg_none_signed", c.rsa.sign_raw("RS256", R"({"alg":"none","kid":"rsa-1"})", Corpus::claims()),
               errc::insecure_algorithm});
  // The classic confusion: HS256 keyed with the RSA public key a verifier would load.
  auto const pub = c.rsa.public_key_der();
  v.push_back({"hs256_with_rsa_public_key",
               ee::test::sign_hs256(std::string(pub.begin(), pub.end()), Corpus::header("HS256", "rsa-1"),
                                    Corpus::claims()),
               errc::insecure_algorithm});
  v.push_back({"hs256_with_oct_key",
               ee::test::sign_hs256("secret", Corpus::header("HS256", "hmac-1"), Corpus::claims()),
               errc::insecure_algorithm});
  v.push_back({"unsupported_alg", c.rsa.sign_raw("RS256", Corpus::header("EdDSA", "rsa-1"), Corpus::claims()),
               errc::unsupported_algorithm});
  v.push_back({"alg_not_pinned", c.rsa.mint("RS512", Corpus::claims()), errc::algorithm_not_allowed});
  v.push_back({"alg_kty_mismatch", c.ec.sign_raw("ES256", Corpus::header("ES256", "rsa-2"), Corpus::claims()),
               errc::key_type_mismatch});
  v.push_back({"alg_for_oct_key", c.rsa.sign_raw("RS256", Corpus::header("RS256", "hmac-1"), Corpus::claims()),
               errc::malformed_key});
  // Keys.
  v.push_back({"missing_kid", c.rsa.sign_raw("RS256", R"({"alg":"RS256","typ":"JWT"})", Corpus::claims()),
               errc::missing_kid});
  v.push_back({"unknown_kid", c.rsa.sign_raw("RS256", Corpus::header("RS256", "nobody"), Corpus::claims()),
               errc::unknown_kid});
  v.push_back({"valid_kid_other_alg", c.ec.sign_raw("PS256", Corpus::header("PS256", "ec-1"), Corpus::claims()),
               errc::key_algorithm_mismatch});
  // Time.
  v.push_back({"expired", c.rsa.mint("RS256", Corpus::with_time("exp", kNow - 121)), errc::token_expired});
  v.push_back({"nbf_future", c.rsa.mint("RS256", Corpus::with_time("nbf", kNow + 121)), errc::token_not_yet_valid});
  v.push_back({"iat_far_future", c.rsa.mint("RS256", Corpus::with_time("iat", kNow + 86400)), errc::issued_in_future});
  v.push_back({"exp_missing", c.rsa.mint("RS256", R"({"iss":"https://issuer.test","aud":"ee-test"})"),
               errc::missing_claim});
  v.push_back({"exp_string", c.rsa.mint("RS256", R"({"iss":"https://issuer.test","aud":"ee-test","exp":"soon"})"),
               errc::invalid_claim});
  // Issuer and audience.
  v.push_back({"wrong_issuer", c.rsa.mint("RS256", R"({"iss":"https://evil.test","aud":"ee-test","exp":)" +
                                                       std::to_string(kNow + 60) + "}"),
               errc::issuer_not_allowed});
  v.push_back({"missing_issuer", c.rsa.mint("RS256", R"({"aud":"ee-test","exp":)" + std::to_string(kNow + 60) + "}"),
               errc::issuer_not_allowed});
  v.push_back({"wrong_audience", c.rsa.mint("RS256", Corpus::claims("", R"("aud":"other",)")), errc::audience_mismatch});
  v.push_back({"missing_audience", c.rsa.mint("RS256", Corpus::claims("", "")), errc::audience_missing});
  v.push_back({"array_audience_without_ours", c.rsa.mint("RS256", Corpus::claims("", R"("aud":["a","b"],)")),
               errc::audience_mismatch});
  v.push_back({"audience_number", c.rsa.mint("RS256", Corpus::claims("", R"("aud":7,)")), errc::invalid_claim});
  // Signatures.
  auto tampered = good;
  tampered[dot1 + 5] = tampered[dot1 + 5] == 'A' ? 'B' : 'A';
  v.push_back({"payload_tampered", tampered, errc::bad_signature});
  v.push_back({"signature_from_another_key", c.stranger.mint("RS256", Corpus::claims()), errc::bad_signature});
  auto const full_sig = ee::detail::base64url_decode(good.substr(dot2 + 1)).value();
  v.push_back({"signature_truncated",
               good.substr(0, dot2 + 1) + ee::detail::base64url_encode(std::span(full_sig).first(full_sig.size() - 3)),
               errc::malformed_signature});
  v.push_back({"signature_empty", good.substr(0, dot2 + 1), errc::malformed_signature});
  v.push_back({"es256_der_signature", c.ec.sign_raw("ES256", Corpus::header("ES256", "ec-1"), Corpus::claims(), true),
               errc::malformed_signature});
  // Structure and encoding.
  v.push_back({"two_segments", good.substr(0, dot2), errc::malformed_token});
  v.push_back({"four_segments", good + ".e30", errc::malformed_token});
  v.push_back({"empty_header", good.substr(dot1), errc::malformed_token});
  v.push_back({"padded_segment", good.substr(0, dot1) + "=" + good.substr(dot1), errc::malformed_encoding});
  v.push_back({"standard_base64_chars", "+" + good.substr(1), errc::malformed_encoding});
  v.push_back({"padded_signature", good + "==", errc::malformed_encoding});
  v.push_back({"inner_whitespace", good.substr(0, dot1) + " " + good.substr(dot1), errc::malformed_encoding});
  v.push_back({"header_not_json", ee::test::b64url("{alg:RS256}") + good.substr(dot1), errc::malformed_header});
  v.push_back({"header_array", ee::test::b64url("[1]") + good.substr(dot1), errc::malformed_header});
  v.push_back({"unknown_crit", c.rsa.sign_raw("RS256", Corpus::header("RS256", "rsa-1", R"(,"crit":["exp"],"exp":1)"),
                                              Corpus::claims()),
               errc::unknown_critical_header});
  v.push_back({"crit_b64", c.rsa.sign_raw("RS256", Corpus::header("RS256", "rsa-1", R"(,"b64":false,"crit":["b64"])"),
                                          Corpus::claims()),
               errc::unknown_critical_header});
  v.push_back({"duplicate_header_alg",
               c.rsa.sign_raw("RS256", R"({"alg":"RS256","kid":"rsa-1","alg":"none"})", Corpus::claims()),
               errc::duplicate_key});
  v.push_back({"duplicate_claim_keys",
               c.rsa.mint("RS256", Corpus::claims(R"(,"iss":"https://evil.test")")), errc::duplicate_key});
  v.push_back({"huge_token", c.rsa.mint("RS256", Corpus::claims(",\"pad\":\"" + std::string(70 * 1024, 'x') + "\"")),
               errc::token_too_large});
  v.push_back({"payload_array", c.rsa.mint("RS256", R"(["iss","aud"])"), errc::malformed_claims});
  v.push_back({"payload_string", c.rsa.mint("RS256", R"("claims")"), errc::malformed_claims});
  v.push_back({"jku_elsewhere_unknown_kid",
               c.stranger.sign_raw("RS256", Corpus::header("RS256", "evil", R"(,"jku":"https://evil.test/jwks")"),
                                   Corpus::claims()),
               errc::unknown_kid});
  v.push_back({"embedded_jwk_ignored",
               c.stranger.sign_raw("RS256", Corpus::header("RS256", "rsa-1", ",\"jwk\":" + c.stranger.jwk_json()),
                                   Corpus::claims()),
               errc::bad_signature});
  return v;
}

TEST(JwtCorpus, EveryBadTokenIsRefusedWithItsOwnError) {
  auto const cases = bad_tokens();
  EXPECT_GE(cases.size(), 25u);
  for (auto const& bad : cases) {
    auto r = check(bad.token);
    if (r) {
      ADD_FAILURE() << bad.name << ": accepted";
      continue;
    }
    EXPECT_EQ(r.error(), bad.expected) << bad.name << ": got " << r.error().id() << " (" << r.error().message() << ")";
    EXPECT_EQ(r.error().id().rfind("jwt.", 0), 0u) << bad.name;
    // Messages never echo token contents (the subject and the padding are in every payload).
    EXPECT_EQ(r.error().message().find("subject"), std::string::npos) << bad.name;
    EXPECT_EQ(r.error().message().find("xxxx"), std::string::npos) << bad.name;
  }
}

TEST(JwtCorpus, JkuPointingElsewhereIsIgnored) {
  auto& c = corpus();
  auto token = c.rsa.sign_raw("RS256", Corpus::header("RS256", "rsa-1", R"(,"jku":"https://evil.test/jwks")"),
                              Corpus::claims());
  auto r = check(token);
  ASSERT_TRUE(r) << r.error().message();  // verified against the configured set, jku never fetched
}

TEST(JwtCorpus, LeewayAndRequiredClaims) {
  auto& c = corpus();
  EXPECT_TRUE(check(c.rsa.mint("RS256", Corpus::with_time("exp", kNow - 100))));  // within 120 s
  EXPECT_TRUE(check(c.rsa.mint("RS256", Corpus::with_time("nbf", kNow + 100))));
  auto options = Corpus::options();
  options.required_claims = {"repository"};
  auto r = check(c.rsa.mint("RS256", Corpus::claims()), options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::missing_claim);
  EXPECT_NE(r.error().message().find("repository"), std::string::npos);
  // A hostile exp far beyond what a time_point holds is clamped, not overflowed.
  EXPECT_TRUE(check(c.rsa.mint("RS256", Corpus::with_time("exp", 4'000'000'000'000'000'000))));
}

TEST(JwtKeySet, KeepsUnusableKeysWithTheirProblem) {
  auto keys = KeySet::parse(R"({"keys":[
      {"kty":"RSA","kid":"short","n":"AQAB","e":"AQAB"},
      {"kty":"EC","kid":"off-curve","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"},
      {"kty":"EC","kid":"p521","crv":"P-521","x":"AA","y":"AA"},
      {"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"},
      {"kty":"OKP","kid":"ed","crv":"Ed25519","x":"AA"}]})");
  ASSERT_TRUE(keys) << keys.error().message();
  auto info = keys->keys();
  ASSERT_EQ(info.size(), 5u);
  for (auto const& k : info) EXPECT_NE(k.problem, "") << k.kid;
  EXPECT_NE(info[0].problem.find("2048"), std::string::npos) << info[0].problem;
  auto& c = corpus();
  auto token = c.rsa.sign_raw("RS256", Corpus::header("RS256", "short"), Corpus::claims());
  EXPECT_EQ(ee::jwt::verify(token, *keys, Corpus::options(), at(kNow)).error(), errc::malformed_key);
}

// An RSA key is checked structurally (size, odd n, odd e above 1, e at most 8 bytes); OpenSSL's
// SP 800-56B check is not run, see import_rsa.
TEST(JwtKeySet, RefusesRsaKeysThatCannotBeRsaKeys) {
  auto keys = KeySet::parse(R"({"keys":[
      {"kty":"RSA","kid":"even","n":"wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","e":"AQAB"},
      {"kty":"RSA","kid":"even-e","n":"wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQ","e":"AQAA"},
      {"kty":"RSA","kid":"e-is-one","n":"wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQ","e":"AQ"}]})");
  ASSERT_TRUE(keys) << keys.error().message();
  auto info = keys->keys();
  ASSERT_EQ(info.size(), 3u);
  EXPECT_NE(info[0].problem.find("n is even"), std::string::npos) << info[0].problem;
  EXPECT_NE(info[1].problem.find("odd number above 1"), std::string::npos) << info[1].problem;
  EXPECT_NE(info[2].problem.find("odd number above 1"), std::string::npos) << info[2].problem;
  // The real key set's keys, and a generated one, import and verify as before.
  auto real = KeySet::parse(ita_file("ita_jwks_prod_2023.json")).value();
  for (auto const& k : real.keys()) EXPECT_EQ(k.problem, "") << k.kid;
}

TEST(JwtKeySet, RefusesDocumentsThatAreNotKeySets) {
  for (auto text : {"", "[]", "{}", R"({"keys":{}})", R"({"keys":[1]})", R"({"keys":[{"kid":"x"}]})",
                    R"({"keys":[],"keys":[]})"}) {
    auto r = KeySet::parse(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error(), errc::malformed_jwks) << text;
    EXPECT_EQ(r.error(), ee::condition::invalid_input);
  }
}

TEST(JwtVerify, PeekHeaderReadsKidWithoutVerifying) {
  auto h = ee::jwt::peek_header(ita_file("ita_tdx_token_pilot_20240201.jwt"));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->alg, "PS384");
  EXPECT_EQ(h->kid.substr(0, 8), "fe2cce24");
  EXPECT_EQ(ee::jwt::peek_header("a.b").error(), errc::malformed_token);
}

TEST(JwtAlgorithm, NamesRoundTrip) {
  for (auto alg : {Algorithm::rs256, Algorithm::rs384, Algorithm::rs512, Algorithm::ps256, Algorithm::ps384,
                   Algorithm::ps512, Algorithm::es256, Algorithm::es384})
    EXPECT_EQ(ee::jwt::parse_algorithm(ee::jwt::to_string(alg)), alg);
  EXPECT_FALSE(ee::jwt::parse_algorithm("none"));
  EXPECT_FALSE(ee::jwt::parse_algorithm("HS256"));
  EXPECT_FALSE(ee::jwt::parse_algorithm("rs256"));
}

// --- the claims parser's strictness and the PSS parameters ---------------------------------------

TEST(JwtCorpus, RepeatedMemberNamesAreRefusedAtEveryDepth) {
  auto& c = corpus();
  auto const claims = [](std::string const& extra) { return Corpus::claims("," + extra); };
  for (auto const* extra : {
           R"("a":{"b":1,"b":2})",                      // inside a nested object
           R"("a":{"x":1},"a":2)",                      // after a nested object closed
           R"("a":[{"b":1},{"c":{"d":1,"d":1}}])",      // in an object inside an array
           R"("dup":1,"d\u0075p":2)",                   // the same name, one spelling escaped
           R"("exp":1)",                                // a registered claim given twice
       }) {
    auto r = check(c.rsa.mint("RS256", claims(extra)));
    ASSERT_FALSE(r) << extra;
    EXPECT_EQ(r.error(), errc::duplicate_key) << extra;
  }
  // One name in two objects, or the names of a closed object reused, is no repeat.
  auto ok = check(c.rsa.mint("RS256", claims(R"("a":{"x":1,"y":{"x":2}},"x":{"a":3},"y":[{"x":1},{"x":2}])")));
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->integer_claim("exp"), kNow + 300);
  // Many members, the repeat at the far end; and many distinct ones.
  std::string many, distinct;
  for (int i = 0; i < 500; ++i) {
    many += "\"m" + std::to_string(i) + "\":" + std::to_string(i) + ",";
    distinct += "\"m" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  }
  many += R"("m250":0)";
  distinct += R"("last":0)";
  EXPECT_EQ(check(c.rsa.mint("RS256", claims(many))).error(), errc::duplicate_key);
  auto r = check(c.rsa.mint("RS256", claims(distinct)));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->integer_claim("m499"), 499);
  // The header too, with an escaped spelling.
  EXPECT_EQ(check(c.rsa.sign_raw("RS256", R"({"alg":"RS256","kid":"rsa-1","\u006bid":"rsa-2"})", Corpus::claims()))
                .error(),
            errc::duplicate_key);
}

TEST(JwtCorpus, ClaimsThatAreNotOneStrictJsonObjectAreRefused) {
  auto& c = corpus();
  std::string deep = Corpus::claims(R"(,"deep":)");
  deep.pop_back();  // the closing brace
  deep += std::string(20, '[') + std::string(20, ']') + "}";
  for (auto const& payload : {
           Corpus::claims(R"(,"big":1e400)"),  // not a finite number
           Corpus::claims() + " {}",           // a second document
           Corpus::claims(R"(,"a":1,)"),        // trailing comma
           deep,                               // nesting beyond 16 levels
           std::string(R"({"iss":"https://issuer.test","s":")") + "\xff" + "\"}",  // not UTF-8
       }) {
    auto r = check(c.rsa.mint("RS256", payload));
    ASSERT_FALSE(r) << payload;
    EXPECT_EQ(r.error(), errc::malformed_claims) << payload;
  }
  std::string header = Corpus::header("RS256", "rsa-1");
  header.pop_back();
  header += R"(,"x":)" + std::string(20, '[') + std::string(20, ']') + "}";
  EXPECT_EQ(check(c.rsa.sign_raw("RS256", header, Corpus::claims())).error(), errc::malformed_header);
}

TEST(JwtCorpus, ClaimsOutliveTheTokenInCopies) {
  auto& c = corpus();
  boost::json::value copy;
  std::string json;
  {
    auto token = check(c.rsa.mint("RS256", Corpus::claims(R"(,"long":"a string longer than the small buffer")")));
    ASSERT_TRUE(token) << token.error().message();
    copy = token->impl()->claims;  // into the default storage
    auto const shared = *token;    // copies of a Token share its claims
    json = shared.claims_json();
    EXPECT_EQ(shared.string_claim("long"), "a string longer than the small buffer");
  }
  EXPECT_EQ(copy.at("long").as_string(), "a string longer than the small buffer");
  EXPECT_EQ(boost::json::parse(json), copy);
}

// The payload decoded, one byte changed and encoded again (a valid token in every other way): the
// signature covers the bytes as they appear in the token.
TEST(JwtCorpus, APayloadChangedByOneByteAfterSigningIsRefused) {
  auto const key = SigningKey::rsa(3072, "ps384-1");
  auto const keys = KeySet::parse(ee::test::jwks_json({key.jwk_json("PS384")})).value();
  auto options = Corpus::options();
  options.algorithms = {Algorithm::ps384};
  auto const token = key.mint("PS384", Corpus::claims());
  ASSERT_TRUE(ee::jwt::verify(token, keys, options, at(kNow)));
  auto const dot1 = token.find('.');
  auto const dot2 = token.rfind('.');
  auto payload = Corpus::claims();
  auto const pos = payload.find("subject");
  payload[pos] = 'S';
  auto const changed = token.substr(0, dot1 + 1) + ee::test::b64url(payload) + token.substr(dot2);
  auto r = ee::jwt::verify(changed, keys, options, at(kNow));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::bad_signature);
}

// RFC 7518 section 3.5: PS* uses a salt as long as the hash. A PSS signature with another salt
// length, or with MGF1 over another hash, is valid PSS but not PS384, and is refused.
TEST(JwtCorpus, PssSignaturesWithOtherParametersAreRefused) {
  auto const key = SigningKey::rsa(3072, "ps384-1");
  auto const keys = KeySet::parse(ee::test::jwks_json({key.jwk_json("PS384")})).value();
  auto options = Corpus::options();
  options.algorithms = {Algorithm::ps384};
  auto const pem = key.private_key_pem();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(pkey, nullptr);
  auto const header = ee::test::b64url(Corpus::header("PS384", "ps384-1"));
  auto const signing_input = header + "." + ee::test::b64url(Corpus::claims());
  auto const sign = [&](int salt, EVP_MD const* mgf1) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    EXPECT_EQ(EVP_DigestSignInit(ctx, &pctx, EVP_sha384(), nullptr, pkey), 1);
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mgf1);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt);
    std::string sig(512, '\0');
    std::size_t len = sig.size();
    EXPECT_EQ(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                             reinterpret_cast<unsigned char const*>(signing_input.data()), signing_input.size()),
              1);
    EVP_MD_CTX_free(ctx);
    sig.resize(len);
    return signing_input + "." + ee::test::b64url(sig);
  };
  auto good = ee::jwt::verify(sign(48, EVP_sha384()), keys, options, at(kNow));
  EXPECT_TRUE(good) << good.error().message();
  for (int salt : {0, 32, 64, RSA_PSS_SALTLEN_MAX}) {
    auto r = ee::jwt::verify(sign(salt, EVP_sha384()), keys, options, at(kNow));
    ASSERT_FALSE(r) << "salt " << salt;
    EXPECT_EQ(r.error(), errc::bad_signature) << "salt " << salt;
  }
  auto other_mgf = ee::jwt::verify(sign(48, EVP_sha256()), keys, options, at(kNow));
  ASSERT_FALSE(other_mgf);
  EXPECT_EQ(other_mgf.error(), errc::bad_signature);
  EVP_PKEY_free(pkey);
}

// The token's JSON reader (src/jwt/token.cpp) accepts exactly what core::json::parse accepts as an
// object, and refuses repeats where it does; peek_header shows its verdict on any text.
TEST(JwtVerify, HeaderJsonIsReadByTheCoreRules) {
  std::vector<std::string> const texts{
           R"({})", R"({"a":1})", R"([])", R"("s")", R"(1)", R"(null)", R"({"a":1,})", R"({"a":1} {})",
           R"({"a":1}x)", R"({'a':1})", R"({"a":01})", R"({"a":1e400})", R"({"a":-1e400})", R"({"a":1.5e300})",
           R"({"a":"\ud800"})", R"({"a":"\udc00\ud800"})", R"({"a":"\u0000"})", "{\"a\":\"\xc3\x28\"}",
           "{\"a\":\"\xed\xa0\x80\"}", "{\"\xe2\x82\xac\":1}", R"({"a":/*c*/1})", R"({"a":1,"a":1})",
           R"({"a":{"a":1},"b":{"a":1}})", R"({"a":{"b":1,"b":1}})", R"({"\u0061":1,"a":2})",
           R"({"a\u0000":1,"a":2})", R"({"a":[1,2,{"x":[{"y":1,"y":2}]}]})", R"({"":1,"":2})",
           R"({"a":18446744073709551616})", R"({"a":-9223372036854775809})", "{\"a\":1}\n", " {\"a\":1}",
           R"({"a":true,"b":false,"c":null,"d":[],"e":{}})",
           std::string(17, '[') + std::string(17, ']'),
           "{\"x\":" + std::string(15, '[') + std::string(15, ']') + "}",
           "{\"x\":" + std::string(16, '[') + std::string(16, ']') + "}",
  };
  for (auto const& text : texts) {
    auto const core = ee::detail::json::parse(text, {.max_bytes = 1024 * 1024, .max_depth = 16});
    auto const peeked = ee::jwt::peek_header(ee::test::b64url(text) + ".e30.sig");
    bool const core_object = core && core->is_object();
    EXPECT_EQ(peeked.has_value(), core_object) << text;
    if (!core && core.error() == ee::errc::duplicate_json_key) {
      ASSERT_FALSE(peeked) << text;
      EXPECT_EQ(peeked.error(), errc::duplicate_key) << text;
    } else if (!core_object) {
      ASSERT_FALSE(peeked) << text;
      EXPECT_EQ(peeked.error(), errc::malformed_header) << text;
    }
  }
}

}  // namespace
