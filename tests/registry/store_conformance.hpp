#pragma once
// The conformance suite of the registry store ports (easyenclave/registry/store.hpp). Every
// implementation must pass it: it checks every method, every documented error, the exact round
// trip of every field, list order and filters, the compare-and-sets (claim_for_deployment,
// release_deployment, set_status_if), the atomicity of AppStore::create, and concurrent use from
// several threads.
//
// An implementation is plugged in through a factory type: default-constructible, owning whatever
// the database needs for the lifetime of one test (a temporary directory, a server), with
//
//   ee::result<ee::registry::Stores> open();   // a fresh, empty set of stores
//   static constexpr char kName[] = "...";     // the test-name part
//   (optional) static std::string unavailable(); static bool required();  // see StoreTest
//
// and instantiated once per suite, inside namespace ee::registry::conformance:
//
//   using Impls = ::testing::Types<MyFactory>;
//   INSTANTIATE_TYPED_TEST_SUITE_P(My, AgentStoreConformance, Impls, FactoryName);
//   INSTANTIATE_TYPED_TEST_SUITE_P(My, MeasurementStoreConformance, Impls, FactoryName);
//   INSTANTIATE_TYPED_TEST_SUITE_P(My, AppStoreConformance, Impls, FactoryName);
//   INSTANTIATE_TYPED_TEST_SUITE_P(My, DeploymentStoreConformance, Impls, FactoryName);
//   (and BootstrapTokenStore, SettingStore, LeaseStore, AccountStore likewise)
#include <easyenclave/error.hpp>
#include <easyenclave/registry/error.hpp>
#include <easyenclave/registry/store.hpp>
#include <easyenclave/registry/types.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace ee::registry::conformance {

// --- helpers ---------------------------------------------------------------------------------

/// The test-name generator for INSTANTIATE_TYPED_TEST_SUITE_P: the factory's kName.
struct FactoryName {
  template <class Factory>
  static std::string GetName(int) {
    return Factory::kName;
  }
};

/// A time point `nanos` nanoseconds after the epoch (exact on Linux, where system_clock ticks in
/// nanoseconds).
inline TimePoint at_nanos(std::int64_t nanos) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(nanos)));
}

/// 2023-11-14T22:13:20.123456789Z: sub-microsecond digits catch a store that rounds.
inline TimePoint base_time() { return at_nanos(1'700'000'000'123'456'789); }

inline TimePoint seconds_after(TimePoint t, int seconds) {
  return t + std::chrono::duration_cast<TimePoint::duration>(std::chrono::seconds(seconds));
}

template <class T>
::testing::AssertionResult ok(result<T> const& r) {
  if (r) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << r.error().id() << ": " << r.error().message();
}

/// The result failed with `code`, and that code maps onto the documented portable condition.
template <class T>
::testing::AssertionResult fails_with(result<T> const& r, errc code) {
  if (r) return ::testing::AssertionFailure() << "succeeded, expected " << make_error_code(code).message();
  if (r.error() != code)
    return ::testing::AssertionFailure() << "failed with " << r.error().id() << " ("
                                         << r.error().message() << "), expected registry code "
                                         << static_cast<int>(code);
  condition const expected = code == errc::not_found  ? condition::not_found
                             : code == errc::conflict ? condition::conflict
                                                      : condition::upstream_failure;
  if (r.error() != expected)
    return ::testing::AssertionFailure() << r.error().id() << " maps onto condition "
                                         << to_string(r.error().cond());
  return ::testing::AssertionSuccess();
}

inline std::int64_t nanos(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

inline std::int64_t nanos(std::optional<TimePoint> const& t) {
  return t ? nanos(*t) : -1;  // -1 never occurs in the fixtures' set dates
}

/// Every field, fully populated and distinct, with characters that need escaping in JSON and SQL.
inline AttestationRecord make_attestation(char seed, TimePoint at) {
  AttestationRecord a;
  a.mrtd = std::string(96, seed);
  a.rtmrs = {std::string(96, '0'), std::string(96, '1'), std::string(96, '2'), std::string(96, '3')};
  a.tcb_status = "OutOfDate";
  a.tcb_date = seconds_after(at, -86'400);
  a.advisory_ids = {"INTEL-SA-00837", "INTEL-SA-00960", "quote\"back\\slash'apostrophe"};
  a.appraised_by = "intel_trust_authority";
  a.appraised_at = at;
  a.report_data = std::string(128, seed);
  return a;
}

/// A verified, healthy, idle agent with every field set.
inline AgentRecord make_agent(std::string const& id, std::string const& vm_name, TimePoint registered) {
  AgentRecord a;
  a.id = id;
  a.vm_name = vm_name;
  a.owner = "github:org/Acme";
  a.owner_id = "1234567";
  a.node_size = "tiny";
  a.datacenter = "gcp:us-central1-a";
  a.public_key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE" + id;
  a.agent_url = "http://10.0.0.5:8081";
  a.hostname = vm_name + ".agents.example.com";
  a.tunnel_id = "tunnel-" + id;
  a.dns_record_id = "dns-" + id;
  a.attestation = make_attestation('a', registered);
  a.verified = true;
  a.unverified_reason = "";
  a.health = Health::up;
  a.deployment_id = "";
  a.reported_status = "idle";
  a.reported_digest = "sha256:" + std::string(64, 'e');
  a.registered_at = registered;
  a.last_registered_at = seconds_after(registered, 1);
  a.last_heartbeat_at = seconds_after(registered, 2);
  return a;
}

inline void expect_same(AttestationRecord const& got, AttestationRecord const& want) {
  EXPECT_EQ(got.mrtd, want.mrtd);
  EXPECT_EQ(got.rtmrs, want.rtmrs);
  EXPECT_EQ(got.tcb_status, want.tcb_status);
  EXPECT_EQ(got.tcb_date.has_value(), want.tcb_date.has_value());
  EXPECT_EQ(nanos(got.tcb_date), nanos(want.tcb_date));
  EXPECT_EQ(got.advisory_ids, want.advisory_ids);
  EXPECT_EQ(got.appraised_by, want.appraised_by);
  EXPECT_EQ(nanos(got.appraised_at), nanos(want.appraised_at));
  EXPECT_EQ(got.report_data, want.report_data);
}

inline void expect_same(AgentRecord const& got, AgentRecord const& want) {
  SCOPED_TRACE("agent " + want.id);
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.vm_name, want.vm_name);
  EXPECT_EQ(got.owner, want.owner);
  EXPECT_EQ(got.owner_id, want.owner_id);
  EXPECT_EQ(got.node_size, want.node_size);
  EXPECT_EQ(got.datacenter, want.datacenter);
  EXPECT_EQ(got.public_key, want.public_key);
  EXPECT_EQ(got.agent_url, want.agent_url);
  EXPECT_EQ(got.hostname, want.hostname);
  EXPECT_EQ(got.tunnel_id, want.tunnel_id);
  EXPECT_EQ(got.dns_record_id, want.dns_record_id);
  expect_same(got.attestation, want.attestation);
  EXPECT_EQ(got.verified, want.verified);
  EXPECT_EQ(got.unverified_reason, want.unverified_reason);
  EXPECT_EQ(to_string(got.health), to_string(want.health));
  EXPECT_EQ(got.deployment_id, want.deployment_id);
  EXPECT_EQ(got.reported_status, want.reported_status);
  EXPECT_EQ(got.reported_digest, want.reported_digest);
  EXPECT_EQ(nanos(got.registered_at), nanos(want.registered_at));
  EXPECT_EQ(nanos(got.last_registered_at), nanos(want.last_registered_at));
  EXPECT_EQ(nanos(got.last_heartbeat_at), nanos(want.last_heartbeat_at));
}

inline TrustedMeasurement make_measurement(char seed, TimePoint added) {
  return {.mrtd = std::string(96, seed), .kind = "agent", .node_size = "tiny",
          .note = "image v1.2 — built by CI", .added_at = added};
}

inline void expect_same(TrustedMeasurement const& got, TrustedMeasurement const& want) {
  SCOPED_TRACE("measurement " + want.mrtd.substr(0, 8));
  EXPECT_EQ(got.mrtd, want.mrtd);
  EXPECT_EQ(got.kind, want.kind);
  EXPECT_EQ(got.node_size, want.node_size);
  EXPECT_EQ(got.note, want.note);
  EXPECT_EQ(nanos(got.added_at), nanos(want.added_at));
}

inline App make_app(std::string const& name, TimePoint created) {
  return {.name = name, .description = "an app called " + name, .source_repo = "acme/" + name,
          .owner = "acme", .owner_id = "7654321", .created_at = created};
}

inline AppVersion make_version(std::string const& app, std::string const& version, TimePoint at) {
  AppVersion v;
  v.app_name = app;
  v.version = version;
  v.image = "ghcr.io/acme/" + app + "@sha256:" + std::string(64, 'c');
  v.mrtd = std::string(96, 'd');
  v.rtmrs = {std::string(96, '4'), "", std::string(96, '6'), ""};  // two pinned, two not
  v.node_size = "llm";
  v.published_by = "acme/" + app;
  v.published_at = at;
  return v;
}

inline void expect_same(App const& got, App const& want) {
  SCOPED_TRACE("app " + want.name);
  EXPECT_EQ(got.name, want.name);
  EXPECT_EQ(got.description, want.description);
  EXPECT_EQ(got.source_repo, want.source_repo);
  EXPECT_EQ(got.owner, want.owner);
  EXPECT_EQ(got.owner_id, want.owner_id);
  EXPECT_EQ(nanos(got.created_at), nanos(want.created_at));
}

inline BootstrapToken make_bootstrap_token(std::string const& id, char seed, TimePoint created) {
  BootstrapToken t;
  t.id = id;
  t.token_hash = std::string(64, seed);
  t.owner = "acme";
  t.owner_id = "7654321";
  t.created_by = "acme/infra";
  t.vm_name = "vm-" + id;
  t.datacenter = "gcp:us-central1-a";
  t.node_size = "tiny";
  t.uses = 3;
  t.uses_left = 3;
  t.created_at = created;
  t.expires_at = seconds_after(created, 3600);
  return t;
}

inline void expect_same(BootstrapToken const& got, BootstrapToken const& want) {
  SCOPED_TRACE("bootstrap token " + want.id);
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.token_hash, want.token_hash);
  EXPECT_EQ(got.owner, want.owner);
  EXPECT_EQ(got.owner_id, want.owner_id);
  EXPECT_EQ(got.created_by, want.created_by);
  EXPECT_EQ(got.vm_name, want.vm_name);
  EXPECT_EQ(got.datacenter, want.datacenter);
  EXPECT_EQ(got.node_size, want.node_size);
  EXPECT_EQ(got.uses, want.uses);
  EXPECT_EQ(got.uses_left, want.uses_left);
  EXPECT_EQ(nanos(got.created_at), nanos(want.created_at));
  EXPECT_EQ(nanos(got.expires_at), nanos(want.expires_at));
}

inline Account make_account(std::string const& id, std::string const& name, TimePoint created) {
  Account a;
  a.id = id;
  a.name = name;
  a.type = AccountType::deployer;
  a.api_key_prefix = "ee_live_" + id.substr(0, 4);
  a.api_key_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$" + id;
  a.created_at = created;
  return a;
}

inline void expect_same(Account const& got, Account const& want) {
  SCOPED_TRACE("account " + want.id);
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.name, want.name);
  EXPECT_EQ(got.type, want.type);
  EXPECT_EQ(got.github_id, want.github_id);
  EXPECT_EQ(got.github_login, want.github_login);
  EXPECT_EQ(got.github_org, want.github_org);
  EXPECT_EQ(got.api_key_prefix, want.api_key_prefix);
  EXPECT_EQ(got.api_key_hash, want.api_key_hash);
  EXPECT_EQ(nanos(got.created_at), nanos(want.created_at));
}

inline void expect_same(AppVersion const& got, AppVersion const& want) {
  SCOPED_TRACE("version " + want.app_name + "@" + want.version);
  EXPECT_EQ(got.app_name, want.app_name);
  EXPECT_EQ(got.version, want.version);
  EXPECT_EQ(got.image, want.image);
  EXPECT_EQ(got.mrtd, want.mrtd);
  EXPECT_EQ(got.rtmrs, want.rtmrs);
  EXPECT_EQ(got.node_size, want.node_size);
  EXPECT_EQ(got.published_by, want.published_by);
  EXPECT_EQ(nanos(got.published_at), nanos(want.published_at));
}

inline Deployment make_deployment(std::string const& id, std::string const& agent_id,
                                  std::string const& app, TimePoint created) {
  Deployment d;
  d.id = id;
  d.app_name = app;
  d.version = "1.0.0";
  d.agent_id = agent_id;
  d.image = "ghcr.io/acme/" + app + "@sha256:" + std::string(64, 'f');
  d.status = DeploymentStatus::pending;
  d.detail = "";
  d.requested_by = "acme/" + app;
  d.created_at = created;
  d.updated_at = created;
  return d;
}

inline void expect_same(Deployment const& got, Deployment const& want) {
  SCOPED_TRACE("deployment " + want.id);
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.app_name, want.app_name);
  EXPECT_EQ(got.version, want.version);
  EXPECT_EQ(got.agent_id, want.agent_id);
  EXPECT_EQ(got.image, want.image);
  EXPECT_EQ(to_string(got.status), to_string(want.status));
  EXPECT_EQ(got.detail, want.detail);
  EXPECT_EQ(got.requested_by, want.requested_by);
  EXPECT_EQ(nanos(got.created_at), nanos(want.created_at));
  EXPECT_EQ(nanos(got.updated_at), nanos(want.updated_at));
  EXPECT_EQ(got.replaces, want.replaces);
  EXPECT_EQ(got.rollout_id, want.rollout_id);
  EXPECT_EQ(got.rollout_step, want.rollout_step);
}

template <class Record>
std::vector<std::string> ids_of(std::vector<Record> const& records) {
  std::vector<std::string> out;
  for (auto const& r : records) out.push_back(r.id);
  return out;
}

// Runs `body(thread_index)` on `threads` threads at once and joins them.
template <class Body>
void run_threads(int threads, Body body) {
  std::vector<std::thread> pool;
  std::atomic<bool> go{false};
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      body(t);
    });
  go = true;
  for (auto& th : pool) th.join();
}

// --- fixtures ----------------------------------------------------------------------------------

