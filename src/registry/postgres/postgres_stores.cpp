// The PostgreSQL implementation of the registry stores (registry/postgres.hpp). Each method is one
// Database::run: a single statement in autocommit where one statement does the whole job (the
// compare-and-sets are single UPDATEs whose WHERE PostgreSQL re-checks against the committed row
// when another transaction changed it first), an explicit transaction where a workflow writes two
// rows together (an app with its first version, a deployment with its agent's hold).
//
// Statements per call (round trips on the common path; the second statement in brackets runs only
// to say why a compare-and-set changed nothing; a transaction adds BEGIN and COMMIT):
//   AgentStore: insert, update, get, find_by_vm_name, list, count, record_heartbeat,
//     set_verification, set_health, set_owner, set_tunnel, set_deployment, remove: 1; claim_for_deployment and
//     release_deployment: 1 [+1].
//   DeploymentStore: insert, get, list, set_status: 1; set_status_if: 1 [+1] with AgentHold::keep,
//     else BEGIN + 2 + COMMIT; insert_holding: BEGIN + 2 [+1] + COMMIT; start_queued: BEGIN + 2
//     [+1] + COMMIT.
//   AppStore: create: BEGIN + 2 + COMMIT; add_version, get, get_version, list: 1; list_versions:
//     1 [+1 when it has no version]. BootstrapTokenStore::use: 1 [+1]. OnceStore, LeaseStore,
//     SettingStore, AccountStore: 1 each.
// The first use of a statement on a connection adds one round trip to prepare it.
#include <easyenclave/registry/postgres.hpp>

#include "detail/json.hpp"
#include "registry/postgres/database.hpp"
#include "registry/postgres/queries.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ee::registry {
namespace {

using postgres::Database;
using postgres::Kind;
using postgres::Params;
using postgres::Row;
using postgres::Rows;
using postgres::Session;
namespace sql = postgres::sql;
namespace bj = boost::json;

// --- values that need an encoding (the same JSON-array form as the SQLite engine's) -------------

std::string encode_string_array(std::vector<std::string> const& values) {
  if (values.empty()) return "[]";
  bj::array array;
  array.reserve(values.size());
  for (auto const& v : values) array.emplace_back(v);
  return bj::serialize(array);
}

result<std::vector<std::string>> decode_string_array(std::string const& text, std::string_view column) {
  if (text == "[]") return std::vector<std::string>{};
  auto corrupt = [&] {
    return Error(errc::store_corrupt, "column '" + std::string(column) + "' is not a JSON array of strings");
  };
  auto parsed = detail::json::parse(text);
  if (!parsed || !parsed->is_array()) return corrupt();
  std::vector<std::string> out;
  out.reserve(parsed->as_array().size());
  for (auto const& item : parsed->as_array()) {
    if (!item.is_string()) return corrupt();
    out.emplace_back(item.as_string());
  }
  return out;
}

std::int64_t limit_value(std::size_t n) {
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(n < kMax ? n : kMax);
}

// Appends " WHERE "/" AND " + `fragment` + the number of the next parameter (+ `close`).
void append_condition(std::string& text, int& parameter, char const* fragment, char const* close = "") {
  text += parameter == 1 ? " WHERE " : " AND ";
  text += fragment;
  text += std::to_string(parameter++);
  text += close;
}

// LIMIT/OFFSET of a paged list; LIMIT NULL is no limit.
void append_paging(std::string& text, int& parameter, Params& params, std::optional<std::size_t> limit,
                   std::size_t offset) {
  if (!limit && offset == 0) return;
  text += sql::kLimitOffset + std::to_string(parameter++);
  text += sql::kOffset + std::to_string(parameter++);
  if (limit) params.integer(limit_value(*limit));
  else params.null();
  params.integer(limit_value(offset));
}

Error not_found(std::string what) { return Error(errc::not_found, std::move(what)); }

template <class T, class Reader>
result<std::vector<T>> read_all(Rows const& rows, Reader read_row) {
  std::vector<T> out;
  out.reserve(static_cast<std::size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) {
    auto row = rows.row(i);
    auto item = read_row(row);
    if (!item) return item.error();
    out.push_back(std::move(*item));
  }
  return out;
}

result<std::size_t> read_count(result<Rows> const& rows) {
  if (!rows) return rows.error();
  if (rows->size() != 1) return Error(errc::store_corrupt, "count returned no row");
  auto row = rows->row(0);
  auto const n = row.integer(0);
  if (auto ok = row.check(); !ok) return ok.error();
  return static_cast<std::size_t>(n);
}

// --- agents ------------------------------------------------------------------------------------

// Every column but id, in the order of EE_PG_AGENT_COLUMNS.
void add_agent_fields(Params& p, AgentRecord const& a) {
  auto const& at = a.attestation;
  p.text(a.vm_name)
      .text(a.owner)
      .text(a.node_size)
      .text(a.datacenter)
      .text(a.public_key)
      .text(a.agent_url)
      .text(a.hostname)
      .text(a.tunnel_id)
      .text(a.dns_record_id)
      .text(at.mrtd)
      .text(at.rtmrs[0])
      .text(at.rtmrs[1])
      .text(at.rtmrs[2])
      .text(at.rtmrs[3])
      .text(at.tcb_status)
      .optional_time(at.tcb_date)
      .text(encode_string_array(at.advisory_ids))
      .text(at.appraised_by)
      .time(at.appraised_at)
      .text(at.report_data)
      .boolean(a.verified)
      .text(a.unverified_reason)
      .text(to_string(a.health))
      .text(a.deployment_id)
      .text(a.reported_status)
      .text(a.reported_digest)
      .time(a.registered_at)
      .time(a.last_registered_at)
      .time(a.last_heartbeat_at)
      .text(a.owner_id);
}

result<AgentRecord> read_agent(Row& r) {
  AgentRecord a;
  auto& at = a.attestation;
  a.id = r.text(0);
  a.vm_name = r.text(1);
  a.owner = r.text(2);
  a.node_size = r.text(3);
  a.datacenter = r.text(4);
  a.public_key = r.text(5);
  a.agent_url = r.text(6);
  a.hostname = r.text(7);
  a.tunnel_id = r.text(8);
  a.dns_record_id = r.text(9);
  at.mrtd = r.text(10);
  for (int i = 0; i < 4; ++i) at.rtmrs[static_cast<std::size_t>(i)] = r.text(11 + i);
  at.tcb_status = r.text(15);
  at.tcb_date = r.optional_time(16);
  auto const advisory_ids = r.text(17);
  at.appraised_by = r.text(18);
  at.appraised_at = r.time(19);
  at.report_data = r.text(20);
  a.verified = r.boolean(21);
  a.unverified_reason = r.text(22);
  auto const health = r.text(23);
  a.deployment_id = r.text(24);
  a.reported_status = r.text(25);
  a.reported_digest = r.text(26);
  a.registered_at = r.time(27);
  a.last_registered_at = r.time(28);
  a.last_heartbeat_at = r.time(29);
  a.owner_id = r.text(30);
  if (auto row = r.check(); !row) return row.error();
  auto ids = decode_string_array(advisory_ids, "advisory_ids");
  if (!ids) return ids.error();
  at.advisory_ids = std::move(*ids);
  auto parsed_health = parse_health(health);
  if (!parsed_health) return Error(errc::store_corrupt, "column 'health' holds an unknown value");
  a.health = *parsed_health;
  return a;
}

result<AgentRecord> read_one_agent(result<Rows> const& rows, std::string_view key) {
  if (!rows) return rows.error();
  if (rows->size() == 0) return not_found("no agent with " + std::string(key));
  auto row = rows->row(0);
  return read_agent(row);
}

result<void> changed_one_agent(result<Rows> const& rows, std::string const& id) {
  if (!rows) return rows.error();
  if (rows->changed() == 0) return not_found("no agent with id '" + id + "'");
  return {};
}

// The deployment agent `id` holds ("" for none); not_found when there is no such agent.
result<std::string> held_deployment(Session& s, std::string const& id) {
  auto rows = s.exec(sql::kSelectAgentDeployment, Params().text(id));
  if (!rows) return rows.error();
  if (rows->size() == 0) return not_found("no agent with id '" + id + "'");
  auto row = rows->row(0);
  auto held = row.text(0);
  if (auto ok = row.check(); !ok) return ok.error();
  return held;
}

std::string what_is_held(std::string const& deployment_id) {
  return deployment_id.empty() ? "no deployment" : "deployment '" + deployment_id + "'";
}

// Moves agent `id` from holding `expected` to holding `next` (compare-and-set).
result<void> move_holding(Session& s, std::string const& id, std::string const& expected, std::string const& next) {
  auto moved = s.exec(sql::kMoveAgentHolding, Params().text(next).text(id).text(expected));
  if (!moved) return moved.error();
  if (moved->changed() == 1) return {};
  auto held = held_deployment(s, id);
  if (!held) return held.error();
  return Error(errc::conflict, "agent '" + id + "' holds " + what_is_held(*held) + ", not " + what_is_held(expected));
}

class PgAgentStore final : public AgentStore {
 public:
  explicit PgAgentStore(std::shared_ptr<Database> db) : db_(std::move(db)) {}

