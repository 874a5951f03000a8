#pragma once
// The registry schema as an ordered list of migrations. Migration i (0-based) takes the database
// from `PRAGMA user_version` i to i + 1; Database::open applies the pending ones in one
// transaction and refuses a database whose user_version is above kSchemaVersion. Append only:
// a released migration is never edited, because databases in the field already ran it.
//
// Conventions: times are INTEGER nanoseconds since the Unix epoch; booleans are INTEGER 0/1;
// enums are their to_string() spelling; string arrays are JSON arrays of strings; text fields
// the records default to "" are NOT NULL (only AttestationRecord::tcb_date is nullable).
#include <array>
#include <cstddef>

namespace ee::registry::sqlite {

inline constexpr std::array<char const*, 9> kMigrations = {
    // 1: agents, trusted measurements, apps with versions, deployments.
    R"sql(
CREATE TABLE agents (
  id                 TEXT    NOT NULL PRIMARY KEY,
  vm_name            TEXT    NOT NULL UNIQUE,
  owner              TEXT    NOT NULL,
  node_size          TEXT    NOT NULL,
  datacenter         TEXT    NOT NULL,
  public_key         TEXT    NOT NULL,
  agent_url          TEXT    NOT NULL,
  hostname           TEXT    NOT NULL,
  tunnel_id          TEXT    NOT NULL,
  dns_record_id      TEXT    NOT NULL,
  mrtd               TEXT    NOT NULL,
  rtmr0              TEXT    NOT NULL,
  rtmr1              TEXT    NOT NULL,
  rtmr2              TEXT    NOT NULL,
  rtmr3              TEXT    NOT NULL,
  tcb_status         TEXT    NOT NULL,
  tcb_date           INTEGER,
  advisory_ids       TEXT    NOT NULL,
  appraised_by       TEXT    NOT NULL,
  appraised_at       INTEGER NOT NULL,
  report_data        TEXT    NOT NULL,
  verified           INTEGER NOT NULL,
  unverified_reason  TEXT    NOT NULL,
  health             TEXT    NOT NULL,
  deployment_id      TEXT    NOT NULL,
  reported_status    TEXT    NOT NULL,
  reported_digest    TEXT    NOT NULL,
  registered_at      INTEGER NOT NULL,
  last_registered_at INTEGER NOT NULL,
  last_heartbeat_at  INTEGER NOT NULL
);
CREATE INDEX agents_by_registration ON agents (registered_at, id);
CREATE INDEX agents_by_owner ON agents (owner COLLATE NOCASE);
CREATE INDEX agents_by_heartbeat ON agents (last_heartbeat_at);

CREATE TABLE trusted_measurements (
  mrtd      TEXT    NOT NULL PRIMARY KEY,
  kind      TEXT    NOT NULL,
  node_size TEXT    NOT NULL,
  note      TEXT    NOT NULL,
  added_at  INTEGER NOT NULL
);
CREATE INDEX trusted_measurements_by_added ON trusted_measurements (added_at, mrtd);

CREATE TABLE apps (
  name        TEXT    NOT NULL PRIMARY KEY,
  description TEXT    NOT NULL,
  source_repo TEXT    NOT NULL,
  owner       TEXT    NOT NULL,
  created_at  INTEGER NOT NULL
);

CREATE TABLE app_versions (
  app_name     TEXT    NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
  version      TEXT    NOT NULL,
  image        TEXT    NOT NULL,
  mrtd         TEXT    NOT NULL,
  rtmr0        TEXT    NOT NULL,
  rtmr1        TEXT    NOT NULL,
  rtmr2        TEXT    NOT NULL,
  rtmr3        TEXT    NOT NULL,
  node_size    TEXT    NOT NULL,
  published_by TEXT    NOT NULL,
  published_at INTEGER NOT NULL,
  PRIMARY KEY (app_name, version)
);
CREATE INDEX app_versions_by_published ON app_versions (app_name, published_at, version);

-- No foreign keys: a deployment's history outlives the agent it ran on.
CREATE TABLE deployments (
  id           TEXT    NOT NULL PRIMARY KEY,
  app_name     TEXT    NOT NULL,
  version      TEXT    NOT NULL,
  agent_id     TEXT    NOT NULL,
  image        TEXT    NOT NULL,
  status       TEXT    NOT NULL,
  detail       TEXT    NOT NULL,
  requested_by TEXT    NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
CREATE INDEX deployments_by_created ON deployments (created_at DESC, id);
CREATE INDEX deployments_by_agent ON deployments (agent_id, created_at DESC, id);
CREATE INDEX deployments_by_app ON deployments (app_name, created_at DESC, id);
CREATE INDEX deployments_by_status ON deployments (status, created_at DESC, id);
CREATE INDEX deployments_by_updated ON deployments (updated_at);
)sql",
    // 2: proven owners (numeric GitHub ids) and bootstrap tokens.
    R"sql(
ALTER TABLE agents ADD COLUMN owner_id TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN owner_id TEXT NOT NULL DEFAULT '';

CREATE TABLE bootstrap_tokens (
  id         TEXT    NOT NULL PRIMARY KEY,
  token_hash TEXT    NOT NULL UNIQUE,
  owner      TEXT    NOT NULL,
  owner_id   TEXT    NOT NULL,
  created_by TEXT    NOT NULL,
  vm_name    TEXT    NOT NULL,
  datacenter TEXT    NOT NULL,
  node_size  TEXT    NOT NULL,
  uses       INTEGER NOT NULL,
  uses_left  INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX bootstrap_tokens_by_owner ON bootstrap_tokens (owner_id, created_at DESC, id);
CREATE INDEX bootstrap_tokens_by_expiry ON bootstrap_tokens (expires_at);
)sql",
    // 3: settings set at run time by the admin settings routes.
    R"sql(
CREATE TABLE settings (
  name       TEXT    NOT NULL PRIMARY KEY,
  value      TEXT    NOT NULL,
  updated_by TEXT    NOT NULL,
  updated_at INTEGER NOT NULL
);
)sql",
    // 4: upgrades (the deployment one replaces) and rolling deploys.
    R"sql(
ALTER TABLE deployments ADD COLUMN replaces TEXT NOT NULL DEFAULT '';
ALTER TABLE deployments ADD COLUMN rollout_id TEXT NOT NULL DEFAULT '';
ALTER TABLE deployments ADD COLUMN rollout_step INTEGER NOT NULL DEFAULT 0;
CREATE INDEX deployments_by_rollout ON deployments (rollout_id, rollout_step) WHERE rollout_id <> '';
)sql",
    // 5: leases of background passes, so processes sharing the database run each pass once.
    R"sql(