template <class Factory>
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A factory whose engine needs a server may say it has none here (static std::string
    // unavailable(), "" when it has one, and static bool required()): the tests then fail when it
    // is required, else skip.
    if constexpr (requires { Factory::unavailable(); }) {
      if (auto why = Factory::unavailable(); !why.empty()) {
        if (Factory::required()) FAIL() << why;
        GTEST_SKIP() << why;
      }
    }
    auto opened = factory_.open();
    ASSERT_TRUE(ok(opened));
    stores_ = std::move(*opened);
    ASSERT_NE(stores_.agents, nullptr);
    ASSERT_NE(stores_.measurements, nullptr);
    ASSERT_NE(stores_.apps, nullptr);
    ASSERT_NE(stores_.deployments, nullptr);
    ASSERT_NE(stores_.bootstrap_tokens, nullptr);
    ASSERT_NE(stores_.settings, nullptr);
    ASSERT_NE(stores_.leases, nullptr);
    ASSERT_NE(stores_.sessions, nullptr);
    ASSERT_NE(stores_.accounts, nullptr);
  }

  AgentStore& agents() { return *stores_.agents; }
  TrustedMeasurementStore& measurements() { return *stores_.measurements; }
  AppStore& apps() { return *stores_.apps; }
  DeploymentStore& deployments() { return *stores_.deployments; }
  BootstrapTokenStore& bootstrap_tokens() { return *stores_.bootstrap_tokens; }
  SettingStore& settings() { return *stores_.settings; }
  LeaseStore& leases() { return *stores_.leases; }
  LoginSessionStore& sessions() { return *stores_.sessions; }
  AccountStore& accounts() { return *stores_.accounts; }

  // Declared before the stores so it outlives them (a temporary directory, a server).
  Factory factory_{};
  Stores stores_{};
};

template <class Factory>
class AgentStoreConformance : public StoreTest<Factory> {};
template <class Factory>
class MeasurementStoreConformance : public StoreTest<Factory> {};
template <class Factory>
class AppStoreConformance : public StoreTest<Factory> {};
template <class Factory>
class DeploymentStoreConformance : public StoreTest<Factory> {};
template <class Factory>
class BootstrapTokenStoreConformance : public StoreTest<Factory> {};
template <class Factory>
class SettingStoreConformance : public StoreTest<Factory> {};
template <class Factory>
class LeaseStoreConformance : public StoreTest<Factory> {};
template <class Factory>
class LoginSessionStoreConformance : public StoreTest<Factory> {};
template <class Factory>
class AccountStoreConformance : public StoreTest<Factory> {};

// --- AgentStore --------------------------------------------------------------------------------

TYPED_TEST_SUITE_P(AgentStoreConformance);

TYPED_TEST_P(AgentStoreConformance, InsertThenGetRoundTripsEveryField) {
  auto agent = make_agent("0b6e4c1e-6a43-4d4e-9b0e-5d1f7f3f2a11", "vm-round-trip", base_time());
  agent.verified = false;
  agent.unverified_reason = "MRTD changed: expected aaaa…, got bbbb…";
  agent.health = Health::down;
  agent.deployment_id = "dep-1";
  agent.reported_status = "running";
  agent.owner = "github:user/Zoë";
  auto inserted = this->agents().insert(agent);
  ASSERT_TRUE(ok(inserted));
  expect_same(*inserted, agent);
  auto got = this->agents().get(agent.id);
  ASSERT_TRUE(ok(got));
  expect_same(*got, agent);
}

TYPED_TEST_P(AgentStoreConformance, RoundTripsDefaultsEmptyOptionalsAndArrays) {
  AgentRecord agent;  // every field at its default: epoch times, no tcb_date, no advisories
  agent.id = "a-defaults";
  agent.vm_name = "vm-defaults";
  ASSERT_TRUE(ok(this->agents().insert(agent)));
  auto got = this->agents().get(agent.id);
  ASSERT_TRUE(ok(got));
  expect_same(*got, agent);
  EXPECT_FALSE(got->attestation.tcb_date.has_value());
  EXPECT_TRUE(got->attestation.advisory_ids.empty());
  EXPECT_TRUE(got->verified);
  EXPECT_EQ(got->health, Health::unknown);
}

TYPED_TEST_P(AgentStoreConformance, RoundTripsEveryHealthValueAndTimeFromTheClock) {
  auto const now = std::chrono::system_clock::now();
  Health const values[] = {Health::unknown, Health::up, Health::down};
  int i = 0;
  for (auto health : values) {
    auto agent = make_agent("a-health-" + std::to_string(i), "vm-health-" + std::to_string(i), now);
    agent.health = health;
    agent.attestation.tcb_date = now;
    ++i;
    ASSERT_TRUE(ok(this->agents().insert(agent)));
    auto got = this->agents().get(agent.id);
    ASSERT_TRUE(ok(got));
    expect_same(*got, agent);
  }
}

TYPED_TEST_P(AgentStoreConformance, InsertRejectsDuplicateIdWithConflict) {
  auto first = make_agent("a-1", "vm-1", base_time());
  ASSERT_TRUE(ok(this->agents().insert(first)));
  auto second = make_agent("a-1", "vm-2", seconds_after(base_time(), 5));
  EXPECT_TRUE(fails_with(this->agents().insert(second), errc::conflict));
  auto got = this->agents().get("a-1");
  ASSERT_TRUE(ok(got));
  expect_same(*got, first);
  EXPECT_TRUE(fails_with(this->agents().find_by_vm_name("vm-2"), errc::not_found));
  EXPECT_EQ(this->agents().count().value(), 1u);
}

TYPED_TEST_P(AgentStoreConformance, InsertRejectsDuplicateVmNameWithConflict) {
  auto first = make_agent("a-1", "vm-1", base_time());
  ASSERT_TRUE(ok(this->agents().insert(first)));
  EXPECT_TRUE(fails_with(this->agents().insert(make_agent("a-2", "vm-1", base_time())),
                         errc::conflict));
  EXPECT_TRUE(fails_with(this->agents().get("a-2"), errc::not_found));
  EXPECT_EQ(this->agents().count().value(), 1u);
}

TYPED_TEST_P(AgentStoreConformance, GetAndFindOfUnknownAgentAreNotFound) {
  EXPECT_TRUE(fails_with(this->agents().get("missing"), errc::not_found));
  EXPECT_TRUE(fails_with(this->agents().find_by_vm_name("missing"), errc::not_found));
  ASSERT_TRUE(ok(this->agents().insert(make_agent("a-1", "vm-1", base_time()))));
  EXPECT_TRUE(fails_with(this->agents().get("vm-1"), errc::not_found));  // not by the other key
  EXPECT_TRUE(fails_with(this->agents().find_by_vm_name("a-1"), errc::not_found));
}

TYPED_TEST_P(AgentStoreConformance, FindByVmNameReturnsTheAgent) {
  auto a = make_agent("a-1", "vm-1", base_time());
  auto b = make_agent("a-2", "vm-2", base_time());
  ASSERT_TRUE(ok(this->agents().insert(a)));
  ASSERT_TRUE(ok(this->agents().insert(b)));
  auto got = this->agents().find_by_vm_name("vm-2");
  ASSERT_TRUE(ok(got));
  expect_same(*got, b);
}

TYPED_TEST_P(AgentStoreConformance, UpdateReplacesEveryField) {
  auto const t = base_time();
  ASSERT_TRUE(ok(this->agents().insert(make_agent("a-1", "vm-1", t))));
  AgentRecord changed;
  changed.id = "a-1";
  changed.vm_name = "vm-1-renamed";
  changed.owner = "github:org/Other";
  changed.node_size = "llm";
  changed.datacenter = "azure:eastus";
  changed.public_key = "other-key";
  changed.agent_url = "http://10.0.0.9:8081";
  changed.hostname = "renamed.agents.example.com";
  changed.tunnel_id = "tunnel-2";
  changed.dns_record_id = "dns-2";
  changed.attestation = make_attestation('b', seconds_after(t, 60));
  changed.attestation.tcb_date.reset();
  changed.attestation.advisory_ids = {"INTEL-SA-01010"};
  changed.verified = false;
  changed.unverified_reason = "digest disagrees with the catalog";
  changed.health = Health::down;
  changed.deployment_id = "dep-9";
  changed.reported_status = "failed";
  changed.reported_digest = "sha256:" + std::string(64, '9');
  changed.registered_at = seconds_after(t, -10);
  changed.last_registered_at = seconds_after(t, 100);
  changed.last_heartbeat_at = seconds_after(t, 200);
  auto updated = this->agents().update(changed);
  ASSERT_TRUE(ok(updated));
  expect_same(*updated, changed);
  auto got = this->agents().get("a-1");
  ASSERT_TRUE(ok(got));
  expect_same(*got, changed);
  EXPECT_TRUE(fails_with(this->agents().find_by_vm_name("vm-1"), errc::not_found));
  EXPECT_TRUE(ok(this->agents().find_by_vm_name("vm-1-renamed")));
}

TYPED_TEST_P(AgentStoreConformance, UpdateOfUnknownAgentIsNotFound) {
  EXPECT_TRUE(fails_with(this->agents().update(make_agent("missing", "vm-x", base_time())),
                         errc::not_found));
  EXPECT_EQ(this->agents().count().value(), 0u);
}

TYPED_TEST_P(AgentStoreConformance, UpdateToAnotherAgentsVmNameConflictsAndChangesNothing) {
  auto a = make_agent("a-1", "vm-1", base_time());
  auto b = make_agent("a-2", "vm-2", base_time());
  ASSERT_TRUE(ok(this->agents().insert(a)));
  ASSERT_TRUE(ok(this->agents().insert(b)));
  auto stolen = b;
  stolen.vm_name = "vm-1";
  stolen.hostname = "changed";
  EXPECT_TRUE(fails_with(this->agents().update(stolen), errc::conflict));
  expect_same(this->agents().get("a-1").value(), a);
  expect_same(this->agents().get("a-2").value(), b);
  // Keeping its own vm_name is not a conflict.
  auto same_name = b;
  same_name.hostname = "changed";
  EXPECT_TRUE(ok(this->agents().update(same_name)));
  expect_same(this->agents().get("a-2").value(), same_name);
}

TYPED_TEST_P(AgentStoreConformance, ListOrdersByRegisteredAtThenId) {
  auto const t = base_time();
  // Inserted out of order; "a-b" and "a-a" tie on registered_at.
  ASSERT_TRUE(ok(this->agents().insert(make_agent("a-c", "vm-c", seconds_after(t, 30)))));
  ASSERT_TRUE(ok(this->agents().insert(make_agent("a-b", "vm-b", seconds_after(t, 10)))));
  ASSERT_TRUE(ok(this->agents().insert(make_agent("a-a", "vm-a", seconds_after(t, 10)))));
  ASSERT_TRUE(ok(this->agents().insert(make_agent("a-z", "vm-z", t))));
  auto all = this->agents().list();
  ASSERT_TRUE(ok(all));
  EXPECT_EQ(ids_of(*all), (std::vector<std::string>{"a-z", "a-a", "a-b", "a-c"}));
  expect_same(all->front(), make_agent("a-z", "vm-z", t));  // lists carry whole records
}

TYPED_TEST_P(AgentStoreConformance, ListOfEmptyStoreIsEmpty) {
  auto all = this->agents().list();
  ASSERT_TRUE(ok(all));
  EXPECT_TRUE(all->empty());
  EXPECT_EQ(this->agents().count().value(), 0u);
}

TYPED_TEST_P(AgentStoreConformance, ListFiltersByVmName) {
  ASSERT_TRUE(ok(this->agents().insert(make_agent("a-1", "vm-1", base_time()))));
  ASSERT_TRUE(ok(this->agents().insert(make_agent("a-2", "vm-2", base_time()))));
  auto got = this->agents().list({.vm_name = "vm-2"});
  ASSERT_TRUE(ok(got));
  EXPECT_EQ(ids_of(*got), (std::vector<std::string>{"a-2"}));
  auto none = this->agents().list({.vm_name = "VM-2"});  // vm_name is exact
  ASSERT_TRUE(ok(none));
  EXPECT_TRUE(none->empty());
}

TYPED_TEST_P(AgentStoreConformance, ListFiltersByOwnerCaseInsensitively) {
  auto const t = base_time();
  auto a = make_agent("a-1", "vm-1", t);
  a.owner = "github:org/Acme";
  auto b = make_agent("a-2", "vm-2", seconds_after(t, 1));
  b.owner = "github:org/ACME";
  auto c = make_agent("a-3", "vm-3", seconds_after(t, 2));
  c.owner = "github:org/acme-labs";
  auto d = make_agent("a-4", "vm-4", seconds_after(t, 3));
  d.owner = "";
  for (auto const& agent : {a, b, c, d}) ASSERT_TRUE(ok(this->agents().insert(agent)));
  auto got = this->agents().list({.owner = "GitHub:Org/acme"});
  ASSERT_TRUE(ok(got));
  EXPECT_EQ(ids_of(*got), (std::vector<std::string>{"a-1", "a-2"}));
  auto legacy = this->agents().list({.owner = ""});
  ASSERT_TRUE(ok(legacy));
  EXPECT_EQ(ids_of(*legacy), (std::vector<std::string>{"a-4"}));
}

TYPED_TEST_P(AgentStoreConformance, ListFiltersByEachDerivedStatus) {
  auto const t = base_time();
  struct Case {
    std::string id;
    bool verified;
    Health health;
    std::string deployment;
  };
  // Every combination of the three inputs of agent_status(), so the filter must agree with it
  // on precedence too (unverified beats down beats deployed).
  std::vector<Case> cases;
  int n = 0;
  for (bool verified : {true, false})
    for (Health health : {Health::unknown, Health::up, Health::down})
      for (std::string deployment : {"", "dep"})
        cases.push_back({"a-" + std::to_string(n++), verified, health, deployment});
  n = 0;
  for (auto const& c : cases) {
    auto agent = make_agent(c.id, "vm-" + c.id, seconds_after(t, n++));
    agent.verified = c.verified;
    agent.health = c.health;
    agent.deployment_id = c.deployment.empty() ? "" : c.deployment + "-" + c.id;
    ASSERT_TRUE(ok(this->agents().insert(agent)));
  }
  auto all = this->agents().list().value();
  std::size_t total = 0;
  for (std::string status : {"unverified", "down", "deployed", "idle"}) {
    SCOPED_TRACE(status);
    std::vector<std::string> expected;
    for (auto const& agent : all)
      if (agent_status(agent) == status) expected.push_back(agent.id);
    auto got = this->agents().list({.status = status});
    ASSERT_TRUE(ok(got));
    EXPECT_EQ(ids_of(*got), expected);
    EXPECT_FALSE(expected.empty());
    total += got->size();
  }
  EXPECT_EQ(total, cases.size());
  EXPECT_EQ(ids_of(this->agents().list({.status = "unverified"}).value()),
            (std::vector<std::string>{"a-6", "a-7", "a-8", "a-9", "a-10", "a-11"}));
  EXPECT_EQ(ids_of(this->agents().list({.status = "down"}).value()),
            (std::vector<std::string>{"a-4", "a-5"}));
  EXPECT_EQ(ids_of(this->agents().list({.status = "deployed"}).value()),
            (std::vector<std::string>{"a-1", "a-3"}));
  EXPECT_EQ(ids_of(this->agents().list({.status = "idle"}).value()),
            (std::vector<std::string>{"a-0", "a-2"}));
  auto unknown = this->agents().list({.status = "sleeping"});
  ASSERT_TRUE(ok(unknown));
  EXPECT_TRUE(unknown->empty());
}

