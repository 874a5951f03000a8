#pragma once
// Every SQL statement of the PostgreSQL stores, as named constants. Parameters are $1, $2, ...;
// the row readers in postgres_stores.cpp read columns by the positions of the *_COLUMNS lists, so
// a list and its reader change together. Writes that must say what they wrote use RETURNING, so
// the common path of each call is one round trip.
//
// Filtered lists are assembled from the k*Where* fragments (each ends in "$" and gets its
// parameter's number appended), so each combination is its own prepared statement.

namespace ee::registry::postgres::sql {

#define EE_PG_AGENT_COLUMNS                                                                    \
  "id, vm_name, owner, node_size, datacenter, public_key, agent_url, hostname, tunnel_id, "   \
  "dns_record_id, mrtd, rtmr0, rtmr1, rtmr2, rtmr3, tcb_status, tcb_date, advisory_ids, "     \
  "appraised_by, appraised_at, report_data, verified, unverified_reason, health, "            \
  "deployment_id, reported_status, reported_digest, registered_at, last_registered_at, "      \
  "last_heartbeat_at, owner_id"
#define EE_PG_MEASUREMENT_COLUMNS "mrtd, kind, node_size, note, added_at"
#define EE_PG_APP_COLUMNS "name, description, source_repo, owner, created_at, owner_id"
#define EE_PG_BOOTSTRAP_TOKEN_COLUMNS                                                          \
  "id, token_hash, owner, owner_id, created_by, vm_name, datacenter, node_size, uses, "       \
  "uses_left, created_at, expires_at"
#define EE_PG_ACCOUNT_COLUMNS                                                                  \
  "id, name, type, github_id, github_login, github_org, api_key_prefix, api_key_hash, created_at"
#define EE_PG_VERSION_COLUMNS                                                                  \
  "app_name, version, image, mrtd, rtmr0, rtmr1, rtmr2, rtmr3, node_size, published_by, "     \
  "published_at"
#define EE_PG_DEPLOYMENT_COLUMNS                                                               \
  "id, app_name, version, agent_id, image, status, detail, requested_by, created_at, "        \
  "updated_at, replaces, rollout_id, rollout_step"

// --- agents ----------------------------------------------------------------------------------

inline constexpr char kInsertAgent[] =
    "INSERT INTO agents (" EE_PG_AGENT_COLUMNS
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, "
    "$19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31)";
// Every column but id, in EE_PG_AGENT_COLUMNS order, then the id.
inline constexpr char kUpdateAgent[] =
    "UPDATE agents SET vm_name = $1, owner = $2, node_size = $3, datacenter = $4, "
    "public_key = $5, agent_url = $6, hostname = $7, tunnel_id = $8, dns_record_id = $9, "
    "mrtd = $10, rtmr0 = $11, rtmr1 = $12, rtmr2 = $13, rtmr3 = $14, tcb_status = $15, "
    "tcb_date = $16, advisory_ids = $17, appraised_by = $18, appraised_at = $19, "
    "report_data = $20, verified = $21, unverified_reason = $22, health = $23, "
    "deployment_id = $24, reported_status = $25, reported_digest = $26, registered_at = $27, "
    "last_registered_at = $28, last_heartbeat_at = $29, owner_id = $30 WHERE id = $31";
inline constexpr char kSelectAgentById[] = "SELECT " EE_PG_AGENT_COLUMNS " FROM agents WHERE id = $1";
inline constexpr char kSelectAgentByVmName[] =
    "SELECT " EE_PG_AGENT_COLUMNS " FROM agents WHERE vm_name = $1";
inline constexpr char kSelectAgents[] = "SELECT " EE_PG_AGENT_COLUMNS " FROM agents";
inline constexpr char kAgentWhereVmName[] = "vm_name = $";
// ASCII case folding (lower() under the "C" collation), like SQLite's NOCASE; owners are GitHub
// names, which are ASCII. The index agents_by_owner is on lower(owner).
inline constexpr char kAgentWhereOwner[] = "lower(owner) = lower($";
inline constexpr char kAgentWhereOwnerClose[] = ")";
// agent_status() in src/registry/types.cpp, spelled in SQL: same order, same precedence.
inline constexpr char kAgentWhereStatus[] =
    "(CASE WHEN NOT verified THEN 'unverified' WHEN health = 'down' THEN 'down' "
    "WHEN deployment_id <> '' THEN 'deployed' ELSE 'idle' END) = $";
inline constexpr char kAgentWhereHeartbeatBefore[] = "last_heartbeat_at < $";
inline constexpr char kAgentOrder[] = " ORDER BY registered_at, id";
inline constexpr char kCountAgents[] = "SELECT count(*) FROM agents";
inline constexpr char kRecordHeartbeat[] =
    "UPDATE agents SET last_heartbeat_at = $1, reported_status = $2, reported_digest = $3 "
    "WHERE id = $4";
inline constexpr char kSetVerification[] =
    "UPDATE agents SET verified = $1, unverified_reason = $2 WHERE id = $3";
inline constexpr char kSetVerificationWithAttestation[] =
    "UPDATE agents SET verified = $1, unverified_reason = $2, mrtd = $3, rtmr0 = $4, rtmr1 = $5, "
    "rtmr2 = $6, rtmr3 = $7, tcb_status = $8, tcb_date = $9, advisory_ids = $10, "
    "appraised_by = $11, appraised_at = $12, report_data = $13 WHERE id = $14";
inline constexpr char kSelectDeploymentHistory[] =
    "SELECT status, detail, at FROM deployment_changes WHERE deployment_id = $1 ORDER BY seq";
inline constexpr char kSetHealth[] = "UPDATE agents SET health = $1 WHERE id = $2";
inline constexpr char kSetOwner[] = "UPDATE agents SET owner = $1, owner_id = $2 WHERE id = $3";
inline constexpr char kSetTunnel[] =
    "UPDATE agents SET tunnel_id = $1, hostname = $2, dns_record_id = $3 WHERE id = $4";
// One scrape outcome ($1 healthy, $2 up_after, $3 down_after, $4 the id), under the row's lock.
// The right-hand sides read the row as it was, so the thresholds compare the count this outcome
// makes; counts stop at their threshold, so an agent failing for years cannot overflow them.
// A row already settled on this outcome (counted to its threshold, health agreeing) is not
// written at all: the steady state of a healthy fleet costs no writes (and no dead tuples). It
// returns no row then, and kSelectHealth tells that from an unknown id.
inline constexpr char kObserveHealth[] =
    "UPDATE agents SET "
    "health_successes = CASE WHEN $1::boolean THEN LEAST(health_successes + 1, $2::integer) ELSE 0 END, "
    "health_failures = CASE WHEN $1::boolean THEN 0 ELSE LEAST(health_failures + 1, $3::integer) END, "
    "health = CASE WHEN $1::boolean AND health_successes + 1 >= $2::integer THEN 'up' "
    "WHEN NOT $1::boolean AND health_failures + 1 >= $3::integer THEN 'down' ELSE health END "
    "WHERE id = $4 AND NOT (CASE WHEN $1::boolean "
    "THEN health_failures = 0 AND health_successes >= $2::integer AND health = 'up' "
    "ELSE health_successes = 0 AND health_failures >= $3::integer AND health = 'down' END) "
    "RETURNING health";
inline constexpr char kSelectHealth[] = "SELECT health FROM agents WHERE id = $1";
inline constexpr char kSetDeployment[] = "UPDATE agents SET deployment_id = $1 WHERE id = $2";
// The compare-and-sets. Under READ COMMITTED a concurrent UPDATE of the same row waits for the
// first to commit and then re-checks its WHERE against the committed row, so of two racing
// claims exactly one changes the row.
inline constexpr char kClaimAgent[] =
    "UPDATE agents SET deployment_id = $1 WHERE id = $2 AND deployment_id = ''";
inline constexpr char kReleaseAgent[] =
    "UPDATE agents SET deployment_id = '' WHERE id = $1 AND deployment_id = $2 "
    "AND deployment_id <> ''";
inline constexpr char kMoveAgentHolding[] =
    "UPDATE agents SET deployment_id = $1 WHERE id = $2 AND deployment_id = $3";
inline constexpr char kSelectAgentDeployment[] = "SELECT deployment_id FROM agents WHERE id = $1";
inline constexpr char kDeleteAgent[] = "DELETE FROM agents WHERE id = $1";

// --- trusted measurements ----------------------------------------------------------------------

inline constexpr char kInsertMeasurement[] =
    "INSERT INTO trusted_measurements (" EE_PG_MEASUREMENT_COLUMNS ") VALUES ($1, $2, $3, $4, $5)";
inline constexpr char kSelectMeasurement[] =
    "SELECT " EE_PG_MEASUREMENT_COLUMNS " FROM trusted_measurements WHERE mrtd = $1";
inline constexpr char kSelectMeasurements[] =
    "SELECT " EE_PG_MEASUREMENT_COLUMNS " FROM trusted_measurements ORDER BY added_at, mrtd";
inline constexpr char kDeleteMeasurement[] = "DELETE FROM trusted_measurements WHERE mrtd = $1";

// --- apps and versions -------------------------------------------------------------------------

inline constexpr char kInsertApp[] =
    "INSERT INTO apps (" EE_PG_APP_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6)";
