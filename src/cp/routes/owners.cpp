// Owners' bootstrap tokens (GitHub Actions OIDC of a workflow of the owner):
//
//   POST   /owners/bootstrap-tokens       {uses?, expires_in_seconds?, vm_name?, datacenter?, node_size?}
//                                         -> 201 {id, token, owner, owner_id, uses, uses_left, expires_at, ...}
//   GET    /owners/bootstrap-tokens       -> [token without its secret, ...] of the caller's owner
//   DELETE /owners/bootstrap-tokens/{id}  (the owner, or the admin) -> {"removed": true}
//
// The secret is answered once and never stored: only its SHA-256 is (bootstrap_tokens.cpp).
#include "cp/routes/routes.hpp"

#include <easyenclave/cp/error.hpp>

#include "detail/json.hpp"
#include "detail/log.hpp"
#include "detail/time.hpp"

#include <boost/beast/http/verb.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

namespace ee::cp {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;
using Reply = asio::awaitable<result<http::Response>>;

constexpr std::size_t kMaxTokensPerOwner = 1000;

bj::object token_view(registry::BootstrapToken const& t) {
  bj::object o;
  o["id"] = t.id;
  o["owner"] = t.owner;
  o["owner_id"] = t.owner_id;
  o["created_by"] = t.created_by;
  o["uses"] = t.uses;
  o["uses_left"] = t.uses_left;
  o["created_at"] = detail::format_rfc3339(t.created_at);
  o["expires_at"] = detail::format_rfc3339(t.expires_at);
  for (auto [key, value] : {std::pair{"vm_name", &t.vm_name}, {"datacenter", &t.datacenter}, {"node_size", &t.node_size}}) {
    if (!value->empty()) o[key] = *value;
  }
  return o;
}

Reply mint(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto const* claims = &caller.claims();
  auto request = parse_bootstrap_token_request(ctx.request.body());
  if (!request) co_return request.error();
  // Anyone can make a GitHub owner and mint with its workflows: the rows one owner can make are
  // bounded, so minting cannot fill the CP's disk.
  auto live = co_await s.store(
      [&s, &id = claims->repository_owner_id] { return s.stores.bootstrap_tokens->list_by_owner_id(id); });
  if (!live) co_return live.error();
  if (live->size() >= kMaxTokensPerOwner) {
    co_return Error(errc::bootstrap_token_limit, "owner id " + claims->repository_owner_id + " holds " +
                                                     std::to_string(live->size()) +
                                                     " bootstrap tokens; revoke some or let them expire");
  }
  auto minted = mint_bootstrap_token(*claims, *request, s.now());
  if (!minted) co_return minted.error();
  auto stored = co_await s.store([&s, &t = minted->first] { return s.stores.bootstrap_tokens->insert(t); });
  if (!stored) co_return stored.error();
  detail::log::info("cp", "bootstrap token minted id=", stored->id, " owner=", stored->owner, " owner_id=", stored->owner_id,
                    " by=", stored->created_by, " uses=", stored->uses);
  auto body = token_view(*stored);
  body["token"] = minted->second;
  co_return http::json_response(bhttp::status::created, detail::json::serialize(body));
}

Reply list_tokens(http::RequestContext&, Services& s, Caller const& caller) {
  auto const* claims = &caller.claims();
  auto tokens = co_await s.store(
      [&s, &id = claims->repository_owner_id] { return s.stores.bootstrap_tokens->list_by_owner_id(id); });
  if (!tokens) co_return tokens.error();
  bj::array out;
  for (auto const& t : *tokens) out.push_back(token_view(t));
  co_return http::json_response(bhttp::status::ok, detail::json::serialize(out));
}

// The rule (owner_of_token_or_admin) found the token among the caller's owner's, or the caller is
// the operator.
Reply revoke(http::RequestContext&, Services& s, Caller const& caller) {
  auto const& id = caller.token.value().id;
  auto removed = co_await s.store([&s, &id] { return s.stores.bootstrap_tokens->remove(id); });
  if (!removed) co_return removed.error();
  detail::log::info("cp", "bootstrap token revoked id=", id, " by=", caller.name());
  co_return http::json_response(bhttp::status::ok, R"({"removed":true})");
}

}  // namespace

void add_owner_routes(Routes& routes) {
  routes.add(bhttp::verb::post, "/owners/bootstrap-tokens", Access::github_workflow, mint);
  routes.add(bhttp::verb::get, "/owners/bootstrap-tokens", Access::github_workflow, list_tokens);
  routes.add(bhttp::verb::delete_, "/owners/bootstrap-tokens/{id}", Access::owner_of_token_or_admin, revoke);
}

}  // namespace ee::cp
