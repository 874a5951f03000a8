// Who may register under a vm_name, and whose deploys may land on an agent: the holes found by
// attacking the network with a genuine TD (vm_name takeover, claimed owners, agent_url SSRF),
// each pinned over real HTTP against the harness.
#include "cp/cp_harness.hpp"

#include <easyenclave/encoding.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <span>
#include <string>

namespace {

using ee::test::CpHarness;
using ee::test::HarnessOptions;
using ee::test::TestAgent;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;
using namespace std::chrono_literals;

bj::value body(ee::http::Response const& r) { return bj::parse(r.body()); }

std::span<std::uint8_t const> bytes(std::string const& s) {
  return {reinterpret_cast<std::uint8_t const*>(s.data()), s.size()};
}

std::string text(bj::value const& v, std::string_view key) { return std::string(v.at(key).as_string()); }

testing::AssertionResult is_error(ee::http::Response const& r, bhttp::status status, std::string_view code,
                                  std::string_view part = {}) {
  if (r.result() != status) {
    return testing::AssertionFailure() << "status " << r.result_int() << ", expected " << static_cast<unsigned>(status)
                                       << ": " << r.body();
  }
  auto doc = body(r);
  if (doc.as_object().at("code").as_string() != code) return testing::AssertionFailure() << r.body();
  if (!part.empty() && std::string_view(doc.as_object().at("message").as_string()).find(part) == std::string_view::npos) {
    return testing::AssertionFailure() << "message does not mention '" << part << "': " << r.body();
  }
  // A refused registration teaches the caller nothing it could use.
  for (auto const* secret : {"tunnel_token", "agent_id", "hostname", "cp_public_key"}) {
    if (doc.as_object().contains(secret)) return testing::AssertionFailure() << "carries " << secret << ": " << r.body();
  }
  return testing::AssertionSuccess();
}

HarnessOptions proof_required(bool cloudflare = true) {
  HarnessOptions o;
  o.cloudflare = cloudflare;
  o.customize = [](ee::cp::Options& cp) { cp.owner_proof_mode = ee::cp::OwnerProofMode::required; };
  return o;
}

HarnessOptions with_cloudflare() {
  HarnessOptions o;
  o.cloudflare = true;
  return o;
}

ee::http::Response mint_response(CpHarness& h, std::string const& request = "{}",
                                 std::string const& repository = "octo-org/infra") {
  return h.call_bearer(bhttp::verb::post, "/api/v1/owners/bootstrap-tokens", h.github_token(repository), request);
}

// A workflow token of another GitHub owner (its own numeric id: the fake's default id is shared).
std::string other_owner_token(CpHarness& h, std::string const& repository = "evil-org/x") {
  ee::test::GithubTokenRequest request;
  request.repository = repository;
  request.repository_owner_id = "111111";
  return h.github().mint(request);
}

// A bootstrap token minted by a workflow of `repository`'s owner.
std::string mint(CpHarness& h, std::string const& request = "{}", std::string const& repository = "octo-org/infra") {
  auto r = mint_response(h, request, repository);
  EXPECT_EQ(r.result(), bhttp::status::created) << r.body();
  return r.result() == bhttp::status::created ? text(body(r), "token") : std::string();
}

ee::http::Response register_with(CpHarness& h, TestAgent& agent, std::string const& token) {
  auto request = h.registration(agent);
  request.bootstrap_token = token;
  return h.register_agent(agent, request);
}

bj::value agent_view(CpHarness& h, std::string const& id) { return body(h.call(bhttp::verb::get, "/api/v1/agents/" + id)); }

// --- vm_name takeover ------------------------------------------------------------------------------

TEST(CpOwnership, AnotherOwnerCannotTakeARegisteredVmName) {
  CpHarness h(with_cloudflare());
  auto victim = h.agent("vm-victim");
  h.register_ok(victim);
  auto attacker = h.agent("vm-victim");
  attacker.owner = "github:org/evil-org";
  EXPECT_TRUE(is_error(h.register_agent(attacker, h.registration(attacker)), bhttp::status::conflict,
                       "cp.vm_name_taken", "another owner"));
  // Not even after the victim went quiet: moving a VM to another owner takes an admin.
  h.advance(24h);
  EXPECT_TRUE(is_error(h.register_agent(attacker, h.registration(attacker)), bhttp::status::conflict,
                       "cp.vm_name_taken", "admin"));
  auto const record = agent_view(h, victim.agent_id);
  EXPECT_EQ(text(record, "owner"), "github:org/octo-org");
  EXPECT_EQ(text(record, "public_key"), victim.key.public_key().base64());
  EXPECT_EQ(h.cloudflare()->live_tunnel_count(), 1u);
}

TEST(CpOwnership, AnotherKeyOfTheSameOwnerWaitsForTheRecordedAgentsSilence) {
  CpHarness h(with_cloudflare());
  auto victim = h.agent("vm-keyed");
  h.register_ok(victim);
  auto other = h.agent("vm-keyed");  // the same owner label, its own key
  EXPECT_TRUE(is_error(h.register_agent(other, h.registration(other)), bhttp::status::conflict, "cp.vm_name_taken",
                       "still heartbeating"));
  // The victim keeps working: its heartbeats are still its own.
  h.advance(60s);
  ee::api::HeartbeatRequest hb;
  hb.status = "idle";
  ASSERT_EQ(h.heartbeat(victim, hb).result(), bhttp::status::ok);
  h.advance(80s);  // 80 s of silence: inside the grace window of 3 x 30 s
  EXPECT_TRUE(is_error(h.register_agent(other, h.registration(other)), bhttp::status::conflict, "cp.vm_name_taken"));
  // Silent for longer than the window: a VM that rebooted (and lost its in-memory key) comes back.
  h.advance(11s);
  auto back = h.register_agent(other, h.registration(other));
  ASSERT_EQ(back.result(), bhttp::status::ok) << back.body();
  EXPECT_EQ(other.agent_id, victim.agent_id);
  EXPECT_EQ(text(agent_view(h, victim.agent_id), "owner_id"), "") << "silence proves no owner";
}

TEST(CpOwnership, TheRecordedKeyCanHandTheVmNameToANewKey) {
  CpHarness h;
  auto agent = h.agent("vm-rotating");
  auto const token = mint(h);
  ASSERT_EQ(register_with(h, agent, token).result(), bhttp::status::ok);
  auto rotated = h.agent("vm-rotating");
  auto request = h.registration(rotated);
  auto const message = ee::api::continuity_message(request);
  auto const by_stranger = ee::api::SigningKey::generate().value().sign(bytes(message)).value();
  request.continuity_signature = ee::base64_encode(by_stranger);
  EXPECT_TRUE(is_error(h.register_agent(rotated, request), bhttp::status::conflict, "cp.vm_name_taken",
                       "continuity_signature"));
  request = h.registration(rotated);  // the failure did not use the nonce, but sign a fresh one
  auto const signature = agent.key.sign(bytes(ee::api::continuity_message(request))).value();
  request.continuity_signature = ee::base64_encode(signature);
  auto moved = h.register_agent(rotated, request);
  ASSERT_EQ(moved.result(), bhttp::status::ok) << moved.body();
  EXPECT_EQ(rotated.agent_id, agent.agent_id);
  auto const record = agent_view(h, agent.agent_id);
  EXPECT_EQ(text(record, "public_key"), rotated.key.public_key().base64());
  EXPECT_EQ(text(record, "owner_id"), "654321") << "the old key vouches for the proven owner";
  // The old key is out: its heartbeats no longer verify.
  ee::api::HeartbeatRequest hb;
  hb.status = "idle";
  EXPECT_EQ(h.heartbeat(agent, hb).result(), bhttp::status::unauthorized);
  EXPECT_EQ(h.heartbeat(rotated, hb).result(), bhttp::status::ok);
}

TEST(CpOwnership, TheSameKeyReRegistersAtOnceKeepingIdAndTunnel) {
  CpHarness h(with_cloudflare());
  auto agent = h.agent("vm-same");
  h.register_ok(agent);
  auto const id = agent.agent_id;
  auto again = h.register_agent(agent, h.registration(agent));
  ASSERT_EQ(again.result(), bhttp::status::ok) << again.body();
  EXPECT_EQ(agent.agent_id, id);
  EXPECT_EQ(text(body(again), "hostname"), "vm-same.agents.example.com");
  EXPECT_EQ(h.cloudflare()->live_tunnel_count(), 1u);
}

// --- owners proven by bootstrap tokens -------------------------------------------------------------

TEST(CpOwnership, RequiredModeAdmitsOnlyAgentsWithTheirOwnersToken) {
  CpHarness h(proof_required());
  auto agent = h.agent("vm-proven");
  EXPECT_TRUE(is_error(h.register_agent(agent, h.registration(agent)), bhttp::status::forbidden,
                       "cp.owner_proof_required", "bootstrap_token"));
  auto const token = mint(h, R"({"uses":2})");
  auto admitted = register_with(h, agent, token);
  ASSERT_EQ(admitted.result(), bhttp::status::ok) << admitted.body();
  auto const record = agent_view(h, agent.agent_id);
  EXPECT_EQ(text(record, "owner_id"), "654321");
  // Re-registration with the same key needs no token: the record vouches. An agent sends its
  // token every time, and it is not spent for that.
  ASSERT_EQ(h.register_agent(agent, h.registration(agent)).result(), bhttp::status::ok);
  ASSERT_EQ(register_with(h, agent, token).result(), bhttp::status::ok);
  auto const listed = body(h.call_bearer(bhttp::verb::get, "/api/v1/owners/bootstrap-tokens", h.github_token()));
  EXPECT_EQ(listed.as_array()[0].at("uses_left").as_int64(), 1);
  // Another key after the agent's silence still needs one: silence proves no owner.
  auto rebooted = h.agent("vm-proven");
  h.advance(120s);
  EXPECT_TRUE(is_error(h.register_agent(rebooted, h.registration(rebooted)), bhttp::status::forbidden,
                       "cp.owner_proof_required"));
  // With the token, a rebooted VM is back at once, same id and tunnel.
  h.advance(-120s);
  auto back = register_with(h, rebooted, token);
  ASSERT_EQ(back.result(), bhttp::status::ok) << back.body();
  EXPECT_EQ(rebooted.agent_id, agent.agent_id);
  EXPECT_EQ(h.cloudflare()->live_tunnel_count(), 1u);
}

TEST(CpOwnership, ATokenIsSpentByEachAdmissionAndNeverTwiceBeyondItsUses) {
  CpHarness h(proof_required());
  auto const token = mint(h);  // one use
  auto first = h.agent("vm-first");
  ASSERT_EQ(register_with(h, first, token).result(), bhttp::status::ok);
  auto second = h.agent("vm-second");
  EXPECT_TRUE(is_error(register_with(h, second, token), bhttp::status::unauthorized, "cp.bootstrap_token_invalid",
                       "used up"));
}

TEST(CpOwnership, ATokenAdmitsOnlyItsOwnerAndConstraints) {
  CpHarness h(proof_required());
  auto const token = mint(h, R"({"uses":10,"vm_name":"vm-a","datacenter":"gcp:us-central1-a","node_size":"tiny"})");
  auto other_owner = h.agent("vm-a");
  other_owner.owner = "github:org/evil-org";
  EXPECT_TRUE(is_error(register_with(h, other_owner, token), bhttp::status::forbidden, "cp.bootstrap_token_mismatch",
                       "octo-org"));
  auto other_name = h.agent("vm-b");
  EXPECT_TRUE(is_error(register_with(h, other_name, token), bhttp::status::forbidden, "cp.bootstrap_token_mismatch",
                       "vm_name"));
  auto other_dc = h.agent("vm-a");
  other_dc.datacenter = "azure:westeurope";
  EXPECT_TRUE(is_error(register_with(h, other_dc, token), bhttp::status::forbidden, "cp.bootstrap_token_mismatch",
                       "datacenter"));
  auto other_size = h.agent("vm-a");
  other_size.node_size = "llm";
  EXPECT_TRUE(is_error(register_with(h, other_size, token), bhttp::status::forbidden, "cp.bootstrap_token_mismatch",
                       "node_size"));
  auto right = h.agent("vm-a");
  EXPECT_EQ(register_with(h, right, token).result(), bhttp::status::ok);
}

TEST(CpOwnership, ExpiredRevokedAndForgedTokensAreRefused) {
  CpHarness h(proof_required());
  auto const short_lived = mint(h, R"({"expires_in_seconds":60})");
  h.advance(61s);
  auto late = h.agent("vm-late");
  EXPECT_TRUE(is_error(register_with(h, late, short_lived), bhttp::status::unauthorized, "cp.bootstrap_token_invalid",
                       "expired"));
  h.advance(-61s);

  auto minted = mint_response(h, R"({"uses":5})");
  auto const token = text(body(minted), "token");
  auto const id = text(body(minted), "id");
  // Another owner cannot see or revoke it: not found, so ids cannot be probed.
  EXPECT_EQ(h.call_bearer(bhttp::verb::delete_, "/api/v1/owners/bootstrap-tokens/" + id, other_owner_token(h))
                .result(),
            bhttp::status::not_found);
  auto revoked = h.call_bearer(bhttp::verb::delete_, "/api/v1/owners/bootstrap-tokens/" + id, h.github_token("octo-org/x"));
  ASSERT_EQ(revoked.result(), bhttp::status::ok) << revoked.body();
  auto after = h.agent("vm-revoked");
  EXPECT_TRUE(is_error(register_with(h, after, token), bhttp::status::unauthorized, "cp.bootstrap_token_invalid"));

  auto forged = h.agent("vm-forged");
  EXPECT_TRUE(is_error(register_with(h, forged, "ee_bt_" + std::string(43, 'A')), bhttp::status::unauthorized,
                       "cp.bootstrap_token_invalid"));
  auto malformed = h.registration(forged);
  malformed.bootstrap_token = "not-a-token";
  EXPECT_TRUE(is_error(h.register_agent(forged, malformed), bhttp::status::bad_request, "api.invalid_field",
                       "bootstrap_token"));
}

TEST(CpOwnership, MintingNeedsAnOidcTokenAndBoundsWhatItGrants) {
  CpHarness h;
  EXPECT_EQ(h.call(bhttp::verb::post, "/api/v1/owners/bootstrap-tokens", "{}").result(), bhttp::status::unauthorized);
  for (auto const* bad : {R"({"uses":0})", R"({"uses":1001})", R"({"expires_in_seconds":59})",
                          R"({"expires_in_seconds":2592001})", R"({"vm_name":"Not A Name"})", R"({"uses":"1"})", "[]"}) {
    EXPECT_EQ(mint_response(h, bad).result(), bhttp::status::bad_request) << bad;
  }
  auto minted = mint_response(h, R"({"uses":3,"vm_name":"vm-x"})");
  ASSERT_EQ(minted.result(), bhttp::status::created) << minted.body();
  auto const doc = body(minted);
  EXPECT_EQ(text(doc, "token").rfind("ee_bt_", 0), 0u);
  EXPECT_EQ(text(doc, "owner"), "octo-org");
  EXPECT_EQ(text(doc, "owner_id"), "654321");
  EXPECT_EQ(text(doc, "vm_name"), "vm-x");
  EXPECT_EQ(doc.at("uses_left").as_int64(), 3);
  // The listing shows the owner's tokens, never a secret.
  auto listed = h.call_bearer(bhttp::verb::get, "/api/v1/owners/bootstrap-tokens", h.github_token("octo-org/other"));
  ASSERT_EQ(listed.result(), bhttp::status::ok);
  EXPECT_EQ(listed.body().find(text(doc, "token")), std::string::npos);
  EXPECT_EQ(body(listed).as_array().size(), 1u);
  auto theirs = h.call_bearer(bhttp::verb::get, "/api/v1/owners/bootstrap-tokens", other_owner_token(h));
  EXPECT_TRUE(body(theirs).as_array().empty());
}

// --- deploys and catalog compare GitHub ids, not only names ----------------------------------------

TEST(CpOwnership, ARecreatedOrganisationWithTheSameNameInheritsNothing) {
  CpHarness h(proof_required(/*cloudflare=*/false));  // the CP reaches the fake agent API directly
  ASSERT_EQ(h.publish(h.github_token(), "hello").result(), bhttp::status::created);
  auto agent = h.agent("vm-owned");
  ASSERT_EQ(register_with(h, agent, mint(h)).result(), bhttp::status::ok);

  ee::test::GithubTokenRequest impostor;
  impostor.repository = "octo-org/hello";
  impostor.repository_owner_id = "999999";  // the login came back, under another account
  auto const impostor_token = h.github().mint(impostor);
  auto deploy = h.call_bearer(bhttp::verb::post, "/api/v1/deploy", impostor_token,
                              R"({"app_name":"hello","version":"1.0.0","agent_id":")" + agent.agent_id + R"("})");
  EXPECT_EQ(deploy.result(), bhttp::status::forbidden) << deploy.body();
  EXPECT_EQ(h.call_bearer(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id + "/logs", impostor_token).result(),
            bhttp::status::forbidden);
  auto version = h.call_bearer(bhttp::verb::post, "/api/v1/apps/hello/versions", impostor_token,
                               R"({"version":"2.0.0","image":")" + CpHarness::image() + R"(","mrtd":")" +
                                   ee::hex_encode(CpHarness::trusted_mrtd()) + R"("})");
  EXPECT_TRUE(is_error(version, bhttp::status::forbidden, "cp.owner_mismatch", "654321"));
  EXPECT_EQ(text(body(h.call(bhttp::verb::get, "/api/v1/apps/hello")), "owner_id"), "654321");
  // The real owner still can.
  auto real = h.call_bearer(bhttp::verb::post, "/api/v1/deploy", h.github_token(),
                            R"({"app_name":"hello","version":"1.0.0","agent_id":")" + agent.agent_id + R"("})");
  EXPECT_EQ(real.result(), bhttp::status::ok) << real.body();
}

