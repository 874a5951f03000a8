// The agent's HTTP API (runtime.hpp lists the routes). Health is public (clients verify the
// agent directly with ?attest=true); logs, stats, deploy and undeploy answer only requests
// signed by the control plane this agent registered with; logs and stats also answer a console
// token that control plane signed for this agent (api/console_token.hpp).
#include "agent/runtime_impl.hpp"

#include <easyenclave/agent/error.hpp>
#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/console_token.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/http/error.hpp>
#include <easyenclave/version.hpp>

#include "detail/json.hpp"
#include "detail/log.hpp"
#include "detail/offload.hpp"
#include "detail/time.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <charconv>
#include <fstream>
#include <sstream>
#include <thread>

#include <sys/statvfs.h>

namespace ee::agent {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;
namespace core = ::ee::detail;
using Reply = asio::awaitable<result<http::Response>>;

constexpr char kComponent[] = "agent";
constexpr std::size_t kMaxLogLines = 10'000;
constexpr int kMaxAttestationsInFlight = 2;

http::Response json(bj::object const& body) {
  return http::json_response(bhttp::status::ok, core::json::serialize(body));
}

// The request carries a valid signature of the CP this agent registered with, seen once.
result<void> require_cp(AgentRuntime::Impl& s, http::RequestContext const& ctx) {
  std::optional<api::PublicKey> key;
  {
    std::lock_guard lock(s.mutex);
    if (s.registration) key = s.registration->cp_key;
  }
  if (!key)
    return Error(api::errc::signature_invalid, "this agent is not registered with a control plane");
  api::VerifyRequestOptions options;
  options.window = s.options.timings.signature_window;
  options.replay_guard = &s.replay_guard;
  return api::verify_request(ctx.request, *key, s.options.now(), options);
}

// A read the CP may make on someone's behalf: a CP-signed request, or a request with the CP's
// console token for this agent and `scope` as a bearer (the owner or operator reading logs or
// stats directly, GET /api/v1/agents/{id}/console-access). A request with a bearer is judged by
// the token alone: a bad token is refused even if a signature is there too.
result<void> require_cp_or_console(AgentRuntime::Impl& s, http::RequestContext const& ctx, std::string_view scope) {
  auto const authorization = ctx.request[bhttp::field::authorization];
  if (authorization.empty()) return require_cp(s, ctx);
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      !boost::beast::iequals(authorization.substr(0, kBearer.size()), kBearer)) {
    return Error(api::errc::console_token_malformed, "Authorization must be \"Bearer <console token>\"");
  }
  std::optional<api::PublicKey> key;
  std::string agent_id;
  {
    std::lock_guard lock(s.mutex);
    if (s.registration) {
      key = s.registration->cp_key;
      agent_id = s.registration->agent_id;
    }
  }
  if (!key || agent_id.empty())
    return Error(api::errc::console_token_invalid, "this agent is not registered with a control plane");
  auto claims = api::verify_console_token(authorization.substr(kBearer.size()), *key, agent_id, scope,
                                          s.options.now());
  if (!claims) return claims.error();
  // The jti, never the token: it names the grant in the CP's log line that minted it.
  core::log::info(kComponent, "console token accepted scope=", scope, " jti=", claims->jti);
  return {};
}

asio::awaitable<WorkloadStatus> workload_status(AgentRuntime::Impl& s) {
  if (!s.options.workload) co_return WorkloadStatus{};
  co_return co_await core::offload(s.blocking, [&s] { return s.options.workload->status(); });
}

api::AgentWorkload workload_view(WorkloadStatus const& w) {
  api::AgentWorkload out;
  out.state = std::string(to_string(w.state));
  out.deployment_id = w.deployment_id;
  out.image = w.image;
  out.image_digest = w.image_digest;
  out.detail = w.detail;
  out.restarts = w.restarts;
  return out;
}

// --- GET /api/health[?attest=true&nonce=HEX] --------------------------------------------------

