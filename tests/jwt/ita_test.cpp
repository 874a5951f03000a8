// Intel Trust Authority: the real production token yields exactly the README's appraisal, the
// nonce binding holds; v2 nested claims; ItaClient request shapes against the fake HTTP client.
#include <easyenclave/block_on.hpp>
#include <easyenclave/jwt/ita.hpp>

#include "detail/encoding.hpp"
#include "detail/time.hpp"
#include "fakes/jws_signer.hpp"
#include "support/fake_http_client.hpp"
#include "support/temp_dir.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace {

using ee::jwt::errc;
using ee::jwt::KeySet;
using verb = boost::beast::http::verb;

std::string ita_file(std::string const& name) {
  return ee::test::read_file(ee::test::testdata("attestation/ita/" + name));
}
std::string hex(std::span<std::uint8_t const> bytes) { return ee::detail::hex_encode(bytes); }
ee::jwt::TimePoint at(std::int64_t s) { return ee::detail::from_unix_seconds(s); }

TEST(ItaToken, RealProductionTokenYieldsTheReadmeAppraisal) {
  auto keys = KeySet::parse(ita_file("ita_jwks_prod_2023.json")).value();
  auto r = ee::jwt::verify_ita_token(ita_file("ita_tdx_token_prod_20231205.jwt"), keys, {}, at(1701735000));
  ASSERT_TRUE(r) << r.error().message();
  auto const& a = r->appraisal;
  std::string const zero48(96, '0');
  EXPECT_EQ(a.appraised_by, ee::tdx::Appraiser::intel_trust_authority);
  EXPECT_EQ(a.attester_type, "TDX");
  EXPECT_EQ(hex(a.mr_td),
            "5f53c3881242a5b418854923bb4adec34c72aa4b570d526179d63f9ee6e4cefb6abd4f0f35e5e6e29655a60d90bcf27f");
  for (auto const& rtmr : a.rtmr) EXPECT_EQ(hex(rtmr), zero48);
  EXPECT_EQ(hex(a.report_data),
            "4d297aab10a1b4146ae1c4dab58bf69ddec76a7e17bf4b108d6e7e1c789c643547c6bdcec20f2f7e4c0cdad2cac5d6af"
            "ddbb341cd7c507494b409541f2c9fdca");
  EXPECT_EQ(hex(a.tee_tcb_svn), "03000500000000000000000000000000");
  EXPECT_EQ(hex(a.mr_seam),
            "2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9a89b4869a9fab60fbe9d0c5a5363c656");
  EXPECT_EQ(hex(a.mr_signer_seam), zero48);
  EXPECT_EQ(hex(a.mr_config_id), zero48);
  EXPECT_EQ(hex(a.mr_owner), zero48);
  EXPECT_EQ(hex(a.mr_owner_config), zero48);
  EXPECT_EQ(hex(a.td_attributes), "0000001000000000");
  EXPECT_EQ(hex(a.xfam), "e700000000000000");
  EXPECT_FALSE(a.debug());
  EXPECT_EQ(a.tcb_status, ee::tdx::TcbStatus::out_of_date);
  ASSERT_TRUE(a.tcb_date);
  EXPECT_EQ(ee::detail::format_rfc3339(*a.tcb_date), "2023-02-15T00:00:00Z");
  EXPECT_EQ(a.advisory_ids, std::vector<std::string>{"INTEL-SA-00837"});
  EXPECT_EQ(ee::detail::to_unix_seconds(a.appraised_at), 1701734950);
  EXPECT_EQ(ee::detail::to_unix_seconds(*a.valid_until), 1701735250);
  // verifier_nonce and held data, and the binding: report data = SHA-512(val || iat || held data).
  ASSERT_TRUE(r->verifier_nonce);
  auto const iat = ee::detail::base64_decode(r->verifier_nonce->iat).value();
  EXPECT_EQ(std::string(iat.begin(), iat.end()), "2023-12-05 00:09:10 +0000 UTC");
  EXPECT_EQ(ee::detail::base64_decode(r->verifier_nonce->val).value().size(), 88u);
  EXPECT_EQ(ee::detail::base64_decode(r->verifier_nonce->signature).value().size(), 384u);
  EXPECT_EQ(r->user_data.size(), 422u);  // DER RSA-3072 SubjectPublicKeyInfo
  EXPECT_TRUE(r->nonce_binding_holds());
  auto const val = ee::detail::base64_decode(r->verifier_nonce->val).value();
  EXPECT_EQ(ee::jwt::ita_report_data(val, iat, r->user_data), a.report_data);
  ee::jwt::ItaVerifyOptions strict;
  strict.require_nonce_binding = true;
  EXPECT_TRUE(ee::jwt::verify_ita_token(ita_file("ita_tdx_token_prod_20231205.jwt"), keys, strict, at(1701735000)));
  // Claims that stay in the token.
  EXPECT_EQ(r->token.string_claim("ver"), "1.0.0");
  EXPECT_EQ(r->token.string_claim("dbgstat"), "disabled");
  EXPECT_EQ(r->token.string_claim("eat_profile"), "https://portal.trustauthority.intel.com/eat_profile");
  EXPECT_EQ(r->token.string_claim("intuse"), "generic");
  EXPECT_EQ(r->token.bool_claim("tdx_td_attributes_septve_disable"), true);
}

