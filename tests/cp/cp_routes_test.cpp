// Every route of the control plane and each of its error paths, over real HTTP against the
// harness (simulator quotes, fake ITA and GitHub, fake agent APIs). The main flows live in
// cp_flow_test.cpp; here each test pins one answer: its status, the stable error code in the body
// and a message that names what is wrong.
#include "cp/cp_harness.hpp"

#include <easyenclave/encoding.hpp>
#include <easyenclave/tdx/quote.hpp>

#include <boost/beast/http/field.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using ee::test::CpHarness;
using ee::test::EvidenceKind;
using ee::test::HarnessOptions;
using ee::test::TestAgent;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;
using namespace std::chrono_literals;

constexpr char kRegister[] = "/api/v1/agents/register";

bj::value body(ee::http::Response const& r) { return bj::parse(r.body()); }

std::string text(bj::value const& v, std::string_view key) { return std::string(v.at(key).as_string()); }

// The answer is an error of `status` whose body carries `code` and a message containing `part`.
testing::AssertionResult is_error(ee::http::Response const& r, bhttp::status status, std::string_view code,
                                  std::string_view part = {}) {
  if (r.result() != status) {
    return testing::AssertionFailure() << "status " << r.result_int() << ", expected "
                                       << static_cast<unsigned>(status) << ": " << r.body();
  }
  boost::system::error_code ec;
  auto doc = bj::parse(r.body(), ec);
  if (ec || !doc.is_object()) return testing::AssertionFailure() << "body is not a JSON object: " << r.body();
  auto const* c = doc.as_object().if_contains("code");
  if (c == nullptr || !c->is_string() || c->as_string() != code) {
    return testing::AssertionFailure() << "code is not " << code << ": " << r.body();
  }
  auto const* m = doc.as_object().if_contains("message");
  if (m == nullptr || !m->is_string() || m->as_string().empty()) {
    return testing::AssertionFailure() << "no message: " << r.body();
  }
  if (!part.empty() && std::string_view(m->as_string()).find(part) == std::string_view::npos) {
    return testing::AssertionFailure() << "message does not mention '" << part << "': " << r.body();
  }
  return testing::AssertionSuccess();
}

bj::object as_object(ee::api::RegisterRequest const& r) { return bj::parse(ee::api::to_json(r)).as_object(); }

ee::http::Response post_register(CpHarness& h, bj::object const& o) {
  return h.call(bhttp::verb::post, kRegister, bj::serialize(o));
}

// A request to the CP signed with `key` at now() + `skew`, with an arbitrary body.
ee::http::Request signed_post(CpHarness& h, std::string const& target, std::string const& body_text,
                              ee::api::SigningKey const& key, std::chrono::seconds skew = 0s) {
  ee::http::Request origin{bhttp::verb::post, target, 11};
  origin.body() = body_text;
  ee::api::sign_request(origin, key, h.now() + skew).value();
  ee::http::Request request{bhttp::verb::post, h.cp().url() + target, 11};
  request.set(bhttp::field::content_type, "application/json");
  for (auto name : {ee::api::kTimestampHeader, ee::api::kSignatureHeader}) request.set(name, origin[name]);
  request.body() = origin.body();
  request.prepare_payload();
  return request;
}

// An ITA token vouching for a TD with `mrtd` and `rd` at `tcb`, signed by the fake ITA.
std::string ita_token(CpHarness& h, ee::tdx::ReportData const& rd, ee::tdx::TcbStatus tcb,
                      ee::tdx::Measurement const& mrtd = CpHarness::trusted_mrtd()) {
  ee::tdx::Appraisal a;
  a.appraised_by = ee::tdx::Appraiser::intel_trust_authority;
  a.mr_td = mrtd;
  a.report_data = rd;
  a.tcb_status = tcb;
  a.appraised_at = std::chrono::system_clock::now();
  return h.ita().mint(a);
}

std::string random_nonce() {
  std::string out;
  for (int i = 0; i < 8; ++i) out += "0123abcd";
  return out;
}

std::string version_json(std::string const& version, ee::tdx::Measurement const& mrtd,
                         std::string const& image = CpHarness::image()) {
  return R"({"version":")" + version + R"(","image":")" + image + R"(","mrtd":")" + ee::hex_encode(mrtd) + R"("})";
}

ee::http::Response add_version(CpHarness& h, std::string const& token, std::string const& app, std::string const& json) {
  return h.call_bearer(bhttp::verb::post, "/api/v1/apps/" + app + "/versions", token, json);
}

ee::http::Response deploy(CpHarness& h, std::string const& token, std::string const& json) {
  return h.call_bearer(bhttp::verb::post, "/api/v1/deploy", token, json);
}

std::string agent_status(CpHarness& h, TestAgent const& a) {
  return text(body(h.call(bhttp::verb::get, "/api/v1/agents/" + a.agent_id)), "status");
}

std::string mrtd_hex(ee::tdx::Measurement const& m) { return ee::hex_encode(m); }

// --- challenge ----------------------------------------------------------------------------------

TEST(CpRoutesChallenge, AnswersA64HexNonceWithItsLifetime) {
  CpHarness h;
  auto response = h.call(bhttp::verb::get, "/api/v1/agents/challenge");
  ASSERT_EQ(response.result(), bhttp::status::ok) << response.body();
  auto const b = body(response);
  auto const nonce = text(b, "nonce");
  ASSERT_EQ(nonce.size(), 64u);
  EXPECT_EQ(nonce.find_first_not_of("0123456789abcdef"), std::string::npos) << nonce;
  EXPECT_EQ(b.at("ttl_seconds").as_int64(), 300);
  EXPECT_GE(b.at("expires_in_seconds").as_int64(), 299);
  EXPECT_LE(b.at("expires_in_seconds").as_int64(), 300);
  auto const parsed = ee::api::parse_challenge(response.body());
  ASSERT_TRUE(parsed) << parsed.error().message();
  auto const drift = parsed->issued_at - h.now();
  EXPECT_LT(drift, 5s);
  EXPECT_GT(drift, -5s);
  // Each challenge is new.
  EXPECT_NE(h.challenge(), nonce);
}

// --- GET /health reads the stores at most once a second ----------------------------------------

// The registry's apps, counting how often the whole list is read (what /health counts from).
class CountingApps final : public ee::registry::AppStore {
 public:
  explicit CountingApps(std::shared_ptr<ee::registry::AppStore> inner) : inner_(std::move(inner)) {}
  std::atomic<int> lists{0};

  ee::result<ee::registry::App> create(ee::registry::App const& app, ee::registry::AppVersion const& v) override {
    return inner_->create(app, v);
  }
  ee::result<ee::registry::App> get(std::string const& name) override { return inner_->get(name); }
  ee::result<std::vector<ee::registry::App>> list() override {
    ++lists;
    return inner_->list();
  }
  ee::result<ee::registry::AppVersion> add_version(ee::registry::AppVersion const& v) override {
    return inner_->add_version(v);
  }
  ee::result<ee::registry::AppVersion> get_version(std::string const& app, std::string const& v) override {
    return inner_->get_version(app, v);
  }
  ee::result<std::vector<ee::registry::AppVersion>> list_versions(std::string const& app) override {
    return inner_->list_versions(app);
  }

 private:
  std::shared_ptr<ee::registry::AppStore> inner_;
};

