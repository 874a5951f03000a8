// Running the control-plane verbs of `ee` (ee_cp_verbs.hpp): resolve the CP's URL and the
// credential, make one client::ControlPlaneClient call (or client::attempt for verify), print.
#include "ee_cp_commands.hpp"
#include "ee_cp_output.hpp"

#include <easyenclave/block_on.hpp>
#include <easyenclave/client/settings.hpp>
#include <easyenclave/file.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/tdx/collateral.hpp>

#include <iostream>

namespace {

using namespace ee;
using ee::cli::report_error;

struct Context {
  CpCommands const& c;
  std::string url;
  std::shared_ptr<http::Client> http;
  settings::Environment env;

  client::ControlPlaneClient cp(std::string token = {}) const {
    return client::ControlPlaneClient({.url = url, .token = std::move(token), .http = http, .request = {}});
  }
  // The client with the credential of --token, EE_TOKEN, GitHub Actions or `ee login`.
  result<client::ControlPlaneClient> cp_with_credential() const {
    auto credential = block_on(client::resolve_credential(*http, {.argument = c.token, .env = env, .audience = c.audience}));
    if (!credential) return credential.error();
    return cp(std::move(credential->token));
  }
  int fail(Error const& e) const { return report_error(e, url); }
};

// Prints `value` as JSON, ids (--quiet) or people's text.
template <class T, class Text, class Ids>
int show(Context const& x, result<T> const& value, Text text, Ids ids) {
  if (!value) return x.fail(value.error());
  if (x.c.json) {
    std::cout << client::to_json(*value) << "\n";
  } else if (x.c.quiet) {
    ids(std::cout, *value);
  } else {
    text(std::cout, *value);
  }
  return cli::kExitOk;
}

template <class T>
int show_view(Context const& x, result<T> const& value, void (*text)(std::ostream&, T const&)) {
  if (!value) return x.fail(value.error());
  if (x.c.json) {
    std::cout << api::to_json(*value) << "\n";
  } else {
    text(std::cout, *value);
  }
  return cli::kExitOk;
}

// A JSON array of the API's objects, one to_json each (for types without a list writer).
template <class T>
std::string json_array(std::vector<T> const& list) {
  std::string out = "[";
  for (auto const& item : list) out += (out.size() > 1 ? "," : "") + api::to_json(item);
  return out + "]";
}

template <class T, class Id>
int show_list(Context const& x, result<std::vector<T>> const& list, void (*text)(std::ostream&, std::vector<T> const&),
              Id id) {
  if (!list) return x.fail(list.error());
  if (x.c.json) {
    std::cout << json_array(*list) << "\n";
  } else if (x.c.quiet) {
    for (auto const& item : *list) std::cout << id(item) << "\n";
  } else {
    text(std::cout, *list);
  }
  return cli::kExitOk;
}

int done(Context const& x, std::string const& what) {
  if (x.c.json) {
    std::cout << "{\"ok\":true}\n";
  } else if (!x.c.quiet) {
    std::cout << what << "\n";
  }
  return cli::kExitOk;
}

int publish(Context const& x) {
  auto cp = x.cp_with_credential();
  if (!cp) return x.fail(cp.error());
  auto request = x.c.publish;
  request.name = x.c.id;
  if (x.c.rtmrs.size() > 4) return x.fail(Error(errc::invalid_value, "--rtmr: at most four (RTMR0..3)"));
  for (std::size_t i = 0; i < x.c.rtmrs.size(); ++i) request.version.rtmrs[i] = x.c.rtmrs[i];
  if (request.source_repo.empty()) {
    auto added = block_on(cp->add_version(request.name, request.version));
    if (!added && added.error() == client::errc::cp_not_found) {
      return x.fail(Error(client::errc::cp_not_found, added.error().message() + "; a new app needs --source-repo org/repo"));
    }
    if (!added) return x.fail(added.error());
    if (x.c.json) {
      std::cout << api::to_json(*added) << "\n";
    } else {
      std::cout << (x.c.quiet ? "" : "published ") << added->app_name << "@" << added->version << "\n";
    }
    return cli::kExitOk;
  }
  auto created = block_on(cp->publish(request));
  if (!created) return x.fail(created.error());
  if (x.c.json) {
    std::cout << api::to_json(*created) << "\n";
  } else {
    std::cout << (x.c.quiet ? "" : "published ") << created->name << "@" << request.version.version << "\n";
  }
  return cli::kExitOk;
}

int deploy(Context const& x) {
  api::DeployRequest request;
  auto const at = x.c.id.find('@');
  request.app_name = x.c.id.substr(0, at);
  if (at != std::string::npos) request.version = x.c.id.substr(at + 1);
  auto cp = x.cp_with_credential();
  if (!cp) return x.fail(cp.error());
  if (request.version.empty()) {  // the newest published version
    auto app = block_on(cp->app(request.app_name));
    if (!app) return x.fail(app.error());
    if (!app->versions || app->versions->empty()) {
      return x.fail(Error(client::errc::no_published_version,
                          "app " + request.app_name + " has no version; publish one with `ee apps publish`"));
    }
    request.version = app->versions->back().version;
  }
  request.agent_id = x.c.agent;
  request.node_size = x.c.node_size;
  request.datacenter = x.c.datacenter;
  request.dry_run = x.c.dry_run;
  auto answer = block_on(cp->deploy(request));
  if (!answer) return x.fail(answer.error());
  if (!x.c.wait || x.c.dry_run) {
    if (x.c.json) {
      std::cout << api::to_json(*answer) << "\n";
    } else if (x.c.quiet) {
      std::cout << answer->deployment_id << "\n";
    } else {
      cli::print_deploy(std::cout, *answer);
    }
    return cli::kExitOk;
  }
  std::vector<api::DeployStep> steps = answer->steps;
  if (steps.empty()) steps.push_back({answer->deployment_id, answer->agent_id, answer->status, ""});
  int code = cli::kExitOk;
  std::vector<api::DeploymentView> settled;
  for (auto const& step : steps) {
    if (step.deployment_id.empty()) continue;
    client::WaitOptions wait;
    wait.timeout = std::chrono::seconds(x.c.wait_seconds);
    wait.on_change = [&x](api::DeploymentView const& d, std::chrono::milliseconds waited) {
      if (x.c.quiet) return;
      std::cerr << "waiting for deployment " << d.deployment_id << " (" << d.app_name << "@" << d.version
                << ") on agent " << d.agent_id << ": " << d.status << (d.detail.empty() ? "" : " - " + d.detail)
                << " after " << waited.count() / 1000 << "s\n";
    };
    auto final_state = block_on(client::wait_for_deployment(*cp, step.deployment_id, wait));
    if (!final_state) return x.fail(final_state.error());
    if (final_state->status != "running") {
      std::cerr << "ee: deployment " << final_state->deployment_id << " " << final_state->status
                << (final_state->detail.empty() ? "" : ": " + final_state->detail) << "\n"
                << "hint: read the agent's log with `ee agents logs " << final_state->agent_id << "`\n";
      code = cli::kExitRefused;
    }
    settled.push_back(std::move(*final_state));
    if (code != cli::kExitOk) break;
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

std::string trim_slash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

int verify(Context const& x) {
  auto cp = x.cp();
  std::string target = x.c.id, agent_id, version = x.c.version;
  if (target.starts_with("https://") || target.starts_with("http://")) {
    auto agents = block_on(cp.agents());
    if (!agents) return x.fail(agents.error());
    for (auto const& a : *agents) {
      if ((!a.hostname.empty() && "https://" + a.hostname == trim_slash(target)) ||
          (!a.agent_url.empty() && trim_slash(a.agent_url) == trim_slash(target))) {
        agent_id = a.agent_id;
      }
    }
    if (agent_id.empty()) {
      return x.fail(Error(client::errc::no_running_agent,
                          "no agent of " + x.url + " answers at " + target + "; see `ee agents list`"));
    }
  } else if (target.find('/') == std::string::npos) {
    auto agent = block_on(cp.agent(target));
    if (agent) agent_id = target;
    if (!agent && agent.error() != client::errc::cp_not_found) return x.fail(agent.error());
  }
  if (!agent_id.empty()) {  // verify the app the agent runs
    auto agent = block_on(cp.agent(agent_id));
    if (!agent) return x.fail(agent.error());
    if (agent->deployment_id.empty()) {
      return x.fail(Error(client::errc::no_running_agent,
                          "agent " + agent_id + " runs no deployment; deploy to it with `ee deploy APP --agent " +
                              agent_id + "`"));
    }
    auto d = block_on(cp.deployment(agent->deployment_id));
    if (!d) return x.fail(d.error());
    target = d->app_name;
  }
  client::ConnectOptions o;
  o.cp_url = x.url;
  o.version = version;
  o.agent_id = agent_id;
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
  auto attempt = block_on(client::attempt(target, std::move(o)));
  auto const verified = attempt.connection.has_value();
  auto const endpoint = verified ? attempt.connection->endpoint() : std::string();
  if (x.c.json) {
    std::cout << client::to_json(target, attempt.report, verified, endpoint) << "\n";
  } else if (x.c.quiet) {
    if (verified) std::cout << endpoint << "\n";
  } else {
    std::cout << (verified ? attempt.connection->report() : attempt.report.text());
  }
  if (verified) return cli::kExitOk;
  return report_error(attempt.error, x.url);
}

int login(Context const& x) {
  auto const path = client::stored_token_path(x.env);
  if (path.empty()) return x.fail(Error(errc::invalid_value, "neither XDG_CONFIG_HOME nor HOME is set"));
  std::string token = x.c.token;
  if (token.empty() && !std::getline(std::cin, token)) {
    return x.fail(Error(errc::invalid_value, "no token: give --token or one line on stdin"));
  }
  if (auto stored = client::store_token(path, token); !stored) return x.fail(stored.error());
  return done(x, "token stored in " + path.string() + " (mode 0600)");
}

int logout(Context const& x) {
  auto const path = client::stored_token_path(x.env);
  auto removed = client::remove_stored_token(path);
  if (!removed) return x.fail(removed.error());
  return done(x, *removed ? "removed " + path.string() : "no stored token at " + path.string());
}

int run(Context const& x) {
  auto const& c = x.c;
  if (*c.login) return login(x);
  if (*c.logout) return logout(x);
  if (x.url.empty()) {
    return x.fail(Error(errc::invalid_value, "the control plane's URL is not set: give --cp-url URL or set EE_CP_URL"));
  }
  auto const agent_id = [](api::AgentView const& a) { return a.agent_id; };
  if (*c.agents_list) return show_list(x, block_on(x.cp().agents(c.agent_filter)), cli::print_agents, agent_id);
  if (*c.agents_show) return show_view(x, block_on(x.cp().agent(c.id)), cli::print_agent);
  if (*c.apps_list) {
    return show_list(x, block_on(x.cp().apps()), cli::print_apps, [](api::AppView const& a) { return a.name; });
  }
  if (*c.apps_show) return show_view(x, block_on(x.cp().app(c.id)), cli::print_app);
  if (*c.apps_versions) {
    auto app = block_on(x.cp().app(c.id));
    if (!app) return x.fail(app.error());
    return show_list(x, result<std::vector<api::AppVersionView>>(app->versions.value_or(std::vector<api::AppVersionView>{})),
                     cli::print_versions, [](api::AppVersionView const& v) { return v.version; });
  }
  auto const deployment_id = [](api::DeploymentView const& d) { return d.deployment_id; };
  if (*c.deployments_list) {
    return show_list(x, block_on(x.cp().deployments(c.deployment_filter)), cli::print_deployments, deployment_id);
  }
  if (*c.deployments_show) return show_view(x, block_on(x.cp().deployment(c.id)), cli::print_deployment);
  if (*c.measurements_list) {
    return show_list(x, block_on(x.cp().measurements()), cli::print_measurements,
                     [](api::TrustedMeasurementView const& m) { return m.mrtd; });
  }
  if (*c.verify) return verify(x);
  if (*c.apps_publish) return publish(x);
  if (*c.deploy) return deploy(x);

  // The rest take a credential.
  auto cp = x.cp_with_credential();
  if (!cp) return x.fail(cp.error());
  if (*c.agents_logs) {
    return show(x, block_on(cp->agent_logs(c.id, c.lines)), cli::print_logs,
                [](std::ostream& out, client::AgentLogs const& l) { for (auto const& line : l.lines) out << line.text << "\n"; });
  }
  if (*c.agents_delete) {
    auto r = block_on(cp->remove_agent(c.id));
    return r ? done(x, "removed agent " + c.id) : x.fail(r.error());
  }
  if (*c.undeploy) return show_view(x, block_on(cp->undeploy(c.id)), cli::print_deployment);
  if (*c.measurements_add) {
    return show_view(x, block_on(cp->add_measurement(c.measurement)),
                     +[](std::ostream& out, api::TrustedMeasurementView const& m) { cli::print_measurements(out, {m}); });
  }
  if (*c.measurements_remove) {
    auto r = block_on(cp->remove_measurement(c.id));
    return r ? done(x, "removed " + c.id) : x.fail(r.error());
  }
  auto const setting_ids = [](std::ostream& out, auto const& v) {
    if constexpr (requires { v.name; }) {
      out << v.name << "\n";
    } else {
      for (auto const& s : v) out << s.name << "\n";
    }
  };
  if (*c.settings_list) return show(x, block_on(cp->settings(c.group)), cli::print_settings, setting_ids);
  if (*c.settings_get) return show(x, block_on(cp->setting(c.id)), cli::print_setting, setting_ids);
  if (*c.settings_set) return show(x, block_on(cp->set_setting(c.id, c.value)), cli::print_setting, setting_ids);
  if (*c.settings_unset) return show(x, block_on(cp->unset_setting(c.id)), cli::print_setting, setting_ids);
  return cli::kExitUsage;
}

}  // namespace

std::optional<int> run_cp_command(CpCommands const& c) {
  bool chosen = false;
  for (auto const* sub : {c.agents_list, c.agents_show, c.agents_logs, c.agents_delete, c.apps_list, c.apps_show,
                          c.apps_publish, c.apps_versions, c.deploy, c.undeploy, c.deployments_list,
                          c.deployments_show, c.measurements_list, c.measurements_add, c.measurements_remove,
                          c.settings_list, c.settings_get, c.settings_set, c.settings_unset, c.verify, c.login,
                          c.logout}) {
    chosen = chosen || (sub != nullptr && sub->parsed());
  }
  if (!chosen) return std::nullopt;
  auto const env = settings::process_environment();
  auto url = client::resolve_cp_url(c.cp_url, env);
  if (!url) return report_error(url.error(), c.cp_url);
  auto http = http::make_https_client();
  if (!http) return report_error(http.error(), *url);
  return run(Context{c, *url, std::move(*http), env});
}