TYPED_TEST_P(AgentStoreConformance, ListFiltersByHeartbeatBeforeStrictly) {
  auto const t = base_time();
  for (int i = 0; i < 4; ++i) {
    auto agent = make_agent("a-" + std::to_string(i), "vm-" + std::to_string(i), t);
    agent.last_heartbeat_at = seconds_after(t, 10 * i);
    ASSERT_TRUE(ok(this->agents().insert(agent)));
  }
  auto got = this->agents().list({.heartbeat_before = seconds_after(t, 20)});
  ASSERT_TRUE(ok(got));
  EXPECT_EQ(ids_of(*got), (std::vector<std::string>{"a-0", "a-1"}));
  // One nanosecond later includes the agent at exactly +20 s.
  auto later = this->agents().list({.heartbeat_before = at_nanos(nanos(seconds_after(t, 20)) + 1)});
  ASSERT_TRUE(ok(later));
  EXPECT_EQ(ids_of(*later), (std::vector<std::string>{"a-0", "a-1", "a-2"}));
}

TYPED_TEST_P(AgentStoreConformance, ListAppliesLimitAfterFiltering) {
  auto const t = base_time();
  for (int i = 0; i < 6; ++i) {
    auto agent = make_agent("a-" + std::to_string(i), "vm-" + std::to_string(i), seconds_after(t, i));
    agent.health = i % 2 == 0 ? Health::down : Health::up;
    ASSERT_TRUE(ok(this->agents().insert(agent)));
  }
  auto got = this->agents().list({.status = "idle", .limit = 2});
  ASSERT_TRUE(ok(got));
  EXPECT_EQ(ids_of(*got), (std::vector<std::string>{"a-1", "a-3"}));
  EXPECT_EQ(this->agents().list({.limit = 0}).value().size(), 0u);
  EXPECT_EQ(this->agents().list({.limit = 100}).value().size(), 6u);
  EXPECT_EQ(ids_of(this->agents().list({.limit = 1}).value()), (std::vector<std::string>{"a-0"}));
}

TYPED_TEST_P(AgentStoreConformance, ListPagesWithOffsetInRegistrationOrder) {
  auto const t = base_time();
  for (int i = 0; i < 6; ++i) {
    auto agent = make_agent("a-" + std::to_string(i), "vm-" + std::to_string(i), seconds_after(t, i));
    agent.health = i % 2 == 0 ? Health::down : Health::up;
    ASSERT_TRUE(ok(this->agents().insert(agent)));
  }
  using Ids = std::vector<std::string>;
  EXPECT_EQ(ids_of(this->agents().list({.limit = 2, .offset = 2}).value()), (Ids{"a-2", "a-3"}));
  EXPECT_EQ(ids_of(this->agents().list({.offset = 4}).value()), (Ids{"a-4", "a-5"}));  // no limit
  EXPECT_EQ(ids_of(this->agents().list({.status = "idle", .limit = 5, .offset = 1}).value()),
            (Ids{"a-3", "a-5"}));  // the offset counts filtered rows
  EXPECT_TRUE(this->agents().list({.offset = 6}).value().empty());
  EXPECT_TRUE(this->agents().list({.offset = std::numeric_limits<std::size_t>::max()}).value().empty());
}

TYPED_TEST_P(AgentStoreConformance, ListCombinesFilters) {
  auto const t = base_time();
  for (int i = 0; i < 8; ++i) {
    auto agent = make_agent("a-" + std::to_string(i), "vm-" + std::to_string(i), seconds_after(t, i));
    agent.owner = i < 4 ? "github:org/acme" : "github:org/other";
    agent.deployment_id = i % 2 == 0 ? "" : "dep-" + std::to_string(i);
    agent.last_heartbeat_at = seconds_after(t, 100 * i);
    ASSERT_TRUE(ok(this->agents().insert(agent)));
  }
  auto got = this->agents().list({.owner = "GITHUB:ORG/ACME",
                                  .status = "deployed",
                                  .heartbeat_before = seconds_after(t, 300)});
  ASSERT_TRUE(ok(got));
  EXPECT_EQ(ids_of(*got), (std::vector<std::string>{"a-1"}));
  auto by_name = this->agents().list({.vm_name = "vm-5", .owner = "github:org/acme"});
  ASSERT_TRUE(ok(by_name));
  EXPECT_TRUE(by_name->empty());
}

TYPED_TEST_P(AgentStoreConformance, ForEachVisitsWhatListReturnsInItsOrder) {
  auto const t = base_time();
  // Records that differ in every field a reused record could carry over from the one before:
  // set fields followed by empty ones, advisories then none, a tcb_date then none.
  for (int i = 0; i < 12; ++i) {
    auto agent = make_agent("a-" + std::to_string(i), "vm-" + std::to_string(i), seconds_after(t, 12 - i));
    if (i % 2 == 0) {
      agent.owner = "github:org/Acme";
      agent.attestation.advisory_ids = {"INTEL-SA-00001", "INTEL-SA-00002"};
      agent.attestation.tcb_date = t;
      agent.deployment_id = "dep-" + std::to_string(i);
      agent.unverified_reason = "a reason";
      agent.verified = i % 4 != 0;
    } else {
      agent.owner = "";
      agent.hostname = "";
      agent.public_key = "";
      agent.attestation.advisory_ids.clear();
      agent.attestation.tcb_date.reset();
      agent.health = Health::down;
    }
    ASSERT_TRUE(ok(this->agents().insert(agent)));
  }
  for (AgentFilter const& filter : {AgentFilter{}, AgentFilter{.owner = "GITHUB:org/acme"},
                                    AgentFilter{.status = "down", .limit = 3, .offset = 1},
                                    AgentFilter{.vm_name = "vm-3"}, AgentFilter{.limit = 0}}) {
    auto listed = this->agents().list(filter);
    ASSERT_TRUE(ok(listed));
    std::vector<AgentRecord> visited;
    auto done = this->agents().for_each(filter, [&visited](AgentRecord const& a) { visited.push_back(a); });
    ASSERT_TRUE(ok(done));
    ASSERT_EQ(visited.size(), listed->size());
    for (std::size_t i = 0; i < visited.size(); ++i) expect_same(visited[i], (*listed)[i]);
  }
}

TYPED_TEST_P(AgentStoreConformance, CountCountsAgents) {
  EXPECT_EQ(this->agents().count().value(), 0u);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(ok(this->agents().insert(
        make_agent("a-" + std::to_string(i), "vm-" + std::to_string(i), base_time()))));
  EXPECT_EQ(this->agents().count().value(), 5u);
  ASSERT_TRUE(ok(this->agents().remove("a-3")));
  EXPECT_EQ(this->agents().count().value(), 4u);
}

TYPED_TEST_P(AgentStoreConformance, RecordHeartbeatSetsOnlyItsThreeFields) {
  auto agent = make_agent("a-1", "vm-1", base_time());
  ASSERT_TRUE(ok(this->agents().insert(agent)));
  auto const when = at_nanos(nanos(base_time()) + 987'654'321);
  ASSERT_TRUE(ok(this->agents().record_heartbeat("a-1", when, "running", "sha256:" + std::string(64, '1'))));
  agent.last_heartbeat_at = when;
  agent.reported_status = "running";
  agent.reported_digest = "sha256:" + std::string(64, '1');
  expect_same(this->agents().get("a-1").value(), agent);
  EXPECT_TRUE(fails_with(this->agents().record_heartbeat("missing", when, "running", ""),
                         errc::not_found));
}

TYPED_TEST_P(AgentStoreConformance, SetVerificationWithAttestationReplacesIt) {
  auto agent = make_agent("a-1", "vm-1", base_time());
  agent.verified = false;
  agent.unverified_reason = "re-attestation failed";
  ASSERT_TRUE(ok(this->agents().insert(agent)));
  auto fresh = make_attestation('c', seconds_after(base_time(), 3600));
  fresh.tcb_status = "UpToDate";
  fresh.tcb_date.reset();
  fresh.advisory_ids.clear();
  fresh.appraised_by = "local_dcap";
  ASSERT_TRUE(ok(this->agents().set_verification("a-1", true, "", fresh)));
  agent.verified = true;
  agent.unverified_reason = "";
  agent.attestation = fresh;
  expect_same(this->agents().get("a-1").value(), agent);
  EXPECT_TRUE(fails_with(this->agents().set_verification("missing", true, "", fresh),
                         errc::not_found));
}

TYPED_TEST_P(AgentStoreConformance, SetVerificationWithoutAttestationKeepsIt) {
  auto agent = make_agent("a-1", "vm-1", base_time());
  ASSERT_TRUE(ok(this->agents().insert(agent)));
  ASSERT_TRUE(ok(this->agents().set_verification("a-1", false, "MRTD changed", std::nullopt)));
  agent.verified = false;
  agent.unverified_reason = "MRTD changed";
  expect_same(this->agents().get("a-1").value(), agent);
  EXPECT_EQ(agent_status(this->agents().get("a-1").value()), "unverified");
  EXPECT_TRUE(fails_with(this->agents().set_verification("missing", false, "x", std::nullopt),
                         errc::not_found));
}

TYPED_TEST_P(AgentStoreConformance, SetHealthSetsHealth) {
  auto agent = make_agent("a-1", "vm-1", base_time());
  ASSERT_TRUE(ok(this->agents().insert(agent)));
  for (Health health : {Health::down, Health::unknown, Health::up}) {
    ASSERT_TRUE(ok(this->agents().set_health("a-1", health)));
    agent.health = health;
    expect_same(this->agents().get("a-1").value(), agent);
  }
  EXPECT_TRUE(fails_with(this->agents().set_health("missing", Health::up), errc::not_found));
}

TYPED_TEST_P(AgentStoreConformance, SetOwnerSetsOnlyTheOwnerAndItsId) {
  auto agent = make_agent("a-1", "vm-1", base_time());
  agent.owner_id = "1234";
  ASSERT_TRUE(ok(this->agents().insert(agent)));
  ASSERT_TRUE(ok(this->agents().set_owner("a-1", "github:org/newco", "")));
  agent.owner = "github:org/newco";
  agent.owner_id = "";
  expect_same(this->agents().get("a-1").value(), agent);
  EXPECT_EQ(this->agents().list({.owner = "github:org/newco"}).value().size(), 1u);
  EXPECT_EQ(this->agents().list({.owner = "github:org/Acme"}).value().size(), 0u);
  EXPECT_TRUE(fails_with(this->agents().set_owner("missing", "github:org/x", ""), errc::not_found));
}

TYPED_TEST_P(AgentStoreConformance, SetTunnelSetsOnlyTheTunnelFields) {
  auto agent = make_agent("a-1", "vm-1", base_time());
  ASSERT_TRUE(ok(this->agents().insert(agent)));
  ASSERT_TRUE(ok(this->agents().set_tunnel("a-1", "t-2", "vm-1.agents.example.com", "rec-2")));
  agent.tunnel_id = "t-2";
  agent.hostname = "vm-1.agents.example.com";
  agent.dns_record_id = "rec-2";
  expect_same(this->agents().get("a-1").value(), agent);
  ASSERT_TRUE(ok(this->agents().set_tunnel("a-1", "", "", "")));
  agent.tunnel_id = agent.hostname = agent.dns_record_id = "";
  expect_same(this->agents().get("a-1").value(), agent);
  EXPECT_TRUE(fails_with(this->agents().set_tunnel("missing", "t", "h", "r"), errc::not_found));
}

TYPED_TEST_P(AgentStoreConformance, ObserveHealthAppliesTheHysteresis) {
  constexpr HealthHysteresis rule{.up_after = 2, .down_after = 3};
  auto agent = make_agent("a-1", "vm-1", base_time());
  agent.health = Health::unknown;
  ASSERT_TRUE(ok(this->agents().insert(agent)));
  auto observe = [&](bool healthy) { return this->agents().observe_health("a-1", healthy, rule).value(); };
  EXPECT_EQ(observe(true), Health::unknown);  // one answer is not enough
  EXPECT_EQ(observe(true), Health::up);
  EXPECT_EQ(this->agents().get("a-1").value().health, Health::up);
  EXPECT_EQ(observe(false), Health::up);
  EXPECT_EQ(observe(false), Health::up);
  EXPECT_EQ(observe(true), Health::up);  // a success resets the failures
  EXPECT_EQ(observe(false), Health::up);
  EXPECT_EQ(observe(false), Health::up);
  EXPECT_EQ(observe(false), Health::down);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(observe(false), Health::down);  // counts stop at the threshold
  EXPECT_EQ(observe(true), Health::down);
  EXPECT_EQ(observe(false), Health::down);  // a failure resets the successes
  EXPECT_EQ(observe(true), Health::down);
  EXPECT_EQ(observe(true), Health::up);
  EXPECT_EQ(observe(true), Health::up);  // settled: nothing to write, the health still read back
  // Counts settled on "up" do not hide a health set otherwise meanwhile: the next success fixes it.
  ASSERT_TRUE(ok(this->agents().set_health("a-1", Health::down)));
  EXPECT_EQ(observe(true), Health::up);
  // Nothing else of the record changes.
  agent.health = Health::up;
  expect_same(this->agents().get("a-1").value(), agent);
  EXPECT_TRUE(fails_with(this->agents().observe_health("missing", true, rule), errc::not_found));
}