TEST(CpRoutesHealth, ReadsTheStoresAtMostOnceASecondAndShowsChangesAfterIt) {
  std::shared_ptr<CountingApps> apps;
  HarnessOptions o;
  o.customize = [&apps](ee::cp::Options& cp) {
    apps = std::make_shared<CountingApps>(cp.stores.apps);
    cp.stores.apps = apps;
    cp.server.rate_limits["anonymous"].per_minute = 0;
  };
  CpHarness h(o);
  auto const start = std::chrono::steady_clock::now();
  int const before = apps->lists;
  for (int i = 0; i < 50; ++i) ASSERT_EQ(h.call(bhttp::verb::get, "/health").result(), bhttp::status::ok);
  auto const elapsed = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
  EXPECT_LE(apps->lists - before, elapsed.count() + 1) << "50 calls in " << elapsed.count() << " s";

  // A change shows once the counts are older than a second.
  auto agent = h.agent("vm-health-count");
  h.register_ok(agent);
  auto const deadline = std::chrono::steady_clock::now() + 5s;
  std::int64_t agents = 0;
  while (agents != 1 && std::chrono::steady_clock::now() < deadline) {
    agents = body(h.call(bhttp::verb::get, "/health")).at("agents").as_int64();
    if (agents != 1) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(agents, 1);
}

// The attack: 90 000 anonymous challenges in 12 s filled the 100 000-entry table and every real
// agent got 503 for the TTL. Issuing now stores nothing, so however many are issued, an agent
// still registers (here with room for only 8 used nonces).
TEST(CpRoutesChallenge, AFloodOfChallengesLeavesRoomForRealAgents) {
  HarnessOptions o;
  o.customize = [](ee::cp::Options& cp) {
    cp.max_used_nonces = 8;
    cp.server.rate_limits["anonymous"].per_minute = 0;  // the per-address limit is tested apart
  };
  CpHarness h(o);
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(h.call(bhttp::verb::get, "/api/v1/agents/challenge").result(), bhttp::status::ok);
  auto agent = h.agent("vm-after-flood");
  h.register_ok(agent);
  EXPECT_EQ(body(h.call(bhttp::verb::get, "/health")).at("used_nonces").as_int64(), 1);
}

TEST(CpRoutesChallenge, RefusesAMalformedVmName) {
  CpHarness h;
  EXPECT_TRUE(is_error(h.call(bhttp::verb::get, "/api/v1/agents/challenge?vm_name=-starts-with-dash"),
                       bhttp::status::bad_request, "api.invalid_field", "vm_name"));
  EXPECT_TRUE(is_error(h.call(bhttp::verb::get, "/api/v1/agents/challenge?vm_name=" + std::string(64, 'v')),
                       bhttp::status::bad_request, "api.invalid_field", "vm_name"));
  EXPECT_TRUE(is_error(h.call(bhttp::verb::get, "/api/v1/agents/challenge?vm_name=a%20b"),
                       bhttp::status::bad_request, "api.invalid_field", "vm_name"));
  EXPECT_EQ(h.call(bhttp::verb::get, "/api/v1/agents/challenge?vm_name=vm-ok.1").result(), bhttp::status::ok);
}

TEST(CpRoutesChallenge, ANonceReservedForOneVmCannotBeUsedByAnother) {
  CpHarness h;
  auto owner = h.agent("vm-a");
  auto thief = h.agent("vm-b");
  auto const nonce = h.challenge("vm-a");
  EXPECT_TRUE(is_error(h.register_agent(thief, h.registration(thief, EvidenceKind::quote, nonce)),
                       bhttp::status::forbidden, "cp.nonce_for_other_vm", "another vm_name"));
  // The refusal did not burn the nonce for the VM it was issued to.
  auto response = h.register_agent(owner, h.registration(owner, EvidenceKind::quote, nonce));
  EXPECT_EQ(response.result(), bhttp::status::ok) << response.body();
}

// --- register: the request itself -------------------------------------------------------------------

TEST(CpRoutesRegister, RefusesABodyThatIsNotJson) {
  CpHarness h;
  EXPECT_TRUE(is_error(h.call(bhttp::verb::post, kRegister, "{\"vm_name\": "), bhttp::status::bad_request,
                       "core.invalid_json"));
  EXPECT_TRUE(is_error(h.call(bhttp::verb::post, kRegister, "[1,2]"), bhttp::status::bad_request, "core.wrong_type"));
  EXPECT_TRUE(is_error(h.call(bhttp::verb::post, kRegister, R"({"vm_name":"a","vm_name":"b"})"),
                       bhttp::status::bad_request, "core.duplicate_json_key"));
}

TEST(CpRoutesRegister, NamesEachMissingRequiredField) {
  CpHarness h;
  auto agent = h.agent("vm-missing");
  auto const good = as_object(h.registration(agent));
  for (auto key : {"vm_name", "node_size", "datacenter", "nonce"}) {
    auto o = good;
    o.erase(key);
    EXPECT_TRUE(is_error(post_register(h, o), bhttp::status::bad_request, "core.missing_field", key)) << key;
  }
  auto wrong_type = good;
  wrong_type["vm_name"] = 7;
  EXPECT_TRUE(is_error(post_register(h, wrong_type), bhttp::status::bad_request, "core.wrong_type", "vm_name"));
}

TEST(CpRoutesRegister, RefusesMalformedFieldsNamingThem) {
  CpHarness h;
  auto agent = h.agent("vm-formats");
  auto const good = as_object(h.registration(agent));
  struct Case {
    char const* key;
    char const* value;
  };
  for (auto const& c : {Case{"owner", "octo-org"}, Case{"owner", "github:team/octo-org"},
                        Case{"owner", "github:org/-octo"}, Case{"node_size", "Tiny"}, Case{"node_size", "a b"},
                        Case{"datacenter", "gcp"}, Case{"datacenter", "GCP:us-east1"}, Case{"datacenter", "gcp:"},
                        Case{"vm_name", "vm/1"}, Case{"vm_name", ".hidden"}, Case{"nonce", "xyz"},
                        Case{"nonce", "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"},
                        Case{"public_key", "bm90IGEga2V5"}, Case{"agent_url", "ftp://agent"},
                        Case{"quote_b64", "not base64!"}, Case{"intel_ta_token", "a b.c"}}) {
    auto o = good;
    o[c.key] = c.value;
    EXPECT_TRUE(is_error(post_register(h, o), bhttp::status::bad_request, "api.invalid_field", c.key))
        << c.key << "=" << c.value;
  }
  // An agent with a key must bind the whole 32-byte nonce.
  auto short_nonce = good;
  short_nonce["nonce"] = std::string(32, 'a');
  EXPECT_TRUE(is_error(post_register(h, short_nonce), bhttp::status::bad_request, "api.invalid_field", "nonce"));
}

TEST(CpRoutesRegister, RefusesOversizeFields) {
  CpHarness h;
  auto agent = h.agent("vm-oversize");
  auto const good = as_object(h.registration(agent));
  struct Case {
    char const* key;
    std::string value;
  };
  for (auto const& c : {Case{"vm_name", std::string(64, 'v')}, Case{"node_size", std::string(33, 'n')},
                        Case{"datacenter", "gcp:" + std::string(41, 'z')},
                        Case{"owner", "github:org/" + std::string(40, 'o')},
                        Case{"public_key", std::string(4097, 'A')},
                        Case{"intel_ta_token", std::string(16 * 1024 + 1, 'a')},
                        Case{"quote_b64", std::string(64 * 1024 + 4, 'A')},
                        Case{"agent_url", "http://" + std::string(510, 'h')}}) {
    auto o = good;
    o[c.key] = c.value;
    EXPECT_TRUE(is_error(post_register(h, o), bhttp::status::bad_request, "api.invalid_field", c.key)) << c.key;
  }
  // The document as a whole is bounded too.
  auto huge = good;
  huge["padding"] = std::string(130 * 1024, 'p');
  EXPECT_TRUE(is_error(post_register(h, huge), bhttp::status::bad_request, "core.json_too_large"));
}

TEST(CpRoutesRegister, RefusesARegistrationWithoutEvidence) {
  CpHarness h;
  auto agent = h.agent("vm-no-evidence");
  auto o = as_object(h.registration(agent));
  o.erase("quote_b64");
  EXPECT_TRUE(is_error(post_register(h, o), bhttp::status::bad_request, "core.missing_field", "evidence"));
  o["quote_b64"] = "";
  o["intel_ta_token"] = nullptr;
  EXPECT_TRUE(is_error(post_register(h, o), bhttp::status::bad_request, "core.missing_field", "evidence"));
}

// --- register: the nonce -----------------------------------------------------------------------------

TEST(CpRoutesRegister, RefusesANonceThisCpNeverIssued) {
  CpHarness h;
  auto agent = h.agent("vm-unknown-nonce");
  EXPECT_TRUE(is_error(h.register_agent(agent, h.registration(agent, EvidenceKind::quote, random_nonce())),
                       bhttp::status::unauthorized, "cp.unknown_nonce", "nonce"));
}

TEST(CpRoutesRegister, RefusesTheSameNonceASecondTime) {
  CpHarness h;
  auto agent = h.agent("vm-replay");
  auto const request = h.registration(agent);
  ASSERT_EQ(h.register_agent(agent, request).result(), bhttp::status::ok);
  EXPECT_TRUE(is_error(h.register_agent(agent, request), bhttp::status::unauthorized, "cp.unknown_nonce"));
}

TEST(CpRoutesRegister, RefusesAnExpiredNonce) {
  CpHarness h;
  auto agent = h.agent("vm-expired");
  auto const request = h.registration(agent);
  h.advance(301s);
  EXPECT_TRUE(is_error(h.register_agent(agent, request), bhttp::status::unauthorized, "cp.nonce_expired",
                       "expired"));
  // Nothing was kept for it: it stays expired.
  EXPECT_TRUE(is_error(h.register_agent(agent, request), bhttp::status::unauthorized, "cp.nonce_expired"));
}

TEST(CpRoutesRegister, RefusesAQuoteThatBindsAnotherNonce) {
  CpHarness h;
  auto agent = h.agent("vm-other-nonce");
  auto request = h.registration(agent);
  auto const other = h.challenge();
  request.quote_b64 = ee::base64_encode(h.quote(CpHarness::report_data(other, agent.key.public_key())));
  EXPECT_TRUE(is_error(h.register_agent(agent, request), bhttp::status::forbidden, "cp.nonce_not_bound",
                       other.substr(0, 16)));
}

TEST(CpRoutesRegister, RefusesAQuoteThatBindsAnotherKey) {
  CpHarness h;
  auto agent = h.agent("vm-other-key");
  auto request = h.registration(agent);
  auto const stranger = ee::api::SigningKey::generate().value();
  request.quote_b64 = ee::base64_encode(h.quote(CpHarness::report_data(request.nonce, stranger.public_key())));
  EXPECT_TRUE(is_error(h.register_agent(agent, request), bhttp::status::forbidden, "cp.key_not_bound",
                       "public_key"));
}

// --- register: the evidence --------------------------------------------------------------------------

TEST(CpRoutesRegister, RefusesAnUntrustedMrtd) {
  CpHarness h;
  auto agent = h.agent("vm-untrusted");
  EXPECT_TRUE(is_error(h.register_agent(agent, h.registration(agent, EvidenceKind::quote, {}, CpHarness::other_mrtd())),
                       bhttp::status::forbidden, "tdx.mrtd_not_trusted", mrtd_hex(CpHarness::other_mrtd())));
  // The same through an ITA token.
  EXPECT_TRUE(is_error(h.register_agent(agent, h.registration(agent, EvidenceKind::ita_token, {}, CpHarness::other_mrtd())),
                       bhttp::status::forbidden, "tdx.mrtd_not_trusted"));
  EXPECT_EQ(body(h.call(bhttp::verb::get, "/api/v1/agents")).as_array().size(), 0u);
}

TEST(CpRoutesRegister, RefusesATcbStatusThePolicyDoesNotAllow) {
  CpHarness h;
  auto agent = h.agent("vm-tcb");
  auto request = h.registration(agent);
  request.quote_b64.clear();
  request.intel_ta_token = ita_token(h, CpHarness::report_data(request.nonce, agent.key.public_key()),
                                     ee::tdx::TcbStatus::out_of_date);
  EXPECT_TRUE(is_error(h.register_agent(agent, request), bhttp::status::forbidden, "tdx.tcb_status_not_allowed",
                       "OutOfDate"));
  // The same token at UpToDate passes (and the refused attempt left the nonce usable).
  request.intel_ta_token = ita_token(h, CpHarness::report_data(request.nonce, agent.key.public_key()),
                                     ee::tdx::TcbStatus::up_to_date);
  auto ok = h.register_agent(agent, request);
  EXPECT_EQ(ok.result(), bhttp::status::ok) << ok.body();
}

TEST(CpRoutesRegister, AFailedRegistrationDoesNotConsumeTheNonce) {
  CpHarness h;
  auto agent = h.agent("vm-retry");
  auto const nonce = h.challenge();
  EXPECT_TRUE(is_error(h.register_agent(agent, h.registration(agent, EvidenceKind::quote, nonce, CpHarness::other_mrtd())),
                       bhttp::status::forbidden, "tdx.mrtd_not_trusted"));
  auto bad_binding = h.registration(agent, EvidenceKind::quote, nonce);
  bad_binding.quote_b64 = ee::base64_encode(h.quote(CpHarness::report_data(h.challenge(), agent.key.public_key())));
  EXPECT_TRUE(is_error(h.register_agent(agent, bad_binding), bhttp::status::forbidden, "cp.nonce_not_bound"));
  auto ok = h.register_agent(agent, h.registration(agent, EvidenceKind::quote, nonce));
  ASSERT_EQ(ok.result(), bhttp::status::ok) << ok.body();
  // Now it is spent.
  EXPECT_TRUE(is_error(h.register_agent(agent, h.registration(agent, EvidenceKind::quote, nonce)),
                       bhttp::status::unauthorized, "cp.unknown_nonce"));
}

TEST(CpRoutesRegister, RefusesAReRegistrationWithAnotherMrtd) {
  CpHarness h({.customize = [](ee::cp::Options& o) {
    ee::registry::TrustedMeasurement m;
    m.mrtd = ee::hex_encode(CpHarness::other_mrtd());
    m.kind = "agent";
    o.trusted_mrtds.push_back(m);
  }});
  auto agent = h.agent("vm-mrtd-change");
  h.register_ok(agent);
  EXPECT_TRUE(is_error(h.register_agent(agent, h.registration(agent, EvidenceKind::quote, {}, CpHarness::other_mrtd())),
                       bhttp::status::forbidden, "cp.mrtd_changed", mrtd_hex(CpHarness::trusted_mrtd())));
  // Another VM with that MRTD is welcome: the MRTD itself is trusted.
  auto other = h.agent("vm-other-mrtd");
  auto ok = h.register_agent(other, h.registration(other, EvidenceKind::quote, {}, CpHarness::other_mrtd()));
  EXPECT_EQ(ok.result(), bhttp::status::ok) << ok.body();
  auto const record = body(h.call(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id));
  EXPECT_EQ(text(record, "mrtd"), mrtd_hex(CpHarness::trusted_mrtd()));
}

TEST(CpRoutesRegister, ItaModeRefusesQuoteOnlyEvidence) {
  CpHarness h({.customize = [](ee::cp::Options& o) { o.policy.appraisal = ee::cp::AppraisalMode::ita; }});
  auto agent = h.agent("vm-ita-only");
  EXPECT_TRUE(is_error(h.register_agent(agent, h.registration(agent, EvidenceKind::quote)), bhttp::status::forbidden,
                       "cp.appraiser_not_allowed", "intel_ta_token"));
  // With both, the token is used.
  auto ok = h.register_agent(agent, h.registration(agent, EvidenceKind::both));
  ASSERT_EQ(ok.result(), bhttp::status::ok) << ok.body();
  auto const record = body(h.call(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id + "/attestation"));
  EXPECT_EQ(text(record, "appraised_by"), "intel_trust_authority");
}

TEST(CpRoutesRegister, LocalModeRefusesTokenOnlyEvidence) {
  CpHarness h({.customize = [](ee::cp::Options& o) { o.policy.appraisal = ee::cp::AppraisalMode::local; }});
  auto agent = h.agent("vm-local-only");
  EXPECT_TRUE(is_error(h.register_agent(agent, h.registration(agent, EvidenceKind::ita_token)),
                       bhttp::status::forbidden, "cp.appraiser_not_allowed", "quote_b64"));
  auto ok = h.register_agent(agent, h.registration(agent, EvidenceKind::both));
  ASSERT_EQ(ok.result(), bhttp::status::ok) << ok.body();
  auto const record = body(h.call(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id + "/attestation"));
  EXPECT_EQ(text(record, "appraised_by"), "local_dcap");
}

TEST(CpRoutesRegister, RefusesATamperedQuote) {
  CpHarness h;
  auto agent = h.agent("vm-tampered");
  auto request = h.registration(agent);
  auto bytes = ee::base64_decode(request.quote_b64).value();
  auto const parsed = ee::tdx::parse_quote(bytes).value();
  // The ECDSA signature follows header || body and the 4-byte signature data length.
  auto const offset = parsed.signed_bytes().size() + 4;
  ASSERT_LT(offset, bytes.size());
  ASSERT_EQ(bytes[offset], parsed.signature()[0]);
  bytes[offset] ^= 0x01;
  request.quote_b64 = ee::base64_encode(bytes);
  EXPECT_TRUE(is_error(h.register_agent(agent, request), bhttp::status::unauthorized, "tdx.bad_quote_signature"));
  // A quote cut short does not parse at all.
  bytes.resize(100);
  request.quote_b64 = ee::base64_encode(bytes);
  EXPECT_TRUE(is_error(h.register_agent(agent, request), bhttp::status::bad_request, "tdx.quote_truncated",
                       "quote_b64"));
  // A forged ITA token: the payload changed under the signature.
  auto token_request = h.registration(agent, EvidenceKind::ita_token);
  auto& token = token_request.intel_ta_token;
  auto const dot = token.find('.');
  token[dot + 5] = token[dot + 5] == 'A' ? 'B' : 'A';
  auto const forged = h.register_agent(agent, token_request);
  EXPECT_EQ(forged.result(), bhttp::status::unauthorized) << forged.body();
}

TEST(CpRoutesRegister, TheLegacyPathIsAnAliasOfRegister) {
  CpHarness h;
  auto agent = h.agent("vm-alias");
  auto response = h.call(bhttp::verb::post, "/api/agents/register", ee::api::to_json(h.registration(agent)));
  ASSERT_EQ(response.result(), bhttp::status::ok) << response.body();
  auto const parsed = ee::api::parse_register_response(response.body()).value();
  EXPECT_EQ(parsed.cp_public_key, h.cp().public_key());
  EXPECT_EQ(parsed.heartbeat_interval_seconds, 30);
  auto listed = body(h.call(bhttp::verb::get, "/api/agents/" + parsed.agent_id));
  EXPECT_EQ(text(listed, "vm_name"), "vm-alias");
  EXPECT_EQ(text(listed, "owner"), agent.owner);
  EXPECT_EQ(text(listed, "node_size"), "tiny");
  EXPECT_EQ(text(listed, "datacenter"), "gcp:us-central1-a");
}

// --- heartbeat ---------------------------------------------------------------------------------------

ee::api::HeartbeatRequest idle() {
  ee::api::HeartbeatRequest hb;
  hb.status = "idle";
  return hb;
}

TEST(CpRoutesHeartbeat, AnUnknownAgentIsNotFound) {
  CpHarness h;
  auto ghost = h.agent("vm-ghost");
  ghost.agent_id = "0b0e5b7c-6a3c-4f7e-9a51-3d2d1c0b0a09";
  EXPECT_TRUE(is_error(h.heartbeat(ghost, idle()), bhttp::status::not_found, "registry.not_found"));
}

TEST(CpRoutesHeartbeat, RefusesAnUnsignedRequest) {
  CpHarness h;
  auto agent = h.agent("vm-unsigned");
  h.register_ok(agent);
  auto const target = "/api/v1/agents/" + agent.agent_id + "/heartbeat";
  EXPECT_TRUE(is_error(h.call(bhttp::verb::post, target, ee::api::to_json(idle())), bhttp::status::unauthorized,
                       "api.signature_missing"));
  EXPECT_TRUE(is_error(h.call(bhttp::verb::post, target, ee::api::to_json(idle()),
                              {{std::string(ee::api::kTimestampHeader), "yesterday"},
                               {std::string(ee::api::kSignatureHeader), "!!!"}}),
                       bhttp::status::unauthorized, "api.signature_malformed"));
}

TEST(CpRoutesHeartbeat, RefusesASignatureOfAnotherKey) {
  CpHarness h;
  auto agent = h.agent("vm-forged");
  h.register_ok(agent);
  auto const stranger = ee::api::SigningKey::generate().value();
  EXPECT_TRUE(is_error(h.heartbeat(agent, idle(), 0s, &stranger), bhttp::status::unauthorized,
                       "api.signature_invalid"));
  // A body changed after signing fails the same way.
  auto request = h.signed_heartbeat(agent, idle());
  request.body() = R"({"status":"running"})";
  request.prepare_payload();
  EXPECT_TRUE(is_error(h.send(std::move(request)), bhttp::status::unauthorized, "api.signature_invalid"));
}

TEST(CpRoutesHeartbeat, RefusesASignatureOutsideTheWindow) {
  CpHarness h;
  auto agent = h.agent("vm-stale");
  h.register_ok(agent);
  EXPECT_TRUE(is_error(h.heartbeat(agent, idle(), -301s), bhttp::status::unauthorized,
                       "api.timestamp_out_of_window"));
  EXPECT_TRUE(is_error(h.heartbeat(agent, idle(), 301s), bhttp::status::unauthorized,
                       "api.timestamp_out_of_window"));
  EXPECT_EQ(h.heartbeat(agent, idle(), -250s).result(), bhttp::status::ok);
}

TEST(CpRoutesHeartbeat, RefusesAReplayedRequest) {
  CpHarness h;
  auto agent = h.agent("vm-replayed");
  h.register_ok(agent);
  auto const request = h.signed_heartbeat(agent, idle());
  auto first = h.send(request);
  ASSERT_EQ(first.result(), bhttp::status::ok) << first.body();
  EXPECT_TRUE(is_error(h.send(request), bhttp::status::unauthorized, "api.replayed_request"));
}

TEST(CpRoutesHeartbeat, RefusesABadBodyWithAValidSignature) {
  CpHarness h;
  auto agent = h.agent("vm-bad-body");
  h.register_ok(agent);
  auto const target = "/api/v1/agents/" + agent.agent_id + "/heartbeat";
  EXPECT_TRUE(is_error(h.send(signed_post(h, target, "{\"status\":", agent.key)), bhttp::status::bad_request,
                       "core.invalid_json"));
  EXPECT_TRUE(is_error(h.send(signed_post(h, target, "{}", agent.key)), bhttp::status::bad_request,
                       "core.missing_field", "status"));
  EXPECT_TRUE(is_error(h.send(signed_post(h, target, R"({"status":"idle","image_digest":"md5:x"})", agent.key)),
                       bhttp::status::bad_request, "api.invalid_field", "image_digest"));
  // Evidence without the nonce it answers.
  EXPECT_TRUE(is_error(h.send(signed_post(h, target, R"({"status":"idle","quote_b64":"AAAA"})", agent.key)),
                       bhttp::status::bad_request, "core.missing_field", "nonce"));
}

TEST(CpRoutesHeartbeat, AnAgentRegisteredWithoutAKeyCannotSignHeartbeats) {
  CpHarness h;
  auto const nonce = h.challenge().substr(0, 32);
  ee::tdx::ReportData rd{};
  auto bytes = ee::hex_decode(nonce).value();
  std::copy(bytes.begin(), bytes.end(), rd.begin());
  auto const legacy = R"({"intel_ta_token":")" + ita_token(h, rd, ee::tdx::TcbStatus::up_to_date) +
                      R"(","vm_name":"vm-keyless","nonce":")" + nonce +
                      R"(","node_size":"tiny","datacenter":"gcp:us-east1-b"})";
  auto registered = h.call(bhttp::verb::post, "/api/agents/register", legacy);
  ASSERT_EQ(registered.result(), bhttp::status::ok) << registered.body();
  auto agent = h.agent("vm-keyless");
  agent.agent_id = text(body(registered), "agent_id");
  EXPECT_TRUE(is_error(h.heartbeat(agent, idle()), bhttp::status::unauthorized, "api.signature_invalid",
                       "public key"));
}

