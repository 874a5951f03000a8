// The agent lifecycle routes over real HTTP against the harness: workload reports between
// heartbeats (/status, /deployed), the stats relay, removal (with the tunnel and DNS record at the
// Cloudflare stand-in), reset, the owner label and console access. Each group also plays the
// outsider: another agent's signature, a replayed report, another owner's token, a workflow on an
// admin route, a console token taken to another agent.
#include "cp/cp_harness.hpp"

#include <easyenclave/api/console_token.hpp>

#include <boost/beast/http/field.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>

namespace {

using ee::test::CpHarness;
using ee::test::TestAgent;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;
namespace api = ee::api;

constexpr char kHello[] = R"({"app_name":"hello","version":"1.0.0"})";

bj::value body(ee::http::Response const& r) { return bj::parse(r.body()); }
std::string text(bj::value const& v, std::string_view key) { return std::string(v.at(key).as_string()); }
std::string digest(char fill = 'a') { return "sha256:" + std::string(64, fill); }

// The answer is `status` with error `code` in its body.
testing::AssertionResult is_error(ee::http::Response const& r, bhttp::status status, std::string_view code) {
  if (r.result() != status) {
    return testing::AssertionFailure() << "status " << r.result_int() << ", expected " << static_cast<unsigned>(status)
                                       << ": " << r.body();
  }
  boost::system::error_code ec;
  auto doc = bj::parse(r.body(), ec);
  if (ec || !doc.is_object() || !doc.as_object().contains("code") || doc.at("code").as_string() != code) {
    return testing::AssertionFailure() << "code is not " << code << ": " << r.body();
  }
  return testing::AssertionSuccess();
}

// A request to the CP signed with `key`, as an agent sends its reports.
ee::http::Request signed_request(CpHarness& h, bhttp::verb method, std::string const& path, std::string const& json,
                                 api::SigningKey const& key) {
  ee::http::Request request{method, h.cp().url() + path, 11};
  request.set(bhttp::field::content_type, "application/json");
  request.body() = json;
  request.prepare_payload();
  api::sign_request(request, key, h.now()).value();
  return request;
}

ee::http::Response report(CpHarness& h, TestAgent const& agent, std::string const& what, std::string const& json,
                          api::SigningKey const* signer = nullptr) {
  return h.send(signed_request(h, bhttp::verb::post, "/api/v1/agents/" + agent.agent_id + "/" + what, json,
                               signer != nullptr ? *signer : agent.key));
}

std::string status_json(std::string const& status, std::string const& deployment_id = "",
                        std::string const& image_digest = "") {
  api::AgentStatusReport r;
  r.status = status;
  r.deployment_id = deployment_id;
  r.image_digest = image_digest;
  return api::to_json(r);
}

std::string deployed_json(std::string const& deployment_id, std::string const& image_digest = digest()) {
  return api::to_json(api::DeployedReport{deployment_id, image_digest});
}

std::string deployment_status(CpHarness& h, std::string const& id) {
  return text(body(h.call(bhttp::verb::get, "/api/v1/deployments/" + id)), "status");
}

std::string agent_field(CpHarness& h, TestAgent const& a, std::string_view key) {
  return text(body(h.call(bhttp::verb::get, "/api/v1/agents/" + a.agent_id)), key);
}

std::string evil_token(CpHarness& h) {
  ee::test::GithubTokenRequest request;
  request.repository = "evil-org/hello";
  request.repository_owner_id = "111111";
  return h.github().mint(request);
}

// A harness with app "hello" published by octo-org, agent `name` registered and `deploy`ed to.
struct Deployed {
  explicit Deployed(ee::test::HarnessOptions options = {}) : h(std::move(options)) {
    token = h.github_token("octo-org/hello");
    EXPECT_EQ(h.publish(token, "hello").result(), bhttp::status::created);
    h.register_ok(agent);
    auto deployed = h.call_bearer(bhttp::verb::post, "/api/v1/deploy", token, kHello);
    EXPECT_EQ(deployed.result(), bhttp::status::ok) << deployed.body();
    deployment_id = text(body(deployed), "deployment_id");
  }
  CpHarness h;
  TestAgent agent = h.agent("vm-life");
  std::string token;
  std::string deployment_id;
};

// --- POST /agents/{id}/status and /deployed ----------------------------------------------------------

TEST(CpLifecycleReports, DeployedMovesTheDeploymentToRunningLikeAHeartbeat) {
  Deployed d;
  EXPECT_EQ(deployment_status(d.h, d.deployment_id), "deploying");
  auto pulling = report(d.h, d.agent, "status", status_json("pulling", d.deployment_id));
  ASSERT_EQ(pulling.result(), bhttp::status::ok) << pulling.body();
  EXPECT_EQ(text(body(pulling), "agent_id"), d.agent.agent_id);
  EXPECT_EQ(deployment_status(d.h, d.deployment_id), "deploying");
  auto running = report(d.h, d.agent, "deployed", deployed_json(d.deployment_id));
  ASSERT_EQ(running.result(), bhttp::status::ok) << running.body();
  EXPECT_EQ(text(body(running), "status"), "deployed");
  EXPECT_EQ(deployment_status(d.h, d.deployment_id), "running");
  // The heartbeat keeps working beside the reports, and reads the same state.
  api::HeartbeatRequest hb;
  hb.status = "running";
  hb.deployment_id = d.deployment_id;
  hb.image_digest = digest();
  auto beat = d.h.heartbeat(d.agent, hb);
  ASSERT_EQ(beat.result(), bhttp::status::ok) << beat.body();
  EXPECT_EQ(deployment_status(d.h, d.deployment_id), "running");
}

TEST(CpLifecycleReports, AFailedStatusFailsTheDeploymentAndFreesTheAgent) {
  Deployed d;
  auto failed = report(d.h, d.agent, "status", status_json("failed", d.deployment_id));
  ASSERT_EQ(failed.result(), bhttp::status::ok) << failed.body();
  EXPECT_EQ(deployment_status(d.h, d.deployment_id), "failed");
  EXPECT_EQ(agent_field(d.h, d.agent, "status"), "idle");
}

TEST(CpLifecycleReports, ADeployedReportWithAnotherDigestFailsItAndMarksTheAgentUnverified) {
  Deployed d;
  auto wrong = report(d.h, d.agent, "deployed", deployed_json(d.deployment_id, digest('b')));
  ASSERT_EQ(wrong.result(), bhttp::status::ok) << wrong.body();
  EXPECT_EQ(deployment_status(d.h, d.deployment_id), "failed");
  EXPECT_EQ(agent_field(d.h, d.agent, "status"), "unverified");
}

TEST(CpLifecycleReports, AReportAboutADeploymentTheAgentDoesNotHoldChangesNothing) {
  Deployed d;
  auto other = report(d.h, d.agent, "deployed", deployed_json("some-other-deployment"));
  ASSERT_EQ(other.result(), bhttp::status::ok) << other.body();
  EXPECT_EQ(deployment_status(d.h, d.deployment_id), "deploying");
}

TEST(CpLifecycleReports, AnotherAgentsSignatureCannotReportForIt) {
  // An outsider with a genuine TD registers its own agent and signs a report with the victim's id.
  Deployed d;
  auto outsider = d.h.agent("vm-outsider");
  outsider.owner = "github:org/evil-org";
  d.h.register_ok(outsider);
  auto forged = report(d.h, d.agent, "deployed", deployed_json(d.deployment_id), &outsider.key);
  EXPECT_TRUE(is_error(forged, bhttp::status::unauthorized, "api.signature_invalid"));
  auto failed = report(d.h, d.agent, "status", status_json("failed", d.deployment_id), &outsider.key);
  EXPECT_TRUE(is_error(failed, bhttp::status::unauthorized, "api.signature_invalid"));
  EXPECT_EQ(deployment_status(d.h, d.deployment_id), "deploying");
  // Nor may anyone else without a signature: a workflow, the admin.
  auto as_admin = d.h.call_bearer(bhttp::verb::post, "/api/v1/agents/" + d.agent.agent_id + "/deployed",
                                  d.h.admin_token(), deployed_json(d.deployment_id));
  EXPECT_TRUE(as_admin.result() == bhttp::status::unauthorized || as_admin.result() == bhttp::status::forbidden)
      << as_admin.body();
  EXPECT_EQ(deployment_status(d.h, d.deployment_id), "deploying");
}

TEST(CpLifecycleReports, AReplayedReportIsRefused) {
  Deployed d;
  auto request = signed_request(d.h, bhttp::verb::post, "/api/v1/agents/" + d.agent.agent_id + "/status",
                                status_json("pulling", d.deployment_id), d.agent.key);
  auto first = d.h.send(request);
  ASSERT_EQ(first.result(), bhttp::status::ok) << first.body();
  EXPECT_TRUE(is_error(d.h.send(request), bhttp::status::unauthorized, "api.replayed_request"));
}

TEST(CpLifecycleReports, MalformedBodiesAreRefusedAndChangeNothing) {
  Deployed d;
  for (auto const& [what, json] : std::vector<std::pair<std::string, std::string>>{
           {"status", "{}"},
           {"status", R"({"status":"Running"})"},
           {"status", R"({"status":"running","image_digest":"sha256:zz"})"},
           {"status", R"({"status":"running","deployment_id":"a/b"})"},
           {"deployed", R"({"deployment_id":"x"})"},
           {"deployed", R"({"image_digest":")" + digest() + "\"}"},
           {"deployed", "[]"},
           {"deployed", "not json"}}) {
    auto r = report(d.h, d.agent, what, json);
    EXPECT_EQ(r.result(), bhttp::status::bad_request) << what << " " << json << ": " << r.body();
  }
  EXPECT_EQ(deployment_status(d.h, d.deployment_id), "deploying");
}

