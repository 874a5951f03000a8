#pragma once
/// @file The control plane's deploy route on the wire: what a workflow (or `ee deploy`) sends to
/// `POST /api/v1/deploy` and what it gets back. `parse_*` check every field and name the one at
/// fault; `to_json` writes compact JSON with empty optionals left out.
#include <easyenclave/api/error.hpp>
#include <easyenclave/error.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ee::api {

/// At most this many agents in one rolling deploy.
inline constexpr std::size_t kMaxDeployAgents = 100;

/// A deploy of one catalog version. With `agent_id` it goes to that agent; with `agent_ids` to
/// each of them, one at a time; with neither, to every agent of the caller's owner that runs
/// another version of the app (one at a time), or else to one idle eligible agent.
struct DeployRequest {
  std::string app_name{};
  std::string version{};
  std::string agent_id{};
  std::vector<std::string> agent_ids{};  ///< distinct; not with agent_id
  std::string node_size{};
  std::string datacenter{};
  bool dry_run = false;  ///< choose the agents and say so, deploy nothing
};

std::string to_json(DeployRequest const& r);
/// errc::invalid_field naming the field ("body.agent_ids[2]: ...").
result<DeployRequest> parse_deploy_request(std::string_view json);

/// One agent's part of a deploy, in rollout order.
struct DeployStep {
  std::string deployment_id{};  ///< empty in a dry run
  std::string agent_id{};
  std::string status{};    ///< the deployment's status now ("queued" for a later step), or "dry_run"
  std::string replaces{};  ///< the deployment of an older version it upgrades, if any
};

struct DeployResponse {
  /// The first step's deployment, agent and status (what a deploy to one agent answers).
  std::string deployment_id{};
  std::string agent_id{};
  std::string status{};
  std::string rollout_id{};  ///< set when the deploy goes to more than one agent
  std::vector<DeployStep> steps{};
};

std::string to_json(DeployResponse const& r);
result<DeployResponse> parse_deploy_response(std::string_view json);

}  // namespace ee::api
