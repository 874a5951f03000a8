#pragma once
// The network steps of connect(): the CP's catalog, the agent's attested health and GitHub
// releases. Each records its check in the report and returns a client::errc naming it.
#include <easyenclave/client/connect.hpp>
#include <easyenclave/http/client.hpp>

#include <boost/asio/awaitable.hpp>

#include <array>
#include <cstdint>
#include <string>

namespace ee::client {

/// A target as given: an app name, or org/repo.
struct Target {
  std::string app{};          ///< set for an app name
  std::string source_repo{};  ///< set for org/repo
};

/// Check "target": "org/repo" (org 1-39 of [A-Za-z0-9-], repo 1-100 of [A-Za-z0-9._-]) or an
/// app name (1-63 of [a-z0-9-]); the release source needs org/repo.
result<Target> resolve_target(std::string const& target, Source source, Report& report);

/// The app's name: the target's, or (org/repo) the one app whose source_repo is the target,
/// from GET /api/v1/apps. Records check "catalog_app" only when it fails.
boost::asio::awaitable<result<std::string>> find_app_name(http::Client& http,
                                                          http::RequestOptions options,
                                                          std::string cp_url, Target target,
                                                          Report& report);

/// Checks "catalog_app" and "catalog_versions": app `name` (whose source_repo must be the
/// target's, for an org/repo target) and its versions, restricted to `version` when not empty.
boost::asio::awaitable<result<Expectations>> fetch_catalog_app(http::Client& http,
                                                               http::RequestOptions options,
                                                               std::string cp_url, std::string name,
                                                               Target target, std::string version,
                                                               Report& report);

/// The agent chosen for the connection.
struct RunningAgent {
  std::string agent_id{};
  std::string version{};     ///< the deployment's version
  std::string endpoint{};    ///< https://<hostname>, or the agent_url
  std::string public_key{};  ///< as the CP attested it
};

/// Check "running_agent": the newest running deployment of app `app` (of `version`, on
/// `agent_id`, when given) whose agent the CP lists as verified and reachable at a hostname or
/// agent_url. Needs only the app's name, so it can run beside `fetch_catalog_app`.
boost::asio::awaitable<result<RunningAgent>> find_running_agent(
    http::Client& http, http::RequestOptions options, std::string cp_url, std::string app,
    std::string version, std::string agent_id, Report& report);

/// Check "evidence": GET <endpoint>/api/health?attest=true&nonce=<hex> and its body parsed.
boost::asio::awaitable<result<Evidence>> fetch_agent_evidence(http::Client& http,
                                                              http::RequestOptions options,
                                                              std::string endpoint,
                                                              std::array<std::uint8_t, 32> nonce,
                                                              Report& report);

/// What a release's attestation.json holds.
struct ReleaseEvidence {
  Evidence evidence{};
  std::string endpoint{};
  std::string release{};       ///< tag name
  std::string published_at{};  ///< as GitHub gives it
};

/// Check "release": GET {github_api}/repos/{org}/{repo}/releases (newest first), the newest
/// with an asset named attestation.json, and that asset (its browser_download_url, redirects
/// followed) as {"endpoint", "quote_b64", "public_key"?}.
boost::asio::awaitable<result<ReleaseEvidence>> fetch_release_evidence(http::Client& http,
                                                                       http::RequestOptions options,
                                                                       std::string github_api,
                                                                       std::string source_repo,
                                                                       Report& report);

}  // namespace ee::client
