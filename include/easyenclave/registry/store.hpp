#pragma once
/// @file The control plane's storage ports, in domain terms only (no SQL leaks through).
///
/// Contract shared by every implementation (and checked by the conformance suite in
/// tests/registry/store_conformance.hpp):
/// - every method is one transaction: it either commits entirely before returning success or
///   changes nothing;
/// - implementations are thread-safe and blocking; coroutines reach them from a worker pool;
/// - errors carry registry::errc: not_found, conflict (duplicate key), or
///   store_unavailable/store_corrupt (condition::upstream_failure);
/// - lists are returned in a stable order (documented per method).
#include <easyenclave/error.hpp>
#include <easyenclave/registry/error.hpp>
#include <easyenclave/registry/types.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ee::registry {

/// Filters of `AgentStore::list`; an unset member matches everything.
struct AgentFilter {
  std::optional<std::string> vm_name{};
  std::optional<std::string> owner{};          ///< compared case-insensitively
  std::optional<std::string> status{};         ///< compared with `agent_status()`
  std::optional<TimePoint> heartbeat_before{};  ///< last_heartbeat_at strictly before this
  std::optional<std::size_t> limit{};
  std::size_t offset = 0;  ///< rows skipped first, in the listing's order (for paging)
};

class AgentStore {
 public:
  virtual ~AgentStore() = default;
  /// Inserts a new agent. errc::conflict when the id or vm_name exists.
  virtual result<AgentRecord> insert(AgentRecord const& agent) = 0;
  /// Replaces every field of the agent with `agent.id`. errc::not_found when absent;
  /// errc::conflict when the new vm_name belongs to another agent.
  virtual result<AgentRecord> update(AgentRecord const& agent) = 0;
  virtual result<AgentRecord> get(std::string const& id) = 0;  ///< errc::not_found
  virtual result<AgentRecord> find_by_vm_name(std::string const& vm_name) = 0;  ///< errc::not_found
  /// Ordered by registered_at, then id.
  virtual result<std::vector<AgentRecord>> list(AgentFilter const& filter = {}) = 0;
  /// Calls `visit` with each agent `list(filter)` returns, in the same order and from one
  /// snapshot, without holding them all: the record passed is reused from one call to the next
  /// (copy what you keep). `visit` must not call the store. For readers of every agent (the CP's
  /// listing); the default reads the whole list first.
  virtual result<void> for_each(AgentFilter const& filter, std::function<void(AgentRecord const&)> const& visit) {
    auto agents = list(filter);
    if (!agents) return agents.error();
    for (auto const& agent : *agents) visit(agent);
    return {};
  }
  virtual result<std::size_t> count() = 0;
  /// A heartbeat: sets last_heartbeat_at, reported_status and reported_digest. errc::not_found.
  virtual result<void> record_heartbeat(std::string const& id, TimePoint at,
                                        std::string const& status, std::string const& digest) = 0;
  /// Marks the agent verified (with a fresh attestation when given) or unverified with a reason.
  virtual result<void> set_verification(std::string const& id, bool verified, std::string const& reason,
                                        std::optional<AttestationRecord> const& attestation) = 0;
  virtual result<void> set_health(std::string const& id, Health health) = 0;  ///< errc::not_found
  /// Sets the owner label and the proven owner id, and nothing else (an operator moving the agent
  /// to another owner; a concurrent heartbeat or deploy keeps what it wrote). errc::not_found.
  virtual result<void> set_owner(std::string const& id, std::string const& owner, std::string const& owner_id) = 0;
  /// Sets tunnel_id, hostname and dns_record_id, and nothing else (the tunnel recreated by a
  /// reset). errc::not_found.
  virtual result<void> set_tunnel(std::string const& id, std::string const& tunnel_id, std::string const& hostname,
                                  std::string const& dns_record_id) = 0;
  /// Counts one health-scrape outcome and applies `rule` in one atomic step: a success resets
  /// the failure count and adds to the success count (and the reverse), and a count reaching its
  /// threshold sets the health. The counts live with the agent, so the hysteresis survives a
  /// restart and carries over to the replica that runs the next scrape. Returns the health after
  /// this outcome. errc::not_found.
  virtual result<Health> observe_health(std::string const& id, bool healthy, HealthHysteresis const& rule) = 0;
  /// Sets the deployment the agent holds ("" = idle). errc::not_found.
  virtual result<void> set_deployment(std::string const& id, std::string const& deployment_id) = 0;
  /// Assigns `deployment_id` only if the agent holds no deployment now (compare-and-set, so two
  /// concurrent deploys cannot both take the agent). errc::not_found; errc::conflict when busy.
  virtual result<void> claim_for_deployment(std::string const& id, std::string const& deployment_id) = 0;
  /// Clears the agent's deployment only if it is `deployment_id` now (compare-and-set, so
  /// releasing a deployment that is over never frees an agent a newer deploy has claimed since).
  /// errc::not_found; errc::conflict when the agent holds another deployment or none.
  virtual result<void> release_deployment(std::string const& id, std::string const& deployment_id) = 0;
  virtual result<void> remove(std::string const& id) = 0;  ///< errc::not_found
};

