// An agent's lifecycle in the hands of the operator or its owner: removal, reset to undeployed,
// a new owner label, and console access. The routes in routes/agents.cpp (and the owner's /me
// routes) parse and render; this is what they call.
#include "cp/agents.hpp"

#include <easyenclave/cp/error.hpp>
#include <easyenclave/encoding.hpp>

#include "detail/crypto.hpp"
#include "detail/log.hpp"

#include <boost/beast/http/verb.hpp>

namespace ee::cp {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

// Asks the agent to stop whatever it runs (or `deployment_id`), reading its answer's shape.
asio::awaitable<result<void>> ask_to_undeploy(Services& s, registry::AgentRecord const& agent,
                                              std::string const& deployment_id) {
  api::AgentUndeployRequest request{deployment_id};
  auto response = co_await call_agent(s, agent, bhttp::verb::post, "/api/undeploy", api::to_json(request));
  if (!response) co_return response.error();
  if (auto answer = read_deploy_answer(*response, "", agent.id); !answer) co_return answer.error();
  co_return result<void>{};
}

// Closes the deployment `agent` holds without its agent's word (the agent could not be asked):
// the record is stopped as an undeploy would stop it, and the agent released. Blocking.
result<std::optional<registry::Deployment>> close_held(Services& s, registry::AgentRecord const& agent,
                                                       std::string const& detail, TimePoint now) {
  auto d = s.stores.deployments->get(agent.deployment_id);
  if (!d) {
    if (d.error() != registry::errc::not_found) return d.error();
    // A claim without a record (a CP stopped in between): free the agent all the same.
    if (auto r = s.stores.agents->release_deployment(agent.id, agent.deployment_id);
        !r && r.error() != registry::errc::conflict && r.error() != registry::errc::not_found) {
      return r.error();
    }
    return std::optional<registry::Deployment>();
  }
  auto moved = apply_event(*s.stores.deployments, *d, DeploymentEvent::undeployed, detail, now);
  if (!moved) return moved.error();
  if (*moved) return std::optional<registry::Deployment>(std::move(**moved));
  auto current = s.stores.deployments->get(d->id);  // over already: what ended it stands
  if (!current) return current.error();
  return std::optional<registry::Deployment>(std::move(*current));
}

std::int64_t unix_seconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

asio::awaitable<result<void>> delete_agent(Services& s, registry::AgentRecord const& agent, std::string const& who) {
  if (!agent.deployment_id.empty()) {
    // Best effort: once the tunnel is gone nothing reaches the workload anyway, and an agent
    // that cannot be reached must not keep its record (and tunnel) alive.
    if (auto asked = co_await ask_to_undeploy(s, agent, agent.deployment_id); !asked) {
      detail::log::warn("cp", "agent removal: undeploy not delivered agent=", agent.id, " error=", asked.error().message());
    }
  }
  co_return co_await remove_agent(s, agent, "removed by " + who);
}

asio::awaitable<result<ResetOutcome>> reset_agent(Services& s, registry::AgentRecord const& agent,
                                                  std::string const& who) {
  ResetOutcome out;
  auto const detail = "reset by " + who;
  if (!agent.deployment_id.empty()) {
    auto const by = who + " (reset)";
    auto stopped = co_await undeploy(s, agent, by);
    if (stopped) {
      out.agent_reached = true;
      out.stopped = std::move(*stopped);
    } else if (stopped.error() == errc::agent_unreachable || stopped.error() == errc::agent_answer_malformed) {
      // Back to undeployed is what the caller asked for: the record does not wait for an agent
      // that may never answer again. Its heartbeats report whatever it still runs.
      auto const why = detail + "; the agent was not reached: " + stopped.error().message();
      auto closed = co_await s.store([&s, &agent, &why, at = s.now()] { return close_held(s, agent, why, at); });
      if (!closed) co_return closed.error();
      out.stopped = std::move(*closed);
    } else if (stopped.error() != registry::errc::not_found) {
      co_return stopped.error();
    }
  } else {
    // Nothing held on record; the agent still stops whatever it runs (a workload the CP lost).
    auto asked = co_await ask_to_undeploy(s, agent, "");
    out.agent_reached = asked.has_value();
  }

  out.tunnel = "none";
  if (s.tunnels) {
    auto ensured = co_await s.tunnels->ensure(cloudflare::label_for(agent.vm_name));
    s.metrics.tunnel_operations.with({"ensure", outcome_of(ensured)}).inc();
    if (!ensured) co_return ensured.error().with_context("tunnel of agent " + agent.id);
    bool const same = ensured->id == agent.tunnel_id && ensured->hostname == agent.hostname &&
                      ensured->dns_record_id == agent.dns_record_id;
    out.tunnel = same ? "kept" : "recreated";
    if (!same) {
      auto set = co_await s.store([&s, &id = agent.id, &t = *ensured] {
        return s.stores.agents->set_tunnel(id, t.id, t.hostname, t.dns_record_id);
      });
      if (!set) co_return set.error();
    }
  }
  auto current = co_await s.store([&s, &id = agent.id] { return s.stores.agents->get(id); });
  if (!current) co_return current.error();
  out.agent = std::move(*current);
  detail::log::info("cp", "agent reset id=", agent.id, " by=", who, " deployment=",
                    out.stopped ? out.stopped->id : std::string("-"), " agent_reached=", out.agent_reached,
                    " tunnel=", out.tunnel);
  co_return out;
}

asio::awaitable<result<registry::AgentRecord>> set_agent_owner(Services& s, registry::AgentRecord const& agent,
                                                               std::string const& owner, std::string const& who) {
  if (auto ok = api::check_owner(owner); !ok) co_return ok.error();
  if (!agent.deployment_id.empty()) {
    co_return Error(errc::agent_busy, "agent " + agent.id + " holds deployment " + agent.deployment_id +
                                          "; reset or undeploy it before moving the agent to another owner");
  }
  bool const same_login = api::owner_login(owner) == api::owner_login(agent.owner);
  auto const owner_id = same_login ? agent.owner_id : std::string();
  auto set = co_await s.store([&s, &id = agent.id, &owner, &owner_id] {
    return s.stores.agents->set_owner(id, owner, owner_id);
  });
  if (!set) co_return set.error();
  detail::log::info("cp", "agent owner set id=", agent.id, " from=", agent.owner.empty() ? "-" : agent.owner,
                    " to=", owner, " owner_id_kept=", same_login && !owner_id.empty(), " by=", who);
  co_return co_await s.store([&s, &id = agent.id] { return s.stores.agents->get(id); });
}

result<api::ConsoleAccess> mint_console_access(Services& s, registry::AgentRecord const& agent,
                                               api::ConsoleAccessRequest const& request, std::string const& who) {
  if (request.ttl_seconds < api::kMinConsoleTtlSeconds || request.ttl_seconds > api::kMaxConsoleTokenSeconds) {
    return Error(api::errc::console_token_malformed, "ttl_seconds must be from " +
                                                         std::to_string(api::kMinConsoleTtlSeconds) + " to " +
                                                         std::to_string(api::kMaxConsoleTokenSeconds));
  }
  auto jti = detail::random_bytes(16);
  if (!jti) return jti.error();
  auto const now = s.now();
  api::ConsoleClaims claims;
  claims.agent_id = agent.id;
  claims.scope = {std::string(api::kConsoleScopeLogs), std::string(api::kConsoleScopeStats)};
  claims.issued_at = unix_seconds(now);
  claims.expires_at = claims.issued_at + request.ttl_seconds;
  claims.jti = hex_encode(*jti);
  auto token = api::mint_console_token(claims, s.signing_key);
  if (!token) return token.error();
  api::ConsoleAccess out;
  out.token = std::move(*token);
  out.agent_id = agent.id;
  out.scope = claims.scope;
  out.expires_at = TimePoint(std::chrono::seconds(claims.expires_at));
  out.expires_in_seconds = request.ttl_seconds;
  if (auto base = agent_base_url(s, agent)) out.agent_url = std::move(*base);
  detail::log::info("cp", "console access granted agent=", agent.id, " by=", who, " jti=", claims.jti,
                    " expires_in=", request.ttl_seconds, "s");
  return out;
}

}  // namespace ee::cp