  result<AgentRecord> insert(AgentRecord const& agent) override {
    return db_->run("insert agent", Kind::write, [&](Session& s) -> result<AgentRecord> {
      Params p;
      p.text(agent.id);
      add_agent_fields(p, agent);
      if (auto done = s.exec(sql::kInsertAgent, p); !done) return done.error();
      return agent;
    });
  }

  result<AgentRecord> update(AgentRecord const& agent) override {
    return db_->run("update agent", Kind::write, [&](Session& s) -> result<AgentRecord> {
      Params p;
      add_agent_fields(p, agent);
      p.text(agent.id);
      if (auto done = changed_one_agent(s.exec(sql::kUpdateAgent, p), agent.id); !done) return done.error();
      return agent;
    });
  }

  result<AgentRecord> get(std::string const& id) override {
    return db_->run("get agent", Kind::read, [&](Session& s) {
      return read_one_agent(s.exec(sql::kSelectAgentById, Params().text(id)), "id '" + id + "'");
    });
  }

  result<AgentRecord> find_by_vm_name(std::string const& vm_name) override {
    return db_->run("find agent", Kind::read, [&](Session& s) {
      return read_one_agent(s.exec(sql::kSelectAgentByVmName, Params().text(vm_name)),
                            "vm_name '" + vm_name + "'");
    });
  }

  result<std::vector<AgentRecord>> list(AgentFilter const& filter) override {
    std::string text = sql::kSelectAgents;
    Params p;
    int n = 1;
    if (filter.vm_name) {
      append_condition(text, n, sql::kAgentWhereVmName);
      p.text(*filter.vm_name);
    }
    if (filter.owner) {
      append_condition(text, n, sql::kAgentWhereOwner, sql::kAgentWhereOwnerClose);
      p.text(*filter.owner);
    }
    if (filter.status) {
      append_condition(text, n, sql::kAgentWhereStatus);
      p.text(*filter.status);
    }
    if (filter.heartbeat_before) {
      append_condition(text, n, sql::kAgentWhereHeartbeatBefore);
      p.time(*filter.heartbeat_before);
    }
    text += sql::kAgentOrder;
    append_paging(text, n, p, filter.limit, filter.offset);
    return db_->run("list agents", Kind::read, [&](Session& s) -> result<std::vector<AgentRecord>> {
      auto rows = s.exec(text, p);
      if (!rows) return rows.error();
      return read_all<AgentRecord>(*rows, read_agent);
    });
  }

  result<std::size_t> count() override {
    return db_->run("count agents", Kind::read, [&](Session& s) { return read_count(s.exec(sql::kCountAgents)); });
  }

  result<void> record_heartbeat(std::string const& id, TimePoint at, std::string const& status,
                                std::string const& digest) override {
    return db_->run("record heartbeat", Kind::write, [&](Session& s) {
      return changed_one_agent(s.exec(sql::kRecordHeartbeat, Params().time(at).text(status).text(digest).text(id)), id);
    });
  }