TYPED_TEST_P(AgentStoreConformance, ObserveHealthCountsSurviveUpdatesAndAreKeptPerAgent) {
  constexpr HealthHysteresis rule{.up_after = 2, .down_after = 3};
  auto first = make_agent("a-1", "vm-1", base_time());
  auto second = make_agent("a-2", "vm-2", base_time());
  ASSERT_TRUE(ok(this->agents().insert(first)));
  ASSERT_TRUE(ok(this->agents().insert(second)));
  EXPECT_EQ(this->agents().observe_health("a-1", false, rule).value(), first.health);
  EXPECT_EQ(this->agents().observe_health("a-1", false, rule).value(), first.health);
  // A re-registration rewrites the record; the scrape's counts are not part of it.
  ASSERT_TRUE(ok(this->agents().update(first)));
  EXPECT_EQ(this->agents().observe_health("a-2", false, rule).value(), second.health);
  EXPECT_EQ(this->agents().observe_health("a-1", false, rule).value(), Health::down);
  EXPECT_EQ(this->agents().get("a-2").value().health, second.health);
}

TYPED_TEST_P(AgentStoreConformance, ObserveHealthTreatsThresholdsBelowOneAsOne) {
  auto agent = make_agent("a-1", "vm-1", base_time());
  agent.health = Health::unknown;
  ASSERT_TRUE(ok(this->agents().insert(agent)));
  for (int threshold : {0, -5}) {
    HealthHysteresis const rule{.up_after = threshold, .down_after = threshold};
    EXPECT_EQ(this->agents().observe_health("a-1", false, rule).value(), Health::down);
    EXPECT_EQ(this->agents().observe_health("a-1", true, rule).value(), Health::up);
  }
}

TYPED_TEST_P(AgentStoreConformance, SetDeploymentSetsAndClears) {
  auto agent = make_agent("a-1", "vm-1", base_time());
  ASSERT_TRUE(ok(this->agents().insert(agent)));
  ASSERT_TRUE(ok(this->agents().set_deployment("a-1", "dep-1")));
  agent.deployment_id = "dep-1";
  expect_same(this->agents().get("a-1").value(), agent);
  ASSERT_TRUE(ok(this->agents().set_deployment("a-1", "dep-2")));  // unconditional
  EXPECT_EQ(this->agents().get("a-1").value().deployment_id, "dep-2");
  ASSERT_TRUE(ok(this->agents().set_deployment("a-1", "")));
  EXPECT_EQ(this->agents().get("a-1").value().deployment_id, "");
  EXPECT_TRUE(fails_with(this->agents().set_deployment("missing", "dep-1"), errc::not_found));
}

TYPED_TEST_P(AgentStoreConformance, ClaimForDeploymentIsCompareAndSet) {
  ASSERT_TRUE(ok(this->agents().insert(make_agent("a-1", "vm-1", base_time()))));
  ASSERT_TRUE(ok(this->agents().claim_for_deployment("a-1", "dep-1")));
  EXPECT_EQ(this->agents().get("a-1").value().deployment_id, "dep-1");
  EXPECT_TRUE(fails_with(this->agents().claim_for_deployment("a-1", "dep-2"), errc::conflict));
  EXPECT_TRUE(fails_with(this->agents().claim_for_deployment("a-1", "dep-1"), errc::conflict));
  EXPECT_EQ(this->agents().get("a-1").value().deployment_id, "dep-1");
  ASSERT_TRUE(ok(this->agents().set_deployment("a-1", "")));
  ASSERT_TRUE(ok(this->agents().claim_for_deployment("a-1", "dep-2")));
  EXPECT_EQ(this->agents().get("a-1").value().deployment_id, "dep-2");
  EXPECT_TRUE(fails_with(this->agents().claim_for_deployment("missing", "dep-3"), errc::not_found));
}

TYPED_TEST_P(AgentStoreConformance, ReleaseDeploymentIsCompareAndSet) {
  ASSERT_TRUE(ok(this->agents().insert(make_agent("a-1", "vm-1", base_time()))));
  // Holding nothing, there is nothing to release.
  EXPECT_TRUE(fails_with(this->agents().release_deployment("a-1", "dep-1"), errc::conflict));
  EXPECT_TRUE(fails_with(this->agents().release_deployment("a-1", ""), errc::conflict));
  ASSERT_TRUE(ok(this->agents().claim_for_deployment("a-1", "dep-1")));
  // Releasing another deployment leaves the agent's own in place.
  EXPECT_TRUE(fails_with(this->agents().release_deployment("a-1", "dep-0"), errc::conflict));
  EXPECT_EQ(this->agents().get("a-1").value().deployment_id, "dep-1");
  ASSERT_TRUE(ok(this->agents().release_deployment("a-1", "dep-1")));
  EXPECT_EQ(this->agents().get("a-1").value().deployment_id, "");
  // A newer claim survives a late release of the deployment before it.
  ASSERT_TRUE(ok(this->agents().claim_for_deployment("a-1", "dep-2")));
  EXPECT_TRUE(fails_with(this->agents().release_deployment("a-1", "dep-1"), errc::conflict));
  EXPECT_EQ(this->agents().get("a-1").value().deployment_id, "dep-2");
  EXPECT_TRUE(fails_with(this->agents().release_deployment("missing", "dep-1"), errc::not_found));
}

TYPED_TEST_P(AgentStoreConformance, ConcurrentReleasesAndClaimsNeverLoseAClaim) {
  constexpr int kRounds = 50;
  ASSERT_TRUE(ok(this->agents().insert(make_agent("a-1", "vm-1", base_time()))));
  for (int round = 0; round < kRounds; ++round) {
    auto const old_id = "old-" + std::to_string(round);
    auto const new_id = "new-" + std::to_string(round);
    ASSERT_TRUE(ok(this->agents().set_deployment("a-1", old_id)));
    std::atomic<bool> claimed{false};
    run_threads(2, [&](int t) {
      if (t == 0) {
        (void)this->agents().release_deployment("a-1", old_id);
      } else {
        // Retries until the release above has happened; then exactly this claim holds.
        for (int i = 0; i < 100'000 && !claimed; ++i) {
          if (this->agents().claim_for_deployment("a-1", new_id)) claimed = true;
        }
      }
    });
    ASSERT_TRUE(claimed.load());
    EXPECT_EQ(this->agents().get("a-1").value().deployment_id, new_id);
  }
}

TYPED_TEST_P(AgentStoreConformance, RemoveDeletesTheAgentAndFreesItsVmName) {
  ASSERT_TRUE(ok(this->agents().insert(make_agent("a-1", "vm-1", base_time()))));
  ASSERT_TRUE(ok(this->agents().insert(make_agent("a-2", "vm-2", base_time()))));
  ASSERT_TRUE(ok(this->agents().remove("a-1")));
  EXPECT_TRUE(fails_with(this->agents().get("a-1"), errc::not_found));
  EXPECT_TRUE(fails_with(this->agents().remove("a-1"), errc::not_found));
  EXPECT_TRUE(ok(this->agents().get("a-2")));
  EXPECT_TRUE(ok(this->agents().insert(make_agent("a-3", "vm-1", base_time()))));
  EXPECT_TRUE(fails_with(this->agents().remove("missing"), errc::not_found));
}

TYPED_TEST_P(AgentStoreConformance, ConcurrentInsertsFromManyThreadsAreAllCounted) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  std::atomic<int> failures{0};
  run_threads(kThreads, [&](int t) {
    for (int i = 0; i < kPerThread; ++i) {
      auto const key = std::to_string(t) + "-" + std::to_string(i);
      if (!this->agents().insert(make_agent("a-" + key, "vm-" + key, seconds_after(base_time(), i))))
        ++failures;
    }
  });
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(this->agents().count().value(), std::size_t{kThreads * kPerThread});
  auto all = this->agents().list();
  ASSERT_TRUE(ok(all));
  EXPECT_EQ(all->size(), std::size_t{kThreads * kPerThread});
}

TYPED_TEST_P(AgentStoreConformance, ConcurrentClaimsOfOneAgentHaveExactlyOneWinner) {
  constexpr int kThreads = 8;
  for (int round = 0; round < 5; ++round) {
    auto const id = "a-" + std::to_string(round);
    ASSERT_TRUE(ok(this->agents().insert(make_agent(id, "vm-" + id, base_time()))));
    std::atomic<int> wins{0};
    std::atomic<int> conflicts{0};
    std::atomic<int> winner{-1};
    run_threads(kThreads, [&](int t) {
      auto r = this->agents().claim_for_deployment(id, "dep-" + std::to_string(t));
      if (r) {
        ++wins;
        winner = t;
      } else if (r.error() == errc::conflict) {
        ++conflicts;
      }
    });
    EXPECT_EQ(wins.load(), 1);
    EXPECT_EQ(conflicts.load(), kThreads - 1);
    EXPECT_EQ(this->agents().get(id).value().deployment_id, "dep-" + std::to_string(winner.load()));
  }
}

TYPED_TEST_P(AgentStoreConformance, ConcurrentReadsAndHeartbeatsAllSucceed) {
  constexpr int kAgents = 4;
  constexpr int kRounds = 150;
  for (int i = 0; i < kAgents; ++i)
    ASSERT_TRUE(ok(this->agents().insert(
        make_agent("a-" + std::to_string(i), "vm-" + std::to_string(i), base_time()))));
  std::atomic<int> failures{0};
  run_threads(2 * kAgents, [&](int t) {
    auto const id = "a-" + std::to_string(t % kAgents);
    for (int i = 1; i <= kRounds; ++i) {
      if (t < kAgents) {  // writers: one agent each, heartbeat times strictly increasing
        if (!this->agents().record_heartbeat(id, seconds_after(base_time(), i), "running",
                                             "sha256:" + std::to_string(i)))
          ++failures;
      } else {  // readers
        auto got = this->agents().get(id);
        auto all = this->agents().list();
        if (!got || !all || all->size() != std::size_t{kAgents}) ++failures;
      }
    }
  });
  EXPECT_EQ(failures.load(), 0);
  for (int i = 0; i < kAgents; ++i) {
    auto got = this->agents().get("a-" + std::to_string(i)).value();
    EXPECT_EQ(nanos(got.last_heartbeat_at), nanos(seconds_after(base_time(), kRounds)));
    EXPECT_EQ(got.reported_digest, "sha256:" + std::to_string(kRounds));
  }
}

REGISTER_TYPED_TEST_SUITE_P(AgentStoreConformance, InsertThenGetRoundTripsEveryField,
                            RoundTripsDefaultsEmptyOptionalsAndArrays,
                            RoundTripsEveryHealthValueAndTimeFromTheClock,
                            InsertRejectsDuplicateIdWithConflict,
                            InsertRejectsDuplicateVmNameWithConflict,
                            GetAndFindOfUnknownAgentAreNotFound, FindByVmNameReturnsTheAgent,
                            UpdateReplacesEveryField, UpdateOfUnknownAgentIsNotFound,
                            UpdateToAnotherAgentsVmNameConflictsAndChangesNothing,
                            ListOrdersByRegisteredAtThenId, ListOfEmptyStoreIsEmpty,
                            ListPagesWithOffsetInRegistrationOrder,
                            ListFiltersByVmName, ListFiltersByOwnerCaseInsensitively,
                            ListFiltersByEachDerivedStatus, ListFiltersByHeartbeatBeforeStrictly,
                            ListAppliesLimitAfterFiltering, ListCombinesFilters,
                            ForEachVisitsWhatListReturnsInItsOrder, CountCountsAgents,
                            RecordHeartbeatSetsOnlyItsThreeFields,
                            SetVerificationWithAttestationReplacesIt,
                            SetVerificationWithoutAttestationKeepsIt, SetHealthSetsHealth,
                            SetOwnerSetsOnlyTheOwnerAndItsId, SetTunnelSetsOnlyTheTunnelFields,
                            ObserveHealthAppliesTheHysteresis,
                            ObserveHealthCountsSurviveUpdatesAndAreKeptPerAgent,
                            ObserveHealthTreatsThresholdsBelowOneAsOne,
                            SetDeploymentSetsAndClears, ClaimForDeploymentIsCompareAndSet,
                            ReleaseDeploymentIsCompareAndSet,
                            ConcurrentReleasesAndClaimsNeverLoseAClaim,
                            RemoveDeletesTheAgentAndFreesItsVmName,
                            ConcurrentInsertsFromManyThreadsAreAllCounted,
                            ConcurrentClaimsOfOneAgentHaveExactlyOneWinner,
                            ConcurrentReadsAndHeartbeatsAllSucceed);

// --- TrustedMeasurementStore -------------------------------------------------------------------

TYPED_TEST_SUITE_P(MeasurementStoreConformance);

TYPED_TEST_P(MeasurementStoreConformance, AddThenGetRoundTripsEveryField) {
  auto m = make_measurement('a', base_time());
  auto added = this->measurements().add(m);
  ASSERT_TRUE(ok(added));
  expect_same(*added, m);
  auto got = this->measurements().get(m.mrtd);
  ASSERT_TRUE(ok(got));
  expect_same(*got, m);
  TrustedMeasurement bare{.mrtd = std::string(96, 'b'), .kind = "proxy"};  // empty node_size: any
  ASSERT_TRUE(ok(this->measurements().add(bare)));
  expect_same(this->measurements().get(bare.mrtd).value(), bare);
}

TYPED_TEST_P(MeasurementStoreConformance, AddOfTrustedMrtdConflicts) {
  auto m = make_measurement('a', base_time());
  ASSERT_TRUE(ok(this->measurements().add(m)));
  auto again = m;
  again.note = "second";
  EXPECT_TRUE(fails_with(this->measurements().add(again), errc::conflict));
  expect_same(this->measurements().get(m.mrtd).value(), m);
}

TYPED_TEST_P(MeasurementStoreConformance, GetOfUnknownMrtdIsNotFound) {
  EXPECT_TRUE(fails_with(this->measurements().get(std::string(96, 'f')), errc::not_found));
}

TYPED_TEST_P(MeasurementStoreConformance, ListOrdersByAddedAtThenMrtd) {
  EXPECT_TRUE(this->measurements().list().value().empty());
  auto const t = base_time();
  ASSERT_TRUE(ok(this->measurements().add(make_measurement('c', seconds_after(t, 5)))));
  ASSERT_TRUE(ok(this->measurements().add(make_measurement('b', seconds_after(t, 1)))));
  ASSERT_TRUE(ok(this->measurements().add(make_measurement('a', seconds_after(t, 1)))));
  ASSERT_TRUE(ok(this->measurements().add(make_measurement('d', t))));
  auto all = this->measurements().list();
  ASSERT_TRUE(ok(all));
  ASSERT_EQ(all->size(), 4u);
  std::string order;
  for (auto const& m : *all) order += m.mrtd.front();
  EXPECT_EQ(order, "dabc");
  expect_same(all->at(3), make_measurement('c', seconds_after(t, 5)));
}

