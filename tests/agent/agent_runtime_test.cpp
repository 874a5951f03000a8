// The agent runtime against a fake control plane on loopback that speaks the CP's routes
// (challenge, register, heartbeat), with the simulator as quote provider, the process workload
// runtime and a shell script standing in for cloudflared.
#include "fakes/fake_ita.hpp"
#include "support/loopback_server.hpp"
#include "support/temp_dir.hpp"

#include <easyenclave/agent/error.hpp>
#include <easyenclave/agent/runtime.hpp>
#include <easyenclave/metrics.hpp>
#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/console_token.hpp>
#include <easyenclave/api/signing.hpp>
#include <easyenclave/block_on.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/tdx/quote.hpp>
#include <easyenclave/tdx/simulator.hpp>
#include <easyenclave/version.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

namespace {

using namespace std::chrono_literals;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;
using Reply = boost::asio::awaitable<ee::result<ee::http::Response>>;

template <class Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout = 15s) {
  auto const deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return predicate();
}

// The file's text, or "" while it does not exist yet (a child may not have written it).
std::string file_text(std::filesystem::path const& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::shared_ptr<ee::tdx::Simulator> simulator() {
  static auto const sim = ee::tdx::Simulator::create().value();
  return sim;
}

ee::http::Response json_answer(bhttp::status status, std::string body) {
  return ee::http::json_response(status, std::move(body));
}

// The CP's side of the protocol, scripted. What the agent sent is recorded, and every quote is
// checked for the binding the CP relies on: REPORTDATA = nonce ‖ SHA-256(agent key).
class FakeCp {
 public:
  FakeCp() : key_(ee::api::SigningKey::generate().value()), server_(router()) {}

  std::string url() const { return server_.url(); }
  ee::api::SigningKey const& key() const { return key_; }

  // Knobs.
  std::atomic<int> fail_registrations{0};  // answer 503 to this many registrations
  std::atomic<int> refuse_status{0};       // answer this 4xx to every registration
  std::string refuse_code = "cp.attestation_failed";
  std::atomic<bool> forget_agent{false};  // answer 404 to heartbeats (the CP lost its state)
  std::atomic<bool> ask_for_evidence{false};
  std::string tunnel_token{};
  std::atomic<int> heartbeat_interval{1};
  // GET /api/v1/attestation: a simulator quote binding the caller's nonce and `key()`.
  std::atomic<bool> attestation_ignores_nonce{false};  // a replayed quote: zero nonce bytes
  // A man in the middle: this key instead of `key()` in the register answer, or in the
  // attestation answer (whose quote still binds `key()`).
  // Set before the agent starts; `set_register_key_override` also while it runs.
  std::optional<ee::api::PublicKey> attestation_key_override{};
  void set_register_key_override(std::optional<ee::api::PublicKey> key) {
    std::lock_guard lock(mutex_);
    register_key_override_ = std::move(key);
  }
  std::size_t attestations() const {
    std::lock_guard lock(mutex_);
    return attestations_;
  }

  struct Registered {
    ee::api::RegisterRequest request;
    bool binds_nonce_and_key = false;
  };
  std::vector<Registered> registrations() const {
    std::lock_guard lock(mutex_);
    return registrations_;
  }
  std::vector<ee::api::HeartbeatRequest> heartbeats() const {
    std::lock_guard lock(mutex_);
    return heartbeats_;
  }
  std::size_t challenges() const {
    std::lock_guard lock(mutex_);
    return nonces_.size();
  }

 private:
  static bool binds(std::string const& quote_b64, std::string const& nonce_hex,
                    std::string const& key_b64) {
    auto raw = ee::base64_decode(quote_b64);
    auto quote = raw ? ee::tdx::parse_quote(*raw) : ee::result<ee::tdx::Quote>(raw.error());
    auto nonce = ee::hex_decode(nonce_hex);
    auto key = ee::api::PublicKey::parse(key_b64);
    if (!quote || !nonce || !key || nonce->size() != 32) return false;
    auto const& rd = quote->td_report().report_data;
    auto const digest = key->sha256();
    return std::equal(nonce->begin(), nonce->end(), rd.begin()) &&
           std::equal(digest.begin(), digest.end(), rd.begin() + 32);
  }

  ee::http::Router router() {
    ee::http::Router r;
    r.get("/api/v1/attestation", [this](ee::http::RequestContext& ctx) -> Reply {
      auto nonce = ee::hex_decode(std::string(ctx.query("nonce").value_or("")));
      if (!nonce || nonce->size() > 32) co_return json_answer(bhttp::status::bad_request, "{}");
      ee::tdx::ReportData rd{};
      if (!attestation_ignores_nonce) std::copy(nonce->begin(), nonce->end(), rd.begin());
      auto const digest = key_.public_key().sha256();
      std::copy(digest.begin(), digest.end(), rd.begin() + 32);
      auto quote = simulator()->quote(rd).value();
      {
        std::lock_guard lock(mutex_);
        ++attestations_;
      }
      bj::object o;
      o["quote_b64"] = ee::base64_encode(quote);
      o["report_data"] = ee::hex_encode(rd);
      o["cp_public_key"] =
          (attestation_key_override ? *attestation_key_override : key_.public_key()).base64();
      o["provider"] = "simulator";
      co_return json_answer(bhttp::status::ok, bj::serialize(o));
    });
    r.get("/api/v1/agents/challenge", [this](ee::http::RequestContext&) -> Reply {
      auto nonce = ee::hex_encode(
          std::vector<std::uint8_t>(32, static_cast<std::uint8_t>(challenges() + 1)));
      {
        std::lock_guard lock(mutex_);
        nonces_.insert(nonce);
      }
      ee::api::Challenge c{.nonce = nonce, .expires_in_seconds = 300, .ttl_seconds = 300};
      co_return json_answer(bhttp::status::ok, ee::api::to_json(c));
    });
    r.post("/api/v1/agents/register", [this](ee::http::RequestContext& ctx) -> Reply {
      auto request = ee::api::parse_register_request(ctx.request.body());
      if (!request) co_return request.error();
      Registered seen{
          .request = *request,
          .binds_nonce_and_key = binds(request->quote_b64, request->nonce, request->public_key)};
      {
        std::lock_guard lock(mutex_);
        registrations_.push_back(seen);
        agent_key_ = ee::api::PublicKey::parse(request->public_key).value();
      }
      if (refuse_status > 0) {
        co_return json_answer(static_cast<bhttp::status>(refuse_status.load()),
                              R"({"code":")" + refuse_code +
                                  R"(","message":"refused by the test","request_id":"t"})");
      }
      if (fail_registrations > 0) {
        --fail_registrations;
        co_return json_answer(bhttp::status::service_unavailable,
                              R"({"code":"core.unavailable","message":"busy"})");
      }
      std::optional<ee::api::PublicKey> register_key_override;
      {
        std::lock_guard lock(mutex_);
        register_key_override = register_key_override_;
      }
      ee::api::RegisterResponse answer{
          .agent_id = "00000000-0000-4000-8000-000000000001",
          .tunnel_token = tunnel_token,
          .hostname = tunnel_token.empty() ? "" : "vm-a.agents.example.com",
          .heartbeat_interval_seconds = heartbeat_interval,
          .cp_public_key =
              (register_key_override ? *register_key_override : key_.public_key()).base64()};
      co_return json_answer(bhttp::status::ok, ee::api::to_json(answer));
    });
    r.post("/api/v1/agents/{id}/heartbeat", [this](ee::http::RequestContext& ctx) -> Reply {
      std::optional<ee::api::PublicKey> agent_key;
      {
        std::lock_guard lock(mutex_);
        agent_key = agent_key_;
      }
      if (!agent_key)
        co_return json_answer(bhttp::status::not_found, R"({"code":"registry.not_found"})");
      if (auto ok =
              ee::api::verify_request(ctx.request, *agent_key, std::chrono::system_clock::now());
          !ok) {
        co_return ok.error();
      }
      if (forget_agent)
        co_return json_answer(bhttp::status::not_found, R"({"code":"registry.not_found"})");
      auto hb = ee::api::parse_heartbeat_request(ctx.request.body());
      if (!hb) co_return hb.error();
      {
        std::lock_guard lock(mutex_);
        heartbeats_.push_back(*hb);
      }
      ee::api::HeartbeatResponse answer{.verified = true,
                                        .attestation_due = ask_for_evidence.exchange(false),
                                        .heartbeat_interval_seconds = heartbeat_interval};
      co_return json_answer(bhttp::status::ok, ee::api::to_json(answer));
    });
    return r;
  }

  ee::api::SigningKey key_;
  mutable std::mutex mutex_;
  std::set<std::string> nonces_;
  std::vector<Registered> registrations_;
  std::vector<ee::api::HeartbeatRequest> heartbeats_;
  std::optional<ee::api::PublicKey> agent_key_;
  std::size_t attestations_ = 0;
  std::optional<ee::api::PublicKey> register_key_override_;
  ee::test::LoopbackServer server_;
};