  result<void> set_verification(std::string const& id, bool verified, std::string const& reason,
                                std::optional<AttestationRecord> const& attestation) override {
    return db_->run("set agent verification", Kind::write, [&](Session& s) {
      if (!attestation)
        return changed_one_agent(s.exec(sql::kSetVerification, Params().boolean(verified).text(reason).text(id)), id);
      auto const& at = *attestation;
      Params p;
      p.boolean(verified)
          .text(reason)
          .text(at.mrtd)
          .text(at.rtmrs[0])
          .text(at.rtmrs[1])
          .text(at.rtmrs[2])
          .text(at.rtmrs[3])
          .text(at.tcb_status)
          .optional_time(at.tcb_date)
          .text(encode_string_array(at.advisory_ids))
          .text(at.appraised_by)
          .time(at.appraised_at)
          .text(at.report_data)
          .text(id);
      return changed_one_agent(s.exec(sql::kSetVerificationWithAttestation, p), id);
    });
  }

  result<void> set_health(std::string const& id, Health health) override {
    return db_->run("set agent health", Kind::write, [&](Session& s) {
      return changed_one_agent(s.exec(sql::kSetHealth, Params().text(to_string(health)).text(id)), id);
    });
  }

  result<Health> observe_health(std::string const& id, bool healthy, HealthHysteresis const& rule) override {
    return db_->run("observe agent health", Kind::write, [&](Session& s) -> result<Health> {
      auto rows = s.exec(sql::kObserveHealth,
                         Params().boolean(healthy).integer(rule.up_after).integer(rule.down_after).text(id));
      if (!rows) return rows.error();
      if (rows->size() == 0) {  // settled already (nothing written), or no such agent
        rows = s.exec(sql::kSelectHealth, Params().text(id));
        if (!rows) return rows.error();
        if (rows->size() == 0) return not_found("no agent with id '" + id + "'");
      }
      auto row = rows->row(0);
      auto health = parse_health(row.text(0));
      if (auto ok = row.check(); !ok) return ok.error();
      if (!health) return Error(errc::store_corrupt, "column 'health' holds an unknown value");
      return *health;
    });
  }

  result<void> set_owner(std::string const& id, std::string const& owner, std::string const& owner_id) override {
    return db_->run("set agent owner", Kind::write, [&](Session& s) {
      return changed_one_agent(s.exec(sql::kSetOwner, Params().text(owner).text(owner_id).text(id)), id);
    });
  }

  result<void> set_tunnel(std::string const& id, std::string const& tunnel_id, std::string const& hostname,
                          std::string const& dns_record_id) override {
    return db_->run("set agent tunnel", Kind::write, [&](Session& s) {
      return changed_one_agent(
          s.exec(sql::kSetTunnel, Params().text(tunnel_id).text(hostname).text(dns_record_id).text(id)), id);
    });
  }

  result<void> set_deployment(std::string const& id, std::string const& deployment_id) override {
    return db_->run("set agent deployment", Kind::write, [&](Session& s) {
      return changed_one_agent(s.exec(sql::kSetDeployment, Params().text(deployment_id).text(id)), id);
    });
  }

  result<void> claim_for_deployment(std::string const& id, std::string const& deployment_id) override {
    return db_->run("claim agent", Kind::write, [&](Session& s) -> result<void> {
      auto claimed = s.exec(sql::kClaimAgent, Params().text(deployment_id).text(id));
      if (!claimed) return claimed.error();
      if (claimed->changed() == 1) return {};
      auto held = held_deployment(s, id);
      if (!held) return held.error();
      return Error(errc::conflict, "agent '" + id + "' already holds " + what_is_held(*held));
    });
  }

  result<void> release_deployment(std::string const& id, std::string const& deployment_id) override {
    return db_->run("release agent", Kind::write, [&](Session& s) -> result<void> {
      auto released = s.exec(sql::kReleaseAgent, Params().text(id).text(deployment_id));
      if (!released) return released.error();
      if (released->changed() == 1) return {};
      auto held = held_deployment(s, id);
      if (!held) return held.error();
      return Error(errc::conflict, "agent '" + id + "' holds " + what_is_held(*held) + ", not '" + deployment_id + "'");
    });
  }

  result<void> remove(std::string const& id) override {
    return db_->run("remove agent", Kind::write,
                    [&](Session& s) { return changed_one_agent(s.exec(sql::kDeleteAgent, Params().text(id)), id); });
  }

 private:
  std::shared_ptr<Database> db_;
};

// --- trusted measurements ----------------------------------------------------------------------

result<TrustedMeasurement> read_measurement(Row& r) {
  TrustedMeasurement m;
  m.mrtd = r.text(0);
  m.kind = r.text(1);
  m.node_size = r.text(2);
  m.note = r.text(3);
  m.added_at = r.time(4);
  if (auto row = r.check(); !row) return row.error();
  return m;
}

class PgMeasurementStore final : public TrustedMeasurementStore {
 public:
  explicit PgMeasurementStore(std::shared_ptr<Database> db) : db_(std::move(db)) {}

  result<TrustedMeasurement> add(TrustedMeasurement const& m) override {
    return db_->run("add trusted measurement", Kind::write, [&](Session& s) -> result<TrustedMeasurement> {
      auto done = s.exec(sql::kInsertMeasurement,
                         Params().text(m.mrtd).text(m.kind).text(m.node_size).text(m.note).time(m.added_at));
      if (!done) return done.error();
      return m;
    });
  }

  result<TrustedMeasurement> get(std::string const& mrtd) override {
    return db_->run("get trusted measurement", Kind::read, [&](Session& s) -> result<TrustedMeasurement> {
      auto rows = s.exec(sql::kSelectMeasurement, Params().text(mrtd));
      if (!rows) return rows.error();
      if (rows->size() == 0) return not_found("mrtd '" + mrtd + "' is not trusted");
      auto row = rows->row(0);
      return read_measurement(row);
    });
  }

