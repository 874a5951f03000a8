#pragma once
// The agent runtime's state, shared by the lifecycle (runtime.cpp: registration, heartbeats,
// tunnel, cp-bootstrap) and the API routes (agent_api.cpp).
#include "agent/cp_trust.hpp"
#include "agent/supervisor.hpp"

#include <easyenclave/agent/runtime.hpp>
#include <easyenclave/api/signing.hpp>
#include <easyenclave/http/router.hpp>
#include <easyenclave/http/server.hpp>
#include <easyenclave/jwt/ita.hpp>
#include <easyenclave/metrics.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace ee::agent {

/// What the CP said at registration (and what is kept in the state dir).
struct Registration {
  std::string agent_id{};
  std::string hostname{};
  std::string tunnel_token{};  // secret
  std::optional<api::PublicKey> cp_key{};
  std::chrono::seconds heartbeat_interval{30};
  /// Set when `cp_key` is the key the CP's attestation bound (Options::cp_attestation): its MRTD.
  std::optional<tdx::Measurement> cp_attested_mrtd{};
};

/// The agent's metrics, served CP-signed at /api/metrics (and relayed by the CP to the agent's
/// owner and the operator). Outcome labels come from fixed sets, never from the CP's answer.
struct AgentMetrics {
  explicit AgentMetrics(metrics::Registry& registry);
  metrics::Family<metrics::Counter>& registrations;  ///< {outcome}: ok, retry, refused
  metrics::Family<metrics::Counter>& heartbeats;     ///< {outcome}: ok, refused, unreachable, lost
  metrics::Family<metrics::Counter>& evidence;       ///< {outcome}: ok, failed (quotes and tokens made)
};

struct AgentRuntime::Impl {
  explicit Impl(Options o, api::SigningKey k);

  Options options;
  api::SigningKey key;
  std::shared_ptr<LogBuffer> logs;
  std::shared_ptr<http::Client> http;
  std::optional<jwt::ItaClient> ita;
  // Set with Options::cp_attestation: no CP key is trusted before it passes.
  std::unique_ptr<detail::CpVerifier> cp_verifier;
  api::ReplayGuard replay_guard;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::shared_ptr<metrics::Registry> metrics_registry = std::make_shared<metrics::Registry>();
  AgentMetrics counters{*metrics_registry};

  mutable std::mutex mutex;  // guards the fields below
  std::condition_variable registered_changed;
  std::optional<Registration> registration;  // current, from the CP
  std::optional<Registration> saved;         // loaded from the state dir at start
  std::string last_error;
  std::string deploying_id;  // a deploy queued or under way, for idempotence
  // The last workload that started, to go back to when the next one does not start (its spec
  // holds the deployment's environment: memory only, like the key).
  std::optional<WorkloadSpec> last_started;
  // A deployment that did not start and was rolled back from; heartbeats tell the CP.
  std::string rolled_back_id;

  // Quotes for /api/health?attest=true in flight: the route is public and a quote is slow (the
  // host's quoting service), so a flood is answered 503 instead of queueing behind heartbeats.
  std::atomic<int> attestations_in_flight{0};
  std::string tunnel_token_running;
  std::unique_ptr<detail::Supervisor> tunnel;
  std::unique_ptr<detail::Supervisor> control_plane;

  // The registration and heartbeat loop runs here, on one thread.
  boost::asio::io_context loop{1};
  std::thread loop_thread;
  // Blocking work: quotes (configfs-tsm waits for the host) and workload runs (pulls).
  boost::asio::thread_pool blocking{2};
  // Workload runs and stops, one at a time and in order.
  boost::asio::thread_pool workload_queue{1};
  std::unique_ptr<http::Server> server;
  std::once_flag stopped;

  void stop();
  /// Starts, restarts (new token) or keeps cloudflared for `token`; nothing without a token.
  void ensure_tunnel(std::string const& token);
  void note_error(std::string text);
  AgentStatus snapshot() const;
};

/// The agent API's routes over `impl` (agent_api.cpp). `impl` outlives the router's server.
http::Router make_agent_router(AgentRuntime::Impl& impl);

/// REPORTDATA = nonce (zero-padded to 32 bytes) ‖ SHA-256 of the key's DER (DESIGN.md).
tdx::ReportData bind_report_data(std::span<std::uint8_t const> nonce, api::PublicKey const& key);

}  // namespace ee::agent