class TrustedMeasurementStore {
 public:
  virtual ~TrustedMeasurementStore() = default;
  /// errc::conflict when the mrtd is already trusted.
  virtual result<TrustedMeasurement> add(TrustedMeasurement const& m) = 0;
  virtual result<TrustedMeasurement> get(std::string const& mrtd) = 0;  ///< errc::not_found
  /// Ordered by added_at, then mrtd.
  virtual result<std::vector<TrustedMeasurement>> list() = 0;
  virtual result<void> remove(std::string const& mrtd) = 0;  ///< errc::not_found
};

class AppStore {
 public:
  virtual ~AppStore() = default;
  /// Creates the app with its first version in one transaction. errc::conflict when the name exists.
  virtual result<App> create(App const& app, AppVersion const& first_version) = 0;
  virtual result<App> get(std::string const& name) = 0;  ///< errc::not_found
  /// Ordered by name.
  virtual result<std::vector<App>> list() = 0;
  /// errc::not_found when the app is absent; errc::conflict when the version exists.
  virtual result<AppVersion> add_version(AppVersion const& version) = 0;
  virtual result<AppVersion> get_version(std::string const& app_name,
                                         std::string const& version) = 0;  ///< errc::not_found
  /// Ordered by published_at, then version. errc::not_found when the app is absent.
  virtual result<std::vector<AppVersion>> list_versions(std::string const& app_name) = 0;
};

struct DeploymentFilter {
  std::optional<std::string> agent_id{};
  std::optional<std::string> rollout_id{};
  std::optional<std::string> app_name{};
  std::optional<DeploymentStatus> status{};
  std::optional<TimePoint> updated_before{};  ///< updated_at strictly before this
  std::optional<std::size_t> limit{};
  std::size_t offset = 0;  ///< rows skipped first, in the listing's order (for paging)
};

/// What a deployment's status change does to the deployment its agent holds, in the same
/// transaction. Applied only while the agent holds that deployment: an agent a newer deploy has
/// claimed since keeps what it holds.
enum class AgentHold {
  keep,       ///< nothing
  release,    ///< the agent holds nothing afterwards
  hand_back,  ///< the agent holds the deployment's `replaces` again (nothing when that is "")
};