Reply health(http::RequestContext& ctx, AgentRuntime::Impl& s) {
  auto const attest = ctx.query("attest");
  std::optional<std::vector<std::uint8_t>> nonce;
  if (attest && *attest == "true") {
    auto text = ctx.query("nonce");
    if (!text || text->empty())
      co_return Error(ee::errc::missing_field, "attest=true needs nonce=HEX");
    auto bytes = hex_decode(*text);
    if (!bytes) co_return bytes.error().with_context("nonce");
    if (bytes->size() > 32)
      co_return Error(ee::errc::out_of_range, "nonce must be at most 32 bytes (64 hex chars)");
    nonce = std::move(*bytes);
  } else if (attest && *attest != "false") {
    co_return Error(ee::errc::invalid_value, "attest must be true or false");
  }

  auto const status = s.snapshot();
  auto const w = co_await workload_status(s);
  api::AgentHealth body;
  body.status = "ok";
  body.version = std::string(ee::version());
  body.mode = s.options.mode == Mode::agent ? "agent" : "cp-bootstrap";
  body.agent_id = status.agent_id;
  body.vm_name = status.vm_name;
  body.registered = status.registered;
  body.hostname = status.hostname;
  body.public_key = s.key.public_key().base64();
  body.uptime_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - s.started)
          .count();
  body.workload = workload_view(w);
  body.tunnel.state = status.tunnel;
  body.tunnel.restarts = status.tunnel_restarts;
  body.control_plane = status.control_plane;
  if (s.options.mode == Mode::agent) {
    body.cp_trust = std::string(to_string(status.cp_trust));
    if (status.cp_trust == CpTrust::attested) body.cp_mrtd = status.cp_mrtd;
  }
  body.last_error = status.last_error;

  if (nonce) {
    if (s.attestations_in_flight.fetch_add(1) >= kMaxAttestationsInFlight) {
      --s.attestations_in_flight;
      co_return Error(errc::busy, "two attestations are in flight already; retry in a moment");
    }
    auto const report_data = bind_report_data(*nonce, s.key.public_key());
    auto quote = co_await core::offload(
        s.blocking, [&s, &report_data] { return s.options.quotes->get_quote(report_data); });
    --s.attestations_in_flight;
    if (!quote) co_return quote.error().with_context("quote");
    api::HealthAttestation attestation;
    attestation.quote_b64 = base64_encode(*quote);
    attestation.report_data = hex_encode(report_data);
    attestation.provider = std::string(s.options.quotes->name());
    body.attestation = std::move(attestation);
  }
  co_return http::json_response(bhttp::status::ok, api::to_json(body));
}

// --- GET /api/logs?since=&lines= ----------------------------------------------------------------

Reply logs(http::RequestContext& ctx, AgentRuntime::Impl& s) {
  if (auto ok = require_cp_or_console(s, ctx, api::kConsoleScopeLogs); !ok) co_return ok.error();
  std::optional<std::chrono::system_clock::time_point> since;
  if (auto text = ctx.query("since")) {
    auto t = core::parse_rfc3339(*text);
    if (!t) co_return Error(ee::errc::invalid_value, "since must be an RFC 3339 time");
    since = *t;
  }
  std::optional<std::size_t> lines;
  if (auto text = ctx.query("lines")) {
    std::size_t n = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
    if (ec != std::errc() || end != text->data() + text->size() || n == 0 || n > kMaxLogLines) {
      co_return Error(ee::errc::invalid_value, "lines must be a whole number from 1 to 10000");
    }
    lines = n;
  }
  bj::array items;
  for (auto const& line : s.logs->read(since, lines)) {
    bj::object o;
    o["seq"] = line.seq;
    o["at"] = core::format_rfc3339(line.at);
    o["source"] = line.source;
    o["text"] = line.text;
    items.push_back(std::move(o));
  }
  bj::object body;
  body["lines"] = std::move(items);
  body["dropped"] = s.logs->dropped();
  co_return json(body);
}

// --- GET /api/stats -----------------------------------------------------------------------------