inline constexpr char kSelectApp[] = "SELECT " EE_PG_APP_COLUMNS " FROM apps WHERE name = $1";
inline constexpr char kSelectApps[] = "SELECT " EE_PG_APP_COLUMNS " FROM apps ORDER BY name";
inline constexpr char kAppExists[] = "SELECT 1 FROM apps WHERE name = $1";
// FOR KEY SHARE: the app cannot be deleted while a version is added to it (the foreign key takes
// the same lock; taking it first makes "no app" a not_found rather than a constraint error).
inline constexpr char kAppExistsLocked[] = "SELECT 1 FROM apps WHERE name = $1 FOR KEY SHARE";
inline constexpr char kInsertVersion[] =
    "INSERT INTO app_versions (" EE_PG_VERSION_COLUMNS
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
inline constexpr char kSelectVersion[] =
    "SELECT " EE_PG_VERSION_COLUMNS " FROM app_versions WHERE app_name = $1 AND version = $2";
inline constexpr char kSelectVersions[] =
    "SELECT " EE_PG_VERSION_COLUMNS
    " FROM app_versions WHERE app_name = $1 ORDER BY published_at, version";

// --- accounts ----------------------------------------------------------------------------------

inline constexpr char kInsertAccount[] =
    "INSERT INTO accounts (" EE_PG_ACCOUNT_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