/// Deployments. An implementation shares its database with the AgentStore of the same Stores:
/// the methods that move an agent's `deployment_id` along with a deployment do both in one
/// transaction, so a crash never leaves an agent claimed by a deployment that has no record.
class DeploymentStore {
 public:
  virtual ~DeploymentStore() = default;
  virtual result<Deployment> insert(Deployment const& d) = 0;  ///< errc::conflict on a duplicate id
  /// Inserts `d` and has its agent hold it, in one transaction, if the agent holds `held_now`
  /// now ("" for an idle agent; for an upgrade, the deployment `d.replaces`): the compare-and-set
  /// that keeps two deploys racing for one agent from both winning. errc::not_found when the
  /// agent is absent; errc::conflict when it holds another deployment, or on a duplicate id.
  virtual result<Deployment> insert_holding(Deployment const& d, std::string const& held_now) = 0;
  virtual result<Deployment> get(std::string const& id) = 0;   ///< errc::not_found
  /// Newest first (created_at descending, then id).
  virtual result<std::vector<Deployment>> list(DeploymentFilter const& filter = {}) = 0;
  /// Every status (or detail) the deployment took, oldest first: its insert and each change
  /// after it, as the database recorded them in the same transaction. Empty for an unknown id.
  virtual result<std::vector<DeploymentChange>> history(std::string const& id) = 0;
  /// Sets status, detail and updated_at. errc::not_found.
  virtual result<Deployment> set_status(std::string const& id, DeploymentStatus status,
                                        std::string const& detail, TimePoint at) = 0;
  /// Sets status, detail and updated_at only if the status is `expected` now (compare-and-set,
  /// so a background pass never overwrites what a concurrent request decided), and applies
  /// `hold` to its agent in the same transaction. errc::not_found; errc::conflict when the
  /// status is another.
  virtual result<Deployment> set_status_if(std::string const& id, DeploymentStatus expected,
                                           DeploymentStatus status, std::string const& detail,
                                           TimePoint at, AgentHold hold = AgentHold::keep) = 0;
  /// Starts a queued deployment: `queued` becomes `pending`, `replaces` becomes `held_now`, and
  /// its agent holds it if the agent holds `held_now` now; all in one transaction.
  /// errc::not_found; errc::conflict when it is not queued or the agent holds another.
  virtual result<Deployment> start_queued(std::string const& id, std::string const& held_now,
                                          TimePoint at) = 0;
};

class BootstrapTokenStore {
 public:
  virtual ~BootstrapTokenStore() = default;
  /// errc::conflict on a duplicate id or token_hash.
  virtual result<BootstrapToken> insert(BootstrapToken const& token) = 0;
  /// errc::not_found.
  virtual result<BootstrapToken> find_by_hash(std::string const& token_hash) = 0;
  /// Spends one use: the token after the decrement. errc::not_found for an unknown id;
  /// errc::conflict when no use is left or it expired at `now` (the compare-and-set that keeps a
  /// one-time token one-time under concurrent registrations).
  virtual result<BootstrapToken> use(std::string const& id, TimePoint now) = 0;
  /// The tokens of one owner id, newest first (created_at descending, then id).
  virtual result<std::vector<BootstrapToken>> list_by_owner_id(std::string const& owner_id) = 0;
  virtual result<void> remove(std::string const& id) = 0;  ///< errc::not_found
  /// Removes tokens expired at `now` or with no use left; returns how many.
  virtual result<std::size_t> purge(TimePoint now) = 0;
};

/// Login sessions (admin password, GitHub OAuth).
class LoginSessionStore {
 public:
  virtual ~LoginSessionStore() = default;
  /// errc::conflict on a duplicate id.
  virtual result<LoginSession> insert(LoginSession const& session) = 0;
  /// The sessions whose token starts with `token_prefix` and that have not expired at `now`
  /// (several tokens may share a prefix; the caller verifies each hash).
  virtual result<std::vector<LoginSession>> find_by_prefix(std::string const& token_prefix, TimePoint now) = 0;
  virtual result<LoginSession> get(std::string const& id) = 0;  ///< errc::not_found
  virtual result<void> remove(std::string const& id) = 0;       ///< errc::not_found
  /// Removes sessions expired at `now`; returns how many.
  virtual result<std::size_t> purge(TimePoint now) = 0;
};

struct AccountFilter {
  std::optional<std::string> name{};  ///< exactly this name
  std::optional<AccountType> type{};
  std::optional<std::size_t> limit{};
  std::size_t offset = 0;  ///< rows skipped first, in the listing's order (for paging)
};

