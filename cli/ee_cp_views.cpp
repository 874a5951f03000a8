// People's views of the control plane's objects for `ee` (ee_cp_output.hpp): tables of lists,
// "key: value" blocks of one object.
#include "ee_cp_output.hpp"

#include <ostream>

namespace ee::cli {
namespace {

std::string dash(std::string const& s) { return s.empty() ? "-" : s; }
std::string yes_no(bool b) { return b ? "yes" : "no"; }
std::string short_hex(std::string const& s) { return s.size() > 16 ? s.substr(0, 16) + "..." : dash(s); }


}  // namespace

void print_agents(std::ostream& out, std::vector<api::AgentView> const& agents) {
  std::vector<std::vector<std::string>> rows;
  for (auto const& a : agents) {
    rows.push_back({a.agent_id, a.vm_name, dash(a.owner), a.status, yes_no(a.verified), a.health, dash(a.node_size),
                    dash(a.deployment_id), ago(a.last_heartbeat_at)});
  }
  print_table(out, {"AGENT", "VM", "OWNER", "STATUS", "VERIFIED", "HEALTH", "SIZE", "DEPLOYMENT", "HEARTBEAT"}, rows);
}

void print_agent(std::ostream& out, api::AgentView const& a) {
  std::vector<std::pair<std::string, std::string>> f{
      {"agent", a.agent_id},         {"vm name", a.vm_name},
      {"owner", dash(a.owner)},      {"status", a.status},
      {"verified", yes_no(a.verified) + (a.verified ? "" : " (" + a.unverified_reason + ")")},
      {"health", a.health},          {"node size", dash(a.node_size)},
      {"datacenter", dash(a.datacenter)},
      {"hostname", dash(a.hostname)}, {"agent url", dash(a.agent_url)},
      {"mrtd", dash(a.mrtd)},        {"tcb status", dash(a.tcb_status)},
      {"deployment", dash(a.deployment_id)},
      {"reported", dash(a.reported_status) + (a.reported_digest.empty() ? "" : " " + a.reported_digest)},
      {"registered", when(a.registered_at)},
      {"last heartbeat", when(a.last_heartbeat_at) + " (" + ago(a.last_heartbeat_at) + ")"}};
  print_fields(out, f);
}

void print_apps(std::ostream& out, std::vector<api::AppView> const& apps) {
  std::vector<std::vector<std::string>> rows;
  for (auto const& a : apps) rows.push_back({a.name, dash(a.owner), a.source_repo, when(a.created_at), dash(a.description)});
  print_table(out, {"APP", "OWNER", "SOURCE", "CREATED", "DESCRIPTION"}, rows);
}

void print_versions(std::ostream& out, std::vector<api::AppVersionView> const& versions) {
  std::vector<std::vector<std::string>> rows;
  for (auto const& v : versions) {
    rows.push_back({v.version, v.image, short_hex(v.mrtd), dash(v.node_size), v.published_by, when(v.published_at)});
  }
  print_table(out, {"VERSION", "IMAGE", "MRTD", "SIZE", "PUBLISHED BY", "PUBLISHED"}, rows);
}

void print_app(std::ostream& out, api::AppView const& app) {
  print_fields(out, {{"app", app.name},
                     {"description", dash(app.description)},
                     {"owner", dash(app.owner)},
                     {"source", app.source_repo},
                     {"created", when(app.created_at)}});
  if (app.versions) {
    out << "\n";
    print_versions(out, *app.versions);
  }
}

void print_deployments(std::ostream& out, std::vector<api::DeploymentView> const& list) {
  std::vector<std::vector<std::string>> rows;
  for (auto const& d : list) {
    rows.push_back({d.deployment_id, d.app_name, d.version, d.agent_id, d.status, ago(d.updated_at), dash(d.detail)});
  }
  print_table(out, {"DEPLOYMENT", "APP", "VERSION", "AGENT", "STATUS", "UPDATED", "DETAIL"}, rows);
}

void print_deployment(std::ostream& out, api::DeploymentView const& d) {
  std::vector<std::pair<std::string, std::string>> f{
      {"deployment", d.deployment_id}, {"app", d.app_name}, {"version", d.version}, {"agent", d.agent_id},
      {"image", d.image},              {"status", d.status}, {"detail", dash(d.detail)},
      {"requested by", d.requested_by}, {"created", when(d.created_at)}, {"updated", when(d.updated_at)}};
  if (!d.replaces.empty()) f.emplace_back("replaces", d.replaces);
  if (!d.rollout_id.empty()) f.emplace_back("rollout", d.rollout_id + " step " + std::to_string(d.rollout_step));
  print_fields(out, f);
}

void print_deploy(std::ostream& out, api::DeployResponse const& r) {
  std::vector<std::vector<std::string>> rows;
  for (auto const& s : r.steps) rows.push_back({dash(s.deployment_id), s.agent_id, s.status, dash(s.replaces)});
  if (rows.empty()) rows.push_back({dash(r.deployment_id), r.agent_id, r.status, "-"});
  print_table(out, {"DEPLOYMENT", "AGENT", "STATUS", "REPLACES"}, rows);
  if (!r.rollout_id.empty()) out << "rollout " << r.rollout_id << "\n";
}

void print_measurements(std::ostream& out, std::vector<api::TrustedMeasurementView> const& list) {
  std::vector<std::vector<std::string>> rows;
  for (auto const& m : list) rows.push_back({m.mrtd, m.type, dash(m.node_size), when(m.added_at), dash(m.note)});
  print_table(out, {"MRTD", "TYPE", "SIZE", "ADDED", "NOTE"}, rows);
}

void print_settings(std::ostream& out, std::vector<client::SettingView> const& list) {
  std::vector<std::vector<std::string>> rows;
  for (auto const& s : list) {
    rows.push_back({s.name, s.group, s.value.empty() ? "\"\"" : s.value, s.source,
                    s.pending_restart ? "restart" : (s.reloadable ? "live" : "-")});
  }
  print_table(out, {"SETTING", "GROUP", "VALUE", "SOURCE", "APPLIES"}, rows);
}

void print_setting(std::ostream& out, client::SettingView const& s) {
  std::vector<std::pair<std::string, std::string>> f{
      {"setting", s.name}, {"group", s.group}, {"type", s.type}, {"value", s.value}, {"source", s.source},
      {"default", s.default_value ? *s.default_value : "(secret)"},
      {"applies", s.reloadable ? "within seconds" : (s.pending_restart ? "at the next start (pending)" : "at start")},
      {"storable", yes_no(s.storable)}, {"flag", dash(s.flag)}, {"env", dash(s.env)}, {"help", s.help}};
  if (!s.updated_by.empty()) f.emplace_back("updated", s.updated_at + " by " + s.updated_by);
  print_fields(out, f);
}

void print_logs(std::ostream& out, client::AgentLogs const& logs) {
  if (logs.dropped > 0) out << "(" << logs.dropped << " earlier lines dropped)\n";
  for (auto const& l : logs.lines) out << l.at << " " << l.source << " " << l.text << "\n";
}

}  // namespace ee::cli