TEST(CpLifecycleReports, AnUnknownAgentIsNotFound) {
  CpHarness h;
  auto ghost = h.agent("vm-ghost");
  ghost.agent_id = "00000000-0000-4000-8000-000000000000";
  EXPECT_TRUE(is_error(report(h, ghost, "status", status_json("idle")), bhttp::status::not_found, "registry.not_found"));
}

// --- GET /agents/{id}/stats -----------------------------------------------------------------------

TEST(CpLifecycleStats, TheOwnerAndTheAdminReadTheAgentsStatsRewritten) {
  CpHarness h;
  auto agent = h.agent("vm-stats");
  h.register_ok(agent);
  auto const path = "/api/v1/agents/" + agent.agent_id + "/stats";
  for (auto const& bearer : {h.github_token("octo-org/hello"), h.admin_token()}) {
    auto r = h.call_bearer(bhttp::verb::get, path, bearer);
    ASSERT_EQ(r.result(), bhttp::status::ok) << r.body();
    auto const b = body(r);
    EXPECT_EQ(b.at("cpu").at("count").as_int64(), 4);
    EXPECT_EQ(text(b.at("disk"), "path"), "/var/lib/easyenclave");
    EXPECT_EQ(b.at("uptime").at("agent_seconds").as_int64(), 1200);
  }
  // Fields the agent API does not define never reach the caller.
  agent.api->answer_stats_with(
      R"({"cpu":{"count":1,"load1":0,"load5":0,"load15":0,"secret":"x"},"memory":{"total_bytes":1,"available_bytes":1},)"
      R"("disk":{},"uptime":{"system_seconds":1,"agent_seconds":1},"extra":"<script>"})");
  auto r = h.call_bearer(bhttp::verb::get, path, h.admin_token());
  ASSERT_EQ(r.result(), bhttp::status::ok) << r.body();
  EXPECT_EQ(r.body().find("secret"), std::string::npos) << r.body();
  EXPECT_EQ(r.body().find("script"), std::string::npos) << r.body();
}

