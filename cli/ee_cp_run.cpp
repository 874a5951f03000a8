// Running the control-plane verbs of `ee` (ee_cp_verbs.hpp): resolve the CP's URL and the
// credential, make one client::ControlPlaneClient call, print. The verbs with more steps
// (publish, deploy, verify, login) are in ee_cp_flows.cpp.
#include "ee_cp_commands.hpp"
#include "ee_cp_output.hpp"

#include <easyenclave/block_on.hpp>
#include <easyenclave/client/settings.hpp>
#include <easyenclave/http/https_client.hpp>

#include <iostream>

using namespace ee;
using ee::cli::report_error;

client::ControlPlaneClient CpContext::cp(std::string token) const {
  return client::ControlPlaneClient({.url = url, .token = std::move(token), .http = http, .request = {}});
}

result<client::ControlPlaneClient> CpContext::cp_with_credential() const {
  auto credential = block_on(client::resolve_credential(*http, {.argument = c.token, .env = env, .audience = c.audience}));
  if (!credential) return credential.error();
  return cp(std::move(credential->token));
}

int CpContext::fail(Error const& e) const { return report_error(e, url); }

int run_done(CpContext const& x, std::string const& what) {
  if (x.c.json) {
    std::cout << "{\"ok\":true}\n";
  } else if (!x.c.quiet) {
    std::cout << what << "\n";
  }
  return cli::kExitOk;
}

namespace {

using Context = CpContext;

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

int run(Context const& x) {
  auto const& c = x.c;
  if (*c.login) return run_login(x);
  if (*c.logout) return run_logout(x);
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
  if (*c.verify) return run_verify(x);
  if (*c.apps_publish) return run_publish(x);
  if (*c.deploy) return run_deploy(x);

  // The rest take a credential.
  auto cp = x.cp_with_credential();
  if (!cp) return x.fail(cp.error());
  if (*c.agents_logs) {
    return show(x, block_on(cp->agent_logs(c.id, c.lines)), cli::print_logs,
                [](std::ostream& out, client::AgentLogs const& l) { for (auto const& line : l.lines) out << line.text << "\n"; });
  }
  if (*c.agents_delete) {
    auto r = block_on(cp->remove_agent(c.id));
    return r ? run_done(x, "removed agent " + c.id) : x.fail(r.error());
  }
  if (*c.undeploy) return show_view(x, block_on(cp->undeploy(c.id)), cli::print_deployment);
  if (*c.measurements_add) {
    return show_view(x, block_on(cp->add_measurement(c.measurement)),
                     +[](std::ostream& out, api::TrustedMeasurementView const& m) { cli::print_measurements(out, {m}); });
  }
  if (*c.measurements_remove) {
    auto r = block_on(cp->remove_measurement(c.id));
    return r ? run_done(x, "removed " + c.id) : x.fail(r.error());
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
  return run(CpContext{c, *url, std::move(*http), env});
}