TYPED_TEST_P(MeasurementStoreConformance, RemoveDeletesTheMeasurement) {
  auto m = make_measurement('a', base_time());
  ASSERT_TRUE(ok(this->measurements().add(m)));
  ASSERT_TRUE(ok(this->measurements().add(make_measurement('b', base_time()))));
  ASSERT_TRUE(ok(this->measurements().remove(m.mrtd)));
  EXPECT_TRUE(fails_with(this->measurements().get(m.mrtd), errc::not_found));
  EXPECT_TRUE(fails_with(this->measurements().remove(m.mrtd), errc::not_found));
  EXPECT_EQ(this->measurements().list().value().size(), 1u);
  EXPECT_TRUE(ok(this->measurements().add(m)));  // may be trusted again
}

REGISTER_TYPED_TEST_SUITE_P(MeasurementStoreConformance, AddThenGetRoundTripsEveryField,
                            AddOfTrustedMrtdConflicts, GetOfUnknownMrtdIsNotFound,
                            ListOrdersByAddedAtThenMrtd, RemoveDeletesTheMeasurement);

// --- AppStore ----------------------------------------------------------------------------------

TYPED_TEST_SUITE_P(AppStoreConformance);

TYPED_TEST_P(AppStoreConformance, CreateStoresTheAppAndItsFirstVersion) {
  auto app = make_app("hello", base_time());
  auto v1 = make_version("hello", "1.0.0", seconds_after(base_time(), 1));
  auto created = this->apps().create(app, v1);
  ASSERT_TRUE(ok(created));
  expect_same(*created, app);
  expect_same(this->apps().get("hello").value(), app);
  expect_same(this->apps().get_version("hello", "1.0.0").value(), v1);
  auto versions = this->apps().list_versions("hello");
  ASSERT_TRUE(ok(versions));
  ASSERT_EQ(versions->size(), 1u);
  expect_same(versions->front(), v1);
}

TYPED_TEST_P(AppStoreConformance, CreateFilesTheFirstVersionUnderTheAppsName) {
  auto v1 = make_version("", "1.0.0", base_time());
  ASSERT_TRUE(ok(this->apps().create(make_app("hello", base_time()), v1)));
  v1.app_name = "hello";
  expect_same(this->apps().get_version("hello", "1.0.0").value(), v1);
}

TYPED_TEST_P(AppStoreConformance, CreateOfExistingNameConflictsAndAddsNoVersion) {
  auto app = make_app("hello", base_time());
  auto v1 = make_version("hello", "1.0.0", base_time());
  ASSERT_TRUE(ok(this->apps().create(app, v1)));
  auto other = make_app("hello", seconds_after(base_time(), 9));
  other.description = "impostor";
  EXPECT_TRUE(fails_with(this->apps().create(other, make_version("hello", "2.0.0", base_time())),
                         errc::conflict));
  // Neither row of the failed create exists: the app is unchanged and has no version 2.0.0.
  expect_same(this->apps().get("hello").value(), app);
  EXPECT_TRUE(fails_with(this->apps().get_version("hello", "2.0.0"), errc::not_found));
  EXPECT_EQ(this->apps().list_versions("hello").value().size(), 1u);
  EXPECT_EQ(this->apps().list().value().size(), 1u);
}

TYPED_TEST_P(AppStoreConformance, ConcurrentCreatesOfOneNameHaveExactlyOneWinner) {
  constexpr int kThreads = 8;
  std::atomic<int> wins{0};
  std::atomic<int> conflicts{0};
  run_threads(kThreads, [&](int t) {
    auto app = make_app("race", base_time());
    app.description = "thread " + std::to_string(t);
    auto r = this->apps().create(app, make_version("race", "v" + std::to_string(t), base_time()));
    if (r)
      ++wins;
    else if (r.error() == errc::conflict)
      ++conflicts;
  });
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(conflicts.load(), kThreads - 1);
  auto app = this->apps().get("race").value();
  auto versions = this->apps().list_versions("race").value();
  ASSERT_EQ(versions.size(), 1u);  // only the winner's first version
  EXPECT_EQ("thread " + versions.front().version.substr(1), app.description);
}

TYPED_TEST_P(AppStoreConformance, GetOfUnknownAppIsNotFound) {
  EXPECT_TRUE(fails_with(this->apps().get("missing"), errc::not_found));
}

TYPED_TEST_P(AppStoreConformance, ListOrdersByName) {
  EXPECT_TRUE(this->apps().list().value().empty());
  for (std::string name : {"zeta", "alpha", "mid-1", "mid"})
    ASSERT_TRUE(ok(this->apps().create(make_app(name, base_time()), make_version(name, "1", base_time()))));
  auto all = this->apps().list();
  ASSERT_TRUE(ok(all));
  std::vector<std::string> names;
  for (auto const& a : *all) names.push_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"alpha", "mid", "mid-1", "zeta"}));
  expect_same(all->front(), make_app("alpha", base_time()));
}

TYPED_TEST_P(AppStoreConformance, AddVersionRoundTripsEveryField) {
  ASSERT_TRUE(ok(this->apps().create(make_app("hello", base_time()),
                                     make_version("hello", "1.0.0", base_time()))));
  auto v2 = make_version("hello", "2.0.0-rc.1+build.5", seconds_after(base_time(), 60));
  v2.rtmrs = {"", "", "", ""};
  v2.node_size = "";
  auto added = this->apps().add_version(v2);
  ASSERT_TRUE(ok(added));
  expect_same(*added, v2);
  expect_same(this->apps().get_version("hello", v2.version).value(), v2);
}

TYPED_TEST_P(AppStoreConformance, AddVersionOfExistingVersionConflicts) {
  auto v1 = make_version("hello", "1.0.0", base_time());
  ASSERT_TRUE(ok(this->apps().create(make_app("hello", base_time()), v1)));
  auto again = v1;
  again.image = "ghcr.io/acme/other@sha256:" + std::string(64, '0');
  EXPECT_TRUE(fails_with(this->apps().add_version(again), errc::conflict));
  expect_same(this->apps().get_version("hello", "1.0.0").value(), v1);
}

TYPED_TEST_P(AppStoreConformance, AddVersionToUnknownAppIsNotFound) {
  EXPECT_TRUE(fails_with(this->apps().add_version(make_version("missing", "1.0.0", base_time())),
                         errc::not_found));
  EXPECT_TRUE(fails_with(this->apps().get_version("missing", "1.0.0"), errc::not_found));
}

TYPED_TEST_P(AppStoreConformance, SameVersionMayExistInTwoApps) {
  ASSERT_TRUE(ok(this->apps().create(make_app("a", base_time()), make_version("a", "1.0.0", base_time()))));
  ASSERT_TRUE(ok(this->apps().create(make_app("b", base_time()), make_version("b", "1.0.0", base_time()))));
  EXPECT_EQ(this->apps().get_version("a", "1.0.0").value().app_name, "a");
  EXPECT_EQ(this->apps().get_version("b", "1.0.0").value().app_name, "b");
}

TYPED_TEST_P(AppStoreConformance, GetVersionOfUnknownVersionIsNotFound) {
  ASSERT_TRUE(ok(this->apps().create(make_app("hello", base_time()),
                                     make_version("hello", "1.0.0", base_time()))));
  EXPECT_TRUE(fails_with(this->apps().get_version("hello", "9.9.9"), errc::not_found));
}

TYPED_TEST_P(AppStoreConformance, ListVersionsOrdersByPublishedAtThenVersion) {
  auto const t = base_time();
  ASSERT_TRUE(ok(this->apps().create(make_app("hello", t), make_version("hello", "3", seconds_after(t, 30)))));
  ASSERT_TRUE(ok(this->apps().add_version(make_version("hello", "2b", seconds_after(t, 20)))));
  ASSERT_TRUE(ok(this->apps().add_version(make_version("hello", "2a", seconds_after(t, 20)))));
  ASSERT_TRUE(ok(this->apps().add_version(make_version("hello", "1", t))));
  ASSERT_TRUE(ok(this->apps().create(make_app("other", t), make_version("other", "0", t))));
  auto versions = this->apps().list_versions("hello");
  ASSERT_TRUE(ok(versions));
  std::vector<std::string> order;
  for (auto const& v : *versions) order.push_back(v.version);
  EXPECT_EQ(order, (std::vector<std::string>{"1", "2a", "2b", "3"}));
  expect_same(versions->back(), make_version("hello", "3", seconds_after(t, 30)));
}

TYPED_TEST_P(AppStoreConformance, ListVersionsOfUnknownAppIsNotFound) {
  EXPECT_TRUE(fails_with(this->apps().list_versions("missing"), errc::not_found));
}

REGISTER_TYPED_TEST_SUITE_P(AppStoreConformance, CreateStoresTheAppAndItsFirstVersion,
                            CreateFilesTheFirstVersionUnderTheAppsName,
                            CreateOfExistingNameConflictsAndAddsNoVersion,
                            ConcurrentCreatesOfOneNameHaveExactlyOneWinner,
                            GetOfUnknownAppIsNotFound, ListOrdersByName,
                            AddVersionRoundTripsEveryField, AddVersionOfExistingVersionConflicts,
                            AddVersionToUnknownAppIsNotFound, SameVersionMayExistInTwoApps,
                            GetVersionOfUnknownVersionIsNotFound,
                            ListVersionsOrdersByPublishedAtThenVersion,
                            ListVersionsOfUnknownAppIsNotFound);

// --- DeploymentStore ---------------------------------------------------------------------------

TYPED_TEST_SUITE_P(DeploymentStoreConformance);

