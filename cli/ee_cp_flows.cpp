// The control-plane verbs of `ee` with more than one call to them: publish (a version, or a new
// app), deploy (the newest version by default; --wait follows each deployment), verify (connect's
// checks printed one by one), login and logout. The steps are the library's
// (client/control_plane.hpp, client/connect.hpp); this file wires and prints.
#include "ee_cp_commands.hpp"
#include "ee_cp_output.hpp"

#include <easyenclave/block_on.hpp>
#include <easyenclave/tdx/collateral.hpp>

#include <iostream>

using namespace ee;

int run_publish(CpContext const& x) {
  auto cp = x.cp_with_credential();
  if (!cp) return x.fail(cp.error());
  auto request = x.c.publish;
  request.name = x.c.id;
  if (x.c.rtmrs.size() > 4) return x.fail(Error(errc::invalid_value, "--rtmr: at most four (RTMR0..3)"));
  for (std::size_t i = 0; i < x.c.rtmrs.size(); ++i) request.version.rtmrs[i] = x.c.rtmrs[i];
  std::string json;
  if (request.source_repo.empty()) {  // a version of an existing app
    auto added = block_on(cp->add_version(request.name, request.version));
    if (!added && added.error() == client::errc::cp_not_found) {
      return x.fail(Error(client::errc::cp_not_found,
                          added.error().message() + "; a new app needs --source-repo org/repo"));
    }
    if (!added) return x.fail(added.error());
    json = api::to_json(*added);
  } else {
    auto created = block_on(cp->publish(request));
    if (!created) return x.fail(created.error());
    json = api::to_json(*created);
  }
  if (x.c.json) {
    std::cout << json << "\n";
  } else {
    std::cout << (x.c.quiet ? "" : "published ") << request.name << "@" << request.version.version << "\n";
  }
  return cli::kExitOk;
}

namespace {

// Follows each deployment of `answer` until it settles, saying on stderr what it waits for.
int wait_for_steps(CpContext const& x, client::ControlPlaneClient const& cp, api::DeployResponse const& answer) {
  auto steps = answer.steps;
  if (steps.empty()) steps.push_back({answer.deployment_id, answer.agent_id, answer.status, ""});
  std::vector<api::DeploymentView> settled;
  int code = cli::kExitOk;
  for (auto const& step : steps) {
    if (step.deployment_id.empty()) continue;
    client::WaitOptions wait;
    wait.timeout = std::chrono::seconds(x.c.wait_seconds);
    wait.report_every = std::chrono::seconds(10);  // "still deploying after 30s"
    wait.on_change = [&x](api::DeploymentView const& d, std::chrono::milliseconds waited) {
      if (x.c.quiet) return;
      std::cerr << "waiting for deployment " << d.deployment_id << " (" << d.app_name << "@" << d.version
                << ") on agent " << d.agent_id << ": " << d.status << (d.detail.empty() ? "" : " - " + d.detail)
                << " after " << waited.count() / 1000 << "s\n";
    };
    auto final_state = block_on(client::wait_for_deployment(cp, step.deployment_id, wait));
    if (!final_state) return x.fail(final_state.error());
    if (final_state->status != "running") {
      std::cerr << "ee: deployment " << final_state->deployment_id << " " << final_state->status
                << (final_state->detail.empty() ? "" : ": " + final_state->detail) << "\n"
                << "hint: read the agent's log with `ee agents logs " << final_state->agent_id << "`\n";
      code = cli::kExitRefused;
    }
    settled.push_back(std::move(*final_state));
    if (code != cli::kExitOk) break;  // a rollout stops at its first failed step, as the CP's does
  }
  if (x.c.json) {
    std::cout << api::to_json(settled) << "\n";
  } else if (x.c.quiet) {
    for (auto const& d : settled) std::cout << d.deployment_id << "\n";
  } else {
    cli::print_deployments(std::cout, settled);
  }
  return code;
}

}  // namespace

