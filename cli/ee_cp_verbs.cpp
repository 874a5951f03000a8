// The control-plane verbs of `ee`: their flags and help (ee_cp_verbs.hpp). Running them is in
// ee_cp_run.cpp.
#include "ee_cp_commands.hpp"

namespace {

constexpr char kFooter[] =
    "Control-plane verbs (agents, apps, deploy, undeploy, deployments, measurements, settings,\n"
    "verify, login): the CP's URL from --cp-url, else EE_CP_URL. The credential from --token,\n"
    "else EE_TOKEN, else (in a GitHub Actions job with id-token: write) an OIDC token minted for\n"
    "--audience, else the token `ee login` stored ($XDG_CONFIG_HOME/easyenclave/token, mode 0600).\n"
    "Output: aligned tables; --json for scripts; --quiet prints only ids.\n"
    "Exit codes: 0 ok, 1 refused (credential, ownership, not found, conflict, verification failed),\n"
    "2 usage (bad arguments, or the CP refused the request as malformed), 3 unreachable (network,\n"
    "the CP failed or is busy). See docs/cli.md.";

// The flags every control-plane verb takes.
CLI::App* verb(CLI::App& parent, CpCommands& c, char const* name, char const* help) {
  auto* sub = parent.add_subcommand(name, help);
  sub->add_option("--cp-url", c.cp_url, "The control plane, absolute http(s) URL (Env:EE_CP_URL)");
  sub->add_option("--token", c.token, "Bearer credential: admin token or GitHub OIDC token (Env:EE_TOKEN)");
  sub->add_option("--audience", c.audience, "Audience of a GitHub Actions token minted here")->capture_default_str();
  sub->add_flag("--json", c.json, "JSON output (the API's objects)");
  sub->add_flag("--quiet,-q", c.quiet, "Print only ids");
  return sub;
}

}  // namespace

