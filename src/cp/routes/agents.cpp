// Agent routes: challenge, register, heartbeat, listing, attestation record, logs, undeploy.
//
//   GET  /agents/challenge[?vm_name=]      -> {"nonce","expires_in_seconds","ttl_seconds","issued_at"}
//   POST /agents/register                  -> {"agent_id","tunnel_token","hostname","heartbeat_interval_seconds","cp_public_key"}
//   POST /agents/{id}/heartbeat  (signed by the agent's attested key)
//   GET  /agents[?status=&vm_name=&owner=] -> [agent, ...]
//   GET  /agents/{id}, /agents/{id}/attestation
//   GET  /agents/{id}/logs       (owner's GitHub OIDC or admin) -> the agent's /api/logs
//   GET  /agents/{id}/metrics    (owner's GitHub OIDC or admin) -> the agent's /api/metrics
//   POST /agents/{id}/undeploy   (owner's GitHub OIDC or admin)
//   POST /agents/{id}/status, /agents/{id}/deployed  (signed by the agent's attested key) -> agent
//   GET  /agents/{id}/stats      (owner's GitHub OIDC or admin) -> the agent's /api/stats
//   POST /agents/{id}/console-access (owner's GitHub OIDC or admin) {ttl_seconds?} -> token
//   DELETE /agents/{id}          (admin) removes the agent, its tunnel and DNS record
//   POST /agents/{id}/reset      (admin) back to undeployed, tunnel recreated if missing
//   PATCH /agents/{id}/owner     (admin) {owner}
#include "cp/agents.hpp"
#include "cp/deployments.hpp"
#include "cp/routes/routes.hpp"

#include <easyenclave/cp/error.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/metrics.hpp>

#include "detail/crypto.hpp"
#include "detail/json.hpp"
#include "detail/log.hpp"

#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <limits>

namespace ee::cp {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using Reply = asio::awaitable<result<http::Response>>;

http::Response json(std::string body) { return http::json_response(bhttp::status::ok, std::move(body)); }

// --- challenge ---------------------------------------------------------------------------------

Reply challenge(http::RequestContext& ctx, Services& s, Caller const&) {
  auto vm_name = ctx.query("vm_name").value_or("");
  if (!vm_name.empty()) {
    if (auto r = api::check_vm_name(vm_name); !r) co_return r.error();
  }
  auto entry = s.nonces.issue(std::move(vm_name), s.now());
  if (!entry) co_return entry.error();
  api::Challenge c;
  c.nonce = hex_encode(entry->bytes);
  c.ttl_seconds = s.nonces.ttl().count();
  c.expires_in_seconds = std::chrono::duration_cast<std::chrono::seconds>(entry->expires_at - s.now()).count();
  c.issued_at = entry->issued_at;
  co_return json(api::to_json(c));
}

// --- register and heartbeat ----------------------------------------------------------------------

Reply register_agent(http::RequestContext& ctx, Services& s, Caller const&) {
  auto req = api::parse_register_request(ctx.request.body());
  if (!req) co_return req.error();
  auto admitted = co_await cp::register_agent(s, *req);
  if (!admitted) co_return admitted.error();
  co_return json(api::to_json(*admitted));
}

// The rule (agent_self) verified the signature with the key of the agent it read.
Reply heartbeat(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto hb = api::parse_heartbeat_request(ctx.request.body());
  if (!hb) co_return hb.error();
  auto answer = co_await record_heartbeat(s, caller.agent.value(), *hb);
  if (!answer) co_return answer.error();
  co_return json(api::to_json(*answer));
}

// --- reads -------------------------------------------------------------------------------------

// From the listing's snapshot (agent_listing.hpp): read from the store only when none is fresh.
Reply list_agents(http::RequestContext& ctx, Services& s, Caller const&) {
  auto page = page_of(ctx);
  if (!page) co_return page.error();
  ListingQuery query;
  query.status = ctx.query("status");
  query.vm_name = ctx.query("vm_name");
  query.owner = ctx.query("owner");
  query.limit = page->limit;
  query.offset = page->offset;
  auto snapshot = s.agent_listing.fresh(std::chrono::steady_clock::now());
  if (!snapshot) {
    auto read = co_await s.store([&s] { return s.agent_listing.current(*s.stores.agents); });
    if (!read) co_return read.error();
    snapshot = std::move(*read);
  }
  co_return json(snapshot->json(query, s.now()));
}

Reply get_agent(http::RequestContext& ctx, Services& s, Caller const&) {
  auto const id = std::string(ctx.params.get("id"));
  auto agent = co_await s.store([&s, &id] { return s.stores.agents->get(id); });
  if (!agent) co_return agent.error();
  co_return json(agent_json(*agent, s.now()));
}

Reply get_attestation(http::RequestContext& ctx, Services& s, Caller const&) {
  auto const id = std::string(ctx.params.get("id"));
  auto agent = co_await s.store([&s, &id] { return s.stores.agents->get(id); });
  if (!agent) co_return agent.error();
  co_return json(attestation_json(*agent));
}

// The agent's /api/logs answer, read field by field and written again: only the shape the agent
// API defines ({"lines": [{seq, at, source, text}], "dropped"}) ever reaches the caller, never
// whatever bytes answered at the agent's address.
result<std::string> agent_logs_view(std::string_view body) {
  auto doc = detail::json::parse(body);
  if (!doc) return doc.error();
  auto r = detail::json::ObjectReader::from(*doc);
  if (!r) return r.error();
  auto lines = r->array("lines");
  if (!lines) return lines.error();
  auto dropped = r->optional_integer("dropped", 0, std::numeric_limits<std::int64_t>::max());
  if (!dropped) return dropped.error();
  boost::json::array out_lines;
  out_lines.reserve((*lines)->size());
  for (auto const& item : **lines) {
    auto line = detail::json::ObjectReader::from(item, "body.lines[]");
    if (!line) return line.error();
    auto seq = line->integer("seq", 0, std::numeric_limits<std::int64_t>::max());
    if (!seq) return seq.error();
    boost::json::object o;
    o["seq"] = *seq;
    for (char const* key : {"at", "source", "text"}) {
      auto value = line->string(key);
      if (!value) return value.error();
      o[key] = *value;
    }
    out_lines.push_back(std::move(o));
  }
  boost::json::object out;
  out["lines"] = std::move(out_lines);
  out["dropped"] = dropped->value_or(0);
  return detail::json::serialize(out);
}

// The rule (owner_of_agent_or_admin) read the agent and checked its owner.
Reply agent_logs(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto const* agent = &caller.agent.value();
  auto const& id = agent->id;
  std::string target = "/api/logs";
  char separator = '?';
  for (auto name : {"since", "lines"}) {
    if (auto value = ctx.query(name)) {
      // Only digits and RFC 3339 characters are forwarded, so nothing can be smuggled into the target.
      for (char c : *value) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != ':' && c != '.' && c != '+') {
          co_return Error(ee::errc::invalid_value, std::string(name) + " has a character that is not allowed");
        }
      }
      target += separator + std::string(name) + "=" + *value;
      separator = '&';
    }
  }
  auto response = co_await call_agent(s, *agent, bhttp::verb::get, target, "");
  if (!response) co_return response.error();
  auto logs = agent_logs_view(response->body());
  if (!logs) co_return Error(errc::agent_answer_malformed, "agent " + id + ": /api/logs: " + logs.error().message());
  co_return json(std::move(*logs));
}