TYPED_TEST_P(DeploymentStoreConformance, InsertThenGetRoundTripsEveryFieldAndStatus) {
  DeploymentStatus const statuses[] = {DeploymentStatus::queued,  DeploymentStatus::pending,
                                       DeploymentStatus::deploying, DeploymentStatus::running,
                                       DeploymentStatus::failed,  DeploymentStatus::stopped};
  int i = 0;
  for (auto status : statuses) {
    auto d = make_deployment("d-" + std::to_string(i), "a-1", "hello", seconds_after(base_time(), i));
    d.status = status;
    d.replaces = i % 2 == 0 ? "" : "d-older-" + std::to_string(i);
    d.rollout_id = i % 3 == 0 ? "" : "rollout-" + std::to_string(i);
    d.rollout_step = i;
    d.detail = "pull failed: manifest unknown — “quoted”";
    d.updated_at = at_nanos(nanos(d.created_at) + 1'000 * i + 7);
    ++i;
    auto inserted = this->deployments().insert(d);
    ASSERT_TRUE(ok(inserted));
    expect_same(*inserted, d);
    expect_same(this->deployments().get(d.id).value(), d);
  }
}

TYPED_TEST_P(DeploymentStoreConformance, HistoryRecordsTheInsertAndEveryChangeOfStatusOrDetail) {
  EXPECT_TRUE(this->deployments().history("d-1").value().empty()) << "an unknown id has no history";
  auto d = make_deployment("d-1", "a-1", "hello", base_time());
  ASSERT_TRUE(ok(this->deployments().insert(d)));
  ASSERT_TRUE(ok(this->deployments().set_status("d-1", DeploymentStatus::deploying, "", seconds_after(base_time(), 1))));
  // The same status and detail again is no change; a compare-and-set that loses is none either.
  ASSERT_TRUE(ok(this->deployments().set_status("d-1", DeploymentStatus::deploying, "", seconds_after(base_time(), 2))));
  EXPECT_TRUE(fails_with(this->deployments().set_status_if("d-1", DeploymentStatus::pending, DeploymentStatus::failed,
                                                           "late", seconds_after(base_time(), 3)),
                         errc::conflict));
  ASSERT_TRUE(ok(this->deployments().set_status_if("d-1", DeploymentStatus::deploying, DeploymentStatus::running, "",
                                                   seconds_after(base_time(), 4))));
  ASSERT_TRUE(ok(this->deployments().set_status("d-1", DeploymentStatus::running, "restarted twice",
                                                seconds_after(base_time(), 5))));
  ASSERT_TRUE(ok(this->deployments().set_status("d-1", DeploymentStatus::stopped, "undeployed by acme/hello",
                                                seconds_after(base_time(), 6))));
  // Another deployment's changes are its own.
  ASSERT_TRUE(ok(this->deployments().insert(make_deployment("d-2", "a-2", "hello", base_time()))));
  ASSERT_TRUE(ok(this->deployments().set_status("d-2", DeploymentStatus::failed, "x", seconds_after(base_time(), 7))));

  auto history = this->deployments().history("d-1").value();
  ASSERT_EQ(history.size(), 5u);
  struct Want {
    DeploymentStatus status;
    std::string detail;
    int second;
  };
  Want const want[] = {{DeploymentStatus::pending, "", 0},
                       {DeploymentStatus::deploying, "", 1},
                       {DeploymentStatus::running, "", 4},
                       {DeploymentStatus::running, "restarted twice", 5},
                       {DeploymentStatus::stopped, "undeployed by acme/hello", 6}};
  for (std::size_t i = 0; i < history.size(); ++i) {
    EXPECT_EQ(history[i].status, want[i].status) << i;
    EXPECT_EQ(history[i].detail, want[i].detail) << i;
    EXPECT_EQ(nanos(history[i].at), nanos(seconds_after(base_time(), want[i].second))) << i;
  }
  EXPECT_EQ(this->deployments().history("d-2").value().size(), 2u);
}

TYPED_TEST_P(DeploymentStoreConformance, InsertOfExistingIdConflicts) {
  auto d = make_deployment("d-1", "a-1", "hello", base_time());
  ASSERT_TRUE(ok(this->deployments().insert(d)));
  auto again = make_deployment("d-1", "a-2", "other", base_time());
  EXPECT_TRUE(fails_with(this->deployments().insert(again), errc::conflict));
  expect_same(this->deployments().get("d-1").value(), d);
}

TYPED_TEST_P(DeploymentStoreConformance, GetOfUnknownIdIsNotFound) {
  EXPECT_TRUE(fails_with(this->deployments().get("missing"), errc::not_found));
}

TYPED_TEST_P(DeploymentStoreConformance, ListIsNewestFirstThenById) {
  EXPECT_TRUE(this->deployments().list().value().empty());
  auto const t = base_time();
  ASSERT_TRUE(ok(this->deployments().insert(make_deployment("d-old", "a-1", "hello", t))));
  ASSERT_TRUE(ok(this->deployments().insert(make_deployment("d-new", "a-1", "hello", seconds_after(t, 20)))));
  ASSERT_TRUE(ok(this->deployments().insert(make_deployment("d-mid-b", "a-1", "hello", seconds_after(t, 10)))));
  ASSERT_TRUE(ok(this->deployments().insert(make_deployment("d-mid-a", "a-1", "hello", seconds_after(t, 10)))));
  auto all = this->deployments().list();
  ASSERT_TRUE(ok(all));
  EXPECT_EQ(ids_of(*all), (std::vector<std::string>{"d-new", "d-mid-a", "d-mid-b", "d-old"}));
  expect_same(all->front(), make_deployment("d-new", "a-1", "hello", seconds_after(t, 20)));
}

// Six deployments over two agents, two apps and three statuses, created a second apart.
template <class Store>
void insert_filter_fixture(Store& store) {
  auto const t = base_time();
  char const* const agents[] = {"a-1", "a-2", "a-1", "a-2", "a-1", "a-1"};
  char const* const apps[] = {"hello", "hello", "other", "other", "hello", "other"};
  DeploymentStatus const statuses[] = {DeploymentStatus::stopped, DeploymentStatus::running,
                                       DeploymentStatus::failed,  DeploymentStatus::running,
                                       DeploymentStatus::running, DeploymentStatus::pending};
  for (int i = 0; i < 6; ++i) {
    auto const index = static_cast<std::size_t>(i);
    auto d = make_deployment("d-" + std::to_string(i), agents[index], apps[index], seconds_after(t, i));
    d.status = statuses[index];
    d.updated_at = seconds_after(t, 100 - 10 * i);  // older deployments were touched later
    ASSERT_TRUE(ok(store.insert(d)));
  }
}

TYPED_TEST_P(DeploymentStoreConformance, ListFiltersByAgent) {
  insert_filter_fixture(this->deployments());
  EXPECT_EQ(ids_of(this->deployments().list({.agent_id = "a-1"}).value()),
            (std::vector<std::string>{"d-5", "d-4", "d-2", "d-0"}));
  EXPECT_TRUE(this->deployments().list({.agent_id = "a-9"}).value().empty());
}

TYPED_TEST_P(DeploymentStoreConformance, ListFiltersByApp) {
  insert_filter_fixture(this->deployments());
  EXPECT_EQ(ids_of(this->deployments().list({.app_name = "other"}).value()),
            (std::vector<std::string>{"d-5", "d-3", "d-2"}));
}

TYPED_TEST_P(DeploymentStoreConformance, ListFiltersByStatus) {
  insert_filter_fixture(this->deployments());
  EXPECT_EQ(ids_of(this->deployments().list({.status = DeploymentStatus::running}).value()),
            (std::vector<std::string>{"d-4", "d-3", "d-1"}));
  EXPECT_EQ(ids_of(this->deployments().list({.status = DeploymentStatus::stopped}).value()),
            (std::vector<std::string>{"d-0"}));
  EXPECT_TRUE(this->deployments().list({.status = DeploymentStatus::deploying}).value().empty());
}

TYPED_TEST_P(DeploymentStoreConformance, ListFiltersByUpdatedBeforeStrictly) {
  insert_filter_fixture(this->deployments());
  // updated_at is +100, +90, ... +50 s for d-0 .. d-5.
  EXPECT_EQ(ids_of(this->deployments().list({.updated_before = seconds_after(base_time(), 70)}).value()),
            (std::vector<std::string>{"d-5", "d-4"}));
}

TYPED_TEST_P(DeploymentStoreConformance, ListAppliesLimitAfterFiltering) {
  insert_filter_fixture(this->deployments());
  EXPECT_EQ(ids_of(this->deployments().list({.agent_id = "a-1", .limit = 2}).value()),
            (std::vector<std::string>{"d-5", "d-4"}));
  EXPECT_EQ(ids_of(this->deployments().list({.limit = 1}).value()), (std::vector<std::string>{"d-5"}));
  EXPECT_TRUE(this->deployments().list({.limit = 0}).value().empty());
  EXPECT_EQ(this->deployments().list({.limit = 1000}).value().size(), 6u);
  // Newest first, so a page further on holds older deployments.
  EXPECT_EQ(ids_of(this->deployments().list({.limit = 2, .offset = 1}).value()),
            (std::vector<std::string>{"d-4", "d-3"}));
  EXPECT_EQ(this->deployments().list({.offset = 5}).value().size(), 1u);
}

TYPED_TEST_P(DeploymentStoreConformance, ListCombinesFilters) {
  insert_filter_fixture(this->deployments());
  EXPECT_EQ(ids_of(this->deployments()
                       .list({.agent_id = "a-1", .app_name = "hello",
                              .status = DeploymentStatus::running})
                       .value()),
            (std::vector<std::string>{"d-4"}));
  EXPECT_EQ(ids_of(this->deployments()
                       .list({.agent_id = "a-1", .updated_before = seconds_after(base_time(), 95)})
                       .value()),
            (std::vector<std::string>{"d-5", "d-4", "d-2"}));
}

TYPED_TEST_P(DeploymentStoreConformance, SetStatusSetsStatusDetailAndTime) {
  auto d = make_deployment("d-1", "a-1", "hello", base_time());
  ASSERT_TRUE(ok(this->deployments().insert(d)));
  auto const when = at_nanos(nanos(base_time()) + 5'000'000'123);
  auto updated = this->deployments().set_status("d-1", DeploymentStatus::failed, "image pull failed", when);
  ASSERT_TRUE(ok(updated));
  d.status = DeploymentStatus::failed;
  d.detail = "image pull failed";
  d.updated_at = when;
  expect_same(*updated, d);
  expect_same(this->deployments().get("d-1").value(), d);
}

TYPED_TEST_P(DeploymentStoreConformance, SetStatusOfUnknownIdIsNotFound) {
  EXPECT_TRUE(fails_with(
      this->deployments().set_status("missing", DeploymentStatus::running, "", base_time()),
      errc::not_found));
}

TYPED_TEST_P(DeploymentStoreConformance, SetStatusIfIsCompareAndSet) {
  auto d = make_deployment("d-1", "a-1", "hello", base_time());
  d.status = DeploymentStatus::pending;
  ASSERT_TRUE(ok(this->deployments().insert(d)));
  auto const when = at_nanos(nanos(base_time()) + 7'000'000'001);
  // Another status than expected: nothing changes.
  EXPECT_TRUE(fails_with(this->deployments().set_status_if("d-1", DeploymentStatus::deploying,
                                                           DeploymentStatus::failed, "late", when),
                         errc::conflict));
  expect_same(this->deployments().get("d-1").value(), d);
  auto updated = this->deployments().set_status_if("d-1", DeploymentStatus::pending,
                                                   DeploymentStatus::deploying, "resumed", when);
  ASSERT_TRUE(ok(updated));
  d.status = DeploymentStatus::deploying;
  d.detail = "resumed";
  d.updated_at = when;
  expect_same(*updated, d);
  expect_same(this->deployments().get("d-1").value(), d);
  // The same transition again no longer applies.
  EXPECT_TRUE(fails_with(this->deployments().set_status_if("d-1", DeploymentStatus::pending,
                                                           DeploymentStatus::failed, "", when),
                         errc::conflict));
  EXPECT_TRUE(fails_with(this->deployments().set_status_if("missing", DeploymentStatus::pending,
                                                           DeploymentStatus::failed, "", when),
                         errc::not_found));
}

TYPED_TEST_P(DeploymentStoreConformance, ConcurrentSetStatusIfHasExactlyOneWinner) {
  constexpr int kThreads = 8;
  for (int round = 0; round < 5; ++round) {
    auto const id = "d-" + std::to_string(round);
    auto d = make_deployment(id, "a-1", "hello", base_time());
    d.status = DeploymentStatus::deploying;
    ASSERT_TRUE(ok(this->deployments().insert(d)));
    std::atomic<int> wins{0};
    std::atomic<int> conflicts{0};
    run_threads(kThreads, [&](int t) {
      auto const to = t % 2 == 0 ? DeploymentStatus::running : DeploymentStatus::failed;
      auto r = this->deployments().set_status_if(id, DeploymentStatus::deploying, to,
                                                 "by " + std::to_string(t), base_time());
      if (r) {
        ++wins;
      } else if (r.error() == errc::conflict) {
        ++conflicts;
      }
    });
    EXPECT_EQ(wins.load(), 1);
    EXPECT_EQ(conflicts.load(), kThreads - 1);
  }
}

TYPED_TEST_P(DeploymentStoreConformance, ConcurrentInsertsFromManyThreadsAreAllListed) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100;
  std::atomic<int> failures{0};
  run_threads(kThreads, [&](int t) {
    for (int i = 0; i < kPerThread; ++i) {
      auto const id = "d-" + std::to_string(t) + "-" + std::to_string(i);
      if (!this->deployments().insert(make_deployment(id, "a-" + std::to_string(t), "hello",
                                                      seconds_after(base_time(), i))))
        ++failures;
    }
  });
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(this->deployments().list().value().size(), std::size_t{kThreads * kPerThread});
  EXPECT_EQ(this->deployments().list({.agent_id = "a-3"}).value().size(), std::size_t{kPerThread});
}

TYPED_TEST_P(DeploymentStoreConformance, InsertHoldingClaimsTheAgentAndInsertsInOneTransaction) {
  ASSERT_TRUE(ok(this->agents().insert(make_agent("a-1", "vm-1", base_time()))));
  auto first = make_deployment("d-1", "a-1", "hello", base_time());
  auto inserted = this->deployments().insert_holding(first, "");
  ASSERT_TRUE(ok(inserted));
  expect_same(*inserted, first);
  EXPECT_EQ(this->agents().get("a-1").value().deployment_id, "d-1");
  // The agent holds d-1, not nothing: the second neither claims it nor is recorded.
  auto second = make_deployment("d-2", "a-1", "hello", base_time());
  EXPECT_TRUE(fails_with(this->deployments().insert_holding(second, ""), errc::conflict));
  EXPECT_TRUE(fails_with(this->deployments().get("d-2"), errc::not_found));
  EXPECT_EQ(this->agents().get("a-1").value().deployment_id, "d-1");
  // An upgrade names what the agent holds.
  second.replaces = "d-1";
  ASSERT_TRUE(ok(this->deployments().insert_holding(second, "d-1")));
  EXPECT_EQ(this->agents().get("a-1").value().deployment_id, "d-2");
  // An unknown agent: nothing recorded.
  EXPECT_TRUE(fails_with(this->deployments().insert_holding(make_deployment("d-3", "a-9", "hello", base_time()), ""),
                         errc::not_found));
  EXPECT_TRUE(fails_with(this->deployments().get("d-3"), errc::not_found));
  // A duplicate id: the agent's claim is rolled back with it.
  ASSERT_TRUE(ok(this->agents().insert(make_agent("a-2", "vm-2", base_time()))));
  EXPECT_TRUE(fails_with(this->deployments().insert_holding(make_deployment("d-1", "a-2", "hello", base_time()), ""),
                         errc::conflict));
  EXPECT_EQ(this->agents().get("a-2").value().deployment_id, "");
}

TYPED_TEST_P(DeploymentStoreConformance, ConcurrentInsertHoldingHasExactlyOneWinner) {
  constexpr int kThreads = 8;
  ASSERT_TRUE(ok(this->agents().insert(make_agent("a-1", "vm-1", base_time()))));
  std::atomic<int> wins{0};
  std::atomic<int> conflicts{0};
  run_threads(kThreads, [&](int t) {
    auto r = this->deployments().insert_holding(make_deployment("d-" + std::to_string(t), "a-1", "hello", base_time()), "");
    if (r) {
      ++wins;
    } else if (r.error() == errc::conflict) {
      ++conflicts;
    }
  });
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(conflicts.load(), kThreads - 1);
  EXPECT_EQ(this->deployments().list().value().size(), 1u);
}

TYPED_TEST_P(DeploymentStoreConformance, SetStatusIfMovesTheAgentsHoldOnlyWhileItHoldsTheDeployment) {
  ASSERT_TRUE(ok(this->agents().insert(make_agent("a-1", "vm-1", base_time()))));
  auto old = make_deployment("old", "a-1", "hello", base_time());
  old.status = DeploymentStatus::running;
  ASSERT_TRUE(ok(this->deployments().insert(old)));
  auto next = make_deployment("new", "a-1", "hello", base_time());
  next.replaces = "old";
  ASSERT_TRUE(ok(this->deployments().insert_holding(next, "")));
  auto const when = seconds_after(base_time(), 5);
  // hand_back: the agent holds what the deployment replaced.
  ASSERT_TRUE(ok(this->deployments().set_status_if("new", DeploymentStatus::pending, DeploymentStatus::failed, "x",
                                                   when, AgentHold::hand_back)));
  EXPECT_EQ(this->agents().get("a-1").value().deployment_id, "old");
  // release of a deployment the agent does not hold: the status moves, the agent keeps "old".
  auto other = make_deployment("other", "a-1", "hello", base_time());
  ASSERT_TRUE(ok(this->deployments().insert(other)));
  ASSERT_TRUE(ok(this->deployments().set_status_if("other", DeploymentStatus::pending, DeploymentStatus::failed, "y",
                                                   when, AgentHold::release)));
  EXPECT_EQ(this->agents().get("a-1").value().deployment_id, "old");
  // keep: nothing; release of the held one: idle.
  ASSERT_TRUE(ok(this->deployments().set_status_if("old", DeploymentStatus::running, DeploymentStatus::running, "",
                                                   when, AgentHold::keep)));
  EXPECT_EQ(this->agents().get("a-1").value().deployment_id, "old");
  ASSERT_TRUE(ok(this->deployments().set_status_if("old", DeploymentStatus::running, DeploymentStatus::stopped, "",
                                                   when, AgentHold::release)));
  EXPECT_EQ(this->agents().get("a-1").value().deployment_id, "");
  // A lost compare-and-set moves no hold either.
  ASSERT_TRUE(ok(this->agents().set_deployment("a-1", "old")));
  EXPECT_TRUE(fails_with(this->deployments().set_status_if("old", DeploymentStatus::running, DeploymentStatus::failed,
                                                           "", when, AgentHold::release),
                         errc::conflict));
  EXPECT_EQ(this->agents().get("a-1").value().deployment_id, "old");
}

TYPED_TEST_P(DeploymentStoreConformance, StartQueuedClaimsTheAgentOrChangesNothing) {
  ASSERT_TRUE(ok(this->agents().insert(make_agent("a-1", "vm-1", base_time()))));
  auto step = make_deployment("s-1", "a-1", "hello", base_time());
  step.status = DeploymentStatus::queued;
  step.rollout_id = "r-1";
  step.rollout_step = 1;
  ASSERT_TRUE(ok(this->deployments().insert(step)));
  ASSERT_TRUE(ok(this->agents().set_deployment("a-1", "running-one")));
  // The agent holds another than the caller saw: the step stays queued.
  EXPECT_TRUE(fails_with(this->deployments().start_queued("s-1", "", base_time()), errc::conflict));
  EXPECT_EQ(to_string(this->deployments().get("s-1").value().status), "queued");
  EXPECT_EQ(this->agents().get("a-1").value().deployment_id, "running-one");
  auto const when = seconds_after(base_time(), 3);
  auto started = this->deployments().start_queued("s-1", "running-one", when);
  ASSERT_TRUE(ok(started));
  EXPECT_EQ(to_string(started->status), "pending");
  EXPECT_EQ(started->replaces, "running-one");
  EXPECT_EQ(nanos(started->updated_at), nanos(when));
  EXPECT_EQ(this->agents().get("a-1").value().deployment_id, "s-1");
  // Not queued any more.
  EXPECT_TRUE(fails_with(this->deployments().start_queued("s-1", "s-1", base_time()), errc::conflict));
  EXPECT_TRUE(fails_with(this->deployments().start_queued("missing", "", base_time()), errc::not_found));
}

TYPED_TEST_P(DeploymentStoreConformance, ListFiltersByRollout) {
  for (int i = 0; i < 4; ++i) {
    auto d = make_deployment("d-" + std::to_string(i), "a-1", "hello", seconds_after(base_time(), i));
    d.rollout_id = i % 2 == 0 ? "r-even" : "";
    d.rollout_step = i;
    ASSERT_TRUE(ok(this->deployments().insert(d)));
  }
  EXPECT_EQ(ids_of(this->deployments().list({.rollout_id = "r-even"}).value()), (std::vector<std::string>{"d-2", "d-0"}));
  EXPECT_TRUE(this->deployments().list({.rollout_id = "r-none"}).value().empty());
}

REGISTER_TYPED_TEST_SUITE_P(DeploymentStoreConformance, InsertThenGetRoundTripsEveryFieldAndStatus,
                            HistoryRecordsTheInsertAndEveryChangeOfStatusOrDetail,
                            InsertOfExistingIdConflicts, GetOfUnknownIdIsNotFound,
                            ListIsNewestFirstThenById, ListFiltersByAgent, ListFiltersByApp,
                            ListFiltersByStatus, ListFiltersByUpdatedBeforeStrictly,
                            ListAppliesLimitAfterFiltering, ListCombinesFilters,
                            SetStatusSetsStatusDetailAndTime, SetStatusOfUnknownIdIsNotFound,
                            SetStatusIfIsCompareAndSet, ConcurrentSetStatusIfHasExactlyOneWinner,
                            ConcurrentInsertsFromManyThreadsAreAllListed,
                            InsertHoldingClaimsTheAgentAndInsertsInOneTransaction,
                            ConcurrentInsertHoldingHasExactlyOneWinner,
                            SetStatusIfMovesTheAgentsHoldOnlyWhileItHoldsTheDeployment,
                            StartQueuedClaimsTheAgentOrChangesNothing, ListFiltersByRollout);

// --- BootstrapTokenStore -----------------------------------------------------------------------

TYPED_TEST_SUITE_P(BootstrapTokenStoreConformance);

TYPED_TEST_P(BootstrapTokenStoreConformance, InsertThenFindRoundTripsEveryField) {
  auto const t = make_bootstrap_token("t-1", 'a', base_time());
  ASSERT_TRUE(ok(this->bootstrap_tokens().insert(t)));
  auto got = this->bootstrap_tokens().find_by_hash(t.token_hash);
  ASSERT_TRUE(ok(got));
  expect_same(*got, t);
  EXPECT_TRUE(fails_with(this->bootstrap_tokens().find_by_hash(std::string(64, 'z')), errc::not_found));
}

TYPED_TEST_P(BootstrapTokenStoreConformance, DuplicateIdOrHashConflicts) {
  ASSERT_TRUE(ok(this->bootstrap_tokens().insert(make_bootstrap_token("t-1", 'a', base_time()))));
  EXPECT_TRUE(fails_with(this->bootstrap_tokens().insert(make_bootstrap_token("t-1", 'b', base_time())), errc::conflict));
  EXPECT_TRUE(fails_with(this->bootstrap_tokens().insert(make_bootstrap_token("t-2", 'a', base_time())), errc::conflict));
}

TYPED_TEST_P(BootstrapTokenStoreConformance, UseSpendsOneUseUntilNoneIsLeft) {
  auto const t = make_bootstrap_token("t-1", 'a', base_time());
  ASSERT_TRUE(ok(this->bootstrap_tokens().insert(t)));
  auto const now = seconds_after(base_time(), 10);
  for (std::int64_t left = 2; left >= 0; --left) {
    auto used = this->bootstrap_tokens().use("t-1", now);
    ASSERT_TRUE(ok(used));
    EXPECT_EQ(used->uses_left, left);
  }
  EXPECT_TRUE(fails_with(this->bootstrap_tokens().use("t-1", now), errc::conflict));
  EXPECT_TRUE(fails_with(this->bootstrap_tokens().use("t-unknown", now), errc::not_found));
}

TYPED_TEST_P(BootstrapTokenStoreConformance, AnExpiredTokenCannotBeUsed) {
  auto const t = make_bootstrap_token("t-1", 'a', base_time());
  ASSERT_TRUE(ok(this->bootstrap_tokens().insert(t)));
  EXPECT_TRUE(fails_with(this->bootstrap_tokens().use("t-1", t.expires_at), errc::conflict));
  EXPECT_EQ(this->bootstrap_tokens().find_by_hash(t.token_hash).value().uses_left, 3);
}

TYPED_TEST_P(BootstrapTokenStoreConformance, ConcurrentUsesNeverSpendMoreThanGranted) {
  auto t = make_bootstrap_token("t-1", 'a', base_time());
  t.uses = t.uses_left = 5;
  ASSERT_TRUE(ok(this->bootstrap_tokens().insert(t)));
  std::atomic<int> spent{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 4; ++j) {
        if (this->bootstrap_tokens().use("t-1", seconds_after(base_time(), 1))) ++spent;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(spent.load(), 5);
}

TYPED_TEST_P(BootstrapTokenStoreConformance, ListsAnOwnersTokensNewestFirstAndRemoves) {
  auto a = make_bootstrap_token("t-a", 'a', base_time());
  auto b = make_bootstrap_token("t-b", 'b', seconds_after(base_time(), 5));
  auto other = make_bootstrap_token("t-c", 'c', base_time());
  other.owner_id = "999";
  for (auto const& t : {a, b, other}) ASSERT_TRUE(ok(this->bootstrap_tokens().insert(t)));
  auto listed = this->bootstrap_tokens().list_by_owner_id("7654321");
  ASSERT_TRUE(ok(listed));
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id, "t-b");
  EXPECT_EQ((*listed)[1].id, "t-a");
  ASSERT_TRUE(ok(this->bootstrap_tokens().remove("t-b")));
  EXPECT_TRUE(fails_with(this->bootstrap_tokens().remove("t-b"), errc::not_found));
  EXPECT_EQ(this->bootstrap_tokens().list_by_owner_id("7654321").value().size(), 1u);
}

TYPED_TEST_P(BootstrapTokenStoreConformance, PurgeRemovesExpiredAndSpentTokens) {
  auto live = make_bootstrap_token("t-live", 'a', base_time());
  auto spent = make_bootstrap_token("t-spent", 'b', base_time());
  spent.uses = spent.uses_left = 1;
  auto expired = make_bootstrap_token("t-expired", 'c', base_time());
  expired.expires_at = seconds_after(base_time(), 5);
  for (auto const& t : {live, spent, expired}) ASSERT_TRUE(ok(this->bootstrap_tokens().insert(t)));
  ASSERT_TRUE(ok(this->bootstrap_tokens().use("t-spent", seconds_after(base_time(), 1))));
  auto purged = this->bootstrap_tokens().purge(seconds_after(base_time(), 5));
  ASSERT_TRUE(ok(purged));
  EXPECT_EQ(*purged, 2u);
  EXPECT_TRUE(ok(this->bootstrap_tokens().find_by_hash(live.token_hash)));
  EXPECT_TRUE(fails_with(this->bootstrap_tokens().find_by_hash(spent.token_hash), errc::not_found));
}

REGISTER_TYPED_TEST_SUITE_P(BootstrapTokenStoreConformance, InsertThenFindRoundTripsEveryField,
                            DuplicateIdOrHashConflicts, UseSpendsOneUseUntilNoneIsLeft,
                            AnExpiredTokenCannotBeUsed, ConcurrentUsesNeverSpendMoreThanGranted,
                            ListsAnOwnersTokensNewestFirstAndRemoves,
                            PurgeRemovesExpiredAndSpentTokens);

// --- SettingStore ------------------------------------------------------------------------------

TYPED_TEST_SUITE_P(SettingStoreConformance);

TYPED_TEST_P(SettingStoreConformance, PutListsReplacesAndRemoves) {
  EXPECT_TRUE(this->settings().list().value().empty());
  SettingRow row{.name = "heartbeat_interval", .value = "60", .updated_by = "admin", .updated_at = base_time()};
  ASSERT_TRUE(ok(this->settings().put(row)));
  ASSERT_TRUE(ok(this->settings().put(SettingRow{.name = "deploy_timeout", .value = "900", .updated_by = "admin",
                                                 .updated_at = base_time()})));
  auto listed = this->settings().list().value();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].name, "deploy_timeout");  // by name
  EXPECT_EQ(listed[1].name, "heartbeat_interval");
  EXPECT_EQ(listed[1].value, "60");
  EXPECT_EQ(listed[1].updated_by, "admin");
  EXPECT_EQ(listed[1].updated_at, base_time());

  row.value = "90";
  row.updated_at = seconds_after(base_time(), 10);
  ASSERT_TRUE(ok(this->settings().put(row)));
  listed = this->settings().list().value();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[1].value, "90");
  EXPECT_EQ(listed[1].updated_at, seconds_after(base_time(), 10));

  ASSERT_TRUE(ok(this->settings().remove("heartbeat_interval")));
  EXPECT_TRUE(fails_with(this->settings().remove("heartbeat_interval"), errc::not_found));
  EXPECT_EQ(this->settings().list().value().size(), 1u);
}

