// The control plane's main flows end to end in process: a CP on loopback, agents that attest
// with simulator quotes or ITA tokens, GitHub workflows that publish and deploy, and (where it
// matters) the Cloudflare stand-in holding the tunnels.
#include "cp/cp_harness.hpp"

#include <easyenclave/encoding.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <future>
#include <set>
#include <thread>

namespace {

using ee::test::CpHarness;
using ee::test::EvidenceKind;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;

bj::value body(ee::http::Response const& r) { return bj::parse(r.body()); }

TEST(CpFlow, PublishRegisterDeployHeartbeatUndeploy) {
  CpHarness h;
  auto const token = h.github_token("octo-org/hello");
  auto published = h.publish(token, "hello");
  ASSERT_EQ(published.result(), bhttp::status::created) << published.body();

  auto agent = h.agent("vm-1");
  h.register_ok(agent);
  ASSERT_FALSE(agent.agent_id.empty());

  auto deployed = h.call_bearer(bhttp::verb::post, "/api/v1/deploy", token, R"({"app_name":"hello","version":"1.0.0"})");
  ASSERT_EQ(deployed.result(), bhttp::status::ok) << deployed.body();
  auto const d = body(deployed);
  EXPECT_EQ(d.at("agent_id").as_string(), agent.agent_id);
  EXPECT_EQ(d.at("status").as_string(), "deploying");
  std::string const deployment_id(d.at("deployment_id").as_string());
  ASSERT_EQ(agent.api->deploys().size(), 1u);
  EXPECT_EQ(agent.api->deploys()[0].image, CpHarness::image());
  EXPECT_EQ(agent.api->deploys()[0].deployment_id, deployment_id);

  ee::api::HeartbeatRequest hb;
  hb.status = "running";
  hb.deployment_id = deployment_id;
  hb.image_digest = "sha256:" + std::string(64, 'a');
  auto beat = h.heartbeat(agent, hb);
  ASSERT_EQ(beat.result(), bhttp::status::ok) << beat.body();
  EXPECT_TRUE(body(beat).at("verified").as_bool());
  auto running = h.call(bhttp::verb::get, "/api/v1/deployments/" + deployment_id);
  EXPECT_EQ(body(running).at("status").as_string(), "running");
  auto listed = h.call(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id);
  EXPECT_EQ(body(listed).at("status").as_string(), "deployed");
  EXPECT_EQ(body(listed).at("reported_digest").as_string(), hb.image_digest);

  auto undeployed = h.call_bearer(bhttp::verb::post, "/api/v1/agents/" + agent.agent_id + "/undeploy", token);
  ASSERT_EQ(undeployed.result(), bhttp::status::ok) << undeployed.body();
  EXPECT_EQ(body(undeployed).at("status").as_string(), "stopped");
  ASSERT_EQ(agent.api->undeploys().size(), 1u);
  EXPECT_EQ(agent.api->undeploys()[0].deployment_id, deployment_id);
  EXPECT_EQ(agent.api->rejected_signatures(), 0u);
  EXPECT_EQ(body(h.call(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id)).at("status").as_string(), "idle");
}

TEST(CpFlow, RegistersWithAnItaTokenAndRecordsHowItWasAppraised) {
  CpHarness h;
  auto agent = h.agent("vm-ita");
  h.register_ok(agent, EvidenceKind::ita_token);
  auto record = body(h.call(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id + "/attestation"));
  EXPECT_EQ(record.at("appraised_by").as_string(), "intel_trust_authority");
  EXPECT_EQ(record.at("mrtd").as_string(), ee::hex_encode(CpHarness::trusted_mrtd()));
  EXPECT_EQ(record.at("tcb_status").as_string(), "UpToDate");
  EXPECT_EQ(record.at("rtmrs").as_array().size(), 4u);
}

TEST(CpFlow, AcceptsTheLegacyRegistrationForm) {
  CpHarness h;
  auto agent = h.agent("legacy-vm");
  // The earlier agent: a 16-byte nonce (the first half of the challenge) zero-padded, an ITA
  // token, no owner and no key.
  auto const nonce = h.challenge().substr(0, 32);
  ee::tdx::ReportData rd{};
  auto bytes = ee::hex_decode(nonce).value();
  std::copy(bytes.begin(), bytes.end(), rd.begin());
  ee::test::FakeIta& ita = h.ita();
  auto token = ita.mint([&] {
    ee::tdx::Appraisal a;
    a.appraised_by = ee::tdx::Appraiser::intel_trust_authority;
    a.mr_td = CpHarness::trusted_mrtd();
    a.report_data = rd;
    a.tcb_status = ee::tdx::TcbStatus::up_to_date;
    a.appraised_at = std::chrono::system_clock::now();
    return a;
  }());
  auto const legacy = R"({"intel_ta_token":")" + token + R"(","vm_name":"legacy-vm","nonce":")" + nonce +
                      R"(","node_size":"tiny","datacenter":"gcp:us-east1-b"})";
  auto response = h.call(bhttp::verb::post, "/api/agents/register", legacy);
  ASSERT_EQ(response.result(), bhttp::status::ok) << response.body();
  EXPECT_EQ(body(response).at("agent_id").as_string().size(), 36u);
}