// The agent's /api/metrics, read sample by sample and written again (metrics::
// canonical_exposition): like logs, only what parses as an exposition reaches the caller.
Reply agent_metrics(http::RequestContext&, Services& s, Caller const& caller) {
  auto const* agent = &caller.agent.value();
  auto response = co_await call_agent(s, *agent, bhttp::verb::get, "/api/metrics", "");
  if (!response) co_return response.error();
  auto text = metrics::canonical_exposition(response->body());
  if (!text) {
    co_return Error(errc::agent_answer_malformed, "agent " + agent->id + ": /api/metrics: " + text.error().message());
  }
  http::Response out{bhttp::status::ok, 11};
  out.set(bhttp::field::content_type, std::string(metrics::kContentType));
  out.set(bhttp::field::cache_control, "no-store");
  out.body() = std::move(*text);
  out.prepare_payload();
  co_return out;
}

// The rule (owner_of_agent_or_admin) read the agent and checked its owner.
Reply undeploy(http::RequestContext&, Services& s, Caller const& caller) {
  auto stopped = co_await cp::undeploy(s, caller.agent.value(), caller.name());
  if (!stopped) co_return stopped.error();
  co_return json(deployment_json(*stopped));
}

// --- workload reports between heartbeats (the rule, agent_self, verified the signature) -----------

Reply status_report(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto in = api::parse_agent_status_report(ctx.request.body());
  if (!in) co_return in.error();
  WorkloadReport const report{in->deployment_id, in->status, in->image_digest, in->rolled_back};
  auto agent = co_await record_workload_report(s, caller.agent.value(), report);
  if (!agent) co_return agent.error();
  co_return json(agent_json(*agent, s.now()));
}

Reply deployed_report(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto in = api::parse_deployed_report(ctx.request.body());
  if (!in) co_return in.error();
  WorkloadReport const report{in->deployment_id, "running", in->image_digest, ""};
  auto agent = co_await record_workload_report(s, caller.agent.value(), report);
  if (!agent) co_return agent.error();
  co_return json(agent_json(*agent, s.now()));
}