TEST(CpRoutesHeartbeat, FailedReattestationUnverifiesTheAgentUntilFreshEvidencePasses) {
  CpHarness h;
  auto agent = h.agent("vm-reattest");
  h.register_ok(agent);
  auto hb = idle();
  hb.nonce = h.challenge();
  hb.quote_b64 = ee::base64_encode(h.quote(CpHarness::report_data(h.challenge(), agent.key.public_key())));
  EXPECT_TRUE(is_error(h.heartbeat(agent, hb), bhttp::status::forbidden, "cp.nonce_not_bound"));
  auto const flagged = body(h.call(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id));
  EXPECT_FALSE(flagged.at("verified").as_bool());
  EXPECT_EQ(text(flagged, "status"), "unverified");
  EXPECT_NE(text(flagged, "unverified_reason").find("re-attestation failed"), std::string::npos);

  // Evidence without an issued nonce is refused before anything is appraised.
  auto unknown = idle();
  unknown.nonce = random_nonce();
  unknown.quote_b64 = ee::base64_encode(h.quote(CpHarness::report_data(unknown.nonce, agent.key.public_key())));
  EXPECT_TRUE(is_error(h.heartbeat(agent, unknown), bhttp::status::unauthorized, "cp.unknown_nonce"));

  // The refused attempt put its nonce back: good evidence over it clears the flag.
  hb.quote_b64 = ee::base64_encode(h.quote(CpHarness::report_data(hb.nonce, agent.key.public_key())));
  auto fresh = h.heartbeat(agent, hb);
  ASSERT_EQ(fresh.result(), bhttp::status::ok) << fresh.body();
  EXPECT_TRUE(body(fresh).at("verified").as_bool());
  EXPECT_EQ(agent_status(h, agent), "idle");
}

