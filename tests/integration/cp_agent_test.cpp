// End to end on loopback with the real programs: ee-cp (SQLite file, the simulator's root and
// collateral trusted in --dev) and two ee-agent processes (simulator quotes, the process workload
// runtime), with the GitHub OIDC issuer and the Cloudflare API stand-ins.
#include "fakes/fake_cloudflare.hpp"
#include "fakes/fake_github.hpp"
#include "support/loopback_server.hpp"
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
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include <sys/stat.h>

namespace {

using namespace std::chrono_literals;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;

template <class Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout = 30s) {
  auto const deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return predicate();
}

// A port nobody listens on now (bound and released), so a restarted CP comes back at the same URL.
std::uint16_t free_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

constexpr char kImage[] =
    "registry.example/octo-org/"
    "hello@sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

class CpAgentTest : public ::testing::Test {
 protected:
  ee::test::TempDir dir;
  // The agents' key files: /dev/shm is a tmpfs, as /run is in the image.
  ee::test::TempDir shm{"/dev/shm"};
  std::filesystem::path sim_dir = dir.path() / "simulator";
  std::shared_ptr<ee::tdx::Simulator> simulator =
      ee::tdx::Simulator::load_or_create(sim_dir).value();
  std::unique_ptr<ee::test::FakeGithubIssuer> github = ee::test::FakeGithubIssuer::start().value();
  std::unique_ptr<ee::test::FakeCloudflare> cloudflare;
  std::shared_ptr<ee::http::Client> client = ee::http::make_https_client().value();
  std::uint16_t const cp_port = free_port();
  std::string const cp_url = "http://127.0.0.1:" + std::to_string(cp_port);
  std::unique_ptr<ee::test::Process> cp;

  std::vector<std::string> cp_extra{};

  void start_cp() {
    std::vector<std::string> argv{ee::test::program("ee-cp").string(),
                                  "--dev",
                                  "--listen",
                                  "127.0.0.1:" + std::to_string(cp_port),
                                  "--db",
                                  (dir.path() / "cp.db").string(),
                                  "--simulator-dir",
                                  sim_dir.string(),
                                  "--appraisal",
                                  "local",
                                  "--github-jwks-url",
                                  github->jwks_url(),
                                  "--heartbeat-interval",
                                  "1",
                                  "--health-scrape-interval",
                                  "0",
                                  "--admin-token",
                                  "integration-admin",
                                  "--quote-provider",
                                  "simulator"};
    argv.insert(argv.end(), cp_extra.begin(), cp_extra.end());
    if (cloudflare) {
      argv.insert(argv.end(),
                  {"--cf-api-base", cloudflare->url(), "--cf-api-token", cloudflare->api_token(),
                   "--cf-account-id", cloudflare->account_id(), "--cf-zone-id",
                   cloudflare->zone_id(), "--domain", "agents.example.com"});
    }
    cp = std::make_unique<ee::test::Process>(argv);
    ASSERT_EQ(ee::test::listening_url(*cp), cp_url) << cp->err();
  }

  void stop_cp() {
    cp->signal(SIGTERM);
    EXPECT_EQ(cp->wait(20s), 0) << cp->err();
    cp.reset();
  }

  struct Agent {
    explicit Agent(std::string name, std::string disk = "") : vm_name(std::move(name)), machine(std::move(disk)) {}
    std::string vm_name;
    std::string machine;  ///< tells apart two VMs that claim one vm_name (their own disks)
    std::uint16_t port = 0;
    std::filesystem::path state{};
    std::unique_ptr<ee::test::Process> process{};
  };

