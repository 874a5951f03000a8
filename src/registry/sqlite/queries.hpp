#pragma once
// Every SQL statement of the SQLite stores, as named constants. Parameters are positional `?`,
// bound left to right; the row readers in sqlite_stores.cpp read columns by the positions of the
// *_COLUMNS lists below, so a list and its reader change together.
//
// Filtered lists (AgentStore::list, DeploymentStore::list) are assembled from the k*Where*
// fragments, one per filter that is set, so each combination is its own prepared statement and
// can use its index; the connection caches each one like any other.

namespace ee::registry::sqlite::sql {

// The column lists, concatenated into the statements at compile time.
#define EE_AGENT_COLUMNS                                                                       \
  "id, vm_name, owner, node_size, datacenter, public_key, agent_url, hostname, tunnel_id, "   \
  "dns_record_id, mrtd, rtmr0, rtmr1, rtmr2, rtmr3, tcb_status, tcb_date, advisory_ids, "     \
  "appraised_by, appraised_at, report_data, verified, unverified_reason, health, "            \
  "deployment_id, reported_status, reported_digest, registered_at, last_registered_at, "      \
  "last_heartbeat_at, owner_id"
#define EE_MEASUREMENT_COLUMNS "mrtd, kind, node_size, note, added_at"
#define EE_APP_COLUMNS "name, description, source_repo, owner, created_at, owner_id"
#define EE_BOOTSTRAP_TOKEN_COLUMNS                                                             \
  "id, token_hash, owner, owner_id, created_by, vm_name, datacenter, node_size, uses, "       \
  "uses_left, created_at, expires_at"
#define EE_ACCOUNT_COLUMNS                                                                     \
  "id, name, type, github_id, github_login, github_org, api_key_prefix, api_key_hash, created_at"
#define EE_VERSION_COLUMNS                                                                     \
  "app_name, version, image, mrtd, rtmr0, rtmr1, rtmr2, rtmr3, node_size, published_by, "     \
  "published_at"
#define EE_DEPLOYMENT_COLUMNS                                                                  \
  "id, app_name, version, agent_id, image, status, detail, requested_by, created_at, "        \
  "updated_at, replaces, rollout_id, rollout_step"

// --- agents ----------------------------------------------------------------------------------

inline constexpr char kInsertAgent[] =
    "INSERT INTO agents (" EE_AGENT_COLUMNS
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "?, ?, ?)";
// Every column but id, in EE_AGENT_COLUMNS order, then the id.
inline constexpr char kUpdateAgent[] =
    "UPDATE agents SET vm_name = ?, owner = ?, node_size = ?, datacenter = ?, public_key = ?, "
    "agent_url = ?, hostname = ?, tunnel_id = ?, dns_record_id = ?, mrtd = ?, rtmr0 = ?, "
    "rtmr1 = ?, rtmr2 = ?, rtmr3 = ?, tcb_status = ?, tcb_date = ?, advisory_ids = ?, "
    "appraised_by = ?, appraised_at = ?, report_data = ?, verified = ?, unverified_reason = ?, "
    "health = ?, deployment_id = ?, reported_status = ?, reported_digest = ?, "
    "registered_at = ?, last_registered_at = ?, last_heartbeat_at = ?, owner_id = ? WHERE id = ?";
inline constexpr char kSelectAgentById[] =
    "SELECT " EE_AGENT_COLUMNS " FROM agents WHERE id = ?";
inline constexpr char kSelectAgentByVmName[] =
    "SELECT " EE_AGENT_COLUMNS " FROM agents WHERE vm_name = ?";
inline constexpr char kSelectAgents[] = "SELECT " EE_AGENT_COLUMNS " FROM agents";
inline constexpr char kAgentWhereVmName[] = "vm_name = ?";
// ASCII case folding, like the index agents_by_owner; owners are GitHub names, which are ASCII.
inline constexpr char kAgentWhereOwner[] = "owner = ? COLLATE NOCASE";
// agent_status() in src/registry/types.cpp, spelled in SQL: same order, same precedence.
inline constexpr char kAgentWhereStatus[] =
    "(CASE WHEN verified = 0 THEN 'unverified' WHEN health = 'down' THEN 'down' "
    "WHEN deployment_id <> '' THEN 'deployed' ELSE 'idle' END) = ?";
inline constexpr char kAgentWhereHeartbeatBefore[] = "last_heartbeat_at < ?";
inline constexpr char kAgentOrder[] = " ORDER BY registered_at, id";
inline constexpr char kCountAgents[] = "SELECT count(*) FROM agents";
inline constexpr char kRecordHeartbeat[] =
    "UPDATE agents SET last_heartbeat_at = ?, reported_status = ?, reported_digest = ? "
    "WHERE id = ?";
inline constexpr char kSetVerification[] =
    "UPDATE agents SET verified = ?, unverified_reason = ? WHERE id = ?";
inline constexpr char kSetVerificationWithAttestation[] =
    "UPDATE agents SET verified = ?, unverified_reason = ?, mrtd = ?, rtmr0 = ?, rtmr1 = ?, "
    "rtmr2 = ?, rtmr3 = ?, tcb_status = ?, tcb_date = ?, advisory_ids = ?, appraised_by = ?, "
    "appraised_at = ?, report_data = ? WHERE id = ?";
inline constexpr char kSelectDeploymentHistory[] =
    "SELECT status, detail, at FROM deployment_changes WHERE deployment_id = ? ORDER BY seq";
inline constexpr char kSetHealth[] = "UPDATE agents SET health = ? WHERE id = ?";
inline constexpr char kSetOwner[] = "UPDATE agents SET owner = ?, owner_id = ? WHERE id = ?";
inline constexpr char kSetTunnel[] =
    "UPDATE agents SET tunnel_id = ?, hostname = ?, dns_record_id = ? WHERE id = ?";
// One scrape outcome (?1: 1 healthy, 0 not; ?2: up_after; ?3: down_after; ?4: the id). The
// right-hand sides read the row as it was, so the thresholds compare the count this outcome
// makes; counts stop at their threshold, so an agent failing for years cannot overflow them.
// A row already settled on this outcome (counted to its threshold, health agreeing) is not
// written at all: the steady state of a healthy fleet costs no writes. It returns no row then,
// and kSelectHealth tells that from an unknown id.
inline constexpr char kObserveHealth[] =
    "UPDATE agents SET "
    "health_successes = CASE WHEN ?1 THEN min(health_successes + 1, ?2) ELSE 0 END, "
    "health_failures = CASE WHEN ?1 THEN 0 ELSE min(health_failures + 1, ?3) END, "
    "health = CASE WHEN ?1 AND health_successes + 1 >= ?2 THEN 'up' "
    "WHEN NOT ?1 AND health_failures + 1 >= ?3 THEN 'down' ELSE health END "
    "WHERE id = ?4 AND NOT (CASE WHEN ?1 "
    "THEN health_failures = 0 AND health_successes >= ?2 AND health = 'up' "
    "ELSE health_successes = 0 AND health_failures >= ?3 AND health = 'down' END) "
    "RETURNING health";
inline constexpr char kSelectHealth[] = "SELECT health FROM agents WHERE id = ?";
inline constexpr char kSetDeployment[] = "UPDATE agents SET deployment_id = ? WHERE id = ?";
// The compare-and-set: changes nothing unless the agent is idle.
inline constexpr char kClaimAgent[] =
    "UPDATE agents SET deployment_id = ? WHERE id = ? AND deployment_id = ''";
// The compare-and-set of a release: changes nothing unless the agent holds that deployment.
inline constexpr char kReleaseAgent[] =
    "UPDATE agents SET deployment_id = '' WHERE id = ? AND deployment_id = ? AND deployment_id <> ''";
// The compare-and-set every move of a deployment along with its agent uses: changes nothing
// unless the agent holds the expected deployment ("" for none).
inline constexpr char kMoveAgentHolding[] =
    "UPDATE agents SET deployment_id = ? WHERE id = ? AND deployment_id = ?";
inline constexpr char kSelectAgentDeployment[] = "SELECT deployment_id FROM agents WHERE id = ?";
inline constexpr char kDeleteAgent[] = "DELETE FROM agents WHERE id = ?";

// --- trusted measurements ----------------------------------------------------------------------

inline constexpr char kInsertMeasurement[] =
    "INSERT INTO trusted_measurements (" EE_MEASUREMENT_COLUMNS ") VALUES (?, ?, ?, ?, ?)";
inline constexpr char kSelectMeasurement[] =
    "SELECT " EE_MEASUREMENT_COLUMNS " FROM trusted_measurements WHERE mrtd = ?";
inline constexpr char kSelectMeasurements[] =
    "SELECT " EE_MEASUREMENT_COLUMNS " FROM trusted_measurements ORDER BY added_at, mrtd";
inline constexpr char kDeleteMeasurement[] = "DELETE FROM trusted_measurements WHERE mrtd = ?";

// --- apps and versions -------------------------------------------------------------------------

inline constexpr char kInsertApp[] =
    "INSERT INTO apps (" EE_APP_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?)";
