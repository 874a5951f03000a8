// Deploys by GitHub identity: a workflow whose token's repository_owner equals an agent's owner
// label may put a catalog version on that agent.
//
//   POST /deploy  (GitHub OIDC) {app_name, version, agent_id?, node_size?, datacenter?, dry_run?}
//                 -> {deployment_id, agent_id, status}
//   GET  /deployments[?agent_id=&app_name=&status=], GET /deployments/{id}
#include "cp/routes/routes.hpp"

#include <easyenclave/cp/error.hpp>

#include "detail/crypto.hpp"
#include "detail/json.hpp"
#include "detail/log.hpp"

#include <boost/beast/http/verb.hpp>
#include <boost/json/object.hpp>

namespace ee::cp {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using detail::json::ObjectReader;
using Reply = asio::awaitable<result<http::Response>>;

struct DeployRequest {
  std::string app_name{}, version{}, agent_id{}, node_size{}, datacenter{};
  bool dry_run = false;
};

result<DeployRequest> parse_deploy_request(std::string_view body) {
  auto doc = detail::json::parse(body);
  if (!doc) return doc.error();
  auto r = ObjectReader::from(*doc);
  if (!r) return r.error();
  DeployRequest d;
  auto app = r->string("app_name");
  if (!app) return app.error();
  auto version = r->string("version");
  if (!version) return version.error();
  d.app_name = std::move(*app);
  d.version = std::move(*version);
  for (auto [key, out] : {std::pair{"agent_id", &d.agent_id}, {"node_size", &d.node_size}, {"datacenter", &d.datacenter}}) {
    auto value = r->optional_string(key);
    if (!value) return value.error();
    *out = value->value_or("");
  }
  if (!d.node_size.empty()) {
    if (auto c = api::check_node_size(d.node_size); !c) return c.error();
  }
  if (!d.datacenter.empty()) {
    if (auto c = api::check_datacenter(d.datacenter); !c) return c.error();
  }
  auto dry_run = r->optional_boolean("dry_run");
  if (!dry_run) return dry_run.error();
  d.dry_run = dry_run->value_or(false);
  return d;
}

// Why `agent` cannot take `version` for `claims`, or success.
result<void> check_agent(registry::AgentRecord const& agent, registry::AppVersion const& version,
                         DeployRequest const& req, jwt::GithubClaims const& claims) {
  if (!owns_agent(agent, claims)) {
    return Error(errc::owner_mismatch, "repository_owner '" + claims.repository_owner + "' does not own agent " +
                                           agent.id + " (owner '" + agent.owner + "')");
  }
  if (!agent.verified) return Error(errc::agent_unverified, "agent " + agent.id + ": " + agent.unverified_reason);
  if (!agent.deployment_id.empty()) {
    return Error(errc::agent_busy, "agent " + agent.id + " holds deployment " + agent.deployment_id);
  }
  if (agent.attestation.mrtd != version.mrtd) {
    return Error(errc::agent_mrtd_mismatch, "agent " + agent.id + " runs MRTD " + agent.attestation.mrtd +
                                                "; version " + version.version + " needs " + version.mrtd);
  }
  for (std::size_t i = 0; i < 4; ++i) {
    if (!version.rtmrs[i].empty() && version.rtmrs[i] != agent.attestation.rtmrs[i]) {
      return Error(errc::agent_mrtd_mismatch, "agent " + agent.id + " has another RTMR" + std::to_string(i) +
                                                  " than version " + version.version + " pins");
    }
  }
  auto const& node_size = !req.node_size.empty() ? req.node_size : version.node_size;
  if (!node_size.empty() && agent.node_size != node_size) {
    return Error(errc::no_eligible_agent, "agent " + agent.id + " is node size '" + agent.node_size + "', not '" + node_size + "'");
  }
  if (!req.datacenter.empty() && agent.datacenter != req.datacenter) {
    return Error(errc::no_eligible_agent, "agent " + agent.id + " is in '" + agent.datacenter + "', not '" + req.datacenter + "'");
  }
  return {};
}

asio::awaitable<result<registry::AgentRecord>> choose_agent(Services& s, DeployRequest const& req,
                                                            registry::AppVersion const& version,
                                                            jwt::GithubClaims const& claims) {
  if (!req.agent_id.empty()) {
    auto agent = co_await s.store([&s, &id = req.agent_id] { return s.stores.agents->get(id); });
    if (!agent) co_return agent.error();
    if (auto r = check_agent(*agent, version, req, claims); !r) co_return r.error();
    co_return agent;
  }
  registry::AgentFilter filter;
  filter.status = "idle";
  auto candidates = co_await s.store([&s, &filter] { return s.stores.agents->list(filter); });
  if (!candidates) co_return candidates.error();
  for (auto& agent : *candidates) {
    if (agent.health == registry::Health::down) continue;
    if (check_agent(agent, version, req, claims)) co_return std::move(agent);
  }
  co_return Error(errc::no_eligible_agent, "no verified idle agent owned by '" + claims.repository_owner +
                                               "' runs MRTD " + version.mrtd +
                                               (req.node_size.empty() ? "" : " with node size " + req.node_size) +
                                               (req.datacenter.empty() ? "" : " in " + req.datacenter));
}

http::Response deploy_answer(std::string const& deployment_id, std::string const& agent_id, std::string_view status) {
  boost::json::object o;
  o["deployment_id"] = deployment_id;
  o["agent_id"] = agent_id;
  o["status"] = status;
  return http::json_response(bhttp::status::ok, detail::json::serialize(o));
}

Reply deploy(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto const* claims = &caller.claims();
  auto req = parse_deploy_request(ctx.request.body());
  if (!req) co_return req.error();
  auto version = co_await s.store([&s, &app = req->app_name, &v = req->version] { return s.stores.apps->get_version(app, v); });
  if (!version) co_return version.error().with_context(req->app_name + " " + req->version);
  auto agent = co_await choose_agent(s, *req, *version, *claims);
  if (!agent) co_return agent.error();
  if (req->dry_run) co_return deploy_answer("", agent->id, "dry_run");

  auto id = detail::uuid_v4();
  if (!id) co_return id.error();
  auto const now = s.now();
  registry::Deployment d;
  d.id = *id;
  d.app_name = version->app_name;
  d.version = version->version;
  d.agent_id = agent->id;
  d.image = version->image;
  d.status = registry::DeploymentStatus::pending;
  d.requested_by = claims->repository;
  d.created_at = now;
  d.updated_at = now;
  // Claim the agent first (compare-and-set), so two deploys racing for it cannot both win.
  auto recorded = co_await s.store([&s, &d]() -> result<void> {
    if (auto r = s.stores.agents->claim_for_deployment(d.agent_id, d.id); !r) {
      return r.error() == registry::errc::conflict ? Error(errc::agent_busy, "agent " + d.agent_id + " was just taken") : r.error();
    }
    if (auto r = s.stores.deployments->insert(d); !r) {
      (void)s.stores.agents->set_deployment(d.agent_id, "");
      return r.error();
    }
    return {};
  });
  if (!recorded) co_return recorded.error();

  api::AgentDeployRequest request;
  request.deployment_id = d.id;
  request.app_name = d.app_name;
  request.version = d.version;
  request.image = d.image;
  auto sent = co_await call_agent(s, *agent, bhttp::verb::post, "/api/deploy", api::to_json(request));
  result<api::AgentDeployResponse> accepted = Error(errc::agent_unreachable);
  if (sent) accepted = read_deploy_answer(*sent, d.id, d.agent_id);
  if (!sent || !accepted) {
    auto const error = sent ? accepted.error() : sent.error();
    auto const detail = error.message();
    (void)co_await s.store([&s, &d, &detail, at = s.now()] { return fail_deployment(s, d, detail, at); });
    co_return error;
  }
  // The agent accepted it: from here its heartbeats report progress (running, or failed). A
  // heartbeat may have been first; what it decided stands.
  auto deploying = co_await s.store([&s, &id = d.id, at = s.now()]() -> result<registry::Deployment> {
    auto moved = s.stores.deployments->set_status_if(id, registry::DeploymentStatus::pending,
                                                     registry::DeploymentStatus::deploying, "", at);
    if (moved || moved.error() != registry::errc::conflict) return moved;
    return s.stores.deployments->get(id);
  });
  if (!deploying) co_return deploying.error();
  detail::log::info("cp", "deploying deployment=", d.id, " app=", d.app_name, " version=", d.version,
                    " agent=", d.agent_id, " by=", d.requested_by);
  co_return deploy_answer(d.id, d.agent_id, registry::to_string(deploying->status));
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
      co_return Error(ee::errc::invalid_value, "status must be pending, deploying, running, failed or stopped");
    }
  }
  auto list = co_await s.store([&s, &filter] { return s.stores.deployments->list(filter); });
  if (!list) co_return list.error();
  co_return http::json_response(bhttp::status::ok, deployments_json(*list));
}

Reply get_deployment(http::RequestContext& ctx, Services& s, Caller const&) {
  auto const id = std::string(ctx.params.get("id"));
  auto d = co_await s.store([&s, &id] { return s.stores.deployments->get(id); });
  if (!d) co_return d.error();
  co_return http::json_response(bhttp::status::ok, deployment_json(*d));
}

}  // namespace

void add_deploy_routes(Routes& routes) {
  // Any workflow may ask; the operation picks (or checks) an agent of the workflow's owner.
  routes.add(bhttp::verb::post, "/deploy", Access::github_workflow, deploy);
  routes.add(bhttp::verb::get, "/deployments", Access::anyone, list_deployments);
  routes.add(bhttp::verb::get, "/deployments/{id}", Access::anyone, get_deployment);
}

}  // namespace ee::cp