TEST(ItaToken, RealTokenFailsAfterExpAndPilotHasUnknownKid) {
  auto keys = KeySet::parse(ita_file("ita_jwks_prod_2023.json")).value();
  EXPECT_EQ(ee::jwt::verify_ita_token(ita_file("ita_tdx_token_prod_20231205.jwt"), keys, {}, at(1701735250 + 121))
                .error(),
            errc::token_expired);
  auto pilot = ee::jwt::verify_ita_token(ita_file("ita_tdx_token_pilot_20240201.jwt"), keys, {}, at(1706769600));
  ASSERT_FALSE(pilot);
  EXPECT_EQ(pilot.error(), errc::unknown_kid);
}

struct SyntheticIta {
  ee::test::SigningKey key = ee::test::SigningKey::rsa(3072, "ita-test");
  KeySet keys = KeySet::parse(ee::test::jwks_json({key.jwk_json("PS384")})).value();
  static constexpr std::int64_t kNow = 1'750'000'000;
  std::string mint(std::string const& body) const {
    return key.mint("PS384", R"({"iss":"Intel Trust Authority","iat":)" + std::to_string(kNow) + R"(,"exp":)" +
                                 std::to_string(kNow + 300) + "," + body + "}");
  }
  static std::string tdx_fields(std::string const& status = "UpToDate") {
    std::string const m(96, 'a');
    return R"("tdx_mrtd":")" + m + R"(","tdx_rtmr0":")" + m + R"(","tdx_rtmr1":")" + m + R"(","tdx_rtmr2":")" + m +
           R"(","tdx_rtmr3":")" + m + R"(","tdx_report_data":")" + std::string(128, 'b') +
           R"(","attester_tcb_status":")" + status + R"(")";
  }
};

SyntheticIta& synthetic() {
  static SyntheticIta s;
  return s;
}

TEST(ItaToken, ReadsTdxClaimsNestedUnderTdx) {
  auto& s = synthetic();
  auto token = s.mint(R"("tdx":{)" + SyntheticIta::tdx_fields("SWHardeningNeeded") +
                      R"(,"attester_runtime_data":"AQID"},"policy_ids_matched":[{"id":"p1","version":"v1"}])");
  auto r = ee::jwt::verify_ita_token(token, s.keys, {}, at(SyntheticIta::kNow));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(hex(r->appraisal.mr_td), std::string(96, 'a'));
  EXPECT_EQ(hex(r->appraisal.report_data), std::string(128, 'b'));
  EXPECT_EQ(r->appraisal.tcb_status, ee::tdx::TcbStatus::sw_hardening_needed);
  EXPECT_EQ(r->user_data, (std::vector<std::uint8_t>{1, 2, 3}));
  EXPECT_EQ(r->policy_ids_matched, std::vector<std::string>{"p1"});
  EXPECT_FALSE(r->verifier_nonce);
  EXPECT_FALSE(r->nonce_binding_holds());
  ee::jwt::ItaVerifyOptions strict;
  strict.require_nonce_binding = true;
  EXPECT_EQ(ee::jwt::verify_ita_token(token, s.keys, strict, at(SyntheticIta::kNow)).error(),
            errc::report_data_mismatch);
}