TEST(CpLifecycleStats, AnAnswerOfAnotherShapeIs502AndAnotherOwnerIsRefused) {
  CpHarness h;
  auto agent = h.agent("vm-stats");
  h.register_ok(agent);
  auto const path = "/api/v1/agents/" + agent.agent_id + "/stats";
  agent.api->answer_stats_with(R"({"cpu":"lots"})");
  EXPECT_TRUE(is_error(h.call_bearer(bhttp::verb::get, path, h.admin_token()), bhttp::status::bad_gateway,
                       "cp.agent_answer_malformed"));
  EXPECT_TRUE(is_error(h.call_bearer(bhttp::verb::get, path, evil_token(h)), bhttp::status::forbidden,
                       "cp.owner_mismatch"));
  EXPECT_EQ(h.call(bhttp::verb::get, path).result(), bhttp::status::unauthorized);
}

// --- DELETE /agents/{id} --------------------------------------------------------------------------

TEST(CpLifecycleDelete, RemovesTheRecordTunnelAndDnsRecordAtCloudflare) {
  for (char const* prefix : {"/api/v1/agents/", "/api/v1/admin/agents/"}) {
    CpHarness h({.cloudflare = true});
    auto agent = h.agent("vm-doomed");
    h.register_ok(agent);
    auto keep = h.agent("vm-keep");
    h.register_ok(keep);
    ASSERT_EQ(h.cloudflare()->live_tunnel_count(), 2u);
    ASSERT_EQ(h.cloudflare()->dns_record_count(), 2u);
    auto const recorded = body(h.call(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id));
    auto const path = prefix + agent.agent_id;
    // A workflow (even the owner's) may not remove an agent.
    EXPECT_EQ(h.call_bearer(bhttp::verb::delete_, path, h.github_token("octo-org/hello")).result(),
              bhttp::status::unauthorized);
    EXPECT_EQ(h.cloudflare()->live_tunnel_count(), 2u);
    auto removed = h.call_bearer(bhttp::verb::delete_, path, h.admin_token());
    ASSERT_EQ(removed.result(), bhttp::status::ok) << prefix << removed.body();
    EXPECT_TRUE(body(removed).at("removed").as_bool());
    EXPECT_EQ(h.cloudflare()->live_tunnel_count(), 1u) << prefix;
    EXPECT_EQ(h.cloudflare()->dns_record_count(), 1u) << prefix;
    for (auto const& record : h.cloudflare()->records()) {
      EXPECT_NE(record.name, text(recorded, "hostname")) << prefix;
    }
    EXPECT_TRUE(is_error(h.call(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id), bhttp::status::not_found,
                         "registry.not_found"));
    EXPECT_EQ(h.call(bhttp::verb::get, "/api/v1/agents/" + keep.agent_id).result(), bhttp::status::ok);
  }
}

