// client::ControlPlaneClient against a real control plane on loopback (tests/cp/cp_harness.hpp):
// every route group through the typed calls, the CP's errors as client::errc with the CP's code,
// an unreachable CP, malformed answers (scripted), the credential order and the stored token's
// mode, the GitHub Actions token endpoint (a loopback stand-in that checks the request token),
// and following a deployment until it settles.
#include "client/actions_token_endpoint.hpp"
#include "cp/cp_harness.hpp"
#include "support/fake_http_client.hpp"
#include "support/loopback_server.hpp"
#include "support/temp_dir.hpp"

#include <easyenclave/block_on.hpp>
#include <easyenclave/client/control_plane.hpp>
#include <easyenclave/cp/settings.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/http/https_client.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/field.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <atomic>

namespace {

namespace bhttp = boost::beast::http;
using ee::block_on;
using ee::client::ControlPlaneClient;
using ee::test::CpHarness;
using ee::test::HarnessOptions;

std::shared_ptr<ee::http::Client> transport() { return ee::http::make_https_client().value(); }

ControlPlaneClient client_of(CpHarness& h, std::string token = {}) {
  return ControlPlaneClient({.url = h.cp().url(), .token = std::move(token), .http = transport(), .request = {}});
}

std::string mrtd_hex() { return ee::hex_encode(CpHarness::trusted_mrtd()); }

ee::api::PublishRequest publish_request(std::string name, std::string version = "1.0.0") {
  ee::api::PublishRequest r;
  r.name = std::move(name);
  r.description = "a test app";
  r.source_repo = "octo-org/hello";
  r.version.version = std::move(version);
  r.version.image = CpHarness::image();
  r.version.mrtd = mrtd_hex();
  return r;
}

HarnessOptions with_settings() {
  return HarnessOptions{.customize = [](ee::cp::Options& o) {
    o.settings = ee::settings::Settings::resolve(ee::cp::setting_registry(),
                                                 {{"admin_token", o.admin_token}, {"dev", "true"}},
                                                 ee::settings::fixed_environment({}))
                     .value();
  }};
}

TEST(ControlPlaneClient, PublishesListsDeploysAndUndeploysThroughTheTypedCalls) {
  CpHarness h;
  auto const token = h.github_token("octo-org/hello");
  auto const cp = client_of(h, token);

  auto app = block_on(cp.publish(publish_request("hello")));
  ASSERT_TRUE(app) << app.error().message();
  EXPECT_EQ(app->name, "hello");
  ASSERT_TRUE(app->versions);
  EXPECT_EQ(app->versions->size(), 1u);

  ee::api::VersionRequest v2;
  v2.version = "2.0.0";
  v2.image = CpHarness::image('b');
  v2.mrtd = mrtd_hex();
  auto added = block_on(cp.add_version("hello", v2));
  ASSERT_TRUE(added) << added.error().message();
  EXPECT_EQ(added->published_by, "octo-org/hello");

  auto apps = block_on(client_of(h).apps());
  ASSERT_TRUE(apps) << apps.error().message();
  ASSERT_EQ(apps->size(), 1u);
  auto shown = block_on(client_of(h).app("hello"));
  ASSERT_TRUE(shown && shown->versions);
  ASSERT_EQ(shown->versions->size(), 2u);
  EXPECT_EQ(shown->versions->back().version, "2.0.0");

  auto agent = h.agent("vm-client");
  h.register_ok(agent);
  auto agents = block_on(client_of(h).agents());
  ASSERT_TRUE(agents) << agents.error().message();
  ASSERT_EQ(agents->size(), 1u);
  EXPECT_EQ((*agents)[0].agent_id, agent.agent_id);
  auto none = block_on(client_of(h).agents({.status = "", .vm_name = "vm-other", .owner = ""}));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  auto one = block_on(client_of(h).agent(agent.agent_id));
  ASSERT_TRUE(one);
  EXPECT_TRUE(one->verified);
  auto attestation = block_on(client_of(h).agent_attestation(agent.agent_id));
  ASSERT_TRUE(attestation) << attestation.error().message();
  EXPECT_EQ(attestation->mrtd, mrtd_hex());

  ee::api::DeployRequest dry{.app_name = "hello", .version = "1.0.0", .agent_id = "", .agent_ids = {},
                             .node_size = "", .datacenter = "", .dry_run = true};
  auto planned = block_on(cp.deploy(dry));
  ASSERT_TRUE(planned) << planned.error().message();
  EXPECT_EQ(planned->agent_id, agent.agent_id);
  EXPECT_TRUE(planned->deployment_id.empty());

  auto request = dry;
  request.dry_run = false;
  auto deployed = block_on(cp.deploy(request));
  ASSERT_TRUE(deployed) << deployed.error().message();
  EXPECT_FALSE(deployed->deployment_id.empty());
  auto list = block_on(client_of(h).deployments({.agent_id = agent.agent_id, .app_name = "hello", .status = "",
                                                 .limit = 10, .offset = 0}));
  ASSERT_TRUE(list) << list.error().message();
  ASSERT_EQ(list->size(), 1u);
  auto d = block_on(client_of(h).deployment(deployed->deployment_id));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->app_name, "hello");

