// The PostgreSQL stores against a real server (tests/support/postgres_server.hpp: one server for
// this binary, a fresh database per test): the conformance suite unchanged, the single-use keys,
// two store instances on one database racing (one nonce consumed twice, one vm_name registered
// twice, one agent claimed by two deploys: exactly one wins each round; health outcomes counted
// from both without a lost update), migrations under the
// advisory lock, reconnection after the server dropped the connections, and what messages and
// logs may show of the URL.
#include <easyenclave/cp/control_plane.hpp>
#include <easyenclave/cp/settings.hpp>
#include <easyenclave/log.hpp>
#include <easyenclave/registry/postgres.hpp>
#include <easyenclave/settings.hpp>

#include "registry/postgres/migrations.hpp"
#include "registry/store_conformance.hpp"
#include "support/postgres_server.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ee::registry::conformance {

struct Postgres {
  static constexpr char kName[] = "Postgres";
  static std::string unavailable() { return test::postgres_unavailable(); }
  static bool required() { return test::postgres_required(); }
  result<Stores> open() {
    auto const url = test::fresh_schema_url();
    if (url.empty()) return Error(errc::store_unavailable, "cannot create a test schema");
    return open_postgres_stores(url, {.pool_size = 4});
  }
};

using PostgresImpls = ::testing::Types<Postgres>;
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, AgentStoreConformance, PostgresImpls, FactoryName);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, MeasurementStoreConformance, PostgresImpls, FactoryName);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, AppStoreConformance, PostgresImpls, FactoryName);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, DeploymentStoreConformance, PostgresImpls, FactoryName);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, BootstrapTokenStoreConformance, PostgresImpls, FactoryName);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, SettingStoreConformance, PostgresImpls, FactoryName);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, LeaseStoreConformance, PostgresImpls, FactoryName);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, LoginSessionStoreConformance, PostgresImpls, FactoryName);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, AccountStoreConformance, PostgresImpls, FactoryName);

}  // namespace ee::registry::conformance

namespace {

using ee::registry::errc;
using ee::registry::open_postgres_stores;
using ee::registry::Stores;
using ee::registry::conformance::base_time;
using ee::registry::conformance::fails_with;
using ee::registry::conformance::make_agent;
using ee::registry::conformance::make_deployment;
using ee::registry::conformance::ok;
using ee::registry::conformance::run_threads;
using ee::registry::conformance::seconds_after;
using namespace std::chrono_literals;

// Stops the shared server once every test has run.
class PostgresEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { ee::test::stop_shared_postgres(); }
};
[[maybe_unused]] auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new PostgresEnvironment);

// Fails (CI=true) or skips the test when there is no server.
#define REQUIRE_POSTGRES()                                                        \
  do {                                                                            \
    if (auto why = ee::test::postgres_unavailable(); !why.empty()) {              \
      if (ee::test::postgres_required()) FAIL() << why;                           \
      GTEST_SKIP() << why;                                                        \
    }                                                                             \
  } while (false)

// A fresh database opened twice: two control-plane processes on one database.
struct TwoInstances {
  std::string url = ee::test::fresh_schema_url();
  Stores a = open_postgres_stores(url, {.pool_size = 4}).value();
  Stores b = open_postgres_stores(url, {.pool_size = 4}).value();
};

// --- single-use keys ---------------------------------------------------------------------------

