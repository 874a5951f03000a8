// The composition root of the control plane: checks the configuration, fills in defaults,
// builds Services, the routes and the server, and runs the background tasks.
#include <easyenclave/cp/control_plane.hpp>
#include <easyenclave/http/address.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/registry/sqlite.hpp>
#include <easyenclave/tdx/simulator.hpp>

#include "cp/agent_listing.hpp"
#include "cp/counted_stores.hpp"
#include "cp/deployments.hpp"
#include "cp/routes/routes.hpp"
#include "detail/crypto.hpp"
#include "detail/log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <easyenclave/block_on.hpp>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

namespace ee::cp {
namespace {

namespace asio = boost::asio;

// Parsed agent keys kept for heartbeats: more than the agents one CP serves (bench_cp_load runs
// 100 000), at about 1 KiB each.
constexpr std::size_t kAgentKeyCacheSize = 200'000;

// Signatures of signed requests remembered within their window (api::ReplayGuard's bound): past
// it the soonest to leave the window is forgotten.
constexpr std::size_t kReplayGuardSize = 100'000;

// Production refuses configurations that would admit forged or replayed evidence (DESIGN.md:
// "a production CP refuses to start with" the simulator root). --dev skips these checks.
result<void> check_production_safety(Options const& o, std::size_t trusted_count) {
  if (o.quote_root.common_name() == tdx::kSimulatorRootName) {
    return Error(errc::unsafe_configuration, "the simulator root is trusted for quotes; only --dev allows that");
  }
  if (o.owner_proof_mode.value_or(OwnerProofMode::required) != OwnerProofMode::required) {
    return Error(errc::unsafe_configuration, "owner proof is '" + std::string(to_string(*o.owner_proof_mode)) +
                                                 "'; production requires 'required' (or --dev)");
  }
  if (o.policy.nonce_mode != NonceMode::required) {
    return Error(errc::unsafe_configuration, "nonce checking is '" + std::string(to_string(o.policy.nonce_mode)) +
                                                 "'; production requires 'required' (or --dev)");
  }
  if (trusted_count == 0) {
    return Error(errc::unsafe_configuration, "no trusted MRTD is configured (--trusted-mrtd, or the admin API with --dev first)");
  }
  if (o.quote_provider && o.quote_provider->name() == "simulator") {
    return Error(errc::unsafe_configuration, "the simulator quote provider serves the CP's attestation; only --dev allows that");
  }
  return {};
}

// Runs one background pass and counts it (ee_cp_task_runs_total, ee_cp_task_duration_seconds).
template <class Pass>
asio::awaitable<result<void>> run_counted(Services& s, std::string const& task, Pass pass) {
  auto const started = std::chrono::steady_clock::now();
  result<void> r = co_await pass();
  s.metrics.task_durations.with({task}).observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  s.metrics.task_runs.with({task, outcome_of(r)}).inc();
  co_return r;
}

using Pass = asio::awaitable<result<void>> (*)(Services&);

// Runs `pass` every `interval` as the task `task`. A leased pass runs only while this process
// holds the lease named `task` (Stores::leases), so of the processes sharing a database one runs
// it; the lease lasts two intervals, so another takes over within two intervals of the holder's
// death. A failed pass is logged and tried again at the next interval.
asio::awaitable<void> every(std::chrono::seconds interval, Services& s, std::string task, Pass pass, bool leased) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_after(interval);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    if (leased) {
      auto held = co_await s.store([&s, &task, interval] {
        return s.stores.leases->acquire(task, s.instance_id, s.now(), 2 * interval);
      });
      if (!held) {
        detail::log::warn("cp", "lease ", task, " not taken: ", held.error().message());
        s.metrics.task_runs.with({task, held.error().id()}).inc();
        continue;
      }
      if (!*held) {  // another process runs it
        s.metrics.task_runs.with({task, "skipped"}).inc();
        continue;
      }
    }
    auto r = co_await run_counted(s, task, [&s, pass] { return pass(s); });
    if (!r) detail::log::warn("cp", task, " failed: ", r.error().message());
  }
}