TEST(CpFlow, ReRegistrationKeepsTheAgentIdAndTheTunnel) {
  CpHarness h({.cloudflare = true});
  auto agent = h.agent("vm-rereg");
  h.register_ok(agent);
  auto const first_id = agent.agent_id;
  auto first = body(h.call(bhttp::verb::get, "/api/v1/agents/" + first_id));
  EXPECT_EQ(first.at("hostname").as_string(), "vm-rereg.agents.example.com");

  h.register_ok(agent);
  EXPECT_EQ(agent.agent_id, first_id);
  EXPECT_EQ(h.cloudflare()->live_tunnel_count(), 1u);
  EXPECT_EQ(h.cloudflare()->dns_record_count(), 1u);
  EXPECT_EQ(body(h.call(bhttp::verb::get, "/api/v1/agents")).as_array().size(), 1u);
}

TEST(CpFlow, WipingTheDatabaseAndReRegisteringRestoresTheRegistry) {
  CpHarness h({.cloudflare = true});
  std::vector<ee::test::TestAgent> agents;
  for (int i = 0; i < 3; ++i) {
    agents.push_back(h.agent("vm-wipe-" + std::to_string(i)));
    h.register_ok(agents.back());
  }
  h.restart(/*wipe_database=*/true);
  EXPECT_EQ(body(h.call(bhttp::verb::get, "/api/v1/agents")).as_array().size(), 0u);
  for (auto& a : agents) h.register_ok(a);
  auto listed = body(h.call(bhttp::verb::get, "/api/v1/agents")).as_array();
  ASSERT_EQ(listed.size(), 3u);
  std::set<std::string> hostnames;
  for (auto const& a : listed) hostnames.insert(std::string(a.at("hostname").as_string()));
  EXPECT_EQ(hostnames.size(), 3u);
  // The tunnels were found by name, not created again.
  EXPECT_EQ(h.cloudflare()->live_tunnel_count(), 3u);
  EXPECT_EQ(h.cloudflare()->dns_record_count(), 3u);
}

TEST(CpFlow, TwoHundredConcurrentRegistrationsEachSucceedOnceWithoutDuplicateTunnels) {
  CpHarness h({.cloudflare = true, .customize = [](ee::cp::Options& o) {
                 o.server.threads = 4;
                 // 400 anonymous requests from one address: this test is about concurrency.
                 o.server.rate_limits["anonymous"].per_minute = 0;
               }});
  constexpr int kAgents = 200;
  std::vector<ee::test::TestAgent> agents;
  std::vector<ee::api::RegisterRequest> requests;
  for (int i = 0; i < kAgents; ++i) {
    ee::test::TestAgent a{.vm_name = "vm-c" + std::to_string(i), .key = ee::api::SigningKey::generate().value()};
    requests.push_back(h.registration(a));
    agents.push_back(std::move(a));
  }
  std::vector<std::future<ee::http::Response>> results;
  for (int i = 0; i < kAgents; ++i) {
    results.push_back(std::async(std::launch::async, [&h, &agents, &requests, i] {
      return h.register_agent(agents[static_cast<std::size_t>(i)], requests[static_cast<std::size_t>(i)]);
    }));
  }
  std::set<std::string> ids;
  for (auto& f : results) {
    auto r = f.get();
    ASSERT_EQ(r.result(), bhttp::status::ok) << r.body();
    ids.insert(std::string(body(r).at("agent_id").as_string()));
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kAgents));
  EXPECT_EQ(h.cloudflare()->live_tunnel_count(), static_cast<std::size_t>(kAgents));
  EXPECT_EQ(h.cloudflare()->dns_record_count(), static_cast<std::size_t>(kAgents));
  // Each nonce was single-use: replaying any registration now fails.
  auto replay = h.register_agent(agents[0], requests[0]);
  EXPECT_EQ(replay.result(), bhttp::status::unauthorized) << replay.body();
}