constexpr char kImage[] =
    "registry.example/octo/"
    "hello@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

class AgentRuntimeTest : public ::testing::Test {
 protected:
  ee::test::TempDir dir;
  FakeCp cp;
  std::shared_ptr<ee::http::Client> client = ee::http::make_https_client().value();

  // A cloudflared stand-in: records the token it was given and stays up (or exits at once).
  std::filesystem::path cloudflared(bool stays_up = true) {
    auto const path = dir.write(
        "cloudflared", "#!/bin/sh\necho \"token=$TUNNEL_TOKEN args=$*\" >> '" +
                           (dir.path() / "cloudflared.log").string() + "'\necho connected\n" +
                           (stays_up ? "exec sleep 60\n" : "exit 1\n"));
    ::chmod(path.c_str(), 0755);
    return path;
  }

  ee::agent::Options options() {
    ee::agent::Options o;
    o.cp_url = cp.url();
    o.vm_name = "vm-a";
    o.owner = "github:org/octo-org";
    o.node_size = "tiny";
    o.datacenter = "gcp:us-central1-a";
    o.quotes = ee::tdx::make_simulator_provider(simulator());
    // The composition root shares one log buffer between the agent and its workload runtime.
    o.logs = std::make_shared<ee::agent::LogBuffer>();
    o.workload = ee::agent::make_process_runtime(
        {.command = {"/bin/sh", "-c", "echo serving $EE_APP_NAME; exec sleep 60"},
         .logs = o.logs,
         .restart_delay = 50ms});
    o.state_dir = dir.path() / "state";
    o.cloudflared = (dir.path() / "no-cloudflared-here").string();
    o.http = client;
    o.timings.retry_min = 20ms;
    o.timings.retry_max = 100ms;
    o.timings.refused_retry = 60s;
    return o;
  }

  std::unique_ptr<ee::agent::AgentRuntime> start(ee::agent::Options o) {
    auto agent = ee::agent::AgentRuntime::start(std::move(o));
    if (!agent) throw std::runtime_error(agent.error().message());
    return std::move(*agent);
  }

  // A request to the agent API, signed by `key` at `at` unless `key` is null.
  ee::http::Response call(
      ee::agent::AgentRuntime const& agent, bhttp::verb method, std::string const& target,
      std::string body = "", ee::api::SigningKey const* key = nullptr,
      std::chrono::system_clock::time_point at = std::chrono::system_clock::now()) {
    ee::http::Request request{method, agent.url() + target, 11};
    if (!body.empty()) request.set(bhttp::field::content_type, "application/json");
    request.body() = std::move(body);
    request.prepare_payload();
    if (key != nullptr) ee::api::sign_request(request, *key, at).value();
    return send(std::move(request));
  }

  ee::http::Response send(ee::http::Request request) {
    auto response = ee::block_on(client->send(std::move(request)));
    if (!response) throw std::runtime_error(response.error().message());
    return std::move(*response);
  }

  static bj::value body(ee::http::Response const& r) { return bj::parse(r.body()); }

  // GET /api/health, checked to be exactly what api::to_json writes of what
  // api::parse_agent_health reads of it: every field modelled, in the agent's order, with its
  // type and presence.
  bj::value health(ee::agent::AgentRuntime const& agent, std::string const& query = "") {
    auto const answer = call(agent, bhttp::verb::get, "/api/health" + query);
    EXPECT_EQ(answer.result(), bhttp::status::ok) << answer.body();
    auto parsed = ee::api::parse_agent_health(answer.body());
    EXPECT_TRUE(parsed.has_value()) << parsed.error().message() << "\n" << answer.body();
    if (parsed) {
      EXPECT_EQ(ee::api::to_json(*parsed), answer.body());
    }
    return bj::parse(answer.body());
  }
};

TEST_F(AgentRuntimeTest, RegistersAfterTwoFailuresWithAFreshNonceBoundEachTime) {
  cp.fail_registrations = 2;
  auto agent = start(options());
  ASSERT_TRUE(agent->wait_registered(15s)) << agent->status().last_error;
  auto const registrations = cp.registrations();
  ASSERT_EQ(registrations.size(), 3u);
  std::set<std::string> nonces;
  for (auto const& r : registrations) {
    nonces.insert(r.request.nonce);
    EXPECT_TRUE(r.binds_nonce_and_key);
    EXPECT_EQ(r.request.public_key, agent->public_key());
    EXPECT_EQ(r.request.vm_name, "vm-a");
    EXPECT_EQ(r.request.owner, "github:org/octo-org");
    EXPECT_FALSE(r.request.quote_b64.empty());
  }
  EXPECT_EQ(nonces.size(), 3u) << "each attempt needs a fresh challenge";
  auto const status = agent->status();
  EXPECT_TRUE(status.registered);
  EXPECT_EQ(status.agent_id, "00000000-0000-4000-8000-000000000001");
}

TEST_F(AgentRuntimeTest, ARefusalIsReportedAndRetriedSlowly) {
  cp.refuse_status = 403;
  auto agent = start(options());
  ASSERT_TRUE(eventually([&] { return cp.registrations().size() == 1; }));
  std::this_thread::sleep_for(700ms);  // the transport backoff would have retried several times
  EXPECT_EQ(cp.registrations().size(), 1u);
  EXPECT_FALSE(agent->status().registered);
  EXPECT_NE(agent->status().last_error.find("cp.attestation_failed"), std::string::npos)
      << agent->status().last_error;
  auto health = this->health(*agent);
  EXPECT_EQ(health.at("version").as_string(), std::string(ee::version()));
  EXPECT_FALSE(health.at("registered").as_bool());
  EXPECT_NE(std::string(health.at("last_error").as_string()).find("403"), std::string::npos);
}

TEST_F(AgentRuntimeTest, AnExpiredNonceIsRetriedAtOnce) {
  cp.refuse_status = 401;
  cp.refuse_code = "cp.nonce_expired";
  auto agent = start(options());
  ASSERT_TRUE(eventually([&] { return cp.registrations().size() >= 3; }, 5s));
  cp.refuse_status = 0;
  EXPECT_TRUE(agent->wait_registered(15s));
}

TEST_F(AgentRuntimeTest, HeartbeatsAreSignedAndA404MakesItRegisterAgain) {
  auto agent = start(options());
  ASSERT_TRUE(agent->wait_registered(15s));
  ASSERT_TRUE(eventually([&] { return !cp.heartbeats().empty(); }));
  EXPECT_EQ(cp.heartbeats().front().status, "idle");
  cp.forget_agent = true;
  ASSERT_TRUE(eventually([&] { return cp.registrations().size() >= 2; }));
  cp.forget_agent = false;
  ASSERT_TRUE(agent->wait_registered(15s));
  auto const count = cp.heartbeats().size();
  EXPECT_TRUE(eventually([&] { return cp.heartbeats().size() > count; }))
      << "heartbeats resume after re-registration";
}

