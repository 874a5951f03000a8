// The listing's snapshot (agent_listing.hpp): read once, answered from many times.
#include "cp/agent_listing.hpp"

#include <easyenclave/api/catalog.hpp>

#include <algorithm>
#include <utility>

namespace ee::cp {
namespace {

// SQLite's NOCASE and PostgreSQL's lower() under the "C" collation: ASCII letters only.
char fold(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equal_folding_ascii(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (fold(a[i]) != fold(b[i])) return false;
  }
  return true;
}

// The largest age: ",\"seconds_since_heartbeat\":" (27), 19 digits and a brace, rounded up.
constexpr std::size_t kAgeBytes = 48;

}  // namespace

result<std::shared_ptr<AgentSnapshot const>> AgentSnapshot::read(registry::AgentStore& store,
                                                                  std::uint64_t generation,
                                                                  std::size_t expected_bytes) {
  auto snapshot = std::make_shared<AgentSnapshot>();
  snapshot->generation_ = generation;
  // Sized once from the count: grown by doubling, a 62 MB buffer leaves its 16 and 32 MB
  // predecessors in the malloc arena of the store thread. Pages reserved but never written are
  // not resident.
  std::size_t agents = 0;
  if (auto count = store.count()) agents = *count + *count / 16 + 16;
  std::size_t const per_agent = 1024;
  snapshot->json_.reserve(std::max(expected_bytes + expected_bytes / 8, agents * per_agent));
  snapshot->keys_.reserve(agents * 64);
  snapshot->entries_.reserve(agents);
  api::AgentView view;  // refilled for every agent
  auto done = store.for_each({}, [&snapshot, &view](registry::AgentRecord const& agent) {
    auto& s = *snapshot;
    Entry e;
    e.json_at = s.json_.size();
    fill_agent_view(view, agent);
    api::append_json_without_age(s.json_, view);
    e.json_size = s.json_.size() - e.json_at;
    e.vm_name_at = s.keys_.size();
    e.vm_name_size = agent.vm_name.size();
    e.owner_size = agent.owner.size();
    s.keys_ += agent.vm_name;
    s.keys_ += agent.owner;
    e.status = registry::agent_status(agent);
    e.last_heartbeat_at = agent.last_heartbeat_at;
    s.entries_.push_back(e);
  });
  if (!done) return done.error();
  // Its lifetime starts when the read ends, so a read that takes long (a large registry, a
  // loaded machine) still serves the requests that waited for it and the next ones.
  snapshot->read_at_ = std::chrono::steady_clock::now();
  return std::shared_ptr<AgentSnapshot const>(std::move(snapshot));
}

bool AgentSnapshot::matches(Entry const& e, ListingQuery const& query) const {
  if (query.status && e.status != *query.status) return false;
  std::string_view const keys(keys_);
  if (query.vm_name && keys.substr(e.vm_name_at, e.vm_name_size) != *query.vm_name) return false;
  if (query.owner && !equal_folding_ascii(keys.substr(e.vm_name_at + e.vm_name_size, e.owner_size), *query.owner)) {
    return false;
  }
  return true;
}

std::string AgentSnapshot::json(ListingQuery const& query, registry::TimePoint now) const {
  bool const filtered = query.status || query.vm_name || query.owner;
  // The page, as positions in entries_: the offset-th match on, at most limit of them.
  std::vector<std::size_t> page;
  std::size_t bytes = 2;
  std::size_t skipped = 0;
  auto const limit = query.limit.value_or(entries_.size());
  if (!filtered) {
    for (std::size_t i = query.offset; i < entries_.size() && page.size() < limit; ++i) page.push_back(i);
  } else {
    for (std::size_t i = 0; i < entries_.size() && page.size() < limit; ++i) {
      if (!matches(entries_[i], query)) continue;
      if (skipped < query.offset) {
        ++skipped;
        continue;
      }
      page.push_back(i);
    }
  }
  for (auto i : page) bytes += entries_[i].json_size + kAgeBytes + 1;
  std::string out;
  out.reserve(bytes);
  out += '[';
  for (auto i : page) {
    auto const& e = entries_[i];
    if (out.size() > 1) out += ',';
    out.append(json_, e.json_at, e.json_size);
    api::append_json_age(out, seconds_since_heartbeat(e.last_heartbeat_at, now));
  }
  out += ']';
  return out;
}

bool AgentListing::usable(AgentSnapshot const& snapshot, SteadyTime now) const noexcept {
  return snapshot.generation() == generation_.load(std::memory_order_acquire) && now >= snapshot.read_at() &&
         now - snapshot.read_at() < kLifetime;
}

std::shared_ptr<AgentSnapshot const> AgentListing::fresh(SteadyTime now) const {
  std::shared_ptr<AgentSnapshot const> snapshot;
  {
    std::lock_guard lock(mutex_);
    snapshot = snapshot_;
  }
  if (snapshot && usable(*snapshot, now)) return snapshot;
  return nullptr;
}

result<std::shared_ptr<AgentSnapshot const>> AgentListing::current(registry::AgentStore& store) {
  std::lock_guard reading(read_mutex_);
  // Taken after the wait: a caller that waited for another's read uses what it read.
  if (auto snapshot = fresh(std::chrono::steady_clock::now())) return snapshot;
  std::size_t expected_bytes = 0;
  {
    std::lock_guard lock(mutex_);
    if (snapshot_) expected_bytes = snapshot_->bytes();
  }
  // The generation before the read: a write that commits during it makes the snapshot unusable.
  auto const generation = generation_.load(std::memory_order_acquire);
  auto snapshot = AgentSnapshot::read(store, generation, expected_bytes);
  if (!snapshot) return snapshot.error();
  {
    std::lock_guard lock(mutex_);
    snapshot_ = *snapshot;
  }
  return snapshot;
}

// --- the stores that invalidate it -------------------------------------------------------------

namespace {

// Calls `listing.invalidate()` after `write` returns, committed or not (a failed write may still
// have committed on a database that lost the connection after the commit).
template <class F>
auto invalidating(AgentListing& listing, F&& write) {
  auto out = std::forward<F>(write)();
  listing.invalidate();
  return out;
}

class WatchedAgents final : public registry::AgentStore {
 public:
  WatchedAgents(std::shared_ptr<registry::AgentStore> inner, AgentListing& listing)
      : inner_(std::move(inner)), listing_(listing) {}

