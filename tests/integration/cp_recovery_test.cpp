// A deploy interrupted by kill -9 of the real ee-cp (SQLite file, the simulator's root trusted in
// --dev): the agent is a stand-in API that takes the deploy call and never answers it, so the
// deploy is in flight when the CP dies. Restarted on the same database, the CP settles it within
// half a minute (the deploy timeout is 600 s) and a retried deploy is accepted. Not at once: a
// deployment still `pending` may be another replica's deploy in progress until the agent call
// timeout (15 s) and a margin (5 s) have passed since its last change.
#include "cp/fake_agent_api.hpp"
#include "fakes/fake_github.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/signing.hpp>
#include <easyenclave/block_on.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/tdx/simulator.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <future>
#include <thread>

namespace {

using namespace std::chrono_literals;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;

constexpr char kImage[] =
    "registry.example/octo-org/"
    "hello@sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";

std::uint16_t free_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

class CpRecoveryProgram : public ::testing::Test {
 protected:
  ee::test::TempDir dir;
  std::filesystem::path sim_dir = dir.path() / "simulator";
  std::shared_ptr<ee::tdx::Simulator> simulator = ee::tdx::Simulator::load_or_create(sim_dir).value();
  std::unique_ptr<ee::test::FakeGithubIssuer> github = ee::test::FakeGithubIssuer::start().value();
  std::shared_ptr<ee::http::Client> client = ee::http::make_https_client().value();
  std::uint16_t const cp_port = free_port();
  std::string const cp_url = "http://127.0.0.1:" + std::to_string(cp_port);
  std::unique_ptr<ee::test::Process> cp;
  std::unique_ptr<ee::test::FakeAgentApi> agent_api = ee::test::FakeAgentApi::start();
  ee::api::SigningKey agent_key = ee::api::SigningKey::generate().value();
  std::string agent_id;

  // The deploy timeout stays at its default (600 s): only the recovery can settle it in time.
  void start_cp() {
    cp = std::make_unique<ee::test::Process>(std::vector<std::string>{
        ee::test::program("ee-cp").string(), "--dev", "--listen", "127.0.0.1:" + std::to_string(cp_port), "--db",
        (dir.path() / "cp.db").string(), "--signing-key", (dir.path() / "cp-key.pem").string(), "--simulator-dir",
        sim_dir.string(), "--appraisal", "local", "--github-jwks-url", github->jwks_url(),
        "--health-scrape-interval", "0"});
    ASSERT_EQ(ee::test::listening_url(*cp), cp_url) << cp->err();
  }

  ee::result<ee::http::Response> send(bhttp::verb method, std::string const& path, std::string body = "",
                                      std::string const& bearer = "") {
    ee::http::Request request{method, cp_url + path, 11};
    if (!bearer.empty()) request.set(bhttp::field::authorization, "Bearer " + bearer);
    if (!body.empty()) request.set(bhttp::field::content_type, "application/json");
    request.body() = std::move(body);
    request.prepare_payload();
    ee::http::RequestOptions options;
    options.timeout = 60s;
    return ee::block_on(client->send(std::move(request), options));
  }

  ee::http::Response call(bhttp::verb method, std::string const& path, std::string body = "",
                          std::string const& bearer = "") {
    auto response = send(method, path, std::move(body), bearer);
    if (!response) throw std::runtime_error(response.error().message());
    return std::move(*response);
  }

  std::string token() {
    ee::test::GithubTokenRequest request;
    request.repository = "octo-org/hello";
    return github->mint(request);
  }

  std::string mrtd() const { return ee::hex_encode(simulator->td_report(ee::tdx::ReportData{}).mr_td); }

  // Registers the stand-in as an agent, with the simulator's quote over the CP's challenge.
  void register_agent() {
    auto challenge = call(bhttp::verb::get, "/api/v1/agents/challenge?vm_name=vm-recover");
    ASSERT_EQ(challenge.result(), bhttp::status::ok) << challenge.body();
    ee::api::RegisterRequest r;
    r.vm_name = "vm-recover";
    r.owner = "github:org/octo-org";
    r.node_size = "tiny";
    r.datacenter = "gcp:us-central1-a";
    r.nonce = ee::api::parse_challenge(challenge.body()).value().nonce;
    r.public_key = agent_key.public_key().base64();
    r.agent_url = agent_api->url();
    ee::tdx::ReportData rd{};
    auto const nonce = ee::hex_decode(r.nonce).value();
    std::copy(nonce.begin(), nonce.end(), rd.begin());
    auto const key_hash = agent_key.public_key().sha256();
    std::copy(key_hash.begin(), key_hash.end(), rd.begin() + 32);
    r.quote_b64 = ee::base64_encode(simulator->quote(rd).value());
    auto registered = call(bhttp::verb::post, "/api/v1/agents/register", ee::api::to_json(r));
    ASSERT_EQ(registered.result(), bhttp::status::ok) << registered.body();
    auto parsed = ee::api::parse_register_response(registered.body()).value();
    agent_id = parsed.agent_id;
    agent_api->trust_cp_key(parsed.cp_public_key);
  }