/// Accounts and their API keys (the control plane's accounts routes). Keys are found by their
/// lookup prefix; the database keeps names and prefixes unique.
class AccountStore {
 public:
  virtual ~AccountStore() = default;
  /// errc::conflict when the id, the name or the api_key_prefix exists.
  virtual result<Account> insert(Account const& account) = 0;
  virtual result<Account> get(std::string const& id) = 0;                        ///< errc::not_found
  virtual result<Account> find_by_name(std::string const& name) = 0;             ///< errc::not_found
  virtual result<Account> find_by_key_prefix(std::string const& prefix) = 0;     ///< errc::not_found
  /// Accounts oldest first (created_at, then id).
  virtual result<std::vector<Account>> list(AccountFilter const& filter) = 0;
  /// Replaces the key's prefix and hash together in one statement: the old key stops matching
  /// the moment the new one is stored. The account after. errc::not_found; errc::conflict when
  /// another account has `prefix`.
  virtual result<Account> replace_key(std::string const& id, std::string const& prefix,
                                      std::string const& hash) = 0;
  /// Sets the linked GitHub identity (id, login, org). The account after. errc::not_found.
  virtual result<Account> link_identity(std::string const& id, std::string const& github_id,
                                        std::string const& github_login, std::string const& github_org) = 0;
  virtual result<void> remove(std::string const& id) = 0;  ///< errc::not_found
};

/// Settings set at run time (the control plane's admin settings routes).
class SettingStore {
 public:
  virtual ~SettingStore() = default;
  /// Every stored setting, by name.
  virtual result<std::vector<SettingRow>> list() = 0;
  /// Sets `row.name` (insert or replace).
  virtual result<void> put(SettingRow const& row) = 0;
  virtual result<void> remove(std::string const& name) = 0;  ///< errc::not_found
};

/// Keys used once until they expire: the control plane's spent nonces and the request signatures
/// its replay guard has accepted. In one process they live in memory
/// (`make_memory_once_store`); replicas of one control plane share a database's.
class OnceStore {
 public:
  virtual ~OnceStore() = default;
  /// Records `key` until `expires_at`: true the first time; false while it is recorded, or when
  /// it has already expired at `now`. errc::store_full when the store keeps no more keys and
  /// refuses rather than forget one.
  virtual result<bool> first_use(std::string const& key, TimePoint expires_at, TimePoint now) = 0;
  /// Forgets `key` (a nonce whose use failed later is usable again); success when absent.
  virtual result<void> forget(std::string const& key) = 0;
  /// Forgets the keys expired at `now`; returns how many.
  virtual result<std::size_t> purge(TimePoint now) = 0;
  virtual result<std::size_t> count() = 0;
};

/// Leases of background work, so that of the control plane processes sharing a database one at a
/// time runs each pass (nonce purge, stale agents, health scrapes).
class LeaseStore {
 public:
  virtual ~LeaseStore() = default;
  /// Takes the lease `name` for `holder` until `now + ttl` when it is free, expired at `now`, or
  /// already `holder`'s (which renews it): true; false while another holder's lease is live.
  virtual result<bool> acquire(std::string const& name, std::string const& holder, TimePoint now,
                               std::chrono::seconds ttl) = 0;
  /// Gives the lease up if `holder` has it (a process that stops lets another take over at once).
  virtual result<void> release(std::string const& name, std::string const& holder) = 0;
};

/// The stores a control plane uses. An embedder may mix implementations.
struct Stores {
  std::shared_ptr<AgentStore> agents{};
  std::shared_ptr<TrustedMeasurementStore> measurements{};
  std::shared_ptr<AppStore> apps{};
  std::shared_ptr<DeploymentStore> deployments{};
  std::shared_ptr<BootstrapTokenStore> bootstrap_tokens{};
  std::shared_ptr<AccountStore> accounts{};
  /// Null: settings cannot be changed at run time (the admin settings routes answer 503).
  std::shared_ptr<SettingStore> settings{};
  /// Null: no login sessions (POST /admin/login and GitHub OAuth answer 503).
  std::shared_ptr<LoginSessionStore> sessions{};
  /// Null: the control plane keeps its own in memory (one process).
  std::shared_ptr<OnceStore> nonces{};
  std::shared_ptr<OnceStore> replays{};
  std::shared_ptr<LeaseStore> leases{};
};

/// Single-use keys in memory, at most `capacity` of them; when full, `first_use` either forgets
/// the key that expires soonest (`refuse_when_full` false: a replay guard) or answers
/// errc::store_full (spent nonces, where forgetting one would let it be spent again).
std::shared_ptr<OnceStore> make_memory_once_store(std::size_t capacity, bool refuse_when_full);

}  // namespace ee::registry