inline constexpr char kSelectAccountById[] = "SELECT " EE_PG_ACCOUNT_COLUMNS " FROM accounts WHERE id = $1";
inline constexpr char kSelectAccountByName[] = "SELECT " EE_PG_ACCOUNT_COLUMNS " FROM accounts WHERE name = $1";
inline constexpr char kSelectAccountByKeyPrefix[] =
    "SELECT " EE_PG_ACCOUNT_COLUMNS " FROM accounts WHERE api_key_prefix = $1";
inline constexpr char kSelectAccounts[] = "SELECT " EE_PG_ACCOUNT_COLUMNS " FROM accounts";
inline constexpr char kAccountWhereName[] = "name = $";
inline constexpr char kAccountWhereType[] = "type = $";
inline constexpr char kAccountOrder[] = " ORDER BY created_at, id";
// Prefix and hash in one statement: no moment holds the new prefix with the old hash.
inline constexpr char kReplaceAccountKey[] =
    "UPDATE accounts SET api_key_prefix = $1, api_key_hash = $2 WHERE id = $3 RETURNING " EE_PG_ACCOUNT_COLUMNS;
inline constexpr char kLinkAccountIdentity[] =
    "UPDATE accounts SET github_id = $1, github_login = $2, github_org = $3 WHERE id = $4 RETURNING " EE_PG_ACCOUNT_COLUMNS;
inline constexpr char kDeleteAccount[] = "DELETE FROM accounts WHERE id = $1";

// --- bootstrap tokens --------------------------------------------------------------------------

inline constexpr char kInsertBootstrapToken[] =
    "INSERT INTO bootstrap_tokens (" EE_PG_BOOTSTRAP_TOKEN_COLUMNS
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
inline constexpr char kSelectBootstrapTokenByHash[] =
    "SELECT " EE_PG_BOOTSTRAP_TOKEN_COLUMNS " FROM bootstrap_tokens WHERE token_hash = $1";
inline constexpr char kSelectBootstrapTokenById[] =
    "SELECT " EE_PG_BOOTSTRAP_TOKEN_COLUMNS " FROM bootstrap_tokens WHERE id = $1";
// The compare-and-set of one use, returning the token after it.
inline constexpr char kUseBootstrapToken[] =
    "UPDATE bootstrap_tokens SET uses_left = uses_left - 1 "
    "WHERE id = $1 AND uses_left > 0 AND expires_at > $2 RETURNING " EE_PG_BOOTSTRAP_TOKEN_COLUMNS;
inline constexpr char kSelectBootstrapTokensByOwnerId[] =
    "SELECT " EE_PG_BOOTSTRAP_TOKEN_COLUMNS
    " FROM bootstrap_tokens WHERE owner_id = $1 ORDER BY created_at DESC, id";
inline constexpr char kDeleteBootstrapToken[] = "DELETE FROM bootstrap_tokens WHERE id = $1";
inline constexpr char kPurgeBootstrapTokens[] =
    "DELETE FROM bootstrap_tokens WHERE expires_at <= $1 OR uses_left <= 0";

// --- settings ------------------------------------------------------------------------------------

inline constexpr char kSelectSettings[] =
    "SELECT name, value, updated_by, updated_at FROM settings ORDER BY name";
inline constexpr char kPutSetting[] =
    "INSERT INTO settings (name, value, updated_by, updated_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, "
    "updated_at = excluded.updated_at";
inline constexpr char kDeleteSetting[] = "DELETE FROM settings WHERE name = $1";

// --- deployments -------------------------------------------------------------------------------

