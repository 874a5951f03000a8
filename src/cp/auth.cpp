// Who is calling: a GitHub Actions workflow (OIDC bearer token) or the operator (admin token).
#include "cp/services.hpp"

#include <easyenclave/api/agents.hpp>
#include <easyenclave/cp/error.hpp>

#include "detail/ascii.hpp"
#include "detail/crypto.hpp"
#include "detail/encoding.hpp"

#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <cctype>

namespace ee::cp {
namespace {

namespace asio = boost::asio;

// The credentials of "Authorization: Bearer <token>" (scheme case-insensitive, RFC 7235 s.2.1).
std::optional<std::string_view> bearer_token(http::RequestContext const& ctx) {
  auto const it = ctx.request.find(boost::beast::http::field::authorization);
  if (it == ctx.request.end()) return std::nullopt;
  std::string_view value = it->value();
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) return std::nullopt;
  }
  value.remove_prefix(kScheme.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (value.empty()) return std::nullopt;
  return value;
}

}  // namespace

asio::awaitable<result<jwt::GithubClaims>> github_caller(Services& s, http::RequestContext const& ctx) {
  auto token = bearer_token(ctx);
  if (!token) co_return Error(errc::missing_credentials, "a GitHub Actions OIDC token is required (Authorization: Bearer)");
  auto header = jwt::peek_header(*token);
  if (!header) co_return header.error();
  auto keys = co_await s.github_keys.get_for(header->kid);
  if (!keys) co_return keys.error();
  jwt::GithubOidcOptions options;
  options.audience = s.options.github_audience;
  options.issuer = s.options.github_issuer;
  co_return jwt::verify_github_oidc(*token, *keys, options, s.now());
}

bool is_admin(Services const& s, http::RequestContext const& ctx) {
  if (s.options.admin_token.empty()) return false;
  auto token = bearer_token(ctx);
  return token && detail::constant_time_equal(detail::as_bytes(*token), detail::as_bytes(s.options.admin_token));
}

result<void> require_admin(Services const& s, http::RequestContext const& ctx) {
  if (s.options.admin_token.empty()) return Error(errc::admin_disabled);
  if (!bearer_token(ctx)) return Error(errc::missing_credentials, "the admin token is required (Authorization: Bearer)");
  if (!is_admin(s, ctx)) return Error(errc::bad_admin_token);
  return {};
}

bool owner_matches(std::string const& owner_label, jwt::GithubClaims const& claims) {
  auto const login = api::owner_login(owner_label);
  return !login.empty() && login == detail::ascii_lowercase(claims.repository_owner);
}

bool owns_agent(registry::AgentRecord const& agent, jwt::GithubClaims const& claims) {
  return owner_matches(agent.owner, claims) && (agent.owner_id.empty() || agent.owner_id == claims.repository_owner_id);
}

}  // namespace ee::cp