TEST_F(AgentRuntimeTest, SendsFreshEvidenceWhenTheCpAsks) {
  cp.ask_for_evidence = true;
  auto agent = start(options());
  ASSERT_TRUE(agent->wait_registered(15s));
  ASSERT_TRUE(eventually([&] {
    for (auto const& hb : cp.heartbeats())
      if (!hb.quote_b64.empty()) return true;
    return false;
  }));
  for (auto const& hb : cp.heartbeats()) {
    if (hb.quote_b64.empty()) continue;
    auto quote = ee::tdx::parse_quote(ee::base64_decode(hb.quote_b64).value()).value();
    auto const nonce = ee::hex_decode(hb.nonce).value();
    EXPECT_TRUE(std::equal(nonce.begin(), nonce.end(), quote.td_report().report_data.begin()));
  }
}

TEST_F(AgentRuntimeTest, TheApiTakesOnlyRequestsSignedByItsControlPlane) {
  auto agent = start(options());
  // Before registration there is no CP key to check against.
  EXPECT_EQ(call(*agent, bhttp::verb::get, "/api/logs", "", &cp.key()).result(),
            bhttp::status::unauthorized);
  ASSERT_TRUE(agent->wait_registered(15s));
  EXPECT_EQ(call(*agent, bhttp::verb::get, "/api/logs", "", &cp.key()).result(), bhttp::status::ok);
  EXPECT_EQ(call(*agent, bhttp::verb::get, "/api/stats", "", &cp.key()).result(),
            bhttp::status::ok);
  EXPECT_EQ(call(*agent, bhttp::verb::get, "/api/logs").result(), bhttp::status::unauthorized);
  EXPECT_EQ(call(*agent, bhttp::verb::get, "/api/metrics").result(), bhttp::status::unauthorized);
  auto metrics = call(*agent, bhttp::verb::get, "/api/metrics", "", &cp.key());
  ASSERT_EQ(metrics.result(), bhttp::status::ok) << metrics.body();
  // What the agent counted: its registration, and the requests its API has answered.
  EXPECT_NE(metrics.body().find("ee_agent_registrations_total{outcome=\"ok\"} 1\n"), std::string::npos) << metrics.body();
  EXPECT_NE(metrics.body().find("ee_agent_registered 1\n"), std::string::npos) << metrics.body();
  EXPECT_NE(metrics.body().find("ee_agent_evidence_total{outcome=\"ok\"} 1\n"), std::string::npos) << metrics.body();
  EXPECT_NE(metrics.body().find("ee_http_requests_total{method=\"GET\",route=\"/api/logs\",status=\"401\"} 2\n"),
            std::string::npos)
      << metrics.body();
  // A relay can read it as it is.
  EXPECT_TRUE(ee::metrics::canonical_exposition(metrics.body()));
  auto const other = ee::api::SigningKey::generate().value();
  EXPECT_EQ(call(*agent, bhttp::verb::get, "/api/logs", "", &other).result(),
            bhttp::status::unauthorized);
  EXPECT_EQ(call(*agent, bhttp::verb::get, "/api/logs", "", &cp.key(),
                 std::chrono::system_clock::now() - 10min)
                .result(),
            bhttp::status::unauthorized);
  // The same signed request twice: the second is a replay.
  ee::http::Request request{bhttp::verb::get, agent->url() + "/api/stats", 11};
  ee::api::sign_request(request, cp.key(), std::chrono::system_clock::now()).value();
  EXPECT_EQ(send(request).result(), bhttp::status::ok);
  auto replay = send(request);
  EXPECT_EQ(replay.result(), bhttp::status::unauthorized);
  EXPECT_EQ(body(replay).at("code").as_string(), "api.replayed_request");
  // A deploy signed by another key changes nothing.
  ee::api::AgentDeployRequest deploy{
      .deployment_id = "dep-x", .app_name = "hello", .version = "1", .image = kImage};
  EXPECT_EQ(
      call(*agent, bhttp::verb::post, "/api/deploy", ee::api::to_json(deploy), &other).result(),
      bhttp::status::unauthorized);
  EXPECT_EQ(agent->status().workload.state, ee::agent::WorkloadState::idle);
}

TEST_F(AgentRuntimeTest, DeployReachesTheCpThroughHeartbeatsThenLogsAndUndeploy) {
  auto agent = start(options());
  ASSERT_TRUE(agent->wait_registered(15s));
  ee::api::AgentDeployRequest deploy{.deployment_id = "dep-1",
                                     .app_name = "hello",
                                     .version = "1.0.0",
                                     .image = kImage,
                                     .env = {{"GREETING", "hi"}}};
  auto answer = call(*agent, bhttp::verb::post, "/api/deploy", ee::api::to_json(deploy), &cp.key());
  ASSERT_EQ(answer.result(), bhttp::status::ok) << answer.body();
  EXPECT_EQ(ee::api::parse_agent_deploy_response(answer.body()).value().status, "deploying");
  ASSERT_TRUE(eventually(
      [&] { return agent->status().workload.state == ee::agent::WorkloadState::running; }));
  // The same deployment again: idempotent.
  auto again = call(*agent, bhttp::verb::post, "/api/deploy", ee::api::to_json(deploy), &cp.key());
  ASSERT_EQ(again.result(), bhttp::status::ok);
  EXPECT_EQ(ee::api::parse_agent_deploy_response(again.body()).value().status, "running");
  EXPECT_EQ(agent->status().workload.restarts, 0);

  ASSERT_TRUE(eventually([&] {
    for (auto const& hb : cp.heartbeats())
      if (hb.status == "running" && hb.deployment_id == "dep-1" &&
          hb.image_digest == "sha256:" + std::string(64, 'b'))
        return true;
    return false;
  }));
  // The CP's reader of the health answer (its recovery at start) sees the same.
  auto const text = call(*agent, bhttp::verb::get, "/api/health").body();
  auto health = ee::api::parse_agent_health(text);
  ASSERT_TRUE(health.has_value()) << health.error().message();
  EXPECT_EQ(ee::api::to_json(*health), text);
  EXPECT_EQ(health->agent_id, agent->status().agent_id);
  EXPECT_EQ(health->workload.state, "running");
  EXPECT_EQ(health->workload.deployment_id, "dep-1");
  EXPECT_EQ(health->workload.image_digest, "sha256:" + std::string(64, 'b'));
  ASSERT_TRUE(eventually([&] {
    auto logs = call(*agent, bhttp::verb::get, "/api/logs?lines=100", "", &cp.key());
    return logs.body().find("serving hello") != std::string::npos;
  }));

  ee::api::AgentUndeployRequest undeploy{.deployment_id = "dep-other"};
  EXPECT_EQ(call(*agent, bhttp::verb::post, "/api/undeploy", ee::api::to_json(undeploy), &cp.key())
                .result(),
            bhttp::status::conflict);
  undeploy.deployment_id = "dep-1";
  auto stopped =
      call(*agent, bhttp::verb::post, "/api/undeploy", ee::api::to_json(undeploy), &cp.key());
  ASSERT_EQ(stopped.result(), bhttp::status::ok) << stopped.body();
  EXPECT_EQ(ee::api::parse_agent_deploy_response(stopped.body()).value().status, "stopped");
  EXPECT_EQ(agent->status().workload.state, ee::agent::WorkloadState::stopped);
}