inline constexpr char kSelectApp[] = "SELECT " EE_APP_COLUMNS " FROM apps WHERE name = ?";
inline constexpr char kSelectApps[] = "SELECT " EE_APP_COLUMNS " FROM apps ORDER BY name";
inline constexpr char kAppExists[] = "SELECT 1 FROM apps WHERE name = ?";
inline constexpr char kInsertVersion[] =
    "INSERT INTO app_versions (" EE_VERSION_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
inline constexpr char kSelectVersion[] =
    "SELECT " EE_VERSION_COLUMNS " FROM app_versions WHERE app_name = ? AND version = ?";
inline constexpr char kSelectVersions[] =
    "SELECT " EE_VERSION_COLUMNS
    " FROM app_versions WHERE app_name = ? ORDER BY published_at, version";

// --- bootstrap tokens --------------------------------------------------------------------------

inline constexpr char kInsertBootstrapToken[] =
    "INSERT INTO bootstrap_tokens (" EE_BOOTSTRAP_TOKEN_COLUMNS
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
inline constexpr char kSelectBootstrapTokenByHash[] =
    "SELECT " EE_BOOTSTRAP_TOKEN_COLUMNS " FROM bootstrap_tokens WHERE token_hash = ?";
inline constexpr char kSelectBootstrapTokenById[] =
    "SELECT " EE_BOOTSTRAP_TOKEN_COLUMNS " FROM bootstrap_tokens WHERE id = ?";