// The agent's /api/stats answer, read as api::AgentStats and written again: like logs, only the
// shape the agent API defines reaches the caller.
Reply agent_stats(http::RequestContext&, Services& s, Caller const& caller) {
  auto const* agent = &caller.agent.value();
  auto response = co_await call_agent(s, *agent, bhttp::verb::get, "/api/stats", "");
  if (!response) co_return response.error();
  auto stats = api::parse_agent_stats(response->body());
  if (!stats) {
    co_return Error(errc::agent_answer_malformed, "agent " + agent->id + ": /api/stats: " + stats.error().message());
  }
  co_return json(api::to_json(*stats));
}

Reply console_access(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto in = api::parse_console_access_request(ctx.request.body());
  if (!in) co_return in.error();
  auto access = mint_console_access(s, caller.agent.value(), *in, caller.name());
  if (!access) co_return access.error();
  auto out = json(api::to_json(*access));
  out.set(bhttp::field::cache_control, "no-store");  // the token is a secret
  co_return out;
}

// --- the operator's -----------------------------------------------------------------------------

Reply delete_agent_route(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto const id = std::string(ctx.params.get("id"));
  auto agent = co_await s.store([&s, &id] { return s.stores.agents->get(id); });
  if (!agent) co_return agent.error();
  if (auto r = co_await delete_agent(s, *agent, caller.name()); !r) co_return r.error();
  co_return json(R"({"removed":true})");
}

Reply reset_route(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto const id = std::string(ctx.params.get("id"));
  auto agent = co_await s.store([&s, &id] { return s.stores.agents->get(id); });
  if (!agent) co_return agent.error();
  auto reset = co_await reset_agent(s, *agent, caller.name());
  if (!reset) co_return reset.error();
  co_return json(reset_json(*reset, s.now()));
}

Reply set_owner_route(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto doc = detail::json::parse(ctx.request.body(), {.max_bytes = 1024, .max_depth = 2});
  if (!doc) co_return doc.error();
  auto r = detail::json::ObjectReader::from(*doc);
  if (!r) co_return r.error();
  if (auto ok = r->reject_unknown({"owner"}); !ok) co_return ok.error();
  auto owner = r->string("owner");
  if (!owner) co_return owner.error();
  if (auto ok = api::check_owner(*owner, "body.owner"); !ok) co_return ok.error();
  auto const id = std::string(ctx.params.get("id"));
  auto agent = co_await s.store([&s, &id] { return s.stores.agents->get(id); });
  if (!agent) co_return agent.error();
  auto updated = co_await set_agent_owner(s, *agent, *owner, caller.name());
  if (!updated) co_return updated.error();
  co_return json(agent_json(*updated, s.now()));
}

}  // namespace

void add_agent_routes(Routes& routes) {
  // Registration is open: the attestation evidence, bound to a nonce and the agent's key, is the
  // credential, and the operation checks it (and the owner's proof, vm_name continuity).
  routes.add(bhttp::verb::get, "/agents/challenge", Access::anyone, challenge);
  routes.add(bhttp::verb::post, "/agents/register", Access::anyone, register_agent);
  routes.add(bhttp::verb::post, "/agents/{id}/heartbeat", Access::agent_self, heartbeat);
  routes.add(bhttp::verb::get, "/agents", Access::anyone, list_agents);
  routes.add(bhttp::verb::get, "/agents/{id}", Access::anyone, get_agent);
  routes.add(bhttp::verb::get, "/agents/{id}/attestation", Access::anyone, get_attestation);
  routes.add(bhttp::verb::get, "/agents/{id}/logs", Access::owner_of_agent_or_admin, agent_logs);
  routes.add(bhttp::verb::get, "/agents/{id}/metrics", Access::owner_of_agent_or_admin, agent_metrics);
  routes.add(bhttp::verb::post, "/agents/{id}/undeploy", Access::owner_of_agent_or_admin, undeploy);
  routes.add(bhttp::verb::post, "/agents/{id}/status", Access::agent_self, status_report);
  routes.add(bhttp::verb::post, "/agents/{id}/deployed", Access::agent_self, deployed_report);
  routes.add(bhttp::verb::get, "/agents/{id}/stats", Access::owner_of_agent_or_admin, agent_stats);
  routes.add(bhttp::verb::post, "/agents/{id}/console-access", Access::owner_of_agent_or_admin, console_access);
  routes.add(bhttp::verb::delete_, "/agents/{id}", Access::admin, delete_agent_route);
  routes.add(bhttp::verb::post, "/agents/{id}/reset", Access::admin, reset_route);
  routes.add(bhttp::verb::patch, "/agents/{id}/owner", Access::admin, set_owner_route);
}

}  // namespace ee::cp