TYPED_TEST_P(SettingStoreConformance, ValuesRoundTripAsWritten) {
  for (std::string value : {std::string(), std::string("a,b,c"), std::string(4096, 'x'), std::string("üñí ✓ 'quoted' \"d\"")}) {
    ASSERT_TRUE(ok(this->settings().put(SettingRow{.name = "k", .value = value, .updated_by = "admin",
                                                   .updated_at = base_time()})));
    auto listed = this->settings().list().value();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].value, value);
  }
}

REGISTER_TYPED_TEST_SUITE_P(SettingStoreConformance, PutListsReplacesAndRemoves, ValuesRoundTripAsWritten);

// --- LeaseStore ----------------------------------------------------------------------------------

TYPED_TEST_SUITE_P(LeaseStoreConformance);

TYPED_TEST_P(LeaseStoreConformance, OneHolderAtATimeUntilTheLeaseExpires) {
  auto const t0 = base_time();
  auto const ttl = std::chrono::seconds(120);
  EXPECT_TRUE(this->leases().acquire("maintenance", "cp-a", t0, ttl).value());
  EXPECT_FALSE(this->leases().acquire("maintenance", "cp-b", t0 + std::chrono::seconds(119), ttl).value());
  // The holder renews it; another lease name is independent.
  EXPECT_TRUE(this->leases().acquire("maintenance", "cp-a", t0 + std::chrono::seconds(100), ttl).value());
  EXPECT_TRUE(this->leases().acquire("health_scrape", "cp-b", t0, ttl).value());
  EXPECT_FALSE(this->leases().acquire("maintenance", "cp-b", t0 + std::chrono::seconds(219), ttl).value());
  // Expired (the holder died): another takes it, and the old holder has lost it.
  EXPECT_TRUE(this->leases().acquire("maintenance", "cp-b", t0 + std::chrono::seconds(220), ttl).value());
  EXPECT_FALSE(this->leases().acquire("maintenance", "cp-a", t0 + std::chrono::seconds(221), ttl).value());
}

TYPED_TEST_P(LeaseStoreConformance, ReleaseFreesOnlyTheHoldersLease) {
  auto const t0 = base_time();
  auto const ttl = std::chrono::seconds(60);
  ASSERT_TRUE(this->leases().acquire("maintenance", "cp-a", t0, ttl).value());
  ASSERT_TRUE(ok(this->leases().release("maintenance", "cp-b")));
  EXPECT_FALSE(this->leases().acquire("maintenance", "cp-b", t0, ttl).value());
  ASSERT_TRUE(ok(this->leases().release("maintenance", "cp-a")));
  EXPECT_TRUE(this->leases().acquire("maintenance", "cp-b", t0, ttl).value());
  EXPECT_TRUE(ok(this->leases().release("never-taken", "cp-a")));
}

TYPED_TEST_P(LeaseStoreConformance, ConcurrentAcquiresHaveExactlyOneWinner) {
  constexpr int kThreads = 8;
  for (int round = 0; round < 5; ++round) {
    auto const name = "pass-" + std::to_string(round);
    std::atomic<int> wins{0};
    run_threads(kThreads, [&](int t) {
      auto r = this->leases().acquire(name, "cp-" + std::to_string(t), base_time(), std::chrono::seconds(60));
      if (r && *r) ++wins;
    });
    EXPECT_EQ(wins.load(), 1);
  }
}

REGISTER_TYPED_TEST_SUITE_P(LeaseStoreConformance, OneHolderAtATimeUntilTheLeaseExpires,
                            ReleaseFreesOnlyTheHoldersLease, ConcurrentAcquiresHaveExactlyOneWinner);

// --- LoginSessionStore ---------------------------------------------------------------------------

inline LoginSession make_login_session(std::string const& id, std::string const& prefix, TimePoint created) {
  LoginSession s;
  s.id = id;
  s.token_prefix = prefix;
  s.token_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$" + id;
  s.method = LoginMethod::github;
  s.admin = false;
  s.github_user = GithubAccount{.login = "octocat", .id = "583231"};
  s.github_orgs = {GithubAccount{.login = "octo-org", .id = "9919"}, GithubAccount{.login = "other-org", .id = "1"}};
  s.created_at = created;
  s.expires_at = seconds_after(created, 86'400);
  return s;
}

inline void expect_same(LoginSession const& got, LoginSession const& want) {
  SCOPED_TRACE("login session " + want.id);
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.token_prefix, want.token_prefix);
  EXPECT_EQ(got.token_hash, want.token_hash);
  EXPECT_EQ(got.method, want.method);
  EXPECT_EQ(got.admin, want.admin);
  EXPECT_EQ(got.github_user.login, want.github_user.login);
  EXPECT_EQ(got.github_user.id, want.github_user.id);
  ASSERT_EQ(got.github_orgs.size(), want.github_orgs.size());
  for (std::size_t i = 0; i < want.github_orgs.size(); ++i) {
    EXPECT_EQ(got.github_orgs[i].login, want.github_orgs[i].login);
    EXPECT_EQ(got.github_orgs[i].id, want.github_orgs[i].id);
  }
  EXPECT_EQ(got.created_at, want.created_at);
  EXPECT_EQ(got.expires_at, want.expires_at);
}