// --- agents: reads -----------------------------------------------------------------------------------

TEST(CpRoutesAgents, ListFiltersByStatusVmNameAndOwner) {
  CpHarness h;
  auto a = h.agent("vm-a");
  auto b = h.agent("vm-b");
  b.owner = "github:org/Other-Org";
  auto c = h.agent("vm-c");
  for (auto* x : {&a, &b, &c}) h.register_ok(*x);
  auto const token = h.github_token("octo-org/hello");
  ASSERT_EQ(h.publish(token, "hello").result(), bhttp::status::created);
  ASSERT_EQ(deploy(h, token, R"({"app_name":"hello","version":"1.0.0","agent_id":")" + a.agent_id + "\"}").result(),
            bhttp::status::ok);

  auto names = [&h](std::string const& query) {
    std::vector<std::string> out;
    auto response = h.call(bhttp::verb::get, "/api/v1/agents" + query);
    EXPECT_EQ(response.result(), bhttp::status::ok) << response.body();
    auto const doc = body(response);  // the loop's range must not be a member of a temporary
    for (auto const& item : doc.as_array()) out.push_back(text(item, "vm_name"));
    std::sort(out.begin(), out.end());
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names(""), (V{"vm-a", "vm-b", "vm-c"}));
  EXPECT_EQ(names("?status=deployed"), V{"vm-a"});
  EXPECT_EQ(names("?status=idle"), (V{"vm-b", "vm-c"}));
  EXPECT_EQ(names("?status=unverified"), V{});
  EXPECT_EQ(names("?vm_name=vm-c"), V{"vm-c"});
  EXPECT_EQ(names("?vm_name=vm-z"), V{});
  EXPECT_EQ(names("?owner=github:org/other-org"), V{"vm-b"});
  EXPECT_EQ(names("?owner=github:org/OTHER-ORG"), V{"vm-b"});
  EXPECT_EQ(names("?owner=github:org/octo-org&status=idle"), V{"vm-c"});
  EXPECT_EQ(names("?owner=github:org/nobody"), V{});
}

TEST(CpRoutesAgents, ListPagesWithLimitAndOffsetInRegistrationOrder) {
  CpHarness h;
  std::vector<TestAgent> agents;
  for (char const* name : {"vm-1", "vm-2", "vm-3", "vm-4", "vm-5"}) {
    agents.push_back(h.agent(name));
    h.register_ok(agents.back());
    h.advance(std::chrono::seconds(1));  // registration order = clock order
  }
  auto page = [&h](std::string const& query) {
    std::vector<std::string> out;
    auto response = h.call(bhttp::verb::get, "/api/v1/agents" + query);
    EXPECT_EQ(response.result(), bhttp::status::ok) << response.body();
    auto const doc = body(response);
    for (auto const& item : doc.as_array()) out.push_back(text(item, "vm_name"));
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(page("?limit=2"), (V{"vm-1", "vm-2"}));
  EXPECT_EQ(page("?limit=2&offset=2"), (V{"vm-3", "vm-4"}));
  EXPECT_EQ(page("?limit=2&offset=4"), V{"vm-5"});
  EXPECT_EQ(page("?offset=3"), (V{"vm-4", "vm-5"}));
  EXPECT_EQ(page("?offset=5"), V{});
  EXPECT_EQ(page("?limit=10000"), (V{"vm-1", "vm-2", "vm-3", "vm-4", "vm-5"}));
  for (std::string const query : {"?limit=0", "?limit=10001", "?limit=-1", "?limit=2x", "?limit=",
                                  "?offset=-1", "?offset=1e3", "?offset=100000001", "?limit=99999999999999999999"}) {
    auto const param = query.substr(1, query.find('=') - 1);
    EXPECT_TRUE(is_error(h.call(bhttp::verb::get, "/api/v1/agents" + query), bhttp::status::bad_request,
                         "core.invalid_value", param))
        << query;
    EXPECT_TRUE(is_error(h.call(bhttp::verb::get, "/api/v1/deployments" + query), bhttp::status::bad_request,
                         "core.invalid_value", param))
        << query;
  }
}

TEST(CpRoutesAgents, AnUnknownAgentIsNotFound) {
  CpHarness h;
  for (auto path : {"/api/v1/agents/no-such-agent", "/api/v1/agents/no-such-agent/attestation",
                    "/api/agents/no-such-agent"}) {
    EXPECT_TRUE(is_error(h.call(bhttp::verb::get, path), bhttp::status::not_found, "registry.not_found")) << path;
  }
}

TEST(CpRoutesAgents, PublicAnswersNeverCarryTheTunnelTokenOrTheItaToken) {
  CpHarness h({.cloudflare = true});
  auto agent = h.agent("vm-secrets");
  auto const request = h.registration(agent, EvidenceKind::ita_token);
  auto registered = h.register_agent(agent, request);
  ASSERT_EQ(registered.result(), bhttp::status::ok) << registered.body();
  auto const tunnel_token = ee::api::parse_register_response(registered.body()).value().tunnel_token;
  ASSERT_FALSE(tunnel_token.empty()) << "the agent itself gets its tunnel token";
  ASSERT_FALSE(request.intel_ta_token.empty());
  // A heartbeat with fresh evidence must not leak it either.
  auto hb = idle();
  hb.nonce = h.challenge();
  hb.intel_ta_token = ita_token(h, CpHarness::report_data(hb.nonce, agent.key.public_key()),
                                ee::tdx::TcbStatus::up_to_date);
  ASSERT_EQ(h.heartbeat(agent, hb).result(), bhttp::status::ok);

  for (auto const& path : {std::string("/api/v1/agents"), "/api/v1/agents/" + agent.agent_id,
                           "/api/v1/agents/" + agent.agent_id + "/attestation", std::string("/api/agents"),
                           std::string("/api/v1/agents?vm_name=vm-secrets"), std::string("/health")}) {
    auto response = h.call(bhttp::verb::get, path);
    ASSERT_EQ(response.result(), bhttp::status::ok) << path << ": " << response.body();
    std::string const& raw = response.body();
    EXPECT_EQ(raw.find("tunnel_token"), std::string::npos) << path;
    EXPECT_EQ(raw.find(tunnel_token), std::string::npos) << path;
    EXPECT_EQ(raw.find(request.intel_ta_token), std::string::npos) << path;
    EXPECT_EQ(raw.find(hb.intel_ta_token), std::string::npos) << path;
    // Not even the token's signature segment on its own.
    EXPECT_EQ(raw.find(request.intel_ta_token.substr(request.intel_ta_token.rfind('.') + 1)), std::string::npos)
        << path;
  }
}

// --- apps --------------------------------------------------------------------------------------------

std::string app_body(std::string const& extra_members) {
  return R"({"name":"hello","source_repo":"octo-org/hello","version":"1.0.0","image":")" + CpHarness::image() +
         R"(","mrtd":")" + mrtd_hex(CpHarness::trusted_mrtd()) + "\"" + extra_members + "}";
}

TEST(CpRoutesApps, PublishingNeedsAGithubToken) {
  CpHarness h;
  EXPECT_TRUE(is_error(h.call(bhttp::verb::post, "/api/v1/apps", app_body("")), bhttp::status::unauthorized,
                       "cp.missing_credentials", "GitHub"));
  EXPECT_TRUE(is_error(h.call(bhttp::verb::post, "/api/v1/apps", app_body(""), {{"Authorization", "Basic b2N0bzpwdw=="}}),
                       bhttp::status::unauthorized, "cp.missing_credentials"));
  EXPECT_TRUE(is_error(h.call_bearer(bhttp::verb::post, "/api/v1/apps", h.github_token("octo-org/hello", "sts.amazonaws.com"),
                                     app_body("")),
                       bhttp::status::unauthorized, "jwt.audience_mismatch"));
  // A token of another issuer's key: signed by a stranger, unknown kid.
  ee::test::FakeGithubOptions options;
  options.kid = "stranger";
  auto stranger = ee::test::FakeGithubIssuer::start(options).value();
  EXPECT_EQ(h.call_bearer(bhttp::verb::post, "/api/v1/apps", stranger->mint({.repository = "octo-org/hello"}), app_body(""))
                .result(),
            bhttp::status::unauthorized);
  EXPECT_EQ(body(h.call(bhttp::verb::get, "/api/v1/apps")).as_array().size(), 0u);
}

TEST(CpRoutesApps, ARepositoryMayPublishOnlyItself) {
  CpHarness h;
  EXPECT_TRUE(is_error(h.publish(h.github_token("octo-org/other"), "hello"), bhttp::status::forbidden,
                       "cp.owner_mismatch", "octo-org/other"));
  EXPECT_TRUE(is_error(h.publish(h.github_token("evil-org/hello"), "hello"), bhttp::status::forbidden,
                       "cp.owner_mismatch"));
  // The repository compares case-insensitively.
  EXPECT_EQ(h.publish(h.github_token("Octo-Org/Hello"), "hello").result(), bhttp::status::created);
}