  // What `ee verify` makes of a target: the agent (by id or by the URL it serves at) runs
  // hello 1.0.0; an app name passes through; an unknown URL names what to do.
  auto by_id = block_on(ee::client::resolve_verify_target(cp, agent.agent_id));
  ASSERT_TRUE(by_id) << by_id.error().message();
  EXPECT_EQ(by_id->app, "hello");
  EXPECT_EQ(by_id->agent_id, agent.agent_id);
  EXPECT_EQ(by_id->version, "1.0.0");
  auto by_url = block_on(ee::client::resolve_verify_target(cp, one->agent_url + "/"));
  ASSERT_TRUE(by_url) << by_url.error().message();
  EXPECT_EQ(by_url->agent_id, agent.agent_id);
  auto by_app = block_on(ee::client::resolve_verify_target(cp, "hello"));
  ASSERT_TRUE(by_app);
  EXPECT_EQ(by_app->app, "hello");
  EXPECT_TRUE(by_app->agent_id.empty());
  auto nowhere = block_on(ee::client::resolve_verify_target(cp, "https://nowhere.example"));
  ASSERT_FALSE(nowhere);
  EXPECT_EQ(nowhere.error(), ee::client::errc::no_running_agent);
  EXPECT_EQ(block_on(ee::client::newest_version(cp, "hello")).value(), "2.0.0");
  auto no_app = block_on(ee::client::newest_version(cp, "nope"));
  ASSERT_FALSE(no_app);
  EXPECT_EQ(no_app.error(), ee::client::errc::cp_not_found);

  auto stopped = block_on(cp.undeploy(agent.agent_id));
  ASSERT_TRUE(stopped) << stopped.error().message();
  EXPECT_EQ(stopped->status, "stopped");
  auto idle = block_on(ee::client::resolve_verify_target(cp, agent.agent_id));
  ASSERT_FALSE(idle);
  EXPECT_NE(idle.error().message().find("ee deploy APP --agent"), std::string::npos) << idle.error().message();
}

TEST(ControlPlaneClient, TheCpsErrorsComeBackWithTheirConditionAndCode) {
  CpHarness h;
  // Unknown app: 404 with the registry's code.
  auto missing = block_on(client_of(h).app("nothing-here"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), ee::client::errc::cp_not_found);
  EXPECT_EQ(missing.error().cond(), ee::condition::not_found);
  EXPECT_EQ(ee::client::cp_error_code(missing.error()), "registry.not_found") << missing.error().message();
  EXPECT_NE(missing.error().message().find("(request "), std::string::npos) << missing.error().message();

  // Publishing another repository's app: forbidden, the CP's code kept.
  auto other = h.github_token("evil-org/hello");
  auto refused = block_on(client_of(h, other).publish(publish_request("hello")));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().cond(), ee::condition::forbidden);
  EXPECT_EQ(ee::client::cp_error_code(refused.error()), "cp.owner_mismatch") << refused.error().message();

  // An admin route without a credential: 401.
  auto anonymous = block_on(client_of(h).add_measurement({.mrtd = std::string(96, 'a'), .type = "agent",
                                                          .node_size = "", .note = ""}));
  ASSERT_FALSE(anonymous);
  EXPECT_EQ(anonymous.error(), ee::client::errc::cp_unauthenticated);
  EXPECT_EQ(anonymous.error().cond(), ee::condition::unauthenticated);

  // A malformed request the CP refuses: 400.
  auto bad = block_on(client_of(h, h.admin_token()).add_measurement({.mrtd = "xyz", .type = "agent",
                                                                      .node_size = "", .note = ""}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().cond(), ee::condition::invalid_input);
  EXPECT_FALSE(ee::client::cp_error_code(bad.error()).empty());

  // Settings on a CP started without stored settings: 503, unavailable.
  auto settings = block_on(client_of(h, h.admin_token()).settings());
  ASSERT_FALSE(settings);
  EXPECT_EQ(settings.error().cond(), ee::condition::unavailable);
  EXPECT_EQ(ee::client::cp_error_code(settings.error()), "cp.settings_unavailable");

  // A local error has no CP code.
  EXPECT_EQ(ee::client::cp_error_code(ee::Error(ee::errc::invalid_value, "x: y")), "");
}

