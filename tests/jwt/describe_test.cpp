// check_token: the report `ee token verify` prints.
#include <easyenclave/jwt/describe.hpp>

#include "detail/time.hpp"
#include "support/temp_dir.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace {

std::string ita_file(std::string const& name) {
  return ee::test::read_file(ee::test::testdata("attestation/ita/" + name));
}

TEST(JwtCheckToken, ItaReportCarriesAppraisalAndClaims) {
  auto keys = ee::jwt::KeySet::parse(ita_file("ita_jwks_prod_2023.json")).value();
  ee::jwt::CheckOptions options{.kind = ee::jwt::TokenKind::ita, .now = ee::detail::from_unix_seconds(1701735000)};
  auto report = ee::jwt::check_token(ita_file("ita_tdx_token_prod_20231205.jwt"), keys, options);
  ASSERT_TRUE(report.accepted) << report.text;
  auto json = boost::json::parse(report.json);
  EXPECT_EQ(json.at("kind").as_string(), "ita");
  EXPECT_EQ(json.at("header").at("alg").as_string(), "PS384");
  EXPECT_EQ(json.at("claims").at("attester_tcb_status").as_string(), "OutOfDate");
  EXPECT_EQ(json.at("appraisal").at("tcb_status").as_string(), "OutOfDate");
  EXPECT_EQ(json.at("appraisal").at("appraised_by").as_string(), "intel_trust_authority");
  EXPECT_EQ(json.at("appraisal").at("tcb_date").as_string(), "2023-02-15T00:00:00Z");
  EXPECT_TRUE(json.at("appraisal").at("nonce_binding_holds").as_bool());
  EXPECT_EQ(report.text.rfind("ACCEPTED  kind=ita alg=PS384 kid=79d80711", 0), 0u) << report.text;
  EXPECT_NE(report.text.find("  mr_td: 5f53c388"), std::string::npos) << report.text;
  EXPECT_NE(report.text.find("  iss: Intel Trust Authority"), std::string::npos) << report.text;
}

TEST(JwtCheckToken, RejectionNamesTheCode) {
  auto keys = ee::jwt::KeySet::parse(ita_file("ita_jwks_prod_2023.json")).value();
  ee::jwt::CheckOptions options{.kind = ee::jwt::TokenKind::ita, .now = ee::detail::from_unix_seconds(1801735000)};
  auto report = ee::jwt::check_token(ita_file("ita_tdx_token_prod_20231205.jwt"), keys, options);
  EXPECT_FALSE(report.accepted);
  EXPECT_EQ(report.error, ee::jwt::errc::token_expired);
  auto json = boost::json::parse(report.json);
  EXPECT_EQ(json.at("error").at("code").as_string(), "jwt.token_expired");
  EXPECT_FALSE(json.as_object().contains("claims"));
  EXPECT_EQ(report.text.rfind("REJECTED  jwt.token_expired", 0), 0u) << report.text;
  options.kind = ee::jwt::TokenKind::generic;  // no issuers given
  EXPECT_EQ(ee::jwt::check_token(ita_file("ita_tdx_token_prod_20231205.jwt"), keys, options).error,
            ee::jwt::errc::invalid_options);
  options.kind = ee::jwt::TokenKind::github;  // no audience given
  EXPECT_EQ(ee::jwt::check_token(ita_file("ita_tdx_token_prod_20231205.jwt"), keys, options).error,
            ee::jwt::errc::invalid_options);
}

TEST(JwtCheckToken, KindNames) {
  EXPECT_EQ(ee::jwt::parse_token_kind("ita"), ee::jwt::TokenKind::ita);
  EXPECT_EQ(ee::jwt::parse_token_kind("github"), ee::jwt::TokenKind::github);
  EXPECT_EQ(ee::jwt::parse_token_kind("generic"), ee::jwt::TokenKind::generic);
  EXPECT_FALSE(ee::jwt::parse_token_kind("oidc"));
}

}  // namespace
