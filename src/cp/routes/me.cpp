// The owner's self-service: what a GitHub identity (a workflow's repository owner, or a person
// signed in with GitHub: their account and organisations) owns.
//
//   GET  /me/agents                         -> [agent, ...] owned
//   GET  /me/agents/{id}                    -> agent; another owner's is 404 like an unknown id
//   POST /me/agents/{id}/reset              -> the reset's answer (undeployed, tunnel recreated if missing)
//   POST /me/agents/{id}/console-access     {ttl_seconds?} -> a console token for that agent
//   GET  /me/deployments[?limit=]           -> [deployment, ...] on owned agents, newest first
#include "cp/agents.hpp"
#include "cp/owned.hpp"
#include "cp/routes/routes.hpp"

#include <easyenclave/api/console_token.hpp>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>

namespace ee::cp {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using Reply = asio::awaitable<result<http::Response>>;

constexpr std::size_t kDefaultDeployments = 100;

Reply my_agents(http::RequestContext&, Services& s, Caller const& caller) {
  auto agents = co_await owned_agents(s, caller.owner_accounts());
  if (!agents) co_return agents.error();
  co_return http::json_response(bhttp::status::ok, agents_json(*agents, s.now()));
}

Reply my_agent(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto agent = co_await owned_agent(s, caller.owner_accounts(), std::string(ctx.params.get("id")));
  if (!agent) co_return agent.error();
  co_return http::json_response(bhttp::status::ok, agent_json(*agent, s.now()));
}

Reply reset_mine(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto agent = co_await owned_agent(s, caller.owner_accounts(), std::string(ctx.params.get("id")));
  if (!agent) co_return agent.error();
  auto reset = co_await reset_agent(s, *agent, caller.name());
  if (!reset) co_return reset.error();
  co_return http::json_response(bhttp::status::ok, reset_json(*reset, s.now()));
}

Reply console_access_to_mine(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto in = api::parse_console_access_request(ctx.request.body());
  if (!in) co_return in.error();
  auto agent = co_await owned_agent(s, caller.owner_accounts(), std::string(ctx.params.get("id")));
  if (!agent) co_return agent.error();
  auto access = mint_console_access(s, *agent, *in, caller.name());
  if (!access) co_return access.error();
  auto out = http::json_response(bhttp::status::ok, api::to_json(*access));
  out.set(bhttp::field::cache_control, "no-store");  // the token is a secret
  co_return out;
}

Reply my_deployments(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto page = page_of(ctx);
  if (!page) co_return page.error();
  auto deployments = co_await owned_deployments(s, caller.owner_accounts(), page->limit.value_or(kDefaultDeployments));
  if (!deployments) co_return deployments.error();
  co_return http::json_response(bhttp::status::ok, deployments_json(*deployments));
}

}  // namespace

void add_me_routes(Routes& routes) {
  routes.add(bhttp::verb::get, "/me/agents", Access::github_identity, my_agents);
  routes.add(bhttp::verb::get, "/me/agents/{id}", Access::github_identity, my_agent);
  routes.add(bhttp::verb::post, "/me/agents/{id}/reset", Access::github_identity, reset_mine);
  routes.add(bhttp::verb::post, "/me/agents/{id}/console-access", Access::github_identity, console_access_to_mine);
  routes.add(bhttp::verb::get, "/me/deployments", Access::github_identity, my_deployments);
}

}  // namespace ee::cp