TEST(ControlPlaneClient, AdminManagesMeasurementsAgentsAndSettings) {
  CpHarness h(with_settings());
  auto const admin = client_of(h, h.admin_token());
  auto const mrtd = std::string(96, 'c');
  auto added = block_on(admin.add_measurement({.mrtd = mrtd, .type = "agent", .node_size = "tiny", .note = "test"}));
  ASSERT_TRUE(added) << added.error().message();
  EXPECT_EQ(added->node_size, "tiny");
  auto listed = block_on(client_of(h).measurements());
  ASSERT_TRUE(listed);
  EXPECT_TRUE(std::any_of(listed->begin(), listed->end(), [&](auto const& m) { return m.mrtd == mrtd; }));
  ASSERT_TRUE(block_on(admin.remove_measurement(mrtd)));
  auto again = block_on(admin.remove_measurement(mrtd));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().cond(), ee::condition::not_found);

  auto settings = block_on(admin.settings());
  ASSERT_TRUE(settings) << settings.error().message();
  EXPECT_EQ(settings->size(), ee::cp::setting_registry().specs().size());
  auto set = block_on(admin.set_setting("heartbeat_interval", "45"));
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(set->value, "45");
  EXPECT_EQ(set->source, "database");
  auto got = block_on(admin.setting("heartbeat_interval"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->value, "45");
  auto unset = block_on(admin.unset_setting("heartbeat_interval"));
  ASSERT_TRUE(unset);
  EXPECT_NE(unset->source, "database");
  auto unknown = block_on(admin.setting("no_such_key"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().cond(), ee::condition::not_found);
  // The secret's value never comes back.
  auto secret = block_on(admin.setting("admin_token"));
  ASSERT_TRUE(secret) << secret.error().message();
  EXPECT_EQ(secret->value, "set");
  EXPECT_FALSE(secret->default_value);
  // The JSON view parses back to itself.
  auto round = ee::client::parse_setting_view(ee::client::to_json(*got));
  ASSERT_TRUE(round);
  EXPECT_EQ(ee::client::to_json(*round), ee::client::to_json(*got));

  auto agent = h.agent("vm-delete");
  h.register_ok(agent);
  ASSERT_TRUE(block_on(admin.remove_agent(agent.agent_id)));
  auto gone = block_on(client_of(h).agent(agent.agent_id));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error(), ee::client::errc::cp_not_found);
}

TEST(ControlPlaneClient, AnUnreachableCpIsATransportErrorAndAMissingUrlIsInvalidInput) {
  std::uint16_t port = 0;
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = acceptor.local_endpoint().port();
  }
  ControlPlaneClient cp({.url = "http://127.0.0.1:" + std::to_string(port), .token = "", .http = transport(),
                         .request = {}});
  auto r = block_on(cp.agents());
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().cond() == ee::condition::upstream_failure || r.error().cond() == ee::condition::unavailable)
      << r.error().id();
  EXPECT_NE(r.error().message().find("GET /api/v1/agents"), std::string::npos) << r.error().message();

  ControlPlaneClient no_url({.url = "", .token = "", .http = transport(), .request = {}});
  auto n = block_on(no_url.apps());
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().cond(), ee::condition::invalid_input);
}

TEST(ControlPlaneClient, AnswersThatAreNotTheDocumentedJsonAreMalformed) {
  auto http = std::make_shared<ee::test::FakeHttpClient>();
  http->on(bhttp::verb::get, "/api/v1/agents", 200, R"({"not":"a list"})");
  http->on(bhttp::verb::get, "/api/v1/apps", 200, "[{\"name\":1}]");
  http->on(bhttp::verb::get, "/api/v1/deployments/d1", 502, "<html>bad gateway</html>");
  http->on(bhttp::verb::delete_, "/api/v1/admin/agents/a1", 200, R"({"removed":false})");
  ControlPlaneClient cp({.url = "https://cp.test/", .token = "t0k", .http = http, .request = {}});
  auto agents = block_on(cp.agents());
  ASSERT_FALSE(agents);
  EXPECT_EQ(agents.error(), ee::client::errc::cp_answer_malformed);
  auto apps = block_on(cp.apps());
  ASSERT_FALSE(apps);
  EXPECT_EQ(apps.error(), ee::client::errc::cp_answer_malformed);
  EXPECT_NE(apps.error().message().find("name"), std::string::npos) << apps.error().message();
  auto d = block_on(cp.deployment("d1"));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error(), ee::client::errc::cp_failed);
  EXPECT_EQ(ee::client::cp_error_code(d.error()), "");
  EXPECT_NE(d.error().message().find("HTTP 502"), std::string::npos) << d.error().message();
  auto removed = block_on(cp.remove_agent("a1"));
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error(), ee::client::errc::cp_answer_malformed);
  // The trailing slash of the URL is dropped, the bearer sent, ids percent-encoded.
  auto const requests = http->requests();
  EXPECT_EQ(std::string(requests.at(0).target()), "https://cp.test/api/v1/agents");
  EXPECT_EQ(std::string(requests.at(0)[bhttp::field::authorization]), "Bearer t0k");
  auto weird = block_on(cp.agent("a/b c"));
  EXPECT_FALSE(weird);
  EXPECT_EQ(std::string(http->requests().back().target()), "https://cp.test/api/v1/agents/a%2Fb%20c");
}