asio::awaitable<result<void>> maintenance_pass(Services& s) {
  auto r = co_await run_maintenance_pass(s);
  if (!r) co_return r.error();
  co_return result<void>{};
}

// How often stored settings are read again: a change on another replica applies within it.
constexpr std::chrono::seconds kSettingsRefresh{5};

asio::awaitable<result<void>> settings_pass(Services& s) {
  co_return co_await s.store([&s] { return s.live->refresh(); });
}

asio::awaitable<result<void>> health_pass(Services& s) { co_return co_await run_health_scrape(s); }

asio::awaitable<void> rollout_pass(Services& s, std::string rollout_id) {
  auto r = co_await run_counted(s, "rollout", [&s, &rollout_id] { return advance_rollout(s, rollout_id); });
  if (!r) {
    detail::log::warn("cp", "rolling deploy rollout=", rollout_id, " not advanced: ", r.error().message(),
                      "; the maintenance pass tries again");
  }
}

// Runs once, right after the server is up: agents that answer slowly delay nothing else. Under
// the "recovery" lease, so that of processes starting together on one database one recovers;
// the others leave the in-flight deployments to it (or to the deploy timeout). The lease is
// short (a minute, or four agent calls) because a process killed while recovering leaves it
// behind, and a process started after that must not wait long to recover in its place.
constexpr char kRecoveryLease[] = "recovery";

asio::awaitable<void> recovery_pass(Services& s, InFlight in_flight) {
  auto const ttl = std::max(std::chrono::seconds(60), 4 * s.timings().agent_call_timeout);
  auto held = co_await s.store([&s, ttl] { return s.stores.leases->acquire(kRecoveryLease, s.instance_id, s.now(), ttl); });
  if (!held || !*held) {
    detail::log::info("cp", "recovery after restart left to another process: ",
                      held ? std::string("it holds the lease") : held.error().message());
    co_return;
  }
  auto r = co_await run_counted(s, kRecoveryLease, [&s, &in_flight]() -> asio::awaitable<result<void>> {
    auto recovered = co_await recover_in_flight(s, in_flight, s.now() - dispatch_grace(s));
    if (!recovered) co_return recovered.error();
    if (recovered->deferred.empty()) co_return result<void>{};
    co_return co_await recover_deferred(s, std::move(recovered->deferred));
  });
  if (!r) {
    detail::log::warn("cp", "recovery after restart failed: ", r.error().message(),
                      "; in-flight deployments fail after the deploy timeout instead");
  }
  (void)co_await s.store([&s] { return s.stores.leases->release(kRecoveryLease, s.instance_id); });
}

}  // namespace

struct ControlPlane::Impl {
  explicit Impl(Options o)
      : options(std::move(o)),
        store_pool(options.store_threads == 0 ? 1 : options.store_threads),
        hash_pool(options.accounts.hash_threads == 0 ? 1 : options.accounts.hash_threads),
        verified_keys(options.accounts.verified_key_cache) {}

  Options options;
  asio::thread_pool store_pool;
  asio::thread_pool hash_pool;
  VerifiedSecrets verified_keys;
  std::unique_ptr<OAuthStates> oauth_states;
  std::unique_ptr<NonceTable> nonces;
  std::unique_ptr<StoredSignatures> replay_guard;
  KeyCache agent_keys{kAgentKeyCacheSize};
  std::mutex quote_provider_mutex;
  StatusCounts status_counts;
  AgentListing agent_listing;
  std::mutex registering_mutex;
  std::set<std::string> registering;
  std::unique_ptr<jwt::JwksCache> ita_keys;
  std::unique_ptr<jwt::JwksCache> github_keys;
  std::unique_ptr<LiveSettings> live;  // before services, which point at it
  std::unique_ptr<CpMetrics> metrics;  // before services, which point at it
  std::unique_ptr<Services> services;
  std::unique_ptr<http::Server> server;
  std::unique_ptr<http::Server> metrics_server;
  std::vector<RouteInfo> routes;
  asio::io_context tasks{1};
  std::thread tasks_thread;
  std::once_flag stopped;

