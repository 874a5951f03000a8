#pragma once
/// @file A typed client of the control plane's HTTP API (docs/api.md): agents, the app catalog,
/// deploys, deployments, trusted measurements and the operator's settings, read and written
/// through the `api/` wire types. Shared by `ee` (cli/ee_cp*.cpp) and the Python package
/// (`easyenclave.ControlPlane`).
///
/// Every method is an Asio coroutine over the injected `http::Client`; synchronous callers use
/// `ee::block_on`. A non-2xx answer becomes a `client::errc::cp_*` error whose condition follows
/// the status (400 invalid_input, 401 unauthenticated, 403 forbidden, 404 not_found,
/// 409 conflict, 429/503 unavailable, others upstream_failure) and whose message starts with
/// the CP's own code and message ("registry.not_found: no agent 'x' (request 5b0c...)");
/// `cp_error_code` reads that code back. Transport failures are the transport's `http::errc`
/// codes (connect_failed, timeout, ...). A 2xx answer that is not the documented JSON is
/// `cp_answer_malformed`. Nothing here throws except std::bad_alloc.
///
/// The credential (`token`) is sent as `Authorization: Bearer` on every request when set: the
/// operator's admin token or a GitHub Actions OIDC token, whichever the routes need
/// (docs/api.md, "Who may call what"). `resolve_credential` finds one the way `ee` does.
#include <easyenclave/api/catalog.hpp>
#include <easyenclave/api/deploy.hpp>
#include <easyenclave/client/connect.hpp>
#include <easyenclave/client/error.hpp>
#include <easyenclave/error.hpp>
#include <easyenclave/http/client.hpp>
#include <easyenclave/settings.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ee::client {

/// The CP's own error code when `e` came from a CP error body ("registry.not_found"), else
/// empty. Never throws (except bad_alloc).
std::string cp_error_code(Error const& e);

/// `GET /api/v1/agents` filters; empty: not filtered.
struct AgentFilter {
  std::string status{};
  std::string vm_name{};
  std::string owner{};
};

/// `GET /api/v1/deployments` filters; empty: not filtered.
struct DeploymentFilter {
  std::string agent_id{};
  std::string app_name{};
  std::string status{};
  std::optional<std::size_t> limit{};  ///< 1-10000
  std::size_t offset = 0;
};

/// One line of an agent's log as `GET /api/v1/agents/{id}/logs` relays it.
struct AgentLogLine {
  std::int64_t seq = 0;
  std::string at{};      ///< RFC 3339, as the agent wrote it
  std::string source{};  ///< "agent", "workload", ...
  std::string text{};
};

struct AgentLogs {
  std::vector<AgentLogLine> lines{};
  std::int64_t dropped = 0;  ///< lines the agent's buffer lost before the first one
};
std::string to_json(AgentLogs const& logs);

/// `POST /api/v1/admin/trusted-mrtds`.
struct MeasurementRequest {
  std::string mrtd{};         ///< 96 hex
  std::string type = "agent";  ///< "agent" or "proxy"
  std::string node_size{};    ///< empty: any
  std::string note{};
};

/// A setting as `GET /api/v1/admin/settings` shows it. A secret's `value` is "set" or "unset".
struct SettingView {
  std::string name{};
  std::string group{};
  std::string type{};
  std::string value{};
  std::string source{};  ///< where the value came from: "default", "environment", "flag", "database"
  std::optional<std::string> default_value{};  ///< absent for secrets
  bool secret = false;
  bool reloadable = false;
  bool storable = false;
  bool pending_restart = false;
  std::string flag{};
  std::string env{};
  std::string choices{};
  std::string help{};
  std::string updated_by{};
  std::string updated_at{};  ///< RFC 3339; empty when not stored
};
std::string to_json(SettingView const& v);
std::string to_json(std::vector<SettingView> const& list);
/// Strict parsers of the settings views (exposed for tests and fuzzing): errc of detail::json
/// naming the field.
result<SettingView> parse_setting_view(std::string_view json);
result<std::vector<SettingView>> parse_setting_views(std::string_view json);
result<AgentLogs> parse_agent_logs(std::string_view json);

struct ControlPlaneOptions {
  /// The CP's origin, "https://cp.example.com" (a trailing '/' is dropped). Required.
  std::string url{};
  /// Bearer credential; empty: none (public routes only).
  std::string token{};
  /// Transport. Required.
  std::shared_ptr<http::Client> http{};
  /// Timeout and size cap of each request.
  http::RequestOptions request{};
};