CREATE TABLE leases (
  name       TEXT    NOT NULL PRIMARY KEY,
  holder     TEXT    NOT NULL,
  expires_at INTEGER NOT NULL
);
)sql",
    // 6: the health scrape's hysteresis counts, with the agent, so that they outlive the process.
    R"sql(
ALTER TABLE agents ADD COLUMN health_successes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN health_failures INTEGER NOT NULL DEFAULT 0;
)sql",
    // 7: each deployment's history, written by triggers in the transaction of each change, so no
    // code path can change a status without it being recorded. A deployment's current state
    // stands for the history it had before this migration.
    R"sql(
CREATE TABLE deployment_changes (
  seq           INTEGER NOT NULL PRIMARY KEY,
  deployment_id TEXT    NOT NULL,
  status        TEXT    NOT NULL,
  detail        TEXT    NOT NULL,
  at            INTEGER NOT NULL
);
CREATE INDEX deployment_changes_by_deployment ON deployment_changes (deployment_id, seq);
INSERT INTO deployment_changes (deployment_id, status, detail, at)
  SELECT id, status, detail, updated_at FROM deployments ORDER BY created_at, id;
CREATE TRIGGER deployment_changes_on_insert AFTER INSERT ON deployments BEGIN
  INSERT INTO deployment_changes (deployment_id, status, detail, at)
    VALUES (NEW.id, NEW.status, NEW.detail, NEW.updated_at);
END;
CREATE TRIGGER deployment_changes_on_update AFTER UPDATE OF status, detail ON deployments
  WHEN OLD.status IS NOT NEW.status OR OLD.detail IS NOT NEW.detail BEGIN
  INSERT INTO deployment_changes (deployment_id, status, detail, at)
    VALUES (NEW.id, NEW.status, NEW.detail, NEW.updated_at);
END;
CREATE TRIGGER deployment_changes_on_delete AFTER DELETE ON deployments BEGIN
  DELETE FROM deployment_changes WHERE deployment_id = OLD.id;
END;
)sql",
    // 8: accounts and their API keys (an Argon2id hash, found by the key's 12-character prefix).
    R"sql(
CREATE TABLE accounts (
  id             TEXT    NOT NULL PRIMARY KEY,
  name           TEXT    NOT NULL UNIQUE,
  type           TEXT    NOT NULL,
  github_id      TEXT    NOT NULL,
  github_login   TEXT    NOT NULL,
  github_org     TEXT    NOT NULL,
  api_key_prefix TEXT    NOT NULL UNIQUE,
  api_key_hash   TEXT    NOT NULL,
  created_at     INTEGER NOT NULL
);
CREATE INDEX accounts_by_created ON accounts (created_at, id);
CREATE INDEX accounts_by_type ON accounts (type, created_at, id);
)sql",
    // 9: login sessions (admin password, GitHub OAuth). Only an Argon2id hash of each token is
    // kept; the prefix finds the rows to verify against, and is not unique.
    R"sql(
CREATE TABLE login_sessions (
  id           TEXT    NOT NULL PRIMARY KEY,
  token_prefix TEXT    NOT NULL,
  token_hash   TEXT    NOT NULL,
  method       TEXT    NOT NULL,
  admin        INTEGER NOT NULL,
  github_login TEXT    NOT NULL,
  github_id    TEXT    NOT NULL,
  github_orgs  TEXT    NOT NULL,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL
);
CREATE INDEX login_sessions_by_prefix ON login_sessions (token_prefix, expires_at);
CREATE INDEX login_sessions_by_expiry ON login_sessions (expires_at);
)sql",
};

/// The user_version of a database with every migration applied.
inline constexpr std::size_t kSchemaVersion = kMigrations.size();

}  // namespace ee::registry::sqlite