TEST(ItaToken, MissingOrMalformedTdxClaimsNameTheClaim) {
  auto& s = synthetic();
  auto missing = ee::jwt::verify_ita_token(s.mint(R"("tdx_mrtd":")" + std::string(96, 'a') + "\""), s.keys, {},
                                           at(SyntheticIta::kNow));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), errc::missing_claim);
  EXPECT_NE(missing.error().message().find("tdx_rtmr0"), std::string::npos);
  auto short_mrtd = SyntheticIta::tdx_fields();
  short_mrtd.replace(short_mrtd.find(std::string(96, 'a')), 96, std::string(94, 'a'));
  auto bad = ee::jwt::verify_ita_token(s.mint(short_mrtd), s.keys, {}, at(SyntheticIta::kNow));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), errc::invalid_claim);
  EXPECT_NE(bad.error().message().find("tdx_mrtd"), std::string::npos);
  EXPECT_EQ(ee::jwt::verify_ita_token(s.mint(SyntheticIta::tdx_fields("Great")), s.keys, {}, at(SyntheticIta::kNow))
                .error(),
            errc::invalid_claim);
  EXPECT_EQ(ee::jwt::verify_ita_token(s.mint(SyntheticIta::tdx_fields() + R"(,"attester_type":"SGX")"), s.keys, {},
                                      at(SyntheticIta::kNow))
                .error(),
            errc::invalid_claim);
  // The defaults pin PS384/RS256 and Intel's issuers.
  auto es = ee::test::SigningKey::ec("P-256", "ita-test");
  auto es_keys = KeySet::parse(ee::test::jwks_json({es.jwk_json("ES256")})).value();
  EXPECT_EQ(ee::jwt::verify_ita_token(es.mint("ES256", "{}"), es_keys, {}, at(SyntheticIta::kNow)).error(),
            errc::algorithm_not_allowed);
}

TEST(ItaBaseUrl, NormalisesEveryDocumentedForm) {
  for (auto url : {"https://api.trustauthority.intel.com", "https://api.trustauthority.intel.com/",
                   "https://api.trustauthority.intel.com/appraisal/v1", "https://api.trustauthority.intel.com/appraisal/v1/",
                   "https://api.trustauthority.intel.com/appraisal/v1/attest",
                   "https://api.trustauthority.intel.com/appraisal/v2",
                   "https://api.trustauthority.intel.com/appraisal/v2/attest"}) {
    auto r = ee::jwt::normalize_ita_base_url(url);
    ASSERT_TRUE(r) << url;
    EXPECT_EQ(*r, "https://api.trustauthority.intel.com") << url;
  }
  EXPECT_EQ(*ee::jwt::normalize_ita_base_url("http://127.0.0.1:8080/appraisal/v1"), "http://127.0.0.1:8080");
  for (auto url : {"", "api.trustauthority.intel.com", "ftp://x/appraisal/v1", "https://x?q=1"})
    EXPECT_EQ(ee::jwt::normalize_ita_base_url(url).error(), errc::bad_url) << url;
}