/// The API's routes as typed calls. Cheap to copy; thread-safe (it holds only its options).
/// The client (and its transport) must stay alive until each returned awaitable completes.
class ControlPlaneClient {
 public:
  /// Never fails: an empty `url` or `http` is reported by each call (core.invalid_value), a
  /// malformed `url` as http::errc::bad_url.
  explicit ControlPlaneClient(ControlPlaneOptions options);

  ControlPlaneOptions const& options() const noexcept { return options_; }

  /// `GET /health`: the body as the CP answers it.
  boost::asio::awaitable<result<std::string>> health() const;

  // --- agents ------------------------------------------------------------------------------
  // (No class-type default arguments on these coroutines: GCC 12 destroys such a default twice
  // when the call is itself awaited in a coroutine. The overloads without one forward instead.)
  boost::asio::awaitable<result<std::vector<api::AgentView>>> agents(AgentFilter filter) const;
  boost::asio::awaitable<result<std::vector<api::AgentView>>> agents() const { return agents(AgentFilter{}); }
  boost::asio::awaitable<result<api::AgentView>> agent(std::string id) const;
  boost::asio::awaitable<result<api::AgentAttestationView>> agent_attestation(std::string id) const;
  /// `GET /agents/{id}/logs?lines=N` (owner's OIDC or admin); `lines` 0: the agent's default.
  boost::asio::awaitable<result<AgentLogs>> agent_logs(std::string id, std::size_t lines = 0) const;
  /// `POST /agents/{id}/undeploy` (owner's OIDC or admin): the stopped deployment.
  boost::asio::awaitable<result<api::DeploymentView>> undeploy(std::string agent_id) const;
  /// `DELETE /admin/agents/{id}` (admin): removes the agent and its tunnel.
  boost::asio::awaitable<result<void>> remove_agent(std::string id) const;

  // --- catalog -----------------------------------------------------------------------------
  boost::asio::awaitable<result<std::vector<api::AppView>>> apps() const;
  /// `GET /apps/{name}`: the app with its versions.
  boost::asio::awaitable<result<api::AppView>> app(std::string name) const;
  /// `POST /apps` (the source repository's OIDC): the app with its first version.
  boost::asio::awaitable<result<api::AppView>> publish(api::PublishRequest request) const;
  /// `POST /apps/{name}/versions` (the app owner's OIDC).
  boost::asio::awaitable<result<api::AppVersionView>> add_version(std::string app,
                                                                  api::VersionRequest request) const;

  // --- deploys -----------------------------------------------------------------------------
  /// `POST /deploy` (GitHub OIDC).
  boost::asio::awaitable<result<api::DeployResponse>> deploy(api::DeployRequest request) const;
  boost::asio::awaitable<result<std::vector<api::DeploymentView>>> deployments(DeploymentFilter filter) const;
  boost::asio::awaitable<result<std::vector<api::DeploymentView>>> deployments() const {
    return deployments(DeploymentFilter{});
  }
  boost::asio::awaitable<result<api::DeploymentView>> deployment(std::string id) const;

  // --- trusted measurements ------------------------------------------------------------------
  /// `GET /trusted-mrtds` (public).
  boost::asio::awaitable<result<std::vector<api::TrustedMeasurementView>>> measurements() const;
  /// `POST /admin/trusted-mrtds` (admin).
  boost::asio::awaitable<result<api::TrustedMeasurementView>> add_measurement(
      MeasurementRequest request) const;
  /// `DELETE /admin/trusted-mrtds/{mrtd}` (admin).
  boost::asio::awaitable<result<void>> remove_measurement(std::string mrtd) const;

  // --- settings (admin) --------------------------------------------------------------------
  /// `GET /admin/settings[?group=]`.
  boost::asio::awaitable<result<std::vector<SettingView>>> settings(std::string group) const;
  boost::asio::awaitable<result<std::vector<SettingView>>> settings() const { return settings(std::string()); }
  boost::asio::awaitable<result<SettingView>> setting(std::string name) const;
  /// `PUT /admin/settings/{name}` {"value"}: stored; it wins over flag, environment and default.
  boost::asio::awaitable<result<SettingView>> set_setting(std::string name, std::string value) const;
  /// `DELETE /admin/settings/{name}`: flag, environment or default again.
  boost::asio::awaitable<result<SettingView>> unset_setting(std::string name) const;

 private:
  ControlPlaneOptions options_;
};

/// The checks of a connection attempt (`ee verify --json`): {"target", "verified", "endpoint"
/// (null unless verified), "checks": [{"name", "result": "pass"|"fail"|"skip", "expected",
/// "actual", "detail"}]}. Never throws (except bad_alloc).
std::string to_json(std::string const& target, Report const& report, bool verified, std::string const& endpoint);

