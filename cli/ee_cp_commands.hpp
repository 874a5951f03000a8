#pragma once
// The parsed arguments of the control-plane verbs (shared by ee_cp_verbs.cpp, which declares
// them, and ee_cp_run.cpp, which runs them).
#include "ee_cp_verbs.hpp"

#include <easyenclave/api/catalog.hpp>
#include <easyenclave/client/control_plane.hpp>
#include <easyenclave/http/client.hpp>
#include <easyenclave/settings.hpp>

#include <memory>

#include <string>
#include <vector>

struct CpCommands {
  // Every verb: where the CP is, the credential, the output form.
  std::string cp_url, token, audience = "easyenclave";
  bool json = false, quiet = false;

  CLI::App *agents_list = nullptr, *agents_show = nullptr, *agents_logs = nullptr, *agents_delete = nullptr;
  CLI::App *apps_list = nullptr, *apps_show = nullptr, *apps_publish = nullptr, *apps_versions = nullptr;
  CLI::App *deploy = nullptr, *undeploy = nullptr, *deployments_list = nullptr, *deployments_show = nullptr;
  CLI::App *measurements_list = nullptr, *measurements_add = nullptr, *measurements_remove = nullptr;
  CLI::App *settings_list = nullptr, *settings_get = nullptr, *settings_set = nullptr, *settings_unset = nullptr;
  CLI::App *verify = nullptr, *login = nullptr, *logout = nullptr;

  std::string id;     // agent, deployment, app name, setting key, MRTD, verify target
  std::string value;  // settings set
  std::string group;  // settings list --group
  ee::client::AgentFilter agent_filter;
  ee::client::DeploymentFilter deployment_filter;
  std::size_t lines = 0;
  ee::api::PublishRequest publish;  // apps publish: name in `id`
  std::vector<std::string> rtmrs;   // RTMR0..3 in order, "" to skip one
  // deploy APP[@VERSION]
  std::string node_size, datacenter, agent;
  bool dry_run = false, wait = false;
  int wait_seconds = 300;
  ee::client::MeasurementRequest measurement;
  // verify
  std::string version, root, collateral;
  std::vector<std::string> allow_tcb{"UpToDate"};
  bool allow_keyless = false;
};

/// What a verb runs with: its arguments, the CP's URL, the transport and the environment.
struct CpContext {
  CpCommands const& c;
  std::string url;
  std::shared_ptr<ee::http::Client> http;
  ee::settings::Environment env;

  /// A client without a credential (public routes).
  ee::client::ControlPlaneClient cp(std::string token = {}) const;
  /// A client with the credential of --token, EE_TOKEN, GitHub Actions or `ee login`.
  ee::result<ee::client::ControlPlaneClient> cp_with_credential() const;
  /// Prints the error with a hint; its exit code.
  int fail(ee::Error const& e) const;
};

// The verbs with more to them than one call and a print (ee_cp_flows.cpp).
int run_publish(CpContext const& x);
int run_deploy(CpContext const& x);
int run_verify(CpContext const& x);
int run_login(CpContext const& x);
int run_logout(CpContext const& x);
/// "{"ok":true}" for --json, nothing for --quiet, else `what`; exit 0.
int run_done(CpContext const& x, std::string const& what);
