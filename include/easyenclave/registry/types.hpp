#pragma once
/// @file The records the control plane keeps: agents, trusted measurements, apps, app versions
/// and deployments. Plain data with `{}` defaults; ids are strings, times are system_clock time
/// points, measurements are lowercase hex. Nothing here is secret: tunnel tokens and raw tokens
/// are never stored (the database is a cache that agents rebuild by re-registering).
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ee::registry {

using TimePoint = std::chrono::system_clock::time_point;

/// What the CP learned from an agent's last accepted evidence.
struct AttestationRecord {
  std::string mrtd{};                   ///< 96 lowercase hex chars
  std::array<std::string, 4> rtmrs{};   ///< RTMR0..3, 96 lowercase hex chars each
  std::string tcb_status{};             ///< "UpToDate", "OutOfDate", ... (tdx::to_string)
  std::optional<TimePoint> tcb_date{};
  std::vector<std::string> advisory_ids{};
  std::string appraised_by{};           ///< "intel_trust_authority" | "local_dcap"
  TimePoint appraised_at{};
  std::string report_data{};            ///< 128 lowercase hex chars
};

/// The agent's health as seen by the CP's scraper, with hysteresis applied.
enum class Health { unknown, up, down };
std::string_view to_string(Health h) noexcept;
std::optional<Health> parse_health(std::string_view text) noexcept;

/// How many scrape outcomes in a row flip an agent's health: one lost answer does not mark an
/// agent down, one answer does not bring a failing agent back. A threshold below 1 acts as 1.
struct HealthHysteresis {
  int up_after = 2;    ///< successes in a row that make the agent up
  int down_after = 3;  ///< failures in a row that make the agent down
};

/// A registered agent (a TDX VM running ee-agent).
struct AgentRecord {
  std::string id{};          ///< UUIDv4, kept across re-registrations of the same vm_name
  std::string vm_name{};     ///< unique
  std::string owner{};       ///< "github:org/NAME" or "github:user/NAME"; empty for legacy agents
  /// The owner's numeric GitHub id (`repository_owner_id`) when the owner was proven with a
  /// bootstrap token; empty when the owner label is only claimed.
  std::string owner_id{};
  std::string node_size{};
  std::string datacenter{};
  std::string public_key{};  ///< the attested P-256 key, base64 of DER SubjectPublicKeyInfo; may be empty (legacy)
  std::string agent_url{};   ///< where the CP reaches the agent's API when it has no tunnel (dev)
  std::string hostname{};    ///< public hostname of the agent's tunnel; empty without Cloudflare
  std::string tunnel_id{};   ///< Cloudflare tunnel id; empty without Cloudflare
  std::string dns_record_id{};
  AttestationRecord attestation{};
  /// False once a re-attestation failed, the MRTD changed or the reported digest disagreed
  /// with the catalog: no deploys go to an unverified agent.
  bool verified = true;
  std::string unverified_reason{};
  Health health = Health::unknown;
  std::string deployment_id{};     ///< the deployment the agent holds now; empty when idle
  std::string reported_status{};   ///< the workload status of the last heartbeat
  std::string reported_digest{};   ///< the image digest of the last heartbeat ("sha256:...")
  TimePoint registered_at{};       ///< first registration
  TimePoint last_registered_at{};  ///< latest registration
  TimePoint last_heartbeat_at{};   ///< latest heartbeat, or registration if none yet
};

/// The status the API reports and filters on, derived from the record: "unverified" when not
/// verified, else "down" when the scraper sees it down, else "deployed" when it holds a
/// deployment, else "idle".
std::string_view agent_status(AgentRecord const& agent) noexcept;

/// A measurement the CP trusts. `kind` is "agent" (an agent VM image) or "proxy".
struct TrustedMeasurement {
  std::string mrtd{};       ///< 96 lowercase hex chars; the key
  std::string kind{};       ///< "agent" | "proxy"
  std::string node_size{};  ///< empty: any node size
  std::string note{};
  TimePoint added_at{};
};

/// A catalog entry: published by a GitHub repository, owned by its `repository_owner`.
struct App {
  std::string name{};          ///< unique; [a-z0-9][a-z0-9-]{0,62}
  std::string description{};
  std::string source_repo{};   ///< "org/repo"
  std::string owner{};         ///< the publisher's repository_owner, lowercase
  /// The publisher's numeric `repository_owner_id` at first publish; later versions must come
  /// from the same id, so a renamed or re-created organisation inherits nothing. Empty for apps
  /// published before ids were recorded.
  std::string owner_id{};
  TimePoint created_at{};
};

/// One published version of an app: the image and the measurements it runs under.
struct AppVersion {
  std::string app_name{};
  std::string version{};       ///< unique per app
  std::string image{};         ///< pinned by digest: "registry/name@sha256:<64 hex>"
  std::string mrtd{};          ///< 96 lowercase hex chars
  std::array<std::string, 4> rtmrs{};  ///< empty string: not pinned
  std::string node_size{};     ///< empty: any
  std::string published_by{};  ///< the repository whose token published it ("org/repo")
  TimePoint published_at{};
};

/// A bootstrap token: an owner's proof, minted with a GitHub Actions OIDC token, that an agent
/// registering with it belongs to that owner. Only the SHA-256 of the secret is kept.
struct BootstrapToken {
  std::string id{};          ///< UUIDv4; public (revocation, listings)
  std::string token_hash{};  ///< SHA-256 of the secret, 64 lowercase hex chars; unique
  std::string owner{};       ///< the minting token's repository_owner, lowercase
  std::string owner_id{};    ///< its repository_owner_id
  std::string created_by{};  ///< the repository whose workflow minted it ("org/repo")
  std::string vm_name{};     ///< the only vm_name it admits; empty: any
  std::string datacenter{};  ///< the only datacenter it admits; empty: any
  std::string node_size{};   ///< the only node size it admits; empty: any
  std::int64_t uses = 1;       ///< registrations it admits in all
  std::int64_t uses_left = 1;  ///< of which still unused
  TimePoint created_at{};
  TimePoint expires_at{};
};

/// A GitHub user or organisation: its login and the numeric id that a renamed or re-created
/// account does not inherit.
struct GithubAccount {
  std::string login{};  ///< lowercase
  std::string id{};     ///< decimal
};

/// How a login session was opened.
enum class LoginMethod { password, github };
std::string_view to_string(LoginMethod m) noexcept;
std::optional<LoginMethod> parse_login_method(std::string_view text) noexcept;

/// A session of a person at the control plane (POST /admin/login, GitHub OAuth), presented as a
/// bearer token or a cookie. Only an Argon2id hash of the token is kept, with the token's first
/// characters to find the row.
struct LoginSession {
  std::string id{};            ///< UUIDv4; public (logout, listings)
  std::string token_prefix{};  ///< the token's first 12 characters; not unique
  std::string token_hash{};    ///< Argon2id PHC string of the whole token
  LoginMethod method = LoginMethod::password;
  /// The operator's session (password, or a GitHub login the operator named); otherwise an
  /// owner's, scoped to its GitHub account and organisations.
  bool admin = false;
  GithubAccount github_user{};                ///< empty for a password login
  std::vector<GithubAccount> github_orgs{};  ///< the organisations GitHub listed at login
  TimePoint created_at{};
  TimePoint expires_at{};
};

/// The stored form of GithubAccount lists: "login:id" joined by ','. GitHub logins are
/// [A-Za-z0-9-] and ids decimal, so the form is unambiguous.
std::string encode_github_accounts(std::vector<GithubAccount> const& accounts);
/// Nullopt for anything encode_github_accounts cannot have written.
std::optional<std::vector<GithubAccount>> decode_github_accounts(std::string_view text);

/// What an account is for. Only `deployer` accounts may deploy (with a linked GitHub identity);
/// a `launcher` account's key is the launcher principal of the capacity worker API.
enum class AccountType { deployer, agent, contributor, launcher };
std::string_view to_string(AccountType t) noexcept;
std::optional<AccountType> parse_account_type(std::string_view text) noexcept;

/// An account of the control plane and its API key. Only an Argon2id hash of the key is kept,
/// found by the key's first 12 characters (`api_key_prefix`, not secret).
struct Account {
  std::string id{};    ///< UUIDv4
  std::string name{};  ///< unique
  AccountType type = AccountType::deployer;
  /// The linked GitHub identity (proven by an OIDC token or OAuth): the numeric id and the login
  /// of the owner, lowercase, and the organisation it acts for; all empty when not linked.
  std::string github_id{};
  std::string github_login{};
  std::string github_org{};
  std::string api_key_prefix{};  ///< the key's first 12 characters; unique
  std::string api_key_hash{};    ///< Argon2id, PHC-encoded
  TimePoint created_at{};
};

/// A setting stored by the control plane's admin settings routes; it wins over flags, the
/// environment and defaults (include/easyenclave/settings.hpp). Values of secret keys are stored
/// like any other: the routes never return them.
struct SettingRow {
  std::string name{};        ///< a key of the program's settings registry
  std::string value{};       ///< in the key's shown form
  std::string updated_by{};  ///< who set it ("admin")
  TimePoint updated_at{};
};

/// Deployment lifecycle: queued (a later step of a rolling deploy) → pending → deploying →
/// running, and failed or stopped from any of them. Which event moves which status is one table,
/// the control plane's deployment lifecycle (docs/api.md, "Deployments").
enum class DeploymentStatus { queued, pending, deploying, running, failed, stopped };
std::string_view to_string(DeploymentStatus s) noexcept;
std::optional<DeploymentStatus> parse_deployment_status(std::string_view text) noexcept;

/// One entry of a deployment's history: a status (or detail) it took and when. The database
/// records it itself (a trigger on the deployments table), in the transaction of the change.
struct DeploymentChange {
  DeploymentStatus status = DeploymentStatus::pending;
  std::string detail{};
  TimePoint at{};
};

struct Deployment {
  std::string id{};            ///< UUIDv4
  std::string app_name{};
  std::string version{};
  std::string agent_id{};
  std::string image{};         ///< copied from the version at deploy time
  DeploymentStatus status = DeploymentStatus::pending;
  std::string detail{};        ///< why it failed or stopped
  std::string requested_by{};  ///< the repository (or "admin") that asked for it
  TimePoint created_at{};
  TimePoint updated_at{};
  /// The deployment of the same app this one upgrades on its agent ("" when the agent was idle):
  /// it runs until this one does, and the agent goes back to it when this one fails to start.
  std::string replaces{};
  /// The deployments of one rolling deploy share it and run one at a time, in `rollout_step`
  /// order ("" for a deploy to one agent).
  std::string rollout_id{};
  std::int64_t rollout_step = 0;
};

}  // namespace ee::registry