  result<registry::AgentRecord> insert(registry::AgentRecord const& agent) override {
    return invalidating(listing_, [&] { return inner_->insert(agent); });
  }
  result<registry::AgentRecord> update(registry::AgentRecord const& agent) override {
    return invalidating(listing_, [&] { return inner_->update(agent); });
  }
  result<registry::AgentRecord> get(std::string const& id) override { return inner_->get(id); }
  result<registry::AgentRecord> find_by_vm_name(std::string const& vm_name) override {
    return inner_->find_by_vm_name(vm_name);
  }
  result<std::vector<registry::AgentRecord>> list(registry::AgentFilter const& filter) override {
    return inner_->list(filter);
  }
  result<void> for_each(registry::AgentFilter const& filter,
                        std::function<void(registry::AgentRecord const&)> const& visit) override {
    return inner_->for_each(filter, visit);
  }
  result<std::size_t> count() override { return inner_->count(); }
  // Heartbeat fields only: shown within AgentListing::kLifetime (agent_listing.hpp).
  result<void> record_heartbeat(std::string const& id, registry::TimePoint at, std::string const& status,
                                std::string const& digest) override {
    return inner_->record_heartbeat(id, at, status, digest);
  }
  result<void> set_verification(std::string const& id, bool verified, std::string const& reason,
                                std::optional<registry::AttestationRecord> const& attestation) override {
    return invalidating(listing_, [&] { return inner_->set_verification(id, verified, reason, attestation); });
  }
  result<void> set_health(std::string const& id, registry::Health health) override {
    return invalidating(listing_, [&] { return inner_->set_health(id, health); });
  }
  result<void> set_owner(std::string const& id, std::string const& owner, std::string const& owner_id) override {
    return invalidating(listing_, [&] { return inner_->set_owner(id, owner, owner_id); });
  }
  result<void> set_tunnel(std::string const& id, std::string const& tunnel_id, std::string const& hostname,
                          std::string const& dns_record_id) override {
    return invalidating(listing_, [&] { return inner_->set_tunnel(id, tunnel_id, hostname, dns_record_id); });
  }
  // Counts move on every scrape; the health the listing shows changes only at a threshold.
  result<registry::Health> observe_health(std::string const& id, bool healthy,
                                          registry::HealthHysteresis const& rule) override {
    return invalidating(listing_, [&] { return inner_->observe_health(id, healthy, rule); });
  }
  result<void> set_deployment(std::string const& id, std::string const& deployment_id) override {
    return invalidating(listing_, [&] { return inner_->set_deployment(id, deployment_id); });
  }
  result<void> claim_for_deployment(std::string const& id, std::string const& deployment_id) override {
    return invalidating(listing_, [&] { return inner_->claim_for_deployment(id, deployment_id); });
  }
  result<void> release_deployment(std::string const& id, std::string const& deployment_id) override {
    return invalidating(listing_, [&] { return inner_->release_deployment(id, deployment_id); });
  }
  result<void> remove(std::string const& id) override {
    return invalidating(listing_, [&] { return inner_->remove(id); });
  }