// A runtime that cannot start one image (as a failed pull or start would) and runs the others
// with the process runtime.
class RefusingRuntime final : public ee::agent::WorkloadRuntime {
 public:
  RefusingRuntime(std::shared_ptr<ee::agent::WorkloadRuntime> inner, std::string refused)
      : inner_(std::move(inner)), refused_(std::move(refused)) {}
  ee::result<void> run(ee::agent::WorkloadSpec const& spec) override {
    runs_.fetch_add(1);
    if (spec.image == refused_) {
      (void)inner_->stop();
      return ee::Error(ee::agent::errc::command_failed, "pull: manifest unknown");
    }
    return inner_->run(spec);
  }
  ee::result<void> stop() override { return inner_->stop(); }
  ee::agent::WorkloadStatus status() override { return inner_->status(); }
  std::string_view name() const noexcept override { return "refusing"; }
  int runs() const { return runs_.load(); }

 private:
  std::shared_ptr<ee::agent::WorkloadRuntime> inner_;
  std::string refused_;
  std::atomic<int> runs_{0};
};

TEST_F(AgentRuntimeTest, AnUpgradeThatDoesNotStartRollsBackAndHeartbeatsSaySo) {
  auto o = options();
  std::string const broken = "registry.example/hello@sha256:" + std::string(64, 'c');
  auto refusing = std::make_shared<RefusingRuntime>(o.workload, broken);
  o.workload = refusing;
  auto agent = start(std::move(o));
  ASSERT_TRUE(agent->wait_registered(15s));
  ee::api::AgentDeployRequest v1{.deployment_id = "dep-1", .app_name = "hello", .version = "1", .image = kImage};
  ASSERT_EQ(call(*agent, bhttp::verb::post, "/api/deploy", ee::api::to_json(v1), &cp.key()).result(),
            bhttp::status::ok);
  ASSERT_TRUE(eventually([&] {
    auto w = agent->status().workload;
    return w.state == ee::agent::WorkloadState::running && w.deployment_id == "dep-1";
  }));

  ee::api::AgentDeployRequest v2{.deployment_id = "dep-2", .app_name = "hello", .version = "2", .image = broken};
  ASSERT_EQ(call(*agent, bhttp::verb::post, "/api/deploy", ee::api::to_json(v2), &cp.key()).result(),
            bhttp::status::ok);
  // dep-2 does not start: dep-1 runs again, and heartbeats name dep-2 as rolled back.
  ASSERT_TRUE(eventually([&] {
    for (auto const& hb : cp.heartbeats())
      if (hb.rolled_back == "dep-2" && hb.deployment_id == "dep-1" && hb.status == "running") return true;
    return false;
  }));
  EXPECT_EQ(refusing->runs(), 3);
  EXPECT_EQ(agent->status().workload.deployment_id, "dep-1");

  // An undeploy forgets both: nothing is rolled back to afterwards.
  ee::api::AgentUndeployRequest undeploy{.deployment_id = "dep-1"};
  ASSERT_EQ(call(*agent, bhttp::verb::post, "/api/undeploy", ee::api::to_json(undeploy), &cp.key()).result(),
            bhttp::status::ok);
  ee::api::AgentDeployRequest v3{.deployment_id = "dep-3", .app_name = "hello", .version = "3", .image = broken};
  ASSERT_EQ(call(*agent, bhttp::verb::post, "/api/deploy", ee::api::to_json(v3), &cp.key()).result(),
            bhttp::status::ok);
  ASSERT_TRUE(eventually([&] { return refusing->runs() == 4; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(refusing->runs(), 4) << "no rollback after an undeploy";
  EXPECT_NE(agent->status().workload.state, ee::agent::WorkloadState::running);
}

TEST_F(AgentRuntimeTest, LogsAndStatsAnswerTheirQueries) {
  auto agent = start(options());
  ASSERT_TRUE(agent->wait_registered(15s));
  agent->logs()->append("agent", "first");
  agent->logs()->append("agent", "second");
  auto last = body(call(*agent, bhttp::verb::get, "/api/logs?lines=1", "", &cp.key()));
  ASSERT_EQ(last.at("lines").as_array().size(), 1u);
  EXPECT_EQ(last.at("lines").as_array()[0].at("text").as_string(), "second");
  for (std::string const query : {"?lines=0", "?lines=x", "?lines=10001", "?since=yesterday"}) {
    EXPECT_EQ(call(*agent, bhttp::verb::get, "/api/logs" + query, "", &cp.key()).result(),
              bhttp::status::bad_request)
        << query;
  }
  auto stats = body(call(*agent, bhttp::verb::get, "/api/stats", "", &cp.key()));
  EXPECT_GT(stats.at("memory").at("total_bytes").to_number<std::uint64_t>(), 0u);
  EXPECT_GT(stats.at("disk").at("total_bytes").to_number<std::uint64_t>(), 0u);
  EXPECT_GE(stats.at("cpu").at("count").to_number<std::uint64_t>(), 1u);
  EXPECT_GE(stats.at("uptime").at("system_seconds").to_number<double>(), 0.0);
}

// --- console tokens: the owner or operator reading logs and stats directly ----------------------

TEST_F(AgentRuntimeTest, AConsoleTokenOfItsCpOpensLogsAndStatsOfThisAgentOnly) {
  auto agent = start(options());
  // Before registration no token is accepted: the agent knows neither its CP's key nor its id.
  auto const id = std::string("00000000-0000-4000-8000-000000000001");
  auto const now = std::chrono::system_clock::now();
  auto token_for = [&](std::string agent_id, ee::api::SigningKey const& key, std::int64_t iat_offset = -10,
                       std::int64_t lifetime = 900, std::vector<std::string> scope = {"logs", "stats"}) {
    ee::api::ConsoleClaims c;
    c.agent_id = std::move(agent_id);
    c.scope = std::move(scope);
    c.issued_at = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() + iat_offset;
    c.expires_at = c.issued_at + lifetime;
    c.jti = "0123456789abcdef0123456789abcdef";
    return ee::api::mint_console_token(c, key).value();
  };
  auto with_bearer = [&](bhttp::verb method, std::string const& target, std::string const& token,
                         std::string body_text = "") {
    ee::http::Request request{method, agent->url() + target, 11};
    request.set(bhttp::field::authorization, "Bearer " + token);
    if (!body_text.empty()) request.set(bhttp::field::content_type, "application/json");
    request.body() = std::move(body_text);
    request.prepare_payload();
    return send(std::move(request));
  };
  auto const good = token_for(id, cp.key());
  EXPECT_EQ(with_bearer(bhttp::verb::get, "/api/logs", good).result(), bhttp::status::unauthorized);
  ASSERT_TRUE(agent->wait_registered(15s));
  ASSERT_EQ(agent->status().agent_id, id);

  auto logs = with_bearer(bhttp::verb::get, "/api/logs?lines=5", good);
  EXPECT_EQ(logs.result(), bhttp::status::ok) << logs.body();
  auto stats = with_bearer(bhttp::verb::get, "/api/stats", good);
  ASSERT_EQ(stats.result(), bhttp::status::ok) << stats.body();
  EXPECT_TRUE(ee::api::parse_agent_stats(stats.body())) << stats.body();
  // A bearer token is not a one-time signature: it is good until it expires.
  EXPECT_EQ(with_bearer(bhttp::verb::get, "/api/stats", good).result(), bhttp::status::ok);

  auto refused = [&](ee::http::Response const& r, bhttp::status status, std::string_view code) {
    EXPECT_EQ(r.result(), status) << r.body();
    EXPECT_EQ(body(r).at("code").as_string(), code) << r.body();
  };
  // Minted for another agent (a token replayed against a second agent).
  refused(with_bearer(bhttp::verb::get, "/api/logs", token_for("00000000-0000-4000-8000-000000000002", cp.key())),
          bhttp::status::forbidden, "api.console_token_not_allowed");
  // Only the logs scope: no stats.
  refused(with_bearer(bhttp::verb::get, "/api/stats", token_for(id, cp.key(), -10, 900, {"logs"})),
          bhttp::status::forbidden, "api.console_token_not_allowed");
  // Expired, and issued too far in the future.
  refused(with_bearer(bhttp::verb::get, "/api/logs", token_for(id, cp.key(), -1000, 900)), bhttp::status::unauthorized,
          "api.console_token_expired");
  refused(with_bearer(bhttp::verb::get, "/api/logs", token_for(id, cp.key(), 600, 900)), bhttp::status::unauthorized,
          "api.console_token_expired");
  // Signed by another key (an outsider's CP, or anyone's).
  auto const other = ee::api::SigningKey::generate().value();
  refused(with_bearer(bhttp::verb::get, "/api/logs", token_for(id, other)), bhttp::status::unauthorized,
          "api.console_token_invalid");
  // Tampered: the payload of a token for another agent under this token's signature.
  auto const elsewhere = token_for("00000000-0000-4000-8000-000000000002", cp.key());
  auto const spliced = good.substr(0, good.find('.')) + elsewhere.substr(elsewhere.find('.'), elsewhere.rfind('.') -
                                                                                                 elsewhere.find('.')) +
                       good.substr(good.rfind('.'));
  refused(with_bearer(bhttp::verb::get, "/api/logs", spliced), bhttp::status::unauthorized, "api.console_token_invalid");
  refused(with_bearer(bhttp::verb::get, "/api/logs", "not-a-token"), bhttp::status::unauthorized,
          "api.console_token_malformed");
  {
    ee::http::Request request{bhttp::verb::get, agent->url() + "/api/logs", 11};
    request.set(bhttp::field::authorization, "Basic " + good);
    refused(send(std::move(request)), bhttp::status::unauthorized, "api.console_token_malformed");
  }
  // A valid CP signature does not rescue a bad bearer.
  {
    ee::http::Request request{bhttp::verb::get, agent->url() + "/api/logs", 11};
    request.set(bhttp::field::authorization, "Bearer " + token_for(id, other));
    ee::api::sign_request(request, cp.key(), std::chrono::system_clock::now()).value();
    refused(send(std::move(request)), bhttp::status::unauthorized, "api.console_token_invalid");
  }
  // Routes it does not cover: deploy, undeploy and the metrics answer only the CP's signature.
  ee::api::AgentDeployRequest deploy{.deployment_id = "dep-x", .app_name = "hello", .version = "1", .image = kImage};
  refused(with_bearer(bhttp::verb::post, "/api/deploy", good, ee::api::to_json(deploy)), bhttp::status::unauthorized,
          "api.signature_missing");
  refused(with_bearer(bhttp::verb::post, "/api/undeploy", good, "{}"), bhttp::status::unauthorized,
          "api.signature_missing");
  refused(with_bearer(bhttp::verb::get, "/api/metrics", good), bhttp::status::unauthorized, "api.signature_missing");
  EXPECT_EQ(agent->status().workload.state, ee::agent::WorkloadState::idle);
}

TEST_F(AgentRuntimeTest, HealthWithAttestBindsTheCallersNonceAndTheAgentKey) {
  auto agent = start(options());
  std::string const nonce(64, 'c');
  auto const doc = health(*agent, "?attest=true&nonce=" + nonce);
  EXPECT_EQ(doc.at("vm_name").as_string(), "vm-a");
  EXPECT_EQ(doc.at("public_key").as_string(), agent->public_key());
  auto quote = ee::tdx::parse_quote(
                   ee::base64_decode(doc.at("attestation").at("quote_b64").as_string()).value())
                   .value();
  auto const& rd = quote.td_report().report_data;
  EXPECT_TRUE(std::all_of(rd.begin(), rd.begin() + 32, [](std::uint8_t b) { return b == 0xcc; }));
  auto const digest = ee::api::PublicKey::parse(agent->public_key()).value().sha256();
  EXPECT_TRUE(std::equal(digest.begin(), digest.end(), rd.begin() + 32));
  for (std::string const& query :
       {std::string("?attest=true"), std::string("?attest=true&nonce=zz"),
        "?attest=true&nonce=" + std::string(66, 'a'), std::string("?attest=maybe")}) {
    EXPECT_EQ(call(*agent, bhttp::verb::get, "/api/health" + query).result(),
              bhttp::status::bad_request)
        << query;
  }
}

TEST_F(AgentRuntimeTest, EveryOtherPathIsPassedToTheWorkload) {
  // The workload: echoes what reached it, so the test sees what the agent forwarded.
  ee::http::Router workload_router;
  workload_router.fallback([](ee::http::RequestContext& ctx) -> Reply {
    bj::object seen;
    seen["method"] = std::string(ctx.request.method_string());
    seen["target"] = std::string(ctx.request.target());
    seen["body"] = ctx.request.body();
    seen["x_test"] = std::string(ctx.request["X-Test"]);
    seen["connection"] = std::string(ctx.request[bhttp::field::connection]);
    auto response = ee::http::json_response(bhttp::status::created, bj::serialize(seen));
    response.set("X-Workload", "hello");
    co_return response;
  });
  ee::test::LoopbackServer workload_server(std::move(workload_router));
  auto o = options();
  o.workload_url = workload_server.url();
  auto agent = start(std::move(o));

  ee::http::Request request{bhttp::verb::post, agent->url() + "/orders/7?fast=1", 11};
  request.set("X-Test", "kept");
  request.set(bhttp::field::connection, "X-Test-Only");
  request.body() = "{\"qty\":2}";
  request.prepare_payload();
  auto answer = send(std::move(request));
  ASSERT_EQ(answer.result(), bhttp::status::created) << answer.body();
  EXPECT_EQ(answer["X-Workload"], "hello");
  auto const seen = body(answer);
  EXPECT_EQ(seen.at("method").as_string(), "POST");
  EXPECT_EQ(seen.at("target").as_string(), "/orders/7?fast=1");
  EXPECT_EQ(seen.at("body").as_string(), "{\"qty\":2}");
  EXPECT_EQ(seen.at("x_test").as_string(), "kept");
  EXPECT_NE(seen.at("connection").as_string(), "X-Test-Only");  // hop-by-hop, not forwarded

  // The agent's own paths are still the agent's, and a wrong method on them is not forwarded.
  EXPECT_EQ(call(*agent, bhttp::verb::get, "/api/health").result(), bhttp::status::ok);
  EXPECT_EQ(call(*agent, bhttp::verb::delete_, "/api/health").result(),
            bhttp::status::method_not_allowed);
}

// Sends `bytes` as they are to the server at `url` and returns everything it answers until it
// closes the connection (or 5 s pass).
std::string raw_exchange(std::string const& url, std::string const& bytes) {
  namespace asio = boost::asio;
  auto const port = static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect({asio::ip::address_v4::loopback(), port});
  asio::write(socket, asio::buffer(bytes));
  std::string out;
  std::array<char, 4096> chunk{};
  std::function<void()> read_more = [&] {
    socket.async_read_some(asio::buffer(chunk), [&](boost::system::error_code ec, std::size_t n) {
      out.append(chunk.data(), n);
      if (!ec) read_more();
    });
  };
  read_more();
  ioc.run_for(5s);
  return out;
}

// A workload that records every request that reaches it.
struct RecordingWorkload {
  std::shared_ptr<std::mutex> mutex = std::make_shared<std::mutex>();
  std::shared_ptr<std::vector<bj::object>> seen = std::make_shared<std::vector<bj::object>>();
  ee::test::LoopbackServer server{router()};

  ee::http::Router router() {
    ee::http::Router r;
    r.fallback([mutex = mutex, seen = seen](ee::http::RequestContext& ctx) -> Reply {
      bj::object one;
      one["method"] = std::string(ctx.request.method_string());
      one["target"] = std::string(ctx.request.target());
      one["body"] = ctx.request.body();
      one["content_length"] = std::string(ctx.request[bhttp::field::content_length]);
      one["transfer_encoding"] = std::string(ctx.request[bhttp::field::transfer_encoding]);
      one["x_secret"] = std::string(ctx.request["X-Secret"]);
      one["x_kept"] = std::string(ctx.request["X-Kept"]);
      {
        std::lock_guard lock(*mutex);
        seen->push_back(one);
      }
      co_return ee::http::json_response(bhttp::status::ok, bj::serialize(one));
    });
    return r;
  }
  std::vector<bj::object> requests() const {
    std::lock_guard lock(*mutex);
    return *seen;
  }
};

TEST_F(AgentRuntimeTest, ARequestSmuggledThroughTheProxyNeverReachesTheWorkload) {
  RecordingWorkload workload;
  auto o = options();
  o.workload_url = workload.server.url();
  auto agent = start(std::move(o));
  std::string const smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
  for (std::string const fields : {"Transfer-Encoding: xchunked\r\n",
                                   "Transfer-Encoding: chunked, identity\r\n",
                                   "Transfer-Encoding: gzip\r\nContent-Length: 35\r\n",
                                   "Content-Length: 35, 35\r\n"}) {
    auto const answer =
        raw_exchange(agent->url(), "POST /orders HTTP/1.1\r\nHost: a\r\n" + fields + "\r\n" + smuggled);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 400 ")) << fields << answer;
    EXPECT_EQ(answer.find("HTTP/1.1", 1), std::string::npos) << fields << answer;  // one answer
  }
  EXPECT_TRUE(workload.requests().empty());

  // A well-framed chunked request whose body looks like a request: the workload gets one request
  // with that body, framed by a Content-Length of the agent's, and no Transfer-Encoding.
  std::ostringstream size;
  size << std::hex << smuggled.size();
  auto const answer = raw_exchange(
      agent->url(), "POST /orders HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                    "Connection: close\r\n\r\n" +
                        size.str() + "\r\n" + smuggled + "\r\n0\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200 ")) << answer;
  auto const seen = workload.requests();
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].at("target").as_string(), "/orders");
  EXPECT_EQ(seen[0].at("body").as_string(), smuggled);
  EXPECT_EQ(seen[0].at("content_length").as_string(), std::to_string(smuggled.size()));
  EXPECT_EQ(seen[0].at("transfer_encoding").as_string(), "");
}

