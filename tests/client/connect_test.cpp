// connect() against a stand-in control plane and a stand-in agent, both real http::Servers on
// loopback, with quotes from the TDX simulator. Each test breaks one thing and expects the check
// that guards it to fail, naming what it expected.
#include "fakes/fake_github.hpp"
#include "support/loopback_server.hpp"

#include <easyenclave/api/catalog.hpp>
#include <easyenclave/api/signing.hpp>
#include <easyenclave/block_on.hpp>
#include <easyenclave/client/connect.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/tdx/simulator.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <vector>

namespace {

namespace bhttp = boost::beast::http;
namespace bj = boost::json;
namespace client = ee::client;
using namespace std::chrono_literals;
using Reply = boost::asio::awaitable<ee::result<ee::http::Response>>;

constexpr char kDigest[] =
    "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
constexpr char kOtherDigest[] =
    "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";

ee::tdx::Measurement filled(std::uint8_t byte) {
  ee::tdx::Measurement m{};
  m.fill(byte);
  return m;
}

std::shared_ptr<ee::tdx::Simulator> make_simulator(
    ee::tdx::TcbStatus status = ee::tdx::TcbStatus::up_to_date) {
  ee::tdx::SimulatorOptions options;
  options.mr_td = filled(0x11);
  options.rtmr = {filled(0x20), filled(0x21), filled(0x22), filled(0x23)};
  options.tcb_status = status;
  if (status != ee::tdx::TcbStatus::up_to_date) options.advisory_ids = {"INTEL-SA-00837"};
  return ee::tdx::Simulator::create(options).value();
}

// What the stand-ins serve; tests change it before connecting. Read from the servers' threads.
struct World {
  std::mutex mutex;
  std::shared_ptr<ee::tdx::Simulator> simulator = make_simulator();
  ee::api::SigningKey agent_key = ee::api::SigningKey::generate().value();
  ee::api::SigningKey other_key = ee::api::SigningKey::generate().value();

  // The catalog.
  std::string source_repo = "octo-org/hello";  // of app "hello"
  std::string app_status = "200";  // "200", "404", "500"
  std::string published_mrtd = ee::hex_encode(filled(0x11));
  std::array<std::string, 4> published_rtmrs{};  // "": not pinned
  std::string published_digest = kDigest;
  std::string deployment_status_filter_seen;
  bool has_deployment = true;
  bool agent_verified = true;
  std::string cp_agent_key{};  // empty: the agent's real key
  bool cp_lists_key = true;    // false: the agent record has no public_key (a legacy agent)
  std::string agent_url{};     // set by the fixture

  // The agent.
  // strip_key and empty_key play a man in the middle that removes the agent's key from the
  // answer (or blanks it) to escape the key checks.
  enum class Quirk {
    none,
    replay_nonce,
    unbound_key,
    malformed,
    no_attestation,
    http_500,
    strip_key,
    empty_key
  };
  Quirk quirk = Quirk::none;
  std::string workload_state = "running";
  std::string workload_digest = kDigest;
  std::atomic<int> health_calls{0};
  // The client's port of every request the agent answered (guarded by `mutex`): one port for
  // several requests means they shared a connection.
  std::vector<unsigned short> agent_ports;