inline constexpr char kInsertDeployment[] =
    "INSERT INTO deployments (" EE_PG_DEPLOYMENT_COLUMNS
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
inline constexpr char kSelectDeployment[] =
    "SELECT " EE_PG_DEPLOYMENT_COLUMNS " FROM deployments WHERE id = $1";
inline constexpr char kSelectDeployments[] = "SELECT " EE_PG_DEPLOYMENT_COLUMNS " FROM deployments";
inline constexpr char kDeploymentWhereAgent[] = "agent_id = $";
inline constexpr char kDeploymentWhereRollout[] = "rollout_id = $";
inline constexpr char kDeploymentWhereApp[] = "app_name = $";
inline constexpr char kDeploymentWhereStatus[] = "status = $";
inline constexpr char kDeploymentWhereUpdatedBefore[] = "updated_at < $";
inline constexpr char kDeploymentOrder[] = " ORDER BY created_at DESC, id";
inline constexpr char kSetDeploymentStatus[] =
    "UPDATE deployments SET status = $1, detail = $2, updated_at = $3 WHERE id = $4 "
    "RETURNING " EE_PG_DEPLOYMENT_COLUMNS;
inline constexpr char kSetDeploymentStatusIf[] =
    "UPDATE deployments SET status = $1, detail = $2, updated_at = $3 WHERE id = $4 AND status = $5 "
    "RETURNING " EE_PG_DEPLOYMENT_COLUMNS;
inline constexpr char kStartQueuedDeployment[] =
    "UPDATE deployments SET status = 'pending', replaces = $1, detail = '', updated_at = $2 "
    "WHERE id = $3 AND status = 'queued' RETURNING " EE_PG_DEPLOYMENT_COLUMNS;
inline constexpr char kSelectDeploymentStatus[] = "SELECT status FROM deployments WHERE id = $1";

// --- leases ------------------------------------------------------------------------------------

// One upsert: the conflict branch changes the row only when the lease is the holder's or has
// expired; a concurrent acquire waits on the row lock and re-checks, so exactly one wins.
inline constexpr char kAcquireLease[] =
    "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE leases.holder = excluded.holder OR leases.expires_at <= $4";
inline constexpr char kReleaseLease[] = "DELETE FROM leases WHERE name = $1 AND holder = $2";

// --- single-use keys ---------------------------------------------------------------------------

// Records a key unless it is recorded and unexpired: one row changed is the first use. An expired
// row not yet purged is taken over, as the in-memory store forgets expired keys first.
inline constexpr char kFirstUse[] =
    "INSERT INTO once_keys (scope, key, expires_at) VALUES ($1, $2, $3) "
    "ON CONFLICT (scope, key) DO UPDATE SET expires_at = excluded.expires_at "
    "WHERE once_keys.expires_at <= $4";
inline constexpr char kForgetKey[] = "DELETE FROM once_keys WHERE scope = $1 AND key = $2";
inline constexpr char kPurgeKeys[] = "DELETE FROM once_keys WHERE scope = $1 AND expires_at <= $2";
inline constexpr char kCountKeys[] = "SELECT count(*) FROM once_keys WHERE scope = $1";

inline constexpr char kLimitOffset[] = " LIMIT $";
inline constexpr char kOffset[] = " OFFSET $";

#undef EE_PG_AGENT_COLUMNS
#undef EE_PG_MEASUREMENT_COLUMNS
#undef EE_PG_APP_COLUMNS
// --- login sessions ------------------------------------------------------------------------------

#define EE_PG_LOGIN_SESSION_COLUMNS                                                           \
  "id, token_prefix, token_hash, method, admin, github_login, github_id, github_orgs, "      \
  "created_at, expires_at"
inline constexpr char kInsertLoginSession[] =
    "INSERT INTO login_sessions (" EE_PG_LOGIN_SESSION_COLUMNS
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
inline constexpr char kSelectLoginSessionsByPrefix[] =
    "SELECT " EE_PG_LOGIN_SESSION_COLUMNS
    " FROM login_sessions WHERE token_prefix = $1 AND expires_at > $2 ORDER BY created_at, id";
inline constexpr char kSelectLoginSessionById[] =
    "SELECT " EE_PG_LOGIN_SESSION_COLUMNS " FROM login_sessions WHERE id = $1";
inline constexpr char kDeleteLoginSession[] = "DELETE FROM login_sessions WHERE id = $1";
inline constexpr char kPurgeLoginSessions[] = "DELETE FROM login_sessions WHERE expires_at <= $1";
#undef EE_PG_LOGIN_SESSION_COLUMNS

#undef EE_PG_BOOTSTRAP_TOKEN_COLUMNS
#undef EE_PG_ACCOUNT_COLUMNS
#undef EE_PG_VERSION_COLUMNS
#undef EE_PG_DEPLOYMENT_COLUMNS

}  // namespace ee::registry::postgres::sql