  result<std::vector<TrustedMeasurement>> list() override {
    return db_->run("list trusted measurements", Kind::read, [&](Session& s) -> result<std::vector<TrustedMeasurement>> {
      auto rows = s.exec(sql::kSelectMeasurements);
      if (!rows) return rows.error();
      return read_all<TrustedMeasurement>(*rows, read_measurement);
    });
  }

  result<void> remove(std::string const& mrtd) override {
    return db_->run("remove trusted measurement", Kind::write, [&](Session& s) -> result<void> {
      auto done = s.exec(sql::kDeleteMeasurement, Params().text(mrtd));
      if (!done) return done.error();
      if (done->changed() == 0) return not_found("mrtd '" + mrtd + "' is not trusted");
      return {};
    });
  }

 private:
  std::shared_ptr<Database> db_;
};

// --- apps --------------------------------------------------------------------------------------

result<App> read_app(Row& r) {
  App a;
  a.name = r.text(0);
  a.description = r.text(1);
  a.source_repo = r.text(2);
  a.owner = r.text(3);
  a.created_at = r.time(4);
  a.owner_id = r.text(5);
  if (auto row = r.check(); !row) return row.error();
  return a;
}

result<AppVersion> read_version(Row& r) {
  AppVersion v;
  v.app_name = r.text(0);
  v.version = r.text(1);
  v.image = r.text(2);
  v.mrtd = r.text(3);
  for (int i = 0; i < 4; ++i) v.rtmrs[static_cast<std::size_t>(i)] = r.text(4 + i);
  v.node_size = r.text(8);
  v.published_by = r.text(9);
  v.published_at = r.time(10);
  if (auto row = r.check(); !row) return row.error();
  return v;
}

result<Rows> insert_version(Session& s, std::string const& app_name, AppVersion const& v) {
  return s.exec(sql::kInsertVersion, Params()
                                         .text(app_name)
                                         .text(v.version)
                                         .text(v.image)
                                         .text(v.mrtd)
                                         .text(v.rtmrs[0])
                                         .text(v.rtmrs[1])
                                         .text(v.rtmrs[2])
                                         .text(v.rtmrs[3])
                                         .text(v.node_size)
                                         .text(v.published_by)
                                         .time(v.published_at));
}

class PgAppStore final : public AppStore {
 public:
  explicit PgAppStore(std::shared_ptr<Database> db) : db_(std::move(db)) {}

  result<App> create(App const& app, AppVersion const& first_version) override {
    return db_->run("create app", Kind::transaction, [&](Session& s) -> result<App> {
      auto inserted = s.exec(sql::kInsertApp, Params()
                                                  .text(app.name)
                                                  .text(app.description)
                                                  .text(app.source_repo)
                                                  .text(app.owner)
                                                  .time(app.created_at)
                                                  .text(app.owner_id));
      if (!inserted) return inserted.error();
      if (auto done = insert_version(s, app.name, first_version); !done) return done.error();
      return app;
    });
  }

  result<App> get(std::string const& name) override {
    return db_->run("get app", Kind::read, [&](Session& s) -> result<App> {
      auto rows = s.exec(sql::kSelectApp, Params().text(name));
      if (!rows) return rows.error();
      if (rows->size() == 0) return not_found("no app named '" + name + "'");
      auto row = rows->row(0);
      return read_app(row);
    });
  }

  result<std::vector<App>> list() override {
    return db_->run("list apps", Kind::read, [&](Session& s) -> result<std::vector<App>> {
      auto rows = s.exec(sql::kSelectApps);
      if (!rows) return rows.error();
      return read_all<App>(*rows, read_app);
    });
  }

  result<AppVersion> add_version(AppVersion const& version) override {
    return db_->run("add app version", Kind::write, [&](Session& s) -> result<AppVersion> {
      auto done = insert_version(s, version.app_name, version);
      // The foreign key to apps refuses a version of an unknown app: 23503.
      if (!done && s.failed_state() == "23503") return not_found("no app named '" + version.app_name + "'");
      if (!done) return done.error();
      return version;
    });
  }

  result<AppVersion> get_version(std::string const& app_name, std::string const& version) override {
    return db_->run("get app version", Kind::read, [&](Session& s) -> result<AppVersion> {
      auto rows = s.exec(sql::kSelectVersion, Params().text(app_name).text(version));
      if (!rows) return rows.error();
      if (rows->size() == 0) return not_found("app '" + app_name + "' has no version '" + version + "'");
      auto row = rows->row(0);
      return read_version(row);
    });
  }

  result<std::vector<AppVersion>> list_versions(std::string const& app_name) override {
    return db_->run("list app versions", Kind::read, [&](Session& s) -> result<std::vector<AppVersion>> {
      auto rows = s.exec(sql::kSelectVersions, Params().text(app_name));
      if (!rows) return rows.error();
      if (rows->size() == 0) {
        // Every app is created with a version, so no rows usually means no app.
        auto app = s.exec(sql::kAppExists, Params().text(app_name));
        if (!app) return app.error();
        if (app->size() == 0) return not_found("no app named '" + app_name + "'");
      }
      return read_all<AppVersion>(*rows, read_version);
    });
  }

