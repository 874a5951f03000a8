#pragma once
// How the control-plane verbs of `ee` print: aligned tables and key/value blocks for people,
// the api/ JSON for scripts, and errors with what to do next. Exit codes: 0 ok, 1 refused,
// 2 usage, 3 unreachable.
#include <easyenclave/api/catalog.hpp>
#include <easyenclave/api/deploy.hpp>
#include <easyenclave/client/connect.hpp>
#include <easyenclave/client/control_plane.hpp>
#include <easyenclave/error.hpp>

#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace ee::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

/// The exit code of `e`: invalid input 2; unauthenticated, forbidden, not found, conflict 1;
/// upstream failures and unavailability 3.
int exit_code_of(Error const& e);

/// Prints "ee: <message> (<code>)" and a "hint:" line saying what to do next; the exit code.
int report_error(Error const& e, std::string const& cp_url);

/// A table: a header row and rows, columns padded to their widest cell, two spaces apart.
void print_table(std::ostream& out, std::vector<std::string> const& header,
                 std::vector<std::vector<std::string>> const& rows);
/// "key:   value" lines, keys padded.
void print_fields(std::ostream& out, std::vector<std::pair<std::string, std::string>> const& fields);

/// RFC 3339 UTC, or "-" when unset.
std::string when(std::chrono::system_clock::time_point t);
/// "12s", "3m", "2h", "4d" ago; "-" when unset.
std::string ago(std::chrono::system_clock::time_point t);

void print_agents(std::ostream& out, std::vector<api::AgentView> const& agents);
void print_agent(std::ostream& out, api::AgentView const& a);
void print_apps(std::ostream& out, std::vector<api::AppView> const& apps);
void print_app(std::ostream& out, api::AppView const& app);
void print_versions(std::ostream& out, std::vector<api::AppVersionView> const& versions);
void print_deployments(std::ostream& out, std::vector<api::DeploymentView> const& list);
void print_deployment(std::ostream& out, api::DeploymentView const& d);
void print_deploy(std::ostream& out, api::DeployResponse const& r);
void print_measurements(std::ostream& out, std::vector<api::TrustedMeasurementView> const& list);
void print_settings(std::ostream& out, std::vector<client::SettingView> const& list);
void print_setting(std::ostream& out, client::SettingView const& s);
void print_logs(std::ostream& out, client::AgentLogs const& logs);

}  // namespace ee::cli
