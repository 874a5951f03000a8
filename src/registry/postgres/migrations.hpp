#pragma once
// The PostgreSQL schema as an ordered list of migrations, independent of the SQLite engine's.
// Migration i (0-based) takes the database from version i to i + 1; Database::open applies the
// pending ones at start while holding a session advisory lock (kMigrationLock), each in its own
// transaction together with its row in ee_schema_migrations, and refuses a database whose version
// is above kSchemaVersion. Append only: a released migration is never edited.
//
// Conventions (those of the SQLite schema, so both engines store the same values): times are
// BIGINT nanoseconds since the Unix epoch (TIMESTAMPTZ would round to microseconds); enums are
// their to_string() spelling; string arrays are JSON arrays of strings in TEXT; text fields the
// records default to "" are NOT NULL. Every text column uses the "C" collation, so ordering and
// uniqueness are by bytes, as in SQLite, whatever the database's default collation is.
#include <array>
#include <cstddef>
#include <cstdint>

namespace ee::registry::postgres {

/// The key of the advisory lock held while migrating ("eeregist" in ASCII).
inline constexpr std::int64_t kMigrationLock = 0x6565726567697374;

inline constexpr char kCreateMigrationTable[] =
    "CREATE TABLE IF NOT EXISTS ee_schema_migrations ("
    "version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)";

inline constexpr std::array<char const*, 5> kMigrations = {
    // 1: every store of the SQLite schema's five migrations, plus the single-use keys (spent
    // nonces, accepted request signatures) that replicas share.
    R"sql(
CREATE TABLE agents (
  id                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  vm_name            TEXT COLLATE "C" NOT NULL UNIQUE,
  owner              TEXT COLLATE "C" NOT NULL,
  owner_id           TEXT COLLATE "C" NOT NULL,
  node_size          TEXT COLLATE "C" NOT NULL,
  datacenter         TEXT COLLATE "C" NOT NULL,
  public_key         TEXT COLLATE "C" NOT NULL,
  agent_url          TEXT COLLATE "C" NOT NULL,
  hostname           TEXT COLLATE "C" NOT NULL,
  tunnel_id          TEXT COLLATE "C" NOT NULL,
  dns_record_id      TEXT COLLATE "C" NOT NULL,
  mrtd               TEXT COLLATE "C" NOT NULL,
  rtmr0              TEXT COLLATE "C" NOT NULL,
  rtmr1              TEXT COLLATE "C" NOT NULL,
  rtmr2              TEXT COLLATE "C" NOT NULL,
  rtmr3              TEXT COLLATE "C" NOT NULL,
  tcb_status         TEXT COLLATE "C" NOT NULL,
  tcb_date           BIGINT,
  advisory_ids       TEXT COLLATE "C" NOT NULL,
  appraised_by       TEXT COLLATE "C" NOT NULL,
  appraised_at       BIGINT NOT NULL,
  report_data        TEXT COLLATE "C" NOT NULL,
  verified           BOOLEAN NOT NULL,
  unverified_reason  TEXT COLLATE "C" NOT NULL,
  health             TEXT COLLATE "C" NOT NULL,
  deployment_id      TEXT COLLATE "C" NOT NULL,
  reported_status    TEXT COLLATE "C" NOT NULL,
  reported_digest    TEXT COLLATE "C" NOT NULL,
  registered_at      BIGINT NOT NULL,
  last_registered_at BIGINT NOT NULL,
  last_heartbeat_at  BIGINT NOT NULL
);
CREATE INDEX agents_by_registration ON agents (registered_at, id);
CREATE INDEX agents_by_owner ON agents (lower(owner));
CREATE INDEX agents_by_heartbeat ON agents (last_heartbeat_at);

CREATE TABLE trusted_measurements (
  mrtd      TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  kind      TEXT COLLATE "C" NOT NULL,
  node_size TEXT COLLATE "C" NOT NULL,
  note      TEXT COLLATE "C" NOT NULL,
  added_at  BIGINT NOT NULL
);
CREATE INDEX trusted_measurements_by_added ON trusted_measurements (added_at, mrtd);

CREATE TABLE apps (
  name        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  description TEXT COLLATE "C" NOT NULL,
  source_repo TEXT COLLATE "C" NOT NULL,
  owner       TEXT COLLATE "C" NOT NULL,
  owner_id    TEXT COLLATE "C" NOT NULL,
  created_at  BIGINT NOT NULL
);

CREATE TABLE app_versions (
  app_name     TEXT COLLATE "C" NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
  version      TEXT COLLATE "C" NOT NULL,
  image        TEXT COLLATE "C" NOT NULL,
  mrtd         TEXT COLLATE "C" NOT NULL,
  rtmr0        TEXT COLLATE "C" NOT NULL,
  rtmr1        TEXT COLLATE "C" NOT NULL,
  rtmr2        TEXT COLLATE "C" NOT NULL,
  rtmr3        TEXT COLLATE "C" NOT NULL,
  node_size    TEXT COLLATE "C" NOT NULL,
  published_by TEXT COLLATE "C" NOT NULL,
  published_at BIGINT NOT NULL,
  PRIMARY KEY (app_name, version)
);
CREATE INDEX app_versions_by_published ON app_versions (app_name, published_at, version);

-- No foreign keys: a deployment's history outlives the agent it ran on.
CREATE TABLE deployments (
  id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  app_name     TEXT COLLATE "C" NOT NULL,
  version      TEXT COLLATE "C" NOT NULL,
  agent_id     TEXT COLLATE "C" NOT NULL,
  image        TEXT COLLATE "C" NOT NULL,
  status       TEXT COLLATE "C" NOT NULL,
  detail       TEXT COLLATE "C" NOT NULL,
  requested_by TEXT COLLATE "C" NOT NULL,
  created_at   BIGINT NOT NULL,
  updated_at   BIGINT NOT NULL,
  replaces     TEXT COLLATE "C" NOT NULL,
  rollout_id   TEXT COLLATE "C" NOT NULL,
  rollout_step BIGINT NOT NULL
);
CREATE INDEX deployments_by_created ON deployments (created_at DESC, id);
CREATE INDEX deployments_by_agent ON deployments (agent_id, created_at DESC, id);
CREATE INDEX deployments_by_app ON deployments (app_name, created_at DESC, id);
CREATE INDEX deployments_by_status ON deployments (status, created_at DESC, id);
CREATE INDEX deployments_by_updated ON deployments (updated_at);
CREATE INDEX deployments_by_rollout ON deployments (rollout_id, rollout_step) WHERE rollout_id <> '';

CREATE TABLE bootstrap_tokens (
  id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  token_hash TEXT COLLATE "C" NOT NULL UNIQUE,
  owner      TEXT COLLATE "C" NOT NULL,
  owner_id   TEXT COLLATE "C" NOT NULL,
  created_by TEXT COLLATE "C" NOT NULL,
  vm_name    TEXT COLLATE "C" NOT NULL,
  datacenter TEXT COLLATE "C" NOT NULL,
  node_size  TEXT COLLATE "C" NOT NULL,
  uses       BIGINT NOT NULL,
  uses_left  BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX bootstrap_tokens_by_owner ON bootstrap_tokens (owner_id, created_at DESC, id);
CREATE INDEX bootstrap_tokens_by_expiry ON bootstrap_tokens (expires_at);

CREATE TABLE settings (
  name       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  value      TEXT COLLATE "C" NOT NULL,
  updated_by TEXT COLLATE "C" NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE leases (
  name       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  holder     TEXT COLLATE "C" NOT NULL,
  expires_at BIGINT NOT NULL
);

-- Single-use keys of the OnceStores; `scope` is the store ("nonce", "replay").
CREATE TABLE once_keys (
  scope      TEXT COLLATE "C" NOT NULL,
  key        TEXT COLLATE "C" NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX once_keys_by_expiry ON once_keys (scope, expires_at);
)sql",
    // 2: the health scrape's hysteresis counts, with the agent, so that the replica that takes
    // the scrape over goes on counting where the last one stopped.
    R"sql(
ALTER TABLE agents ADD COLUMN health_successes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN health_failures INTEGER NOT NULL DEFAULT 0;
)sql",
    // 3: each deployment's history, written by a trigger in the transaction of each change, so no
    // code path can change a status without it being recorded. A deployment's current state
    // stands for the history it had before this migration.
    R"sql(
CREATE TABLE deployment_changes (
  seq           BIGSERIAL PRIMARY KEY,
  deployment_id TEXT COLLATE "C" NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
  status        TEXT COLLATE "C" NOT NULL,
  detail        TEXT NOT NULL,
  at            BIGINT NOT NULL
);
CREATE INDEX deployment_changes_by_deployment ON deployment_changes (deployment_id, seq);
INSERT INTO deployment_changes (deployment_id, status, detail, at)
  SELECT id, status, detail, updated_at FROM deployments ORDER BY created_at, id;
CREATE FUNCTION ee_record_deployment_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status OR OLD.detail IS DISTINCT FROM NEW.detail THEN
    INSERT INTO deployment_changes (deployment_id, status, detail, at)
      VALUES (NEW.id, NEW.status, NEW.detail, NEW.updated_at);
  END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER deployment_changes_record AFTER INSERT OR UPDATE ON deployments
  FOR EACH ROW EXECUTE FUNCTION ee_record_deployment_change();
)sql",
    // 4: accounts and their API keys (an Argon2id hash, found by the key's 12-character prefix).
    R"sql(
CREATE TABLE accounts (
  id             TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  name           TEXT COLLATE "C" NOT NULL UNIQUE,
  type           TEXT COLLATE "C" NOT NULL,
  github_id      TEXT COLLATE "C" NOT NULL,
  github_login   TEXT COLLATE "C" NOT NULL,
  github_org     TEXT COLLATE "C" NOT NULL,
  api_key_prefix TEXT COLLATE "C" NOT NULL UNIQUE,
  api_key_hash   TEXT COLLATE "C" NOT NULL,
  created_at     BIGINT NOT NULL
);
CREATE INDEX accounts_by_created ON accounts (created_at, id);
CREATE INDEX accounts_by_type ON accounts (type, created_at, id);
)sql",
    // 5: login sessions (admin password, GitHub OAuth). Only an Argon2id hash of each token is
    // kept; the prefix finds the rows to verify against, and is not unique.
    R"sql(
CREATE TABLE login_sessions (
  id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  token_prefix TEXT COLLATE "C" NOT NULL,
  token_hash   TEXT COLLATE "C" NOT NULL,
  method       TEXT COLLATE "C" NOT NULL,
  admin        BOOLEAN NOT NULL,
  github_login TEXT COLLATE "C" NOT NULL,
  github_id    TEXT COLLATE "C" NOT NULL,
  github_orgs  TEXT COLLATE "C" NOT NULL,
  created_at   BIGINT NOT NULL,
  expires_at   BIGINT NOT NULL
);
CREATE INDEX login_sessions_by_prefix ON login_sessions (token_prefix, expires_at);
CREATE INDEX login_sessions_by_expiry ON login_sessions (expires_at);
)sql",
};

/// The version of a database with every migration applied.
inline constexpr std::size_t kSchemaVersion = kMigrations.size();

}  // namespace ee::registry::postgres
