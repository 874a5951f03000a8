#pragma once
/// @file The control plane's public views and the catalog's request bodies on the wire: what
/// `GET /api/v1/agents`, `/agents/{id}`, `/agents/{id}/attestation`, `/apps`, `/apps/{name}`,
/// `/deployments`, `/deployments/{id}` and `/admin/trusted-mrtds` answer, and what
/// `POST /api/v1/apps` and `/apps/{name}/versions` take (docs/api.md, "Objects"). The CP writes
/// them and clients read them through these types only.
///
/// `to_json` writes compact JSON, fields in the documented order, times as RFC 3339 UTC (null
/// when unset). `parse_*` take one strict JSON document (no duplicate keys, bounded size and
/// depth), require every documented field with its type, check its format and size, and ignore
/// fields they do not know (a newer CP may add some). They fail with a `ee::errc` code
/// (missing_field, wrong_type, invalid_value, out_of_range, invalid_json, ...) or
/// `api::errc::invalid_field`, the message naming the field by its path
/// ("body.versions[2].image: ...") and never quoting its value. Nothing here throws except
/// std::bad_alloc; the functions are pure and thread-safe.
#include <easyenclave/api/error.hpp>
#include <easyenclave/error.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ee::api {

// --- POST /api/v1/apps and /apps/{name}/versions ---------------------------------------------

/// A version to publish: the body of `POST /api/v1/apps/{name}/versions`, and the version part
/// of a publish body.
struct VersionRequest {
  std::string version{};  ///< 1-64 of [A-Za-z0-9._+-]
  std::string image{};    ///< pinned by digest (ImageReference::parse_pinned)
  std::string mrtd{};     ///< 96 hex; the parser lower-cases it
  /// RTMR0..3 the version pins, 96 hex each (lower-cased); empty: not pinned. Written as null.
  std::array<std::string, 4> rtmrs{};
  std::string node_size{};  ///< empty: any
};
std::string to_json(VersionRequest const& r);
result<VersionRequest> parse_version_request(std::string_view json);

/// `POST /api/v1/apps`: an app and its first version, one flat object.
struct PublishRequest {
  std::string name{};         ///< 1-63 of [a-z0-9-], starting with a letter or digit
  std::string description{};  ///< at most 1024 characters
  std::string source_repo{};  ///< "org/repo": org 1-39 of [A-Za-z0-9-], repo 1-100 of [A-Za-z0-9._-]
  VersionRequest version{};
};
std::string to_json(PublishRequest const& r);
result<PublishRequest> parse_publish_request(std::string_view json);

// --- views --------------------------------------------------------------------------------------

using TimePoint = std::chrono::system_clock::time_point;

/// An agent as the CP shows it (docs/api.md, "Agent object").
struct AgentView {
  std::string agent_id{};
  std::string vm_name{};
  std::string owner{};       ///< empty for legacy agents
  std::string owner_id{};    ///< the owner's numeric GitHub id once proven; empty while claimed
  std::string node_size{};
  std::string datacenter{};
  std::string status{};      ///< "idle", "deployed", "down" or "unverified"
  bool verified = false;
  std::string unverified_reason{};  ///< written only when `verified` is false
  std::string health{};      ///< "unknown", "up" or "down"
  std::string hostname{};    ///< tunnel hostname; empty without tunnels
  std::string agent_url{};   ///< self-reported origin (dev); verify what answers there
  std::string public_key{};  ///< base64 DER SubjectPublicKeyInfo; empty for legacy agents
  std::string mrtd{};        ///< 96 hex, from the last accepted evidence
  std::string tcb_status{};
  std::string deployment_id{};  ///< the deployment it holds; empty (written null) when none
  std::string reported_status{};
  std::string reported_digest{};  ///< "sha256:<64 hex>" or empty
  TimePoint registered_at{};      ///< unset: null
  TimePoint last_registered_at{};
  TimePoint last_heartbeat_at{};
  std::int64_t seconds_since_heartbeat = 0;  ///< >= 0
};
std::string to_json(AgentView const& v);
/// to_json(v) in two parts, for a writer that keeps an agent's JSON and writes only its age
/// afresh (the CP's listing): appends to_json(v) without its last member,
/// seconds_since_heartbeat, and without the closing brace ...
void append_json_without_age(std::string& out, AgentView const& v);
/// ... and that member and the brace: to_json(v) is what the two append.
void append_json_age(std::string& out, std::int64_t seconds_since_heartbeat);
result<AgentView> parse_agent_view(std::string_view json);
/// A JSON array, written one element at a time.
std::string to_json(std::vector<AgentView> const& list);
result<std::vector<AgentView>> parse_agent_views(std::string_view json);