TEST(CpFlow, ADigestOtherThanTheCatalogsFailsTheDeploymentAndFlagsTheAgent) {
  CpHarness h;
  auto const token = h.github_token();
  ASSERT_EQ(h.publish(token, "hello").result(), bhttp::status::created);
  auto agent = h.agent("vm-digest");
  h.register_ok(agent);
  auto deployed = body(h.call_bearer(bhttp::verb::post, "/api/v1/deploy", token, R"({"app_name":"hello","version":"1.0.0"})"));
  std::string const deployment_id(deployed.at("deployment_id").as_string());

  ee::api::HeartbeatRequest hb;
  hb.status = "running";
  hb.deployment_id = deployment_id;
  hb.image_digest = "sha256:" + std::string(64, 'f');
  auto beat = h.heartbeat(agent, hb);
  ASSERT_EQ(beat.result(), bhttp::status::ok) << beat.body();
  EXPECT_FALSE(body(beat).at("verified").as_bool());
  auto d = body(h.call(bhttp::verb::get, "/api/v1/deployments/" + deployment_id));
  EXPECT_EQ(d.at("status").as_string(), "failed");
  auto a = body(h.call(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id));
  EXPECT_EQ(a.at("status").as_string(), "unverified");
  // No deploys go to a flagged agent.
  auto again = h.call_bearer(bhttp::verb::post, "/api/v1/deploy", token,
                             R"({"app_name":"hello","version":"1.0.0","agent_id":")" + agent.agent_id + "\"}");
  EXPECT_EQ(again.result(), bhttp::status::conflict) << again.body();
  EXPECT_EQ(body(again).at("code").as_string(), "cp.agent_unverified");
}

TEST(CpFlow, HeartbeatsAskForFreshEvidenceAndAChangedMrtdMarksTheAgentUnverified) {
  CpHarness h({.customize = [](ee::cp::Options& o) { o.timings.reattestation_interval = std::chrono::seconds(60); }});
  auto agent = h.agent("vm-reattest");
  h.register_ok(agent);
  ee::api::HeartbeatRequest hb;
  hb.status = "idle";
  EXPECT_FALSE(body(h.heartbeat(agent, hb)).at("attestation_due").as_bool());
  h.advance(std::chrono::seconds(61));
  EXPECT_TRUE(body(h.heartbeat(agent, hb)).at("attestation_due").as_bool());

  // Fresh evidence with the same MRTD: due no more.
  hb.nonce = h.challenge();
  hb.quote_b64 = ee::base64_encode(h.quote(CpHarness::report_data(hb.nonce, agent.key.public_key())));
  auto fresh = h.heartbeat(agent, hb);
  ASSERT_EQ(fresh.result(), bhttp::status::ok) << fresh.body();
  EXPECT_FALSE(body(fresh).at("attestation_due").as_bool());
  EXPECT_TRUE(body(fresh).at("verified").as_bool());

  // Evidence of another MRTD: refused, and the agent is unverified from then on.
  hb.nonce = h.challenge();
  hb.quote_b64 = ee::base64_encode(h.quote(CpHarness::report_data(hb.nonce, agent.key.public_key()), CpHarness::other_mrtd()));
  auto changed = h.heartbeat(agent, hb);
  EXPECT_EQ(changed.result(), bhttp::status::forbidden) << changed.body();
  auto a = body(h.call(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id));
  EXPECT_FALSE(a.at("verified").as_bool());
}

