// GitHub Actions OIDC: typed claims, RS256 only, audience required.
#include <easyenclave/jwt/github_oidc.hpp>

#include "detail/time.hpp"
#include "fakes/jws_signer.hpp"

#include <gtest/gtest.h>

namespace {

using ee::jwt::errc;
constexpr std::int64_t kNow = 1'750'000'000;

struct Github {
  ee::test::SigningKey key = ee::test::SigningKey::rsa(2048, "gh-1");
  ee::jwt::KeySet keys = ee::jwt::KeySet::parse(ee::test::jwks_json({key.jwk_json("RS256")})).value();
  static std::string claims(std::string const& extra = "", std::string const& aud = "easyenclave") {
    return R"({"iss":"https://token.actions.githubusercontent.com","aud":")" + aud +
           R"(","sub":"repo:octo-org/octo-repo:environment:prod","repository":"octo-org/octo-repo",)"
           R"("repository_id":"123","repository_owner":"octo-org","repository_owner_id":"456",)"
           R"("ref":"refs/heads/main","sha":"abc123","workflow":"deploy",)"
           R"("job_workflow_ref":"octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main",)"
           R"("run_id":"42","actor":"octocat","iat":)" +
           std::to_string(kNow) + R"(,"exp":)" + std::to_string(kNow + 300) + extra + "}";
  }
};

Github& github() {
  static Github g;
  return g;
}

ee::result<ee::jwt::GithubClaims> check(std::string const& token, std::string audience = "easyenclave") {
  return ee::jwt::verify_github_oidc(token, github().keys, {.audience = std::move(audience)},
                                     ee::detail::from_unix_seconds(kNow));
}

TEST(GithubOidc, ReturnsTypedClaims) {
  auto r = check(github().key.mint("RS256", Github::claims(R"(,"environment":"prod")")));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->repository, "octo-org/octo-repo");
  EXPECT_EQ(r->repository_id, "123");
  EXPECT_EQ(r->repository_owner, "octo-org");
  EXPECT_EQ(r->repository_owner_id, "456");
  EXPECT_EQ(r->sub, "repo:octo-org/octo-repo:environment:prod");
  EXPECT_EQ(r->ref, "refs/heads/main");
  EXPECT_EQ(r->sha, "abc123");
  EXPECT_EQ(r->workflow, "deploy");
  EXPECT_EQ(r->job_workflow_ref, "octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main");
  EXPECT_EQ(r->environment, "prod");
  EXPECT_EQ(r->run_id, "42");
  EXPECT_EQ(r->actor, "octocat");
  EXPECT_EQ(ee::detail::to_unix_seconds(r->expires_at), kNow + 300);
  auto no_env = check(github().key.mint("RS256", Github::claims()));
  ASSERT_TRUE(no_env);
  EXPECT_FALSE(no_env->environment);
}

TEST(GithubOidc, AudienceMustBeConfiguredAndMatch) {
  auto const token = github().key.mint("RS256", Github::claims());
  EXPECT_EQ(check(token, "").error(), errc::invalid_options);
  EXPECT_EQ(check(token, "someone-else").error(), errc::audience_mismatch);
  EXPECT_EQ(check(github().key.mint("RS256", Github::claims("", "sigstore"))).error(), errc::audience_mismatch);
}

TEST(GithubOidc, Rs256OnlyAndGithubIssuerOnly) {
  EXPECT_EQ(check(github().key.mint("PS256", Github::claims())).error(), errc::algorithm_not_allowed);
  auto other_issuer = Github::claims();
  other_issuer.replace(other_issuer.find("https://token.actions"), 21, "https://evil.actions");
  EXPECT_EQ(check(github().key.mint("RS256", other_issuer)).error(), errc::issuer_not_allowed);
}

TEST(GithubOidc, TypedClaimsAreRequired) {
  auto missing = Github::claims();
  missing.replace(missing.find(R"("actor":"octocat",)"), 18, "");
  auto r = check(github().key.mint("RS256", missing));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::missing_claim);
  EXPECT_NE(r.error().message().find("actor"), std::string::npos);
  auto numeric = Github::claims();
  numeric.replace(numeric.find(R"("run_id":"42")"), 13, R"("run_id":42)");
  EXPECT_EQ(check(github().key.mint("RS256", numeric)).error(), errc::invalid_claim);
  auto foreign = Github::claims();
  foreign.replace(foreign.find(R"("repository_owner":"octo-org")"), 29, R"("repository_owner":"evil-org")");
  EXPECT_EQ(check(github().key.mint("RS256", foreign)).error(), errc::invalid_claim);
}

}  // namespace
