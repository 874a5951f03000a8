// The agent's lifecycle: register (challenge → report data → quote → ITA token → register), keep
// the tunnel up with the token the CP gave, heartbeat with the attested key, register again when
// the CP has lost us; or, in cp-bootstrap mode, run ee-cp and its tunnel.
#include "agent/key_file.hpp"
#include "agent/runtime_impl.hpp"

#include <easyenclave/agent/error.hpp>
#include <easyenclave/api/agents.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/file.hpp>
#include <easyenclave/http/https_client.hpp>

#include "detail/json.hpp"
#include "detail/log.hpp"
#include "detail/offload.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json/object.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <random>

#include <sys/stat.h>

namespace ee::agent {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;
namespace core = ::ee::detail;

constexpr char kComponent[] = "agent";
constexpr char kStateFile[] = "registration.json";
constexpr std::size_t kMaxStateFile = 64 * 1024;

// CP answers that a new attempt can fix on its own: the challenge expired or was lost (the CP
// restarted between challenge and register), the CP is momentarily full, or the vm_name is still
// held by this VM's previous key (a reboot lost it), which the CP releases after the recorded
// agent's silence outlasts its grace window.
constexpr std::string_view kRetryableCodes[] = {"cp.unknown_nonce", "cp.nonce_expired",
                                                "cp.too_many_challenges", "cp.vm_name_taken"};

// --- small helpers -------------------------------------------------------------------------------

asio::awaitable<void> sleep_for(std::chrono::milliseconds delay) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(delay);
  (void)co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

std::chrono::milliseconds jittered(std::chrono::milliseconds delay) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  auto const half = delay.count() / 2;
  std::uniform_int_distribution<long long> spread(0, std::max<long long>(half, 0));
  return std::chrono::milliseconds(delay.count() - half + spread(random));
}

http::Request json_request(bhttp::verb method, std::string url, std::string body) {
  http::Request request{method, std::move(url), 11};
  request.set(bhttp::field::user_agent, "ee-agent");
  request.set(bhttp::field::accept, "application/json");
  if (!body.empty()) {
    request.set(bhttp::field::content_type, "application/json");
    request.body() = std::move(body);
  }
  request.prepare_payload();
  return request;
}

// The "code" and "message" of a CP error body, for logs and retry decisions; empty when the body
// is not one.
std::pair<std::string, std::string> error_of(http::Response const& response) {
  auto doc = core::json::parse(response.body());
  if (!doc || !doc->is_object()) return {};
  auto const& o = doc->as_object();
  auto text = [&o](char const* key) {
    auto const* v = o.if_contains(key);
    if (v == nullptr || !v->is_string()) return std::string();
    return std::string(std::string_view(v->as_string()).substr(0, 300));
  };
  return {text("code"), text("message")};
}

std::string describe(http::Response const& response) {
  auto [code, message] = error_of(response);
  std::string out = "HTTP " + std::to_string(response.result_int());
  if (!code.empty()) out += " " + code;
  if (!message.empty()) out += ": " + message;
  return out;
}

http::RequestOptions call_options(AgentRuntime::Impl const& s) {
  http::RequestOptions o;
  o.timeout = s.options.timings.call_timeout;
  return o;
}

// --- the state dir ------------------------------------------------------------------------------

result<void> prepare_state_dir(std::filesystem::path const& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error(errc::invalid_config, "state dir " + dir.string() + ": " + ec.message());
  // It holds the tunnel token: only the agent's user may look inside.
  if (::chmod(dir.c_str(), 0700) != 0) {
    return Error(errc::invalid_config, "state dir " + dir.string() + ": cannot restrict its mode");
  }
  return {};
}