/// An agent's last accepted evidence: `GET /api/v1/agents/{id}/attestation`.
struct AgentAttestationView {
  std::string mrtd{};
  std::array<std::string, 4> rtmrs{};  ///< 96 hex each, or empty
  std::string tcb_status{};
  TimePoint tcb_date{};  ///< unset: null
  std::vector<std::string> advisory_ids{};
  std::string appraised_by{};  ///< "local_dcap" or "intel_trust_authority"
  TimePoint appraised_at{};
  std::string report_data{};   ///< 128 hex
  std::string agent_id{};
  std::string vm_name{};
  bool verified = false;
  std::string unverified_reason{};  ///< written only when `verified` is false
  std::string public_key{};
};
std::string to_json(AgentAttestationView const& v);
result<AgentAttestationView> parse_agent_attestation_view(std::string_view json);

/// A published version of an app (docs/api.md, "Version object").
struct AppVersionView {
  std::string app_name{};
  std::string version{};
  std::string image{};  ///< pinned by digest
  std::string mrtd{};   ///< 96 hex
  std::array<std::string, 4> rtmrs{};  ///< 96 hex each; empty (written null): not pinned
  std::string node_size{};             ///< empty: any
  std::string published_by{};          ///< the repository whose token published it
  TimePoint published_at{};
};
std::string to_json(AppVersionView const& v);
result<AppVersionView> parse_app_version_view(std::string_view json);

/// An app of the catalog (docs/api.md, "App object").
struct AppView {
  std::string name{};
  std::string description{};
  std::string owner_id{};  ///< empty for apps published before ids were recorded
  std::string source_repo{};
  std::string owner{};     ///< the publisher's repository_owner, lower case
  TimePoint created_at{};
  /// Present when the route answers with the versions (oldest first); nullopt: left out.
  std::optional<std::vector<AppVersionView>> versions{};
};
std::string to_json(AppView const& v);
result<AppView> parse_app_view(std::string_view json);
std::string to_json(std::vector<AppView> const& list);
result<std::vector<AppView>> parse_app_views(std::string_view json);

/// A deployment (docs/api.md, "Deployment object").
/// One entry of a deployment's history: a status it took (or a new detail) and when.
struct DeploymentChangeView {
  std::string status{};
  std::string detail{};
  TimePoint at{};
};

struct DeploymentView {
  std::string deployment_id{};
  std::string app_name{};
  std::string version{};
  std::string agent_id{};
  std::string image{};   ///< pinned by digest
  std::string status{};  ///< "queued", "pending", "deploying", "running", "failed" or "stopped"
  std::string detail{};  ///< why it failed or stopped
  std::string requested_by{};
  TimePoint created_at{};
  TimePoint updated_at{};
  std::string replaces{};    ///< the deployment it upgrades on its agent; empty: left out
  std::string rollout_id{};  ///< a rolling deploy's id; empty: left out, with rollout_step
  std::int64_t rollout_step = 0;
  /// Oldest first; only in `GET /deployments/{id}` (absent from lists and deploy answers).
  std::optional<std::vector<DeploymentChangeView>> history{};
};
std::string to_json(DeploymentView const& v);
result<DeploymentView> parse_deployment_view(std::string_view json);
std::string to_json(std::vector<DeploymentView> const& list);
result<std::vector<DeploymentView>> parse_deployment_views(std::string_view json);

/// A trusted MRTD (docs/api.md, "Trusted measurement object").
struct TrustedMeasurementView {
  std::string mrtd{};       ///< 96 hex
  std::string type{};       ///< "agent" or "proxy"
  std::string node_size{};  ///< empty: any
  std::string note{};
  TimePoint added_at{};
};
std::string to_json(TrustedMeasurementView const& v);
result<TrustedMeasurementView> parse_trusted_measurement_view(std::string_view json);
std::string to_json(std::vector<TrustedMeasurementView> const& list);
result<std::vector<TrustedMeasurementView>> parse_trusted_measurement_views(std::string_view json);

}  // namespace ee::api