TEST(CpRoutesApps, RefusesMalformedCatalogEntries) {
  CpHarness h;
  auto const token = h.github_token("octo-org/hello");
  EXPECT_TRUE(is_error(h.publish(token, "hello", "1.0.0", {}, "registry.example/octo-org/hello:latest"),
                       bhttp::status::bad_request, "api.invalid_field", "image"));
  EXPECT_TRUE(is_error(h.publish(token, "hello", "1.0.0", {}, "registry.example/hello@sha256:" + std::string(64, 'A')),
                       bhttp::status::bad_request, "api.invalid_field", "image"));
  auto post = [&](std::string const& json) { return h.call_bearer(bhttp::verb::post, "/api/v1/apps", token, json); };
  auto with_mrtd = [](std::string const& mrtd) {
    return R"({"name":"hello","source_repo":"octo-org/hello","version":"1.0.0","image":")" + CpHarness::image() +
           R"(","mrtd":")" + mrtd + "\"}";
  };
  EXPECT_TRUE(is_error(post(with_mrtd("abc")), bhttp::status::bad_request, "core.invalid_value", "mrtd"));
  EXPECT_TRUE(is_error(post(with_mrtd(std::string(96, 'g'))), bhttp::status::bad_request, "core.invalid_value", "mrtd"));
  std::string const m = "\"" + mrtd_hex(CpHarness::trusted_mrtd()) + "\"";
  EXPECT_TRUE(is_error(post(app_body(R"(,"rtmrs":[null,null,null])")), bhttp::status::bad_request,
                       "core.invalid_value", "rtmrs"));
  EXPECT_TRUE(is_error(post(app_body(",\"rtmrs\":[" + m + "," + m + "," + m + "," + m + "," + m + "]")),
                       bhttp::status::bad_request, "core.invalid_value", "rtmrs"));
  EXPECT_TRUE(is_error(post(app_body(R"(,"rtmrs":[null,"00",null,null])")), bhttp::status::bad_request,
                       "core.invalid_value", "rtmrs"));
  EXPECT_TRUE(is_error(post(app_body(R"(,"rtmrs":[null,1,null,null])")), bhttp::status::bad_request,
                       "core.wrong_type", "rtmrs"));
  EXPECT_TRUE(is_error(post(app_body(R"(,"rtmrs":"none")")), bhttp::status::bad_request, "core.wrong_type", "rtmrs"));
  EXPECT_TRUE(is_error(post(R"({"name":"Hello_App","source_repo":"octo-org/hello","version":"1","image":")" +
                            CpHarness::image() + R"(","mrtd":)" + m + "}"),
                       bhttp::status::bad_request, "core.invalid_value", "name"));
  EXPECT_TRUE(is_error(post(R"({"name":"hello","source_repo":"hello","version":"1","image":")" + CpHarness::image() +
                            R"(","mrtd":)" + m + "}"),
                       bhttp::status::bad_request, "core.invalid_value", "source_repo"));
  EXPECT_TRUE(is_error(post(app_body(R"(,"description":")" + std::string(1025, 'd') + "\"")),
                       bhttp::status::bad_request, "core.out_of_range", "description"));
  EXPECT_TRUE(is_error(post(app_body(R"(,"node_size":"Huge!")")), bhttp::status::bad_request, "api.invalid_field",
                       "node_size"));
  EXPECT_TRUE(is_error(post(R"({"name":"hello","source_repo":"octo-org/hello","image":")" + CpHarness::image() +
                            R"(","mrtd":)" + m + "}"),
                       bhttp::status::bad_request, "core.missing_field", "version"));
  EXPECT_TRUE(is_error(post("{"), bhttp::status::bad_request, "core.invalid_json"));
  EXPECT_EQ(body(h.call(bhttp::verb::get, "/api/v1/apps")).as_array().size(), 0u);
  // RTMRs pinned with nulls for the unpinned ones are fine.
  auto pinned = post(app_body(",\"rtmrs\":[" + m + ",null,null,null]"));
  ASSERT_EQ(pinned.result(), bhttp::status::created) << pinned.body();
  auto const rtmrs = body(pinned).at("versions").at(0).at("rtmrs").as_array();
  ASSERT_EQ(rtmrs.size(), 4u);
  EXPECT_EQ(rtmrs[0].as_string(), mrtd_hex(CpHarness::trusted_mrtd()));
  EXPECT_TRUE(rtmrs[1].is_null());
}

TEST(CpRoutesApps, AnAppNameIsPublishedOnce) {
  CpHarness h;
  auto const token = h.github_token("octo-org/hello");
  ASSERT_EQ(h.publish(token, "hello").result(), bhttp::status::created);
  EXPECT_TRUE(is_error(h.publish(token, "hello", "2.0.0"), bhttp::status::conflict, "registry.conflict"));
}

TEST(CpRoutesApps, ListsAppsAndShowsOneWithItsVersions) {
  CpHarness h;
  auto const token = h.github_token("octo-org/hello");
  auto published = h.publish(token, "hello");
  ASSERT_EQ(published.result(), bhttp::status::created) << published.body();
  EXPECT_EQ(text(body(published), "owner"), "octo-org");
  ASSERT_EQ(add_version(h, token, "hello", version_json("1.1.0", CpHarness::trusted_mrtd(), CpHarness::image('b')))
                .result(),
            bhttp::status::created);
  ASSERT_EQ(h.publish(h.github_token("octo-org/world"), "world", "0.1.0", {}, {}, "octo-org/world").result(),
            bhttp::status::created);

  auto const apps = body(h.call(bhttp::verb::get, "/api/v1/apps")).as_array();
  ASSERT_EQ(apps.size(), 2u);
  std::vector<std::string> names{text(apps[0], "name"), text(apps[1], "name")};
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"hello", "world"}));

  auto one = h.call(bhttp::verb::get, "/api/v1/apps/hello");
  ASSERT_EQ(one.result(), bhttp::status::ok) << one.body();
  auto const app = body(one);
  EXPECT_EQ(text(app, "source_repo"), "octo-org/hello");
  EXPECT_EQ(text(app, "description"), "test app");
  auto const versions = app.at("versions").as_array();
  ASSERT_EQ(versions.size(), 2u);
  std::vector<std::string> tags{text(versions[0], "version"), text(versions[1], "version")};
  std::sort(tags.begin(), tags.end());
  EXPECT_EQ(tags, (std::vector<std::string>{"1.0.0", "1.1.0"}));
  for (auto const& v : versions) {
    EXPECT_EQ(text(v, "mrtd"), mrtd_hex(CpHarness::trusted_mrtd()));
    EXPECT_EQ(text(v, "published_by"), "octo-org/hello");
  }
  EXPECT_TRUE(is_error(h.call(bhttp::verb::get, "/api/v1/apps/nope"), bhttp::status::not_found,
                       "registry.not_found"));
  EXPECT_EQ(h.call(bhttp::verb::get, "/api/apps/hello").result(), bhttp::status::ok);
}

TEST(CpRoutesApps, OnlyTheOwnerAddsVersionsAndEachVersionOnce) {
  CpHarness h;
  auto const token = h.github_token("octo-org/hello");
  ASSERT_EQ(h.publish(token, "hello").result(), bhttp::status::created);
  auto const v2 = version_json("2.0.0", CpHarness::trusted_mrtd());
  EXPECT_TRUE(is_error(add_version(h, h.github_token("evil-org/hello"), "hello", v2), bhttp::status::forbidden,
                       "cp.owner_mismatch", "evil-org"));
  EXPECT_TRUE(is_error(h.call(bhttp::verb::post, "/api/v1/apps/hello/versions", v2), bhttp::status::unauthorized,
                       "cp.missing_credentials"));
  EXPECT_TRUE(is_error(add_version(h, token, "nope", v2), bhttp::status::not_found, "registry.not_found"));
  EXPECT_TRUE(is_error(add_version(h, token, "hello", version_json("1.0.0", CpHarness::trusted_mrtd())),
                       bhttp::status::conflict, "registry.conflict"));
  EXPECT_TRUE(is_error(add_version(h, token, "hello", version_json("2.0.0", CpHarness::trusted_mrtd(), "hello:2")),
                       bhttp::status::bad_request, "api.invalid_field", "image"));
  EXPECT_TRUE(is_error(add_version(h, token, "hello", R"({"version":"bad version"})"), bhttp::status::bad_request,
                       "core.invalid_value", "version"));

  // The owner is the organisation: another repository of it may publish versions.
  auto added = add_version(h, h.github_token("octo-org/release-bot"), "hello", v2);
  ASSERT_EQ(added.result(), bhttp::status::created) << added.body();
  EXPECT_EQ(text(body(added), "published_by"), "octo-org/release-bot");
  EXPECT_EQ(text(body(added), "version"), "2.0.0");
  EXPECT_EQ(body(h.call(bhttp::verb::get, "/api/v1/apps/hello")).at("versions").as_array().size(), 2u);
}

// --- deploy ------------------------------------------------------------------------------------------

class CpRoutesDeploy : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(h.publish(token, "hello").result(), bhttp::status::created);
    h.register_ok(agent);
    ASSERT_FALSE(agent.agent_id.empty());
  }

  std::string to_agent(std::string const& version = "1.0.0") const {
    return R"({"app_name":"hello","version":")" + version + R"(","agent_id":")" + agent.agent_id + "\"}";
  }

  CpHarness h;
  std::string token = h.github_token("octo-org/hello");
  TestAgent agent = h.agent("vm-1");
};

constexpr char kHello[] = R"({"app_name":"hello","version":"1.0.0"})";

TEST_F(CpRoutesDeploy, ATokenOfAnotherOwnerCannotUseTheAgent) {
  auto const evil = h.github_token("evil-org/hello");
  EXPECT_TRUE(is_error(deploy(h, evil, to_agent()), bhttp::status::forbidden, "cp.owner_mismatch", "evil-org"));
  EXPECT_TRUE(is_error(deploy(h, evil, kHello), bhttp::status::conflict, "cp.no_eligible_agent", "evil-org"));
  EXPECT_TRUE(agent.api->deploys().empty());
  EXPECT_EQ(body(h.call(bhttp::verb::get, "/api/v1/deployments")).as_array().size(), 0u);
  // Owner labels compare case-insensitively.
  auto ok = deploy(h, h.github_token("OCTO-ORG/deployer"), to_agent());
  EXPECT_EQ(ok.result(), bhttp::status::ok) << ok.body();
}

TEST_F(CpRoutesDeploy, RefusesAnAgentOfAnotherMrtd) {
  ASSERT_EQ(add_version(h, token, "hello", version_json("2.0.0", CpHarness::other_mrtd())).result(),
            bhttp::status::created);
  EXPECT_TRUE(is_error(deploy(h, token, to_agent("2.0.0")), bhttp::status::forbidden, "cp.agent_mrtd_mismatch",
                       mrtd_hex(CpHarness::other_mrtd())));
  EXPECT_TRUE(is_error(deploy(h, token, R"({"app_name":"hello","version":"2.0.0"})"), bhttp::status::conflict,
                       "cp.no_eligible_agent"));
  EXPECT_TRUE(agent.api->deploys().empty());
}

TEST_F(CpRoutesDeploy, RefusesAnAgentWhoseRtmrsDifferFromThePinnedOnes) {
  auto const pinned = R"({"version":"3.0.0","image":")" + CpHarness::image() + R"(","mrtd":")" +
                      mrtd_hex(CpHarness::trusted_mrtd()) + R"(","rtmrs":[null,null,")" + std::string(96, 'e') +
                      R"(",null]})";
  ASSERT_EQ(add_version(h, token, "hello", pinned).result(), bhttp::status::created);
  EXPECT_TRUE(is_error(deploy(h, token, to_agent("3.0.0")), bhttp::status::forbidden, "cp.agent_mrtd_mismatch",
                       "RTMR2"));
}

TEST_F(CpRoutesDeploy, UnknownAppVersionOrAgentIsNotFound) {
  EXPECT_TRUE(is_error(deploy(h, token, R"({"app_name":"nope","version":"1.0.0"})"), bhttp::status::not_found,
                       "registry.not_found", "nope"));
  EXPECT_TRUE(is_error(deploy(h, token, R"({"app_name":"hello","version":"9.9.9"})"), bhttp::status::not_found,
                       "registry.not_found", "9.9.9"));
  EXPECT_TRUE(is_error(deploy(h, token, R"({"app_name":"hello","version":"1.0.0","agent_id":"ghost"})"),
                       bhttp::status::not_found, "registry.not_found"));
}