result<Registration> read_registration(std::filesystem::path const& path) {
  auto text = read_file(path, kMaxStateFile);
  if (!text) return text.error();
  auto doc = core::json::parse(*text);
  if (!doc) return doc.error();
  auto reader = core::json::ObjectReader::from(*doc, "registration");
  if (!reader) return reader.error();
  Registration r;
  for (auto [key, field] : {std::pair{"agent_id", &r.agent_id},
                            {"hostname", &r.hostname},
                            {"tunnel_token", &r.tunnel_token}}) {
    auto value = reader->optional_string(key);
    if (!value) return value.error();
    *field = value->value_or("");
  }
  return r;
}

// The registration a previous run saved; a damaged file is reported and ignored (registering
// again recreates it).
std::optional<Registration> load_registration(std::filesystem::path const& dir) {
  auto const path = dir / kStateFile;
  if (!std::filesystem::exists(path)) return std::nullopt;
  auto r = read_registration(path);
  if (!r) {
    core::log::warn(kComponent, "ignoring the saved registration ", path.string(), ": ",
                    r.error().message());
    return std::nullopt;
  }
  return std::move(*r);
}

result<void> save_registration(std::filesystem::path const& dir, Registration const& r) {
  bj::object o;
  o["agent_id"] = r.agent_id;
  o["hostname"] = r.hostname;
  o["tunnel_token"] = r.tunnel_token;
  return write_file_atomic(dir / kStateFile, core::json::serialize(o), 0600);
}

// --- evidence ----------------------------------------------------------------------------------

struct Evidence {
  std::string nonce{};
  std::string intel_ta_token{};
  std::string quote_b64{};
};

asio::awaitable<result<std::string>> fetch_challenge(AgentRuntime::Impl& s) {
  auto request =
      json_request(bhttp::verb::get,
                   s.options.cp_url + "/api/v1/agents/challenge?vm_name=" + s.options.vm_name, "");
  auto response = co_await s.http->send(std::move(request), call_options(s));
  if (!response) co_return Error(errc::cp_unavailable, "challenge: " + response.error().message());
  if (response->result_int() != 200)
    co_return Error(errc::cp_unavailable, "challenge: " + describe(*response));
  auto challenge = api::parse_challenge(response->body());
  if (!challenge)
    co_return Error(errc::cp_unavailable, "challenge: " + challenge.error().message());
  co_return challenge->nonce;
}

// A quote binding `nonce_hex` and the agent's key, and an ITA token for it when configured.
asio::awaitable<result<Evidence>> fresh_evidence(AgentRuntime::Impl& s, std::string nonce_hex) {
  auto nonce = hex_decode(nonce_hex);
  if (!nonce) co_return nonce.error().with_context("nonce");
  auto const report_data = bind_report_data(*nonce, s.key.public_key());
  // configfs-tsm waits for the host's quoting service: off the loop thread.
  auto quote = co_await core::offload(
      s.blocking, [&s, &report_data] { return s.options.quotes->get_quote(report_data); });
  if (!quote) co_return quote.error().with_context("quote");
  Evidence e;
  e.nonce = std::move(nonce_hex);
  if (s.ita) {
    auto token = co_await s.ita->attest(*quote);
    if (!token) co_return token.error().with_context("Intel Trust Authority");
    e.intel_ta_token = std::move(*token);
  }
  if (s.options.send_quote || !s.ita) e.quote_b64 = base64_encode(*quote);
  co_return e;
}

// --- registration -------------------------------------------------------------------------------

enum class Outcome { registered, retry, refused };

// With Options::cp_attestation: the CP passes its attestation before this agent says anything
// to it; logged once per attempt, naming the check that failed (never a secret).
asio::awaitable<result<std::optional<detail::AttestedCp>>> attest_cp(AgentRuntime::Impl& s) {
  if (!s.cp_verifier) co_return std::optional<detail::AttestedCp>();
  auto attested = co_await s.cp_verifier->attest();
  if (!attested) {
    s.note_error("control plane attestation: " + attested.error().message());
    co_return attested.error();
  }
  co_return std::optional<detail::AttestedCp>(std::move(*attested));
}