TEST(CpLifecycleDelete, TheChallengePathIsAnAgentIdThatDoesNotExist) {
  // DELETE /agents/{id} shares its shape with GET /agents/challenge: "challenge" is only an id.
  CpHarness h;
  EXPECT_EQ(h.call(bhttp::verb::delete_, "/api/v1/agents/challenge").result(), bhttp::status::unauthorized);
  EXPECT_TRUE(is_error(h.call_bearer(bhttp::verb::delete_, "/api/v1/agents/challenge", h.admin_token()),
                       bhttp::status::not_found, "registry.not_found"));
  EXPECT_EQ(h.call(bhttp::verb::get, "/api/v1/agents/challenge").result(), bhttp::status::ok);
}

TEST(CpLifecycleDelete, AFailingCloudflareKeepsTheRecordSoTheRemovalCanBeRetried) {
  CpHarness h({.cloudflare = true});
  auto agent = h.agent("vm-doomed");
  h.register_ok(agent);
  h.cloudflare()->fail_next(bhttp::verb::delete_, "/accounts/", 500);
  auto const path = "/api/v1/agents/" + agent.agent_id;
  auto failed = h.call_bearer(bhttp::verb::delete_, path, h.admin_token());
  EXPECT_EQ(failed.result(), bhttp::status::bad_gateway) << failed.body();
  EXPECT_EQ(h.call(bhttp::verb::get, path).result(), bhttp::status::ok);
  auto removed = h.call_bearer(bhttp::verb::delete_, path, h.admin_token());
  ASSERT_EQ(removed.result(), bhttp::status::ok) << removed.body();
  EXPECT_EQ(h.cloudflare()->live_tunnel_count(), 0u);
  EXPECT_EQ(h.cloudflare()->dns_record_count(), 0u);
}

TEST(CpLifecycleDelete, StopsTheWorkloadOnTheAgentAndClosesTheDeployment) {
  Deployed d;
  auto removed = d.h.call_bearer(bhttp::verb::delete_, "/api/v1/agents/" + d.agent.agent_id, d.h.admin_token());
  ASSERT_EQ(removed.result(), bhttp::status::ok) << removed.body();
  ASSERT_EQ(d.agent.api->undeploys().size(), 1u);
  EXPECT_EQ(d.agent.api->undeploys()[0].deployment_id, d.deployment_id);
  auto const dep = body(d.h.call(bhttp::verb::get, "/api/v1/deployments/" + d.deployment_id));
  EXPECT_EQ(text(dep, "status"), "stopped");
  EXPECT_NE(text(dep, "detail").find("removed by admin"), std::string::npos) << text(dep, "detail");
}