// --- agent_url: the CP's paths, the operator's networks --------------------------------------------

TEST(CpOwnership, AnAgentUrlWithAPathIsRefusedAtRegistration) {
  CpHarness h;
  auto agent = h.agent("vm-ssrf");
  auto request = h.registration(agent);
  request.agent_url = "http://127.0.0.1:9/internal?x=";
  EXPECT_TRUE(is_error(h.register_agent(agent, request), bhttp::status::bad_request, "api.invalid_field", "origin"));
}

TEST(CpOwnership, AgentUrlsOutsideTheOperatorsNetworksAreNeverCalled) {
  HarnessOptions o;
  o.customize = [](ee::cp::Options& cp) { cp.agent_networks = {"10.0.0.0/8", "*.agents.internal"}; };
  CpHarness h(o);
  auto agent = h.agent("vm-loopback");  // its fake API listens on 127.0.0.1
  h.register_ok(agent);
  auto logs = h.call_bearer(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id + "/logs", h.github_token());
  // (The reason, "loopback ... not in the CP's agent networks", goes to the CP's log: 5xx
  // details never reach callers.)
  EXPECT_TRUE(is_error(logs, bhttp::status::bad_gateway, "cp.agent_unreachable"));
  EXPECT_EQ(agent.api->requests_seen(), 0u) << "the CP never sent the request";
}

