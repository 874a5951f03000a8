// `ee token verify` run for real (exit codes 0 accepted, 1 rejected, 2 usage, 3 I/O), and the
// fake-service programs ee-fake-github / ee-fake-ita starting and serving their key sets.
#include <easyenclave/block_on.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/jwt/token.hpp>

#include "fakes/fake_github.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <csignal>

namespace {

using ee::test::run;
using namespace std::chrono_literals;

std::string ee_bin() { return ee::test::program("ee").string(); }
std::string ita(std::string const& name) { return ee::test::testdata("attestation/ita/" + name).string(); }

TEST(EeTokenCli, VerifiesTheRealItaToken) {
  auto ok = run({ee_bin(), "token", "verify", ita("ita_tdx_token_prod_20231205.jwt"), "--jwks",
                 ita("ita_jwks_prod_2023.json"), "--kind", "ita", "--at", "1701735000"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("ACCEPTED  kind=ita alg=PS384"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("tcb_status: OutOfDate"), std::string::npos) << ok.out;

  auto json = run({ee_bin(), "token", "verify", "--json", ita("ita_tdx_token_prod_20231205.jwt"), "--jwks",
                   ita("ita_jwks_prod_2023.json"), "--kind", "ita", "--at", "2023-12-05T00:10:00Z"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto v = boost::json::parse(json.out);
  EXPECT_TRUE(v.at("accepted").as_bool());
  EXPECT_EQ(std::string(v.at("appraisal").at("mr_td").as_string()).substr(0, 8), "5f53c388");

  auto generic = run({ee_bin(), "token", "verify", ita("ita_tdx_token_prod_20231205.jwt"), "--jwks",
                      ita("ita_jwks_prod_2023.json"), "--issuer", "Intel Trust Authority", "--at", "1701735000"});
  EXPECT_EQ(generic.exit_code, 0) << generic.out << generic.err;
}

TEST(EeTokenCli, RejectionsExitOne) {
  auto expired = run({ee_bin(), "token", "verify", ita("ita_tdx_token_prod_20231205.jwt"), "--jwks",
                      ita("ita_jwks_prod_2023.json"), "--kind", "ita", "--at", "1701736000"});
  EXPECT_EQ(expired.exit_code, 1) << expired.out << expired.err;
  EXPECT_NE(expired.out.find("jwt.token_expired"), std::string::npos) << expired.out;
  auto pilot = run({ee_bin(), "token", "verify", "--json", ita("ita_tdx_token_pilot_20240201.jwt"), "--jwks",
                    ita("ita_jwks_prod_2023.json"), "--kind", "ita", "--at", "1706769600"});
  EXPECT_EQ(pilot.exit_code, 1);
  EXPECT_EQ(boost::json::parse(pilot.out).at("error").at("code").as_string(), "jwt.unknown_kid");
  auto wrong_issuer = run({ee_bin(), "token", "verify", ita("ita_tdx_token_prod_20231205.jwt"), "--jwks",
                           ita("ita_jwks_prod_2023.json"), "--issuer", "someone", "--at", "1701735000"});
  EXPECT_EQ(wrong_issuer.exit_code, 1);
}

TEST(EeTokenCli, UsageAndIoErrors) {
  auto const token = ita("ita_tdx_token_prod_20231205.jwt");
  auto const jwks = ita("ita_jwks_prod_2023.json");
  EXPECT_EQ(run({ee_bin(), "token", "verify", token}).exit_code, 2);  // no --jwks
  EXPECT_EQ(run({ee_bin(), "token", "verify", token, "--jwks", jwks, "--kind", "saml"}).exit_code, 2);
  EXPECT_EQ(run({ee_bin(), "token", "verify", token, "--jwks", jwks}).exit_code, 2);  // generic, no --issuer
  EXPECT_EQ(run({ee_bin(), "token", "verify", token, "--jwks", jwks, "--kind", "github"}).exit_code, 2);  // no --audience
  EXPECT_EQ(run({ee_bin(), "token", "verify", token, "--jwks", jwks, "--kind", "ita", "--at", "soon"}).exit_code, 2);
  EXPECT_EQ(run({ee_bin(), "token", "verify", token, "--jwks", token, "--kind", "ita"}).exit_code, 2);  // not a JWKS
  EXPECT_EQ(run({ee_bin(), "token", "verify", "/nonexistent/token", "--jwks", jwks, "--kind", "ita"}).exit_code, 3);
  EXPECT_EQ(run({ee_bin(), "token", "verify", token, "--jwks", "/nonexistent/jwks", "--kind", "ita"}).exit_code, 3);
}

TEST(EeTokenCli, VerifiesAFakeGithubToken) {
  auto issuer = ee::test::FakeGithubIssuer::start().value();
  ee::test::TempDir dir;
  auto const token = dir.write("token.jwt", issuer->mint({}) + "\n");
  auto const jwks = dir.write("jwks.json", issuer->jwks_json());
  auto ok = run({ee_bin(), "token", "verify", token.string(), "--jwks", jwks.string(), "--kind", "github",
                 "--audience", "easyenclave"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("repository_owner: octo-org"), std::string::npos) << ok.out;
  EXPECT_EQ(run({ee_bin(), "token", "verify", token.string(), "--jwks", jwks.string(), "--kind", "github",
                 "--audience", "someone-else"})
                .exit_code,
            1);
}

std::string http_get(std::string const& url) {
  auto client = ee::http::make_https_client({}).value();
  ee::http::Request req{boost::beast::http::verb::get, url, 11};
  auto r = ee::block_on(client->send(std::move(req)));
  return r && r->result_int() == 200 ? r->body() : std::string();
}

TEST(FakePrograms, ServeTheirKeySetsAndStopOnSigterm) {
  ee::test::TempDir dir;
  ee::test::Process github({ee::test::program("ee-fake-github").string()});
  ee::test::Process ita_fake({ee::test::program("ee-fake-ita").string(), "--sim-dir", (dir.path() / "sim").string(),
                              "--api-key", "k"});
  auto const github_url = ee::test::listening_url(github);
  auto const ita_url = ee::test::listening_url(ita_fake);
  ASSERT_FALSE(github_url.empty()) << github.err();
  ASSERT_FALSE(ita_url.empty()) << ita_fake.err();
  EXPECT_TRUE(ee::jwt::KeySet::parse(http_get(github_url + "/.well-known/jwks")));
  auto ita_keys = ee::jwt::KeySet::parse(http_get(ita_url + "/certs"));
  ASSERT_TRUE(ita_keys);
  EXPECT_EQ(ita_keys->size(), 2u);
  github.signal(SIGTERM);
  ita_fake.signal(SIGTERM);
  EXPECT_EQ(github.wait(10s), 0);
  EXPECT_EQ(ita_fake.wait(10s), 0);
  EXPECT_EQ(run({ee::test::program("ee-fake-ita").string()}).exit_code, 2);  // needs a trust source
}

}  // namespace