TEST(CpLifecycleDelete, AnAgentThatCannotBeReachedIsRemovedAllTheSame) {
  Deployed d;
  d.agent.api->fail_undeploys(true);
  auto removed = d.h.call_bearer(bhttp::verb::delete_, "/api/v1/agents/" + d.agent.agent_id, d.h.admin_token());
  ASSERT_EQ(removed.result(), bhttp::status::ok) << removed.body();
  EXPECT_EQ(deployment_status(d.h, d.deployment_id), "stopped");
  EXPECT_EQ(d.h.call(bhttp::verb::get, "/api/v1/agents/" + d.agent.agent_id).result(), bhttp::status::not_found);
}

// --- POST /agents/{id}/reset ----------------------------------------------------------------------

TEST(CpLifecycleReset, UndeploysOnTheAgentAndClosesTheDeployment) {
  Deployed d;
  auto const path = "/api/v1/agents/" + d.agent.agent_id + "/reset";
  // The owner's workflow may not (the owner's reset is /me/agents/{id}/reset), nor a workflow.
  EXPECT_EQ(d.h.call_bearer(bhttp::verb::post, path, d.token).result(), bhttp::status::unauthorized);
  EXPECT_EQ(deployment_status(d.h, d.deployment_id), "deploying");
  auto reset = d.h.call_bearer(bhttp::verb::post, path, d.h.admin_token());
  ASSERT_EQ(reset.result(), bhttp::status::ok) << reset.body();
  auto const b = body(reset);
  EXPECT_TRUE(b.at("agent_reached").as_bool());
  EXPECT_EQ(text(b, "tunnel"), "none");
  EXPECT_EQ(text(b.at("agent"), "status"), "idle");
  EXPECT_EQ(text(b.at("stopped_deployment"), "status"), "stopped");
  ASSERT_EQ(d.agent.api->undeploys().size(), 1u);
  EXPECT_EQ(d.agent.api->undeploys()[0].deployment_id, d.deployment_id);
  auto const dep = body(d.h.call(bhttp::verb::get, "/api/v1/deployments/" + d.deployment_id));
  EXPECT_EQ(text(dep, "status"), "stopped");
  EXPECT_NE(text(dep, "detail").find("reset"), std::string::npos) << text(dep, "detail");
  // Undeployed means deployable again.
  auto again = d.h.call_bearer(bhttp::verb::post, "/api/v1/deploy", d.token, kHello);
  EXPECT_EQ(again.result(), bhttp::status::ok) << again.body();
}

TEST(CpLifecycleReset, AnUnreachableAgentIsResetOnRecord) {
  Deployed d;
  d.agent.api->fail_undeploys(true);
  auto reset = d.h.call_bearer(bhttp::verb::post, "/api/v1/agents/" + d.agent.agent_id + "/reset", d.h.admin_token());
  ASSERT_EQ(reset.result(), bhttp::status::ok) << reset.body();
  EXPECT_FALSE(body(reset).at("agent_reached").as_bool());
  EXPECT_EQ(agent_field(d.h, d.agent, "status"), "idle");
  auto const dep = body(d.h.call(bhttp::verb::get, "/api/v1/deployments/" + d.deployment_id));
  EXPECT_EQ(text(dep, "status"), "stopped");
  EXPECT_NE(text(dep, "detail").find("not reached"), std::string::npos) << text(dep, "detail");
}

TEST(CpLifecycleReset, AnIdleAgentIsAskedToStopWhateverRuns) {
  CpHarness h;
  auto agent = h.agent("vm-idle");
  h.register_ok(agent);
  auto reset = h.call_bearer(bhttp::verb::post, "/api/v1/agents/" + agent.agent_id + "/reset", h.admin_token());
  ASSERT_EQ(reset.result(), bhttp::status::ok) << reset.body();
  EXPECT_TRUE(body(reset).at("stopped_deployment").is_null());
  ASSERT_EQ(agent.api->undeploys().size(), 1u);
  EXPECT_EQ(agent.api->undeploys()[0].deployment_id, "");
}

