// GET /api/v1/agents's snapshot (cp/agent_listing.hpp) against the listing it replaced: for a few
// hundred agents in varied states and every kind of query, the answer from the snapshot is byte
// for byte what writing each record the store lists gives (agents_json over store.list). And the
// writes that must show at once make the snapshot unusable.
#include "cp/agent_listing.hpp"
#include "cp/services.hpp"

#include <easyenclave/registry/sqlite.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using ee::cp::AgentListing;
using ee::cp::AgentSnapshot;
using ee::cp::ListingQuery;
using ee::registry::AgentFilter;
using ee::registry::AgentRecord;
using ee::registry::Health;
using ee::registry::TimePoint;

TimePoint at_seconds(std::int64_t s) { return TimePoint{} + std::chrono::seconds(1'765'000'000 + s); }

// Agent i: every field the view shows varies with i, with text that needs escaping, empty fields,
// unset times and registrations that tie (the order then goes by id).
AgentRecord varied_agent(int i) {
  AgentRecord a;
  char id[40];
  std::snprintf(id, sizeof id, "%08x-0000-4000-8000-%012d", static_cast<unsigned>(i) * 2654435761u, i);
  a.id = id;
  a.vm_name = "vm-" + std::to_string(i) + (i % 7 == 0 ? "-\"quoted\"\\" : "");
  a.owner = i % 5 == 0 ? "" : (i % 3 == 0 ? "github:org/Acme" : "github:user/Zo\xc3\xab-" + std::to_string(i % 4));
  a.owner_id = i % 6 == 0 ? std::to_string(1000 + i) : "";
  a.node_size = i % 2 == 0 ? "tiny" : "";
  a.datacenter = "gcp:us-central1-" + std::string(1, static_cast<char>('a' + i % 3));
  a.public_key = i % 9 == 0 ? "" : "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE" + std::to_string(i);
  a.agent_url = i % 4 == 0 ? "http://10.0.0." + std::to_string(i % 250) + ":8080" : "";
  a.hostname = i % 4 == 0 ? "" : "agent-" + std::to_string(i) + ".agents.example.com";
  a.tunnel_id = "tunnel-" + std::to_string(i);
  a.attestation.mrtd = std::string(96, "0123456789abcdef"[i % 16]);
  a.attestation.tcb_status = i % 3 == 0 ? "OutOfDate" : "UpToDate";
  a.attestation.advisory_ids = i % 3 == 0 ? std::vector<std::string>{"INTEL-SA-00837"} : std::vector<std::string>{};
  a.verified = i % 8 != 0;
  a.unverified_reason = a.verified ? (i % 16 == 1 ? "left over\n" : "") : "MRTD changed:\t\"a\" \x01 \xe2\x80\xa6";
  a.health = i % 3 == 0 ? Health::up : (i % 3 == 1 ? Health::down : Health::unknown);
  a.deployment_id = i % 5 == 2 ? "dep-" + std::to_string(i) : "";
  a.reported_status = i % 2 == 0 ? "running" : "";
  a.reported_digest = i % 2 == 0 ? "sha256:" + std::string(64, 'd') : "";
  a.registered_at = i % 50 == 0 ? TimePoint{} : at_seconds(i / 3);  // ties of three
  a.last_registered_at = i % 11 == 0 ? TimePoint{} : at_seconds(i);
  // Some heartbeats after the answer's `now` (an age of 0), some unset (null, a huge age).
  a.last_heartbeat_at = i % 13 == 0 ? TimePoint{} : at_seconds(i * 7) + std::chrono::milliseconds(i * 37);
  return a;
}

class AgentListingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto stores = ee::registry::open_sqlite_stores(":memory:");
    ASSERT_TRUE(stores) << stores.error().message();
    stores_ = std::move(*stores);
    for (int i = 0; i < kAgents; ++i) ASSERT_TRUE(stores_.agents->insert(varied_agent(i))) << i;
  }

  // The answer the listing gave before the snapshot: each record the store lists, written.
  std::string listed(ListingQuery const& q, TimePoint now) {
    AgentFilter filter;
    filter.status = q.status;
    filter.vm_name = q.vm_name;
    filter.owner = q.owner;
    filter.limit = q.limit;
    filter.offset = q.offset;
    return ee::cp::agents_json(stores_.agents->list(filter).value(), now);
  }

  static constexpr int kAgents = 300;
  ee::registry::Stores stores_;
};