TYPED_TEST_SUITE_P(LoginSessionStoreConformance);

TYPED_TEST_P(LoginSessionStoreConformance, InsertThenGetAndFindRoundTripEveryField) {
  auto const github = make_login_session("s-1", "ee_sess_abcd", base_time());
  auto password = make_login_session("s-2", "ee_sess_wxyz", base_time());
  password.method = LoginMethod::password;
  password.admin = true;
  password.github_user = {};
  password.github_orgs = {};
  ASSERT_TRUE(ok(this->sessions().insert(github)));
  ASSERT_TRUE(ok(this->sessions().insert(password)));
  expect_same(this->sessions().get("s-1").value(), github);
  expect_same(this->sessions().get("s-2").value(), password);
  auto found = this->sessions().find_by_prefix("ee_sess_wxyz", base_time());
  ASSERT_TRUE(ok(found));
  ASSERT_EQ(found->size(), 1u);
  expect_same(found->front(), password);
  EXPECT_TRUE(fails_with(this->sessions().get("s-unknown"), errc::not_found));
  EXPECT_TRUE(this->sessions().find_by_prefix("ee_sess_none", base_time()).value().empty());
}

TYPED_TEST_P(LoginSessionStoreConformance, DuplicateIdConflictsButPrefixesMayRepeat) {
  ASSERT_TRUE(ok(this->sessions().insert(make_login_session("s-1", "ee_sess_abcd", base_time()))));
  EXPECT_TRUE(fails_with(this->sessions().insert(make_login_session("s-1", "ee_sess_efgh", base_time())), errc::conflict));
  ASSERT_TRUE(ok(this->sessions().insert(make_login_session("s-2", "ee_sess_abcd", seconds_after(base_time(), 1)))));
  auto found = this->sessions().find_by_prefix("ee_sess_abcd", base_time());
  ASSERT_TRUE(ok(found));
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[0].id, "s-1");
  EXPECT_EQ((*found)[1].id, "s-2");
}

TYPED_TEST_P(LoginSessionStoreConformance, AnExpiredSessionIsNotFoundByPrefixAndIsPurged) {
  auto short_lived = make_login_session("s-1", "ee_sess_abcd", base_time());
  short_lived.expires_at = seconds_after(base_time(), 60);
  ASSERT_TRUE(ok(this->sessions().insert(short_lived)));
  ASSERT_TRUE(ok(this->sessions().insert(make_login_session("s-2", "ee_sess_abcd", base_time()))));
  EXPECT_EQ(this->sessions().find_by_prefix("ee_sess_abcd", seconds_after(base_time(), 59)).value().size(), 2u);
  // Expiry is exclusive: at its expires_at a session is over.
  auto const later = seconds_after(base_time(), 60);
  auto found = this->sessions().find_by_prefix("ee_sess_abcd", later);
  ASSERT_TRUE(ok(found));
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ(found->front().id, "s-2");
  EXPECT_EQ(this->sessions().purge(later).value(), 1u);
  EXPECT_TRUE(fails_with(this->sessions().get("s-1"), errc::not_found));
  EXPECT_TRUE(ok(this->sessions().get("s-2")));
  EXPECT_EQ(this->sessions().purge(later).value(), 0u);
}

TYPED_TEST_P(LoginSessionStoreConformance, RemoveEndsASessionOnce) {
  ASSERT_TRUE(ok(this->sessions().insert(make_login_session("s-1", "ee_sess_abcd", base_time()))));
  ASSERT_TRUE(ok(this->sessions().remove("s-1")));
  EXPECT_TRUE(fails_with(this->sessions().remove("s-1"), errc::not_found));
  EXPECT_TRUE(this->sessions().find_by_prefix("ee_sess_abcd", base_time()).value().empty());
}

REGISTER_TYPED_TEST_SUITE_P(LoginSessionStoreConformance, InsertThenGetAndFindRoundTripEveryField,
                            DuplicateIdConflictsButPrefixesMayRepeat,
                            AnExpiredSessionIsNotFoundByPrefixAndIsPurged, RemoveEndsASessionOnce);

// --- AccountStore ---------------------------------------------------------------------------------

TYPED_TEST_SUITE_P(AccountStoreConformance);

TYPED_TEST_P(AccountStoreConformance, InsertThenReadRoundTripsEveryFieldByEachKey) {
  auto a = make_account("acc1-id", "alpha", base_time());
  a.type = AccountType::launcher;
  a.github_id = "1234567";
  a.github_login = "octo";
  a.github_org = "octo-org";
  ASSERT_TRUE(ok(this->accounts().insert(a)));
  auto by_id = this->accounts().get("acc1-id");
  ASSERT_TRUE(ok(by_id));
  expect_same(*by_id, a);
  auto by_name = this->accounts().find_by_name("alpha");
  ASSERT_TRUE(ok(by_name));
  expect_same(*by_name, a);
  auto by_prefix = this->accounts().find_by_key_prefix(a.api_key_prefix);
  ASSERT_TRUE(ok(by_prefix));
  expect_same(*by_prefix, a);
}

TYPED_TEST_P(AccountStoreConformance, EveryTypeRoundTrips) {
  int i = 0;
  for (auto type : {AccountType::deployer, AccountType::agent, AccountType::contributor, AccountType::launcher}) {
    auto a = make_account("acc" + std::to_string(i) + "-id", "name-" + std::to_string(i), base_time());
    a.type = type;
    ASSERT_TRUE(ok(this->accounts().insert(a)));
    EXPECT_EQ(this->accounts().get(a.id).value().type, type);
    ++i;
  }
}

TYPED_TEST_P(AccountStoreConformance, DuplicateIdNameOrKeyPrefixConflicts) {
  auto const a = make_account("acc1-id", "alpha", base_time());
  ASSERT_TRUE(ok(this->accounts().insert(a)));
  auto same_id = make_account("acc1-id", "beta", base_time());
  same_id.api_key_prefix = "ee_live_BBBB";
  EXPECT_TRUE(fails_with(this->accounts().insert(same_id), errc::conflict));
  auto same_name = make_account("acc2-id", "alpha", base_time());
  EXPECT_TRUE(fails_with(this->accounts().insert(same_name), errc::conflict));
  auto same_prefix = make_account("acc3-id", "gamma", base_time());
  same_prefix.api_key_prefix = a.api_key_prefix;
  EXPECT_TRUE(fails_with(this->accounts().insert(same_prefix), errc::conflict));
  // Names are unique by bytes: another case is another name.
  auto other_case = make_account("acc4-id", "Alpha", base_time());
  EXPECT_TRUE(ok(this->accounts().insert(other_case)));
  EXPECT_EQ(this->accounts().list({}).value().size(), 2u);
}

TYPED_TEST_P(AccountStoreConformance, UnknownAccountsAreNotFoundEverywhere) {
  EXPECT_TRUE(fails_with(this->accounts().get("missing"), errc::not_found));
  EXPECT_TRUE(fails_with(this->accounts().find_by_name("missing"), errc::not_found));
  EXPECT_TRUE(fails_with(this->accounts().find_by_key_prefix("ee_live_none"), errc::not_found));
  EXPECT_TRUE(fails_with(this->accounts().replace_key("missing", "ee_live_xxxx", "h"), errc::not_found));
  EXPECT_TRUE(fails_with(this->accounts().link_identity("missing", "1", "x", ""), errc::not_found));
  EXPECT_TRUE(fails_with(this->accounts().remove("missing"), errc::not_found));
  ASSERT_TRUE(ok(this->accounts().insert(make_account("acc1-id", "alpha", base_time()))));
  // Not by another key's value.
  EXPECT_TRUE(fails_with(this->accounts().get("alpha"), errc::not_found));
  EXPECT_TRUE(fails_with(this->accounts().find_by_name("acc1-id"), errc::not_found));
  EXPECT_TRUE(fails_with(this->accounts().find_by_key_prefix("acc1-id"), errc::not_found));
}

TYPED_TEST_P(AccountStoreConformance, ListOrdersByCreationThenIdAndFilters) {
  auto a = make_account("acc2-id", "alpha", seconds_after(base_time(), 1));
  auto b = make_account("acc1-id", "beta", seconds_after(base_time(), 1));
  auto c = make_account("acc3-id", "gamma", base_time());
  c.type = AccountType::launcher;
  for (auto const& x : {a, b, c}) ASSERT_TRUE(ok(this->accounts().insert(x)));
  auto all = this->accounts().list({});
  ASSERT_TRUE(ok(all));
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, "acc3-id");
  EXPECT_EQ((*all)[1].id, "acc1-id");
  EXPECT_EQ((*all)[2].id, "acc2-id");
  auto by_name = this->accounts().list({.name = "beta"});
  ASSERT_TRUE(ok(by_name));
  ASSERT_EQ(by_name->size(), 1u);
  EXPECT_EQ((*by_name)[0].id, "acc1-id");
  auto deployers = this->accounts().list({.type = AccountType::deployer});
  ASSERT_TRUE(ok(deployers));
  EXPECT_EQ(deployers->size(), 2u);
  auto none = this->accounts().list({.name = "gamma", .type = AccountType::deployer});
  ASSERT_TRUE(ok(none));
  EXPECT_TRUE(none->empty());
  auto page = this->accounts().list({.limit = 1, .offset = 1});
  ASSERT_TRUE(ok(page));
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].id, "acc1-id");
  auto rest = this->accounts().list({.offset = 2});
  ASSERT_TRUE(ok(rest));
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].id, "acc2-id");
}

TYPED_TEST_P(AccountStoreConformance, ReplaceKeySwapsPrefixAndHashTogether) {
  auto const a = make_account("acc1-id", "alpha", base_time());
  auto const b = make_account("acc2-id", "beta", base_time());
  ASSERT_TRUE(ok(this->accounts().insert(a)));
  ASSERT_TRUE(ok(this->accounts().insert(b)));
  auto replaced = this->accounts().replace_key("acc1-id", "ee_live_NEW1", "new-hash");
  ASSERT_TRUE(ok(replaced));
  EXPECT_EQ(replaced->api_key_prefix, "ee_live_NEW1");
  EXPECT_EQ(replaced->api_key_hash, "new-hash");
  EXPECT_EQ(replaced->name, "alpha");
  EXPECT_TRUE(fails_with(this->accounts().find_by_key_prefix(a.api_key_prefix), errc::not_found));
  auto found = this->accounts().find_by_key_prefix("ee_live_NEW1");
  ASSERT_TRUE(ok(found));
  EXPECT_EQ(found->id, "acc1-id");
  EXPECT_EQ(found->api_key_hash, "new-hash");
  // Another account's prefix: refused, and nothing of either account changes.
  EXPECT_TRUE(fails_with(this->accounts().replace_key("acc1-id", b.api_key_prefix, "other"), errc::conflict));
  expect_same(this->accounts().get("acc2-id").value(), b);
  EXPECT_EQ(this->accounts().get("acc1-id").value().api_key_hash, "new-hash");
}

TYPED_TEST_P(AccountStoreConformance, LinkIdentitySetsOnlyTheIdentity) {
  auto a = make_account("acc1-id", "alpha", base_time());
  ASSERT_TRUE(ok(this->accounts().insert(a)));
  auto linked = this->accounts().link_identity("acc1-id", "42", "octo", "octo-org");
  ASSERT_TRUE(ok(linked));
  a.github_id = "42";
  a.github_login = "octo";
  a.github_org = "octo-org";
  expect_same(*linked, a);
  expect_same(this->accounts().get("acc1-id").value(), a);
  auto relinked = this->accounts().link_identity("acc1-id", "43", "other", "");
  ASSERT_TRUE(ok(relinked));
  EXPECT_EQ(relinked->github_id, "43");
  EXPECT_EQ(relinked->github_org, "");
}

TYPED_TEST_P(AccountStoreConformance, RemoveDeletesAndFreesTheNameAndPrefix) {
  auto const a = make_account("acc1-id", "alpha", base_time());
  ASSERT_TRUE(ok(this->accounts().insert(a)));
  ASSERT_TRUE(ok(this->accounts().remove("acc1-id")));
  EXPECT_TRUE(fails_with(this->accounts().get("acc1-id"), errc::not_found));
  EXPECT_TRUE(fails_with(this->accounts().find_by_key_prefix(a.api_key_prefix), errc::not_found));
  EXPECT_TRUE(fails_with(this->accounts().remove("acc1-id"), errc::not_found));
  auto again = make_account("acc9-id", "alpha", base_time());
  again.api_key_prefix = a.api_key_prefix;
  EXPECT_TRUE(ok(this->accounts().insert(again)));
}

TYPED_TEST_P(AccountStoreConformance, ConcurrentInsertsOfOneNameHaveExactlyOneWinner) {
  constexpr int kThreads = 8;
  std::atomic<int> wins{0};
  std::atomic<int> conflicts{0};
  run_threads(kThreads, [&](int t) {
    auto a = make_account("acc" + std::to_string(t) + "-id", "contested", base_time());
    a.api_key_prefix = "ee_live_" + std::string(4, static_cast<char>('a' + t));
    auto r = this->accounts().insert(a);
    if (r) ++wins;
    else if (r.error() == errc::conflict) ++conflicts;
  });
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(conflicts.load(), kThreads - 1);
  EXPECT_EQ(this->accounts().list({}).value().size(), 1u);
}

REGISTER_TYPED_TEST_SUITE_P(AccountStoreConformance, InsertThenReadRoundTripsEveryFieldByEachKey,
                            EveryTypeRoundTrips, DuplicateIdNameOrKeyPrefixConflicts,
                            UnknownAccountsAreNotFoundEverywhere, ListOrdersByCreationThenIdAndFilters,
                            ReplaceKeySwapsPrefixAndHashTogether, LinkIdentitySetsOnlyTheIdentity,
                            RemoveDeletesAndFreesTheNameAndPrefix,
                            ConcurrentInsertsOfOneNameHaveExactlyOneWinner);

}  // namespace ee::registry::conformance
