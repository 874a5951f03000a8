// Printing for the control-plane verbs of `ee` (ee_cp_output.hpp).
#include "ee_cp_output.hpp"

#include <easyenclave/http/error.hpp>
#include <easyenclave/time.hpp>

#include <algorithm>
#include <iostream>
#include <ostream>

namespace ee::cli {

int exit_code_of(Error const& e) {
  switch (e.cond()) {
    case condition::invalid_input:
      return kExitUsage;
    case condition::unauthenticated:
    case condition::forbidden:
    case condition::not_found:
    case condition::conflict:
      return kExitRefused;
    default:
      return kExitUnreachable;
  }
}

namespace {

// What to do next, by the error's code first and its condition second.
std::string hint_for(Error const& e, std::string const& cp_url) {
  using client::errc;
  if (e == errc::cp_unauthenticated || e == errc::credentials_unavailable) {
    return "give a credential: --token, EE_TOKEN, `ee login` (the operator's admin token), or run in a "
           "GitHub Actions job with `permissions: id-token: write`";
  }
  if (e == errc::cp_forbidden) {
    return "this credential may not do that: admin routes take the admin token (`ee login`); publish and "
           "deploy take a GitHub Actions token of the owning repository";
  }
  if (e == errc::cp_not_found) return "check the name or id with the matching `list` verb (e.g. `ee agents list`)";
  if (e == errc::cp_conflict) return "the control plane's state changed or the item exists; look with the `show` verb";
  if (e == errc::cp_refused_input) return "fix the value the message names (see the verb's --help)";
  if (e == errc::cp_unavailable) return "the control plane is busy or shutting down; retry in a few seconds";
  if (e == errc::cp_failed || e == errc::cp_answer_malformed) {
    return "the control plane failed; retry, or give its operator the request id above";
  }
  if (e.code().category() == make_error_code(http::errc::timeout).category()) {
    return "is the control plane at " + (cp_url.empty() ? std::string("--cp-url") : cp_url) +
           " running and reachable? set --cp-url or EE_CP_URL";
  }
  switch (e.cond()) {
    case condition::invalid_input:
      return "see `ee --help` and the verb's --help";
    case condition::forbidden:
    case condition::unauthenticated:
      return "the verification failed at the check named above; see docs/connect.md for what it protects against";
    case condition::not_found:
      return "check the name or id with the matching `list` verb";
    default:
      return "retry; if it persists, check the network and the control plane's health (`ee agents list`)";
  }
}

std::size_t width(std::string const& s) {
  // Columns count code points, not bytes (names are ASCII; measurements are hex).
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string dash(std::string const& s) { return s.empty() ? "-" : s; }
std::string yes_no(bool b) { return b ? "yes" : "no"; }
std::string short_hex(std::string const& s) { return s.size() > 16 ? s.substr(0, 16) + "..." : dash(s); }

}  // namespace

int report_error(Error const& e, std::string const& cp_url) {
  std::cerr << "ee: " << e.message() << " (" << e.id() << ")\n";
  std::cerr << "hint: " << hint_for(e, cp_url) << "\n";
  return exit_code_of(e);
}

void print_table(std::ostream& out, std::vector<std::string> const& header,
                 std::vector<std::vector<std::string>> const& rows) {
  std::vector<std::size_t> widths(header.size(), 0);
  auto measure = [&widths](std::vector<std::string> const& row) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], width(row[i]));
  };
  measure(header);
  for (auto const& row : rows) measure(row);
  auto line = [&](std::vector<std::string> const& row) {
    std::string text;
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      text += row[i];
      if (i + 1 < row.size()) text += std::string(widths[i] - width(row[i]) + 2, ' ');
    }
    out << text << "\n";
  };
  line(header);
  for (auto const& row : rows) line(row);
}

void print_fields(std::ostream& out, std::vector<std::pair<std::string, std::string>> const& fields) {
  std::size_t w = 0;
  for (auto const& [k, v] : fields) w = std::max(w, k.size());
  for (auto const& [k, v] : fields) out << k << ":" << std::string(w - k.size() + 2, ' ') << v << "\n";
}

std::string when(std::chrono::system_clock::time_point t) {
  return t == std::chrono::system_clock::time_point{} ? "-" : format_time(t);
}

std::string ago(std::chrono::system_clock::time_point t) {
  if (t == std::chrono::system_clock::time_point{}) return "-";
  auto s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - t).count();
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s ago";
  if (s < 7200) return std::to_string(s / 60) + "m ago";
  if (s < 172800) return std::to_string(s / 3600) + "h ago";
  return std::to_string(s / 86400) + "d ago";
}

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