asio::awaitable<Outcome> register_once(AgentRuntime::Impl& s) {
  auto attested = co_await attest_cp(s);
  if (!attested) co_return Outcome::retry;
  auto nonce = co_await fetch_challenge(s);
  if (!nonce) {
    s.note_error(nonce.error().message());
    co_return Outcome::retry;
  }
  auto evidence = co_await fresh_evidence(s, *nonce);
  s.counters.evidence.with({evidence ? "ok" : "failed"}).inc();
  if (!evidence) {
    s.note_error("evidence: " + evidence.error().message());
    co_return Outcome::retry;
  }
  api::RegisterRequest request;
  request.vm_name = s.options.vm_name;
  request.owner = s.options.owner;
  request.node_size = s.options.node_size;
  request.datacenter = s.options.datacenter;
  request.nonce = evidence->nonce;
  request.public_key = s.key.public_key().base64();
  request.intel_ta_token = std::move(evidence->intel_ta_token);
  request.quote_b64 = std::move(evidence->quote_b64);
  request.agent_url = s.options.agent_url;
  request.bootstrap_token = s.options.bootstrap_token;
  auto post = json_request(bhttp::verb::post, s.options.cp_url + "/api/v1/agents/register",
                           api::to_json(request));
  auto response = co_await s.http->send(std::move(post), call_options(s));
  if (!response) {
    s.note_error("register: " + response.error().message());
    co_return Outcome::retry;
  }
  auto const status = response->result_int();
  if (status != 200) {
    auto const [code, message] = error_of(*response);
    bool const retryable = status >= 500 || status == 429 ||
                           std::find(std::begin(kRetryableCodes), std::end(kRetryableCodes),
                                     code) != std::end(kRetryableCodes);
    s.note_error("register: " + describe(*response));
    if (!retryable) {
      core::log::error(kComponent,
                       "the control plane refused the registration: ", describe(*response),
                       "; retrying every ", s.options.timings.refused_retry.count() / 1000, " s");
    }
    co_return retryable ? Outcome::retry : Outcome::refused;
  }
  auto answer = api::parse_register_response(response->body());
  if (!answer) {
    s.note_error("register: the answer does not parse: " + answer.error().message());
    co_return Outcome::retry;
  }
  Registration r;
  r.agent_id = answer->agent_id;
  r.hostname = answer->hostname;
  r.tunnel_token = answer->tunnel_token;
  r.heartbeat_interval =
      std::chrono::seconds(std::max<std::int64_t>(answer->heartbeat_interval_seconds, 1));
  auto cp_key = api::PublicKey::parse(answer->cp_public_key);
  if (!cp_key) {
    s.note_error("register: cp_public_key: " + cp_key.error().message());
    co_return Outcome::retry;
  }
  if (*attested) {
    // The answer's key must be the one the CP's quote bound. A CP may have changed its key since
    // it was attested: attest it again, once, and the new quote must bind the answered key.
    if ((*attested)->key.der() != cp_key->der()) {
      attested = co_await attest_cp(s);
      if (!attested) co_return Outcome::retry;
      if ((*attested)->key.der() != cp_key->der()) {
        s.note_error(
            "register: the cp_public_key of the answer is not the key the control plane's "
            "attestation binds; not trusting this control plane");
        co_return Outcome::retry;
      }
    }
    r.cp_attested_mrtd = (*attested)->mrtd;
  }
  r.cp_key = std::move(*cp_key);
  if (auto saved = save_registration(s.options.state_dir, r); !saved) {
    core::log::warn(kComponent, "could not save the registration: ", saved.error().message());
  }
  s.ensure_tunnel(r.tunnel_token);
  core::log::info(kComponent, "registered agent_id=", r.agent_id,
                  " hostname=", r.hostname.empty() ? "-" : r.hostname,
                  " heartbeat_interval=", r.heartbeat_interval.count(), "s cp_trust=",
                  r.cp_attested_mrtd ? "attested cp_mrtd=" + hex_encode(*r.cp_attested_mrtd)
                                     : std::string("trust_on_first_use"));
  {
    std::lock_guard lock(s.mutex);
    s.registration = std::move(r);
    s.last_error.clear();
  }
  s.registered_changed.notify_all();
  co_return Outcome::registered;
}