TEST_F(AgentListingTest, AnswersByteForByteWhatWritingEachListedRecordGives) {
  auto snapshot = AgentSnapshot::read(*stores_.agents, 0, 0);
  ASSERT_TRUE(snapshot) << snapshot.error().message();
  EXPECT_EQ((*snapshot)->size(), static_cast<std::size_t>(kAgents));
  std::vector<ListingQuery> queries = {
      {},
      {.limit = 100},
      {.limit = 100, .offset = 150},
      {.offset = 299},
      {.offset = 300},
      {.limit = 1, .offset = 1000},
      {.status = "idle"},
      {.status = "deployed", .limit = 5, .offset = 3},
      {.status = "down"},
      {.status = "unverified"},
      {.status = "nonsense"},
      {.vm_name = "vm-14-\"quoted\"\\"},
      {.vm_name = "vm-15"},
      {.vm_name = "VM-15"},
      {.owner = "github:org/Acme"},
      {.owner = "GITHUB:ORG/ACME", .limit = 7, .offset = 2},
      {.owner = "github:user/Zo\xc3\xab-1"},
      {.owner = "github:user/ZO\xc3\x8b-1"},  // only ASCII letters fold, as in the stores
      {.owner = ""},
      {.status = "idle", .owner = "github:org/acme"},
      {.status = "down", .vm_name = "vm-7-\"quoted\"\\", .owner = "github:user/zo\xc3\xab-3"},
  };
  // Answers at several times, one before most heartbeats: the age is written afresh each time.
  for (auto const now : {at_seconds(-100), at_seconds(1000), at_seconds(100'000)}) {
    for (std::size_t i = 0; i < queries.size(); ++i) {
      SCOPED_TRACE("query " + std::to_string(i));
      auto const want = listed(queries[i], now);
      EXPECT_EQ((*snapshot)->json(queries[i], now), want);
    }
  }
  // Non-trivial: the queries found something, and something else than everything.
  EXPECT_NE(listed({.status = "unverified"}, at_seconds(0)), "[]");
  EXPECT_NE(listed({.owner = "GITHUB:ORG/ACME"}, at_seconds(0)), "[]");
  EXPECT_EQ(listed({.vm_name = "VM-15"}, at_seconds(0)), "[]");
}

TEST_F(AgentListingTest, AnEmptyRegistryListsNothing) {
  auto empty = ee::registry::open_sqlite_stores(":memory:").value();
  auto snapshot = AgentSnapshot::read(*empty.agents, 0, 1024);
  ASSERT_TRUE(snapshot);
  EXPECT_EQ((*snapshot)->json({}, at_seconds(0)), "[]");
  EXPECT_EQ((*snapshot)->json({.status = "idle", .limit = 3}, at_seconds(0)), "[]");
}

TEST_F(AgentListingTest, WritesThatChangeTheListingMakeTheSnapshotUnusable) {
  AgentListing listing;
  auto watched = ee::cp::watch_agent_writes(stores_, listing);
  auto const id = varied_agent(3).id;
  auto fresh = [&listing] { return listing.fresh(std::chrono::steady_clock::now()) != nullptr; };
  auto read = [&] {
    auto snapshot = listing.current(*watched.agents);
    ASSERT_TRUE(snapshot) << snapshot.error().message();
  };

  EXPECT_FALSE(fresh());  // nothing read yet
  read();
  EXPECT_TRUE(fresh());
  auto const first = listing.fresh(std::chrono::steady_clock::now());
  EXPECT_EQ(listing.current(*watched.agents).value(), first);  // a fresh one is shared, not read again
  // Used for at most kLifetime after its read ended.
  EXPECT_EQ(listing.fresh(first->read_at() + AgentListing::kLifetime), nullptr);
  EXPECT_NE(listing.fresh(first->read_at() + AgentListing::kLifetime - std::chrono::milliseconds(1)), nullptr);

  // Heartbeats change the heartbeat fields only: shown within kLifetime.
  ASSERT_TRUE(watched.agents->record_heartbeat(id, at_seconds(5000), "running", ""));
  EXPECT_TRUE(fresh());

  auto expect_unusable_after = [&](char const* what, auto write) {
    SCOPED_TRACE(what);
    read();
    ASSERT_TRUE(fresh());
    write();
    EXPECT_FALSE(fresh());
    read();
    EXPECT_TRUE(fresh());
  };
  expect_unusable_after("set_health", [&] { ASSERT_TRUE(watched.agents->set_health(id, Health::down)); });
  expect_unusable_after("set_verification",
                        [&] { ASSERT_TRUE(watched.agents->set_verification(id, false, "why", std::nullopt)); });
  expect_unusable_after("set_owner", [&] { ASSERT_TRUE(watched.agents->set_owner(id, "github:org/x", "")); });
  expect_unusable_after("set_tunnel", [&] { ASSERT_TRUE(watched.agents->set_tunnel(id, "t", "h", "d")); });
  expect_unusable_after("observe_health",
                        [&] { ASSERT_TRUE(watched.agents->observe_health(id, true, {.up_after = 1, .down_after = 1})); });
  expect_unusable_after("set_deployment", [&] { ASSERT_TRUE(watched.agents->set_deployment(id, "dep-x")); });
  expect_unusable_after("release_deployment", [&] { ASSERT_TRUE(watched.agents->release_deployment(id, "dep-x")); });
  expect_unusable_after("claim_for_deployment",
                        [&] { ASSERT_TRUE(watched.agents->claim_for_deployment(id, "dep-y")); });
  expect_unusable_after("insert", [&] { ASSERT_TRUE(watched.agents->insert(varied_agent(kAgents))); });
  expect_unusable_after("update", [&] {
    auto a = varied_agent(kAgents);
    a.hostname = "moved.example.com";
    ASSERT_TRUE(watched.agents->update(a));
  });
  expect_unusable_after("remove", [&] { ASSERT_TRUE(watched.agents->remove(id)); });
  // A failed write invalidates too: it may have committed before its connection failed.
  expect_unusable_after("a failed write", [&] { EXPECT_FALSE(watched.agents->set_health("no-such-agent", Health::up)); });

  // What a fresh read answers is what the store holds now.
  auto const now = at_seconds(100'000);
  EXPECT_EQ(listing.current(*watched.agents).value()->json({}, now),
            ee::cp::agents_json(stores_.agents->list().value(), now));
}

}  // namespace