  // An ee-agent whose workload is a shell loop; its config file carries what flags do not, and
  // `extra` (more JSON members, each followed by a comma). It registers with `url` (the CP's by
  // default).
  void start_agent(Agent& a, std::string const& owner, std::string const& extra = "",
                   std::string url = "") {
    if (url.empty()) url = cp_url;
    if (a.port == 0) a.port = free_port();
    a.state = dir.path() / ("state-" + a.vm_name + a.machine);
    auto const cloudflared =
        dir.write("cloudflared", "#!/bin/sh\necho tunnel up\nexec sleep 600\n");
    ::chmod(cloudflared.c_str(), 0755);
    auto const config =
        dir.write("agent-" + a.vm_name + a.machine + ".json",
                  "{" + extra + R"("key_file":")" + (shm.path() / (a.vm_name + a.machine + ".pem")).string() +
                      R"(","owner":")" + owner +
                      R"(","node_size":"tiny","datacenter":"gcp:us-central1-a",)"
                      R"("workload_runtime":"process","process_command":["/bin/sh","-c",)"
                      R"("echo hello from $EE_APP_NAME; exec sleep 600"],)"
                      R"("cloudflared":")" +
                      cloudflared.string() + R"("})");
    a.process = std::make_unique<ee::test::Process>(std::vector<std::string>{
        ee::test::program("ee-agent").string(), "--config", config.string(), "--cmdline",
        (dir.path() / "no-cmdline").string(), "--cp-url", url, "--vm-name", a.vm_name,
        "--listen", "127.0.0.1:" + std::to_string(a.port), "--agent-url",
        "http://127.0.0.1:" + std::to_string(a.port), "--state-dir", a.state.string(), "--provider",
        "simulator", "--simulator-dir", sim_dir.string()});
  }

  ee::http::Response call(bhttp::verb method, std::string const& path, std::string body = "",
                          std::string const& bearer = "") {
    ee::http::Request request{method, cp_url + path, 11};
    if (!bearer.empty()) request.set(bhttp::field::authorization, "Bearer " + bearer);
    if (!body.empty()) request.set(bhttp::field::content_type, "application/json");
    request.body() = std::move(body);
    request.prepare_payload();
    auto response = ee::block_on(client->send(std::move(request)));
    if (!response) throw std::runtime_error(response.error().message());
    return std::move(*response);
  }

  bj::value agents(std::string const& query = "") {
    auto r = call(bhttp::verb::get, "/api/v1/agents" + query);
    return r.result() == bhttp::status::ok ? bj::parse(r.body()) : bj::value(bj::array());
  }

  // The registered agent named `vm_name`, or null.
  bj::value agent(std::string const& vm_name) {
    auto list = agents("?vm_name=" + vm_name);
    return list.as_array().empty() ? bj::value() : list.as_array()[0];
  }

  std::string token(std::string const& repository) {
    ee::test::GithubTokenRequest request;
    request.repository = repository;
    return github->mint(request);
  }

  std::string mrtd() const {
    return ee::hex_encode(simulator->td_report(ee::tdx::ReportData{}).mr_td);
  }

  // Config members telling an agent to attest the CP, a TD of the simulator, before trusting it.
  std::string attest_cp(std::string const& cp_mrtd) const {
    return R"("cp_mrtd":")" + cp_mrtd + R"(","cp_quote_root_file":")" +
           (sim_dir / "root_ca.pem").string() + R"(","cp_collateral_file":")" +
           (sim_dir / "collateral.json").string() + R"(",)";
  }

  // The agent's own health answer (null while it does not answer).
  bj::value health(Agent const& a) {
    ee::http::Request request{bhttp::verb::get,
                              "http://127.0.0.1:" + std::to_string(a.port) + "/api/health", 11};
    auto r = ee::block_on(client->send(request));
    if (!r || r->result() != bhttp::status::ok) return nullptr;
    return bj::parse(r->body());
  }
};