TEST(CpFlow, StaleAgentsAreRemovedWithTheirTunnels) {
  CpHarness h({.cloudflare = true});
  auto quiet = h.agent("vm-quiet");
  h.register_ok(quiet);
  auto chatty = h.agent("vm-chatty");
  h.register_ok(chatty);
  h.advance(std::chrono::hours(23));
  ee::api::HeartbeatRequest hb;
  hb.status = "idle";
  ASSERT_EQ(h.heartbeat(chatty, hb).result(), bhttp::status::ok);
  h.advance(std::chrono::hours(2));
  auto report = h.cp().run_maintenance();
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(report->agents_removed, 1u);
  auto listed = body(h.call(bhttp::verb::get, "/api/v1/agents")).as_array();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].at("vm_name").as_string(), "vm-chatty");
  EXPECT_EQ(h.cloudflare()->live_tunnel_count(), 1u);
  EXPECT_EQ(h.cloudflare()->dns_record_count(), 1u);
}

TEST(CpFlow, AcceptedSignaturesArePurgedOnceOutsideTheWindowAndAReplayIsStillRefusedWithin) {
  CpHarness h;
  auto agent = h.agent("vm-signatures");
  h.register_ok(agent);
  ee::api::HeartbeatRequest hb;
  hb.status = "idle";
  auto const first = h.signed_heartbeat(agent, hb);
  ASSERT_EQ(h.send(first).result(), bhttp::status::ok);
  ASSERT_EQ(h.heartbeat(agent, hb).result(), bhttp::status::ok);
  auto report = h.cp().run_maintenance();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->signatures_purged, 0u) << "inside the window a signature must stay remembered";
  auto replayed = h.send(first);
  EXPECT_EQ(replayed.result(), bhttp::status::unauthorized);
  EXPECT_NE(replayed.body().find("api.replayed_request"), std::string::npos) << replayed.body();
  h.advance(std::chrono::seconds(601));  // past the 300 s signature window either way
  report = h.cp().run_maintenance();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->signatures_purged, 2u);
}

TEST(CpFlow, UsedNoncesAreForgottenWhenTheyExpireAndStuckDeploymentsFail) {
  CpHarness h;
  (void)h.challenge();  // issued, never used: nothing to forget
  (void)h.challenge();
  auto const token = h.github_token();
  ASSERT_EQ(h.publish(token, "hello").result(), bhttp::status::created);
  auto agent = h.agent("vm-stuck");
  h.register_ok(agent);
  auto deployed = body(h.call_bearer(bhttp::verb::post, "/api/v1/deploy", token, R"({"app_name":"hello","version":"1.0.0"})"));
  h.advance(std::chrono::seconds(601));
  auto report = h.cp().run_maintenance();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->nonces_purged, 1u) << "only the registration's nonce was remembered";
  EXPECT_EQ(report->deployments_timed_out, 1u);
  auto d = body(h.call(bhttp::verb::get, "/api/v1/deployments/" + std::string(deployed.at("deployment_id").as_string())));
  EXPECT_EQ(d.at("status").as_string(), "failed");
  EXPECT_EQ(body(h.call(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id)).at("status").as_string(), "idle");
}

TEST(CpFlow, HealthScrapingMarksAgentsDownAfterThreeFailuresAndUpAfterTwoSuccesses) {
  CpHarness h;
  auto agent = h.agent("vm-health");
  h.register_ok(agent);
  auto health = [&] {
    return std::string(body(h.call(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id)).at("health").as_string());
  };
  ASSERT_TRUE(h.cp().scrape_health());
  ASSERT_TRUE(h.cp().scrape_health());
  EXPECT_EQ(health(), "up");
  agent.api->set_healthy(false);
  ASSERT_TRUE(h.cp().scrape_health());
  ASSERT_TRUE(h.cp().scrape_health());
  EXPECT_EQ(health(), "up");
  ASSERT_TRUE(h.cp().scrape_health());
  EXPECT_EQ(health(), "down");
  EXPECT_EQ(body(h.call(bhttp::verb::get, "/api/v1/agents?status=down")).as_array().size(), 1u);
  agent.api->set_healthy(true);
  ASSERT_TRUE(h.cp().scrape_health());
  EXPECT_EQ(health(), "down");
  ASSERT_TRUE(h.cp().scrape_health());
  EXPECT_EQ(health(), "up");
}