TEST(CpLifecycleReset, RecreatesATunnelAndDnsRecordThatWentMissing) {
  CpHarness h({.cloudflare = true});
  auto agent = h.agent("vm-tunnel");
  h.register_ok(agent);
  auto const before = body(h.call(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id));
  auto* cf = h.cloudflare();
  auto const old_tunnel = cf->tunnels().at(0).id;
  auto const old_record = cf->records().at(0).id;
  // An intact tunnel is kept.
  auto kept = h.call_bearer(bhttp::verb::post, "/api/v1/agents/" + agent.agent_id + "/reset", h.admin_token());
  ASSERT_EQ(kept.result(), bhttp::status::ok) << kept.body();
  EXPECT_EQ(text(body(kept), "tunnel"), "kept");
  // Someone deletes the tunnel and the DNS record at Cloudflare.
  for (auto const& path : {"/accounts/" + cf->account_id() + "/cfd_tunnel/" + old_tunnel,
                           "/zones/" + cf->zone_id() + "/dns_records/" + old_record}) {
    ee::http::Request request{bhttp::verb::delete_, cf->url() + path, 11};
    request.set(bhttp::field::authorization, "Bearer " + cf->api_token());
    ASSERT_EQ(h.send(std::move(request)).result(), bhttp::status::ok) << path;
  }
  ASSERT_EQ(cf->live_tunnel_count(), 0u);
  auto reset = h.call_bearer(bhttp::verb::post, "/api/v1/agents/" + agent.agent_id + "/reset", h.admin_token());
  ASSERT_EQ(reset.result(), bhttp::status::ok) << reset.body();
  EXPECT_EQ(text(body(reset), "tunnel"), "recreated");
  EXPECT_EQ(cf->live_tunnel_count(), 1u);
  ASSERT_EQ(cf->dns_record_count(), 1u);
  auto const after = body(h.call(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id));
  EXPECT_EQ(text(after, "hostname"), text(before, "hostname"));
  auto const live = cf->live_tunnel_named(cf->tunnels().back().name);
  ASSERT_TRUE(live);
  EXPECT_NE(live->id, old_tunnel);
  EXPECT_EQ(cf->records().at(0).content, live->id + ".cfargotunnel.com");
  // Removing the agent now removes the new tunnel: the record carries it.
  auto removed = h.call_bearer(bhttp::verb::delete_, "/api/v1/agents/" + agent.agent_id, h.admin_token());
  ASSERT_EQ(removed.result(), bhttp::status::ok) << removed.body();
  EXPECT_EQ(cf->live_tunnel_count(), 0u);
  EXPECT_EQ(cf->dns_record_count(), 0u);
}

// --- PATCH /agents/{id}/owner ---------------------------------------------------------------------

TEST(CpLifecycleOwner, MovesTheAgentToTheNewOwnerAndClearsTheProvenId) {
  CpHarness h;
  auto agent = h.agent("vm-moved");
  h.register_ok(agent);
  auto const path = "/api/v1/agents/" + agent.agent_id + "/owner";
  auto const logs = "/api/v1/agents/" + agent.agent_id + "/logs";
  auto const old_owner = h.github_token("octo-org/hello");
  ASSERT_EQ(h.call_bearer(bhttp::verb::get, logs, old_owner).result(), bhttp::status::ok);
  // Not the owner's to give away, nor anyone's but the operator's.
  EXPECT_EQ(h.call_bearer(bhttp::verb::patch, path, old_owner, R"({"owner":"github:org/evil-org"})").result(),
            bhttp::status::unauthorized);
  EXPECT_EQ(h.call_bearer(bhttp::verb::patch, path, evil_token(h), R"({"owner":"github:org/evil-org"})").result(),
            bhttp::status::unauthorized);
  auto moved = h.call_bearer(bhttp::verb::patch, path, h.admin_token(), R"({"owner":"github:org/evil-org"})");
  ASSERT_EQ(moved.result(), bhttp::status::ok) << moved.body();
  EXPECT_EQ(text(body(moved), "owner"), "github:org/evil-org");
  EXPECT_EQ(text(body(moved), "owner_id"), "");
  EXPECT_EQ(h.call_bearer(bhttp::verb::get, logs, old_owner).result(), bhttp::status::forbidden);
  EXPECT_EQ(h.call_bearer(bhttp::verb::get, logs, evil_token(h)).result(), bhttp::status::ok);
}