TEST_F(CpAgentTest, PublishRegisterDeployLogsUndeployRestartAndRebuildTheRegistry) {
  start_cp();
  auto const owner_token = token("octo-org/hello");
  auto published =
      call(bhttp::verb::post, "/api/v1/apps",
           R"({"name":"hello","description":"integration","source_repo":"octo-org/hello",)"
           R"("version":"1.0.0","image":")" +
               std::string(kImage) + R"(","mrtd":")" + mrtd() + R"("})",
           owner_token);
  ASSERT_EQ(published.result(), bhttp::status::created) << published.body();

  Agent a("vm-owned"), b("vm-other");
  start_agent(a, "github:org/octo-org");
  start_agent(b, "github:org/other-org");
  ASSERT_TRUE(eventually([&] { return agents().as_array().size() == 2; }))
      << a.process->err() << b.process->err();
  auto const a_id = std::string(agent("vm-owned").at("agent_id").as_string());
  auto const b_id = std::string(agent("vm-other").at("agent_id").as_string());
  EXPECT_TRUE(agent("vm-owned").at("verified").as_bool());
  // The CP lists an agent once it has stored the registration; the agent accepts the CP's calls
  // once it has read the answer (and the CP's key in it). Under load the two can be apart.
  ASSERT_TRUE(eventually([&] {
    auto const h = health(a);
    return h.is_object() && h.at("registered").as_bool();
  }));

  // The token of octo-org cannot use other-org's agent; it can use its own.
  auto refused =
      call(bhttp::verb::post, "/api/v1/deploy",
           R"({"app_name":"hello","version":"1.0.0","agent_id":")" + b_id + R"("})", owner_token);
  EXPECT_EQ(refused.result(), bhttp::status::forbidden) << refused.body();
  auto deployed =
      call(bhttp::verb::post, "/api/v1/deploy",
           R"({"app_name":"hello","version":"1.0.0","agent_id":")" + a_id + R"("})", owner_token);
  ASSERT_EQ(deployed.result(), bhttp::status::ok) << deployed.body();
  auto const deployment_id =
      std::string(bj::parse(deployed.body()).at("deployment_id").as_string());

  // The agent's heartbeats carry the digest it runs: the deployment becomes running.
  ASSERT_TRUE(eventually([&] {
    auto d = call(bhttp::verb::get, "/api/v1/deployments/" + deployment_id);
    return d.result() == bhttp::status::ok &&
           bj::parse(d.body()).at("status").as_string() == "running";
  })) << a.process->err();
  EXPECT_EQ(agent("vm-owned").at("reported_digest").as_string(), "sha256:" + std::string(64, 'c'));

  // Its logs, pulled through the CP (signed by the CP's key), hold the workload's output.
  ASSERT_TRUE(eventually([&] {
    auto logs = call(bhttp::verb::get, "/api/v1/agents/" + a_id + "/logs", "", owner_token);
    return logs.result() == bhttp::status::ok &&
           logs.body().find("hello from hello") != std::string::npos;
  }));
  EXPECT_EQ(
      call(bhttp::verb::get, "/api/v1/agents/" + a_id + "/logs", "", token("other-org/x")).result(),
      bhttp::status::forbidden);

  auto undeployed =
      call(bhttp::verb::post, "/api/v1/agents/" + a_id + "/undeploy", "", owner_token);
  ASSERT_EQ(undeployed.result(), bhttp::status::ok) << undeployed.body();
  EXPECT_EQ(bj::parse(undeployed.body()).at("status").as_string(), "stopped");
  ASSERT_TRUE(eventually([&] { return agent("vm-owned").at("status").as_string() == "idle"; }));

  // kill -9 and start again: the key from its key file, a new registration, the same agent id.
  auto const registered_before =
      std::string(agent("vm-owned").at("last_registered_at").as_string());
  a.process->signal(SIGKILL);
  a.process->wait(10s);
  std::this_thread::sleep_for(1100ms);  // registration times have a resolution of one second
  start_agent(a, "github:org/octo-org");
  ASSERT_TRUE(eventually([&] {
    auto again = agent("vm-owned");
    return !again.is_null() && again.at("last_registered_at").as_string() != registered_before;
  })) << a.process->err();
  EXPECT_EQ(agent("vm-owned").at("agent_id").as_string(), a_id);
  EXPECT_EQ(agents().as_array().size(), 2u);

  // The database is a cache: without it, the agents register again on their own.
  stop_cp();
  for (auto const* suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(dir.path() / ("cp.db" + std::string(suffix)));
  start_cp();
  EXPECT_TRUE(agents().as_array().empty());
  ASSERT_TRUE(eventually([&] { return agents().as_array().size() == 2; }))
      << a.process->err() << b.process->err();
  EXPECT_EQ(agent("vm-owned").at("agent_id").as_string().empty(), false);
  EXPECT_TRUE(agent("vm-other").at("verified").as_bool());
}

