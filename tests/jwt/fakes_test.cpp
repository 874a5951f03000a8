// The fakes over real loopback HTTP: a token minted by the fake GitHub issuer verifies through
// verify_github_oidc with the JWKS it serves; a simulator quote appraised by the fake ITA (v1 and
// v2 flows, through ItaClient) yields a token that verify_ita_token accepts with the fake's JWKS
// and whose claims carry the quote's MRTD and report data.
#include <easyenclave/block_on.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/jwt/github_oidc.hpp>
#include <easyenclave/jwt/ita.hpp>
#include <easyenclave/jwt/jwks_cache.hpp>
#include <easyenclave/tdx/simulator.hpp>

#include "detail/encoding.hpp"
#include "fakes/fake_github.hpp"
#include "fakes/fake_ita.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace {

using ee::jwt::errc;
namespace bhttp = boost::beast::http;

std::shared_ptr<ee::http::Client> http_client() { return ee::http::make_https_client({}).value(); }

ee::result<ee::http::Response> get(std::string const& url) {
  ee::http::Request req{bhttp::verb::get, url, 11};
  return ee::block_on(http_client()->send(std::move(req)));
}

ee::jwt::KeySet fetch_keys(std::string const& url) {
  ee::jwt::JwksCache cache(http_client(), {.url = url}, [] { return std::chrono::system_clock::now(); });
  return ee::block_on(cache.get()).value();
}

TEST(FakeGithub, MintedTokenVerifiesWithTheServedKeySet) {
  auto issuer = ee::test::FakeGithubIssuer::start().value();
  auto discovery = get(issuer->url() + "/.well-known/openid-configuration");
  ASSERT_TRUE(discovery) << discovery.error().message();
  auto doc = boost::json::parse(discovery->body());
  EXPECT_EQ(doc.at("issuer").as_string(), ee::jwt::kGithubIssuer);
  EXPECT_EQ(doc.at("jwks_uri").as_string(), issuer->jwks_url());

  auto const keys = fetch_keys(issuer->jwks_url());
  ee::test::GithubTokenRequest request;
  request.audience = "ee-deploy";
  request.repository = "acme/shop";
  request.environment = "prod";
  auto claims = ee::jwt::verify_github_oidc(issuer->mint(request), keys, {.audience = "ee-deploy"},
                                            std::chrono::system_clock::now());
  ASSERT_TRUE(claims) << claims.error().message();
  EXPECT_EQ(claims->repository, "acme/shop");
  EXPECT_EQ(claims->repository_owner, "acme");
  EXPECT_EQ(claims->environment, "prod");
  EXPECT_EQ(claims->job_workflow_ref, "acme/shop/.github/workflows/deploy.yml@refs/heads/main");

  // The token endpoint, as a workflow calls it.
  auto response = get(issuer->url() + "/token?audience=ee-deploy&repository=acme/api");
  ASSERT_TRUE(response) << response.error().message();
  auto token = std::string(boost::json::parse(response->body()).at("value").as_string());
  auto via_http = ee::jwt::verify_github_oidc(token, keys, {.audience = "ee-deploy"}, std::chrono::system_clock::now());
  ASSERT_TRUE(via_http) << via_http.error().message();
  EXPECT_EQ(via_http->repository, "acme/api");
  EXPECT_EQ(ee::jwt::verify_github_oidc(token, keys, {.audience = "other"}, std::chrono::system_clock::now()).error(),
            errc::audience_mismatch);
}

struct ItaSetup {
  std::shared_ptr<ee::tdx::Simulator> simulator;
  std::unique_ptr<ee::test::FakeIta> ita;
  ee::tdx::Measurement mrtd{};

  ItaSetup() {
    ee::tdx::SimulatorOptions options;
    for (std::size_t i = 0; i < mrtd.size(); ++i) mrtd[i] = static_cast<std::uint8_t>(0xa0 + i);
    options.mr_td = mrtd;
    simulator = ee::tdx::Simulator::create(options).value();
    ee::test::FakeItaOptions ita_options;
    ita_options.root = simulator->root();
    ita_options.collateral = std::make_shared<ee::tdx::Collateral const>(simulator->collateral());
    ita_options.api_key = "fake-key";
    ita = ee::test::FakeIta::start(ita_options).value();
  }
};

ItaSetup& setup() {
  static ItaSetup s;
  return s;
}