// The compare-and-set of one use: nothing changes unless a use is left and it has not expired.
inline constexpr char kUseBootstrapToken[] =
    "UPDATE bootstrap_tokens SET uses_left = uses_left - 1 "
    "WHERE id = ? AND uses_left > 0 AND expires_at > ?";
inline constexpr char kSelectBootstrapTokensByOwnerId[] =
    "SELECT " EE_BOOTSTRAP_TOKEN_COLUMNS
    " FROM bootstrap_tokens WHERE owner_id = ? ORDER BY created_at DESC, id";
inline constexpr char kDeleteBootstrapToken[] = "DELETE FROM bootstrap_tokens WHERE id = ?";

// --- settings ------------------------------------------------------------------------------------
inline constexpr char kSelectSettings[] = "SELECT name, value, updated_by, updated_at FROM settings ORDER BY name";
inline constexpr char kPutSetting[] =
    "INSERT INTO settings (name, value, updated_by, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, "
    "updated_at = excluded.updated_at";
inline constexpr char kDeleteSetting[] = "DELETE FROM settings WHERE name = ?";
inline constexpr char kPurgeBootstrapTokens[] =
    "DELETE FROM bootstrap_tokens WHERE expires_at <= ? OR uses_left <= 0";

// --- deployments -------------------------------------------------------------------------------

inline constexpr char kInsertDeployment[] =
    "INSERT INTO deployments (" EE_DEPLOYMENT_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
inline constexpr char kSelectDeployment[] =
    "SELECT " EE_DEPLOYMENT_COLUMNS " FROM deployments WHERE id = ?";
inline constexpr char kSelectDeployments[] = "SELECT " EE_DEPLOYMENT_COLUMNS " FROM deployments";
inline constexpr char kDeploymentWhereAgent[] = "agent_id = ?";
inline constexpr char kDeploymentWhereRollout[] = "rollout_id = ?";
inline constexpr char kDeploymentWhereApp[] = "app_name = ?";
inline constexpr char kDeploymentWhereStatus[] = "status = ?";
inline constexpr char kDeploymentWhereUpdatedBefore[] = "updated_at < ?";
inline constexpr char kDeploymentOrder[] = " ORDER BY created_at DESC, id";
inline constexpr char kSetDeploymentStatus[] =
    "UPDATE deployments SET status = ?, detail = ?, updated_at = ? WHERE id = ?";