TEST_F(CpAgentTest, WithCloudflareEachAgentKeepsOneTunnelAcrossRestarts) {
  cloudflare = ee::test::FakeCloudflare::start({}).value();
  start_cp();
  Agent a("vm-tunnel-a"), b("vm-tunnel-b");
  start_agent(a, "github:org/octo-org");
  start_agent(b, "github:org/octo-org");
  ASSERT_TRUE(eventually([&] { return agents().as_array().size() == 2; })) << a.process->err();
  EXPECT_EQ(cloudflare->live_tunnel_count(), 2u);
  EXPECT_EQ(cloudflare->dns_record_count(), 2u);
  auto const a_id = std::string(agent("vm-tunnel-a").at("agent_id").as_string());
  EXPECT_EQ(agent("vm-tunnel-a").at("hostname").as_string(), "vm-tunnel-a.agents.example.com");
  // The agent runs cloudflared with the token it got.
  ASSERT_TRUE(eventually([&] {
    ee::http::Request health{bhttp::verb::get,
                             "http://127.0.0.1:" + std::to_string(a.port) + "/api/health", 11};
    auto r = ee::block_on(client->send(health));
    return r && bj::parse(r->body()).at("tunnel").at("state").as_string() == "running";
  }));

  a.process->signal(SIGKILL);
  a.process->wait(10s);
  start_agent(a, "github:org/octo-org");
  ASSERT_TRUE(eventually([&] {
    ee::http::Request health{bhttp::verb::get,
                             "http://127.0.0.1:" + std::to_string(a.port) + "/api/health", 11};
    auto r = ee::block_on(client->send(health));
    return r && r->result() == bhttp::status::ok && bj::parse(r->body()).at("registered").as_bool();
  })) << a.process->err();
  EXPECT_EQ(agent("vm-tunnel-a").at("agent_id").as_string(), a_id);
  EXPECT_EQ(cloudflare->live_tunnel_count(), 2u) << "re-registration must reuse the tunnel";
  EXPECT_EQ(cloudflare->dns_record_count(), 2u);
}

// The attack that worked: anyone who boots the public agent image on a TDX host has a trusted
// MRTD, reads a victim's vm_name from GET /agents and registers under it. Now, with owners proven
// by bootstrap tokens, neither another owner nor another key of the same owner gets anything, and
// the victim, killed and restarted, gets its id and tunnel back.
TEST_F(CpAgentTest, AnOutsiderWithAGenuineTdCannotTakeAVmName) {
  cloudflare = ee::test::FakeCloudflare::start({}).value();
  cp_extra = {"--owner-proof-mode", "required"};
  start_cp();
  auto minted = call(bhttp::verb::post, "/api/v1/owners/bootstrap-tokens", R"({"uses":5})", token("octo-org/infra"));
  ASSERT_EQ(minted.result(), bhttp::status::created) << minted.body();
  auto const bootstrap = std::string(bj::parse(minted.body()).at("token").as_string());

  Agent victim("vm-victim");
  start_agent(victim, "github:org/octo-org", R"("bootstrap_token":")" + bootstrap + "\",");
  ASSERT_TRUE(eventually([&] { return !agent("vm-victim").is_null(); })) << victim.process->err();
  auto const victim_id = std::string(agent("vm-victim").at("agent_id").as_string());
  EXPECT_EQ(agent("vm-victim").at("owner_id").as_string(), "654321");
  EXPECT_EQ(cloudflare->live_tunnel_count(), 1u);

  // Another owner's TD under the victim's name; then one claiming the victim's owner.
  for (auto const* owner : {"github:org/evil-org", "github:org/octo-org"}) {
    Agent outsider("vm-victim", "-outsider");
    start_agent(outsider, owner);
    ASSERT_TRUE(eventually([&] {
      auto h = health(outsider);
      return h.is_object() && h.as_object().contains("last_error") &&
             std::string_view(h.at("last_error").as_string()).find("vm_name_taken") != std::string_view::npos;
    })) << outsider.process->err();
    auto const h = health(outsider);
    EXPECT_FALSE(h.at("registered").as_bool()) << owner;
    EXPECT_NE(h.at("tunnel").at("state").as_string(), "running") << "it never got the victim's tunnel token";
    EXPECT_FALSE(std::filesystem::exists(outsider.state / "registration.json")) << owner;
    outsider.process->signal(SIGKILL);
    outsider.process->wait(10s);
  }
  auto const record = agent("vm-victim");
  EXPECT_EQ(record.at("agent_id").as_string(), victim_id);
  EXPECT_EQ(record.at("owner").as_string(), "github:org/octo-org");
  EXPECT_EQ(cloudflare->live_tunnel_count(), 1u);
  // The victim still heartbeats: its record keeps moving.
  auto const beat = std::string(record.at("last_heartbeat_at").as_string());
  ASSERT_TRUE(eventually([&] { return agent("vm-victim").at("last_heartbeat_at").as_string() != beat; }))
      << victim.process->err();

  // kill -9 and start again: the same id and the same tunnel.
  victim.process->signal(SIGKILL);
  victim.process->wait(10s);
  start_agent(victim, "github:org/octo-org", R"("bootstrap_token":")" + bootstrap + "\",");
  ASSERT_TRUE(eventually([&] {
    auto h = health(victim);
    return h.is_object() && h.at("registered").as_bool() && h.at("tunnel").at("state").as_string() == "running";
  })) << victim.process->err();
  EXPECT_EQ(agent("vm-victim").at("agent_id").as_string(), victim_id);
  EXPECT_EQ(agent("vm-victim").at("hostname").as_string(), "vm-victim.agents.example.com");
  EXPECT_EQ(cloudflare->live_tunnel_count(), 1u);
}