asio::awaitable<void> register_until_done(AgentRuntime::Impl& s) {
  auto delay = s.options.timings.retry_min;
  for (;;) {
    auto const outcome = co_await register_once(s);
    s.counters.registrations
        .with({outcome == Outcome::registered ? "ok" : outcome == Outcome::refused ? "refused" : "retry"})
        .inc();
    if (outcome == Outcome::registered) co_return;
    if (outcome == Outcome::refused) {
      co_await sleep_for(jittered(s.options.timings.refused_retry));
      continue;
    }
    co_await sleep_for(jittered(delay));
    delay = std::min(delay * 2, s.options.timings.retry_max);
  }
}

// --- heartbeats ---------------------------------------------------------------------------------

asio::awaitable<WorkloadStatus> workload_status(AgentRuntime::Impl& s) {
  if (!s.options.workload) co_return WorkloadStatus{};
  // A podman runtime may ask the engine: off the loop thread.
  co_return co_await core::offload(s.blocking, [&s] { return s.options.workload->status(); });
}

// Heartbeats until the CP no longer knows this agent (404) or no longer accepts its key (401).
asio::awaitable<void> heartbeat_until_lost(AgentRuntime::Impl& s) {
  Registration r;
  {
    std::lock_guard lock(s.mutex);
    r = *s.registration;
  }
  auto interval = r.heartbeat_interval;
  bool attestation_due = false;
  auto last_attested = std::chrono::steady_clock::now();
  for (;;) {
    co_await sleep_for(interval);
    auto const w = co_await workload_status(s);
    api::HeartbeatRequest hb;
    hb.status = std::string(to_string(w.state));
    hb.deployment_id = w.deployment_id;
    if (w.state == WorkloadState::running) hb.image_digest = w.image_digest;
    {
      std::lock_guard lock(s.mutex);
      hb.rolled_back = s.rolled_back_id;
    }
    bool const attest = attestation_due || std::chrono::steady_clock::now() - last_attested >=
                                               s.options.timings.reattestation_interval;
    if (attest) {
      result<Evidence> evidence = Error(errc::not_registered);
      auto nonce = co_await fetch_challenge(s);
      if (nonce) {
        evidence = co_await fresh_evidence(s, *nonce);
        s.counters.evidence.with({evidence ? "ok" : "failed"}).inc();
      } else {
        evidence = nonce.error();
      }
      if (evidence) {
        hb.nonce = evidence->nonce;
        hb.intel_ta_token = std::move(evidence->intel_ta_token);
        hb.quote_b64 = std::move(evidence->quote_b64);
      } else {
        s.note_error("re-attestation: " + evidence.error().message());
      }
    }
    auto const target = "/api/v1/agents/" + r.agent_id + "/heartbeat";
    auto request = json_request(bhttp::verb::post, s.options.cp_url + target, api::to_json(hb));
    if (auto ok = api::sign_request(request, s.key, s.options.now()); !ok) {
      s.note_error("heartbeat: signing failed: " + ok.error().message());
      continue;
    }
    auto response = co_await s.http->send(std::move(request), call_options(s));
    if (!response) {
      s.counters.heartbeats.with({"unreachable"}).inc();
      s.note_error("heartbeat: " + response.error().message());
      continue;
    }
    auto const status = response->result_int();
    if (status == 404 || status == 401) {
      s.counters.heartbeats.with({"lost"}).inc();
      core::log::warn(kComponent, "the control plane no longer accepts agent ", r.agent_id, " (",
                      describe(*response), "); registering again");
      std::lock_guard lock(s.mutex);
      s.registration.reset();
      co_return;
    }
    if (status != 200) {
      s.counters.heartbeats.with({"refused"}).inc();
      s.note_error("heartbeat: " + describe(*response));
      continue;
    }
    auto answer = api::parse_heartbeat_response(response->body());
    if (!answer) {
      s.counters.heartbeats.with({"refused"}).inc();
      s.note_error("heartbeat: the answer does not parse: " + answer.error().message());
      continue;
    }
    s.counters.heartbeats.with({"ok"}).inc();
    if (!hb.nonce.empty()) last_attested = std::chrono::steady_clock::now();
    attestation_due = answer->attestation_due;
    interval = std::chrono::seconds(std::max<std::int64_t>(answer->heartbeat_interval_seconds, 1));
    if (!answer->verified) s.note_error("the control plane marks this agent unverified");
  }
}

