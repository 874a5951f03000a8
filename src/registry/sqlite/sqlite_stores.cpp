// The SQLite implementation of the registry stores (registry/sqlite.hpp). Each method is one
// transaction on the shared Database: writes on the writer connection under BEGIN IMMEDIATE,
// committed before the method returns; reads on a pooled read connection.
#include <easyenclave/registry/sqlite.hpp>

#include "detail/json.hpp"
#include "registry/sqlite/database.hpp"
#include "registry/sqlite/queries.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ee::registry {
namespace {

using sqlite::Connection;
using sqlite::Database;
using sqlite::Query;
namespace sql = sqlite::sql;
namespace bj = boost::json;

// --- values that need an encoding ------------------------------------------------------------

std::string encode_string_array(std::vector<std::string> const& values) {
  if (values.empty()) return "[]";
  bj::array array;
  array.reserve(values.size());
  for (auto const& v : values) array.emplace_back(v);
  return bj::serialize(array);
}

result<std::vector<std::string>> decode_string_array(std::string const& text,
                                                     std::string_view column) {
  if (text == "[]") return std::vector<std::string>{};  // the common case, without a parse
  auto corrupt = [&] {
    return Error(errc::store_corrupt,
                 "column '" + std::string(column) + "' is not a JSON array of strings");
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

std::int64_t limit_value(std::size_t limit) {
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(limit < kMax ? limit : kMax);
}

void append_condition(std::string& sql, bool& first, char const* condition) {
  sql += first ? " WHERE " : " AND ";
  sql += condition;
  first = false;
}

Error not_found(std::string what) { return Error(errc::not_found, std::move(what)); }

// Reads every remaining row of `q` with `read_row(Query&) -> result<T>`.
template <class T, class Reader>
result<std::vector<T>> read_all(Query& q, Reader read_row) {
  std::vector<T> out;
  for (;;) {
    auto row = q.step();
    if (!row) return row.error();
    if (!*row) return out;
    auto item = read_row(q);
    if (!item) return item.error();
    out.push_back(std::move(*item));
  }
}

// --- agents ------------------------------------------------------------------------------------

// Binds every column but id, in the order of EE_AGENT_COLUMNS (kUpdateAgent, after the id for
// kInsertAgent). `advisory_ids` is the encoded array, kept alive by the caller.
void bind_agent_fields(Query& q, AgentRecord const& a, std::string const& advisory_ids) {
  auto const& at = a.attestation;
  q.bind_text(a.vm_name)
      .bind_text(a.owner)
      .bind_text(a.node_size)
      .bind_text(a.datacenter)
      .bind_text(a.public_key)
      .bind_text(a.agent_url)
      .bind_text(a.hostname)
      .bind_text(a.tunnel_id)
      .bind_text(a.dns_record_id)
      .bind_text(at.mrtd)
      .bind_text(at.rtmrs[0])
      .bind_text(at.rtmrs[1])
      .bind_text(at.rtmrs[2])
      .bind_text(at.rtmrs[3])
      .bind_text(at.tcb_status)
      .bind_optional_time(at.tcb_date)
      .bind_text(advisory_ids)
      .bind_text(at.appraised_by)
      .bind_time(at.appraised_at)
      .bind_text(at.report_data)
      .bind_bool(a.verified)
      .bind_text(a.unverified_reason)
      .bind_text(to_string(a.health))
      .bind_text(a.deployment_id)
      .bind_text(a.reported_status)
      .bind_text(a.reported_digest)
      .bind_time(a.registered_at)
      .bind_time(a.last_registered_at)
      .bind_time(a.last_heartbeat_at)
      .bind_text(a.owner_id);
}

// Reads a row of EE_AGENT_COLUMNS into `a`, reusing its strings' storage (a listing reads
// every agent into one record).
result<void> read_agent_into(Query& q, AgentRecord& a) {
  auto& at = a.attestation;
  a.id.assign(q.text_view(0));
  a.vm_name.assign(q.text_view(1));
  a.owner.assign(q.text_view(2));
  a.node_size.assign(q.text_view(3));
  a.datacenter.assign(q.text_view(4));
  a.public_key.assign(q.text_view(5));
  a.agent_url.assign(q.text_view(6));
  a.hostname.assign(q.text_view(7));
  a.tunnel_id.assign(q.text_view(8));
  a.dns_record_id.assign(q.text_view(9));
  at.mrtd.assign(q.text_view(10));
  for (int i = 0; i < 4; ++i) at.rtmrs[static_cast<std::size_t>(i)].assign(q.text_view(11 + i));
  at.tcb_status.assign(q.text_view(15));
  at.tcb_date = q.optional_time(16);
  auto const advisory_ids = q.text(17);
  at.appraised_by.assign(q.text_view(18));
  at.appraised_at = q.time(19);
  at.report_data.assign(q.text_view(20));
  a.verified = q.boolean(21);
  a.unverified_reason.assign(q.text_view(22));
  auto const health = q.text_view(23);
  a.deployment_id.assign(q.text_view(24));
  a.reported_status.assign(q.text_view(25));
  a.reported_digest.assign(q.text_view(26));
  a.registered_at = q.time(27);
  a.last_registered_at = q.time(28);
  a.last_heartbeat_at = q.time(29);
  a.owner_id.assign(q.text_view(30));
  if (auto row = q.check_row(); !row) return row.error();

  auto ids = decode_string_array(advisory_ids, "advisory_ids");
  if (!ids) return ids.error();
  at.advisory_ids = std::move(*ids);
  auto parsed_health = parse_health(health);
  if (!parsed_health) return Error(errc::store_corrupt, "column 'health' holds an unknown value");
  a.health = *parsed_health;
  return {};
}

// Reads a row of EE_AGENT_COLUMNS.
result<AgentRecord> read_agent(Query& q) {
  AgentRecord a;
  if (auto read = read_agent_into(q, a); !read) return read.error();
  return a;
}

result<AgentRecord> read_one_agent(Query& q, std::string_view key) {
  auto row = q.step();
  if (!row) return row.error();
  if (!*row) return not_found("no agent with " + std::string(key));
  return read_agent(q);
}

// Runs an UPDATE/DELETE of one agent by id; not_found when no row matched.
// The health in column 0 of the current row.
result<Health> read_health(Query& q) {
  auto health = parse_health(q.text(0));
  if (auto ok = q.check_row(); !ok) return ok.error();
  if (!health) return Error(errc::store_corrupt, "column 'health' holds an unknown value");
  return *health;
}

result<void> run_on_agent(Query& q, std::string const& id) {
  if (auto done = q.run(); !done) return done.error();
  if (q.changes() == 0) return not_found("no agent with id '" + id + "'");
  return {};
}

// The deployment agent `id` holds ("" for none), read after a claim or release changed nothing
// to say why; not_found when there is no such agent. The caller holds the write lock, so this
// reads what its UPDATE saw.
result<std::string> held_deployment(Connection& c, std::string const& id) {
  auto q = c.query(sql::kSelectAgentDeployment);
  if (!q) return q.error();
  q->bind_text(id);
  auto row = q->step();
  if (!row) return row.error();
  if (!*row) return not_found("no agent with id '" + id + "'");
  return q->text(0);
}

std::string what_is_held(std::string const& deployment_id) {
  return deployment_id.empty() ? "no deployment" : "deployment '" + deployment_id + "'";
}

// Moves agent `id` from holding `expected` to holding `next` (compare-and-set): not_found when
// there is no such agent, conflict when it holds something else.
result<void> move_holding(Connection& c, std::string const& id, std::string const& expected, std::string const& next) {
  {
    auto q = c.query(sql::kMoveAgentHolding);
    if (!q) return q.error();
    q->bind_text(next).bind_text(id).bind_text(expected);
    if (auto done = q->run(); !done) return done.error();
    if (q->changes() == 1) return {};
  }
  auto held = held_deployment(c, id);
  if (!held) return held.error();
  return Error(errc::conflict, "agent '" + id + "' holds " + what_is_held(*held) + ", not " + what_is_held(expected));
}

// The SELECT of AgentStore::list for `filter`; bind_agent_filter binds its parameters.
std::string agent_list_sql(AgentFilter const& filter) {
  std::string text = sql::kSelectAgents;
  bool first = true;
  if (filter.vm_name) append_condition(text, first, sql::kAgentWhereVmName);
  if (filter.owner) append_condition(text, first, sql::kAgentWhereOwner);
  if (filter.status) append_condition(text, first, sql::kAgentWhereStatus);
  if (filter.heartbeat_before) append_condition(text, first, sql::kAgentWhereHeartbeatBefore);
  text += sql::kAgentOrder;
  if (filter.limit || filter.offset > 0) text += sql::kLimitOffset;
  return text;
}

void bind_agent_filter(Query& q, AgentFilter const& filter) {
  if (filter.vm_name) q.bind_text(*filter.vm_name);
  if (filter.owner) q.bind_text(*filter.owner);
  if (filter.status) q.bind_text(*filter.status);
  if (filter.heartbeat_before) q.bind_time(*filter.heartbeat_before);
  if (filter.limit || filter.offset > 0) {
    q.bind_int(filter.limit ? limit_value(*filter.limit) : -1);
    q.bind_int(limit_value(filter.offset));
  }
}

class SqliteAgentStore final : public AgentStore {
 public:
  explicit SqliteAgentStore(std::shared_ptr<Database> db) : db_(std::move(db)) {}

  result<AgentRecord> insert(AgentRecord const& agent) override {
    return db_->write("insert agent", [&](Connection& c) -> result<AgentRecord> {
      auto q = c.query(sql::kInsertAgent);
      if (!q) return q.error();
      auto const advisory_ids = encode_string_array(agent.attestation.advisory_ids);
      q->bind_text(agent.id);
      bind_agent_fields(*q, agent, advisory_ids);
      if (auto done = q->run(); !done) return done.error();
      return agent;
    });
  }

  result<AgentRecord> update(AgentRecord const& agent) override {
    return db_->write("update agent", [&](Connection& c) -> result<AgentRecord> {
      auto q = c.query(sql::kUpdateAgent);
      if (!q) return q.error();
      auto const advisory_ids = encode_string_array(agent.attestation.advisory_ids);
      bind_agent_fields(*q, agent, advisory_ids);
      q->bind_text(agent.id);
      if (auto done = run_on_agent(*q, agent.id); !done) return done.error();
      return agent;
    });
  }

  result<AgentRecord> get(std::string const& id) override {
    return db_->read("get agent", [&](Connection& c) -> result<AgentRecord> {
      auto q = c.query(sql::kSelectAgentById);
      if (!q) return q.error();
      q->bind_text(id);
      return read_one_agent(*q, "id '" + id + "'");
    });
  }

  result<AgentRecord> find_by_vm_name(std::string const& vm_name) override {
    return db_->read("find agent", [&](Connection& c) -> result<AgentRecord> {
      auto q = c.query(sql::kSelectAgentByVmName);
      if (!q) return q.error();
      q->bind_text(vm_name);
      return read_one_agent(*q, "vm_name '" + vm_name + "'");
    });
  }

  result<std::vector<AgentRecord>> list(AgentFilter const& filter) override {
    auto const text = agent_list_sql(filter);
    return db_->read("list agents", [&](Connection& c) -> result<std::vector<AgentRecord>> {
      auto q = c.query(text);
      if (!q) return q.error();
      bind_agent_filter(*q, filter);
      return read_all<AgentRecord>(*q, read_agent);
    });
  }

  // One record, refilled row after row: no record per agent is built or kept.
  result<void> for_each(AgentFilter const& filter, std::function<void(AgentRecord const&)> const& visit) override {
    auto const text = agent_list_sql(filter);
    return db_->read("list agents", [&](Connection& c) -> result<void> {
      auto q = c.query(text);
      if (!q) return q.error();
      bind_agent_filter(*q, filter);
      AgentRecord agent;
      for (;;) {
        auto row = q->step();
        if (!row) return row.error();
        if (!*row) return {};
        if (auto read = read_agent_into(*q, agent); !read) return read.error();
        visit(agent);
      }
    });
  }

  result<std::size_t> count() override {
    return db_->read("count agents", [&](Connection& c) -> result<std::size_t> {
      auto q = c.query(sql::kCountAgents);
      if (!q) return q.error();
      auto row = q->step();
      if (!row) return row.error();
      auto const n = *row ? q->integer(0) : 0;
      if (auto ok = q->check_row(); !ok) return ok.error();
      return static_cast<std::size_t>(n);
    });
  }

  result<void> record_heartbeat(std::string const& id, TimePoint at, std::string const& status,
                                std::string const& digest) override {
    return db_->write("record heartbeat", [&](Connection& c) -> result<void> {
      auto q = c.query(sql::kRecordHeartbeat);
      if (!q) return q.error();
      q->bind_time(at).bind_text(status).bind_text(digest).bind_text(id);
      return run_on_agent(*q, id);
    });
  }

  result<void> set_verification(std::string const& id, bool verified, std::string const& reason,
                                std::optional<AttestationRecord> const& attestation) override {
    return db_->write("set agent verification", [&](Connection& c) -> result<void> {
      if (!attestation) {
        auto q = c.query(sql::kSetVerification);
        if (!q) return q.error();
        q->bind_bool(verified).bind_text(reason).bind_text(id);
        return run_on_agent(*q, id);
      }
      auto const& at = *attestation;
      auto q = c.query(sql::kSetVerificationWithAttestation);
      if (!q) return q.error();
      auto const advisory_ids = encode_string_array(at.advisory_ids);
      q->bind_bool(verified)
          .bind_text(reason)
          .bind_text(at.mrtd)
          .bind_text(at.rtmrs[0])
          .bind_text(at.rtmrs[1])
          .bind_text(at.rtmrs[2])
          .bind_text(at.rtmrs[3])
          .bind_text(at.tcb_status)
          .bind_optional_time(at.tcb_date)
          .bind_text(advisory_ids)
          .bind_text(at.appraised_by)
          .bind_time(at.appraised_at)
          .bind_text(at.report_data)
          .bind_text(id);
      return run_on_agent(*q, id);
    });
  }

  result<void> set_health(std::string const& id, Health health) override {
    return db_->write("set agent health", [&](Connection& c) -> result<void> {
      auto q = c.query(sql::kSetHealth);
      if (!q) return q.error();
      q->bind_text(to_string(health)).bind_text(id);
      return run_on_agent(*q, id);
    });
  }

  result<Health> observe_health(std::string const& id, bool healthy, HealthHysteresis const& rule) override {
    return db_->write("observe agent health", [&](Connection& c) -> result<Health> {
      auto q = c.query(sql::kObserveHealth);
      if (!q) return q.error();
      q->bind_bool(healthy).bind_int(rule.up_after).bind_int(rule.down_after).bind_text(id);
      auto row = q->step();
      if (!row) return row.error();
      if (*row) return read_health(*q);
      // Settled already (nothing written), or no such agent.
      auto settled = c.query(sql::kSelectHealth);
      if (!settled) return settled.error();
      settled->bind_text(id);
      row = settled->step();
      if (!row) return row.error();
      if (!*row) return not_found("no agent with id '" + id + "'");
      return read_health(*settled);
    });
  }

  result<void> set_owner(std::string const& id, std::string const& owner, std::string const& owner_id) override {
    return db_->write("set agent owner", [&](Connection& c) -> result<void> {
      auto q = c.query(sql::kSetOwner);
      if (!q) return q.error();
      q->bind_text(owner).bind_text(owner_id).bind_text(id);
      return run_on_agent(*q, id);
    });
  }

  result<void> set_tunnel(std::string const& id, std::string const& tunnel_id, std::string const& hostname,
                          std::string const& dns_record_id) override {
    return db_->write("set agent tunnel", [&](Connection& c) -> result<void> {
      auto q = c.query(sql::kSetTunnel);
      if (!q) return q.error();
      q->bind_text(tunnel_id).bind_text(hostname).bind_text(dns_record_id).bind_text(id);
      return run_on_agent(*q, id);
    });
  }

  result<void> set_deployment(std::string const& id, std::string const& deployment_id) override {
    return db_->write("set agent deployment", [&](Connection& c) -> result<void> {
      auto q = c.query(sql::kSetDeployment);
      if (!q) return q.error();
      q->bind_text(deployment_id).bind_text(id);
      return run_on_agent(*q, id);
    });
  }

  result<void> claim_for_deployment(std::string const& id,
                                    std::string const& deployment_id) override {
    return db_->write("claim agent", [&](Connection& c) -> result<void> {
      {
        auto q = c.query(sql::kClaimAgent);
        if (!q) return q.error();
        q->bind_text(deployment_id).bind_text(id);
        if (auto done = q->run(); !done) return done.error();
        if (q->changes() == 1) return {};
      }
      // Nothing changed: either there is no such agent or it is busy.
      auto held = held_deployment(c, id);
      if (!held) return held.error();
      return Error(errc::conflict, "agent '" + id + "' already holds deployment '" + *held + "'");
    });
  }

  result<void> release_deployment(std::string const& id,
                                  std::string const& deployment_id) override {
    return db_->write("release agent", [&](Connection& c) -> result<void> {
      {
        auto q = c.query(sql::kReleaseAgent);
        if (!q) return q.error();
        q->bind_text(id).bind_text(deployment_id);
        if (auto done = q->run(); !done) return done.error();
        if (q->changes() == 1) return {};
      }
      auto held = held_deployment(c, id);
      if (!held) return held.error();
      return Error(errc::conflict, "agent '" + id + "' holds " +
                                       (held->empty() ? "no deployment" : "deployment '" + *held + "'") +
                                       ", not '" + deployment_id + "'");
    });
  }

  result<void> remove(std::string const& id) override {
    return db_->write("remove agent", [&](Connection& c) -> result<void> {
      auto q = c.query(sql::kDeleteAgent);
      if (!q) return q.error();
      q->bind_text(id);
      return run_on_agent(*q, id);
    });
  }

 private:
  std::shared_ptr<Database> db_;
};

// --- trusted measurements ----------------------------------------------------------------------

result<TrustedMeasurement> read_measurement(Query& q) {
  TrustedMeasurement m;
  m.mrtd = q.text(0);
  m.kind = q.text(1);
  m.node_size = q.text(2);
  m.note = q.text(3);
  m.added_at = q.time(4);
  if (auto row = q.check_row(); !row) return row.error();
  return m;
}

class SqliteMeasurementStore final : public TrustedMeasurementStore {
 public:
  explicit SqliteMeasurementStore(std::shared_ptr<Database> db) : db_(std::move(db)) {}

  result<TrustedMeasurement> add(TrustedMeasurement const& m) override {
    return db_->write("add trusted measurement", [&](Connection& c) -> result<TrustedMeasurement> {
      auto q = c.query(sql::kInsertMeasurement);
      if (!q) return q.error();
      q->bind_text(m.mrtd).bind_text(m.kind).bind_text(m.node_size).bind_text(m.note).bind_time(
          m.added_at);
      if (auto done = q->run(); !done) return done.error();
      return m;
    });
  }

  result<TrustedMeasurement> get(std::string const& mrtd) override {
    return db_->read("get trusted measurement", [&](Connection& c) -> result<TrustedMeasurement> {
      auto q = c.query(sql::kSelectMeasurement);
      if (!q) return q.error();
      q->bind_text(mrtd);
      auto row = q->step();
      if (!row) return row.error();
      if (!*row) return not_found("mrtd '" + mrtd + "' is not trusted");
      return read_measurement(*q);
    });
  }

  result<std::vector<TrustedMeasurement>> list() override {
    return db_->read("list trusted measurements",
                     [&](Connection& c) -> result<std::vector<TrustedMeasurement>> {
                       auto q = c.query(sql::kSelectMeasurements);
                       if (!q) return q.error();
                       return read_all<TrustedMeasurement>(*q, read_measurement);
                     });
  }

  result<void> remove(std::string const& mrtd) override {
    return db_->write("remove trusted measurement", [&](Connection& c) -> result<void> {
      auto q = c.query(sql::kDeleteMeasurement);
      if (!q) return q.error();
      q->bind_text(mrtd);
      if (auto done = q->run(); !done) return done.error();
      if (q->changes() == 0) return not_found("mrtd '" + mrtd + "' is not trusted");
      return {};
    });
  }

 private:
  std::shared_ptr<Database> db_;
};

// --- apps --------------------------------------------------------------------------------------

result<App> read_app(Query& q) {
  App a;
  a.name = q.text(0);
  a.description = q.text(1);
  a.source_repo = q.text(2);
  a.owner = q.text(3);
  a.created_at = q.time(4);
  a.owner_id = q.text(5);
  if (auto row = q.check_row(); !row) return row.error();
  return a;
}

result<AppVersion> read_version(Query& q) {
  AppVersion v;
  v.app_name = q.text(0);
  v.version = q.text(1);
  v.image = q.text(2);
  v.mrtd = q.text(3);
  for (int i = 0; i < 4; ++i) v.rtmrs[static_cast<std::size_t>(i)] = q.text(4 + i);
  v.node_size = q.text(8);
  v.published_by = q.text(9);
  v.published_at = q.time(10);
  if (auto row = q.check_row(); !row) return row.error();
  return v;
}

// Inserts `v` filed under `app_name`; conflict when the version exists.
result<void> insert_version(Connection& c, std::string const& app_name, AppVersion const& v) {
  auto q = c.query(sql::kInsertVersion);
  if (!q) return q.error();
  q->bind_text(app_name)
      .bind_text(v.version)
      .bind_text(v.image)
      .bind_text(v.mrtd)
      .bind_text(v.rtmrs[0])
      .bind_text(v.rtmrs[1])
      .bind_text(v.rtmrs[2])
      .bind_text(v.rtmrs[3])
      .bind_text(v.node_size)
      .bind_text(v.published_by)
      .bind_time(v.published_at);
  return q->run();
}

result<void> require_app(Connection& c, std::string const& name) {
  auto q = c.query(sql::kAppExists);
  if (!q) return q.error();
  q->bind_text(name);
  auto row = q->step();
  if (!row) return row.error();
  if (!*row) return not_found("no app named '" + name + "'");
  return {};
}

class SqliteAppStore final : public AppStore {
 public:
  explicit SqliteAppStore(std::shared_ptr<Database> db) : db_(std::move(db)) {}

  result<App> create(App const& app, AppVersion const& first_version) override {
    return db_->write("create app", [&](Connection& c) -> result<App> {
      {
        auto q = c.query(sql::kInsertApp);
        if (!q) return q.error();
        q->bind_text(app.name)
            .bind_text(app.description)
            .bind_text(app.source_repo)
            .bind_text(app.owner)
            .bind_time(app.created_at)
            .bind_text(app.owner_id);
        if (auto done = q->run(); !done) return done.error();
      }
      // Both rows or neither: a failure here returns before COMMIT and the transaction rolls
      // the app back.
      if (auto done = insert_version(c, app.name, first_version); !done) return done.error();
      return app;
    });
  }

  result<App> get(std::string const& name) override {
    return db_->read("get app", [&](Connection& c) -> result<App> {
      auto q = c.query(sql::kSelectApp);
      if (!q) return q.error();
      q->bind_text(name);
      auto row = q->step();
      if (!row) return row.error();
      if (!*row) return not_found("no app named '" + name + "'");
      return read_app(*q);
    });
  }

  result<std::vector<App>> list() override {
    return db_->read("list apps", [&](Connection& c) -> result<std::vector<App>> {
      auto q = c.query(sql::kSelectApps);
      if (!q) return q.error();
      return read_all<App>(*q, read_app);
    });
  }

  result<AppVersion> add_version(AppVersion const& version) override {
    return db_->write("add app version", [&](Connection& c) -> result<AppVersion> {
      if (auto found = require_app(c, version.app_name); !found) return found.error();
      if (auto done = insert_version(c, version.app_name, version); !done) return done.error();
      return version;
    });
  }

  result<AppVersion> get_version(std::string const& app_name,
                                 std::string const& version) override {
    return db_->read("get app version", [&](Connection& c) -> result<AppVersion> {
      auto q = c.query(sql::kSelectVersion);
      if (!q) return q.error();
      q->bind_text(app_name).bind_text(version);
      auto row = q->step();
      if (!row) return row.error();
      if (!*row) return not_found("app '" + app_name + "' has no version '" + version + "'");
      return read_version(*q);
    });
  }

  result<std::vector<AppVersion>> list_versions(std::string const& app_name) override {
    return db_->read("list app versions", [&](Connection& c) -> result<std::vector<AppVersion>> {
      if (auto found = require_app(c, app_name); !found) return found.error();
      auto q = c.query(sql::kSelectVersions);
      if (!q) return q.error();
      q->bind_text(app_name);
      return read_all<AppVersion>(*q, read_version);
    });
  }

 private:
  std::shared_ptr<Database> db_;
};

// --- deployments -------------------------------------------------------------------------------

// A row of kSelectDeploymentHistory.
result<DeploymentChange> read_deployment_change(Query& q) {
  auto status = parse_deployment_status(q.text(0));
  DeploymentChange change{.status = status.value_or(DeploymentStatus::pending), .detail = q.text(1), .at = q.time(2)};
  if (auto ok = q.check_row(); !ok) return ok.error();
  if (!status) return Error(errc::store_corrupt, "column 'status' of deployment_changes holds an unknown value");
  return change;
}

result<Deployment> read_deployment(Query& q) {
  Deployment d;
  d.id = q.text(0);
  d.app_name = q.text(1);
  d.version = q.text(2);
  d.agent_id = q.text(3);
  d.image = q.text(4);
  auto const status = q.text(5);
  d.detail = q.text(6);
  d.requested_by = q.text(7);
  d.created_at = q.time(8);
  d.updated_at = q.time(9);
  d.replaces = q.text(10);
  d.rollout_id = q.text(11);
  d.rollout_step = q.integer(12);
  if (auto row = q.check_row(); !row) return row.error();
  auto parsed = parse_deployment_status(status);
  if (!parsed) return Error(errc::store_corrupt, "column 'status' holds an unknown value");
  d.status = *parsed;
  return d;
}

result<Deployment> read_one_deployment(Query& q, std::string const& id) {
  auto row = q.step();
  if (!row) return row.error();
  if (!*row) return not_found("no deployment with id '" + id + "'");
  return read_deployment(q);
}

class SqliteDeploymentStore final : public DeploymentStore {
 public:
  explicit SqliteDeploymentStore(std::shared_ptr<Database> db) : db_(std::move(db)) {}

  result<Deployment> insert(Deployment const& d) override {
    return db_->write("insert deployment", [&](Connection& c) { return insert_row(c, d); });
  }

  result<Deployment> insert_holding(Deployment const& d, std::string const& held_now) override {
    return db_->write("insert deployment holding its agent", [&](Connection& c) -> result<Deployment> {
      // Both or neither: a failure returns before COMMIT and the transaction rolls back.
      if (auto r = move_holding(c, d.agent_id, held_now, d.id); !r) return r.error();
      return insert_row(c, d);
    });
  }

  result<Deployment> get(std::string const& id) override {
    return db_->read("get deployment", [&](Connection& c) -> result<Deployment> {
      auto q = c.query(sql::kSelectDeployment);
      if (!q) return q.error();
      q->bind_text(id);
      return read_one_deployment(*q, id);
    });
  }

  result<std::vector<DeploymentChange>> history(std::string const& id) override {
    return db_->read("deployment history", [&](Connection& c) -> result<std::vector<DeploymentChange>> {
      auto q = c.query(sql::kSelectDeploymentHistory);
      if (!q) return q.error();
      q->bind_text(id);
      return read_all<DeploymentChange>(*q, read_deployment_change);
    });
  }

  result<std::vector<Deployment>> list(DeploymentFilter const& filter) override {
    std::string text = sql::kSelectDeployments;
    bool first = true;
    if (filter.agent_id) append_condition(text, first, sql::kDeploymentWhereAgent);
    if (filter.rollout_id) append_condition(text, first, sql::kDeploymentWhereRollout);
    if (filter.app_name) append_condition(text, first, sql::kDeploymentWhereApp);
    if (filter.status) append_condition(text, first, sql::kDeploymentWhereStatus);
    if (filter.updated_before) append_condition(text, first, sql::kDeploymentWhereUpdatedBefore);
    text += sql::kDeploymentOrder;
    bool const paged = filter.limit || filter.offset > 0;
    if (paged) text += sql::kLimitOffset;
    return db_->read("list deployments", [&](Connection& c) -> result<std::vector<Deployment>> {
      auto q = c.query(text);
      if (!q) return q.error();
      if (filter.agent_id) q->bind_text(*filter.agent_id);
      if (filter.rollout_id) q->bind_text(*filter.rollout_id);
      if (filter.app_name) q->bind_text(*filter.app_name);
      if (filter.status) q->bind_text(to_string(*filter.status));
      if (filter.updated_before) q->bind_time(*filter.updated_before);
      if (paged) {
        q->bind_int(filter.limit ? limit_value(*filter.limit) : -1);
        q->bind_int(limit_value(filter.offset));
      }
      return read_all<Deployment>(*q, read_deployment);
    });
  }

  result<Deployment> set_status(std::string const& id, DeploymentStatus status,
                                std::string const& detail, TimePoint at) override {
    return db_->write("set deployment status", [&](Connection& c) -> result<Deployment> {
      {
        auto q = c.query(sql::kSetDeploymentStatus);
        if (!q) return q.error();
        q->bind_text(to_string(status)).bind_text(detail).bind_time(at).bind_text(id);
        if (auto done = q->run(); !done) return done.error();
        if (q->changes() == 0) return not_found("no deployment with id '" + id + "'");
      }
      auto q = c.query(sql::kSelectDeployment);
      if (!q) return q.error();
      q->bind_text(id);
      return read_one_deployment(*q, id);
    });
  }

  result<Deployment> set_status_if(std::string const& id, DeploymentStatus expected,
                                   DeploymentStatus status, std::string const& detail,
                                   TimePoint at, AgentHold hold) override {
    return db_->write("set deployment status if", [&](Connection& c) -> result<Deployment> {
      {
        auto q = c.query(sql::kSetDeploymentStatusIf);
        if (!q) return q.error();
        q->bind_text(to_string(status))
            .bind_text(detail)
            .bind_time(at)
            .bind_text(id)
            .bind_text(to_string(expected));
        if (auto done = q->run(); !done) return done.error();
        if (q->changes() == 0) return status_conflict(c, id, expected);
      }
      auto d = select_one(c, id);
      if (!d || hold == AgentHold::keep) return d;
      auto const next = hold == AgentHold::hand_back ? d->replaces : std::string();
      if (auto r = move_holding(c, d->agent_id, d->id, next); !r) {
        // The agent is gone or holds another deployment: nothing of this one to hand on.
        if (r.error() != errc::conflict && r.error() != errc::not_found) return r.error();
      }
      return d;
    });
  }

  result<Deployment> start_queued(std::string const& id, std::string const& held_now, TimePoint at) override {
    return db_->write("start queued deployment", [&](Connection& c) -> result<Deployment> {
      {
        auto q = c.query(sql::kStartQueuedDeployment);
        if (!q) return q.error();
        q->bind_text(held_now).bind_time(at).bind_text(id);
        if (auto done = q->run(); !done) return done.error();
        if (q->changes() == 0) return status_conflict(c, id, DeploymentStatus::queued);
      }
      auto d = select_one(c, id);
      if (!d) return d;
      if (auto r = move_holding(c, d->agent_id, held_now, d->id); !r) return r.error();
      return d;
    });
  }

 private:
  static result<Deployment> insert_row(Connection& c, Deployment const& d) {
    auto q = c.query(sql::kInsertDeployment);
    if (!q) return q.error();
    q->bind_text(d.id)
        .bind_text(d.app_name)
        .bind_text(d.version)
        .bind_text(d.agent_id)
        .bind_text(d.image)
        .bind_text(to_string(d.status))
        .bind_text(d.detail)
        .bind_text(d.requested_by)
        .bind_time(d.created_at)
        .bind_time(d.updated_at)
        .bind_text(d.replaces)
        .bind_text(d.rollout_id)
        .bind_int(d.rollout_step);
    if (auto done = q->run(); !done) return done.error();
    return d;
  }

  static result<Deployment> select_one(Connection& c, std::string const& id) {
    auto q = c.query(sql::kSelectDeployment);
    if (!q) return q.error();
    q->bind_text(id);
    return read_one_deployment(*q, id);
  }

  // Why a compare-and-set of `id`'s status from `expected` changed nothing.
  static Error status_conflict(Connection& c, std::string const& id, DeploymentStatus expected) {
    auto current = c.query(sql::kSelectDeploymentStatus);
    if (!current) return current.error();
    current->bind_text(id);
    auto row = current->step();
    if (!row) return row.error();
    if (!*row) return not_found("no deployment with id '" + id + "'");
    return Error(errc::conflict, "deployment '" + id + "' is " + current->text(0) + ", not " +
                                     std::string(to_string(expected)));
  }

  std::shared_ptr<Database> db_;
};

// --- bootstrap tokens ----------------------------------------------------------------------------

result<BootstrapToken> read_bootstrap_token(Query& q) {
  BootstrapToken t;
  t.id = q.text(0);
  t.token_hash = q.text(1);
  t.owner = q.text(2);
  t.owner_id = q.text(3);
  t.created_by = q.text(4);
  t.vm_name = q.text(5);
  t.datacenter = q.text(6);
  t.node_size = q.text(7);
  t.uses = q.integer(8);
  t.uses_left = q.integer(9);
  t.created_at = q.time(10);
  t.expires_at = q.time(11);
  if (auto row = q.check_row(); !row) return row.error();
  return t;
}

result<BootstrapToken> read_one_bootstrap_token(Query& q, std::string_view key) {
  auto row = q.step();
  if (!row) return row.error();
  if (!*row) return not_found("no bootstrap token with " + std::string(key));
  return read_bootstrap_token(q);
}

class SqliteBootstrapTokenStore final : public BootstrapTokenStore {
 public:
  explicit SqliteBootstrapTokenStore(std::shared_ptr<Database> db) : db_(std::move(db)) {}

  result<BootstrapToken> insert(BootstrapToken const& t) override {
    return db_->write("insert bootstrap token", [&](Connection& c) -> result<BootstrapToken> {
      auto q = c.query(sql::kInsertBootstrapToken);
      if (!q) return q.error();
      q->bind_text(t.id)
          .bind_text(t.token_hash)
          .bind_text(t.owner)
          .bind_text(t.owner_id)
          .bind_text(t.created_by)
          .bind_text(t.vm_name)
          .bind_text(t.datacenter)
          .bind_text(t.node_size)
          .bind_int(t.uses)
          .bind_int(t.uses_left)
          .bind_time(t.created_at)
          .bind_time(t.expires_at);
      if (auto done = q->run(); !done) return done.error();
      return t;
    });
  }

  result<BootstrapToken> find_by_hash(std::string const& token_hash) override {
    return db_->read("find bootstrap token", [&](Connection& c) -> result<BootstrapToken> {
      auto q = c.query(sql::kSelectBootstrapTokenByHash);
      if (!q) return q.error();
      q->bind_text(token_hash);
      // The key is a hash of a secret: it is not repeated in the message.
      return read_one_bootstrap_token(*q, "this hash");
    });
  }

  result<BootstrapToken> use(std::string const& id, TimePoint now) override {
    return db_->write("use bootstrap token", [&](Connection& c) -> result<BootstrapToken> {
      {
        auto q = c.query(sql::kUseBootstrapToken);
        if (!q) return q.error();
        q->bind_text(id).bind_time(now);
        if (auto done = q->run(); !done) return done.error();
        if (q->changes() == 0) {
          auto exists = c.query(sql::kSelectBootstrapTokenById);
          if (!exists) return exists.error();
          exists->bind_text(id);
          if (auto found = read_one_bootstrap_token(*exists, "id '" + id + "'"); !found) return found.error();
          return Error(errc::conflict, "bootstrap token " + id + " has no use left or has expired");
        }
      }
      auto q = c.query(sql::kSelectBootstrapTokenById);
      if (!q) return q.error();
      q->bind_text(id);
      return read_one_bootstrap_token(*q, "id '" + id + "'");
    });
  }

  result<std::vector<BootstrapToken>> list_by_owner_id(std::string const& owner_id) override {
    return db_->read("list bootstrap tokens", [&](Connection& c) -> result<std::vector<BootstrapToken>> {
      auto q = c.query(sql::kSelectBootstrapTokensByOwnerId);
      if (!q) return q.error();
      q->bind_text(owner_id);
      return read_all<BootstrapToken>(*q, read_bootstrap_token);
    });
  }

  result<void> remove(std::string const& id) override {
    return db_->write("remove bootstrap token", [&](Connection& c) -> result<void> {
      auto q = c.query(sql::kDeleteBootstrapToken);
      if (!q) return q.error();
      q->bind_text(id);
      if (auto done = q->run(); !done) return done.error();
      if (q->changes() == 0) return not_found("no bootstrap token with id '" + id + "'");
      return {};
    });
  }

  result<std::size_t> purge(TimePoint now) override {
    return db_->write("purge bootstrap tokens", [&](Connection& c) -> result<std::size_t> {
      auto q = c.query(sql::kPurgeBootstrapTokens);
      if (!q) return q.error();
      q->bind_time(now);
      if (auto done = q->run(); !done) return done.error();
      return static_cast<std::size_t>(q->changes());
    });
  }

 private:
  std::shared_ptr<Database> db_;
};

// --- login sessions --------------------------------------------------------------------------------

result<LoginSession> read_login_session(Query& q) {
  LoginSession session;
  session.id = q.text(0);
  session.token_prefix = q.text(1);
  session.token_hash = q.text(2);
  auto const method = parse_login_method(q.text(3));
  session.admin = q.boolean(4);
  session.github_user.login = q.text(5);
  session.github_user.id = q.text(6);
  auto orgs = decode_github_accounts(q.text(7));
  session.created_at = q.time(8);
  session.expires_at = q.time(9);
  if (auto row = q.check_row(); !row) return row.error();
  if (!method || !orgs) return Error(errc::store_corrupt, "login session " + session.id + " has an unreadable method or orgs");
  session.method = *method;
  session.github_orgs = std::move(*orgs);
  return session;
}

class SqliteLoginSessionStore final : public LoginSessionStore {
 public:
  explicit SqliteLoginSessionStore(std::shared_ptr<Database> db) : db_(std::move(db)) {}

  result<LoginSession> insert(LoginSession const& session) override {
    // Bound text is not copied: these live until the statement has run.
    std::string const method(to_string(session.method));
    std::string const orgs = encode_github_accounts(session.github_orgs);
    return db_->write("insert login session", [&](Connection& c) -> result<LoginSession> {
      auto q = c.query(sql::kInsertLoginSession);
      if (!q) return q.error();
      q->bind_text(session.id)
          .bind_text(session.token_prefix)
          .bind_text(session.token_hash)
          .bind_text(method)
          .bind_bool(session.admin)
          .bind_text(session.github_user.login)
          .bind_text(session.github_user.id)
          .bind_text(orgs)
          .bind_time(session.created_at)
          .bind_time(session.expires_at);
      if (auto done = q->run(); !done) return done.error();
      return session;
    });
  }

  result<std::vector<LoginSession>> find_by_prefix(std::string const& token_prefix, TimePoint now) override {
    return db_->read("find login sessions", [&](Connection& c) -> result<std::vector<LoginSession>> {
      auto q = c.query(sql::kSelectLoginSessionsByPrefix);
      if (!q) return q.error();
      q->bind_text(token_prefix).bind_time(now);
      return read_all<LoginSession>(*q, read_login_session);
    });
  }

  result<LoginSession> get(std::string const& id) override {
    return db_->read("get login session", [&](Connection& c) -> result<LoginSession> {
      auto q = c.query(sql::kSelectLoginSessionById);
      if (!q) return q.error();
      q->bind_text(id);
      auto row = q->step();
      if (!row) return row.error();
      if (!*row) return not_found("no login session with id '" + id + "'");
      return read_login_session(*q);
    });
  }

  result<void> remove(std::string const& id) override {
    return db_->write("remove login session", [&](Connection& c) -> result<void> {
      auto q = c.query(sql::kDeleteLoginSession);
      if (!q) return q.error();
      q->bind_text(id);
      if (auto done = q->run(); !done) return done.error();
      if (q->changes() == 0) return not_found("no login session with id '" + id + "'");
      return {};
    });
  }

  result<std::size_t> purge(TimePoint now) override {
    return db_->write("purge login sessions", [&](Connection& c) -> result<std::size_t> {
      auto q = c.query(sql::kPurgeLoginSessions);
      if (!q) return q.error();
      q->bind_time(now);
      if (auto done = q->run(); !done) return done.error();
      return static_cast<std::size_t>(q->changes());
    });
  }

 private:
  std::shared_ptr<Database> db_;
};

// --- accounts ------------------------------------------------------------------------------------

result<Account> read_account(Query& q) {
  Account a;
  a.id = q.text(0);
  a.name = q.text(1);
  auto const type = q.text(2);
  a.github_id = q.text(3);
  a.github_login = q.text(4);
  a.github_org = q.text(5);
  a.api_key_prefix = q.text(6);
  a.api_key_hash = q.text(7);
  a.created_at = q.time(8);
  if (auto row = q.check_row(); !row) return row.error();
  auto parsed = parse_account_type(type);
  if (!parsed) return Error(errc::store_corrupt, "account " + a.id + " has an unknown type");
  a.type = *parsed;
  return a;
}

result<Account> read_one_account(Query& q, std::string_view key) {
  auto row = q.step();
  if (!row) return row.error();
  if (!*row) return not_found("no account with " + std::string(key));
  return read_account(q);
}

class SqliteAccountStore final : public AccountStore {
 public:
  explicit SqliteAccountStore(std::shared_ptr<Database> db) : db_(std::move(db)) {}

  result<Account> insert(Account const& a) override {
    return db_->write("insert account", [&](Connection& c) -> result<Account> {
      auto q = c.query(sql::kInsertAccount);
      if (!q) return q.error();
      q->bind_text(a.id)
          .bind_text(a.name)
          .bind_text(to_string(a.type))
          .bind_text(a.github_id)
          .bind_text(a.github_login)
          .bind_text(a.github_org)
          .bind_text(a.api_key_prefix)
          .bind_text(a.api_key_hash)
          .bind_time(a.created_at);
      if (auto done = q->run(); !done) return done.error();
      return a;
    });
  }

  result<Account> get(std::string const& id) override { return one("get account", sql::kSelectAccountById, id, "id '" + id + "'"); }
  result<Account> find_by_name(std::string const& name) override {
    return one("find account by name", sql::kSelectAccountByName, name, "name '" + name + "'");
  }
  result<Account> find_by_key_prefix(std::string const& prefix) override {
    return one("find account by key prefix", sql::kSelectAccountByKeyPrefix, prefix, "this key prefix");
  }

  result<std::vector<Account>> list(AccountFilter const& filter) override {
    std::string text = sql::kSelectAccounts;
    bool first = true;
    if (filter.name) append_condition(text, first, sql::kAccountWhereName);
    if (filter.type) append_condition(text, first, sql::kAccountWhereType);
    text += sql::kAccountOrder;
    bool const paged = filter.limit || filter.offset > 0;
    if (paged) text += sql::kLimitOffset;
    return db_->read("list accounts", [&](Connection& c) -> result<std::vector<Account>> {
      auto q = c.query(text);
      if (!q) return q.error();
      if (filter.name) q->bind_text(*filter.name);
      if (filter.type) q->bind_text(to_string(*filter.type));
      if (paged) {
        q->bind_int(filter.limit ? limit_value(*filter.limit) : -1);
        q->bind_int(limit_value(filter.offset));
      }
      return read_all<Account>(*q, read_account);
    });
  }

  result<Account> replace_key(std::string const& id, std::string const& prefix, std::string const& hash) override {
    return db_->write("replace account key", [&](Connection& c) -> result<Account> {
      {
        auto q = c.query(sql::kReplaceAccountKey);
        if (!q) return q.error();
        q->bind_text(prefix).bind_text(hash).bind_text(id);
        if (auto done = q->run(); !done) return done.error();
        if (q->changes() == 0) return not_found("no account with id '" + id + "'");
      }
      auto q = c.query(sql::kSelectAccountById);
      if (!q) return q.error();
      q->bind_text(id);
      return read_one_account(*q, "id '" + id + "'");
    });
  }

  result<Account> link_identity(std::string const& id, std::string const& github_id, std::string const& github_login,
                                std::string const& github_org) override {
    return db_->write("link account identity", [&](Connection& c) -> result<Account> {
      {
        auto q = c.query(sql::kLinkAccountIdentity);
        if (!q) return q.error();
        q->bind_text(github_id).bind_text(github_login).bind_text(github_org).bind_text(id);
        if (auto done = q->run(); !done) return done.error();
        if (q->changes() == 0) return not_found("no account with id '" + id + "'");
      }
      auto q = c.query(sql::kSelectAccountById);
      if (!q) return q.error();
      q->bind_text(id);
      return read_one_account(*q, "id '" + id + "'");
    });
  }

  result<void> remove(std::string const& id) override {
    return db_->write("remove account", [&](Connection& c) -> result<void> {
      auto q = c.query(sql::kDeleteAccount);
      if (!q) return q.error();
      q->bind_text(id);
      if (auto done = q->run(); !done) return done.error();
      if (q->changes() == 0) return not_found("no account with id '" + id + "'");
      return {};
    });
  }

 private:
  result<Account> one(char const* what, char const* statement, std::string const& key, std::string const& named) {
    return db_->read(what, [&](Connection& c) -> result<Account> {
      auto q = c.query(statement);
      if (!q) return q.error();
      q->bind_text(key);
      return read_one_account(*q, named);
    });
  }

  std::shared_ptr<Database> db_;
};

// --- settings --------------------------------------------------------------------------------------

result<SettingRow> read_setting(Query& q) {
  SettingRow row;
  row.name = q.text(0);
  row.value = q.text(1);
  row.updated_by = q.text(2);
  row.updated_at = q.time(3);
  if (auto checked = q.check_row(); !checked) return checked.error();
  return row;
}

class SqliteSettingStore final : public SettingStore {
 public:
  explicit SqliteSettingStore(std::shared_ptr<Database> db) : db_(std::move(db)) {}

  result<std::vector<SettingRow>> list() override {
    return db_->read("list settings", [&](Connection& c) -> result<std::vector<SettingRow>> {
      auto q = c.query(sql::kSelectSettings);
      if (!q) return q.error();
      return read_all<SettingRow>(*q, read_setting);
    });
  }

  result<void> put(SettingRow const& row) override {
    return db_->write("put setting", [&](Connection& c) -> result<void> {
      auto q = c.query(sql::kPutSetting);
      if (!q) return q.error();
      q->bind_text(row.name).bind_text(row.value).bind_text(row.updated_by).bind_time(row.updated_at);
      if (auto done = q->run(); !done) return done.error();
      return {};
    });
  }

  result<void> remove(std::string const& name) override {
    return db_->write("remove setting", [&](Connection& c) -> result<void> {
      auto q = c.query(sql::kDeleteSetting);
      if (!q) return q.error();
      q->bind_text(name);
      if (auto done = q->run(); !done) return done.error();
      if (q->changes() == 0) return not_found("no stored setting '" + name + "'");
      return {};
    });
  }

 private:
  std::shared_ptr<Database> db_;
};

// --- leases ---------------------------------------------------------------------------------------

class SqliteLeaseStore final : public LeaseStore {
 public:
  explicit SqliteLeaseStore(std::shared_ptr<Database> db) : db_(std::move(db)) {}

  result<bool> acquire(std::string const& name, std::string const& holder, TimePoint now,
                       std::chrono::seconds ttl) override {
    return db_->write("acquire lease", [&](Connection& c) -> result<bool> {
      auto q = c.query(sql::kAcquireLease);
      if (!q) return q.error();
      q->bind_text(name).bind_text(holder).bind_time(now + ttl).bind_time(now);
      if (auto done = q->run(); !done) return done.error();
      return q->changes() == 1;
    });
  }

  result<void> release(std::string const& name, std::string const& holder) override {
    return db_->write("release lease", [&](Connection& c) -> result<void> {
      auto q = c.query(sql::kReleaseLease);
      if (!q) return q.error();
      q->bind_text(name).bind_text(holder);
      return q->run();
    });
  }

 private:
  std::shared_ptr<Database> db_;
};

}  // namespace

result<Stores> open_sqlite_stores(std::filesystem::path const& path,
                                  SqliteOptions const& options) {
  auto db = Database::open(path, options);
  if (!db) return db.error();
  Stores stores;
  stores.agents = std::make_shared<SqliteAgentStore>(*db);
  stores.measurements = std::make_shared<SqliteMeasurementStore>(*db);
  stores.apps = std::make_shared<SqliteAppStore>(*db);
  stores.deployments = std::make_shared<SqliteDeploymentStore>(*db);
  stores.leases = std::make_shared<SqliteLeaseStore>(*db);
  stores.bootstrap_tokens = std::make_shared<SqliteBootstrapTokenStore>(*db);
  stores.settings = std::make_shared<SqliteSettingStore>(*db);
  stores.sessions = std::make_shared<SqliteLoginSessionStore>(*db);
  stores.accounts = std::make_shared<SqliteAccountStore>(*db);
  return stores;
}

}  // namespace ee::registry