  ee::http::Response json(bj::value const& v, bhttp::status s = bhttp::status::ok) {
    return ee::http::json_response(s, bj::serialize(v));
  }
};

// The stand-in CP answers with the api/ views, as the real one does.
ee::api::AppView app_view(World& w) {
  ee::api::AppVersionView version;
  version.app_name = "hello";
  version.version = "1.0.0";
  version.image = std::string("registry.example/octo-org/hello@") + w.published_digest;
  version.mrtd = w.published_mrtd;
  version.rtmrs = w.published_rtmrs;
  version.published_by = "octo-org/hello";
  ee::api::AppView app;
  app.name = "hello";
  app.description = "test";
  app.source_repo = w.source_repo;
  app.owner = "octo-org";
  app.versions = std::vector<ee::api::AppVersionView>{version};
  return app;
}

Reply cp_apps(World* w) {
  auto app = app_view(*w);
  app.versions.reset();
  ee::api::AppView other;
  other.name = "other";
  other.source_repo = "someone/else";
  co_return ee::http::json_response(bhttp::status::ok,
                                    ee::api::to_json(std::vector<ee::api::AppView>{app, other}));
}

Reply cp_app(World* w, ee::http::RequestContext& ctx) {
  if (w->app_status == "500")
    co_return ee::http::error_response(bhttp::status::internal_server_error, "cp.boom", "boom",
                                       "x");
  if (w->app_status == "404" || ctx.params.get("name") != "hello")
    co_return ee::http::error_response(bhttp::status::not_found, "registry.not_found", "no app",
                                       "x");
  co_return ee::http::json_response(bhttp::status::ok, ee::api::to_json(app_view(*w)));
}

Reply cp_deployments(World* w, ee::http::RequestContext& ctx) {
  {
    std::lock_guard lock(w->mutex);
    w->deployment_status_filter_seen = ctx.query("status").value_or("");
  }
  std::vector<ee::api::DeploymentView> list;
  if (w->has_deployment && ctx.query("app_name") == "hello") {
    ee::api::DeploymentView d;
    d.deployment_id = "dep-1";
    d.app_name = "hello";
    d.version = "1.0.0";
    d.agent_id = "agent-1";
    d.image = std::string("registry.example/octo-org/hello@") + w->published_digest;
    d.status = "running";
    list.push_back(d);
  }
  co_return ee::http::json_response(bhttp::status::ok, ee::api::to_json(list));
}

Reply cp_agent(World* w, ee::http::RequestContext& ctx) {
  if (ctx.params.get("id") != "agent-1")
    co_return ee::http::error_response(bhttp::status::not_found, "registry.not_found", "no", "x");
  ee::api::AgentView a;
  a.agent_id = "agent-1";
  a.vm_name = "tdx-1";
  a.status = w->agent_verified ? "deployed" : "unverified";
  a.verified = w->agent_verified;
  a.health = "up";
  a.agent_url = w->agent_url;
  a.mrtd = ee::hex_encode(filled(0x11));
  a.deployment_id = "dep-1";
  // A legacy agent's record has an empty key.
  if (w->cp_lists_key)
    a.public_key =
        w->cp_agent_key.empty() ? w->agent_key.public_key().base64() : w->cp_agent_key;
  co_return ee::http::json_response(bhttp::status::ok, ee::api::to_json(a));
}

Reply agent_health(World* w, ee::http::RequestContext& ctx) {
  ++w->health_calls;
  {
    std::lock_guard lock(w->mutex);
    w->agent_ports.push_back(ctx.remote.port());
  }
  if (w->quirk == World::Quirk::http_500)
    co_return ee::http::error_response(bhttp::status::internal_server_error, "agent.boom", "b",
                                       "x");
  if (w->quirk == World::Quirk::malformed)
    co_return ee::http::json_response(bhttp::status::ok, R"({"status":"ok","public_key":5})");
  auto nonce = ee::hex_decode(ctx.query("nonce").value_or("")).value();
  if (w->quirk == World::Quirk::replay_nonce) nonce.assign(32, 0x42);
  auto const& bound_key =
      w->quirk == World::Quirk::unbound_key ? w->other_key.public_key() : w->agent_key.public_key();
  ee::tdx::ReportData report_data{};
  std::copy(nonce.begin(), nonce.end(), report_data.begin());
  auto const digest = bound_key.sha256();
  std::copy(digest.begin(), digest.end(), report_data.begin() + 32);
  auto quote = w->simulator->quote(report_data).value();

  bj::object workload;
  workload["state"] = w->workload_state;
  workload["deployment_id"] = "dep-1";
  workload["image"] = std::string("registry.example/octo-org/hello@") + w->workload_digest;
  workload["image_digest"] = w->workload_digest;
  bj::object body;
  body["status"] = "ok";
  body["agent_id"] = "agent-1";
  if (w->quirk != World::Quirk::strip_key)
    body["public_key"] =
        w->quirk == World::Quirk::empty_key ? "" : w->agent_key.public_key().base64();
  body["workload"] = workload;
  if (w->quirk != World::Quirk::no_attestation) {
    bj::object attestation;
    attestation["quote_b64"] = ee::base64_encode(quote);
    attestation["report_data"] = ee::hex_encode(report_data);
    attestation["provider"] = "simulator";
    body["attestation"] = attestation;
  }
  co_return w->json(body);
}

Reply agent_service(World* w, ee::http::RequestContext& ctx) {
  {
    std::lock_guard lock(w->mutex);
    w->agent_ports.push_back(ctx.remote.port());
  }
  bj::object body;
  body["path"] = std::string(ctx.request.target());
  body["method"] = std::string(ctx.request.method_string());
  body["body"] = ctx.request.body();
  co_return ee::http::json_response(bhttp::status::ok, bj::serialize(body));
}

ee::http::Router cp_router(World* w) {
  ee::http::Router r;
  r.get("/api/v1/apps", [w](ee::http::RequestContext&) { return cp_apps(w); });
  r.get("/api/v1/apps/{name}", [w](ee::http::RequestContext& c) { return cp_app(w, c); });
  r.get("/api/v1/deployments", [w](ee::http::RequestContext& c) { return cp_deployments(w, c); });
  r.get("/api/v1/agents/{id}", [w](ee::http::RequestContext& c) { return cp_agent(w, c); });
  return r;
}

ee::http::Router agent_router(World* w) {
  ee::http::Router r;
  r.get("/api/health", [w](ee::http::RequestContext& c) { return agent_health(w, c); });
  r.fallback([w](ee::http::RequestContext& c) { return agent_service(w, c); });
  return r;
}

class ConnectTest : public ::testing::Test {
 protected:
  World world;
  ee::test::LoopbackServer cp{cp_router(&world)};
  ee::test::LoopbackServer agent{agent_router(&world)};
  std::shared_ptr<ee::http::Client> http = ee::http::make_https_client().value();
  std::atomic<std::int64_t> clock_offset_seconds{0};