 private:
  std::shared_ptr<registry::AgentStore> inner_;
  AgentListing& listing_;
};

// The deployment writes that move an agent's deployment_id with them (insert_holding,
// set_status_if, start_queued) invalidate; so do the others, which are rare.
class WatchedDeployments final : public registry::DeploymentStore {
 public:
  WatchedDeployments(std::shared_ptr<registry::DeploymentStore> inner, AgentListing& listing)
      : inner_(std::move(inner)), listing_(listing) {}

  result<registry::Deployment> insert(registry::Deployment const& d) override {
    return invalidating(listing_, [&] { return inner_->insert(d); });
  }
  result<registry::Deployment> insert_holding(registry::Deployment const& d, std::string const& held_now) override {
    return invalidating(listing_, [&] { return inner_->insert_holding(d, held_now); });
  }
  result<registry::Deployment> get(std::string const& id) override { return inner_->get(id); }
  result<std::vector<registry::Deployment>> list(registry::DeploymentFilter const& filter) override {
    return inner_->list(filter);
  }
  result<std::vector<registry::DeploymentChange>> history(std::string const& id) override {
    return inner_->history(id);
  }
  result<registry::Deployment> set_status(std::string const& id, registry::DeploymentStatus status,
                                          std::string const& detail, registry::TimePoint at) override {
    return invalidating(listing_, [&] { return inner_->set_status(id, status, detail, at); });
  }
  result<registry::Deployment> set_status_if(std::string const& id, registry::DeploymentStatus expected,
                                             registry::DeploymentStatus status, std::string const& detail,
                                             registry::TimePoint at, registry::AgentHold hold) override {
    return invalidating(listing_, [&] { return inner_->set_status_if(id, expected, status, detail, at, hold); });
  }
  result<registry::Deployment> start_queued(std::string const& id, std::string const& held_now,
                                            registry::TimePoint at) override {
    return invalidating(listing_, [&] { return inner_->start_queued(id, held_now, at); });
  }

 private:
  std::shared_ptr<registry::DeploymentStore> inner_;
  AgentListing& listing_;
};

}  // namespace

registry::Stores watch_agent_writes(registry::Stores stores, AgentListing& listing) {
  if (stores.agents) stores.agents = std::make_shared<WatchedAgents>(std::move(stores.agents), listing);
  if (stores.deployments) {
    stores.deployments = std::make_shared<WatchedDeployments>(std::move(stores.deployments), listing);
  }
  return stores;
}

}  // namespace ee::cp