TEST(FakeIta, V1AppraisalOfASimulatorQuoteVerifies) {
  auto& s = setup();
  ee::tdx::ReportData report_data{};
  for (std::size_t i = 0; i < report_data.size(); ++i) report_data[i] = static_cast<std::uint8_t>(i * 3);
  auto quote = s.simulator->quote(report_data).value();
  ee::jwt::ItaClient client(http_client(), {.base_url = s.ita->url() + "/appraisal/v1/attest", .api_key = "fake-key"});
  auto token = ee::block_on(client.attest(quote));
  ASSERT_TRUE(token) << token.error().message();
  auto const keys = fetch_keys(s.ita->jwks_url());
  auto r = ee::jwt::verify_ita_token(*token, keys, {}, std::chrono::system_clock::now());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->appraisal.mr_td, s.mrtd);
  EXPECT_EQ(r->appraisal.report_data, report_data);
  EXPECT_EQ(r->appraisal.tcb_status, ee::tdx::TcbStatus::up_to_date);
  EXPECT_EQ(r->appraisal.appraised_by, ee::tdx::Appraiser::intel_trust_authority);
  EXPECT_EQ(r->token.algorithm(), ee::jwt::Algorithm::ps384);
  // The same Appraisal the local DCAP path produces, apart from who and when.
  auto verdict = ee::tdx::verify(ee::tdx::parse_quote(quote).value(), &s.simulator->collateral(),
                                 {.root = s.simulator->root(), .now = std::chrono::system_clock::now()})
                     .value();
  auto local = ee::tdx::appraisal_from_verdict(verdict);
  EXPECT_EQ(local.mr_td, r->appraisal.mr_td);
  EXPECT_EQ(local.rtmr, r->appraisal.rtmr);
  EXPECT_EQ(local.report_data, r->appraisal.report_data);
  EXPECT_EQ(local.td_attributes, r->appraisal.td_attributes);
  EXPECT_EQ(local.tcb_status, r->appraisal.tcb_status);
  EXPECT_EQ(local.tee_tcb_svn, r->appraisal.tee_tcb_svn);
}

TEST(FakeIta, V2NonceFlowBindsTheRuntimeData) {
  auto& s = setup();
  ee::jwt::ItaClient client(http_client(), {.base_url = s.ita->url() + "/appraisal/v2", .api_key = "fake-key"});
  auto nonce = ee::block_on(client.nonce());
  ASSERT_TRUE(nonce) << nonce.error().message();
  std::vector<std::uint8_t> runtime_data{'p', 'u', 'b', 'k', 'e', 'y'};
  auto const report_data = ee::jwt::ita_report_data(ee::detail::base64_decode(nonce->val).value(),
                                                     ee::detail::base64_decode(nonce->iat).value(), runtime_data);
  auto quote = s.simulator->quote(report_data).value();
  auto token = ee::block_on(client.attest(quote, *nonce, runtime_data));
  ASSERT_TRUE(token) << token.error().message();
  ee::jwt::ItaVerifyOptions options;
  options.require_nonce_binding = true;
  auto r = ee::jwt::verify_ita_token(*token, fetch_keys(s.ita->jwks_url()), options, std::chrono::system_clock::now());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->appraisal.mr_td, s.mrtd);
  EXPECT_EQ(r->user_data, runtime_data);
  EXPECT_TRUE(r->token.has_claim("tdx"));  // v2 shape: TDX claims nested
  // A quote that does not bind the nonce is refused by the appraiser.
  auto unbound = s.simulator->quote(ee::tdx::ReportData{}).value();
  EXPECT_EQ(ee::block_on(client.attest(unbound, *nonce, runtime_data)).error(), errc::ita_rejected_request);
}

TEST(FakeIta, RefusesWrongKeysAndForeignQuotes) {
  auto& s = setup();
  ee::jwt::ItaClient wrong_key(http_client(), {.base_url = s.ita->url(), .api_key = "nope"});
  auto quote = s.simulator->quote(ee::tdx::ReportData{}).value();
  auto r = ee::block_on(wrong_key.attest(quote));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::ita_failed);
  EXPECT_NE(r.error().message().find("401"), std::string::npos);
  // A quote from another simulator (another root) does not verify at this stand-in.
  auto other = ee::tdx::Simulator::create().value();
  ee::jwt::ItaClient client(http_client(), {.base_url = s.ita->url(), .api_key = "fake-key"});
  auto foreign = ee::block_on(client.attest(other->quote(ee::tdx::ReportData{}).value()));
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error(), errc::ita_rejected_request);
}

}  // namespace