asio::awaitable<void> lifecycle(AgentRuntime::Impl& s) {
  for (;;) {
    co_await register_until_done(s);
    co_await heartbeat_until_lost(s);
  }
}

result<void> check_options(Options const& o) {
  auto invalid = [](std::string text) { return Error(errc::invalid_config, std::move(text)); };
  if (o.mode == Mode::cp_bootstrap) {
    if (o.cp_command.empty()) return invalid("cp-bootstrap mode needs the ee-cp command");
    return {};
  }
  auto url = boost::urls::parse_absolute_uri(o.cp_url);
  if (!url || (url->scheme() != "http" && url->scheme() != "https") ||
      url->encoded_host().empty() || url->has_query() || o.cp_url.back() == '/') {
    return invalid("cp_url must be an absolute http(s) URL without a query or trailing '/'");
  }
  if (!o.quotes) return invalid("a quote provider is required");
  if (o.cp_attestation && o.cp_attestation->policy.allowed_mrtds.empty()) {
    return invalid("cp_attestation: the policy must name the control plane's MRTD");
  }
  if (!o.workload) return invalid("a workload runtime is required in agent mode");
  for (auto check : {api::check_vm_name(o.vm_name), api::check_owner(o.owner),
                     api::check_node_size(o.node_size), api::check_datacenter(o.datacenter)}) {
    if (!check) return Error(errc::invalid_config, check.error().message());
  }
  return {};
}

// The key of an earlier run of this process when `key_file` holds one, else a new one (kept in
// `key_file` when set).
result<api::SigningKey> load_key(Options const& o) {
  if (o.key_file.empty()) {
    auto key = api::SigningKey::generate();
    if (!key) return key.error().with_context("agent key");
    return key;
  }
  bool created = false;
  auto key = detail::load_or_create_key_file(o.key_file, o.key_file_allow_disk, created);
  if (!key) return key.error();
  core::log::info(kComponent, created ? "created" : "loaded", " the agent key file=",
                  o.key_file.string());
  return key;
}

}  // namespace

tdx::ReportData bind_report_data(std::span<std::uint8_t const> nonce, api::PublicKey const& key) {
  tdx::ReportData rd{};
  std::copy_n(nonce.begin(), std::min<std::size_t>(nonce.size(), 32), rd.begin());
  auto const digest = key.sha256();
  std::copy(digest.begin(), digest.end(), rd.begin() + 32);
  return rd;
}

std::string_view to_string(CpTrust trust) noexcept {
  switch (trust) {
    case CpTrust::attested:
      return "attested";
    case CpTrust::not_attested:
      return "not_attested";
    case CpTrust::trust_on_first_use:
      break;
  }
  return "trust_on_first_use";
}