std::shared_ptr<CpCommands> add_cp_commands(CLI::App& app) {
  auto c = std::make_shared<CpCommands>();
  app.footer(kFooter);

  auto* agents = app.add_subcommand("agents", "Agents registered with the control plane")->require_subcommand(1);
  c->agents_list = verb(*agents, *c, "list", "List agents");
  c->agents_list->add_option("--status", c->agent_filter.status, "idle | deployed | down | unverified");
  c->agents_list->add_option("--owner", c->agent_filter.owner, "github:org/NAME or github:user/NAME");
  c->agents_list->add_option("--vm-name", c->agent_filter.vm_name, "The VM's name");
  c->agents_show = verb(*agents, *c, "show", "One agent with its attestation state");
  c->agents_show->add_option("AGENT", c->id, "Agent id")->required();
  c->agents_logs = verb(*agents, *c, "logs", "An agent's log, relayed by the CP (owner's OIDC token or admin)");
  c->agents_logs->add_option("AGENT", c->id, "Agent id")->required();
  c->agents_logs->add_option("--lines,-n", c->lines, "Last N lines (default: the agent's)");
  c->agents_delete = verb(*agents, *c, "delete", "Remove an agent and its tunnel (admin)");
  c->agents_delete->add_option("AGENT", c->id, "Agent id")->required();

  auto* apps = app.add_subcommand("apps", "The app catalog")->require_subcommand(1);
  c->apps_list = verb(*apps, *c, "list", "List apps");
  c->apps_show = verb(*apps, *c, "show", "One app with its versions");
  c->apps_show->add_option("APP", c->id, "App name")->required();
  c->apps_versions = verb(*apps, *c, "versions", "An app's published versions, oldest first");
  c->apps_versions->add_option("APP", c->id, "App name")->required();
  c->apps_publish = verb(*apps, *c, "publish",
                         "Publish a version (a new app with --source-repo; GitHub OIDC token of its repository)");
  auto* p = c->apps_publish;
  auto& v = c->publish.version;
  p->add_option("APP", c->id, "App name (1-63 of [a-z0-9-])")->required();
  p->add_option("--version", v.version, "Version (1-64 of [A-Za-z0-9._+-])")->required();
  p->add_option("--image", v.image, "Image pinned by digest, NAME@sha256:<64 hex>")->required();
  p->add_option("--mrtd", v.mrtd, "MRTD it runs under, 96 hex")->required();
  p->add_option("--rtmr", c->rtmrs, "RTMR0..3 in order, 96 hex each (\"\" skips one)");
  p->add_option("--node-size", v.node_size, "Node size it needs (default: any)");
  p->add_option("--source-repo", c->publish.source_repo, "org/repo: the app is new (POST /apps)");
  p->add_option("--description", c->publish.description, "The new app's description");

  c->deploy = verb(app, *c, "deploy", "Deploy APP[@VERSION] (default the newest version; GitHub OIDC token)");
  c->deploy->add_option("APP", c->id, "APP or APP@VERSION")->required();
  c->deploy->add_option("--agent", c->agent, "Deploy to this agent (default: the CP chooses)");
  c->deploy->add_option("--node-size", c->node_size, "Only agents of this size");
  c->deploy->add_option("--datacenter", c->datacenter, "Only agents in this datacenter (CLOUD:ZONE)");
  c->deploy->add_flag("--dry-run", c->dry_run, "Say which agents would get it; deploy nothing");
  c->deploy->add_flag("--wait", c->wait, "Wait until the deployment runs, fails or stops");
  c->deploy->add_option("--wait-seconds", c->wait_seconds, "Give up waiting after this long")->capture_default_str();
  c->undeploy = verb(app, *c, "undeploy", "Stop the deployment on an agent (owner's OIDC token or admin)");
  c->undeploy->add_option("AGENT", c->id, "Agent id")->required();

  auto* deployments = app.add_subcommand("deployments", "Deployments")->require_subcommand(1);
  c->deployments_list = verb(*deployments, *c, "list", "List deployments, newest first");
  c->deployments_list->add_option("--agent", c->deployment_filter.agent_id, "Of this agent");
  c->deployments_list->add_option("--app", c->deployment_filter.app_name, "Of this app");
  c->deployments_list->add_option("--status", c->deployment_filter.status,
                                  "queued | pending | deploying | running | failed | stopped");
  c->deployments_list->add_option("--limit", c->deployment_filter.limit, "At most N (1-10000)");
  c->deployments_show = verb(*deployments, *c, "show", "One deployment");
  c->deployments_show->add_option("DEPLOYMENT", c->id, "Deployment id")->required();

  auto* m = app.add_subcommand("measurements", "MRTDs the control plane trusts")->require_subcommand(1);
  c->measurements_list = verb(*m, *c, "list", "List trusted MRTDs (public)");
  c->measurements_add = verb(*m, *c, "add", "Trust an MRTD (admin)");
  c->measurements_add->add_option("MRTD", c->measurement.mrtd, "96 hex")->required();
  c->measurements_add->add_option("--type", c->measurement.type, "agent | proxy")->capture_default_str();
  c->measurements_add->add_option("--node-size", c->measurement.node_size, "Only for this node size");
  c->measurements_add->add_option("--note", c->measurement.note, "Why (at most 512 characters)");
  c->measurements_remove = verb(*m, *c, "remove", "Stop trusting an MRTD (admin)");
  c->measurements_remove->add_option("MRTD", c->id, "96 hex")->required();

  auto* s = app.add_subcommand("settings", "The control plane's settings at run time (admin)")->require_subcommand(1);
  c->settings_list = verb(*s, *c, "list", "Every setting with its value and source");
  c->settings_list->add_option("--group", c->group, "Only this group");
  c->settings_get = verb(*s, *c, "get", "One setting");
  c->settings_get->add_option("KEY", c->id, "Setting name")->required();
  c->settings_set = verb(*s, *c, "set", "Store a value (wins over flag, environment and default)");
  c->settings_set->add_option("KEY", c->id, "Setting name")->required();
  c->settings_set->add_option("VALUE", c->value, "Value")->required();
  c->settings_unset = verb(*s, *c, "unset", "Remove the stored value");
  c->settings_unset->add_option("KEY", c->id, "Setting name")->required();

  c->verify = verb(app, *c, "verify", "Verify what runs behind AGENT, APP (or org/repo) or URL, check by check");
  c->verify->add_option("TARGET", c->id, "Agent id, app name, org/repo, or the agent's https:// URL")->required();
  c->verify->add_option("--version", c->version, "Accept only this published version");
  c->verify->add_option("--root", c->root, "Trusted root certificate, PEM or DER (default: Intel SGX Root CA)");
  c->verify->add_option("--collateral", c->collateral, "Collateral bundle JSON (default: fetched from Intel PCS)");
  c->verify->add_option("--allow-tcb", c->allow_tcb, "Acceptable TCB statuses")->capture_default_str();
  c->verify->add_flag("--allow-keyless", c->allow_keyless, "Accept legacy agents that bind no key");

  c->login = verb(app, *c, "login", "Store a token (--token, else one line on stdin) for later verbs, mode 0600");
  c->logout = verb(app, *c, "logout", "Remove the stored token");
  return c;
}