TEST_F(CpRoutesDeploy, RefusesMalformedRequests) {
  EXPECT_TRUE(is_error(h.call(bhttp::verb::post, "/api/v1/deploy", kHello), bhttp::status::unauthorized,
                       "cp.missing_credentials"));
  EXPECT_TRUE(is_error(deploy(h, token, "{"), bhttp::status::bad_request, "core.invalid_json"));
  EXPECT_TRUE(is_error(deploy(h, token, R"({"version":"1.0.0"})"), bhttp::status::bad_request, "core.missing_field",
                       "app_name"));
  EXPECT_TRUE(is_error(deploy(h, token, R"({"app_name":"hello"})"), bhttp::status::bad_request, "core.missing_field",
                       "version"));
  EXPECT_TRUE(is_error(deploy(h, token, R"({"app_name":"hello","version":"1.0.0","dry_run":"yes"})"),
                       bhttp::status::bad_request, "core.wrong_type", "dry_run"));
  EXPECT_TRUE(is_error(deploy(h, token, R"({"app_name":"hello","version":"1.0.0","node_size":"Big!"})"),
                       bhttp::status::bad_request, "api.invalid_field", "node_size"));
  EXPECT_TRUE(is_error(deploy(h, token, R"({"app_name":"hello","version":"1.0.0","datacenter":"nowhere"})"),
                       bhttp::status::bad_request, "api.invalid_field", "datacenter"));
  EXPECT_TRUE(agent.api->deploys().empty());
}

TEST_F(CpRoutesDeploy, AnAgentHoldsOneDeploymentAtATime) {
  auto first = deploy(h, token, to_agent());
  ASSERT_EQ(first.result(), bhttp::status::ok) << first.body();
  auto const deployment_id = text(body(first), "deployment_id");
  EXPECT_TRUE(is_error(deploy(h, token, to_agent()), bhttp::status::conflict, "cp.agent_busy", deployment_id));
  EXPECT_TRUE(is_error(deploy(h, token, kHello), bhttp::status::conflict, "cp.no_eligible_agent"));
  EXPECT_EQ(agent.api->deploys().size(), 1u);
  EXPECT_EQ(body(h.call(bhttp::verb::get, "/api/v1/deployments")).as_array().size(), 1u);
}

TEST_F(CpRoutesDeploy, ADryRunChangesNothing) {
  auto response = deploy(h, token, R"({"app_name":"hello","version":"1.0.0","dry_run":true})");
  ASSERT_EQ(response.result(), bhttp::status::ok) << response.body();
  auto const b = body(response);
  EXPECT_EQ(text(b, "status"), "dry_run");
  EXPECT_EQ(text(b, "agent_id"), agent.agent_id);
  EXPECT_EQ(text(b, "deployment_id"), "");
  EXPECT_EQ(body(h.call(bhttp::verb::get, "/api/v1/deployments")).as_array().size(), 0u);
  EXPECT_EQ(agent_status(h, agent), "idle");
  EXPECT_TRUE(agent.api->deploys().empty());
  // A dry run still reports what a real deploy would refuse.
  EXPECT_TRUE(is_error(deploy(h, h.github_token("evil-org/x"), R"({"app_name":"hello","version":"1.0.0","dry_run":true})"),
                       bhttp::status::conflict, "cp.no_eligible_agent"));
}

TEST_F(CpRoutesDeploy, AFailingAgentApiFailsTheDeploymentAndFreesTheAgent) {
  agent.api->fail_deploys(true);
  auto failed = deploy(h, token, to_agent());
  EXPECT_TRUE(is_error(failed, bhttp::status::bad_gateway, "cp.agent_unreachable"));
  // 5xx bodies say what kind of failure it was, not the upstream detail.
  EXPECT_EQ(failed.body().find("127.0.0.1"), std::string::npos) << failed.body();
  auto const recorded = body(h.call(bhttp::verb::get, "/api/v1/deployments?agent_id=" + agent.agent_id)).as_array();
  ASSERT_EQ(recorded.size(), 1u);
  EXPECT_EQ(text(recorded[0], "status"), "failed");
  EXPECT_NE(text(recorded[0], "detail").find("500"), std::string::npos) << text(recorded[0], "detail");
  EXPECT_EQ(agent_status(h, agent), "idle");
  agent.api->fail_deploys(false);
  auto retried = deploy(h, token, to_agent());
  ASSERT_EQ(retried.result(), bhttp::status::ok) << retried.body();
  EXPECT_EQ(agent.api->deploys().size(), 1u);
}

TEST_F(CpRoutesDeploy, AnAgentWithoutAReachableApiFailsTheDeployment) {
  TestAgent silent{.vm_name = "vm-silent", .key = ee::api::SigningKey::generate().value()};
  h.register_ok(silent);
  EXPECT_TRUE(is_error(deploy(h, token, R"({"app_name":"hello","version":"1.0.0","agent_id":")" + silent.agent_id + "\"}"),
                       bhttp::status::bad_gateway, "cp.agent_unreachable"));
  EXPECT_EQ(agent_status(h, silent), "idle");
  EXPECT_EQ(body(h.call(bhttp::verb::get, "/api/v1/deployments?status=failed")).as_array().size(), 1u);
}

TEST_F(CpRoutesDeploy, ChoosesByNodeSizeAndDatacenter) {
  auto big = h.agent("vm-big");
  big.node_size = "standard";
  big.datacenter = "gcp:europe-west1-b";
  h.register_ok(big);
  auto chosen = [this](std::string const& filters) {
    auto response = deploy(h, token, R"({"app_name":"hello","version":"1.0.0","dry_run":true)" + filters + "}");
    EXPECT_EQ(response.result(), bhttp::status::ok) << response.body();
    return response.result() == bhttp::status::ok ? text(body(response), "agent_id") : std::string();
  };
  EXPECT_EQ(chosen(R"(,"node_size":"standard")"), big.agent_id);
  EXPECT_EQ(chosen(R"(,"node_size":"tiny")"), agent.agent_id);
  EXPECT_EQ(chosen(R"(,"datacenter":"gcp:europe-west1-b")"), big.agent_id);
  EXPECT_EQ(chosen(R"(,"datacenter":"gcp:us-central1-a")"), agent.agent_id);
  EXPECT_TRUE(is_error(deploy(h, token, R"({"app_name":"hello","version":"1.0.0","node_size":"llm"})"),
                       bhttp::status::conflict, "cp.no_eligible_agent", "llm"));
  EXPECT_TRUE(is_error(deploy(h, token, R"({"app_name":"hello","version":"1.0.0","node_size":"standard","datacenter":"gcp:us-central1-a"})"),
                       bhttp::status::conflict, "cp.no_eligible_agent"));
  EXPECT_TRUE(is_error(deploy(h, token, R"({"app_name":"hello","version":"1.0.0","datacenter":"aws:us-east-1a"})"),
                       bhttp::status::conflict, "cp.no_eligible_agent", "aws:us-east-1a"));
  // An explicit agent must match the filters too.
  EXPECT_TRUE(is_error(deploy(h, token, R"({"app_name":"hello","version":"1.0.0","node_size":"standard","agent_id":")" +
                                            agent.agent_id + "\"}"),
                       bhttp::status::conflict, "cp.no_eligible_agent", "tiny"));
  // A version built for one node size goes only there.
  auto sized = R"({"version":"1.1.0","node_size":"standard","image":")" + CpHarness::image() + R"(","mrtd":")" +
               mrtd_hex(CpHarness::trusted_mrtd()) + "\"}";
  ASSERT_EQ(add_version(h, token, "hello", sized).result(), bhttp::status::created);
  auto response = deploy(h, token, R"({"app_name":"hello","version":"1.1.0"})");
  ASSERT_EQ(response.result(), bhttp::status::ok) << response.body();
  EXPECT_EQ(text(body(response), "agent_id"), big.agent_id);
  EXPECT_TRUE(agent.api->deploys().empty());
  EXPECT_EQ(big.api->deploys().size(), 1u);
}

TEST_F(CpRoutesDeploy, ListsDeploymentsByAgentAppAndStatus) {
  auto const world_token = h.github_token("octo-org/world");
  ASSERT_EQ(h.publish(world_token, "world", "0.1.0", {}, {}, "octo-org/world").result(), bhttp::status::created);
  auto second = h.agent("vm-2");
  h.register_ok(second);
  second.api->fail_deploys(true);
  auto hello = deploy(h, token, to_agent());
  ASSERT_EQ(hello.result(), bhttp::status::ok) << hello.body();
  auto const hello_id = text(body(hello), "deployment_id");
  auto world = deploy(h, world_token, R"({"app_name":"world","version":"0.1.0","agent_id":")" + second.agent_id + "\"}");
  ASSERT_EQ(world.result(), bhttp::status::bad_gateway) << world.body();

  auto listed = [this](std::string const& query) {
    std::vector<std::string> apps;
    auto response = h.call(bhttp::verb::get, "/api/v1/deployments" + query);
    EXPECT_EQ(response.result(), bhttp::status::ok) << response.body();
    if (response.result() != bhttp::status::ok) return apps;
    auto const doc = body(response);  // the loop's range must not be a member of a temporary
    for (auto const& d : doc.as_array()) apps.push_back(text(d, "app_name") + ":" + text(d, "status"));
    std::sort(apps.begin(), apps.end());
    return apps;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(listed(""), (V{"hello:deploying", "world:failed"}));
  EXPECT_EQ(listed("?agent_id=" + agent.agent_id), V{"hello:deploying"});
  EXPECT_EQ(listed("?agent_id=" + second.agent_id), V{"world:failed"});
  EXPECT_EQ(listed("?app_name=world"), V{"world:failed"});
  EXPECT_EQ(listed("?status=deploying"), V{"hello:deploying"});
  EXPECT_EQ(listed("?status=failed&app_name=hello"), V{});
  EXPECT_EQ(listed("?status=running"), V{});
  EXPECT_EQ(listed("?agent_id=nobody"), V{});
  EXPECT_TRUE(is_error(h.call(bhttp::verb::get, "/api/v1/deployments?status=exploded"), bhttp::status::bad_request,
                       "core.invalid_value", "status"));

  auto one = h.call(bhttp::verb::get, "/api/v1/deployments/" + hello_id);
  ASSERT_EQ(one.result(), bhttp::status::ok) << one.body();
  auto const d = body(one);
  EXPECT_EQ(text(d, "deployment_id"), hello_id);
  EXPECT_EQ(text(d, "agent_id"), agent.agent_id);
  EXPECT_EQ(text(d, "image"), CpHarness::image());
  EXPECT_EQ(text(d, "requested_by"), "octo-org/hello");
  EXPECT_TRUE(is_error(h.call(bhttp::verb::get, "/api/v1/deployments/no-such-deployment"), bhttp::status::not_found,
                       "registry.not_found"));
}

// --- undeploy and logs -------------------------------------------------------------------------------

TEST_F(CpRoutesDeploy, UndeployNeedsTheOwnerOrTheAdmin) {
  ASSERT_EQ(deploy(h, token, to_agent()).result(), bhttp::status::ok);
  auto const path = "/api/v1/agents/" + agent.agent_id + "/undeploy";
  EXPECT_TRUE(is_error(h.call(bhttp::verb::post, path), bhttp::status::unauthorized, "cp.missing_credentials"));
  EXPECT_TRUE(is_error(h.call_bearer(bhttp::verb::post, path, h.github_token("evil-org/hello")),
                       bhttp::status::forbidden, "cp.owner_mismatch", "evil-org"));
  EXPECT_TRUE(agent.api->undeploys().empty());
  EXPECT_EQ(agent_status(h, agent), "deployed");

  auto undeployed = h.call_bearer(bhttp::verb::post, path, h.admin_token());
  ASSERT_EQ(undeployed.result(), bhttp::status::ok) << undeployed.body();
  EXPECT_EQ(text(body(undeployed), "status"), "stopped");
  EXPECT_NE(text(body(undeployed), "detail").find("admin"), std::string::npos);
  EXPECT_EQ(agent.api->undeploys().size(), 1u);
  EXPECT_EQ(agent.api->rejected_signatures(), 0u);
  EXPECT_EQ(agent_status(h, agent), "idle");

  EXPECT_TRUE(is_error(h.call_bearer(bhttp::verb::post, path, token), bhttp::status::conflict,
                       "cp.deployment_not_active", agent.agent_id));
  EXPECT_TRUE(is_error(h.call_bearer(bhttp::verb::post, "/api/v1/agents/ghost/undeploy", token),
                       bhttp::status::not_found, "registry.not_found"));
}

