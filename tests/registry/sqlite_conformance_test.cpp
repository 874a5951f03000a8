// The SQLite stores: the conformance suite in memory, on disk with the read pool and on disk with
// one connection, plus what only SQLite has (files, migrations, WAL, durability, bad rows).
#include <easyenclave/registry/sqlite.hpp>

#include "registry/sqlite/migrations.hpp"
#include "registry/store_conformance.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace ee::registry::conformance {

struct SqliteInMemory {
  static constexpr char kName[] = "SqliteInMemory";
  result<Stores> open() { return open_sqlite_stores(":memory:"); }
};

struct SqliteFile {
  static constexpr char kName[] = "SqliteFile";
  test::TempDir dir;
  result<Stores> open() { return open_sqlite_stores(dir.path() / "registry.db"); }
};

struct SqliteFileOneConnection {
  static constexpr char kName[] = "SqliteFileOneConnection";
  test::TempDir dir;
  result<Stores> open() {
    return open_sqlite_stores(dir.path() / "registry.db", {.read_connections = 0});
  }
};

using SqliteImpls = ::testing::Types<SqliteInMemory, SqliteFile, SqliteFileOneConnection>;
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, AgentStoreConformance, SqliteImpls, FactoryName);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, MeasurementStoreConformance, SqliteImpls, FactoryName);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, AppStoreConformance, SqliteImpls, FactoryName);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, DeploymentStoreConformance, SqliteImpls, FactoryName);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, BootstrapTokenStoreConformance, SqliteImpls, FactoryName);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, SettingStoreConformance, SqliteImpls, FactoryName);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, LeaseStoreConformance, SqliteImpls, FactoryName);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, LoginSessionStoreConformance, SqliteImpls, FactoryName);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, AccountStoreConformance, SqliteImpls, FactoryName);

}  // namespace ee::registry::conformance

namespace {

using ee::registry::errc;
using ee::registry::open_sqlite_stores;
using ee::registry::conformance::base_time;
using ee::registry::conformance::expect_same;
using ee::registry::conformance::fails_with;
using ee::registry::conformance::make_agent;
using ee::registry::conformance::make_app;
using ee::registry::conformance::make_deployment;
using ee::registry::conformance::make_measurement;
using ee::registry::conformance::make_version;
using ee::registry::conformance::ok;
using ee::registry::sqlite::kSchemaVersion;

// A plain sqlite3 connection of the test's own, independent of the library's connections.
class RawDb {
 public:
  explicit RawDb(std::filesystem::path const& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK)
      ADD_FAILURE() << "cannot open " << path << ": " << sqlite3_errmsg(db_);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  RawDb(RawDb const&) = delete;
  RawDb& operator=(RawDb const&) = delete;

  void exec(std::string const& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK)
      ADD_FAILURE() << sql << ": " << (message != nullptr ? message : "?");
    sqlite3_free(message);
  }

  // The first column of the first row as text; nullopt when there is no row.
  std::optional<std::string> text(std::string const& sql, std::string const& param = {}) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return std::nullopt;
    }
    if (sqlite3_bind_parameter_count(stmt) > 0)
      sqlite3_bind_text(stmt, 1, param.c_str(), -1, nullptr);
    std::optional<std::string> out;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      auto const* value = sqlite3_column_text(stmt, 0);
      out = value != nullptr ? reinterpret_cast<char const*>(value) : "";
    }
    sqlite3_finalize(stmt);
    return out;
  }

  std::int64_t user_version() { return std::stoll(text("PRAGMA user_version").value_or("-1")); }

 private:
  sqlite3* db_ = nullptr;
};

TEST(SqliteStores, DataSurvivesCloseAndReopen) {
  ee::test::TempDir dir;
  auto const path = dir.path() / "registry.db";
  auto const agent = make_agent("a-1", "vm-1", base_time());
  auto const measurement = make_measurement('a', base_time());
  auto const app = make_app("hello", base_time());
  auto const version = make_version("hello", "1.0.0", base_time());
  auto const deployment = make_deployment("d-1", "a-1", "hello", base_time());
  {
    auto stores = open_sqlite_stores(path);
    ASSERT_TRUE(ok(stores));
    ASSERT_TRUE(ok(stores->agents->insert(agent)));
    ASSERT_TRUE(ok(stores->measurements->add(measurement)));
    ASSERT_TRUE(ok(stores->apps->create(app, version)));
    ASSERT_TRUE(ok(stores->deployments->insert(deployment)));
  }
  auto stores = open_sqlite_stores(path);
  ASSERT_TRUE(ok(stores));
  expect_same(stores->agents->get("a-1").value(), agent);
  expect_same(stores->measurements->get(measurement.mrtd).value(), measurement);
  expect_same(stores->apps->get("hello").value(), app);
  expect_same(stores->apps->get_version("hello", "1.0.0").value(), version);
  expect_same(stores->deployments->get("d-1").value(), deployment);
}