// The first whitespace-separated numbers of a /proc file (0 where it has fewer).
std::vector<double> proc_numbers(char const* path, std::size_t count) {
  std::ifstream in(path);
  std::vector<double> out(count, 0);
  for (std::size_t i = 0; i < count && (in >> out[i]); ++i) {
  }
  return out;
}

// MemTotal and MemAvailable, in bytes.
std::pair<std::uint64_t, std::uint64_t> memory() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::uint64_t kib = 0;
  std::string unit;
  std::uint64_t total = 0, available = 0;
  while (in >> key >> kib) {
    std::getline(in, unit);
    if (key == "MemTotal:") total = kib * 1024;
    if (key == "MemAvailable:") available = kib * 1024;
  }
  return {total, available};
}

// GET /api/metrics, CP-signed like logs and stats: the counts say what the agent does and when.
// The CP relays them to the agent's owner and the operator (GET /api/v1/agents/{id}/metrics).
Reply metrics_page(http::RequestContext& ctx, AgentRuntime::Impl& s) {
  if (auto ok = require_cp(s, ctx); !ok) co_return ok.error();
  http::Response response{bhttp::status::ok, 11};
  response.set(bhttp::field::content_type, std::string(metrics::kContentType));
  response.set(bhttp::field::cache_control, "no-store");
  response.body() = s.metrics_registry->render();
  response.prepare_payload();
  co_return response;
}

Reply stats(http::RequestContext& ctx, AgentRuntime::Impl& s) {
  if (auto ok = require_cp_or_console(s, ctx, api::kConsoleScopeStats); !ok) co_return ok.error();
  api::AgentStats out;
  auto const load = proc_numbers("/proc/loadavg", 3);
  out.cpu_count = static_cast<std::int64_t>(std::thread::hardware_concurrency());
  out.load1 = load[0];
  out.load5 = load[1];
  out.load15 = load[2];
  auto const [total, available] = memory();
  out.memory_total_bytes = total;
  out.memory_available_bytes = available;
  struct statvfs fs{};
  if (::statvfs(s.options.state_dir.c_str(), &fs) == 0) {
    out.disk_path = s.options.state_dir.string();
    out.disk_total_bytes = static_cast<std::uint64_t>(fs.f_blocks) * fs.f_frsize;
    out.disk_available_bytes = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
  }
  out.system_uptime_seconds = proc_numbers("/proc/uptime", 1)[0];
  out.agent_uptime_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - s.started)
          .count();
  co_return http::json_response(bhttp::status::ok, api::to_json(out));
}

// --- POST /api/deploy, /api/undeploy
// --------------------------------------------------------------

http::Response deploy_answer(std::string const& deployment_id, std::string_view status) {
  api::AgentDeployResponse r;
  r.deployment_id = deployment_id;
  r.status = std::string(status);
  return http::json_response(bhttp::status::ok, api::to_json(r));
}

bool active(WorkloadState state) {
  return state == WorkloadState::pulling || state == WorkloadState::starting ||
         state == WorkloadState::running;
}

// Runs `spec` on the workload queue; when it does not start, starts the workload that ran before
// it again (if another deployment ran) and remembers the rollback for the heartbeats.
void run_or_roll_back(AgentRuntime::Impl& s, WorkloadSpec const& spec) {
  auto ran = s.options.workload->run(spec);
  std::optional<WorkloadSpec> previous;
  {
    std::lock_guard lock(s.mutex);
    if (s.deploying_id == spec.deployment_id) s.deploying_id.clear();
    s.rolled_back_id.clear();
    if (ran) {
      s.last_started = spec;
      return;
    }
    if (s.last_started && s.last_started->deployment_id != spec.deployment_id) previous = s.last_started;
  }
  auto const why = "deployment " + spec.deployment_id + " failed: " + ran.error().message();
  core::log::warn(kComponent, why);
  s.logs->append("agent", why);
  if (!previous) return;
  auto restored = s.options.workload->run(*previous);
  std::lock_guard lock(s.mutex);
  if (!restored) {
    s.last_started.reset();
    core::log::warn(kComponent, "rolling back to deployment ", previous->deployment_id,
                    " failed: ", restored.error().message());
    s.logs->append("agent", "rolling back to deployment " + previous->deployment_id +
                                " failed: " + restored.error().message());
    return;
  }
  s.rolled_back_id = spec.deployment_id;
  core::log::info(kComponent, "rolled back deployment=", spec.deployment_id,
                  " to deployment=", previous->deployment_id);
  s.logs->append("agent", "rolled back to deployment " + previous->deployment_id);
}