/// What a target of `ee verify` names, for `connect`: an app (name or org/repo, as given) and,
/// when the target is an agent, that agent and the version its deployment runs.
struct VerifyTarget {
  std::string app{};
  std::string agent_id{};
  std::string version{};
};

/// Resolves `target`: an http(s) URL is the agent serving there (its tunnel hostname as
/// https://HOST, or its agent_url); a word the CP knows as an agent id is that agent; anything
/// else is passed on as an app name or org/repo. An agent must hold a deployment, whose app it
/// names. @returns errc::no_running_agent saying what to do when no agent answers at the URL or
/// the agent runs nothing; the CP's errors otherwise.
boost::asio::awaitable<result<VerifyTarget>> resolve_verify_target(ControlPlaneClient const& cp, std::string target);

/// The newest published version of `app` (the catalog lists versions oldest first).
/// errc::no_published_version when it has none; the CP's errors otherwise.
boost::asio::awaitable<result<std::string>> newest_version(ControlPlaneClient const& cp, std::string app);

/// A deployment's status is final: running, failed or stopped.
bool is_settled(std::string_view deployment_status) noexcept;

struct WaitOptions {
  std::chrono::milliseconds poll{1000};
  std::chrono::milliseconds timeout{std::chrono::minutes{5}};
  /// Called with the deployment each time its status (or detail) changes, and the time waited.
  std::function<void(api::DeploymentView const&, std::chrono::milliseconds waited)> on_change{};
  /// Also call `on_change` when this long passed since the last call without a change (so a
  /// person sees it is still waiting); 0: only on changes.
  std::chrono::milliseconds report_every{0};
};

/// Polls `GET /deployments/{id}` until it settles (is_settled) and returns it, whatever its
/// status; errc::cp_unavailable naming the last status when `timeout` passes first; the first
/// error of a poll otherwise.
boost::asio::awaitable<result<api::DeploymentView>> wait_for_deployment(ControlPlaneClient const& cp,
                                                                         std::string id,
                                                                         WaitOptions options);

// --- credentials -------------------------------------------------------------------------------

/// Where a credential came from, in the order `resolve_credential` looks.
enum class TokenSource { argument, environment, github_actions, stored, none };
/// "--token", "EE_TOKEN", "github-actions", "stored", "none".
std::string_view to_string(TokenSource s) noexcept;

struct Credential {
  std::string token{};  ///< empty when source is none
  TokenSource source = TokenSource::none;
  std::string detail{};  ///< e.g. the stored file's path; never the token
};

struct CredentialInputs {
  std::string argument{};  ///< --token
  /// EE_TOKEN, ACTIONS_ID_TOKEN_REQUEST_URL / _TOKEN, XDG_CONFIG_HOME, HOME.
  settings::Environment env{};
  /// The audience of a minted Actions token (the CP's github_audience).
  std::string audience = "easyenclave";
};

/// The credential of `ee`: `argument`, else `EE_TOKEN`, else (inside GitHub Actions, both
/// `ACTIONS_ID_TOKEN_REQUEST_URL` and `_TOKEN` set) an OIDC token minted for `audience`, else
/// the stored token (`stored_token_path`), else none (public routes only).
/// @returns errc::credentials_unavailable when the Actions endpoint fails or the stored file is
///          unsafe (readable by others) or unreadable. Never throws (except bad_alloc).
boost::asio::awaitable<result<Credential>> resolve_credential(http::Client& http, CredentialInputs inputs,
                                                              http::RequestOptions options = {});

/// GitHub Actions' token request: GET `request_url`&audience=`audience` with
/// `Authorization: bearer <request_token>`, then `.value` of the JSON answer.
/// @returns errc::credentials_unavailable naming the status or what was missing.
boost::asio::awaitable<result<std::string>> mint_actions_token(http::Client& http, std::string request_url,
                                                               std::string request_token,
                                                               std::string audience,
                                                               http::RequestOptions options = {});

/// `$XDG_CONFIG_HOME/easyenclave/token`, else `$HOME/.config/easyenclave/token`; empty when
/// neither variable is set.
std::filesystem::path stored_token_path(settings::Environment const& env);
/// Writes `token` to `path` with mode 0600 (its directory created 0700).
/// errc::invalid_value for an empty token or one with whitespace or control characters;
/// errc::io_error naming the path.
result<void> store_token(std::filesystem::path const& path, std::string_view token);
/// The stored token, or nullopt when there is no file. errc::credentials_unavailable when the
/// file is a group- or world-accessible (mode & 077) or not a regular file (fix: chmod 600).
result<std::optional<std::string>> read_stored_token(std::filesystem::path const& path);
/// Removes the stored token; true when there was one.
result<bool> remove_stored_token(std::filesystem::path const& path);

}  // namespace ee::client