  void SetUp() override { world.agent_url = agent.url(); }

  client::ConnectOptions options() {
    client::ConnectOptions o;
    o.cp_url = cp.url();
    o.http = http;
    o.root = world.simulator->root();
    o.collateral = std::make_shared<ee::tdx::Collateral const>(world.simulator->collateral());
    o.request.timeout = 5s;
    o.clock = [this] {
      return std::chrono::system_clock::now() + std::chrono::seconds(clock_offset_seconds.load());
    };
    return o;
  }

  client::Attempt attempt(std::string const& target, client::ConnectOptions o) {
    return ee::block_on(client::attempt(target, std::move(o)));
  }
  client::Attempt attempt(std::string const& target = "hello") {
    return attempt(target, options());
  }

  // The attempt failed at check `name` with `code`, and the report says so.
  void expect_failed(client::Attempt const& a, client::errc code, std::string const& name) {
    ASSERT_FALSE(a.connection);
    EXPECT_EQ(a.error, code) << a.error.message();
    EXPECT_NE(a.error.message().find("check '" + name + "' failed"), std::string::npos)
        << a.error.message();
    auto const* failure = a.report.failure();
    ASSERT_NE(failure, nullptr) << a.report.text();
    EXPECT_EQ(failure->name, name) << a.report.text();
    EXPECT_FALSE(failure->expected.empty());
    EXPECT_EQ(&a.report.checks.back(), failure) << "the failed check ends the report";
    EXPECT_NE(a.report.text().find("FAIL " + name), std::string::npos) << a.report.text();
  }
};

TEST_F(ConnectTest, ConnectsByAppNameAndRecordsEveryCheck) {
  auto a = attempt();
  ASSERT_TRUE(a.connection) << a.error.message() << "\n" << a.report.text();
  auto const& c = *a.connection;
  EXPECT_EQ(c.endpoint(), agent.url());
  EXPECT_EQ(c.app(), "hello");
  EXPECT_EQ(c.agent_id(), "agent-1");
  EXPECT_EQ(c.version().version, "1.0.0");
  EXPECT_EQ(c.version().image_digest, kDigest);
  EXPECT_EQ(c.appraisal().mr_td, filled(0x11));
  EXPECT_EQ(c.appraisal().tcb_status, ee::tdx::TcbStatus::up_to_date);
  EXPECT_EQ(c.agent_public_key(), world.agent_key.public_key().base64());
  EXPECT_EQ(world.deployment_status_filter_seen, "running");
  for (auto const* name : {"target", "catalog_app", "catalog_versions", "running_agent", "evidence",
                           "collateral", "quote", "nonce", "key_binding", "agent_key", "mrtd",
                           "rtmrs", "workload_running", "image_digest", "tcb_policy"}) {
    auto const* check = c.checks().find(name);
    ASSERT_NE(check, nullptr) << name;
    EXPECT_TRUE(check->passed) << name << ": " << check->detail;
  }
  EXPECT_EQ(c.checks().failure(), nullptr);
  auto const report = c.report();
  EXPECT_NE(report.find("endpoint: " + agent.url()), std::string::npos) << report;
  EXPECT_NE(report.find("PASS nonce"), std::string::npos) << report;
  EXPECT_NE(report.find("PASS image_digest"), std::string::npos) << report;
}

TEST_F(ConnectTest, ConnectsBySourceRepositoryCaseInsensitively) {
  auto a = attempt("Octo-Org/hello");
  ASSERT_TRUE(a.connection) << a.error.message();
  EXPECT_EQ(a.connection->app(), "hello");
}

TEST_F(ConnectTest, ConnectsBySourceRepositoryOfAnotherName) {
  // The client reads the app list and, beside it, the app and agent its repository's name
  // would be; here that guess ("greeter") is wrong, so it reads them again for "hello".
  world.source_repo = "octo-org/greeter";
  auto a = attempt("octo-org/greeter");
  ASSERT_TRUE(a.connection) << a.error.message() << "\n" << a.report.text();
  EXPECT_EQ(a.connection->app(), "hello");
  EXPECT_EQ(world.health_calls.load(), 1) << "no agent runs 'greeter'";
  std::vector<std::string> names;
  for (auto const& c : a.report.checks) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"target", "catalog_app", "catalog_versions",
                                             "running_agent", "evidence", "collateral", "quote",
                                             "nonce", "key_binding", "agent_key", "mrtd", "rtmrs",
                                             "workload_running", "image_digest", "tcb_policy"}));
  // An app the list does not have fails at the list, whatever the guess found.
  expect_failed(attempt("octo-org/hello"), client::errc::app_not_found, "catalog_app");
}