TEST(SqliteStores, AppliesMigrationsOnceAndRecordsTheSchemaVersion) {
  ee::test::TempDir dir;
  auto const path = dir.path() / "registry.db";
  ASSERT_TRUE(ok(open_sqlite_stores(path)));
  EXPECT_EQ(RawDb(path).user_version(), static_cast<std::int64_t>(kSchemaVersion));
  // A second open finds nothing to apply (re-running migration 1 would fail on CREATE TABLE)
  // and leaves the version alone.
  {
    auto stores = open_sqlite_stores(path);
    ASSERT_TRUE(ok(stores));
    ASSERT_TRUE(ok(stores->agents->insert(make_agent("a-1", "vm-1", base_time()))));
  }
  auto again = open_sqlite_stores(path);
  ASSERT_TRUE(ok(again));
  EXPECT_EQ(again->agents->count().value(), 1u);
  EXPECT_EQ(RawDb(path).user_version(), static_cast<std::int64_t>(kSchemaVersion));
}

TEST(SqliteStores, MigratesAnEmptyExistingDatabase) {
  ee::test::TempDir dir;
  auto const path = dir.path() / "registry.db";
  RawDb(path).exec("CREATE TABLE unrelated (x INTEGER)");  // user_version 0, not empty
  auto stores = open_sqlite_stores(path);
  ASSERT_TRUE(ok(stores));
  EXPECT_TRUE(ok(stores->agents->insert(make_agent("a-1", "vm-1", base_time()))));
  EXPECT_EQ(RawDb(path).user_version(), static_cast<std::int64_t>(kSchemaVersion));
}

TEST(SqliteStores, RefusesANewerSchemaWithStoreCorrupt) {
  ee::test::TempDir dir;
  auto const path = dir.path() / "registry.db";
  RawDb(path).exec("PRAGMA user_version = " + std::to_string(kSchemaVersion + 1));
  auto stores = open_sqlite_stores(path);
  EXPECT_TRUE(fails_with(stores, errc::store_corrupt));
  ASSERT_FALSE(stores);
  EXPECT_EQ(stores.error(), ee::condition::upstream_failure);
  EXPECT_EQ(stores.error().id(), "registry.store_corrupt");
  EXPECT_EQ(RawDb(path).user_version(), static_cast<std::int64_t>(kSchemaVersion + 1));
  EXPECT_FALSE(RawDb(path).text("SELECT name FROM sqlite_master WHERE name = 'agents'"));
}

TEST(SqliteStores, UnopenablePathIsStoreUnavailable) {
  ee::test::TempDir dir;
  auto missing_dir = open_sqlite_stores(dir.path() / "no-such-dir" / "registry.db");
  EXPECT_TRUE(fails_with(missing_dir, errc::store_unavailable));
  ASSERT_FALSE(missing_dir);
  EXPECT_NE(missing_dir.error().message().find("unable to open"), std::string::npos)
      << missing_dir.error().message();
  EXPECT_TRUE(fails_with(open_sqlite_stores(dir.path()), errc::store_unavailable));  // a directory
  EXPECT_TRUE(fails_with(open_sqlite_stores(""), errc::store_unavailable));
}

TEST(SqliteStores, FileThatIsNotADatabaseIsStoreCorrupt) {
  ee::test::TempDir dir;
  auto const path = dir.write("registry.db", std::string(8192, 'x'));
  auto stores = open_sqlite_stores(path);
  EXPECT_TRUE(fails_with(stores, errc::store_corrupt));
}

