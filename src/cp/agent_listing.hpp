#pragma once
// GET /api/v1/agents from a snapshot of every agent's JSON instead of a record and its JSON per
// agent per request. The snapshot keeps each agent's view (views.cpp) written out except its
// age, seconds_since_heartbeat, which the answer writes afresh from `now`; filters and pages are
// applied to it with the store's own rules, in the store's order.
//
// How stale it may be: a snapshot is used for at most AgentListing::kLifetime after the read it
// came from ended (so by a second plus the read's duration, which is milliseconds for thousands
// of agents and a few hundred for 100 000), and never after a write through this process changed an agent (the stores
// watch_agent_writes wraps call AgentListing::invalidate once the write committed), except
// heartbeats and workload reports (record_heartbeat), which change only the heartbeat fields:
// those, and anything another replica on the same database writes, show within kLifetime, as
// /health's counts do. Everything else this process writes (registrations, verification,
// health, owner, tunnel, deployments, removals) shows in the next listing.
#include <easyenclave/api/catalog.hpp>
#include <easyenclave/registry/store.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ee::cp {

// --- in views.cpp, beside agent_json ----------------------------------------------------------

/// The agent's view but its age (seconds_since_heartbeat), into `v`, reusing v's strings.
void fill_agent_view(api::AgentView& v, registry::AgentRecord const& agent);
/// An agent view's seconds_since_heartbeat: whole seconds from `last_heartbeat_at` to `now`,
/// 0 when `now` is earlier.
std::int64_t seconds_since_heartbeat(registry::TimePoint last_heartbeat_at, registry::TimePoint now);

/// The listing's query: AgentFilter's status, vm_name, owner, limit and offset, with the same
/// meaning.
struct ListingQuery {
  std::optional<std::string> status{};
  std::optional<std::string> vm_name{};
  std::optional<std::string> owner{};  ///< compared with ASCII case folding, like the stores
  std::optional<std::size_t> limit{};
  std::size_t offset = 0;
};

/// Every agent's public JSON as of one read of the store, in the store's listing order.
/// Immutable once built; shared by the answers that use it.
class AgentSnapshot {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  /// Reads every agent from `store` (AgentStore::for_each, one record reused). `generation` is
  /// the listing's generation taken before the read started; read_at() is when it ended.
  /// `expected_bytes` sizes the buffer (the previous snapshot's size). Errors: the store's.
  static result<std::shared_ptr<AgentSnapshot const>> read(registry::AgentStore& store, std::uint64_t generation,
                                                            std::size_t expected_bytes);

  /// The JSON array of the agents matching `query`, each with its age at `now`: byte for byte
  /// what agents_json(store.list(filter), now) gives for the same records.
  std::string json(ListingQuery const& query, registry::TimePoint now) const;

  std::size_t size() const noexcept { return entries_.size(); }
  std::size_t bytes() const noexcept { return json_.size(); }
  std::uint64_t generation() const noexcept { return generation_; }
  SteadyTime read_at() const noexcept { return read_at_; }

 private:
  struct Entry {
    std::size_t json_at = 0;  // in json_: the view without its age and closing brace
    std::size_t json_size = 0;
    std::size_t vm_name_at = 0;  // in keys_: the vm_name, then the owner
    std::size_t vm_name_size = 0;
    std::size_t owner_size = 0;
    std::string_view status{};  // registry::agent_status: a static string
    registry::TimePoint last_heartbeat_at{};
  };
  bool matches(Entry const& e, ListingQuery const& query) const;

  std::string json_;
  std::string keys_;
  std::vector<Entry> entries_;
  std::uint64_t generation_ = 0;
  SteadyTime read_at_{};
};

/// The snapshot in use and when it must be read again. Thread-safe.
class AgentListing {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;
  /// The longest a snapshot is used after its read ended.
  static constexpr std::chrono::seconds kLifetime{1};

  /// A write through this process changed an agent: the next listing reads the store again.
  void invalidate() noexcept { generation_.fetch_add(1, std::memory_order_acq_rel); }

  /// The snapshot to answer with at `now`, if one is fresh: never blocks on a read (I/O threads).
  std::shared_ptr<AgentSnapshot const> fresh(SteadyTime now) const;

  /// The snapshot to answer with, reading `store` when none is fresh. Blocking: run it on the
  /// store pool. One read at a time: callers that come while one runs wait and share it.
  result<std::shared_ptr<AgentSnapshot const>> current(registry::AgentStore& store);

 private:
  bool usable(AgentSnapshot const& snapshot, SteadyTime now) const noexcept;

  std::atomic<std::uint64_t> generation_{0};
  mutable std::mutex mutex_;  // guards snapshot_
  std::shared_ptr<AgentSnapshot const> snapshot_;
  std::mutex read_mutex_;  // one read of the store at a time
};

/// `stores` with its agent and deployment stores wrapped so that every write that may change an
/// agent's listing (see above: all but record_heartbeat) calls `listing.invalidate()` after it
/// returns. The other stores are returned as they are.
registry::Stores watch_agent_writes(registry::Stores stores, AgentListing& listing);

}  // namespace ee::cp