TEST_F(ConnectTest, RequestGoesToTheVerifiedEndpoint) {
  auto c = ee::block_on(client::connect("hello", options())).value();
  auto response =
      ee::block_on(c.request(bhttp::verb::post, "/greet?x=1", R"({"hi":1})", {{"X-Test", "1"}}))
          .value();
  EXPECT_EQ(response.result(), bhttp::status::ok);
  EXPECT_NE(response.body().find(R"("path":"/greet?x=1")"), std::string::npos) << response.body();
  EXPECT_NE(response.body().find(R"("method":"POST")"), std::string::npos);
  EXPECT_EQ(world.health_calls.load(), 1) << "fresh evidence is not fetched again";
}

TEST_F(ConnectTest, RequestReverifiesOldEvidenceAndRefusesWhenItNoLongerHolds) {
  auto o = options();
  o.max_evidence_age = 60s;
  auto c = ee::block_on(client::connect("hello", o)).value();
  auto const first = c.verified_at();
  clock_offset_seconds = 120;
  auto ok = ee::block_on(c.request(bhttp::verb::get, "/x"));
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(world.health_calls.load(), 2);
  EXPECT_GT(c.verified_at(), first);
  EXPECT_NE(c.report().find("reverify"), std::string::npos);

  // The agent now runs something else: the next re-verification refuses and sends nothing.
  world.workload_digest = kOtherDigest;
  clock_offset_seconds = 240;
  auto refused = ee::block_on(c.request(bhttp::verb::get, "/x"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), client::errc::image_digest_mismatch) << refused.error().message();
}

TEST_F(ConnectTest, ReplayedNonceFails) {
  world.quirk = World::Quirk::replay_nonce;
  expect_failed(attempt(), client::errc::nonce_mismatch, "nonce");
}

TEST_F(ConnectTest, KeyNotBoundIntoTheQuoteFails) {
  world.quirk = World::Quirk::unbound_key;
  auto a = attempt();
  expect_failed(a, client::errc::key_not_bound, "key_binding");
  EXPECT_EQ(a.error.cond(), ee::condition::unauthenticated);
}

TEST_F(ConnectTest, KeyOtherThanTheOneTheControlPlaneAttestedFails) {
  world.cp_agent_key = world.other_key.public_key().base64();
  expect_failed(attempt(), client::errc::agent_key_mismatch, "agent_key");
}

TEST_F(ConnectTest, AnAnswerWithoutAKeyFailsKeyBindingByDefault) {
  for (auto quirk : {World::Quirk::strip_key, World::Quirk::empty_key}) {
    world.quirk = quirk;
    auto a = attempt();
    expect_failed(a, client::errc::key_not_bound, "key_binding");
    EXPECT_EQ(a.error.cond(), ee::condition::unauthenticated);
    EXPECT_NE(a.error.message().find("allow_keyless_agents"), std::string::npos)
        << a.error.message();
    EXPECT_EQ(a.report.find("agent_key"), nullptr) << "stops at key_binding";
  }
  // Not even for an agent the CP lists without a key: keyless agents are an explicit opt-in.
  world.cp_lists_key = false;
  world.quirk = World::Quirk::strip_key;
  expect_failed(attempt(), client::errc::key_not_bound, "key_binding");
}

TEST_F(ConnectTest, AnAnswerWithoutAKeyFailsAgentKeyWhenTheControlPlaneListsOneEvenIfAllowed) {
  auto o = options();
  o.allow_keyless_agents = true;
  for (auto quirk : {World::Quirk::strip_key, World::Quirk::empty_key}) {
    world.quirk = quirk;
    auto a = attempt("hello", o);
    expect_failed(a, client::errc::agent_key_mismatch, "agent_key");
    EXPECT_TRUE(a.report.find("key_binding")->skipped) << a.report.text();
    EXPECT_EQ(a.report.failure()->actual, "no key");
  }
}

