// The control plane's client beyond single calls (client/control_plane.hpp): what a target of
// `ee verify` names, the newest version of an app, and following a deployment until it settles
// (`ee deploy --wait`, ControlPlane.wait).
#include <easyenclave/client/control_plane.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace ee::client {
namespace asio = boost::asio;

// --- verify targets and versions ---------------------------------------------------------------

namespace {

std::string trim_slash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// The agent serving at `url` (its tunnel hostname as https://HOST, or its agent_url); empty when
// none. Kept out of the coroutine: GCC 12 mishandles temporaries in && and || inside coroutines.
std::string agent_at(std::vector<api::AgentView> const& agents, std::string const& url) {
  auto const wanted = trim_slash(url);
  std::string found;
  for (auto const& a : agents) {
    if (!a.hostname.empty() && "https://" + a.hostname == wanted) found = a.agent_id;
    if (!a.agent_url.empty() && trim_slash(a.agent_url) == wanted) found = a.agent_id;
  }
  return found;
}

bool is_url(std::string const& target) { return target.starts_with("https://") || target.starts_with("http://"); }

// The lookup of a word as an agent id failed with something other than "no such agent".
bool is_real_failure(result<api::AgentView> const& r) { return !r && r.error() != errc::cp_not_found; }

}  // namespace

asio::awaitable<result<VerifyTarget>> resolve_verify_target(ControlPlaneClient const& cp, std::string target) {
  VerifyTarget out;
  if (is_url(target)) {
    auto agents = co_await cp.agents();
    if (!agents) co_return agents.error();
    out.agent_id = agent_at(*agents, target);
    if (out.agent_id.empty()) {
      co_return Error(errc::no_running_agent, "no agent of " + cp.options().url + " serves at " + target +
                                                  "; see `ee agents list`");
    }
  } else if (target.find('/') == std::string::npos) {
    auto agent = co_await cp.agent(target);
    if (is_real_failure(agent)) co_return agent.error();
    if (agent) out.agent_id = target;  // otherwise the target is an app name
  }
  if (out.agent_id.empty()) {
    out.app = std::move(target);
    co_return out;
  }
  auto agent = co_await cp.agent(out.agent_id);
  if (!agent) co_return agent.error();
  if (agent->deployment_id.empty()) {
    co_return Error(errc::no_running_agent, "agent " + out.agent_id + " runs no deployment; deploy to it with " +
                                                "`ee deploy APP --agent " + out.agent_id + "`");
  }
  auto deployment = co_await cp.deployment(agent->deployment_id);
  if (!deployment) co_return deployment.error();
  out.app = deployment->app_name;
  out.version = deployment->version;
  co_return out;
}

asio::awaitable<result<std::string>> newest_version(ControlPlaneClient const& cp, std::string app) {
  auto view = co_await cp.app(app);
  if (!view) co_return view.error();
  if (!view->versions || view->versions->empty()) {
    co_return Error(errc::no_published_version, "app " + app + " has no version; publish one with `ee apps publish`");
  }
  co_return view->versions->back().version;
}

// --- following a deployment ------------------------------------------------------------------

bool is_settled(std::string_view status) noexcept {
  return status == "running" || status == "failed" || status == "stopped";
}

asio::awaitable<result<api::DeploymentView>> wait_for_deployment(ControlPlaneClient const& cp, std::string id,
                                                                  WaitOptions options) {
  auto const start = std::chrono::steady_clock::now();
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::string last;
  std::chrono::milliseconds last_report{0};
  for (;;) {
    auto d = co_await cp.deployment(id);
    if (!d) co_return d.error();
    auto const waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    auto const seen = d->status + "\n" + d->detail;
    auto const quiet_for = waited - last_report;
    auto const due = options.report_every.count() > 0 && quiet_for >= options.report_every;
    if (seen != last || due) {
      last = seen;
      last_report = waited;
      if (options.on_change) options.on_change(*d, waited);
    }
    if (is_settled(d->status)) co_return std::move(*d);
    if (waited >= options.timeout) {
      co_return Error(errc::cp_unavailable, "deployment " + id + " is still " + d->status + " after " +
                                                std::to_string(waited.count() / 1000) +
                                                "s; follow it with `ee deployments show " + id + "`");
    }
    timer.expires_after(std::min(options.poll, options.timeout - waited));
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return Error(ee::errc::cancelled, "waiting for deployment " + id + " was cancelled");
  }
}

}  // namespace ee::client
