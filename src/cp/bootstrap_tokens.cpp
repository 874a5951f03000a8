// Bootstrap tokens: how an owner proves that an agent registering under its name is its own.
// A workflow of the owner mints one with its GitHub Actions OIDC token; `ee launch
// --bootstrap-token` hands it to the agent on the config drive; the agent presents it at
// registration. Without it, the owner label is only what whoever launched the TD typed, and an
// outsider could make an owner's deploys land on a machine the outsider runs.
#include "cp/services.hpp"

#include <easyenclave/cp/error.hpp>
#include <easyenclave/encoding.hpp>

#include "detail/ascii.hpp"
#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "detail/json.hpp"

#include <algorithm>
#include <cctype>

namespace ee::cp {
namespace {

using detail::json::ObjectReader;

constexpr std::int64_t kMaxUses = 1000;
constexpr std::int64_t kMinExpiry = 60;
constexpr std::int64_t kMaxExpiry = 30LL * 24 * 3600;
constexpr std::string_view kPrefix = "ee_bt_";

}  // namespace

std::string bootstrap_token_hash(std::string_view secret) {
  return hex_encode(detail::sha256(detail::as_bytes(secret)));
}

result<BootstrapTokenRequest> parse_bootstrap_token_request(std::string_view body) {
  BootstrapTokenRequest out;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return out;  // all defaults
  auto doc = detail::json::parse(body);
  if (!doc) return doc.error();
  auto r = ObjectReader::from(*doc);
  if (!r) return r.error();
  auto uses = r->optional_integer("uses", 1, kMaxUses);
  if (!uses) return uses.error();
  out.uses = uses->value_or(out.uses);
  auto expiry = r->optional_integer("expires_in_seconds", kMinExpiry, kMaxExpiry);
  if (!expiry) return expiry.error();
  out.expires_in_seconds = expiry->value_or(out.expires_in_seconds);
  for (auto [key, field] : {std::pair{"vm_name", &out.vm_name}, {"datacenter", &out.datacenter},
                            {"node_size", &out.node_size}}) {
    auto value = r->optional_string(key);
    if (!value) return value.error();
    *field = value->value_or("");
  }
  if (!out.vm_name.empty()) {
    if (auto c = api::check_vm_name(out.vm_name, "body.vm_name"); !c) return c.error();
  }
  if (!out.datacenter.empty()) {
    if (auto c = api::check_datacenter(out.datacenter, "body.datacenter"); !c) return c.error();
  }
  if (!out.node_size.empty()) {
    if (auto c = api::check_node_size(out.node_size, "body.node_size"); !c) return c.error();
  }
  return out;
}

result<std::pair<registry::BootstrapToken, std::string>> mint_bootstrap_token(jwt::GithubClaims const& claims,
                                                                              BootstrapTokenRequest const& request,
                                                                              TimePoint now) {
  if (claims.repository_owner_id.empty()) {
    return Error(errc::missing_credentials, "the OIDC token has no repository_owner_id to bind the token to");
  }
  std::array<std::uint8_t, 32> random{};
  if (auto r = detail::random_bytes(random); !r) return r.error();
  std::string secret = std::string(kPrefix) + detail::base64url_encode(random);
  auto id = detail::uuid_v4();
  if (!id) return id.error();
  registry::BootstrapToken t;
  t.id = std::move(*id);
  t.token_hash = bootstrap_token_hash(secret);
  t.owner = detail::ascii_lowercase(claims.repository_owner);
  t.owner_id = claims.repository_owner_id;
  t.created_by = claims.repository;
  t.vm_name = request.vm_name;
  t.datacenter = request.datacenter;
  t.node_size = request.node_size;
  t.uses = request.uses;
  t.uses_left = request.uses;
  t.created_at = now;
  t.expires_at = now + std::chrono::seconds(request.expires_in_seconds);
  return std::pair{std::move(t), std::move(secret)};
}

boost::asio::awaitable<result<registry::BootstrapToken>> find_bootstrap_token(Services& s, std::string const& secret,
                                                                              api::RegisterRequest const& req) {
  auto const hash = bootstrap_token_hash(secret);
  auto token = co_await s.store([&s, &hash] { return s.stores.bootstrap_tokens->find_by_hash(hash); });
  if (!token) {
    if (token.error() == registry::errc::not_found) {
      co_return Error(errc::bootstrap_token_invalid, "bootstrap_token is not one this control plane issued, or was revoked");
    }
    co_return token.error();
  }
  if (token->expires_at <= s.now()) co_return Error(errc::bootstrap_token_invalid, "bootstrap token " + token->id + " has expired");
  if (token->uses_left <= 0) co_return Error(errc::bootstrap_token_invalid, "bootstrap token " + token->id + " is used up");
  auto const login = api::owner_login(req.owner);
  if (login.empty() || login != token->owner) {
    co_return Error(errc::bootstrap_token_mismatch, "bootstrap token " + token->id + " was minted by owner '" + token->owner +
                                                        "', not by the owner this agent claims ('" + req.owner + "')");
  }
  struct Constraint {
    char const* name;
    std::string const* allowed;
    std::string const* asked;
  };
  for (auto c : {Constraint{"vm_name", &token->vm_name, &req.vm_name},
                 Constraint{"datacenter", &token->datacenter, &req.datacenter},
                 Constraint{"node_size", &token->node_size, &req.node_size}}) {
    if (!c.allowed->empty() && *c.allowed != *c.asked) {
      co_return Error(errc::bootstrap_token_mismatch, "bootstrap token " + token->id + " admits only " + c.name + " '" +
                                                          *c.allowed + "', not '" + *c.asked + "'");
    }
  }
  co_return std::move(*token);
}

}  // namespace ee::cp