 private:
  std::shared_ptr<Database> db_;
};

// --- deployments -------------------------------------------------------------------------------

// A row of kSelectDeploymentHistory.
result<DeploymentChange> read_deployment_change(Row& r) {
  auto status = parse_deployment_status(r.text(0));
  DeploymentChange change{.status = status.value_or(DeploymentStatus::pending), .detail = r.text(1), .at = r.time(2)};
  if (auto ok = r.check(); !ok) return ok.error();
  if (!status) return Error(errc::store_corrupt, "column 'status' of deployment_changes holds an unknown value");
  return change;
}

result<Deployment> read_deployment(Row& r) {
  Deployment d;
  d.id = r.text(0);
  d.app_name = r.text(1);
  d.version = r.text(2);
  d.agent_id = r.text(3);
  d.image = r.text(4);
  auto const status = r.text(5);
  d.detail = r.text(6);
  d.requested_by = r.text(7);
  d.created_at = r.time(8);
  d.updated_at = r.time(9);
  d.replaces = r.text(10);
  d.rollout_id = r.text(11);
  d.rollout_step = r.integer(12);
  if (auto row = r.check(); !row) return row.error();
  auto parsed = parse_deployment_status(status);
  if (!parsed) return Error(errc::store_corrupt, "column 'status' holds an unknown value");
  d.status = *parsed;
  return d;
}

result<Deployment> first_deployment(Rows const& rows) {
  auto row = rows.row(0);
  return read_deployment(row);
}

// Why a compare-and-set of `id`'s status from `expected` changed nothing.
Error status_conflict(Session& s, std::string const& id, DeploymentStatus expected) {
  auto rows = s.exec(sql::kSelectDeploymentStatus, Params().text(id));
  if (!rows) return rows.error();
  if (rows->size() == 0) return not_found("no deployment with id '" + id + "'");
  auto row = rows->row(0);
  return Error(errc::conflict,
               "deployment '" + id + "' is " + row.text(0) + ", not " + std::string(to_string(expected)));
}

result<Deployment> insert_deployment(Session& s, Deployment const& d) {
  auto done = s.exec(sql::kInsertDeployment, Params()
                                                 .text(d.id)
                                                 .text(d.app_name)
                                                 .text(d.version)
                                                 .text(d.agent_id)
                                                 .text(d.image)
                                                 .text(to_string(d.status))
                                                 .text(d.detail)
                                                 .text(d.requested_by)
                                                 .time(d.created_at)
                                                 .time(d.updated_at)
                                                 .text(d.replaces)
                                                 .text(d.rollout_id)
                                                 .integer(d.rollout_step));
  if (!done) return done.error();
  return d;
}

class PgDeploymentStore final : public DeploymentStore {
 public:
  explicit PgDeploymentStore(std::shared_ptr<Database> db) : db_(std::move(db)) {}

  result<Deployment> insert(Deployment const& d) override {
    return db_->run("insert deployment", Kind::write, [&](Session& s) { return insert_deployment(s, d); });
  }

  result<Deployment> insert_holding(Deployment const& d, std::string const& held_now) override {
    return db_->run("insert deployment holding its agent", Kind::transaction, [&](Session& s) -> result<Deployment> {
      // The UPDATE locks the agent's row until COMMIT: a second deploy racing for it waits, then
      // sees it held and changes nothing. A failure rolls both back.
      if (auto moved = move_holding(s, d.agent_id, held_now, d.id); !moved) return moved.error();
      return insert_deployment(s, d);
    });
  }

  result<std::vector<DeploymentChange>> history(std::string const& id) override {
    return db_->run("deployment history", Kind::read, [&](Session& s) -> result<std::vector<DeploymentChange>> {
      auto rows = s.exec(sql::kSelectDeploymentHistory, Params().text(id));
      if (!rows) return rows.error();
      return read_all<DeploymentChange>(*rows, read_deployment_change);
    });
  }

  result<Deployment> get(std::string const& id) override {
    return db_->run("get deployment", Kind::read, [&](Session& s) -> result<Deployment> {
      auto rows = s.exec(sql::kSelectDeployment, Params().text(id));
      if (!rows) return rows.error();
      if (rows->size() == 0) return not_found("no deployment with id '" + id + "'");
      return first_deployment(*rows);
    });
  }

  result<std::vector<Deployment>> list(DeploymentFilter const& filter) override {
    std::string text = sql::kSelectDeployments;
    Params p;
    int n = 1;
    if (filter.agent_id) {
      append_condition(text, n, sql::kDeploymentWhereAgent);
      p.text(*filter.agent_id);
    }
    if (filter.rollout_id) {
      append_condition(text, n, sql::kDeploymentWhereRollout);
      p.text(*filter.rollout_id);
    }
    if (filter.app_name) {
      append_condition(text, n, sql::kDeploymentWhereApp);
      p.text(*filter.app_name);
    }
    if (filter.status) {
      append_condition(text, n, sql::kDeploymentWhereStatus);
      p.text(to_string(*filter.status));
    }
    if (filter.updated_before) {
      append_condition(text, n, sql::kDeploymentWhereUpdatedBefore);
      p.time(*filter.updated_before);
    }
    text += sql::kDeploymentOrder;
    append_paging(text, n, p, filter.limit, filter.offset);
    return db_->run("list deployments", Kind::read, [&](Session& s) -> result<std::vector<Deployment>> {
      auto rows = s.exec(text, p);
      if (!rows) return rows.error();
      return read_all<Deployment>(*rows, read_deployment);
    });
  }

  result<Deployment> set_status(std::string const& id, DeploymentStatus status, std::string const& detail,
                                TimePoint at) override {
    return db_->run("set deployment status", Kind::write, [&](Session& s) -> result<Deployment> {
      auto rows = s.exec(sql::kSetDeploymentStatus, Params().text(to_string(status)).text(detail).time(at).text(id));
      if (!rows) return rows.error();
      if (rows->size() == 0) return not_found("no deployment with id '" + id + "'");
      return first_deployment(*rows);
    });
  }

  result<Deployment> set_status_if(std::string const& id, DeploymentStatus expected, DeploymentStatus status,
                                   std::string const& detail, TimePoint at, AgentHold hold) override {
    auto const kind = hold == AgentHold::keep ? Kind::write : Kind::transaction;
    return db_->run("set deployment status if", kind, [&](Session& s) -> result<Deployment> {
      auto rows = s.exec(sql::kSetDeploymentStatusIf, Params()
                                                          .text(to_string(status))
                                                          .text(detail)
                                                          .time(at)
                                                          .text(id)
                                                          .text(to_string(expected)));
      if (!rows) return rows.error();
      if (rows->size() == 0) return status_conflict(s, id, expected);
      auto d = first_deployment(*rows);
      if (!d || hold == AgentHold::keep) return d;
      auto const next = hold == AgentHold::hand_back ? d->replaces : std::string();
      if (auto moved = move_holding(s, d->agent_id, d->id, next); !moved) {
        // The agent is gone or holds another deployment: nothing of this one to hand on.
        if (moved.error() != errc::conflict && moved.error() != errc::not_found) return moved.error();
      }
      return d;
    });
  }