TEST(ControlPlaneClient, MalformedSettingAndLogBodiesAreRefusedForEveryTruncation) {
  std::string const setting =
      R"({"name":"k","group":"g","type":"text","value":"v","source":"default","default":"",)"
      R"("secret":false,"reloadable":true,"storable":true,"pending_restart":false,"help":"h"})";
  ASSERT_TRUE(ee::client::parse_setting_view(setting));
  for (std::size_t n = 0; n < setting.size(); ++n) {
    EXPECT_FALSE(ee::client::parse_setting_view(setting.substr(0, n))) << n;
  }
  std::string const logs = R"({"lines":[{"seq":1,"at":"2025-01-01T00:00:00Z","source":"agent","text":"hi"}],"dropped":0})";
  auto parsed = ee::client::parse_agent_logs(logs);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(ee::client::to_json(*parsed), logs);
  for (std::size_t n = 0; n < logs.size(); ++n) EXPECT_FALSE(ee::client::parse_agent_logs(logs.substr(0, n))) << n;
  EXPECT_FALSE(ee::client::parse_agent_logs(R"({"lines":[{"seq":-1,"at":"","source":"","text":""}],"dropped":0})"));
  EXPECT_FALSE(ee::client::parse_setting_views(R"({"name":"k"})"));
}

// --- credentials ---------------------------------------------------------------------------------

TEST(ControlPlaneCredentials, TheOrderIsArgumentEnvironmentActionsThenTheStoredToken) {
  CpHarness h;
  ee::test::ActionsTokenEndpoint actions(h.github(), "request-token-1");
  ee::test::TempDir dir;
  auto http = transport();
  auto const path = ee::client::stored_token_path(ee::settings::fixed_environment({{"XDG_CONFIG_HOME", dir.path().string()}}));
  EXPECT_EQ(path, dir.path() / "easyenclave" / "token");
  EXPECT_EQ(ee::client::stored_token_path(ee::settings::fixed_environment({{"HOME", "/home/x"}})),
            std::filesystem::path("/home/x/.config/easyenclave/token"));
  ASSERT_TRUE(ee::client::store_token(path, "stored-token"));

  std::map<std::string, std::string, std::less<>> vars{
      {"EE_TOKEN", "env-token"},
      {"ACTIONS_ID_TOKEN_REQUEST_URL", actions.request_url()},
      {"ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token-1"},
      {"XDG_CONFIG_HOME", dir.path().string()}};
  auto resolve = [&](std::string argument) {
    return block_on(ee::client::resolve_credential(
        *http, {.argument = std::move(argument), .env = ee::settings::fixed_environment(vars), .audience = "easyenclave"}));
  };
  auto c = resolve("arg-token");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->token, "arg-token");
  EXPECT_EQ(c->source, ee::client::TokenSource::argument);
  c = resolve("");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->token, "env-token");
  vars.erase("EE_TOKEN");
  c = resolve("");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->source, ee::client::TokenSource::github_actions);
  EXPECT_EQ(actions.calls(), 1);
  // The minted token is one the CP accepts: it publishes.
  auto published = block_on(client_of(h, c->token).publish(publish_request("minted")));
  EXPECT_TRUE(published) << published.error().message();
  // A wrong audience mints a token the CP refuses.
  auto wrong = block_on(ee::client::resolve_credential(
      *http, {.argument = "", .env = ee::settings::fixed_environment(vars), .audience = "someone-else"}));
  ASSERT_TRUE(wrong);
  auto refused = block_on(client_of(h, wrong->token).publish(publish_request("minted2")));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().cond(), ee::condition::unauthenticated) << refused.error().message();

  vars["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "not-the-request-token";
  auto bad = resolve("");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), ee::client::errc::credentials_unavailable);
  EXPECT_NE(bad.error().message().find("id-token: write"), std::string::npos) << bad.error().message();

  vars.erase("ACTIONS_ID_TOKEN_REQUEST_URL");
  c = resolve("");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->token, "stored-token");
  EXPECT_EQ(c->source, ee::client::TokenSource::stored);
  ASSERT_TRUE(ee::client::remove_stored_token(path).value());
  c = resolve("");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->source, ee::client::TokenSource::none);
  EXPECT_TRUE(c->token.empty());
  EXPECT_FALSE(resolve("two\nlines"));
}