TEST(CpOwnership, AnAgentAnswerOfAnotherShapeIsAnErrorNeverRelayed) {
  HarnessOptions o;
  o.customize = [](ee::cp::Options& cp) { cp.agent_networks = {"127.0.0.1/32"}; };
  CpHarness h(o);
  auto agent = h.agent("vm-odd");
  h.register_ok(agent);
  agent.api->answer_logs_with(R"({"internal":"secret metadata"})");
  auto logs = h.call_bearer(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id + "/logs", h.github_token());
  EXPECT_TRUE(is_error(logs, bhttp::status::bad_gateway, "cp.agent_answer_malformed"));
  EXPECT_EQ(logs.body().find("secret metadata"), std::string::npos);
  agent.api->answer_logs_with(R"({"lines":[{"seq":1,"at":"2026-01-01T00:00:00Z","source":"workload","text":"hi","x":1}],"dropped":0,"extra":"no"})");
  auto good = h.call_bearer(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id + "/logs", h.github_token());
  ASSERT_EQ(good.result(), bhttp::status::ok) << good.body();
  EXPECT_EQ(good.body().find("extra"), std::string::npos) << "only the defined fields are written again";
  EXPECT_EQ(body(good).at("lines").as_array()[0].at("text").as_string(), "hi");
}

TEST(CpOwnership, ADeployAnswerOfAnotherShapeFailsTheDeployment) {
  HarnessOptions o;
  o.customize = [](ee::cp::Options& cp) { cp.agent_networks = {"127.0.0.1/32"}; };
  CpHarness h(o);
  ASSERT_EQ(h.publish(h.github_token(), "hello").result(), bhttp::status::created);
  auto agent = h.agent("vm-odd-deploy");
  h.register_ok(agent);
  agent.api->answer_deploys_with(R"({"deployment_id":"someone-else","status":"deploying"})");
  auto deploy = h.call_bearer(bhttp::verb::post, "/api/v1/deploy", h.github_token(),
                              R"({"app_name":"hello","version":"1.0.0","agent_id":")" + agent.agent_id + R"("})");
  EXPECT_TRUE(is_error(deploy, bhttp::status::bad_gateway, "cp.agent_answer_malformed"));
  EXPECT_EQ(text(agent_view(h, agent.agent_id), "status"), "idle") << "the agent is free again";
}

}  // namespace