AgentMetrics::AgentMetrics(metrics::Registry& r)
    : registrations(r.counter("ee_agent_registrations_total",
                              "Registration attempts, by outcome (ok, retry: to try again soon, refused: by the CP)",
                              {"outcome"})),
      heartbeats(r.counter("ee_agent_heartbeats_total",
                           "Heartbeats sent, by outcome (ok, refused, unreachable, lost: the CP no longer knows "
                           "this agent)",
                           {"outcome"})),
      evidence(r.counter("ee_agent_evidence_total", "Attestation evidence produced (quote or ITA token), by outcome",
                         {"outcome"})) {}

AgentRuntime::Impl::Impl(Options o, api::SigningKey k) : options(std::move(o)), key(std::move(k)) {
  auto& r = *metrics_registry;
  metrics::add_process_metrics(r);
  // Read at scrape time from what the runtime keeps anyway; the registry lives in this Impl, so
  // the callbacks never outlive what they read.
  r.callback("ee_agent_registered", "1 while the agent holds a registration with the CP", metrics::Type::gauge,
             [this] { return snapshot().registered ? 1.0 : 0.0; });
  r.callback("ee_agent_tunnel_restarts_total", "Restarts of cloudflared", metrics::Type::counter,
             [this] { return static_cast<double>(snapshot().tunnel_restarts); });
  r.callback("ee_agent_uptime_seconds", "Seconds since the agent started", metrics::Type::gauge, [this] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  });
}

void AgentRuntime::Impl::note_error(std::string text) {
  core::log::warn(kComponent, text);
  std::lock_guard lock(mutex);
  last_error = std::move(text);
}

void AgentRuntime::Impl::ensure_tunnel(std::string const& token) {
  if (token.empty()) return;  // dev: the CP reaches the agent without a tunnel
  std::unique_ptr<detail::Supervisor> previous;
  {
    std::lock_guard lock(mutex);
    if (tunnel && tunnel_token_running == token) return;
    previous = std::move(tunnel);
    tunnel_token_running = token;
  }
  if (previous) previous->stop();
  detail::SupervisorOptions o;
  o.name = "tunnel";
  o.logs = logs;
  o.spawn.argv = {options.cloudflared, "tunnel", "--no-autoupdate", "run"};
  o.spawn.env["TUNNEL_TOKEN"] = token;
  auto next = std::make_unique<detail::Supervisor>(std::move(o));
  next->start();
  std::lock_guard lock(mutex);
  tunnel = std::move(next);
}

AgentStatus AgentRuntime::Impl::snapshot() const {
  AgentStatus out;
  out.mode = options.mode;
  out.vm_name = options.vm_name;
  std::lock_guard lock(mutex);
  out.registered = registration.has_value();
  auto const* r = registration ? &*registration : saved ? &*saved : nullptr;
  if (r != nullptr) {
    out.agent_id = r->agent_id;
    out.hostname = r->hostname;
  }
  if (cp_verifier) {
    bool const attested = registration && registration->cp_attested_mrtd;
    out.cp_trust = attested ? CpTrust::attested : CpTrust::not_attested;
    if (attested) out.cp_mrtd = hex_encode(*registration->cp_attested_mrtd);
  }
  if (tunnel) {
    auto const t = tunnel->status();
    out.tunnel = std::string(detail::to_string(t.state));
    out.tunnel_restarts = std::max(t.starts - 1, 0);
  } else {
    out.tunnel = "none";
  }
  if (control_plane)
    out.control_plane = std::string(detail::to_string(control_plane->status().state));
  out.last_error = last_error;
  return out;
}

void AgentRuntime::Impl::stop() {
  std::call_once(stopped, [this] {
    if (server) server->stop();
    loop.stop();
    if (loop_thread.joinable()) loop_thread.join();
    workload_queue.join();
    blocking.join();
    std::unique_ptr<detail::Supervisor> t, cp;
    {
      std::lock_guard lock(mutex);
      t = std::move(tunnel);
      cp = std::move(control_plane);
    }
    if (cp) cp->stop();
    if (t) t->stop();
  });
}