TEST_F(AgentRuntimeTest, TheProxySendsAnOriginFormTargetAndDropsFieldsConnectionNames) {
  RecordingWorkload workload;
  auto o = options();
  o.workload_url = workload.server.url();
  auto agent = start(std::move(o));
  // Appended to the workload's URL as it was, this target would name another host.
  auto const answer = raw_exchange(
      agent->url(), "GET http://evil.example/x?y=1 HTTP/1.1\r\nHost: evil.example\r\n"
                    "Connection: close, X-Secret\r\nX-Secret: s\r\nX-Kept: k\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200 ")) << answer;
  auto const seen = workload.requests();
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].at("target").as_string(), "/x?y=1");
  EXPECT_EQ(seen[0].at("x_secret").as_string(), "");
  EXPECT_EQ(seen[0].at("x_kept").as_string(), "k");
}

TEST_F(AgentRuntimeTest, AWorkloadThatDoesNotAnswerIsABadGateway) {
  ee::test::LoopbackServer gone{ee::http::Router{}};
  auto o = options();
  o.workload_url = "http://127.0.0.1:" + std::to_string(gone.port());
  gone.server().stop();
  auto agent = start(std::move(o));
  auto answer = call(*agent, bhttp::verb::get, "/");
  EXPECT_EQ(answer.result(), bhttp::status::bad_gateway) << answer.body();
  EXPECT_EQ(body(answer).at("code").as_string(), "agent.workload_unreachable");
}