TEST(CpLifecycleOwner, AProvenIdIsKeptOnlyWhenTheLoginStaysTheSame) {
  CpHarness h;
  auto agent = h.agent("vm-proven");
  h.register_ok(agent);
  // As a registration with the owner's bootstrap token leaves it.
  ASSERT_TRUE(h.stores().agents->set_owner(agent.agent_id, "github:org/octo-org", "424242"));
  auto const path = "/api/v1/agents/" + agent.agent_id + "/owner";
  auto recased = h.call_bearer(bhttp::verb::patch, path, h.admin_token(), R"({"owner":"github:org/Octo-Org"})");
  ASSERT_EQ(recased.result(), bhttp::status::ok) << recased.body();
  EXPECT_EQ(text(body(recased), "owner_id"), "424242");
  auto moved = h.call_bearer(bhttp::verb::patch, path, h.admin_token(), R"({"owner":"github:user/someone"})");
  ASSERT_EQ(moved.result(), bhttp::status::ok) << moved.body();
  EXPECT_EQ(text(body(moved), "owner"), "github:user/someone");
  EXPECT_EQ(text(body(moved), "owner_id"), "");
}

TEST(CpLifecycleOwner, RefusesMalformedLabelsAndUnknownFields) {
  CpHarness h;
  auto agent = h.agent("vm-moved");
  h.register_ok(agent);
  auto const path = "/api/v1/agents/" + agent.agent_id + "/owner";
  for (auto json : {R"({"owner":"evil-org"})", R"({"owner":"github:org/-x"})", R"({"owner":"github:org/a/b"})",
                    R"({"owner":""})", R"({"owner":1})", "{}", R"({"owner":"github:org/x","owner_id":"1"})", "[]"}) {
    auto r = h.call_bearer(bhttp::verb::patch, path, h.admin_token(), json);
    EXPECT_EQ(r.result(), bhttp::status::bad_request) << json << ": " << r.body();
  }
  EXPECT_EQ(agent_field(h, agent, "owner"), "github:org/octo-org");
  EXPECT_TRUE(is_error(h.call_bearer(bhttp::verb::patch, "/api/v1/agents/no-such-agent/owner", h.admin_token(),
                                     R"({"owner":"github:org/x"})"),
                       bhttp::status::not_found, "registry.not_found"));
}

TEST(CpLifecycleOwner, AnAgentHoldingADeploymentIsNotMoved) {
  // The new owner would read the previous owner's logs and stop its workload.
  Deployed d;
  auto r = d.h.call_bearer(bhttp::verb::patch, "/api/v1/agents/" + d.agent.agent_id + "/owner", d.h.admin_token(),
                           R"({"owner":"github:org/evil-org"})");
  EXPECT_TRUE(is_error(r, bhttp::status::conflict, "cp.agent_busy"));
  EXPECT_EQ(agent_field(d.h, d.agent, "owner"), "github:org/octo-org");
}

// --- POST /agents/{id}/console-access -----------------------------------------------------------------

// The CP's key as every agent learns it: from its registration answer.
api::PublicKey cp_key(CpHarness& h) {
  auto agent = h.agent("vm-key-probe");
  auto answer = h.register_agent(agent, h.registration(agent));
  return api::PublicKey::parse(text(body(answer), "cp_public_key")).value();
}