  std::string deploy_body() const {
    return R"({"app_name":"hello","version":"1.0.0","agent_id":")" + agent_id + "\"}";
  }

  // Publishes, registers, and leaves a deploy in flight (the agent took the call and is silent),
  // then kills the CP with SIGKILL. Returns the deployment's id.
  std::string deploy_and_kill() {
    start_cp();
    auto published = call(bhttp::verb::post, "/api/v1/apps",
                          R"({"name":"hello","description":"recovery","source_repo":"octo-org/hello",)"
                          R"("version":"1.0.0","image":")" +
                              std::string(kImage) + R"(","mrtd":")" + mrtd() + R"("})",
                          token());
    EXPECT_EQ(published.result(), bhttp::status::created) << published.body();
    register_agent();
    agent_api->hang_deploys(true);
    auto const bearer = token();
    auto in_flight = std::async(std::launch::async, [this, bearer] {
      return send(bhttp::verb::post, "/api/v1/deploy", deploy_body(), bearer);
    });
    auto const deadline = std::chrono::steady_clock::now() + 20s;
    while (agent_api->deploys().empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(agent_api->deploys().size(), 1u) << cp->err();
    auto pending = bj::parse(call(bhttp::verb::get, "/api/v1/deployments?status=pending").body());
    EXPECT_EQ(pending.as_array().size(), 1u) << "the deploy is in flight";
    cp->signal(SIGKILL);
    cp->wait(10s);
    cp.reset();
    EXPECT_FALSE(in_flight.get().has_value()) << "the deploy call died with the CP";
    return agent_api->deploys().empty() ? std::string() : agent_api->deploys().front().deployment_id;
  }

  bj::value deployment(std::string const& id) {
    return bj::parse(call(bhttp::verb::get, "/api/v1/deployments/" + id).body());
  }

  // Polls the deployment until its status is not `from` (or 40 s pass); its final view.
  bj::value settled(std::string const& id, std::string_view from) {
    auto const deadline = std::chrono::steady_clock::now() + 40s;
    auto d = deployment(id);
    while (d.at("status").as_string() == from && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(250ms);  // under the anonymous rate limit for the whole wait
      d = deployment(id);
    }
    return d;
  }

  // The CP's log gets `line` (it is written just after the change it reports).
  bool logged(std::string const& line) {
    auto const deadline = std::chrono::steady_clock::now() + 5s;
    while (cp->err().find(line) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
    return cp->err().find(line) != std::string::npos;
  }

  std::string agent_status() {
    return std::string(bj::parse(call(bhttp::verb::get, "/api/v1/agents/" + agent_id).body()).at("status").as_string());
  }
};

// The agent never started the deploy (it reports no workload): failed at once, agent free, retry ok.
TEST_F(CpRecoveryProgram, AnInterruptedDeployTheAgentDoesNotRunFailsWithinSecondsAndCanBeRetried) {
  auto const id = deploy_and_kill();
  ASSERT_FALSE(id.empty());
  agent_api->hang_deploys(false);
  auto const restarted = std::chrono::steady_clock::now();
  start_cp();
  auto const d = settled(id, "pending");
  EXPECT_LT(std::chrono::steady_clock::now() - restarted, 35s);
  ASSERT_EQ(d.at("status").as_string(), "failed") << d << cp->err();
  auto const detail = std::string(d.at("detail").as_string());
  EXPECT_NE(detail.find("the CP restarted during the deploy"), std::string::npos) << detail;
  EXPECT_NE(detail.find("runs no deployment"), std::string::npos) << detail;
  EXPECT_EQ(agent_status(), "idle");
  EXPECT_TRUE(logged("recovery failed deployment=" + id)) << cp->err();

  auto retried = call(bhttp::verb::post, "/api/v1/deploy", deploy_body(), token());
  ASSERT_EQ(retried.result(), bhttp::status::ok) << retried.body();
  auto const retry_id = std::string(bj::parse(retried.body()).at("deployment_id").as_string());
  EXPECT_NE(retry_id, id);
  EXPECT_EQ(deployment(retry_id).at("status").as_string(), "deploying");
  cp->signal(SIGTERM);
  EXPECT_EQ(cp->wait(20s), 0) << cp->err();
}

// The agent did take it and is pulling: the deploy goes on (deploying), the agent keeps it.
TEST_F(CpRecoveryProgram, AnInterruptedDeployTheAgentRunsIsResumed) {
  auto const id = deploy_and_kill();
  ASSERT_FALSE(id.empty());
  ee::api::AgentWorkload w;
  w.state = "pulling";
  w.deployment_id = id;
  agent_api->set_workload(w);
  start_cp();
  auto const d = settled(id, "pending");
  EXPECT_EQ(d.at("status").as_string(), "deploying") << cp->err();
  EXPECT_EQ(agent_status(), "deployed");
  EXPECT_TRUE(logged("recovery kept deployment=" + id)) << cp->err();
  cp->signal(SIGTERM);
  EXPECT_EQ(cp->wait(20s), 0) << cp->err();
}

}  // namespace