TEST(ItaClient, V1AttestSendsTheDocumentedRequest) {
  for (auto base : {"https://ita.test/appraisal/v1", "https://ita.test/appraisal/v1/attest", "https://ita.test/appraisal/v2",
                    "https://ita.test"}) {
    auto http = std::make_shared<ee::test::FakeHttpClient>();
    http->on(verb::post, "/appraisal/v1/attest", 200, R"({"token":"a.b.c"})");
    ee::jwt::ItaClient client(http, {.base_url = base, .api_key = "secret-key"});
    EXPECT_EQ(client.base_url(), "https://ita.test");
    auto token = ee::block_on(client.attest({1, 2, 3, 4}));
    ASSERT_TRUE(token) << token.error().message();
    EXPECT_EQ(*token, "a.b.c");
    auto const req = http->requests().at(0);
    EXPECT_EQ(req.method(), verb::post);
    EXPECT_EQ(req.target(), "https://ita.test/appraisal/v1/attest");
    EXPECT_EQ(req["x-api-key"], "secret-key");
    EXPECT_EQ(req[boost::beast::http::field::accept], "application/json");
    EXPECT_EQ(req[boost::beast::http::field::content_type], "application/json");
    auto body = boost::json::parse(req.body());
    EXPECT_EQ(body, boost::json::parse(R"({"quote":"AQIDBA=="})"));
  }
}

TEST(ItaClient, V2NonceThenAttest) {
  auto http = std::make_shared<ee::test::FakeHttpClient>();
  http->on(verb::get, "/appraisal/v2/nonce", 200, R"({"val":"dmFs","iat":"aWF0","signature":"c2ln"})");
  http->on(verb::post, "/appraisal/v2/attest", 200, R"({"token":"x.y.z"})");
  ee::jwt::ItaClient client(http, {.base_url = "https://ita.test/appraisal/v2/", .api_key = "k"});
  auto nonce = ee::block_on(client.nonce());
  ASSERT_TRUE(nonce) << nonce.error().message();
  EXPECT_EQ(nonce->val, "dmFs");
  auto token = ee::block_on(client.attest({9}, *nonce, {7, 7}));
  ASSERT_TRUE(token) << token.error().message();
  EXPECT_EQ(*token, "x.y.z");
  auto const reqs = http->requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].method(), verb::get);
  EXPECT_EQ(reqs[0].target(), "https://ita.test/appraisal/v2/nonce");
  EXPECT_EQ(reqs[0]["x-api-key"], "k");
  EXPECT_EQ(reqs[1].target(), "https://ita.test/appraisal/v2/attest");
  EXPECT_EQ(boost::json::parse(reqs[1].body()),
            boost::json::parse(
                R"({"tdx":{"quote":"CQ==","verifier_nonce":{"val":"dmFs","iat":"aWF0","signature":"c2ln"},"runtime_data":"Bwc="},"token_signing_alg":"PS384"})"));
}

TEST(ItaClient, MapsStatusesToCodesWithoutEchoingBodies) {
  auto http = std::make_shared<ee::test::FakeHttpClient>();
  http->on(verb::post, "/appraisal/v1/attest", 400, R"({"error":"quote secret-detail"})");
  http->on(verb::post, "/appraisal/v1/attest", 401, "");
  http->on(verb::post, "/appraisal/v1/attest", 503, "");
  http->on(verb::post, "/appraisal/v1/attest", 200, R"({"nottoken":1})");
  ee::jwt::ItaClient client(http, {.base_url = "https://ita.test", .api_key = "k"});
  auto bad_quote = ee::block_on(client.attest({1}));
  EXPECT_EQ(bad_quote.error(), errc::ita_rejected_request);
  EXPECT_EQ(bad_quote.error(), ee::condition::forbidden);
  EXPECT_EQ(bad_quote.error().message().find("secret-detail"), std::string::npos);
  EXPECT_EQ(ee::block_on(client.attest({1})).error(), errc::ita_failed);
  auto down = ee::block_on(client.attest({1}));
  EXPECT_EQ(down.error(), errc::ita_failed);
  EXPECT_EQ(down.error(), ee::condition::upstream_failure);
  EXPECT_EQ(ee::block_on(client.attest({1})).error(), errc::ita_failed);
  ee::jwt::ItaClient misconfigured(http, {.base_url = "not a url"});
  EXPECT_EQ(ee::block_on(misconfigured.attest({1})).error(), errc::bad_url);
}

}  // namespace