TEST_F(CpRoutesDeploy, LogsAreProxiedFromTheAgentWithTheCpsSignature) {
  auto const path = "/api/v1/agents/" + agent.agent_id + "/logs";
  auto logs = h.call_bearer(bhttp::verb::get, path, token);
  ASSERT_EQ(logs.result(), bhttp::status::ok) << logs.body();
  auto const lines = body(logs).at("lines").as_array();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].at("text").as_string(), "workload started");
  EXPECT_EQ(agent.api->rejected_signatures(), 0u);
  // The query is forwarded (and signed with it).
  EXPECT_EQ(h.call_bearer(bhttp::verb::get, path + "?lines=50&since=2024-01-01T00:00:00Z", token).result(),
            bhttp::status::ok);
  EXPECT_EQ(h.call_bearer(bhttp::verb::get, path, h.admin_token()).result(), bhttp::status::ok);
  EXPECT_EQ(agent.api->rejected_signatures(), 0u);

  EXPECT_TRUE(is_error(h.call_bearer(bhttp::verb::get, path, h.github_token("evil-org/hello")),
                       bhttp::status::forbidden, "cp.owner_mismatch"));
  EXPECT_TRUE(is_error(h.call(bhttp::verb::get, path), bhttp::status::unauthorized, "cp.missing_credentials"));
  EXPECT_TRUE(is_error(h.call_bearer(bhttp::verb::get, path + "?lines=1%26x%3D2", token), bhttp::status::bad_request,
                       "core.invalid_value", "lines"));
  EXPECT_TRUE(is_error(h.call_bearer(bhttp::verb::get, "/api/v1/agents/ghost/logs", token), bhttp::status::not_found,
                       "registry.not_found"));
}

TEST_F(CpRoutesDeploy, MetricsAreRelayedOnlyAsAnExpositionTheCpCouldRead) {
  auto const path = "/api/v1/agents/" + agent.agent_id + "/metrics";
  auto metrics = h.call_bearer(bhttp::verb::get, path, token);
  ASSERT_EQ(metrics.result(), bhttp::status::ok) << metrics.body();
  EXPECT_EQ(metrics[bhttp::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body().find("ee_agent_heartbeats_total{outcome=\"ok\"} 12\n"), std::string::npos) << metrics.body();
  EXPECT_EQ(h.call_bearer(bhttp::verb::get, path, h.admin_token()).result(), bhttp::status::ok);
  EXPECT_EQ(agent.api->rejected_signatures(), 0u);

  EXPECT_TRUE(is_error(h.call_bearer(bhttp::verb::get, path, h.github_token("evil-org/hello")),
                       bhttp::status::forbidden, "cp.owner_mismatch"));
  EXPECT_TRUE(is_error(h.call(bhttp::verb::get, path), bhttp::status::unauthorized, "cp.missing_credentials"));
  EXPECT_TRUE(is_error(h.call_bearer(bhttp::verb::get, "/api/v1/agents/ghost/metrics", token),
                       bhttp::status::not_found, "registry.not_found"));

  // Whatever else answers at the agent's address is never handed on: a page of HTML, a script
  // smuggled into a label, a value that is no number.
  for (std::string const& junk : {std::string("<html><script>alert(1)</script></html>"),
                                 std::string("ok_total{a=\"<script>\n\"} 1\n"), std::string("ok_total x\n")}) {
    agent.api->answer_metrics_with(junk);
    auto relayed = h.call_bearer(bhttp::verb::get, path, token);
    EXPECT_TRUE(is_error(relayed, bhttp::status::bad_gateway, "cp.agent_answer_malformed")) << junk;
    EXPECT_EQ(relayed.body().find("<script>"), std::string::npos);
  }
  // Comments and odd spacing are dropped or normalised, never relayed as sent.
  agent.api->answer_metrics_with("# a comment\n\nx_total{ a = \"1\" ,} 3.0 1700000000000\r\n");
  auto normalised = h.call_bearer(bhttp::verb::get, path, token);
  ASSERT_EQ(normalised.result(), bhttp::status::ok) << normalised.body();
  EXPECT_EQ(normalised.body(), "x_total{a=\"1\"} 3 1700000000000\n");
}

// --- trusted MRTDs and admin ---------------------------------------------------------------------------

std::string trusted_json(std::string const& mrtd, std::string const& extra = "") {
  return R"({"mrtd":")" + mrtd + "\"" + extra + "}";
}

TEST(CpRoutesTrusted, ThePublicListShowsTheTrustedMrtds) {
  CpHarness h;
  auto response = h.call(bhttp::verb::get, "/api/v1/trusted-mrtds");
  ASSERT_EQ(response.result(), bhttp::status::ok) << response.body();
  auto const list = body(response).as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(text(list[0], "mrtd"), mrtd_hex(CpHarness::trusted_mrtd()));
  EXPECT_EQ(text(list[0], "type"), "agent");
  EXPECT_EQ(h.call(bhttp::verb::get, "/api/trusted-mrtds").body(), response.body());
}

TEST(CpRoutesTrusted, AdminRoutesNeedTheAdminToken) {
  CpHarness h;
  auto const mrtd = mrtd_hex(CpHarness::other_mrtd());
  struct Route {
    bhttp::verb method;
    std::string path;
    std::string body;
  };
  for (auto const& r : {Route{bhttp::verb::get, "/api/v1/admin/trusted-mrtds", ""},
                        Route{bhttp::verb::post, "/api/v1/admin/trusted-mrtds", trusted_json(mrtd)},
                        Route{bhttp::verb::delete_, "/api/v1/admin/trusted-mrtds/" + mrtd, ""},
                        Route{bhttp::verb::delete_, "/api/v1/admin/agents/some-agent", ""}}) {
    EXPECT_TRUE(is_error(h.call(r.method, r.path, r.body), bhttp::status::unauthorized, "cp.missing_credentials",
                         "admin"))
        << r.path;
    EXPECT_TRUE(is_error(h.call_bearer(r.method, r.path, "not-the-admin-token", r.body), bhttp::status::unauthorized,
                         "cp.bad_admin_token"))
        << r.path;
    // A GitHub token is no admin token.
    EXPECT_TRUE(is_error(h.call_bearer(r.method, r.path, h.github_token(), r.body), bhttp::status::unauthorized,
                         "cp.bad_admin_token"))
        << r.path;
  }
  EXPECT_EQ(body(h.call(bhttp::verb::get, "/api/v1/trusted-mrtds")).as_array().size(), 1u);
  auto listed = h.call_bearer(bhttp::verb::get, "/api/v1/admin/trusted-mrtds", h.admin_token());
  ASSERT_EQ(listed.result(), bhttp::status::ok) << listed.body();
  EXPECT_EQ(body(listed).as_array().size(), 1u);
}

TEST(CpRoutesTrusted, AdminRoutesAreDisabledWithoutAnAdminToken) {
  CpHarness h({.customize = [](ee::cp::Options& o) { o.admin_token.clear(); }});
  for (auto const& token : {std::string(), std::string("test-admin-token"), std::string("anything")}) {
    auto response = token.empty() ? h.call(bhttp::verb::get, "/api/v1/admin/trusted-mrtds")
                                  : h.call_bearer(bhttp::verb::get, "/api/v1/admin/trusted-mrtds", token);
    EXPECT_TRUE(is_error(response, bhttp::status::forbidden, "cp.admin_disabled")) << token;
  }
  EXPECT_TRUE(is_error(h.call_bearer(bhttp::verb::post, "/api/v1/admin/trusted-mrtds", "x",
                                     trusted_json(mrtd_hex(CpHarness::other_mrtd()))),
                       bhttp::status::forbidden, "cp.admin_disabled"));
  // And no empty bearer passes as the (empty) admin token on owner routes.
  auto agent = h.agent("vm-admin-off");
  h.register_ok(agent);
  EXPECT_TRUE(is_error(h.call(bhttp::verb::post, "/api/v1/agents/" + agent.agent_id + "/undeploy", "",
                              {{"Authorization", "Bearer "}}),
                       bhttp::status::unauthorized, "cp.missing_credentials"));
}

TEST(CpRoutesTrusted, AddsListsAndRemovesTrustedMrtds) {
  CpHarness h;
  auto const admin = h.admin_token();
  auto const mrtd = mrtd_hex(CpHarness::other_mrtd());
  auto post = [&](std::string const& json) {
    return h.call_bearer(bhttp::verb::post, "/api/v1/admin/trusted-mrtds", admin, json);
  };
  auto added = post(trusted_json(mrtd, R"(,"type":"agent","note":"release 7")"));
  ASSERT_EQ(added.result(), bhttp::status::created) << added.body();
  EXPECT_EQ(text(body(added), "mrtd"), mrtd);
  EXPECT_EQ(text(body(added), "note"), "release 7");
  EXPECT_EQ(body(h.call(bhttp::verb::get, "/api/v1/trusted-mrtds")).as_array().size(), 2u);

  EXPECT_TRUE(is_error(post(trusted_json(mrtd)), bhttp::status::conflict, "registry.conflict"));
  // Case does not make it another MRTD.
  std::string upper = mrtd;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  EXPECT_TRUE(is_error(post(trusted_json(upper)), bhttp::status::conflict, "registry.conflict"));
  EXPECT_TRUE(is_error(post(trusted_json("abcd")), bhttp::status::bad_request, "core.invalid_value", "mrtd"));
  EXPECT_TRUE(is_error(post(trusted_json(std::string(96, 'x'))), bhttp::status::bad_request, "core.invalid_value",
                       "mrtd"));
  EXPECT_TRUE(is_error(post(R"({"type":"agent"})"), bhttp::status::bad_request, "core.missing_field", "mrtd"));
  EXPECT_TRUE(is_error(post(trusted_json(std::string(96, 'c'), R"(,"type":"vm")")), bhttp::status::bad_request,
                       "core.invalid_value", "type"));
  EXPECT_TRUE(is_error(post(trusted_json(std::string(96, 'c'), R"(,"note":")" + std::string(513, 'n') + "\"")),
                       bhttp::status::bad_request, "core.out_of_range", "note"));
  EXPECT_TRUE(is_error(post(trusted_json(std::string(96, 'c'), R"(,"node_size":"XL")")), bhttp::status::bad_request,
                       "api.invalid_field", "node_size"));
  EXPECT_TRUE(is_error(post("mrtd"), bhttp::status::bad_request, "core.invalid_json"));
  auto proxy = post(trusted_json(std::string(96, 'd'), R"(,"type":"proxy")"));
  ASSERT_EQ(proxy.result(), bhttp::status::created) << proxy.body();
  EXPECT_EQ(text(body(proxy), "type"), "proxy");

  auto removed = h.call_bearer(bhttp::verb::delete_, "/api/v1/admin/trusted-mrtds/" + upper, admin);
  ASSERT_EQ(removed.result(), bhttp::status::ok) << removed.body();
  EXPECT_TRUE(body(removed).at("removed").as_bool());
  EXPECT_TRUE(is_error(h.call_bearer(bhttp::verb::delete_, "/api/v1/admin/trusted-mrtds/" + mrtd, admin),
                       bhttp::status::not_found, "registry.not_found"));
  EXPECT_TRUE(is_error(h.call_bearer(bhttp::verb::delete_, "/api/v1/admin/trusted-mrtds/abcd", admin),
                       bhttp::status::bad_request, "core.invalid_value", "mrtd"));
  auto const left = body(h.call(bhttp::verb::get, "/api/v1/trusted-mrtds")).as_array();
  ASSERT_EQ(left.size(), 2u);
  for (auto const& m : left) EXPECT_NE(text(m, "mrtd"), mrtd);
}