TEST(PostgresOnceStore, AKeyIsUsedOnceUntilItExpiresOrIsForgotten) {
  REQUIRE_POSTGRES();
  auto stores = open_postgres_stores(ee::test::fresh_schema_url()).value();
  ASSERT_NE(stores.nonces, nullptr);
  ASSERT_NE(stores.replays, nullptr);
  auto& store = *stores.nonces;
  auto const t0 = base_time();
  EXPECT_TRUE(store.first_use("k", t0 + 60s, t0).value());
  EXPECT_FALSE(store.first_use("k", t0 + 60s, t0 + 1s).value());
  ASSERT_TRUE(store.forget("k"));
  EXPECT_TRUE(store.first_use("k", t0 + 60s, t0 + 2s).value());
  EXPECT_TRUE(store.forget("absent"));
  EXPECT_FALSE(store.first_use("late", t0, t0).value()) << "already expired: never a first use";
  EXPECT_EQ(store.count().value(), 1u);
  // The two stores are separate scopes of one table.
  EXPECT_TRUE(stores.replays->first_use("k", t0 + 60s, t0).value());
  EXPECT_EQ(stores.replays->count().value(), 1u);
  EXPECT_EQ(store.purge(t0 + 59s).value(), 0u);
  EXPECT_EQ(store.purge(t0 + 60s).value(), 1u);
  EXPECT_EQ(store.count().value(), 0u);
  EXPECT_EQ(stores.replays->count().value(), 1u);
  // An expired key not yet purged is usable again, as in memory.
  EXPECT_TRUE(stores.replays->first_use("k", t0 + 120s, t0 + 60s).value());
}

TEST(PostgresOnceStore, ExpiredKeysArePurgedEvery256FirstUsesWithoutAPurgeCall) {
  REQUIRE_POSTGRES();
  auto stores = open_postgres_stores(ee::test::fresh_schema_url()).value();
  auto& replays = *stores.replays;
  auto const t0 = base_time();
  for (int i = 0; i < 255; ++i) ASSERT_TRUE(replays.first_use("sig-" + std::to_string(i), t0 + 1s, t0).value());
  EXPECT_EQ(replays.count().value(), 255u);
  // The 256th first use, once the others have expired, takes them away.
  EXPECT_TRUE(replays.first_use("sig-last", t0 + 60s, t0 + 2s).value());
  EXPECT_EQ(replays.count().value(), 1u);
}

TEST(PostgresTwoInstances, ANonceIssuedOnOneIsConsumedExactlyOnceAcrossBoth) {
  REQUIRE_POSTGRES();
  TwoInstances two;
  auto const t0 = base_time();
  for (int round = 0; round < 40; ++round) {
    auto const key = "nonce-" + std::to_string(round);
    std::atomic<int> wins{0};
    std::atomic<int> errors{0};
    run_threads(6, [&](int t) {
      auto& stores = t % 2 == 0 ? two.a : two.b;
      auto used = stores.nonces->first_use(key, t0 + 300s, t0);
      if (!used) ++errors;
      else if (*used) ++wins;
    });
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(wins.load(), 1) << "round " << round;
  }
  EXPECT_EQ(two.b.nonces->count().value(), 40u);
}

TEST(PostgresTwoInstances, TwoRegistrationsOfOneVmNameHaveExactlyOneWinner) {
  REQUIRE_POSTGRES();
  TwoInstances two;
  for (int round = 0; round < 40; ++round) {
    auto const vm_name = "vm-" + std::to_string(round);
    std::atomic<int> wins{0};
    std::atomic<int> conflicts{0};
    run_threads(4, [&](int t) {
      auto& stores = t % 2 == 0 ? two.a : two.b;
      auto agent = make_agent("agent-" + std::to_string(round) + "-" + std::to_string(t), vm_name, base_time());
      auto inserted = stores.agents->insert(agent);
      if (inserted) ++wins;
      else if (inserted.error() == errc::conflict) ++conflicts;
    });
    EXPECT_EQ(wins.load(), 1) << "round " << round;
    EXPECT_EQ(conflicts.load(), 3) << "round " << round;
  }
  EXPECT_EQ(two.a.agents->count().value(), 40u);
}