TEST(ControlPlaneCredentials, TheStoredTokenIsMode0600AndALooserFileIsRefused) {
  ee::test::TempDir dir;
  auto const path = dir.path() / "cfg" / "easyenclave" / "token";
  ASSERT_TRUE(ee::client::store_token(path, "secret-admin-token"));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ee::client::read_stored_token(path).value().value_or(""), "secret-admin-token");
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  auto loose = ee::client::read_stored_token(path);
  ASSERT_FALSE(loose);
  EXPECT_EQ(loose.error(), ee::client::errc::credentials_unavailable);
  EXPECT_NE(loose.error().message().find("chmod 600"), std::string::npos);
  EXPECT_EQ(loose.error().message().find("secret-admin-token"), std::string::npos);
  EXPECT_FALSE(ee::client::store_token(path, ""));
  EXPECT_FALSE(ee::client::store_token(path, "has space"));
  EXPECT_FALSE(ee::client::read_stored_token(dir.path() / "missing").value());
}

// --- following a deployment --------------------------------------------------------------------

TEST(ControlPlaneWait, FollowsADeploymentUntilItSettlesAndReportsEachChange) {
  auto http = std::make_shared<ee::test::FakeHttpClient>();
  auto view = [](char const* status) {
    return std::string(R"({"deployment_id":"d1","app_name":"hello","version":"1.0.0","agent_id":"a1",)") +
           R"("image":"registry.example/hello@sha256:)" + std::string(64, 'a') + R"(","status":")" + status +
           R"(","detail":"","requested_by":"octo-org/hello","created_at":"2025-01-01T00:00:00Z",)" +
           R"("updated_at":"2025-01-01T00:00:00Z"})";
  };
  http->on(bhttp::verb::get, "/api/v1/deployments/d1", 200, view("pending"));
  http->on(bhttp::verb::get, "/api/v1/deployments/d1", 200, view("deploying"));
  http->on(bhttp::verb::get, "/api/v1/deployments/d1", 200, view("deploying"));
  http->on(bhttp::verb::get, "/api/v1/deployments/d1", 200, view("running"));
  ControlPlaneClient cp({.url = "https://cp.test", .token = "", .http = http, .request = {}});
  std::vector<std::string> seen;
  ee::client::WaitOptions wait;
  wait.poll = std::chrono::milliseconds(5);
  wait.on_change = [&seen](ee::api::DeploymentView const& d, std::chrono::milliseconds) { seen.push_back(d.status); };
  auto settled = block_on(ee::client::wait_for_deployment(cp, "d1", wait));
  ASSERT_TRUE(settled) << settled.error().message();
  EXPECT_EQ(settled->status, "running");
  EXPECT_EQ(seen, (std::vector<std::string>{"pending", "deploying", "running"}));

  auto stuck = std::make_shared<ee::test::FakeHttpClient>();
  stuck->on(bhttp::verb::get, "/api/v1/deployments/d1", 200, view("deploying"));
  ControlPlaneClient cp2({.url = "https://cp.test", .token = "", .http = stuck, .request = {}});
  wait.timeout = std::chrono::milliseconds(30);
  auto timed_out = block_on(ee::client::wait_for_deployment(cp2, "d1", wait));
  ASSERT_FALSE(timed_out);
  EXPECT_EQ(timed_out.error().cond(), ee::condition::unavailable);
  EXPECT_NE(timed_out.error().message().find("ee deployments show d1"), std::string::npos);
  // Without a change, report_every still says it is waiting.
  seen.clear();
  wait.timeout = std::chrono::milliseconds(60);
  wait.report_every = std::chrono::milliseconds(15);
  EXPECT_FALSE(block_on(ee::client::wait_for_deployment(cp2, "d1", wait)));
  EXPECT_GE(seen.size(), 2u);
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](auto const& s) { return s == "deploying"; }));
  EXPECT_TRUE(ee::client::is_settled("failed"));
  EXPECT_FALSE(ee::client::is_settled("queued"));
}

}  // namespace