// The attack that worked: an agent reported agent_url=http://127.0.0.1:P/internal?x= and the
// CP's logs route fetched that internal URL and returned its body. Now the CP takes only origins,
// and calls one only inside the operator's networks.
TEST_F(CpAgentTest, TheCpNeverCallsAnInternalServiceThroughAnAgentUrl) {
  // An internal service on loopback that answers every GET with a secret and counts requests.
  auto const internal_port = free_port();
  auto const seen = dir.path() / "internal-requests";
  ee::test::Process internal({"/usr/bin/env", "python3", "-c", R"(
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        open(sys.argv[2], 'a').write(self.path + '\n')
        body = b'{"lines":[],"dropped":0,"secret":"internal-metadata"}'
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
)", std::to_string(internal_port), seen.string()});
  cp_extra = {"--agent-network", "10.0.0.0/8"};
  start_cp();
  ASSERT_TRUE(eventually([&] {
    ee::http::Request probe{bhttp::verb::get, "http://127.0.0.1:" + std::to_string(internal_port) + "/", 11};
    return static_cast<bool>(ee::block_on(client->send(probe)));
  }));
  std::filesystem::remove(seen);

  // The attacker's registration, as it sent it: genuine (simulated) TD evidence, an agent_url
  // with a path and a query.
  auto const attacker_key = ee::api::SigningKey::generate().value();
  auto crafted = [&](std::string const& vm_name, std::string const& agent_url) {
    auto challenge = call(bhttp::verb::get, "/api/v1/agents/challenge?vm_name=" + vm_name);
    ee::api::RegisterRequest r;
    r.vm_name = vm_name;
    r.owner = "github:org/octo-org";
    r.node_size = "tiny";
    r.datacenter = "gcp:us-central1-a";
    r.nonce = std::string(bj::parse(challenge.body()).at("nonce").as_string());
    r.public_key = attacker_key.public_key().base64();
    r.agent_url = agent_url;
    ee::tdx::ReportData report_data{};
    auto const nonce = ee::hex_decode(r.nonce).value();
    std::copy(nonce.begin(), nonce.end(), report_data.begin());
    auto const digest = attacker_key.public_key().sha256();
    std::copy(digest.begin(), digest.end(), report_data.begin() + 32);
    r.quote_b64 = ee::base64_encode(simulator->quote(report_data).value());
    return call(bhttp::verb::post, "/api/v1/agents/register", ee::api::to_json(r));
  };
  auto const internal_origin = "http://127.0.0.1:" + std::to_string(internal_port);
  auto pathy = crafted("vm-pathy", internal_origin + "/internal?x=");
  EXPECT_EQ(pathy.result(), bhttp::status::bad_request) << pathy.body();
  EXPECT_NE(pathy.body().find("agent_url"), std::string::npos) << pathy.body();
  EXPECT_TRUE(agent("vm-pathy").is_null());

  // Its origin only: registered, but the CP never calls it (loopback is not in 10.0.0.0/8).
  auto registered = crafted("vm-origin", internal_origin);
  ASSERT_EQ(registered.result(), bhttp::status::ok) << registered.body();
  auto const id = std::string(bj::parse(registered.body()).at("agent_id").as_string());
  auto logs = call(bhttp::verb::get, "/api/v1/agents/" + id + "/logs", "", token("octo-org/hello"));
  EXPECT_EQ(logs.result(), bhttp::status::bad_gateway) << logs.body();
  EXPECT_EQ(logs.body().find("internal-metadata"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(seen)) << "the internal service was called";
  internal.signal(SIGTERM);
}

}  // namespace

namespace {

TEST_F(CpAgentTest, AnAgentToldTheCpMrtdAttestsItRegistersAndKeepsItsKeyAcrossRestarts) {
  start_cp();
  Agent a("vm-attests");
  start_agent(a, "github:org/octo-org", attest_cp(mrtd()));
  ASSERT_TRUE(eventually([&] { return !agent("vm-attests").is_null(); })) << a.process->err();
  ASSERT_TRUE(eventually([&] {
    auto h = health(a);
    return !h.is_null() && h.at("registered").as_bool();
  })) << a.process->err();
  auto h = health(a);
  EXPECT_EQ(h.at("cp_trust").as_string(), "attested");
  EXPECT_EQ(h.at("cp_mrtd").as_string(), mrtd());
  auto const key = std::string(h.at("public_key").as_string());
  EXPECT_EQ(agent("vm-attests").at("public_key").as_string(), key);

  // kill -9 and start again: the key comes back from the key file, and registers again.
  auto const registered_before =
      std::string(agent("vm-attests").at("last_registered_at").as_string());
  a.process->signal(SIGKILL);
  a.process->wait(10s);
  std::this_thread::sleep_for(1100ms);  // registration times have a resolution of one second
  start_agent(a, "github:org/octo-org", attest_cp(mrtd()));
  ASSERT_TRUE(eventually([&] {
    auto again = agent("vm-attests");
    return !again.is_null() && again.at("last_registered_at").as_string() != registered_before;
  })) << a.process->err();
  EXPECT_EQ(agent("vm-attests").at("public_key").as_string(), key);
  ASSERT_TRUE(eventually([&] {
    auto again = health(a);
    return !again.is_null() && again.at("public_key").as_string() == key &&
           again.at("cp_trust").as_string() == "attested";
  })) << a.process->err();
}

TEST_F(CpAgentTest, AnAgentToldAnotherMrtdNeverRegistersWithThisCp) {
  start_cp();
  Agent a("vm-expects-other");
  start_agent(a, "github:org/octo-org", attest_cp(std::string(96, 'a')));
  ASSERT_TRUE(eventually([&] {
    auto h = health(a);
    return !h.is_null() && h.as_object().contains("last_error") &&
           h.at("last_error").as_string().find("policy_mrtd") != std::string::npos;
  })) << a.process->err();
  auto h = health(a);
  EXPECT_FALSE(h.at("registered").as_bool());
  EXPECT_EQ(h.at("cp_trust").as_string(), "not_attested");
  EXPECT_TRUE(agent("vm-expects-other").is_null()) << "it never sent its registration";
}

TEST_F(CpAgentTest, AManInTheMiddleSubstitutingTheCpKeyIsDetected) {
  start_cp();
  // Passes every request to the CP; in the register answer, puts its own key as cp_public_key.
  auto const intruder = ee::api::SigningKey::generate().value();
  ee::http::Router router;
  router.fallback([&](ee::http::RequestContext& ctx) -> boost::asio::awaitable<
                                                         ee::result<ee::http::Response>> {
    ee::http::Request out{ctx.request.method(), cp_url + std::string(ctx.request.target()), 11};
    for (auto const& field : ctx.request) {
      if (field.name() != bhttp::field::host && field.name() != bhttp::field::content_length)
        out.insert(field.name_string(), field.value());
    }
    out.body() = ctx.request.body();
    out.prepare_payload();
    auto answer = co_await client->send(std::move(out));
    if (!answer) co_return answer.error();
    if (ctx.request.target() == "/api/v1/agents/register" &&
        answer->result() == bhttp::status::ok) {
      auto body = bj::parse(answer->body());
      body.as_object()["cp_public_key"] = intruder.public_key().base64();
      answer->body() = bj::serialize(body);
      answer->prepare_payload();
    }
    co_return std::move(*answer);
  });
  ee::test::LoopbackServer proxy(std::move(router));

  Agent a("vm-behind-mitm");
  start_agent(a, "github:org/octo-org", attest_cp(mrtd()), proxy.url());
  ASSERT_TRUE(eventually([&] {
    auto h = health(a);
    return !h.is_null() && h.as_object().contains("last_error") &&
           h.at("last_error").as_string().find("not the key the control plane's attestation") !=
               std::string::npos;
  })) << a.process->err();
  auto h = health(a);
  EXPECT_FALSE(h.at("registered").as_bool());
  EXPECT_EQ(h.at("cp_trust").as_string(), "not_attested");

  // Without cp_mrtd the same man in the middle is trusted on first use, and health says so.
  Agent b("vm-tofu-behind-mitm");
  start_agent(b, "github:org/octo-org", "", proxy.url());
  ASSERT_TRUE(eventually([&] {
    auto hb = health(b);
    return !hb.is_null() && hb.at("registered").as_bool();
  })) << b.process->err();
  EXPECT_EQ(health(b).at("cp_trust").as_string(), "trust_on_first_use");
}

}  // namespace