TEST_F(ConnectTest, AKeylessLegacyAgentPassesOnlyWithTheOptInAndNoKeyAtTheControlPlane) {
  world.cp_lists_key = false;
  world.quirk = World::Quirk::strip_key;
  auto o = options();
  o.allow_keyless_agents = true;
  auto a = attempt("hello", o);
  ASSERT_TRUE(a.connection) << a.error.message() << "\n" << a.report.text();
  EXPECT_TRUE(a.report.find("key_binding")->skipped);
  EXPECT_TRUE(a.report.find("agent_key")->skipped);
  EXPECT_TRUE(a.connection->agent_public_key().empty());
  // The opt-in changes nothing for an agent that presents its key.
  world.quirk = World::Quirk::none;
  world.cp_lists_key = true;
  auto keyed = attempt("hello", o);
  ASSERT_TRUE(keyed.connection) << keyed.error.message();
  EXPECT_TRUE(keyed.report.find("key_binding")->passed);
  EXPECT_TRUE(keyed.report.find("agent_key")->passed);
}

TEST_F(ConnectTest, MrtdNotPublishedFails) {
  world.published_mrtd = ee::hex_encode(filled(0x99));
  auto a = attempt();
  expect_failed(a, client::errc::mrtd_not_published, "mrtd");
  EXPECT_NE(a.error.message().find(ee::hex_encode(filled(0x11))), std::string::npos)
      << "names the MRTD found";
  EXPECT_EQ(a.error.cond(), ee::condition::forbidden);
}

TEST_F(ConnectTest, PinnedRtmrMismatchFails) {
  world.published_rtmrs = {"", "", ee::hex_encode(filled(0x77)), ""};
  expect_failed(attempt(), client::errc::rtmr_mismatch, "rtmrs");
}

TEST_F(ConnectTest, PinnedRtmrsThatMatchPass) {
  world.published_rtmrs = {ee::hex_encode(filled(0x20)), "", "", ee::hex_encode(filled(0x23))};
  auto a = attempt();
  ASSERT_TRUE(a.connection) << a.error.message();
}

TEST_F(ConnectTest, ImageDigestMismatchFails) {
  world.workload_digest = kOtherDigest;
  auto a = attempt();
  expect_failed(a, client::errc::image_digest_mismatch, "image_digest");
  EXPECT_NE(a.error.message().find(kDigest), std::string::npos) << a.error.message();
  EXPECT_NE(a.error.message().find(kOtherDigest), std::string::npos) << a.error.message();
}

TEST_F(ConnectTest, WorkloadNotRunningFails) {
  world.workload_state = "failed";
  expect_failed(attempt(), client::errc::workload_not_running, "workload_running");
}

TEST_F(ConnectTest, QuoteUnderAnUntrustedRootFails) {
  auto o = options();
  o.root = ee::tdx::TrustedRoot::intel_sgx_root_ca();  // the simulator's chain does not end there
  auto a = attempt("hello", o);
  expect_failed(a, client::errc::quote_rejected, "quote");
  EXPECT_NE(a.error.message().find("pck_chain"), std::string::npos) << a.error.message();
  EXPECT_NE(a.error.message().find("Intel SGX Root CA"), std::string::npos) << a.error.message();
}

TEST_F(ConnectTest, TheCachedVerifierIsPerRoot) {
  // A success under the simulator's root leaves that root's verifier (and its verified chain and
  // collateral) cached for the process.
  auto const first = world.simulator;
  auto const root = first->root();
  auto const collateral = std::make_shared<ee::tdx::Collateral const>(world.simulator->collateral());
  ASSERT_TRUE(attempt().connection);

  // Another platform PKI: its quotes chain to another root, with collateral signed under it.
  auto other = make_simulator();
  ASSERT_NE(other->root().fingerprint(), root.fingerprint());
  auto const other_collateral = std::make_shared<ee::tdx::Collateral const>(other->collateral());
  world.simulator = other;

  // Pinned to the first root, the other platform's quote is refused, with its own collateral or
  // with the collateral the cached verifier has already verified.
  for (auto const& given : {other_collateral, collateral}) {
    auto o = options();
    o.root = root;
    o.collateral = given;
    auto refused = attempt("hello", o);
    expect_failed(refused, client::errc::quote_rejected, "quote");
    EXPECT_NE(refused.error.message().find(root.fingerprint().substr(0, 16)), std::string::npos)
        << refused.error.message();
  }
  // Pinned to its own root it passes, and the first root's verifier still refuses it after that.
  auto o = options();
  o.root = other->root();
  o.collateral = other_collateral;
  ASSERT_TRUE(attempt("hello", o).connection);
  o.root = root;
  expect_failed(attempt("hello", o), client::errc::quote_rejected, "quote");

  // The first platform passes under its root again, and not under the other's.
  world.simulator = first;
  o.root = root;
  o.collateral = collateral;
  EXPECT_TRUE(attempt("hello", o).connection);
  o.root = other->root();
  expect_failed(attempt("hello", o), client::errc::quote_rejected, "quote");
}