TEST(PostgresTwoInstances, TwoDeploysClaimingOneAgentHaveExactlyOneWinner) {
  REQUIRE_POSTGRES();
  TwoInstances two;
  for (int round = 0; round < 30; ++round) {
    auto const agent_id = "agent-" + std::to_string(round);
    ASSERT_TRUE(ok(two.a.agents->insert(make_agent(agent_id, "vm-" + std::to_string(round), base_time()))));
    std::atomic<int> wins{0};
    std::atomic<int> conflicts{0};
    run_threads(4, [&](int t) {
      auto& stores = t % 2 == 0 ? two.a : two.b;
      auto d = make_deployment("d-" + std::to_string(round) + "-" + std::to_string(t), agent_id, "hello", base_time());
      auto claimed = stores.deployments->insert_holding(d, "");
      if (claimed) ++wins;
      else if (claimed.error() == errc::conflict) ++conflicts;
    });
    EXPECT_EQ(wins.load(), 1) << "round " << round;
    EXPECT_EQ(conflicts.load(), 3) << "round " << round;
    // The loser's deployment rows were rolled back with its claim.
    auto listed = two.b.deployments->list({.agent_id = agent_id}).value();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(two.b.agents->get(agent_id).value().deployment_id, listed[0].id);
  }
}

TEST(PostgresTwoInstances, HealthOutcomesFromBothAreCountedWithoutALostUpdate) {
  REQUIRE_POSTGRES();
  TwoInstances two;
  // 4 threads over the two instances report 100 failures of one up agent. With the threshold at
  // exactly 100 the agent goes down only if every outcome was counted, and not before the last.
  constexpr int kOutcomes = 100;
  constexpr ee::registry::HealthHysteresis rule{.up_after = 2, .down_after = kOutcomes};
  auto agent = make_agent("agent-health", "vm-health", base_time());
  agent.health = ee::registry::Health::up;
  ASSERT_TRUE(two.a.agents->insert(agent));
  std::atomic<int> downs{0};
  std::atomic<int> errors{0};
  run_threads(4, [&](int t) {
    auto& stores = t % 2 == 0 ? two.a : two.b;
    for (int i = 0; i < kOutcomes / 4; ++i) {
      auto health = stores.agents->observe_health(agent.id, false, rule);
      if (!health) ++errors;
      else if (*health == ee::registry::Health::down) ++downs;
    }
  });
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(downs.load(), 1);  // only the 100th outcome saw the threshold reached
  EXPECT_EQ(two.b.agents->get(agent.id).value().health, ee::registry::Health::down);
}

TEST(PostgresTwoInstances, ALeaseAndABootstrapTokenUseHaveExactlyOneWinner) {
  REQUIRE_POSTGRES();
  TwoInstances two;
  auto const t0 = base_time();
  for (int round = 0; round < 20; ++round) {
    auto const name = "pass-" + std::to_string(round);
    std::atomic<int> wins{0};
    run_threads(4, [&](int t) {
      auto& stores = t % 2 == 0 ? two.a : two.b;
      if (stores.leases->acquire(name, "cp-" + std::to_string(t), t0, 60s).value()) ++wins;
    });
    EXPECT_EQ(wins.load(), 1) << "round " << round;
  }
  auto token = ee::registry::conformance::make_bootstrap_token("tok-1", 'a', t0);
  token.uses = token.uses_left = 1;
  token.expires_at = t0 + 3600s;
  ASSERT_TRUE(ok(two.a.bootstrap_tokens->insert(token)));
  std::atomic<int> uses{0};
  run_threads(6, [&](int t) {
    auto& stores = t % 2 == 0 ? two.a : two.b;
    if (stores.bootstrap_tokens->use("tok-1", t0 + 1s)) ++uses;
  });
  EXPECT_EQ(uses.load(), 1);
}

