// Calls from the CP to an agent's API (deploy, undeploy, logs, health), signed with the CP's key
// so the agent accepts them only from the CP it registered with.
#include "cp/services.hpp"

#include <easyenclave/cp/error.hpp>

#include "detail/log.hpp"

#include <boost/beast/http/field.hpp>

namespace ee::cp {

namespace bhttp = boost::beast::http;

result<std::string> agent_base_url(Services const& s, registry::AgentRecord const& agent) {
  // A hostname is only ever one the CP's tunnel provider created.
  if (!agent.hostname.empty()) return "https://" + agent.hostname;
  if (agent.agent_url.empty()) {
    return Error(errc::agent_unreachable, "agent " + agent.id + " has neither a tunnel hostname nor an agent_url");
  }
  auto origin = parse_agent_origin(agent.agent_url);
  if (!origin) return Error(errc::agent_unreachable, "agent " + agent.id + ": " + origin.error().message());
  // Dev mode trusts every agent_url unless networks were set, which then bind in dev too.
  if (!s.dev || !s.agent_networks.empty()) {
    if (auto allowed = s.agent_networks.allows(*origin); !allowed) {
      return Error(errc::agent_unreachable, "agent " + agent.id + " has no tunnel, and its agent_url: " +
                                                allowed.error().message());
    }
  }
  return origin->text();
}

boost::asio::awaitable<result<http::Response>> call_agent(Services& s, registry::AgentRecord const& agent,
                                                          bhttp::verb method, std::string target,
                                                          std::string body) {
  auto base = agent_base_url(s, agent);
  if (!base) co_return base.error();
  http::Request request{method, *base + target, 11};
  request.set(bhttp::field::user_agent, "ee-cp");
  if (!body.empty()) {
    request.set(bhttp::field::content_type, "application/json");
    request.body() = std::move(body);
  }
  request.prepare_payload();
  // The agent sees the origin-form target (path and query); that is what is signed.
  http::Request signed_view{method, target, 11};
  signed_view.body() = request.body();
  if (auto r = api::sign_request(signed_view, s.signing_key, s.now()); !r) co_return r.error();
  for (auto name : {api::kTimestampHeader, api::kSignatureHeader}) {
    request.set(name, signed_view[name]);
  }

  http::RequestOptions options;
  options.timeout = s.options.timings.agent_call_timeout;
  auto response = co_await s.http->send(std::move(request), options);
  if (!response) {
    co_return Error(errc::agent_unreachable, "agent " + agent.id + ": " + response.error().message());
  }
  auto const status = response->result_int();
  if (status < 200 || status > 299) {
    // The status only: an agent's error body is its own text and never reaches the CP's caller.
    co_return Error(errc::agent_unreachable,
                    "agent " + agent.id + " answered " + std::to_string(status) + " to " + target);
  }
  co_return std::move(*response);
}

result<api::AgentDeployResponse> read_deploy_answer(http::Response const& response, std::string const& deployment_id,
                                                    std::string const& agent_id) {
  auto answer = api::parse_agent_deploy_response(response.body());
  if (!answer) {
    return Error(errc::agent_answer_malformed, "agent " + agent_id + ": " + answer.error().message());
  }
  if (!deployment_id.empty() && answer->deployment_id != deployment_id) {
    return Error(errc::agent_answer_malformed, "agent " + agent_id + " answered about deployment '" +
                                                   answer->deployment_id + "', not " + deployment_id);
  }
  return answer;
}

}  // namespace ee::cp