TEST_F(ConnectTest, AReusedConnectionStaysWithItsAgent) {
  // A second agent on another port of the same host, with its own key, on the same platform.
  World second;
  second.simulator = world.simulator;
  ee::test::LoopbackServer other_agent{agent_router(&second)};

  struct Outcome {
    client::Attempt first, second;
    ee::result<ee::http::Response> first_again = ee::Error(ee::errc::cancelled);
    ee::result<ee::http::Response> second_again = ee::Error(ee::errc::cancelled);
    ee::result<ee::http::Response> first_last = ee::Error(ee::errc::cancelled);
  };
  // One io_context for everything, as a long-lived caller has: the client pools keep-alive
  // connections per origin on it, so the second connect could pick up the first agent's socket
  // if the pool confused origins.
  auto const run = [&]() -> boost::asio::awaitable<Outcome> {
    Outcome out;
    out.first = co_await client::attempt("hello", options());
    if (!out.first.connection) co_return out;
    out.first_again = co_await out.first.connection->request(bhttp::verb::get, "/first");
    {
      std::lock_guard lock(world.mutex);
      world.agent_url = other_agent.url();
      world.cp_agent_key = second.agent_key.public_key().base64();
    }
    out.second = co_await client::attempt("hello", options());
    if (!out.second.connection) co_return out;
    out.second_again = co_await out.second.connection->request(bhttp::verb::get, "/second");
    out.first_last = co_await out.first.connection->request(bhttp::verb::get, "/first-again");
    co_return out;
  };
  auto out = ee::block_on(run());
  ASSERT_TRUE(out.first.connection) << out.first.report.text();
  ASSERT_TRUE(out.second.connection) << out.second.error.message() << "\n"
                                     << out.second.report.text();
  EXPECT_EQ(out.first.connection->endpoint(), agent.url());
  EXPECT_EQ(out.second.connection->endpoint(), other_agent.url());
  EXPECT_EQ(out.second.connection->agent_public_key(), second.agent_key.public_key().base64());
  ASSERT_TRUE(out.first_again && out.second_again && out.first_last);
  EXPECT_NE(out.first_again->body().find(R"("path":"/first")"), std::string::npos);
  EXPECT_NE(out.second_again->body().find(R"("path":"/second")"), std::string::npos);
  EXPECT_NE(out.first_last->body().find(R"("path":"/first-again")"), std::string::npos);

  // Each agent saw only its own connection's requests: the first its health check and two
  // requests, the second its health check and one, each over one reused connection.
  EXPECT_EQ(world.health_calls.load(), 1);
  EXPECT_EQ(second.health_calls.load(), 1);
  std::lock_guard lock(world.mutex);
  ASSERT_EQ(world.agent_ports.size(), 3u);
  EXPECT_EQ(world.agent_ports[0], world.agent_ports[1]) << "the connection was not reused";
  EXPECT_EQ(world.agent_ports[0], world.agent_ports[2]) << "the connection was not reused";
  std::lock_guard other_lock(second.mutex);
  ASSERT_EQ(second.agent_ports.size(), 2u);
  EXPECT_EQ(second.agent_ports[0], second.agent_ports[1]);
}

TEST_F(ConnectTest, TcbStatusOutsideThePolicyFails) {
  world.simulator = make_simulator(ee::tdx::TcbStatus::out_of_date);
  auto a = attempt();
  expect_failed(a, client::errc::policy_refused, "tcb_policy");
  EXPECT_NE(a.error.message().find("OutOfDate"), std::string::npos) << a.error.message();

  auto o = options();
  o.policy.allowed_tcb_statuses.push_back(ee::tdx::TcbStatus::out_of_date);
  auto allowed = attempt("hello", o);
  ASSERT_TRUE(allowed.connection) << allowed.error.message();
  EXPECT_EQ(allowed.connection->appraisal().advisory_ids,
            std::vector<std::string>{"INTEL-SA-00837"});
}