result<std::unique_ptr<AgentRuntime>> AgentRuntime::start(Options options) {
  if (auto ok = check_options(options); !ok) return ok.error();
  auto key = load_key(options);
  if (!key) return key.error();
  auto impl = std::make_shared<Impl>(std::move(options), std::move(*key));
  auto& s = *impl;
  s.logs = s.options.logs ? s.options.logs : std::make_shared<LogBuffer>();
  if (s.options.http) {
    s.http = s.options.http;
  } else {
    auto client = http::make_https_client();
    if (!client) return client.error().with_context("outbound HTTPS client");
    s.http = std::move(*client);
  }
  if (s.options.ita) s.ita.emplace(s.http, *s.options.ita);
  if (s.options.mode == Mode::agent && s.options.cp_attestation) {
    s.cp_verifier = std::make_unique<detail::CpVerifier>(
        s.http, *s.options.cp_attestation, s.options.cp_url,
        std::chrono::duration_cast<std::chrono::milliseconds>(s.options.timings.call_timeout),
        s.options.now);
  }

  if (s.options.mode == Mode::agent) {
    if (auto ok = prepare_state_dir(s.options.state_dir); !ok) return ok.error();
    s.saved = load_registration(s.options.state_dir);
    // The saved token brings the tunnel up at once; registration replaces it if the CP says so.
    if (s.saved) s.ensure_tunnel(s.saved->tunnel_token);
  }

  s.options.server.metrics = s.metrics_registry;  // what /api/metrics renders
  auto server = http::Server::start(make_agent_router(s), s.options.server);
  if (!server) {
    s.stop();
    return server.error().with_context("agent API");
  }
  s.server = std::move(*server);

  if (s.options.mode == Mode::cp_bootstrap) {
    detail::SupervisorOptions cp;
    cp.name = "cp";
    cp.logs = s.logs;
    // The agent's environment and the configured one: the CP's settings and secrets.
    cp.spawn.argv = s.options.cp_command;
    cp.spawn.env = s.options.cp_env;
    s.control_plane = std::make_unique<detail::Supervisor>(std::move(cp));
    s.control_plane->start();
    s.ensure_tunnel(s.options.tunnel_token);
  } else {
    asio::co_spawn(s.loop, lifecycle(s), asio::detached);
    s.loop_thread = std::thread([&s] { s.loop.run(); });
  }
  core::log::info(kComponent,
                  "started mode=", s.options.mode == Mode::agent ? "agent" : "cp-bootstrap",
                  " vm_name=", s.options.vm_name,
                  " api=", s.server->endpoint().address().to_string(), ":", s.server->port());
  return std::unique_ptr<AgentRuntime>(new AgentRuntime(std::move(impl)));
}

AgentRuntime::AgentRuntime(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

AgentRuntime::~AgentRuntime() {
  if (impl_) impl_->stop();
}

std::string AgentRuntime::url() const {
  auto const ep = endpoint();
  return "http://" + ep.address().to_string() + ":" + std::to_string(ep.port());
}

boost::asio::ip::tcp::endpoint AgentRuntime::endpoint() const noexcept {
  return impl_->server->endpoint();
}

AgentStatus AgentRuntime::status() const {
  auto out = impl_->snapshot();
  if (impl_->options.workload) out.workload = impl_->options.workload->status();
  return out;
}

std::string AgentRuntime::public_key() const { return impl_->key.public_key().base64(); }

std::shared_ptr<LogBuffer> AgentRuntime::logs() const { return impl_->logs; }

bool AgentRuntime::wait_registered(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->registered_changed.wait_for(lock, timeout,
                                            [this] { return impl_->registration.has_value(); });
}

void AgentRuntime::stop() { impl_->stop(); }

void AgentRuntime::wait_for_signal() {
  impl_->server->wait_for_signal();
  impl_->stop();
}

}  // namespace ee::agent
