// The attestation gate registration and re-attestation share: a nonce is spent only by an
// operation that succeeds (or by genuine evidence that changed what it measures), and any refusal
// at or after the gate leaves it usable.
#include "cp/cp_harness.hpp"

#include <easyenclave/encoding.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

namespace {

using ee::test::CpHarness;
using ee::test::EvidenceKind;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;

std::string code_of(ee::http::Response const& r) {
  return std::string(bj::parse(r.body()).at("code").as_string());
}

TEST(AttestationGate, ARegistrationRefusedAfterTheGateLeavesItsNonceUsable) {
  CpHarness h;
  auto owner = h.agent("vm-held");
  h.register_ok(owner);
  // Another owner's genuine TD asks for the same vm_name: past the gate, refused by continuity.
  auto intruder = h.agent("vm-held");
  intruder.owner = "github:org/intruder";
  auto const nonce = h.challenge();
  auto refused = h.register_agent(intruder, h.registration(intruder, EvidenceKind::quote, nonce));
  ASSERT_EQ(refused.result(), bhttp::status::conflict) << refused.body();
  EXPECT_EQ(code_of(refused), "cp.vm_name_taken");
  // The same challenge admits the intruder's TD under a name of its own.
  intruder.vm_name = "vm-own";
  auto admitted = h.register_agent(intruder, h.registration(intruder, EvidenceKind::quote, nonce));
  EXPECT_EQ(admitted.result(), bhttp::status::ok) << admitted.body();
  // And once used by a registration that succeeded, it is spent.
  auto again = h.register_agent(intruder, h.registration(intruder, EvidenceKind::quote, nonce));
  EXPECT_EQ(again.result(), bhttp::status::unauthorized) << again.body();
  EXPECT_EQ(code_of(again), "cp.unknown_nonce");
}

TEST(AttestationGate, EvidenceRefusedAtTheGateLeavesTheNonceUsable) {
  CpHarness h;
  auto agent = h.agent("vm-gate");
  auto const nonce = h.challenge();
  // A quote of another MRTD: appraised, bound, then refused by the judgement.
  auto wrong = h.register_agent(agent, h.registration(agent, EvidenceKind::quote, nonce, CpHarness::other_mrtd()));
  ASSERT_NE(wrong.result(), bhttp::status::ok) << wrong.body();
  // A quote bound to the nonce but not to the key it presents.
  auto request = h.registration(agent, EvidenceKind::quote, nonce);
  request.public_key = h.agent("vm-other").key.public_key().base64();
  auto unbound = h.register_agent(agent, request);
  ASSERT_EQ(unbound.result(), bhttp::status::forbidden) << unbound.body();
  EXPECT_EQ(code_of(unbound), "cp.key_not_bound");
  auto ok = h.register_agent(agent, h.registration(agent, EvidenceKind::quote, nonce));
  EXPECT_EQ(ok.result(), bhttp::status::ok) << ok.body();
}

TEST(AttestationGate, ReattestationSpendsItsNonceOnlyWhenTheEvidenceIsGenuine) {
  CpHarness h;
  auto agent = h.agent("vm-re");
  h.register_ok(agent);
  auto const nonce = h.challenge();
  auto evidence_for = [&](std::optional<ee::tdx::Measurement> mrtd, ee::api::SigningKey const& bound) {
    ee::api::HeartbeatRequest hb;
    hb.status = "idle";
    hb.nonce = nonce;
    hb.quote_b64 = ee::base64_encode(h.quote(CpHarness::report_data(nonce, bound.public_key()), mrtd));
    return hb;
  };
  // Bound to another key: refused at the gate, the agent unverified, the nonce still usable.
  auto other = ee::api::SigningKey::generate().value();
  auto refused = h.heartbeat(agent, evidence_for(std::nullopt, other));
  EXPECT_EQ(refused.result(), bhttp::status::forbidden) << refused.body();
  EXPECT_EQ(code_of(refused), "cp.key_not_bound");
  auto fixed = h.heartbeat(agent, evidence_for(std::nullopt, agent.key));
  ASSERT_EQ(fixed.result(), bhttp::status::ok) << fixed.body();
  EXPECT_TRUE(bj::parse(fixed.body()).at("verified").as_bool()) << "a re-attestation that passes clears its own failure";
  // Spent now.
  auto replayed = h.heartbeat(agent, evidence_for(std::nullopt, agent.key));
  EXPECT_EQ(replayed.result(), bhttp::status::unauthorized) << replayed.body();
  EXPECT_EQ(code_of(replayed), "cp.unknown_nonce");
}

}  // namespace