  result<Deployment> start_queued(std::string const& id, std::string const& held_now, TimePoint at) override {
    return db_->run("start queued deployment", Kind::transaction, [&](Session& s) -> result<Deployment> {
      auto rows = s.exec(sql::kStartQueuedDeployment, Params().text(held_now).time(at).text(id));
      if (!rows) return rows.error();
      if (rows->size() == 0) return status_conflict(s, id, DeploymentStatus::queued);
      auto d = first_deployment(*rows);
      if (!d) return d;
      if (auto moved = move_holding(s, d->agent_id, held_now, d->id); !moved) return moved.error();
      return d;
    });
  }

 private:
  std::shared_ptr<Database> db_;
};

// --- bootstrap tokens ----------------------------------------------------------------------------

result<BootstrapToken> read_bootstrap_token(Row& r) {
  BootstrapToken t;
  t.id = r.text(0);
  t.token_hash = r.text(1);
  t.owner = r.text(2);
  t.owner_id = r.text(3);
  t.created_by = r.text(4);
  t.vm_name = r.text(5);
  t.datacenter = r.text(6);
  t.node_size = r.text(7);
  t.uses = r.integer(8);
  t.uses_left = r.integer(9);
  t.created_at = r.time(10);
  t.expires_at = r.time(11);
  if (auto row = r.check(); !row) return row.error();
  return t;
}

result<BootstrapToken> read_one_bootstrap_token(result<Rows> const& rows, std::string_view key) {
  if (!rows) return rows.error();
  if (rows->size() == 0) return not_found("no bootstrap token with " + std::string(key));
  auto row = rows->row(0);
  return read_bootstrap_token(row);
}

class PgBootstrapTokenStore final : public BootstrapTokenStore {
 public:
  explicit PgBootstrapTokenStore(std::shared_ptr<Database> db) : db_(std::move(db)) {}

  result<BootstrapToken> insert(BootstrapToken const& t) override {
    return db_->run("insert bootstrap token", Kind::write, [&](Session& s) -> result<BootstrapToken> {
      auto done = s.exec(sql::kInsertBootstrapToken, Params()
                                                         .text(t.id)
                                                         .text(t.token_hash)
                                                         .text(t.owner)
                                                         .text(t.owner_id)
                                                         .text(t.created_by)
                                                         .text(t.vm_name)
                                                         .text(t.datacenter)
                                                         .text(t.node_size)
                                                         .integer(t.uses)
                                                         .integer(t.uses_left)
                                                         .time(t.created_at)
                                                         .time(t.expires_at));
      if (!done) return done.error();
      return t;
    });
  }

  result<BootstrapToken> find_by_hash(std::string const& token_hash) override {
    return db_->run("find bootstrap token", Kind::read, [&](Session& s) {
      // The key is a hash of a secret: it is not repeated in the message.
      return read_one_bootstrap_token(s.exec(sql::kSelectBootstrapTokenByHash, Params().text(token_hash)), "this hash");
    });
  }

  result<BootstrapToken> use(std::string const& id, TimePoint now) override {
    return db_->run("use bootstrap token", Kind::write, [&](Session& s) -> result<BootstrapToken> {
      auto used = s.exec(sql::kUseBootstrapToken, Params().text(id).time(now));
      if (!used) return used.error();
      if (used->size() == 1) {
        auto row = used->row(0);
        return read_bootstrap_token(row);
      }
      auto found = read_one_bootstrap_token(s.exec(sql::kSelectBootstrapTokenById, Params().text(id)), "id '" + id + "'");
      if (!found) return found.error();
      return Error(errc::conflict, "bootstrap token " + id + " has no use left or has expired");
    });
  }

  result<std::vector<BootstrapToken>> list_by_owner_id(std::string const& owner_id) override {
    return db_->run("list bootstrap tokens", Kind::read, [&](Session& s) -> result<std::vector<BootstrapToken>> {
      auto rows = s.exec(sql::kSelectBootstrapTokensByOwnerId, Params().text(owner_id));
      if (!rows) return rows.error();
      return read_all<BootstrapToken>(*rows, read_bootstrap_token);
    });
  }

  result<void> remove(std::string const& id) override {
    return db_->run("remove bootstrap token", Kind::write, [&](Session& s) -> result<void> {
      auto done = s.exec(sql::kDeleteBootstrapToken, Params().text(id));
      if (!done) return done.error();
      if (done->changed() == 0) return not_found("no bootstrap token with id '" + id + "'");
      return {};
    });
  }

  result<std::size_t> purge(TimePoint now) override {
    return db_->run("purge bootstrap tokens", Kind::write, [&](Session& s) -> result<std::size_t> {
      auto done = s.exec(sql::kPurgeBootstrapTokens, Params().time(now));
      if (!done) return done.error();
      return static_cast<std::size_t>(done->changed());
    });
  }

 private:
  std::shared_ptr<Database> db_;
};

// --- login sessions --------------------------------------------------------------------------------

result<LoginSession> read_login_session(Row& r) {
  LoginSession session;
  session.id = r.text(0);
  session.token_prefix = r.text(1);
  session.token_hash = r.text(2);
  auto const method = parse_login_method(r.text(3));
  session.admin = r.boolean(4);
  session.github_user.login = r.text(5);
  session.github_user.id = r.text(6);
  auto orgs = decode_github_accounts(r.text(7));
  session.created_at = r.time(8);
  session.expires_at = r.time(9);
  if (auto row = r.check(); !row) return row.error();
  if (!method || !orgs) return Error(errc::store_corrupt, "login session " + session.id + " has an unreadable method or orgs");
  session.method = *method;
  session.github_orgs = std::move(*orgs);
  return session;
}

class PgLoginSessionStore final : public LoginSessionStore {
 public:
  explicit PgLoginSessionStore(std::shared_ptr<Database> db) : db_(std::move(db)) {}