TEST_F(ConnectTest, MalformedHealthBodyFails) {
  world.quirk = World::Quirk::malformed;
  expect_failed(attempt(), client::errc::malformed_evidence, "evidence");
  world.quirk = World::Quirk::no_attestation;
  auto a = attempt();
  expect_failed(a, client::errc::malformed_evidence, "evidence");
  EXPECT_NE(a.error.message().find("attestation"), std::string::npos) << a.error.message();
}

TEST_F(ConnectTest, AgentErrorsFail) {
  world.quirk = World::Quirk::http_500;
  auto a = attempt();
  expect_failed(a, client::errc::agent_unreachable, "evidence");
  EXPECT_NE(a.error.message().find("HTTP 500"), std::string::npos) << a.error.message();
}

TEST_F(ConnectTest, ControlPlaneErrorsFail) {
  world.app_status = "404";
  auto missing = attempt();
  expect_failed(missing, client::errc::app_not_found, "catalog_app");
  EXPECT_EQ(missing.error.cond(), ee::condition::not_found);

  world.app_status = "500";
  expect_failed(attempt(), client::errc::catalog_unavailable, "catalog_app");

  world.app_status = "200";
  expect_failed(attempt("nobody/nothing"), client::errc::app_not_found, "catalog_app");

  auto versioned = options();
  versioned.version = "9.9.9";
  expect_failed(attempt("hello", versioned), client::errc::no_published_version,
                "catalog_versions");

  world.has_deployment = false;
  expect_failed(attempt(), client::errc::no_running_agent, "running_agent");

  world.has_deployment = true;
  world.agent_verified = false;
  auto unverified = attempt();
  expect_failed(unverified, client::errc::no_running_agent, "running_agent");
  EXPECT_NE(unverified.error.message().find("not verified"), std::string::npos);

  auto unreachable = options();
  unreachable.cp_url = "http://127.0.0.1:1";
  expect_failed(attempt("hello", unreachable), client::errc::catalog_unavailable, "catalog_app");
}

TEST_F(ConnectTest, InvalidTargetsAndOptionsFail) {
  expect_failed(attempt("../etc"), client::errc::invalid_target, "target");
  expect_failed(attempt("Hello World"), client::errc::invalid_target, "target");
  auto no_http = options();
  no_http.http.reset();
  auto a = attempt("hello", no_http);
  EXPECT_EQ(a.error, client::errc::invalid_target);
}

TEST_F(ConnectTest, MissingCollateralFailsUnlessOfflineIsAllowed) {
  auto o = options();
  o.collateral.reset();
  // A fetcher pointed at a server with no collateral routes: PCS answers 404.
  ee::tdx::FetcherOptions fetcher_options;
  fetcher_options.api_base = cp.url();
  fetcher_options.root_ca_crl_from_api = true;
  o.fetcher.emplace(http, fetcher_options);
  expect_failed(attempt("hello", o), client::errc::collateral_unavailable, "collateral");

  o.policy.allow_offline = true;
  o.policy.tcb_mode = ee::tdx::Policy::TcbMode::disabled;
  auto offline = attempt("hello", o);
  ASSERT_TRUE(offline.connection) << offline.error.message() << offline.report.text();
  EXPECT_TRUE(offline.report.find("collateral")->skipped);
}

class ReleaseTest : public ConnectTest {
 protected:
  std::unique_ptr<ee::test::FakeGithubIssuer> github = ee::test::FakeGithubIssuer::start().value();

  std::string attestation_json(bool with_key = true) {
    ee::tdx::ReportData report_data{};
    auto const digest = world.agent_key.public_key().sha256();
    std::copy(digest.begin(), digest.end(), report_data.begin() + 32);
    bj::object doc;
    doc["endpoint"] = agent.url();
    doc["quote_b64"] = ee::base64_encode(world.simulator->quote(report_data).value());
    if (with_key) doc["public_key"] = world.agent_key.public_key().base64();
    return bj::serialize(doc);
  }

  client::ConnectOptions release_options() {
    auto o = options();
    o.source = client::Source::github_release;
    o.cp_url.clear();
    o.github_api = github->url();
    return o;
  }
};