TEST(CpRoutesTrusted, AnMrtdAddedByTheAdminIsTrustedUntilRemoved) {
  CpHarness h;
  auto const admin = h.admin_token();
  auto const mrtd = mrtd_hex(CpHarness::other_mrtd());
  auto first = h.agent("vm-new-image-1");
  EXPECT_TRUE(is_error(h.register_agent(first, h.registration(first, EvidenceKind::quote, {}, CpHarness::other_mrtd())),
                       bhttp::status::forbidden, "tdx.mrtd_not_trusted"));
  ASSERT_EQ(h.call_bearer(bhttp::verb::post, "/api/v1/admin/trusted-mrtds", admin, trusted_json(mrtd)).result(),
            bhttp::status::created);
  auto ok = h.register_agent(first, h.registration(first, EvidenceKind::quote, {}, CpHarness::other_mrtd()));
  ASSERT_EQ(ok.result(), bhttp::status::ok) << ok.body();

  ASSERT_EQ(h.call_bearer(bhttp::verb::delete_, "/api/v1/admin/trusted-mrtds/" + mrtd, admin).result(),
            bhttp::status::ok);
  auto second = h.agent("vm-new-image-2");
  EXPECT_TRUE(is_error(h.register_agent(second, h.registration(second, EvidenceKind::quote, {}, CpHarness::other_mrtd())),
                       bhttp::status::forbidden, "tdx.mrtd_not_trusted"));
  EXPECT_TRUE(is_error(h.register_agent(first, h.registration(first, EvidenceKind::quote, {}, CpHarness::other_mrtd())),
                       bhttp::status::forbidden, "tdx.mrtd_not_trusted"));
}

TEST(CpRoutesTrusted, AnMrtdTrustedForOneNodeSizeOrAsAProxyIsNotTrustedForOtherAgents) {
  CpHarness h;
  auto const admin = h.admin_token();
  auto const mrtd = mrtd_hex(CpHarness::other_mrtd());
  ASSERT_EQ(h.call_bearer(bhttp::verb::post, "/api/v1/admin/trusted-mrtds", admin,
                          trusted_json(mrtd, R"(,"node_size":"llm")"))
                .result(),
            bhttp::status::created);
  auto tiny = h.agent("vm-tiny");
  EXPECT_TRUE(is_error(h.register_agent(tiny, h.registration(tiny, EvidenceKind::quote, {}, CpHarness::other_mrtd())),
                       bhttp::status::forbidden, "tdx.mrtd_not_trusted", "tiny"));
  auto llm = h.agent("vm-llm");
  llm.node_size = "llm";
  auto ok = h.register_agent(llm, h.registration(llm, EvidenceKind::quote, {}, CpHarness::other_mrtd()));
  EXPECT_EQ(ok.result(), bhttp::status::ok) << ok.body();

  ASSERT_EQ(h.call_bearer(bhttp::verb::post, "/api/v1/admin/trusted-mrtds", admin,
                          trusted_json(std::string(96, 'c'), R"(,"type":"proxy")"))
                .result(),
            bhttp::status::created);
  ee::tdx::Measurement proxy_mrtd{};
  proxy_mrtd.fill(0xcc);
  auto agent = h.agent("vm-proxy-image");
  EXPECT_TRUE(is_error(h.register_agent(agent, h.registration(agent, EvidenceKind::quote, {}, proxy_mrtd)),
                       bhttp::status::forbidden, "tdx.mrtd_not_trusted"));
}

TEST(CpRoutesAdmin, RemovesAnAgentAndStopsItsDeployment) {
  CpHarness h;
  auto const token = h.github_token("octo-org/hello");
  ASSERT_EQ(h.publish(token, "hello").result(), bhttp::status::created);
  auto agent = h.agent("vm-doomed");
  h.register_ok(agent);
  auto deployed = deploy(h, token, kHello);
  ASSERT_EQ(deployed.result(), bhttp::status::ok) << deployed.body();
  auto const deployment_id = text(body(deployed), "deployment_id");
  auto keep = h.agent("vm-keep");
  h.register_ok(keep);

  auto const path = "/api/v1/admin/agents/" + agent.agent_id;
  EXPECT_TRUE(is_error(h.call_bearer(bhttp::verb::delete_, path, token), bhttp::status::unauthorized,
                       "cp.bad_admin_token"));
  auto removed = h.call_bearer(bhttp::verb::delete_, path, h.admin_token());
  ASSERT_EQ(removed.result(), bhttp::status::ok) << removed.body();
  EXPECT_TRUE(body(removed).at("removed").as_bool());
  EXPECT_TRUE(is_error(h.call(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id), bhttp::status::not_found,
                       "registry.not_found"));
  auto const listed = body(h.call(bhttp::verb::get, "/api/v1/agents")).as_array();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(text(listed[0], "vm_name"), "vm-keep");
  auto const d = body(h.call(bhttp::verb::get, "/api/v1/deployments/" + deployment_id));
  EXPECT_EQ(text(d, "status"), "stopped");
  EXPECT_NE(text(d, "detail").find("removed by admin"), std::string::npos);
  EXPECT_TRUE(is_error(h.call_bearer(bhttp::verb::delete_, path, h.admin_token()), bhttp::status::not_found,
                       "registry.not_found"));
  // Its heartbeats are no longer accepted.
  EXPECT_TRUE(is_error(h.heartbeat(agent, idle()), bhttp::status::not_found, "registry.not_found"));
}

TEST(CpRoutesAdmin, ARemovedAgentWithATunnelLosesIt) {
  CpHarness h({.cloudflare = true});
  auto agent = h.agent("vm-tunnelled");
  h.register_ok(agent);
  ASSERT_EQ(h.cloudflare()->live_tunnel_count(), 1u);
  auto removed = h.call_bearer(bhttp::verb::delete_, "/api/v1/admin/agents/" + agent.agent_id, h.admin_token());
  ASSERT_EQ(removed.result(), bhttp::status::ok) << removed.body();
  EXPECT_EQ(h.cloudflare()->live_tunnel_count(), 0u);
  EXPECT_EQ(h.cloudflare()->dns_record_count(), 0u);
}

// --- the CP's own attestation -----------------------------------------------------------------------------

TEST(CpRoutesAttestation, WithoutAQuoteProviderAnswers503) {
  CpHarness h;
  EXPECT_TRUE(is_error(h.call(bhttp::verb::get, "/api/v1/attestation?nonce=" + std::string(64, '7')),
                       bhttp::status::service_unavailable, "cp.no_quote_provider"));
}

TEST(CpRoutesAttestation, RefusesAMissingMalformedOrLongNonce) {
  CpHarness h;
  EXPECT_TRUE(is_error(h.call(bhttp::verb::get, "/api/v1/attestation"), bhttp::status::bad_request,
                       "core.missing_field", "nonce"));
  EXPECT_TRUE(is_error(h.call(bhttp::verb::get, "/api/v1/attestation?nonce="), bhttp::status::bad_request,
                       "core.missing_field", "nonce"));
  EXPECT_TRUE(is_error(h.call(bhttp::verb::get, "/api/v1/attestation?nonce=zz"), bhttp::status::bad_request,
                       "core.bad_hex", "nonce"));
  EXPECT_TRUE(is_error(h.call(bhttp::verb::get, "/api/v1/attestation?nonce=abc"), bhttp::status::bad_request,
                       "core.bad_hex", "nonce"));
  EXPECT_TRUE(is_error(h.call(bhttp::verb::get, "/api/v1/attestation?nonce=" + std::string(66, 'a')),
                       bhttp::status::bad_request, "core.out_of_range", "32 bytes"));
}

// --- the router ---------------------------------------------------------------------------------------

TEST(CpRoutes, AnUnknownPathIsNotFound) {
  CpHarness h;
  for (auto path : {"/api/v1/nothing-here", "/api/v2/agents", "/index.html", "/api/v1/agents/x/y/z"}) {
    EXPECT_TRUE(is_error(h.call(bhttp::verb::get, path), bhttp::status::not_found, "http.route_not_found")) << path;
  }
}

TEST(CpRoutes, AWrongMethodIs405WithAllow) {
  CpHarness h;
  // (DELETE /agents/challenge is DELETE /agents/{id} with the id "challenge": an admin's 404.)
  auto attestation = h.call(bhttp::verb::delete_, "/api/v1/agents/some-agent/attestation");
  EXPECT_TRUE(is_error(attestation, bhttp::status::method_not_allowed, "http.method_not_allowed"));
  EXPECT_EQ(attestation[bhttp::field::allow], "GET, HEAD");
  auto deploy_get = h.call(bhttp::verb::get, "/api/v1/deploy");
  EXPECT_TRUE(is_error(deploy_get, bhttp::status::method_not_allowed, "http.method_not_allowed"));
  EXPECT_EQ(deploy_get[bhttp::field::allow], "POST");
  auto apps = h.call(bhttp::verb::put, "/api/v1/apps");
  EXPECT_TRUE(is_error(apps, bhttp::status::method_not_allowed, "http.method_not_allowed"));
  std::string const allow(apps[bhttp::field::allow]);
  EXPECT_NE(allow.find("GET"), std::string::npos) << allow;
  EXPECT_NE(allow.find("POST"), std::string::npos) << allow;
  EXPECT_EQ(allow.find("PUT"), std::string::npos) << allow;
}

TEST(CpRoutes, EveryRouteAnswersUnderBothPrefixes) {
  CpHarness h;
  std::set<std::string> v1;
  std::set<std::string> legacy;
  for (auto const& [method, pattern, access] : h.cp().routes()) {
    auto const key = std::string(bhttp::to_string(method)) + " " + std::string(ee::cp::to_string(access)) + " ";
    if (pattern.starts_with("/api/v1/")) {
      v1.insert(key + pattern.substr(7));
    } else if (pattern.starts_with("/api/")) {
      legacy.insert(key + pattern.substr(4));
    }
  }
  EXPECT_EQ(v1, legacy);
  EXPECT_GE(v1.size(), 20u);
}

}  // namespace