// A quote provider as slow as a real quoting service can be.
class SlowQuotes final : public ee::tdx::QuoteProvider {
 public:
  ee::result<std::vector<std::uint8_t>> get_quote(ee::tdx::ReportData const& rd) override {
    std::this_thread::sleep_for(400ms);
    return simulator()->quote(rd);
  }
  std::string_view name() const noexcept override { return "slow"; }
};

TEST_F(AgentRuntimeTest, AFloodOfAttestedHealthRequestsIsAnsweredBusyNotQueued) {
  auto o = options();
  o.quotes = std::make_shared<SlowQuotes>();
  auto agent = start(o);
  std::vector<std::thread> callers;
  std::atomic<int> ok{0}, busy{0};
  for (int i = 0; i < 6; ++i) {
    callers.emplace_back([&] {
      auto r =
          call(*agent, bhttp::verb::get, "/api/health?attest=true&nonce=" + std::string(64, 'd'));
      if (r.result() == bhttp::status::ok) ++ok;
      if (r.result() == bhttp::status::service_unavailable &&
          r.body().find("agent.busy") != std::string::npos)
        ++busy;
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_GE(ok.load(), 1);
  EXPECT_GE(busy.load(), 1);
  EXPECT_EQ(ok + busy, 6);
  // Once they are done, attestations are served again.
  EXPECT_EQ(call(*agent, bhttp::verb::get, "/api/health?attest=true&nonce=00").result(),
            bhttp::status::ok);
}

TEST_F(AgentRuntimeTest, RunsTheTunnelWithItsTokenAndBringsItUpFromTheSavedStateAfterARestart) {
  cp.tunnel_token = "tunnel-token-1";
  auto o = options();
  o.cloudflared = cloudflared().string();
  {
    auto agent = start(o);
    ASSERT_TRUE(agent->wait_registered(15s));
    ASSERT_TRUE(eventually([&] { return agent->status().tunnel == "running"; }));
    ASSERT_TRUE(eventually([&] {
      return file_text(dir.path() / "cloudflared.log").find("token=tunnel-token-1") !=
             std::string::npos;
    }));
    EXPECT_NE(file_text(dir.path() / "cloudflared.log").find("args=tunnel --no-autoupdate run"),
              std::string::npos);
    EXPECT_EQ(agent->status().hostname, "vm-a.agents.example.com");
    struct stat st{};
    ASSERT_EQ(::stat((dir.path() / "state" / "registration.json").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    // The token is a secret: health does not show it.
    EXPECT_EQ(call(*agent, bhttp::verb::get, "/api/health").body().find("tunnel-token-1"),
              std::string::npos);
  }
  std::filesystem::remove(dir.path() / "cloudflared.log");
  // The CP is unreachable now: the saved registration alone brings the tunnel up.
  o.cp_url = "http://127.0.0.1:1";
  auto agent = start(o);
  ASSERT_TRUE(eventually([&] { return agent->status().tunnel == "running"; }));
  EXPECT_FALSE(agent->status().registered);
  EXPECT_EQ(agent->status().agent_id, "00000000-0000-4000-8000-000000000001");
  ASSERT_TRUE(eventually([&] {
    return file_text(dir.path() / "cloudflared.log").find("token=tunnel-token-1") !=
           std::string::npos;
  }));
}

TEST_F(AgentRuntimeTest, ACloudflaredThatExitsIsRestartedAndAMissingOneIsReported) {
  cp.tunnel_token = "tunnel-token-2";
  auto o = options();
  o.cloudflared = cloudflared(/*stays_up=*/false).string();
  auto agent = start(o);
  ASSERT_TRUE(agent->wait_registered(15s));
  ASSERT_TRUE(eventually([&] { return agent->status().tunnel_restarts >= 1; }));
  ASSERT_TRUE(eventually([&] {
    auto logs = call(*agent, bhttp::verb::get, "/api/logs", "", &cp.key()).body();
    return logs.find("connected") != std::string::npos &&
           logs.find("\"source\":\"tunnel\"") != std::string::npos;
  }));

  ee::test::TempDir other_state;
  auto missing = options();
  missing.state_dir = other_state.path();
  missing.server.port = 0;
  auto second = start(missing);  // options() points cloudflared at a file that does not exist
  ASSERT_TRUE(second->wait_registered(15s));
  ASSERT_TRUE(eventually([&] { return second->status().tunnel == "missing_binary"; }));
  auto health = this->health(*second);
  EXPECT_EQ(health.at("tunnel").at("state").as_string(), "missing_binary");
}

TEST_F(AgentRuntimeTest, RefusesIncompleteOptions) {
  auto o = options();
  o.cp_url = "not a url";
  EXPECT_FALSE(ee::agent::AgentRuntime::start(o));
  o = options();
  o.owner = "octo-org";
  EXPECT_FALSE(ee::agent::AgentRuntime::start(o));
  o = options();
  o.quotes = nullptr;
  auto r = ee::agent::AgentRuntime::start(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::condition::invalid_input);
  o = options();
  o.mode = ee::agent::Mode::cp_bootstrap;
  o.cp_command.clear();
  EXPECT_FALSE(ee::agent::AgentRuntime::start(o));
}

TEST_F(AgentRuntimeTest, CpBootstrapRunsTheControlPlaneAndItsTunnelWithoutRegistering) {
  auto o = options();
  o.mode = ee::agent::Mode::cp_bootstrap;
  o.cp_command = {"/bin/sh", "-c",
                  "echo control plane up with EE_TEST_FLAG=$EE_TEST_FLAG CF=$CLOUDFLARE_API_TOKEN; "
                  "exec sleep 60"};
  o.cp_env = {{"CLOUDFLARE_API_TOKEN", "from-config"}};
  o.tunnel_token = "cp-tunnel-token";
  o.cloudflared = cloudflared().string();
  ::setenv("EE_TEST_FLAG", "passed-through", 1);
  auto agent = start(o);
  ASSERT_TRUE(eventually([&] { return agent->status().control_plane == "running"; }));
  ASSERT_TRUE(eventually([&] { return agent->status().tunnel == "running"; }));
  ASSERT_TRUE(eventually([&] {
    for (auto const& line : agent->logs()->read())
      if (line.source == "cp" &&
          line.text == "control plane up with EE_TEST_FLAG=passed-through CF=from-config")
        return true;
    return false;
  }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(cp.challenges(), 0u);
  EXPECT_TRUE(cp.registrations().empty());
  auto health = this->health(*agent);
  EXPECT_EQ(health.at("mode").as_string(), "cp-bootstrap");
  EXPECT_EQ(health.at("control_plane").as_string(), "running");
  ::unsetenv("EE_TEST_FLAG");
}

}  // namespace

// --- the control plane's attestation (Options::cp_attestation) ----------------------------------

ee::tdx::Measurement simulator_mrtd() { return simulator()->td_report(ee::tdx::ReportData{}).mr_td; }

// What an agent told to expect the fake CP's TD requires: the simulator's root and collateral.
ee::agent::CpAttestationPolicy simulator_cp_policy() {
  ee::agent::CpAttestationPolicy p;
  p.root = simulator()->root();
  p.collateral = std::make_shared<ee::tdx::Collateral const>(simulator()->collateral());
  p.policy.allowed_mrtds = {simulator_mrtd()};
  return p;
}

bool contains(std::string const& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST_F(AgentRuntimeTest, WithTheCpMrtdItAttestsTheCpBeforeRegisteringAndHealthSaysAttested) {
  auto o = options();
  o.cp_attestation = simulator_cp_policy();
  auto agent = start(std::move(o));
  ASSERT_TRUE(agent->wait_registered(15s)) << agent->status().last_error;
  EXPECT_GE(cp.attestations(), 1u);
  auto const status = agent->status();
  EXPECT_EQ(status.cp_trust, ee::agent::CpTrust::attested);
  EXPECT_EQ(status.cp_mrtd, ee::hex_encode(simulator_mrtd()));
  auto health = this->health(*agent);
  EXPECT_EQ(health.at("cp_trust").as_string(), "attested");
  EXPECT_EQ(health.at("cp_mrtd").as_string(), ee::hex_encode(simulator_mrtd()));
  // The attested key is the one whose commands it takes.
  EXPECT_EQ(call(*agent, bhttp::verb::get, "/api/stats", "", &cp.key()).result(), bhttp::status::ok);
}

TEST_F(AgentRuntimeTest, WithoutTheCpMrtdHealthSaysTrustOnFirstUse) {
  auto agent = start(options());
  ASSERT_TRUE(agent->wait_registered(15s)) << agent->status().last_error;
  EXPECT_EQ(cp.attestations(), 0u);
  EXPECT_EQ(agent->status().cp_trust, ee::agent::CpTrust::trust_on_first_use);
  auto health = this->health(*agent);
  EXPECT_EQ(health.at("cp_trust").as_string(), "trust_on_first_use");
  EXPECT_FALSE(health.as_object().contains("cp_mrtd"));
}

TEST_F(AgentRuntimeTest, ACpWithAnotherMrtdIsNeverRegisteredWithAndRetriedWithBackoff) {
  auto o = options();
  o.cp_attestation = simulator_cp_policy();
  o.cp_attestation->policy.allowed_mrtds = {ee::tdx::Measurement{0xab}};
  auto agent = start(std::move(o));
  ASSERT_TRUE(eventually([&] { return cp.attestations() >= 3; }));
  EXPECT_TRUE(contains(agent->status().last_error, "policy_mrtd")) << agent->status().last_error;
  EXPECT_EQ(cp.challenges(), 0u) << "nothing is sent to a CP that failed its attestation";
  EXPECT_TRUE(cp.registrations().empty());
  EXPECT_FALSE(agent->status().registered);
  EXPECT_EQ(agent->status().cp_trust, ee::agent::CpTrust::not_attested);
  auto health = this->health(*agent);
  EXPECT_EQ(health.at("cp_trust").as_string(), "not_attested");
  EXPECT_EQ(call(*agent, bhttp::verb::get, "/api/stats", "", &cp.key()).result(),
            bhttp::status::unauthorized);
}

TEST_F(AgentRuntimeTest, ACpWithAnotherRtmrIsRefused) {
  auto o = options();
  o.cp_attestation = simulator_cp_policy();
  o.cp_attestation->policy.expected_rtmrs[2] = ee::tdx::Measurement{0xcd};
  auto agent = start(std::move(o));
  ASSERT_TRUE(eventually([&] { return contains(agent->status().last_error, "policy_rtmr2"); }))
      << agent->status().last_error;
  EXPECT_TRUE(cp.registrations().empty());
}

TEST_F(AgentRuntimeTest, ACpQuoteChainingToAnotherRootIsRefused) {
  auto o = options();
  o.cp_attestation = simulator_cp_policy();
  o.cp_attestation->root = ee::tdx::TrustedRoot::intel_sgx_root_ca();
  auto agent = start(std::move(o));
  ASSERT_TRUE(eventually([&] { return contains(agent->status().last_error, "pck_chain"); }))
      << agent->status().last_error;
  EXPECT_TRUE(cp.registrations().empty());
}

TEST_F(AgentRuntimeTest, AReplayedCpQuoteIsRefused) {
  cp.attestation_ignores_nonce = true;
  auto o = options();
  o.cp_attestation = simulator_cp_policy();
  auto agent = start(std::move(o));
  ASSERT_TRUE(eventually([&] { return contains(agent->status().last_error, "nonce_binding"); }))
      << agent->status().last_error;
  EXPECT_TRUE(cp.registrations().empty());
}

TEST_F(AgentRuntimeTest, AnotherKeyInTheAttestationAnswerIsRefused) {
  cp.attestation_key_override = ee::api::SigningKey::generate().value().public_key();
  auto o = options();
  o.cp_attestation = simulator_cp_policy();
  auto agent = start(std::move(o));
  ASSERT_TRUE(eventually([&] { return contains(agent->status().last_error, "key_binding"); }))
      << agent->status().last_error;
  EXPECT_TRUE(cp.registrations().empty());
}

TEST_F(AgentRuntimeTest, AKeySubstitutedInTheRegisterAnswerIsNeverTrusted) {
  auto const intruder = ee::api::SigningKey::generate().value();
  cp.set_register_key_override(intruder.public_key());
  auto o = options();
  o.cp_attestation = simulator_cp_policy();
  auto agent = start(std::move(o));
  ASSERT_TRUE(eventually([&] {
    return contains(agent->status().last_error, "not the key the control plane's attestation");
  })) << agent->status().last_error;
  // Attested once before registering and once more when the answer named another key.
  EXPECT_GE(cp.attestations(), 2u);
  EXPECT_FALSE(agent->status().registered);
  EXPECT_EQ(call(*agent, bhttp::verb::get, "/api/stats", "", &intruder).result(),
            bhttp::status::unauthorized);
  // Once the answer carries the attested key again, it registers.
  cp.set_register_key_override(std::nullopt);
  ASSERT_TRUE(agent->wait_registered(15s)) << agent->status().last_error;
  EXPECT_EQ(agent->status().cp_trust, ee::agent::CpTrust::attested);
}

TEST_F(AgentRuntimeTest, RefusesACpAttestationPolicyWithoutAnMrtd) {
  auto o = options();
  o.cp_attestation = simulator_cp_policy();
  o.cp_attestation->policy.allowed_mrtds.clear();
  auto agent = ee::agent::AgentRuntime::start(std::move(o));
  ASSERT_FALSE(agent);
  EXPECT_EQ(agent.error(), ee::agent::errc::invalid_config);
}

TEST_F(AgentRuntimeTest, WithCpAppraisalItaTheCpQuoteIsAppraisedByIntelTrustAuthority) {
  ee::test::FakeItaOptions fake;
  fake.root = simulator()->root();
  fake.collateral = std::make_shared<ee::tdx::Collateral const>(simulator()->collateral());
  auto ita = ee::test::FakeIta::start(fake).value();
  auto o = options();
  o.cp_attestation = simulator_cp_policy();
  o.cp_attestation->root = ee::tdx::TrustedRoot::intel_sgx_root_ca();  // unused by this path
  o.cp_attestation->collateral.reset();
  o.cp_attestation->appraiser = ee::agent::CpAttestationPolicy::Appraiser::ita;
  o.cp_attestation->ita.base_url = ita->url();
  o.cp_attestation->ita.api_key = ita->api_key();
  o.cp_attestation->ita_jwks_url = ita->jwks_url();
  auto agent = start(std::move(o));
  ASSERT_TRUE(agent->wait_registered(15s)) << agent->status().last_error;
  EXPECT_GE(ita->attest_count(), 1u);
  EXPECT_EQ(agent->status().cp_trust, ee::agent::CpTrust::attested);
}

TEST_F(AgentRuntimeTest, WithCpAppraisalItaAWrongMrtdIsRefused) {
  ee::test::FakeItaOptions fake;
  fake.root = simulator()->root();
  fake.collateral = std::make_shared<ee::tdx::Collateral const>(simulator()->collateral());
  auto ita = ee::test::FakeIta::start(fake).value();
  auto o = options();
  o.cp_attestation = simulator_cp_policy();
  o.cp_attestation->policy.allowed_mrtds = {ee::tdx::Measurement{0xab}};
  o.cp_attestation->appraiser = ee::agent::CpAttestationPolicy::Appraiser::ita;
  o.cp_attestation->ita.base_url = ita->url();
  o.cp_attestation->ita.api_key = ita->api_key();
  o.cp_attestation->ita_jwks_url = ita->jwks_url();
  auto agent = start(std::move(o));
  ASSERT_TRUE(eventually([&] { return contains(agent->status().last_error, "policy_mrtd"); }))
      << agent->status().last_error;
  EXPECT_TRUE(cp.registrations().empty());
}

// --- the key file ---------------------------------------------------------------------------

bool on_tmpfs(std::filesystem::path const& dir) {
  struct statfs fs{};
  return ::statfs(dir.c_str(), &fs) == 0 &&
         static_cast<std::uint32_t>(fs.f_type) == static_cast<std::uint32_t>(TMPFS_MAGIC);
}

TEST_F(AgentRuntimeTest, KeepsItsKeyInTheKeyFileAcrossRestartsAndRegistersWithIt) {
  if (!on_tmpfs("/dev/shm")) GTEST_SKIP() << "/dev/shm is not a tmpfs here";
  ee::test::TempDir shm("/dev/shm");
  auto o = options();
  o.key_file = shm.path() / "run" / "agent-key.pem";
  auto first = start(o);
  auto const key = first->public_key();
  ASSERT_TRUE(first->wait_registered(15s)) << first->status().last_error;
  first->stop();
  first.reset();
  struct stat st{};
  ASSERT_EQ(::stat(o.key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat(o.key_file.parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u) << "the directory it created is the agent's alone";

  auto second = start(o);
  EXPECT_EQ(second->public_key(), key);
  ASSERT_TRUE(eventually([&] { return cp.registrations().size() >= 2; }));
  EXPECT_EQ(cp.registrations().back().request.public_key, key);
  EXPECT_TRUE(cp.registrations().back().binds_nonce_and_key);
}

TEST_F(AgentRuntimeTest, RefusesAKeyFileOthersCanReadOrThatHoldsNoKey) {
  if (!on_tmpfs("/dev/shm")) GTEST_SKIP() << "/dev/shm is not a tmpfs here";
  ee::test::TempDir shm("/dev/shm");
  auto o = options();
  o.key_file = shm.path() / "agent-key.pem";
  start(o).reset();  // creates it
  ASSERT_EQ(::chmod(o.key_file.c_str(), 0644), 0);
  auto refused = ee::agent::AgentRuntime::start(o);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), ee::agent::errc::key_file_refused);
  EXPECT_TRUE(contains(refused.error().message(), "mode 0644")) << refused.error().message();

  std::ofstream(o.key_file, std::ios::trunc) << "not a key\n";
  ASSERT_EQ(::chmod(o.key_file.c_str(), 0600), 0);
  refused = ee::agent::AgentRuntime::start(o);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), ee::agent::errc::key_file_refused);
  EXPECT_TRUE(contains(refused.error().message(), "does not hold a P-256 private key"))
      << refused.error().message();
  EXPECT_FALSE(contains(refused.error().message(), "not a key"));

  std::filesystem::remove(o.key_file);
  std::filesystem::create_symlink(shm.path() / "elsewhere.pem", o.key_file);
  refused = ee::agent::AgentRuntime::start(o);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(contains(refused.error().message(), "symbolic link")) << refused.error().message();
}

TEST_F(AgentRuntimeTest, RefusesAKeyFileOffTmpfsUnlessAllowed) {
  // The test's own temporary directory, when it is a disk; the working directory otherwise.
  auto base = std::filesystem::temp_directory_path();
  if (on_tmpfs(base)) base = std::filesystem::current_path();
  if (on_tmpfs(base)) GTEST_SKIP() << "no directory off tmpfs to try";
  ee::test::TempDir disk(base);
  auto o = options();
  o.key_file = disk.path() / "agent-key.pem";
  auto refused = ee::agent::AgentRuntime::start(o);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), ee::agent::errc::key_file_refused);
  EXPECT_TRUE(contains(refused.error().message(), "not on a tmpfs or ramfs"))
      << refused.error().message();
  EXPECT_FALSE(std::filesystem::exists(o.key_file));

  o.key_file_allow_disk = true;
  auto allowed = start(o);
  EXPECT_TRUE(std::filesystem::exists(o.key_file));
}