inline constexpr char kSetDeploymentStatusIf[] =
    "UPDATE deployments SET status = ?, detail = ?, updated_at = ? WHERE id = ? AND status = ?";
inline constexpr char kStartQueuedDeployment[] =
    "UPDATE deployments SET status = 'pending', replaces = ?, detail = '', updated_at = ? "
    "WHERE id = ? AND status = 'queued'";
inline constexpr char kSelectDeploymentStatus[] = "SELECT status FROM deployments WHERE id = ?";

// --- accounts ----------------------------------------------------------------------------------

inline constexpr char kInsertAccount[] =
    "INSERT INTO accounts (" EE_ACCOUNT_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
inline constexpr char kSelectAccountById[] = "SELECT " EE_ACCOUNT_COLUMNS " FROM accounts WHERE id = ?";
inline constexpr char kSelectAccountByName[] = "SELECT " EE_ACCOUNT_COLUMNS " FROM accounts WHERE name = ?";
inline constexpr char kSelectAccountByKeyPrefix[] =
    "SELECT " EE_ACCOUNT_COLUMNS " FROM accounts WHERE api_key_prefix = ?";
inline constexpr char kSelectAccounts[] = "SELECT " EE_ACCOUNT_COLUMNS " FROM accounts";
inline constexpr char kAccountWhereName[] = "name = ?";
inline constexpr char kAccountWhereType[] = "type = ?";
inline constexpr char kAccountOrder[] = " ORDER BY created_at, id";
// Prefix and hash in one statement: no moment holds the new prefix with the old hash.
inline constexpr char kReplaceAccountKey[] = "UPDATE accounts SET api_key_prefix = ?, api_key_hash = ? WHERE id = ?";
inline constexpr char kLinkAccountIdentity[] =
    "UPDATE accounts SET github_id = ?, github_login = ?, github_org = ? WHERE id = ?";
inline constexpr char kDeleteAccount[] = "DELETE FROM accounts WHERE id = ?";

// --- leases ------------------------------------------------------------------------------------

// Takes a lease that is free, expired, or the holder's own, in one statement: the conflict branch
// changes the row only under that condition, so of two processes racing exactly one changes it.
inline constexpr char kAcquireLease[] =
    "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE leases.holder = excluded.holder OR leases.expires_at <= ?";
inline constexpr char kReleaseLease[] = "DELETE FROM leases WHERE name = ? AND holder = ?";

// SQLite takes OFFSET only after a LIMIT; a negative LIMIT means none.
inline constexpr char kLimitOffset[] = " LIMIT ? OFFSET ?";

#undef EE_AGENT_COLUMNS
#undef EE_MEASUREMENT_COLUMNS
// --- login sessions ------------------------------------------------------------------------------

#define EE_LOGIN_SESSION_COLUMNS                                                              \
  "id, token_prefix, token_hash, method, admin, github_login, github_id, github_orgs, "      \
  "created_at, expires_at"
inline constexpr char kInsertLoginSession[] =
    "INSERT INTO login_sessions (" EE_LOGIN_SESSION_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
inline constexpr char kSelectLoginSessionsByPrefix[] =
    "SELECT " EE_LOGIN_SESSION_COLUMNS
    " FROM login_sessions WHERE token_prefix = ? AND expires_at > ? ORDER BY created_at, id";
inline constexpr char kSelectLoginSessionById[] =
    "SELECT " EE_LOGIN_SESSION_COLUMNS " FROM login_sessions WHERE id = ?";
inline constexpr char kDeleteLoginSession[] = "DELETE FROM login_sessions WHERE id = ?";
inline constexpr char kPurgeLoginSessions[] = "DELETE FROM login_sessions WHERE expires_at <= ?";
#undef EE_LOGIN_SESSION_COLUMNS

#undef EE_APP_COLUMNS
#undef EE_VERSION_COLUMNS
#undef EE_ACCOUNT_COLUMNS
#undef EE_DEPLOYMENT_COLUMNS

}  // namespace ee::registry::sqlite::sql