TEST(CpFlow, TheHealthHysteresisCarriesOverARestartOfTheCp) {
  // The counts live in the registry, as they must for the replica that takes the scrape lease
  // over: two misses before a restart and one after take the agent down.
  CpHarness h;
  auto agent = h.agent("vm-health-restart");
  h.register_ok(agent);
  auto health = [&] {
    return std::string(body(h.call(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id)).at("health").as_string());
  };
  ASSERT_TRUE(h.cp().scrape_health());
  ASSERT_TRUE(h.cp().scrape_health());
  ASSERT_EQ(health(), "up");
  agent.api->set_healthy(false);
  ASSERT_TRUE(h.cp().scrape_health());
  ASSERT_TRUE(h.cp().scrape_health());
  h.restart(/*wipe_database=*/false);
  EXPECT_EQ(health(), "up");
  ASSERT_TRUE(h.cp().scrape_health());
  EXPECT_EQ(health(), "down");
}

TEST(CpFlow, TheCpServesItsOwnQuoteWithTheCallersNonceBound) {
  std::shared_ptr<ee::tdx::QuoteProvider> provider;
  CpHarness h({.customize = [&provider](ee::cp::Options& o) {
    auto sim = ee::tdx::Simulator::create().value();
    provider = ee::tdx::make_simulator_provider(sim);
    o.quote_provider = provider;
  }});
  auto const nonce = std::string(64, '7');
  auto response = h.call(bhttp::verb::get, "/api/v1/attestation?nonce=" + nonce);
  ASSERT_EQ(response.result(), bhttp::status::ok) << response.body();
  auto b = body(response);
  auto quote = ee::tdx::parse_quote(ee::base64_decode(b.at("quote_b64").as_string()).value()).value();
  EXPECT_EQ(ee::hex_encode(std::span(quote.td_report().report_data).first(32)), nonce);
  auto key = ee::api::PublicKey::parse(b.at("cp_public_key").as_string()).value();
  auto digest = key.sha256();
  EXPECT_TRUE(std::equal(digest.begin(), digest.end(), quote.td_report().report_data.begin() + 32));
}

TEST(CpStart, ProductionRefusesTheSimulatorRootNonceChecksOffAndNoTrustedMrtd) {
  auto sim = ee::tdx::Simulator::create().value();
  ee::registry::TrustedMeasurement m;
  m.mrtd = std::string(96, 'a');
  m.kind = "agent";
  auto expect_refused = [](ee::cp::Options o, std::string const& what) {
    auto cp = ee::cp::ControlPlane::start(std::move(o));
    ASSERT_FALSE(cp) << what;
    EXPECT_EQ(cp.error(), ee::cp::errc::unsafe_configuration) << what;
  };
  {
    ee::cp::Options o;
    o.trusted_mrtds = {m};
    o.quote_root = sim->root();
    expect_refused(std::move(o), "simulator root");
  }
  {
    ee::cp::Options o;
    o.trusted_mrtds = {m};
    o.policy.nonce_mode = ee::cp::NonceMode::disabled;
    expect_refused(std::move(o), "nonce off");
  }
  expect_refused(ee::cp::Options{}, "no trusted MRTD");
  {
    ee::cp::Options o;
    o.trusted_mrtds = {m};
    o.quote_provider = ee::tdx::make_simulator_provider(sim);
    expect_refused(std::move(o), "simulator provider");
  }
  ee::cp::Options ok;
  ok.trusted_mrtds = {m};
  ok.background_tasks = false;
  EXPECT_TRUE(ee::cp::ControlPlane::start(std::move(ok)));
  ee::cp::Options dev;
  dev.dev = true;
  dev.quote_root = sim->root();
  dev.background_tasks = false;
  EXPECT_TRUE(ee::cp::ControlPlane::start(std::move(dev)));
}

}  // namespace