// A deadlock between a store transaction and another session: the server aborts the store's
// (SQLSTATE 40P01, found by the session that waited first) and the store runs it again.
TEST(PostgresTransactions, ADeadlockedCallIsRunAgainAndSucceeds) {
  REQUIRE_POSTGRES();
  auto const url = ee::test::fresh_database_url();
  auto stores = open_postgres_stores(url, {.pool_size = 1}).value();
  ASSERT_TRUE(ok(stores.agents->insert(make_agent("a-1", "vm-1", base_time()))));
  auto d = make_deployment("d-1", "a-1", "hello", base_time());
  ASSERT_TRUE(ok(stores.deployments->insert_holding(d, "")));

  PGconn* other = PQconnectdb(url.c_str());
  ASSERT_EQ(PQstatus(other), CONNECTION_OK) << PQerrorMessage(other);
  auto run = [&](char const* sql) {
    PGresult* r = PQexec(other, sql);
    auto const status = PQresultStatus(r);
    std::string error = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ? "" : PQresultErrorMessage(r);
    PQclear(r);
    return error;
  };
  // This session never reports the deadlock itself: the store's, waiting first, does.
  ASSERT_EQ(run("SET deadlock_timeout = '10s'"), "");
  ASSERT_EQ(run("BEGIN"), "");
  ASSERT_EQ(run("UPDATE agents SET reported_status = 'locked' WHERE id = 'a-1'"), "");
  // The store locks the deployment, then waits for the agent's row.
  std::optional<ee::result<ee::registry::Deployment>> failed;
  std::thread store_call([&] {
    failed = stores.deployments->set_status_if("d-1", ee::registry::DeploymentStatus::pending,
                                               ee::registry::DeploymentStatus::failed, "start failed",
                                               seconds_after(base_time(), 1), ee::registry::AgentHold::release);
  });
  auto const database = ee::test::PostgresServer::database_of(url);
  bool waiting = false;
  for (int i = 0; i < 500 && !waiting; ++i) {
    waiting = ee::test::shared_postgres()->admin(
                  "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE NOT l.granted AND "
                  "a.datname = '" + database + "'") != "0";
    if (!waiting) std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(waiting) << "the store call never waited for the agent's row";
  // Now this session wants the deployment the store holds: a cycle. The store's transaction is
  // aborted; this one gets the row, commits, and the store's second attempt goes through.
  EXPECT_EQ(run("UPDATE deployments SET detail = 'touched' WHERE id = 'd-1'"), "");
  EXPECT_EQ(run("COMMIT"), "");
  store_call.join();
  PQfinish(other);
  ASSERT_TRUE(failed.has_value());
  ASSERT_TRUE(ok(*failed));
  EXPECT_EQ((*failed)->status, ee::registry::DeploymentStatus::failed);
  EXPECT_EQ(stores.agents->get("a-1").value().deployment_id, "") << "released in the same transaction";
  EXPECT_EQ(stores.agents->get("a-1").value().reported_status, "locked");
  // The server did see a deadlock: its statistics are flushed when the store's backend exits.
  stores = {};
  std::string deadlocks;
  for (int i = 0; i < 300 && (deadlocks.empty() || deadlocks == "0"); ++i) {
    deadlocks = ee::test::shared_postgres()->admin("SELECT deadlocks FROM pg_stat_database WHERE datname = '" +
                                                   database + "'");
    if (deadlocks.empty() || deadlocks == "0") std::this_thread::sleep_for(10ms);
  }
  EXPECT_NE(deadlocks, "0");
}

// --- migrations --------------------------------------------------------------------------------

TEST(PostgresMigrations, ProcessesStartingTogetherMigrateOnce) {
  REQUIRE_POSTGRES();
  auto const url = ee::test::fresh_database_url();
  std::atomic<int> opened{0};
  std::mutex mutex;
  std::vector<std::string> failures;
  // Without the advisory lock the losers' CREATE TABLE statements would fail.
  run_threads(4, [&](int) {
    auto stores = open_postgres_stores(url, {.pool_size = 1});
    if (stores) {
      ++opened;
    } else {
      std::lock_guard lock(mutex);
      failures.push_back(stores.error().message());
    }
  });
  EXPECT_EQ(opened.load(), 4) << (failures.empty() ? "" : failures.front());
  auto* server = ee::test::shared_postgres();
  auto const database = ee::test::PostgresServer::database_of(url);
  EXPECT_EQ(server->admin("SELECT count(*) FROM ee_schema_migrations", database),
            std::to_string(ee::registry::postgres::kSchemaVersion));
  EXPECT_EQ(server->admin("SELECT max(version) FROM ee_schema_migrations", database),
            std::to_string(ee::registry::postgres::kSchemaVersion));
  // Opening again applies nothing and keeps the data.
  auto stores = open_postgres_stores(url).value();
  ASSERT_TRUE(ok(stores.agents->insert(make_agent("a-1", "vm-1", base_time()))));
  auto again = open_postgres_stores(url).value();
  EXPECT_EQ(again.agents->count().value(), 1u);
}

TEST(PostgresMigrations, ADatabaseWithANewerSchemaIsRefusedAsCorrupt) {
  REQUIRE_POSTGRES();
  auto const url = ee::test::fresh_database_url();
  ASSERT_TRUE(ok(open_postgres_stores(url)));
  // A later build recorded a migration this one does not know.
  auto const newer = std::to_string(ee::registry::postgres::kSchemaVersion + 1);
  ASSERT_EQ(ee::test::shared_postgres()->admin(
                "INSERT INTO ee_schema_migrations (version, applied_at) VALUES (" + newer + ", 0)",
                ee::test::PostgresServer::database_of(url)),
            "");
  EXPECT_TRUE(fails_with(open_postgres_stores(url), errc::store_corrupt));
}

TEST(PostgresMigrations, ARowOfTheWrongFormIsStoreCorrupt) {
  REQUIRE_POSTGRES();
  auto const url = ee::test::fresh_database_url();
  auto stores = open_postgres_stores(url).value();
  ASSERT_TRUE(ok(stores.agents->insert(make_agent("a-1", "vm-1", base_time()))));
  ASSERT_EQ(ee::test::shared_postgres()->admin("UPDATE agents SET health = 'sideways'",
                                               ee::test::PostgresServer::database_of(url)),
            "");
  EXPECT_TRUE(fails_with(stores.agents->get("a-1"), errc::store_corrupt));
  ASSERT_EQ(ee::test::shared_postgres()->admin("UPDATE agents SET health = 'up', advisory_ids = '{'",
                                               ee::test::PostgresServer::database_of(url)),
            "");
  EXPECT_TRUE(fails_with(stores.agents->get("a-1"), errc::store_corrupt));
}

// --- connections -------------------------------------------------------------------------------

TEST(PostgresConnections, ALostConnectionIsReplacedOnTheNextCall) {
  REQUIRE_POSTGRES();
  auto const url = ee::test::fresh_database_url();
  auto stores = open_postgres_stores(url, {.pool_size = 3}).value();
  ASSERT_TRUE(ok(stores.agents->insert(make_agent("a-1", "vm-1", base_time()))));
  auto const database = ee::test::PostgresServer::database_of(url);
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    // Several pooled connections in use, then the server ends every one of them.
    run_threads(3, [&](int) { (void)stores.agents->list(); });
    auto const terminated = ee::test::shared_postgres()->admin(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '" + database + "'");
    ASSERT_NE(terminated, "0") << "no backend was terminated";
    ASSERT_EQ(terminated.rfind("error", 0), std::string::npos) << terminated;
    // pg_terminate_backend only signals: wait until the backends are gone, as they are when a
    // server restarts or fails over before the next call. (A connection that drops while a write
    // is on its way is store_unavailable: it may have committed.)
    for (int i = 0; i < 500; ++i) {
      if (ee::test::shared_postgres()->admin("SELECT count(*) FROM pg_stat_activity WHERE datname = '" + database + "'") == "0") break;
      std::this_thread::sleep_for(10ms);
    }
    // Writes and reads succeed at once, on new connections.
    EXPECT_TRUE(ok(stores.agents->record_heartbeat("a-1", seconds_after(base_time(), round), "running", "sha256:x")));
    EXPECT_TRUE(ok(stores.agents->get("a-1")));
    EXPECT_TRUE(ok(stores.deployments->insert_holding(
        make_deployment("d-" + std::to_string(round), "a-1", "hello", base_time()),
        round == 0 ? "" : "d-" + std::to_string(round - 1))));
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(ok(stores.agents->count()));
  }
}

TEST(PostgresConnections, TlsIsUsedAndTheServerVerifiedWhenTheUrlAsksForIt) {
  REQUIRE_POSTGRES();
  auto* server = ee::test::shared_postgres();
  auto const database = ee::test::PostgresServer::database_of(ee::test::fresh_database_url());
  auto const url = server->url(database);  // without the harness's sslmode=disable
  auto const tls_count = [&] {
    return server->admin("SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE ssl AND datname = '" +
                         database + "'");
  };
  {
    // verify-full: encrypted, the chain checked against sslrootcert and the name against the host.
    auto stores = open_postgres_stores(url + "?sslmode=verify-full&sslrootcert=" + server->ca_file().string(),
                                       {.pool_size = 1});
    ASSERT_TRUE(ok(stores));
    ASSERT_TRUE(ok(stores->agents->insert(make_agent("a-1", "vm-1", base_time()))));
    EXPECT_EQ(tls_count(), "1") << "the pooled connection runs over TLS";
  }
  // A server whose certificate the given root did not issue is refused.
  auto refused = open_postgres_stores(url + "?sslmode=verify-full&sslrootcert=" + server->other_ca_file().string());
  EXPECT_TRUE(fails_with(refused, errc::store_unavailable));
  // Without sslmode, libpq's default (prefer) may or may not encrypt; disable does not.
  auto plain = open_postgres_stores(url + "?sslmode=disable", {.pool_size = 1}).value();
  EXPECT_EQ(plain.agents->count().value(), 1u);
  EXPECT_EQ(tls_count(), "0");
}

TEST(PostgresConnections, AnUnreachableServerIsStoreUnavailable) {
  // Needs no server: a port nothing listens on (the discard port on loopback).
  auto opened = open_postgres_stores("postgresql://ee@127.0.0.1:9/x?connect_timeout=2");
  EXPECT_TRUE(fails_with(opened, errc::store_unavailable));
  auto not_url = open_postgres_stores("/var/lib/ee/cp.db");
  EXPECT_TRUE(fails_with(not_url, errc::store_unavailable));
}

TEST(PostgresConnections, ThePasswordOfTheUrlNeverReachesAMessageOrALogLine) {
  std::mutex mutex;
  std::vector<std::string> lines;
  ee::log::set_level(ee::log::Level::trace);
  ee::log::set_sink([&](ee::log::Level, std::string_view component, std::string_view message) {
    std::lock_guard lock(mutex);
    lines.emplace_back(std::string(component) + " " + std::string(message));
  });
  std::vector<std::string> urls = {
      "postgresql://ee:s3cr%45t-pw@127.0.0.1:9/x?connect_timeout=2",
      "postgres://ee:s3crEt-pw@127.0.0.1:9/x?connect_timeout=2&sslmode=disable",
      "postgresql://ee@127.0.0.1:9/x?password=s3crEt-pw&connect_timeout=2",
      // Malformed: libpq quotes the offending parameter value in its message.
      "postgresql://ee:s3crEt-pw@127.0.0.1:9/x?password=s3crEt-pw%zz",
      "postgresql://ee:s3crEt-pw@[::1/x",
  };
  if (ee::test::postgres_unavailable().empty()) {
    // A database that does not exist, on a live server.
    urls.push_back("postgresql://ee:s3crEt-pw@127.0.0.1:" + std::to_string(ee::test::shared_postgres()->port()) +
                   "/no_such_database");
  }
  for (auto const& url : urls) {
    SCOPED_TRACE(ee::registry::redact_postgres_url(url));
    auto opened = open_postgres_stores(url);
    ASSERT_FALSE(opened);
    auto const message = opened.error().message();
    EXPECT_EQ(message.find("s3crEt-pw"), std::string::npos) << message;
    EXPECT_EQ(message.find("s3cr%45t-pw"), std::string::npos) << message;
  }
  ee::log::set_sink({});
  ee::log::set_level(ee::log::Level::info);
  for (auto const& line : lines) {
    EXPECT_EQ(line.find("s3crEt-pw"), std::string::npos) << line;
    EXPECT_EQ(line.find("s3cr%45t-pw"), std::string::npos) << line;
  }
}

TEST(PostgresUrls, RecognisesBothSchemesAndRedactsPasswords) {
  using ee::registry::is_postgres_url;
  using ee::registry::redact_postgres_url;
  EXPECT_TRUE(is_postgres_url("postgres://h/db"));
  EXPECT_TRUE(is_postgres_url("postgresql://u@h:5432/db?sslmode=require"));
  EXPECT_FALSE(is_postgres_url("/data/cp.db"));
  EXPECT_FALSE(is_postgres_url("postgres.db"));
  EXPECT_FALSE(is_postgres_url("file:postgres://x"));
  EXPECT_FALSE(is_postgres_url(""));
  EXPECT_EQ(redact_postgres_url("postgresql://u:pw@h:5432/db"), "postgresql://u:***@h:5432/db");
  EXPECT_EQ(redact_postgres_url("postgres://u:p@ss@h/db"), "postgres://u:***@h/db");
  EXPECT_EQ(redact_postgres_url("postgresql://u@h/db?sslmode=verify-full&password=pw"),
            "postgresql://u@h/db?sslmode=verify-full&password=***");
  EXPECT_EQ(redact_postgres_url("postgresql://u:a@h/db?password=b"), "postgresql://u:***@h/db?password=***");
  EXPECT_EQ(redact_postgres_url("postgresql://h/db"), "postgresql://h/db");
  EXPECT_EQ(redact_postgres_url("postgresql://u@h/db"), "postgresql://u@h/db");
  EXPECT_EQ(redact_postgres_url("postgresql://h:5432"), "postgresql://h:5432");
}

// --- ee-cp's engine selection ----------------------------------------------------------------------

ee::settings::Settings cp_settings(ee::settings::FlagValues flags) {
  return ee::settings::Settings::resolve(ee::cp::setting_registry(), flags, ee::settings::fixed_environment({}))
      .value();
}

TEST(PostgresEngineSelection, APostgresUrlSelectsSharedStoresAndAPathSqlite) {
  REQUIRE_POSTGRES();
  auto const url = ee::test::fresh_database_url();
  {
    auto stores = open_postgres_stores(url).value();
    ASSERT_TRUE(ok(stores.settings->put({.name = "threads", .value = "5", .updated_by = "admin",
                                         .updated_at = base_time()})));
  }
  auto options = ee::cp::make_options(cp_settings({{"db", url}, {"dev", "true"}, {"db_pool_size", "2"}}));
  ASSERT_TRUE(options) << options.error().message();
  // The settings stored in PostgreSQL apply; nonces, the replay guard and leases are the database's.
  EXPECT_EQ(options->server.threads, 5u);
  ASSERT_NE(options->stores.nonces, nullptr);
  ASSERT_NE(options->stores.replays, nullptr);
  ASSERT_NE(options->stores.leases, nullptr);
  auto other = open_postgres_stores(url).value();
  auto const t0 = base_time();
  EXPECT_TRUE(options->stores.nonces->first_use("n-1", t0 + 60s, t0).value());
  EXPECT_FALSE(other.nonces->first_use("n-1", t0 + 60s, t0).value()) << "spent on the other process";

  // A path is SQLite, as before: nonces and the replay guard stay in the process.
  ee::test::TempDir dir;
  auto sqlite = ee::cp::make_options(cp_settings({{"db", (dir.path() / "cp.db").string()}, {"dev", "true"}}));
  ASSERT_TRUE(sqlite) << sqlite.error().message();
  EXPECT_EQ(sqlite->stores.nonces, nullptr);
  EXPECT_EQ(sqlite->stores.replays, nullptr);
  EXPECT_NE(sqlite->stores.leases, nullptr);

  // A URL that cannot be reached fails the start with the setting named, without the password.
  auto down = ee::cp::make_options(
      cp_settings({{"db", "postgresql://ee:pw-s3cr3t@127.0.0.1:9/x?connect_timeout=2"}, {"dev", "true"}}));
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().message().rfind("db: ", 0), 0u) << down.error().message();
  EXPECT_EQ(down.error().message().find("pw-s3cr3t"), std::string::npos) << down.error().message();
}

}  // namespace