TEST(CpLifecycleConsole, TheOwnerGetsATokenForThatOneAgentSignedByTheCpKey) {
  CpHarness h;
  auto agent = h.agent("vm-console");
  h.register_ok(agent);
  auto other = h.agent("vm-console-2");
  h.register_ok(other);
  auto const key = cp_key(h);
  auto minted = h.call_bearer(bhttp::verb::post, "/api/v1/agents/" + agent.agent_id + "/console-access",
                              h.github_token("octo-org/hello"));
  ASSERT_EQ(minted.result(), bhttp::status::ok) << minted.body();
  EXPECT_EQ(minted[bhttp::field::cache_control], "no-store");
  auto const b = body(minted);
  EXPECT_EQ(text(b, "agent_id"), agent.agent_id);
  EXPECT_EQ(b.at("expires_in_seconds").as_int64(), 900);
  EXPECT_EQ(text(b, "agent_url"), agent.api->url());
  auto const token = text(b, "token");
  auto const now = std::chrono::system_clock::now();
  for (auto scope : {api::kConsoleScopeLogs, api::kConsoleScopeStats}) {
    auto ok = api::verify_console_token(token, key, agent.agent_id, scope, now);
    EXPECT_TRUE(ok) << ok.error().message();
  }
  // Replayed against a second agent, for a route it does not cover, or after its life: refused.
  EXPECT_EQ(api::verify_console_token(token, key, other.agent_id, "logs", now).error(),
            api::errc::console_token_not_allowed);
  EXPECT_EQ(api::verify_console_token(token, key, agent.agent_id, "deploy", now).error(),
            api::errc::console_token_not_allowed);
  EXPECT_EQ(api::verify_console_token(token, key, agent.agent_id, "logs", now + std::chrono::seconds(901)).error(),
            api::errc::console_token_expired);
  // It is not a credential of the CP: as a bearer there it is neither the admin token nor an OIDC token.
  auto at_cp = h.call_bearer(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id + "/logs", token);
  EXPECT_TRUE(at_cp.result() == bhttp::status::unauthorized || at_cp.result() == bhttp::status::bad_request)
      << at_cp.body();
  EXPECT_EQ(h.call_bearer(bhttp::verb::delete_, "/api/v1/agents/" + agent.agent_id, token).result(),
            bhttp::status::unauthorized);
}

TEST(CpLifecycleConsole, TheLifetimeIsChosenWithinFifteenMinutesToAnHour) {
  CpHarness h;
  auto agent = h.agent("vm-console");
  h.register_ok(agent);
  auto const path = "/api/v1/agents/" + agent.agent_id + "/console-access";
  auto hour = h.call_bearer(bhttp::verb::post, path, h.admin_token(), R"({"ttl_seconds":3600})");
  ASSERT_EQ(hour.result(), bhttp::status::ok) << hour.body();
  EXPECT_EQ(body(hour).at("expires_in_seconds").as_int64(), 3600);
  auto const claims = api::parse_console_token(text(body(hour), "token")).value().claims;
  EXPECT_EQ(claims.expires_at - claims.issued_at, 3600);
  for (auto json : {R"({"ttl_seconds":899})", R"({"ttl_seconds":3601})", R"({"ttl_seconds":"900"})",
                    R"({"ttl_seconds":900,"scope":["deploy","undeploy"]})", "[]"}) {
    auto r = h.call_bearer(bhttp::verb::post, path, h.admin_token(), json);
    EXPECT_EQ(r.result(), bhttp::status::bad_request) << json << ": " << r.body();
  }
}

TEST(CpLifecycleConsole, AnotherOwnerGetsNoTokenEvenForItsOwnAgentsId) {
  // An owner of agent A asks for agent B's console: refused; and a token minted for A names A.
  CpHarness h;
  auto mine = h.agent("vm-mine");
  h.register_ok(mine);
  auto theirs = h.agent("vm-theirs");
  theirs.owner = "github:org/evil-org";
  h.register_ok(theirs);
  auto const evil = evil_token(h);
  EXPECT_TRUE(is_error(h.call_bearer(bhttp::verb::post, "/api/v1/agents/" + mine.agent_id + "/console-access", evil),
                       bhttp::status::forbidden, "cp.owner_mismatch"));
  auto own = h.call_bearer(bhttp::verb::post, "/api/v1/agents/" + theirs.agent_id + "/console-access", evil);
  ASSERT_EQ(own.result(), bhttp::status::ok) << own.body();
  auto const claims = api::parse_console_token(text(body(own), "token")).value().claims;
  EXPECT_EQ(claims.agent_id, theirs.agent_id);
  EXPECT_EQ(h.call(bhttp::verb::post, "/api/v1/agents/" + mine.agent_id + "/console-access").result(),
            bhttp::status::unauthorized);
}

}  // namespace
