// GitHub Actions OIDC: RS256 tokens from token.actions.githubusercontent.com (RFC 7519 claims
// plus GitHub's custom ones, all strings).
#include <easyenclave/jwt/github_oidc.hpp>

#include "jwt/internal.hpp"

namespace ee::jwt {

result<GithubClaims> verify_github_oidc(std::string_view compact, KeySet const& keys,
                                        GithubOidcOptions const& options, TimePoint now) {
  if (options.audience.empty())
    return Error(errc::invalid_options, "GitHub OIDC verification needs a configured audience");
  VerifyOptions v;
  v.algorithms = {Algorithm::rs256};
  v.issuers = {options.issuer};
  v.audience = options.audience;
  v.leeway = options.leeway;
  v.require_exp = true;
  auto token = verify(compact, keys, v, now);
  if (!token) return token.error();
  auto const& claims = token->impl()->claims.as_object();
  auto read = [&](std::string_view name, std::string& out) -> result<void> {
    auto const* value = claims.if_contains(name);
    if (value == nullptr || value->is_null()) return Error(errc::missing_claim, "claim " + std::string(name) + " is missing");
    if (!value->is_string()) return Error(errc::invalid_claim, "claim " + std::string(name) + " is not a string");
    out = std::string(value->as_string());
    if (out.empty()) return Error(errc::invalid_claim, "claim " + std::string(name) + " is empty");
    return {};
  };
  GithubClaims c;
  for (auto [name, slot] : {std::pair{"repository", &c.repository}, {"repository_id", &c.repository_id},
                            {"repository_owner", &c.repository_owner}, {"repository_owner_id", &c.repository_owner_id},
                            {"sub", &c.sub}, {"ref", &c.ref}, {"sha", &c.sha}, {"workflow", &c.workflow},
                            {"job_workflow_ref", &c.job_workflow_ref}, {"run_id", &c.run_id}, {"actor", &c.actor}}) {
    if (auto ok = read(name, *slot); !ok) return ok.error();
  }
  if (auto const* env = claims.if_contains("environment"); env && !env->is_null()) {
    if (!env->is_string()) return Error(errc::invalid_claim, "claim environment is not a string");
    c.environment = std::string(env->as_string());
  }
  // The repository must belong to its owner: a token is one document, but a consumer matching
  // ownership labels on repository_owner must be able to rely on this.
  if (!c.repository.starts_with(c.repository_owner + "/"))
    return Error(errc::invalid_claim, "claim repository is not under repository_owner");
  c.issued_at = token->issued_at().value_or(TimePoint{});
  c.expires_at = token->expires_at().value_or(TimePoint{});
  c.audience = token->audience();
  return c;
}

}  // namespace ee::jwt