  void stop() {
    std::call_once(stopped, [this] {
      tasks.stop();
      if (tasks_thread.joinable()) tasks_thread.join();
      if (server) server->stop();
      if (metrics_server) metrics_server->stop();
      // Another process takes the passes over at once instead of after the lease runs out.
      if (services && options.background_tasks) {
        for (auto name : {"maintenance", "health_scrape", "recovery"}) (void)options.stores.leases->release(name, services->instance_id);
      }
    });
  }
};

ControlPlane::ControlPlane(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ControlPlane::~ControlPlane() {
  if (impl_) {
    impl_->stop();
    impl_->store_pool.join();
    impl_->hash_pool.join();
  }
}

result<std::unique_ptr<ControlPlane>> ControlPlane::start(Options options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  auto& o = impl->options;
  // Spent nonces and accepted signatures: in this process's memory unless the embedder gives
  // stores that replicas share.
  // The sign-in routes' class: 30 a minute per address unless the embedder set it (0 turns it off).
  o.server.rate_limits.try_emplace(kSignIn, http::RateLimit{.per_minute = 30, .burst = 10});
  if (!o.stores.nonces) o.stores.nonces = registry::make_memory_once_store(o.max_used_nonces, true);
  if (!o.stores.replays) o.stores.replays = registry::make_memory_once_store(kReplayGuardSize, false);
  impl->replay_guard = std::make_unique<StoredSignatures>(o.stores.replays);

  if (!o.stores.agents || !o.stores.measurements || !o.stores.apps || !o.stores.deployments ||
      !o.stores.bootstrap_tokens || !o.stores.leases || !o.stores.accounts || !o.stores.sessions) {
    auto memory = registry::open_sqlite_stores(":memory:");
    if (!memory) return memory.error().with_context("in-memory registry");
    if (!o.stores.agents) o.stores.agents = memory->agents;
    if (!o.stores.measurements) o.stores.measurements = memory->measurements;
    if (!o.stores.apps) o.stores.apps = memory->apps;
    if (!o.stores.deployments) o.stores.deployments = memory->deployments;
    if (!o.stores.bootstrap_tokens) o.stores.bootstrap_tokens = memory->bootstrap_tokens;
    if (!o.stores.leases) o.stores.leases = memory->leases;
    if (!o.stores.accounts) o.stores.accounts = memory->accounts;
    if (!o.stores.sessions) o.stores.sessions = memory->sessions;
  }
  if (!o.http) {
    auto client = http::make_https_client();
    if (!client) return client.error().with_context("outbound HTTPS client");
    o.http = std::move(*client);
  }
  if (!o.signing_key) {
    auto key = api::SigningKey::generate();
    if (!key) return key.error().with_context("CP signing key");
    o.signing_key = std::move(*key);
  }
  // From the signing key, which replicas share: a nonce one issued is good at another.
  impl->nonces = std::make_unique<NonceTable>(NonceTable::derive_key(o.signing_key->private_key_pem()),
                                              o.stores.nonces, o.timings.nonce_ttl);
  impl->oauth_states = std::make_unique<OAuthStates>(OAuthStates::derive_key(o.signing_key->private_key_pem()),
                                                     o.logins.oauth_state_ttl);
  if (!o.logins.github_client && !o.logins.github.client_id.empty()) {
    o.logins.github_client = make_github_oauth_client(o.http, o.logins.github);
  }

  // Seed the configured trusted MRTDs; those already present (from an earlier run) stay as they are.
  for (auto m : o.trusted_mrtds) {
    if (m.added_at == registry::TimePoint{}) m.added_at = o.now();
    if (auto r = o.stores.measurements->add(m); !r && r.error() != registry::errc::conflict) {
      return r.error().with_context("seeding trusted MRTD " + m.mrtd);
    }
  }
  auto trusted = o.stores.measurements->list();
  if (!trusted) return trusted.error();
  std::size_t const trusted_agents = static_cast<std::size_t>(
      std::count_if(trusted->begin(), trusted->end(), [](auto const& m) { return m.kind == "agent"; }));
  if (!o.dev) {
    if (auto r = check_production_safety(o, trusted_agents); !r) return r.error();
  }

  jwt::JwksCacheOptions ita_jwks;
  ita_jwks.url = o.ita_jwks_url;
  impl->ita_keys = std::make_unique<jwt::JwksCache>(o.http, ita_jwks, o.now);
  jwt::JwksCacheOptions github_jwks;
  github_jwks.url = o.github_jwks_url;
  impl->github_keys = std::make_unique<jwt::JwksCache>(o.http, github_jwks, o.now);

  if (!o.metrics) {
    o.metrics = std::make_shared<metrics::Registry>();
    metrics::add_process_metrics(*o.metrics);
  }
  if (!o.server.metrics) o.server.metrics = o.metrics;
  impl->metrics = std::make_unique<CpMetrics>(*o.metrics);
  o.stores.deployments = count_status_changes(o.stores.deployments, impl->metrics->deployment_changes);
  o.stores = watch_agent_writes(std::move(o.stores), impl->agent_listing);

  // Who holds this process's leases: unique per start.
  auto instance_id = detail::uuid_v4();
  if (!instance_id) return instance_id.error().with_context("instance id");
  Argon2Params const argon2{.memory_kib = o.accounts.argon2_memory_kib,
                            .iterations = o.accounts.argon2_iterations,
                            .parallelism = o.accounts.argon2_parallelism};
  if (!argon2_params_acceptable(argon2)) {
    return Error(ee::errc::out_of_range,
                 "accounts: Argon2id needs at least 19456 KiB, 2 iterations and 1 lane (OWASP's minimum), and at "
                 "most 1 GiB, 64 iterations and 16 lanes");
  }
  // Account creation's own rate-limit class, unless the embedder set one.
  o.server.rate_limits.try_emplace(kAccountCreation, http::RateLimit{.per_minute = 2, .burst = 5});
  auto agent_networks = AgentNetworks::parse(o.agent_networks);
  if (!agent_networks) return agent_networks.error().with_context("agent_networks");
  impl->services.reset(new Services{
      .options = o,
      .now = o.now,
      .started_at = o.now(),
      .instance_id = std::move(*instance_id),
      .dev = o.dev,
      .trust_any_mrtd = o.dev && trusted_agents == 0,
      .owner_proof_mode = o.owner_proof_mode.value_or(o.dev ? OwnerProofMode::optional : OwnerProofMode::required),
      .agent_networks = std::move(*agent_networks),
      .stores = o.stores,
      .store_pool = impl->store_pool,
      .http = o.http,
      .nonces = *impl->nonces,
      .replay_guard = *impl->replay_guard,
      .agent_keys = impl->agent_keys,
      .signing_key = *o.signing_key,
      .tunnels = o.tunnels,
      .quote_provider = o.quote_provider,
      .quote_provider_mutex = impl->quote_provider_mutex,
      .verifier = tdx::Verifier(o.quote_root),
      .ita_keys = *impl->ita_keys,
      .github_keys = *impl->github_keys,
      .status_counts = impl->status_counts,
      .registering_mutex = impl->registering_mutex,
      .registering = impl->registering,
      .metrics = *impl->metrics,
      .verified_keys = impl->verified_keys,
      .hash_pool = impl->hash_pool,
      .argon2 = argon2,
      .accounts_admin_only = o.accounts.admin_only_creation,
      .oauth_states = *impl->oauth_states,
      .github_oauth = o.logins.github_client,
      .agent_listing = impl->agent_listing,
  });
  auto& s = *impl->services;
  if (o.settings && o.stores.settings) {
    impl->live = std::make_unique<LiveSettings>(*o.settings, o.timings, o.stores.settings);
    if (auto r = impl->live->refresh(); !r) return r.error().with_context("stored settings");
    s.live = impl->live.get();
  }
  if (s.trust_any_mrtd) detail::log::warn("cp", "dev mode with no trusted MRTD: every MRTD is trusted");

  Routes routes(s);
  add_health_routes(routes);
  add_agent_routes(routes);
  add_app_routes(routes);
  add_deploy_routes(routes);
  add_measurement_routes(routes);
  add_attestation_routes(routes);
  add_owner_routes(routes);
  add_settings_routes(routes);
  add_login_routes(routes);
  add_me_routes(routes);
  add_account_routes(routes);
  if (o.console) add_console_routes(routes);
  for (auto extra : o.extra_routes) routes.add_extra(std::move(extra));
  if (auto r = routes.check(); !r) return r.error().with_context("control plane routes");
  impl->routes = routes.table();

  // What an earlier run left in flight, read before this one serves anything: a deploy this run
  // starts is never taken for an interrupted one.
  std::optional<InFlight> in_flight;
  if (o.background_tasks) {
    auto read = read_in_flight(s);
    if (!read) return read.error().with_context("in-flight deployments");
    in_flight = std::move(*read);
  }

  auto server = http::Server::start(std::move(routes.router()), o.server);
  if (!server) return server.error().with_context("control plane");
  impl->server = std::move(*server);
  if (o.metrics_server) {
    auto metrics_only = http::Server::start(metrics_router(s), *o.metrics_server);
    if (!metrics_only) return metrics_only.error().with_context("metrics listener");
    impl->metrics_server = std::move(*metrics_only);
  }

  if (o.background_tasks) {
    // Off the heartbeat that made a step run: the next step's agent call must not hold it up.
    s.kick_rollout = [&s, &tasks = impl->tasks](std::string rollout_id) {
      asio::co_spawn(tasks, rollout_pass(s, std::move(rollout_id)), asio::detached);
    };
    asio::co_spawn(impl->tasks, recovery_pass(s, std::move(*in_flight)), asio::detached);
    asio::co_spawn(impl->tasks, every(o.timings.maintenance_interval, s, "maintenance", maintenance_pass, true),
                   asio::detached);
    if (s.live != nullptr) {
      asio::co_spawn(impl->tasks, every(kSettingsRefresh, s, "settings_refresh", settings_pass, false), asio::detached);
    }
    if (o.timings.health_scrape_interval.count() > 0) {
      asio::co_spawn(impl->tasks, every(o.timings.health_scrape_interval, s, "health_scrape", health_pass, true),
                     asio::detached);
    }
    impl->tasks_thread = std::thread([&tasks = impl->tasks] { tasks.run(); });
  }

  auto const ep = impl->server->endpoint();
  detail::log::info("cp", "listening address=", ep.address().to_string(), " port=", ep.port(), " dev=", o.dev,
                    " trusted_mrtds=", trusted_agents, " tunnels=", o.tunnels != nullptr,
                    " nonce_mode=", to_string(o.policy.nonce_mode), " owner_proof=", to_string(s.owner_proof_mode), " appraisal=", to_string(o.policy.appraisal));
  return std::unique_ptr<ControlPlane>(new ControlPlane(std::move(impl)));
}

boost::asio::ip::tcp::endpoint ControlPlane::endpoint() const noexcept { return impl_->server->endpoint(); }

std::optional<boost::asio::ip::tcp::endpoint> ControlPlane::metrics_endpoint() const {
  if (!impl_->metrics_server) return std::nullopt;
  return impl_->metrics_server->endpoint();
}

std::string ControlPlane::url() const {
  auto const ep = endpoint();
  return "http://" + http::to_string({ep.address().to_string(), ep.port()});
}

std::vector<RouteInfo> ControlPlane::routes() const {
  return impl_->routes;
}

std::string ControlPlane::public_key() const { return impl_->options.signing_key->public_key().base64(); }

void ControlPlane::stop() { impl_->stop(); }

void ControlPlane::wait_for_signal() {
  impl_->server->wait_for_signal();
  impl_->stop();
}

result<MaintenanceReport> ControlPlane::run_maintenance() {
  return block_on(run_maintenance_pass(*impl_->services));
}

result<void> ControlPlane::scrape_health() { return block_on(run_health_scrape(*impl_->services)); }

result<RecoveryReport> ControlPlane::recover_deployments() {
  auto& s = *impl_->services;
  auto in_flight = read_in_flight(s);
  if (!in_flight) return in_flight.error();
  auto recovered = block_on(recover_in_flight(s, *in_flight, s.now() - dispatch_grace(s)));
  if (!recovered) return recovered.error();
  return recovered->report;
}

}  // namespace ee::cp