  result<LoginSession> insert(LoginSession const& session) override {
    return db_->run("insert login session", Kind::write, [&](Session& s) -> result<LoginSession> {
      auto done = s.exec(sql::kInsertLoginSession, Params()
                                                       .text(session.id)
                                                       .text(session.token_prefix)
                                                       .text(session.token_hash)
                                                       .text(std::string(to_string(session.method)))
                                                       .boolean(session.admin)
                                                       .text(session.github_user.login)
                                                       .text(session.github_user.id)
                                                       .text(encode_github_accounts(session.github_orgs))
                                                       .time(session.created_at)
                                                       .time(session.expires_at));
      if (!done) return done.error();
      return session;
    });
  }

  result<std::vector<LoginSession>> find_by_prefix(std::string const& token_prefix, TimePoint now) override {
    return db_->run("find login sessions", Kind::read, [&](Session& s) -> result<std::vector<LoginSession>> {
      auto rows = s.exec(sql::kSelectLoginSessionsByPrefix, Params().text(token_prefix).time(now));
      if (!rows) return rows.error();
      return read_all<LoginSession>(*rows, read_login_session);
    });
  }

  result<LoginSession> get(std::string const& id) override {
    return db_->run("get login session", Kind::read, [&](Session& s) -> result<LoginSession> {
      auto rows = s.exec(sql::kSelectLoginSessionById, Params().text(id));
      if (!rows) return rows.error();
      if (rows->size() == 0) return not_found("no login session with id '" + id + "'");
      auto row = rows->row(0);
      return read_login_session(row);
    });
  }

  result<void> remove(std::string const& id) override {
    return db_->run("remove login session", Kind::write, [&](Session& s) -> result<void> {
      auto done = s.exec(sql::kDeleteLoginSession, Params().text(id));
      if (!done) return done.error();
      if (done->changed() == 0) return not_found("no login session with id '" + id + "'");
      return {};
    });
  }

  result<std::size_t> purge(TimePoint now) override {
    return db_->run("purge login sessions", Kind::write, [&](Session& s) -> result<std::size_t> {
      auto done = s.exec(sql::kPurgeLoginSessions, Params().time(now));
      if (!done) return done.error();
      return static_cast<std::size_t>(done->changed());
    });
  }

 private:
  std::shared_ptr<Database> db_;
};

// --- accounts ------------------------------------------------------------------------------------

result<Account> read_account(Row& r) {
  Account a;
  a.id = r.text(0);
  a.name = r.text(1);
  auto const type = r.text(2);
  a.github_id = r.text(3);
  a.github_login = r.text(4);
  a.github_org = r.text(5);
  a.api_key_prefix = r.text(6);
  a.api_key_hash = r.text(7);
  a.created_at = r.time(8);
  if (auto row = r.check(); !row) return row.error();
  auto parsed = parse_account_type(type);
  if (!parsed) return Error(errc::store_corrupt, "account " + a.id + " has an unknown type");
  a.type = *parsed;
  return a;
}

result<Account> read_one_account(result<Rows> const& rows, std::string_view key) {
  if (!rows) return rows.error();
  if (rows->size() == 0) return not_found("no account with " + std::string(key));
  auto row = rows->row(0);
  return read_account(row);
}

class PgAccountStore final : public AccountStore {
 public:
  explicit PgAccountStore(std::shared_ptr<Database> db) : db_(std::move(db)) {}

  result<Account> insert(Account const& a) override {
    return db_->run("insert account", Kind::write, [&](Session& s) -> result<Account> {
      auto done = s.exec(sql::kInsertAccount, Params()
                                                  .text(a.id)
                                                  .text(a.name)
                                                  .text(to_string(a.type))
                                                  .text(a.github_id)
                                                  .text(a.github_login)
                                                  .text(a.github_org)
                                                  .text(a.api_key_prefix)
                                                  .text(a.api_key_hash)
                                                  .time(a.created_at));
      if (!done) return done.error();
      return a;
    });
  }

  result<Account> get(std::string const& id) override {
    return one("get account", sql::kSelectAccountById, id, "id '" + id + "'");
  }
  result<Account> find_by_name(std::string const& name) override {
    return one("find account by name", sql::kSelectAccountByName, name, "name '" + name + "'");
  }
  result<Account> find_by_key_prefix(std::string const& prefix) override {
    return one("find account by key prefix", sql::kSelectAccountByKeyPrefix, prefix, "this key prefix");
  }

  result<std::vector<Account>> list(AccountFilter const& filter) override {
    std::string text = sql::kSelectAccounts;
    Params p;
    int n = 1;
    if (filter.name) {
      append_condition(text, n, sql::kAccountWhereName);
      p.text(*filter.name);
    }
    if (filter.type) {
      append_condition(text, n, sql::kAccountWhereType);
      p.text(to_string(*filter.type));
    }
    text += sql::kAccountOrder;
    append_paging(text, n, p, filter.limit, filter.offset);
    return db_->run("list accounts", Kind::read, [&](Session& s) -> result<std::vector<Account>> {
      auto rows = s.exec(text, p);
      if (!rows) return rows.error();
      return read_all<Account>(*rows, read_account);
    });
  }

  result<Account> replace_key(std::string const& id, std::string const& prefix, std::string const& hash) override {
    return db_->run("replace account key", Kind::write, [&](Session& s) {
      return read_one_account(s.exec(sql::kReplaceAccountKey, Params().text(prefix).text(hash).text(id)),
                              "id '" + id + "'");
    });
  }

  result<Account> link_identity(std::string const& id, std::string const& github_id, std::string const& github_login,
                                std::string const& github_org) override {
    return db_->run("link account identity", Kind::write, [&](Session& s) {
      return read_one_account(
          s.exec(sql::kLinkAccountIdentity, Params().text(github_id).text(github_login).text(github_org).text(id)),
          "id '" + id + "'");
    });
  }

  result<void> remove(std::string const& id) override {
    return db_->run("remove account", Kind::write, [&](Session& s) -> result<void> {
      auto done = s.exec(sql::kDeleteAccount, Params().text(id));
      if (!done) return done.error();
      if (done->changed() == 0) return not_found("no account with id '" + id + "'");
      return {};
    });
  }