TEST(SqliteStores, UsesWalJournalMode) {
  ee::test::TempDir dir;
  auto const path = dir.path() / "registry.db";
  auto stores = open_sqlite_stores(path);
  ASSERT_TRUE(ok(stores));
  EXPECT_EQ(RawDb(path).text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(RawDb(path).text("PRAGMA journal_mode"), "wal");  // persistent in the file
}

TEST(SqliteStores, WriteIsVisibleToAnIndependentConnectionWhenTheCallReturns) {
  ee::test::TempDir dir;
  auto const path = dir.path() / "registry.db";
  auto stores = open_sqlite_stores(path);
  ASSERT_TRUE(ok(stores));
  RawDb raw(path);
  ASSERT_TRUE(ok(stores->agents->insert(make_agent("a-1", "vm-1", base_time()))));
  EXPECT_EQ(raw.text("SELECT vm_name FROM agents WHERE id = ?", "a-1"), "vm-1");
  ASSERT_TRUE(ok(stores->agents->record_heartbeat("a-1", base_time(), "running", "sha256:x")));
  EXPECT_EQ(raw.text("SELECT reported_status FROM agents WHERE id = ?", "a-1"), "running");
  ASSERT_TRUE(ok(stores->agents->claim_for_deployment("a-1", "d-1")));
  EXPECT_EQ(raw.text("SELECT deployment_id FROM agents WHERE id = ?", "a-1"), "d-1");
  ASSERT_TRUE(ok(stores->apps->create(make_app("hello", base_time()),
                                      make_version("hello", "1", base_time()))));
  EXPECT_EQ(raw.text("SELECT version FROM app_versions WHERE app_name = ?", "hello"), "1");
  ASSERT_TRUE(ok(stores->agents->remove("a-1")));
  EXPECT_FALSE(raw.text("SELECT vm_name FROM agents WHERE id = ?", "a-1"));
}

TEST(SqliteStores, ReadsSeeWritesOfAnotherConnection) {
  ee::test::TempDir dir;
  auto const path = dir.path() / "registry.db";
  auto stores = open_sqlite_stores(path);
  ASSERT_TRUE(ok(stores));
  ASSERT_TRUE(ok(stores->agents->insert(make_agent("a-1", "vm-1", base_time()))));
  EXPECT_EQ(stores->agents->get("a-1").value().health, ee::registry::Health::up);
  RawDb(path).exec("UPDATE agents SET health = 'down' WHERE id = 'a-1'");
  EXPECT_EQ(stores->agents->get("a-1").value().health, ee::registry::Health::down);
}

TEST(SqliteStores, LockedDatabaseIsStoreUnavailableForWritesButStillReadable) {
  ee::test::TempDir dir;
  auto const path = dir.path() / "registry.db";
  auto stores = open_sqlite_stores(path, {.busy_timeout = std::chrono::milliseconds(50)});
  ASSERT_TRUE(ok(stores));
  ASSERT_TRUE(ok(stores->agents->insert(make_agent("a-1", "vm-1", base_time()))));
  RawDb raw(path);
  raw.exec("BEGIN IMMEDIATE");  // another writer holds the write lock
  auto blocked = stores->agents->insert(make_agent("a-2", "vm-2", base_time()));
  EXPECT_TRUE(fails_with(blocked, errc::store_unavailable));
  EXPECT_TRUE(ok(stores->agents->get("a-1")));  // WAL readers are not blocked by a writer
  raw.exec("ROLLBACK");
  EXPECT_TRUE(ok(stores->agents->insert(make_agent("a-2", "vm-2", base_time()))));
}

TEST(SqliteStores, RowWithUnknownEnumValueIsStoreCorrupt) {
  ee::test::TempDir dir;
  auto const path = dir.path() / "registry.db";
  auto stores = open_sqlite_stores(path);
  ASSERT_TRUE(ok(stores));
  ASSERT_TRUE(ok(stores->agents->insert(make_agent("a-1", "vm-1", base_time()))));
  ASSERT_TRUE(ok(stores->deployments->insert(make_deployment("d-1", "a-1", "hello", base_time()))));
  RawDb raw(path);
  raw.exec("UPDATE agents SET health = 'sideways'");
  raw.exec("UPDATE deployments SET status = 'exploded'");
  EXPECT_TRUE(fails_with(stores->agents->get("a-1"), errc::store_corrupt));
  EXPECT_TRUE(fails_with(stores->agents->list(), errc::store_corrupt));
  EXPECT_TRUE(fails_with(stores->deployments->get("d-1"), errc::store_corrupt));
  EXPECT_TRUE(fails_with(stores->deployments->list(), errc::store_corrupt));
}

TEST(SqliteStores, RowWithMalformedAdvisoryIdsIsStoreCorrupt) {
  ee::test::TempDir dir;
  auto const path = dir.path() / "registry.db";
  auto stores = open_sqlite_stores(path);
  ASSERT_TRUE(ok(stores));
  ASSERT_TRUE(ok(stores->agents->insert(make_agent("a-1", "vm-1", base_time()))));
  RawDb raw(path);
  for (char const* bad : {"not json", "[\"INTEL-SA-1\", 2]", "{\"a\": 1}", "[", "\"x\"", ""}) {
    SCOPED_TRACE(bad);
    raw.exec(std::string("UPDATE agents SET advisory_ids = '") + bad + "'");
    auto got = stores->agents->get("a-1");
    EXPECT_TRUE(fails_with(got, errc::store_corrupt));
    if (!got) {
      EXPECT_NE(got.error().message().find("advisory_ids"), std::string::npos);
    }
  }
}

TEST(SqliteStores, ColumnOfTheWrongTypeIsStoreCorrupt) {
  ee::test::TempDir dir;
  auto const path = dir.path() / "registry.db";
  auto stores = open_sqlite_stores(path);
  ASSERT_TRUE(ok(stores));
  ASSERT_TRUE(ok(stores->agents->insert(make_agent("a-1", "vm-1", base_time()))));
  ASSERT_TRUE(ok(stores->measurements->add(make_measurement('a', base_time()))));
  RawDb raw(path);
  raw.exec("UPDATE agents SET registered_at = 'yesterday'");
  auto got = stores->agents->get("a-1");
  EXPECT_TRUE(fails_with(got, errc::store_corrupt));
  if (!got) {
    EXPECT_NE(got.error().message().find("registered_at"), std::string::npos);
  }
  raw.exec("UPDATE agents SET registered_at = 1, tcb_date = 'soon'");
  EXPECT_TRUE(fails_with(stores->agents->get("a-1"), errc::store_corrupt));
  // A TEXT column turns an integer into text ('42'); a BLOB keeps its type.
  raw.exec("UPDATE agents SET tcb_date = NULL, mrtd = x'42'");
  EXPECT_TRUE(fails_with(stores->agents->get("a-1"), errc::store_corrupt));
  raw.exec("UPDATE agents SET mrtd = 'ab'");
  EXPECT_TRUE(ok(stores->agents->get("a-1")));
  raw.exec("UPDATE trusted_measurements SET added_at = 1.5");
  EXPECT_TRUE(fails_with(stores->measurements->list(), errc::store_corrupt));
}

TEST(SqliteStores, InMemoryDatabasesArePrivate) {
  auto a = open_sqlite_stores(":memory:");
  auto b = open_sqlite_stores(":memory:");
  ASSERT_TRUE(ok(a));
  ASSERT_TRUE(ok(b));
  ASSERT_TRUE(ok(a->agents->insert(make_agent("a-1", "vm-1", base_time()))));
  EXPECT_EQ(a->agents->count().value(), 1u);
  EXPECT_EQ(b->agents->count().value(), 0u);
}

TEST(SqliteStores, StoresKeepTheDatabaseOpenAfterOthersAreReleased) {
  auto stores = open_sqlite_stores(":memory:");
  ASSERT_TRUE(ok(stores));
  auto agents = stores->agents;
  *stores = {};
  EXPECT_TRUE(ok(agents->insert(make_agent("a-1", "vm-1", base_time()))));
  EXPECT_EQ(agents->count().value(), 1u);
}

TEST(SqliteStores, ConflictNamesTheColumnButNotTheValue) {
  auto stores = open_sqlite_stores(":memory:");
  ASSERT_TRUE(ok(stores));
  ASSERT_TRUE(ok(stores->agents->insert(make_agent("a-1", "vm-secretish", base_time()))));
  auto dup = stores->agents->insert(make_agent("a-2", "vm-secretish", base_time()));
  ASSERT_TRUE(fails_with(dup, errc::conflict));
  EXPECT_NE(dup.error().message().find("agents.vm_name"), std::string::npos) << dup.error().message();
  EXPECT_EQ(dup.error().message().find("vm-secretish"), std::string::npos) << dup.error().message();
  EXPECT_EQ(dup.error().id(), "registry.conflict");
}

TEST(RegistryTypes, HealthAndDeploymentStatusRoundTripThroughText) {
  using ee::registry::DeploymentStatus;
  using ee::registry::Health;
  for (auto h : {Health::unknown, Health::up, Health::down})
    EXPECT_EQ(ee::registry::parse_health(ee::registry::to_string(h)), h);
  EXPECT_EQ(ee::registry::to_string(Health::down), "down");
  for (auto s : {DeploymentStatus::pending, DeploymentStatus::deploying, DeploymentStatus::running,
                 DeploymentStatus::failed, DeploymentStatus::stopped})
    EXPECT_EQ(ee::registry::parse_deployment_status(ee::registry::to_string(s)), s);
  EXPECT_EQ(ee::registry::to_string(DeploymentStatus::deploying), "deploying");
  for (char const* bad : {"", "Up", "DOWN", "up ", "healthy"})
    EXPECT_FALSE(ee::registry::parse_health(bad)) << bad;
  for (char const* bad : {"", "Running", "done", "pending\n"})
    EXPECT_FALSE(ee::registry::parse_deployment_status(bad)) << bad;
}

TEST(RegistryTypes, AgentStatusFollowsItsPrecedence) {
  using ee::registry::Health;
  ee::registry::AgentRecord a;
  EXPECT_EQ(ee::registry::agent_status(a), "idle");
  a.deployment_id = "d-1";
  EXPECT_EQ(ee::registry::agent_status(a), "deployed");
  a.health = Health::down;
  EXPECT_EQ(ee::registry::agent_status(a), "down");
  a.verified = false;
  EXPECT_EQ(ee::registry::agent_status(a), "unverified");
  a.health = Health::up;
  a.deployment_id.clear();
  EXPECT_EQ(ee::registry::agent_status(a), "unverified");
}

TEST(RegistryErrors, CodesHaveStableIdsAndConditions) {
  ee::Error const not_found = errc::not_found;
  ee::Error const conflict = errc::conflict;
  ee::Error const unavailable = errc::store_unavailable;
  ee::Error const corrupt = errc::store_corrupt;
  EXPECT_EQ(not_found.id(), "registry.not_found");
  EXPECT_EQ(conflict.id(), "registry.conflict");
  EXPECT_EQ(unavailable.id(), "registry.store_unavailable");
  EXPECT_EQ(corrupt.id(), "registry.store_corrupt");
  EXPECT_EQ(not_found.cond(), ee::condition::not_found);
  EXPECT_EQ(conflict.cond(), ee::condition::conflict);
  EXPECT_EQ(unavailable.cond(), ee::condition::upstream_failure);
  EXPECT_EQ(corrupt.cond(), ee::condition::upstream_failure);
  EXPECT_EQ(std::string(not_found.code().category().name()), "ee.registry");
  EXPECT_FALSE(not_found.message().empty());
  EXPECT_EQ(static_cast<int>(errc::store_corrupt), 4);
}

// Two processes on one database file (two store instances): each pass is leased to one, and a
// deployment's claim of an agent is won by exactly one.
TEST(SqliteTwoInstances, ALeaseAndAnAgentClaimHaveExactlyOneWinnerAcrossInstances) {
  ee::test::TempDir dir;
  auto a = open_sqlite_stores(dir.path() / "registry.db").value();
  auto b = open_sqlite_stores(dir.path() / "registry.db").value();
  EXPECT_TRUE(a.leases->acquire("maintenance", "cp-a", base_time(), std::chrono::seconds(60)).value());
  EXPECT_FALSE(b.leases->acquire("maintenance", "cp-b", base_time(), std::chrono::seconds(60)).value());
  ASSERT_TRUE(ok(a.agents->insert(make_agent("a-1", "vm-1", base_time()))));
  std::atomic<int> wins{0};
  ee::registry::conformance::run_threads(8, [&](int t) {
    auto& stores = t % 2 == 0 ? a : b;
    auto d = make_deployment("d-" + std::to_string(t), "a-1", "hello", base_time());
    if (stores.deployments->insert_holding(d, "")) ++wins;
  });
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(b.deployments->list().value().size(), 1u);
}

}  // namespace