int run_deploy(CpContext const& x) {
  api::DeployRequest request;
  auto const at = x.c.id.find('@');
  request.app_name = x.c.id.substr(0, at);
  if (at != std::string::npos) request.version = x.c.id.substr(at + 1);
  auto cp = x.cp_with_credential();
  if (!cp) return x.fail(cp.error());
  if (request.version.empty()) {
    auto newest = block_on(client::newest_version(*cp, request.app_name));
    if (!newest) return x.fail(newest.error());
    request.version = std::move(*newest);
  }
  request.agent_id = x.c.agent;
  request.node_size = x.c.node_size;
  request.datacenter = x.c.datacenter;
  request.dry_run = x.c.dry_run;
  auto answer = block_on(cp->deploy(request));
  if (!answer) return x.fail(answer.error());
  if (x.c.wait && !x.c.dry_run) return wait_for_steps(x, *cp, *answer);
  if (x.c.json) {
    std::cout << api::to_json(*answer) << "\n";
  } else if (x.c.quiet) {
    std::cout << answer->deployment_id << "\n";
  } else {
    cli::print_deploy(std::cout, *answer);
  }
  return cli::kExitOk;
}

int run_verify(CpContext const& x) {
  auto target = block_on(client::resolve_verify_target(x.cp(), x.c.id));
  if (!target) return x.fail(target.error());
  client::ConnectOptions o;
  o.cp_url = x.url;
  o.version = x.c.version.empty() ? target->version : x.c.version;
  o.agent_id = target->agent_id;
  o.allow_keyless_agents = x.c.allow_keyless;
  o.http = x.http;
  o.policy.allowed_tcb_statuses.clear();
  for (auto const& name : x.c.allow_tcb) {
    auto status = tdx::parse_tcb_status_name(name);
    if (!status) return x.fail(status.error().with_context("--allow-tcb"));
    o.policy.allowed_tcb_statuses.push_back(*status);
  }
  if (!x.c.root.empty()) {
    auto root = tdx::TrustedRoot::from_file(x.c.root);
    if (!root) return x.fail(root.error().with_context("--root"));
    o.root = std::move(*root);
  }
  if (!x.c.collateral.empty()) {
    auto collateral = tdx::load_collateral_file(x.c.collateral);
    if (!collateral) return x.fail(collateral.error().with_context("--collateral"));
    o.collateral = std::make_shared<tdx::Collateral const>(std::move(*collateral));
  }
  auto attempt = block_on(client::attempt(target->app, std::move(o)));
  auto const verified = attempt.connection.has_value();
  auto const endpoint = verified ? attempt.connection->endpoint() : std::string();
  if (x.c.json) {
    std::cout << client::to_json(target->app, attempt.report, verified, endpoint) << "\n";
  } else if (x.c.quiet) {
    if (verified) std::cout << endpoint << "\n";
  } else {
    std::cout << (verified ? attempt.connection->report() : attempt.report.text());
  }
  return verified ? cli::kExitOk : x.fail(attempt.error);
}

int run_login(CpContext const& x) {
  auto const path = client::stored_token_path(x.env);
  if (path.empty()) return x.fail(Error(errc::invalid_value, "neither XDG_CONFIG_HOME nor HOME is set"));
  std::string token = x.c.token;
  if (token.empty() && !std::getline(std::cin, token)) {
    return x.fail(Error(errc::invalid_value, "no token: give --token or one line on stdin"));
  }
  if (auto stored = client::store_token(path, token); !stored) return x.fail(stored.error());
  return run_done(x, "token stored in " + path.string() + " (mode 0600)");
}

int run_logout(CpContext const& x) {
  auto const path = client::stored_token_path(x.env);
  if (path.empty()) return x.fail(Error(errc::invalid_value, "neither XDG_CONFIG_HOME nor HOME is set"));
  auto removed = client::remove_stored_token(path);
  if (!removed) return x.fail(removed.error());
  return run_done(x, *removed ? "removed " + path.string() : "no stored token at " + path.string());
}