Reply deploy(http::RequestContext& ctx, AgentRuntime::Impl& s) {
  if (auto ok = require_cp(s, ctx); !ok) co_return ok.error();
  if (!s.options.workload)
    co_return Error(errc::invalid_config, "this agent runs no workloads (cp-bootstrap mode)");
  auto request = api::parse_agent_deploy_request(ctx.request.body());
  if (!request) co_return request.error();
  auto const current = co_await workload_status(s);
  {
    std::lock_guard lock(s.mutex);
    // Idempotent: the same deployment, queued or under way, is answered with its state. The
    // workload's own state first: it reports running before its run() returns and clears
    // deploying_id, and the answer must not lag behind what the agent already reports.
    if (current.deployment_id == request->deployment_id && active(current.state)) {
      co_return deploy_answer(request->deployment_id, to_string(current.state));
    }
    if (s.deploying_id == request->deployment_id)
      co_return deploy_answer(request->deployment_id, "deploying");
    s.deploying_id = request->deployment_id;
  }
  WorkloadSpec spec{.deployment_id = request->deployment_id,
                    .app_name = request->app_name,
                    .version = request->version,
                    .image = request->image,
                    .env = request->env};
  core::log::info(kComponent, "deploying deployment=", spec.deployment_id, " app=", spec.app_name,
                  " image=", spec.image);
  // The CP signed this deploy after checking the owner: it replaces whatever runs. When it does
  // not start, the workload that ran before is started again, so a bad upgrade costs a restart of
  // the old version rather than the service. Progress reaches the CP with the next heartbeats.
  asio::post(s.workload_queue, [&s, spec = std::move(spec)] { run_or_roll_back(s, spec); });
  co_return deploy_answer(request->deployment_id, "deploying");
}

Reply undeploy(http::RequestContext& ctx, AgentRuntime::Impl& s) {
  if (auto ok = require_cp(s, ctx); !ok) co_return ok.error();
  if (!s.options.workload)
    co_return Error(errc::invalid_config, "this agent runs no workloads (cp-bootstrap mode)");
  auto request = api::parse_agent_undeploy_request(ctx.request.body());
  if (!request) co_return request.error();
  auto const current = co_await workload_status(s);
  if (!request->deployment_id.empty() && !current.deployment_id.empty() &&
      current.deployment_id != request->deployment_id && active(current.state)) {
    co_return Error(errc::deployment_conflict, "deployment " + current.deployment_id +
                                                   " runs here, not " + request->deployment_id);
  }
  // Behind any deploy still queued, so an undeploy never races the run it follows.
  auto stopped = co_await core::offload(s.workload_queue, [&s] {
    auto r = s.options.workload->stop();
    if (r) {
      std::lock_guard lock(s.mutex);
      s.last_started.reset();
      s.rolled_back_id.clear();
    }
    return r;
  });
  if (!stopped) co_return stopped.error();
  core::log::info(kComponent, "undeployed deployment=",
                  current.deployment_id.empty() ? "-" : current.deployment_id);
  co_return deploy_answer(
      current.deployment_id.empty() ? request->deployment_id : current.deployment_id, "stopped");
}

// --- every other path: the workload ----------------------------------------------------------

