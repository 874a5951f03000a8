// Deploys by GitHub identity: a workflow whose token's repository_owner equals an agent's owner
// label may put a catalog version on that agent, replace an older version it runs, or roll a
// version out over several of its agents (cp/deployments.hpp). The API key of a deployer account
// linked to a GitHub identity deploys as that identity, by the same owner rule.
//
//   POST /deploy  (GitHub OIDC, or a linked deployer's API key) api::DeployRequest -> api::DeployResponse
//   GET  /deployments[?agent_id=&app_name=&status=], GET /deployments/{id}
#include "cp/deployments.hpp"
#include "cp/routes/routes.hpp"

#include <easyenclave/cp/error.hpp>

#include <boost/beast/http/verb.hpp>

namespace ee::cp {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using Reply = asio::awaitable<result<http::Response>>;

Reply deploy(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto const claims = caller.deploying_as();
  auto req = api::parse_deploy_request(ctx.request.body());
  if (!req) co_return req.error();
  auto answer = co_await cp::deploy(s, *req, claims);
  if (!answer) co_return answer.error();
  co_return http::json_response(bhttp::status::ok, api::to_json(*answer));
}

Reply list_deployments(http::RequestContext& ctx, Services& s, Caller const&) {
  auto page = page_of(ctx);
  if (!page) co_return page.error();
  registry::DeploymentFilter filter;
  filter.agent_id = ctx.query("agent_id");
  filter.app_name = ctx.query("app_name");
  filter.limit = page->limit;
  filter.offset = page->offset;
  if (auto status = ctx.query("status")) {
    filter.status = registry::parse_deployment_status(*status);
    if (!filter.status) {
      co_return Error(ee::errc::invalid_value, "status must be queued, pending, deploying, running, failed or stopped");
    }
  }
  auto list = co_await s.store([&s, &filter] { return s.stores.deployments->list(filter); });
  if (!list) co_return list.error();
  co_return http::json_response(bhttp::status::ok, deployments_json(*list));
}

Reply get_deployment(http::RequestContext& ctx, Services& s, Caller const&) {
  auto const id = std::string(ctx.params.get("id"));
  auto json = co_await s.store([&s, &id]() -> result<std::string> {
    auto d = s.stores.deployments->get(id);
    if (!d) return d.error();
    auto history = s.stores.deployments->history(id);
    if (!history) return history.error();
    return deployment_json(*d, *history);
  });
  if (!json) co_return json.error();
  co_return http::json_response(bhttp::status::ok, std::move(*json));
}

}  // namespace

void add_deploy_routes(Routes& routes) {
  // Any workflow, or a linked deployer's key, may ask; the operation picks (or checks) an agent of
  // the owner it acts for.
  routes.add(bhttp::verb::post, "/deploy", Access::deployer, deploy);
  routes.add(bhttp::verb::get, "/deployments", Access::anyone, list_deployments);
  routes.add(bhttp::verb::get, "/deployments/{id}", Access::anyone, get_deployment);
}

}  // namespace ee::cp