 private:
  result<Account> one(char const* what, char const* statement, std::string const& key, std::string const& named) {
    return db_->run(what, Kind::read, [&](Session& s) { return read_one_account(s.exec(statement, Params().text(key)), named); });
  }

  std::shared_ptr<Database> db_;
};

// --- settings --------------------------------------------------------------------------------------

result<SettingRow> read_setting(Row& r) {
  SettingRow row;
  row.name = r.text(0);
  row.value = r.text(1);
  row.updated_by = r.text(2);
  row.updated_at = r.time(3);
  if (auto checked = r.check(); !checked) return checked.error();
  return row;
}

class PgSettingStore final : public SettingStore {
 public:
  explicit PgSettingStore(std::shared_ptr<Database> db) : db_(std::move(db)) {}

  result<std::vector<SettingRow>> list() override {
    return db_->run("list settings", Kind::read, [&](Session& s) -> result<std::vector<SettingRow>> {
      auto rows = s.exec(sql::kSelectSettings);
      if (!rows) return rows.error();
      return read_all<SettingRow>(*rows, read_setting);
    });
  }

  result<void> put(SettingRow const& row) override {
    return db_->run("put setting", Kind::write, [&](Session& s) -> result<void> {
      auto done = s.exec(sql::kPutSetting, Params().text(row.name).text(row.value).text(row.updated_by).time(row.updated_at));
      if (!done) return done.error();
      return {};
    });
  }

  result<void> remove(std::string const& name) override {
    return db_->run("remove setting", Kind::write, [&](Session& s) -> result<void> {
      auto done = s.exec(sql::kDeleteSetting, Params().text(name));
      if (!done) return done.error();
      if (done->changed() == 0) return not_found("no stored setting '" + name + "'");
      return {};
    });
  }

 private:
  std::shared_ptr<Database> db_;
};

// --- leases and single-use keys ---------------------------------------------------------------------

class PgLeaseStore final : public LeaseStore {
 public:
  explicit PgLeaseStore(std::shared_ptr<Database> db) : db_(std::move(db)) {}

  result<bool> acquire(std::string const& name, std::string const& holder, TimePoint now,
                       std::chrono::seconds ttl) override {
    return db_->run("acquire lease", Kind::write, [&](Session& s) -> result<bool> {
      auto done = s.exec(sql::kAcquireLease, Params().text(name).text(holder).time(now + ttl).time(now));
      if (!done) return done.error();
      return done->changed() == 1;
    });
  }

  result<void> release(std::string const& name, std::string const& holder) override {
    return db_->run("release lease", Kind::write, [&](Session& s) -> result<void> {
      auto done = s.exec(sql::kReleaseLease, Params().text(name).text(holder));
      if (!done) return done.error();
      return {};
    });
  }

 private:
  std::shared_ptr<Database> db_;
};

// Keys of one scope of the once_keys table. Unbounded (never store_full): the database holds what
// is recorded until it expires and is purged, by purge() (the control plane's maintenance pass
// purges the nonces) and, every kPurgeEvery first uses, by the store itself, so a scope nobody
// purges (the replay guard's) stays bounded by what is unexpired.
class PgOnceStore final : public OnceStore {
 public:
  static constexpr std::uint64_t kPurgeEvery = 256;

  PgOnceStore(std::shared_ptr<Database> db, std::string scope) : db_(std::move(db)), scope_(std::move(scope)) {}

  result<bool> first_use(std::string const& key, TimePoint expires_at, TimePoint now) override {
    if (expires_at <= now) return false;  // already expired: never a first use
    auto first = db_->run("record single-use key", Kind::write, [&](Session& s) -> result<bool> {
      auto done = s.exec(sql::kFirstUse, Params().text(scope_).text(key).time(expires_at).time(now));
      if (!done) return done.error();
      return done->changed() == 1;
    });
    // Housekeeping after the answer is known; its failure changes nothing of it.
    if (calls_.fetch_add(1, std::memory_order_relaxed) % kPurgeEvery == kPurgeEvery - 1) (void)purge(now);
    return first;
  }

  result<void> forget(std::string const& key) override {
    return db_->run("forget single-use key", Kind::write, [&](Session& s) -> result<void> {
      auto done = s.exec(sql::kForgetKey, Params().text(scope_).text(key));
      if (!done) return done.error();
      return {};
    });
  }

  result<std::size_t> purge(TimePoint now) override {
    return db_->run("purge single-use keys", Kind::write, [&](Session& s) -> result<std::size_t> {
      auto done = s.exec(sql::kPurgeKeys, Params().text(scope_).time(now));
      if (!done) return done.error();
      return static_cast<std::size_t>(done->changed());
    });
  }

  result<std::size_t> count() override {
    return db_->run("count single-use keys", Kind::read,
                    [&](Session& s) { return read_count(s.exec(sql::kCountKeys, Params().text(scope_))); });
  }

 private:
  std::shared_ptr<Database> db_;
  std::string scope_;
  std::atomic<std::uint64_t> calls_{0};
};

}  // namespace

result<Stores> open_postgres_stores(std::string const& url, PostgresOptions const& options) {
  auto db = Database::open(url, options);
  if (!db) return db.error();
  Stores stores;
  stores.agents = std::make_shared<PgAgentStore>(*db);
  stores.measurements = std::make_shared<PgMeasurementStore>(*db);
  stores.apps = std::make_shared<PgAppStore>(*db);
  stores.deployments = std::make_shared<PgDeploymentStore>(*db);
  stores.bootstrap_tokens = std::make_shared<PgBootstrapTokenStore>(*db);
  stores.settings = std::make_shared<PgSettingStore>(*db);
  stores.sessions = std::make_shared<PgLoginSessionStore>(*db);
  stores.accounts = std::make_shared<PgAccountStore>(*db);
  stores.nonces = std::make_shared<PgOnceStore>(*db, "nonce");
  stores.replays = std::make_shared<PgOnceStore>(*db, "replay");
  stores.leases = std::make_shared<PgLeaseStore>(*db);
  return stores;
}

}  // namespace ee::registry