TEST_F(ReleaseTest, VerifiesTheNewestReleaseWithAnAttestationAndSaysFreshnessIsUnchecked) {
  ee::test::FakeRelease with;
  with.tag_name = "v1.0.0";
  with.assets = {{"attestation.json", attestation_json()}, {"notes.txt", "x"}};
  github->add_release("octo-org/hello", with);
  ee::test::FakeRelease without;  // newer, but carries no attestation
  without.tag_name = "v1.1.0";
  without.assets = {{"notes.txt", "x"}};
  github->add_release("octo-org/hello", without);

  auto a = attempt("octo-org/hello", release_options());
  ASSERT_TRUE(a.connection) << a.error.message() << "\n" << a.report.text();
  auto const& c = *a.connection;
  EXPECT_EQ(c.endpoint(), agent.url());
  EXPECT_EQ(c.source(), client::Source::github_release);
  EXPECT_EQ(c.appraisal().mr_td, filled(0x11));
  auto const* freshness = c.checks().find("freshness");
  ASSERT_NE(freshness, nullptr);
  EXPECT_TRUE(freshness->skipped);
  EXPECT_EQ(c.checks().find("nonce"), nullptr);
  EXPECT_TRUE(c.checks().find("key_binding")->passed);
  auto const report = c.report();
  EXPECT_NE(report.find("SKIP freshness"), std::string::npos) << report;
  EXPECT_NE(report.find("v1.0.0"), std::string::npos) << report;

  auto response = ee::block_on(c.request(bhttp::verb::get, "/hi")).value();
  EXPECT_EQ(response.result(), bhttp::status::ok);
}

TEST_F(ReleaseTest, AnAssetWithoutAKeyFailsKeyBindingUnlessKeylessAgentsAreAllowed) {
  ee::test::FakeRelease release;
  release.assets = {{"attestation.json", attestation_json(false)}};
  github->add_release("octo-org/hello", release);
  expect_failed(attempt("octo-org/hello", release_options()), client::errc::key_not_bound,
                "key_binding");
  auto o = release_options();
  o.allow_keyless_agents = true;
  auto a = attempt("octo-org/hello", o);
  ASSERT_TRUE(a.connection) << a.error.message() << "\n" << a.report.text();
  EXPECT_TRUE(a.report.find("key_binding")->skipped);
}

TEST_F(ReleaseTest, FailsWithoutAnAttestationAssetOrRepository) {
  expect_failed(attempt("octo-org/hello", release_options()), client::errc::release_not_found,
                "release");
  ee::test::FakeRelease without;
  without.assets = {{"notes.txt", "x"}};
  github->add_release("octo-org/hello", without);
  expect_failed(attempt("octo-org/hello", release_options()), client::errc::release_not_found,
                "release");
  expect_failed(attempt("hello", release_options()), client::errc::invalid_target, "target");
}

TEST_F(ReleaseTest, FailsForAQuoteUnderAnUntrustedRootOrAMalformedAsset) {
  ee::test::FakeRelease release;
  release.assets = {{"attestation.json", attestation_json()}};
  github->add_release("octo-org/hello", release);
  auto o = release_options();
  o.root = ee::tdx::TrustedRoot::intel_sgx_root_ca();
  expect_failed(attempt("octo-org/hello", o), client::errc::quote_rejected, "quote");

  ee::test::FakeRelease broken;
  broken.tag_name = "v2";
  broken.assets = {{"attestation.json", R"({"endpoint":"ftp://x","quote_b64":""})"}};
  github->add_release("octo-org/hello", broken);
  expect_failed(attempt("octo-org/hello", release_options()), client::errc::malformed_evidence,
                "release");
}

// The pure layer: the clock is an input, so expired collateral is a verdict of the quote check.
TEST(AppraiseEvidence, UsesTheGivenClock) {
  auto simulator = make_simulator();
  auto key = ee::api::SigningKey::generate().value();
  std::array<std::uint8_t, 32> nonce{};
  nonce.fill(7);
  ee::tdx::ReportData report_data{};
  std::copy(nonce.begin(), nonce.end(), report_data.begin());
  auto const digest = key.public_key().sha256();
  std::copy(digest.begin(), digest.end(), report_data.begin() + 32);

  client::Evidence evidence;
  evidence.quote = simulator->quote(report_data).value();
  evidence.public_key = key.public_key().base64();
  client::AppraisalInputs inputs;
  inputs.root = simulator->root();
  inputs.collateral = std::make_shared<ee::tdx::Collateral const>(simulator->collateral());
  inputs.nonce = nonce;
  inputs.check_workload = false;
  client::Expectations expected;
  expected.app = "hello";

  client::Report now_report;
  auto now = client::appraise_evidence(evidence, expected, inputs, std::chrono::system_clock::now(),
                                       now_report);
  ASSERT_TRUE(now) << now.error().message();
  EXPECT_TRUE(now_report.find("mrtd")->skipped) << "no catalog versions to compare";

  client::Report later_report;
  auto later = client::appraise_evidence(evidence, expected, inputs,
                                         std::chrono::system_clock::now() + std::chrono::days(800),
                                         later_report);
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error(), client::errc::quote_rejected);
  EXPECT_NE(later.error().message().find("expired"), std::string::npos) << later.error().message();
}

}  // namespace