// Hop-by-hop fields (RFC 9110 section 7.6.1) belong to one connection and are not forwarded;
// Host is the next hop's, which the client sets. Content-Length and Transfer-Encoding are the
// framing of the request as it reached us: the server has already refused every framing but a
// single Content-Length or chunked, and the request forwarded carries the body it read with a
// Content-Length of its own, so the workload sees exactly one request however this one was sent.
bool hop_by_hop(bhttp::field name) {
  switch (name) {
    case bhttp::field::connection:
    case bhttp::field::keep_alive:
    case bhttp::field::proxy_connection:
    case bhttp::field::te:
    case bhttp::field::trailer:
    case bhttp::field::transfer_encoding:
    case bhttp::field::upgrade:
    case bhttp::field::host:
    case bhttp::field::content_length:
      return true;
    default:
      return false;
  }
}

// The fields a Connection header names are hop-by-hop as well (RFC 9110 section 7.6.1).
bool named_by_connection(http::Request const& request, std::string_view name) {
  auto const [first, last] = request.equal_range(bhttp::field::connection);
  for (auto it = first; it != last; ++it) {
    std::string_view list = it->value();
    while (true) {
      auto const comma = list.find(',');
      auto token = list.substr(0, comma);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
      if (!token.empty() && boost::beast::iequals(token, name)) return true;
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return false;
}

// The target to send the workload, in origin-form ("/path?query"). An absolute-form target
// (RFC 9112 section 3.2.2) is reduced to its path and query: appended to the workload's URL as it
// is, "http://evil.example/" or "@evil.example/" would change the host the agent connects to.
result<std::string> origin_form(std::string_view target) {
  if (target.starts_with('/')) return std::string(target);
  auto const url = boost::urls::parse_absolute_uri(target);
  if (url && (url->scheme() == "http" || url->scheme() == "https")) {
    std::string out(url->encoded_path());
    if (!out.starts_with('/')) out.insert(out.begin(), '/');
    if (url->has_query()) out += "?" + std::string(url->encoded_query());
    return out;
  }
  return Error(http::errc::bad_request, "the request target must be a path or an http(s) URL");
}

constexpr std::size_t kMaxProxiedResponse = 64 * 1024 * 1024;

Reply workload(http::RequestContext& ctx, AgentRuntime::Impl& s) {
  auto target = origin_form(ctx.request.target());
  if (!target) co_return target.error();
  http::Request out{ctx.request.method(), s.options.workload_url + *target, 11};
  for (auto const& field : ctx.request) {
    if (hop_by_hop(field.name()) || named_by_connection(ctx.request, field.name_string())) continue;
    out.insert(field.name_string(), field.value());
  }
  out.body() = ctx.request.body();
  out.prepare_payload();
  http::RequestOptions options;
  options.timeout = std::chrono::seconds(60);
  options.max_response_bytes = kMaxProxiedResponse;
  auto response = co_await s.http->send(std::move(out), options);
  if (!response) {
    co_return Error(errc::workload_unreachable,
                    "the workload at " + s.options.workload_url +
                        " did not answer: " + response.error().message());
  }
  for (auto it = response->begin(); it != response->end();) {
    it = hop_by_hop(it->name()) ? response->erase(it) : std::next(it);
  }
  response->prepare_payload();
  co_return std::move(*response);
}

using AgentHandler = Reply (*)(http::RequestContext&, AgentRuntime::Impl&);

void add(http::Router& router, bhttp::verb method, std::string const& path, AgentHandler handler,
         AgentRuntime::Impl& s) {
  router.add(method, path, [handler, &s](http::RequestContext& ctx) { return handler(ctx, s); });
}

}  // namespace

http::Router make_agent_router(AgentRuntime::Impl& s) {
  http::Router router;
  add(router, bhttp::verb::get, "/api/health", health, s);
  add(router, bhttp::verb::get, "/api/logs", logs, s);
  add(router, bhttp::verb::get, "/api/stats", stats, s);
  add(router, bhttp::verb::get, "/api/metrics", metrics_page, s);
  add(router, bhttp::verb::post, "/api/deploy", deploy, s);
  add(router, bhttp::verb::post, "/api/undeploy", undeploy, s);
  if (s.options.mode == Mode::agent && !s.options.workload_url.empty()) {
    router.fallback([&s](http::RequestContext& ctx) { return workload(ctx, s); });
  }
  return router;
}

}  // namespace ee::agent
