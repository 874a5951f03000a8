// Console access tokens (api/console_token.hpp) and the messages of the agent lifecycle routes:
// status and deployed reports, the console-access body, the agent's stats answer.
#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/console_token.hpp>
#include <easyenclave/api/signing.hpp>

#include "detail/encoding.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace api = ee::api;
using ee::condition;
using Clock = std::chrono::system_clock;

constexpr std::int64_t kIat = 1796083200;  // 2026-12-01T00:00:00Z
constexpr char kJti[] = "0123456789abcdef0123456789abcdef";

Clock::time_point at(std::int64_t unix_seconds) { return Clock::time_point(std::chrono::seconds(unix_seconds)); }

api::ConsoleClaims claims(std::string agent_id = "agent-a", std::int64_t lifetime = 900) {
  api::ConsoleClaims c;
  c.agent_id = std::move(agent_id);
  c.scope = {"logs", "stats"};
  c.issued_at = kIat;
  c.expires_at = kIat + lifetime;
  c.jti = kJti;
  return c;
}

std::string b64u(std::string_view text) { return ee::detail::base64url_encode(ee::detail::as_bytes(text)); }

// A token with any header and payload text, signed by `key` as the CP would sign it.
std::string forge(api::SigningKey const& key, std::string_view header, std::string_view payload) {
  auto const input = b64u(header) + "." + b64u(payload);
  auto signature = key.sign(ee::detail::as_bytes(input)).value();
  return input + "." + ee::detail::base64url_encode(signature);
}

constexpr char kHeader[] = R"({"alg":"ES256","typ":"ee-console+jwt"})";
std::string payload(std::string_view agent_id = "agent-a", std::string_view scope = R"(["logs","stats"])",
                    std::int64_t exp = kIat + 900, std::string_view extra = "") {
  return std::string(R"({"agent_id":")") + std::string(agent_id) + R"(","scope":)" + std::string(scope) +
         R"(,"iat":)" + std::to_string(kIat) + R"(,"exp":)" + std::to_string(exp) + R"(,"jti":")" + kJti + "\"" +
         std::string(extra) + "}";
}

class ConsoleToken : public ::testing::Test {
 protected:
  api::SigningKey cp_ = api::SigningKey::generate().value();
  api::SigningKey other_ = api::SigningKey::generate().value();
};

TEST_F(ConsoleToken, MintedTokenVerifiesForItsAgentAndEachScope) {
  auto token = api::mint_console_token(claims(), cp_).value();
  for (auto scope : {api::kConsoleScopeLogs, api::kConsoleScopeStats}) {
    auto c = api::verify_console_token(token, cp_.public_key(), "agent-a", scope, at(kIat + 10));
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->agent_id, "agent-a");
    EXPECT_EQ(c->expires_at, kIat + 900);
    EXPECT_EQ(c->jti, kJti);
  }
  // It is a plain compact JWS: three base64url parts, the pinned header first.
  EXPECT_EQ(token.substr(0, token.find('.')), b64u(kHeader));
}

TEST_F(ConsoleToken, IsRefusedForAnotherAgent) {
  auto token = api::mint_console_token(claims("agent-a"), cp_).value();
  auto r = api::verify_console_token(token, cp_.public_key(), "agent-b", api::kConsoleScopeLogs, at(kIat + 10));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), api::errc::console_token_not_allowed);
  EXPECT_EQ(r.error(), condition::forbidden);
}

TEST_F(ConsoleToken, IsRefusedOutsideItsScope) {
  auto c = claims();
  c.scope = {"logs"};
  auto token = api::mint_console_token(c, cp_).value();
  EXPECT_TRUE(api::verify_console_token(token, cp_.public_key(), "agent-a", "logs", at(kIat)));
  for (auto scope : {"stats", "deploy", "undeploy", ""}) {
    auto r = api::verify_console_token(token, cp_.public_key(), "agent-a", scope, at(kIat));
    ASSERT_FALSE(r) << scope;
    EXPECT_EQ(r.error(), api::errc::console_token_not_allowed) << scope;
  }
}

TEST_F(ConsoleToken, IsRefusedAtAndAfterExpiryAndWhenIssuedInTheFuture) {
  auto token = api::mint_console_token(claims(), cp_).value();
  EXPECT_TRUE(api::verify_console_token(token, cp_.public_key(), "agent-a", "logs", at(kIat + 899)));
  for (auto when : {kIat + 900, kIat + 901, kIat + 100000}) {
    auto r = api::verify_console_token(token, cp_.public_key(), "agent-a", "logs", at(when));
    ASSERT_FALSE(r) << when;
    EXPECT_EQ(r.error(), api::errc::console_token_expired);
  }
  // A clock skew of a minute is tolerated, more is not.
  EXPECT_TRUE(api::verify_console_token(token, cp_.public_key(), "agent-a", "logs", at(kIat - 60)));
  auto early = api::verify_console_token(token, cp_.public_key(), "agent-a", "logs", at(kIat - 61));
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error(), api::errc::console_token_expired);
}

TEST_F(ConsoleToken, IsRefusedUnderAnotherSignersKey) {
  auto token = api::mint_console_token(claims(), other_).value();
  auto r = api::verify_console_token(token, cp_.public_key(), "agent-a", "logs", at(kIat));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), api::errc::console_token_invalid);
  EXPECT_EQ(r.error(), condition::unauthenticated);
}

TEST_F(ConsoleToken, AnyTamperedPartIsRefused) {
  auto token = api::mint_console_token(claims("agent-a"), cp_).value();
  auto const first = token.find('.');
  auto const second = token.find('.', first + 1);
  // The payload swapped for one naming another agent, the signature kept.
  auto swapped = token.substr(0, first + 1) + b64u(payload("agent-b")) + token.substr(second);
  auto r = api::verify_console_token(swapped, cp_.public_key(), "agent-b", "logs", at(kIat));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), api::errc::console_token_invalid);
  // A longer life, the signature kept.
  auto longer = token.substr(0, first + 1) + b64u(payload("agent-a", R"(["logs","stats"])", kIat + 1800)) +
                token.substr(second);
  EXPECT_EQ(api::verify_console_token(longer, cp_.public_key(), "agent-a", "logs", at(kIat)).error(),
            api::errc::console_token_invalid);
  // Every single character of the signature changed.
  for (std::size_t i = second + 1; i < token.size(); ++i) {
    auto t = token;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    auto v = api::verify_console_token(t, cp_.public_key(), "agent-a", "logs", at(kIat));
    EXPECT_FALSE(v) << i;
  }
}

TEST_F(ConsoleToken, TheHeaderIsPinned) {
  // Signed by the right key, yet refused for its header: no algorithm choice, no key hint.
  for (auto header : {R"({"alg":"none","typ":"ee-console+jwt"})", R"({"alg":"HS256","typ":"ee-console+jwt"})",
                      R"({"alg":"ES256","typ":"JWT"})", R"({"alg":"ES256"})",
                      R"({"alg":"ES256","typ":"ee-console+jwt","kid":"x"})",
                      R"({"alg":"ES256","typ":"ee-console+jwt","crit":["exp"]})",
                      R"({"alg":"ES256","alg":"ES256","typ":"ee-console+jwt"})", "[]", "null", ""}) {
    auto r = api::verify_console_token(forge(cp_, header, payload()), cp_.public_key(), "agent-a", "logs", at(kIat));
    ASSERT_FALSE(r) << header;
    EXPECT_EQ(r.error(), api::errc::console_token_malformed) << header;
  }
}

TEST_F(ConsoleToken, ThePayloadIsClosedAndBounded) {
  std::vector<std::string> bad = {
      payload("agent-a", R"(["logs","stats"])", kIat + 3601),       // over an hour
      payload("agent-a", R"(["logs","stats"])", kIat),              // no lifetime
      payload("agent-a", R"(["logs","stats"])", kIat - 1),          // ends before it starts
      payload("agent-a", R"(["deploy"])"),                          // a scope that does not exist
      payload("agent-a", R"(["logs","logs"])"),                     // twice
      payload("agent-a", R"([])"),                                  // empty
      payload("agent-a", R"(["logs","stats","logs"])"),             // too many
      payload("agent-a", R"("logs")"),                              // not an array
      payload("agent-a", R"([1])"),                                 // not strings
      payload("", R"(["logs"])"),                                   // no agent
      payload("../agent", R"(["logs"])"),                           // not an id
      payload(std::string(129, 'a'), R"(["logs"])"),                // too long an id
      payload("agent-a", R"(["logs"])", kIat + 900, R"(,"admin":true)"),  // an unknown member
      R"({"agent_id":"agent-a","scope":["logs"],"iat":1796083200.5,"exp":1796084100,"jti":")" +
          std::string(kJti) + "\"}",                                // a fraction
      R"({"agent_id":"agent-a","scope":["logs"],"iat":1796083200,"exp":1796084100,"jti":"ABC"})",
      R"({"agent_id":"agent-a","scope":["logs"],"iat":1796083200,"exp":1796084100})",  // no jti
      R"({"agent_id":"agent-a","agent_id":"agent-b","scope":["logs"],"iat":1796083200,"exp":1796084100,"jti":")" +
          std::string(kJti) + "\"}",                                // a duplicate member
      "[]", "null", "{",
  };
  for (auto const& p : bad) {
    auto r = api::verify_console_token(forge(cp_, kHeader, p), cp_.public_key(), "agent-a", "logs", at(kIat));
    ASSERT_FALSE(r) << p;
    EXPECT_EQ(r.error(), api::errc::console_token_malformed) << p;
  }
}

TEST_F(ConsoleToken, TheMinterRefusesWhatNoAgentWouldAccept) {
  auto c = claims("agent-a", 3601);
  EXPECT_EQ(api::mint_console_token(c, cp_).error(), api::errc::console_token_malformed);
  c = claims("agent/a");
  EXPECT_EQ(api::mint_console_token(c, cp_).error(), api::errc::console_token_malformed);
  c = claims();
  c.scope = {"logs", "deploy"};
  EXPECT_EQ(api::mint_console_token(c, cp_).error(), api::errc::console_token_malformed);
}

TEST_F(ConsoleToken, MalformedShapesAreRefusedBeforeAnyCryptography) {
  auto const good = api::mint_console_token(claims(), cp_).value();
  std::vector<std::string> bad = {
      "", ".", "..", "...", "a.b", "a.b.c.d", good + ".", "." + good, good + "=",
      std::string(api::kMaxConsoleTokenBytes + 1, 'a'),
      good.substr(0, good.rfind('.')) + "." + ee::detail::base64url_encode(std::vector<std::uint8_t>(63, 1)),
      good.substr(0, good.rfind('.')) + "." + ee::detail::base64url_encode(std::vector<std::uint8_t>(65, 1)),
      good.substr(0, good.rfind('.')) + ".",
      "Bearer " + good, good + " ", "e30.e30.e30",
  };
  for (auto const& t : bad) {
    auto r = api::parse_console_token(t);
    ASSERT_FALSE(r) << t;
    EXPECT_EQ(r.error(), api::errc::console_token_malformed) << t;
    // The message never echoes the token.
    if (t.size() > 8) {
      EXPECT_EQ(r.error().message().find(t), std::string::npos);
    }
  }
}

TEST_F(ConsoleToken, EveryTruncationIsRefused) {
  auto const good = api::mint_console_token(claims(), cp_).value();
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(api::verify_console_token(good.substr(0, n), cp_.public_key(), "agent-a", "logs", at(kIat)))
        << "a prefix of " << n << " bytes verified";
  }
}

// --- the console-access body ---------------------------------------------------------------------

TEST(ConsoleAccessRequest, DefaultsToFifteenMinutesAndBoundsTheLifetime) {
  EXPECT_EQ(api::parse_console_access_request("").value().ttl_seconds, 900);
  EXPECT_EQ(api::parse_console_access_request(" \n").value().ttl_seconds, 900);
  EXPECT_EQ(api::parse_console_access_request("{}").value().ttl_seconds, 900);
  EXPECT_EQ(api::parse_console_access_request(R"({"ttl_seconds":null})").value().ttl_seconds, 900);
  EXPECT_EQ(api::parse_console_access_request(R"({"ttl_seconds":900})").value().ttl_seconds, 900);
  EXPECT_EQ(api::parse_console_access_request(R"({"ttl_seconds":3600})").value().ttl_seconds, 3600);
  for (auto body : {R"({"ttl_seconds":899})", R"({"ttl_seconds":3601})", R"({"ttl_seconds":0})",
                    R"({"ttl_seconds":-900})", R"({"ttl_seconds":99999999999999999999})"}) {
    auto r = api::parse_console_access_request(body);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error(), condition::invalid_input) << body;
  }
  for (auto body : {R"({"ttl_seconds":"900"})", R"({"ttl_seconds":900.5})", R"({"ttl":900})",
                    R"({"ttl_seconds":900,"scope":["deploy"]})", "[]", "900", "{", R"({"ttl_seconds":900}x)"}) {
    auto r = api::parse_console_access_request(body);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error(), condition::invalid_input) << body;
  }
  EXPECT_FALSE(api::parse_console_access_request(std::string(2000, ' ') + "{}"));
}

// --- status and deployed reports -------------------------------------------------------------------

constexpr char kDigest[] = "sha256:abababababababababababababababababababababababababababababababab";

TEST(AgentStatusReport, RoundTripsAndRequiresAStatus) {
  api::AgentStatusReport r{"pulling", "d-1", kDigest, "d-0"};
  auto back = api::parse_agent_status_report(api::to_json(r)).value();
  EXPECT_EQ(api::to_json(back), api::to_json(r));
  EXPECT_EQ(back.rolled_back, "d-0");
  EXPECT_EQ(api::parse_agent_status_report(R"({"status":"idle"})").value().deployment_id, "");
  for (auto body : {"{}", R"({"status":""})", R"({"status":"Running"})", R"({"status":1})",
                    R"({"status":"running","deployment_id":"../x"})",
                    R"({"status":"running","image_digest":"sha256:AB"})",
                    R"({"status":"running","image_digest":"md5:00"})",
                    "[]", "", "{"}) {
    auto p = api::parse_agent_status_report(body);
    ASSERT_FALSE(p) << body;
    EXPECT_EQ(p.error(), condition::invalid_input) << body;
  }
  EXPECT_FALSE(api::parse_agent_status_report(R"({"status":")" + std::string(33, 'a') + "\"}"));
  EXPECT_FALSE(api::parse_agent_status_report(R"({"status":"idle","pad":")" + std::string(70000, 'a') + "\"}"));
}

TEST(DeployedReport, RoundTripsAndRequiresBothFields) {
  api::DeployedReport r{"d-1", kDigest};
  EXPECT_EQ(api::to_json(api::parse_deployed_report(api::to_json(r)).value()), api::to_json(r));
  for (auto body : {R"({"deployment_id":"d-1"})", R"({"image_digest":"sha256:00"})", "{}",
                    R"({"deployment_id":"","image_digest":"x"})", R"({"deployment_id":1,"image_digest":1})"}) {
    auto p = api::parse_deployed_report(body);
    ASSERT_FALSE(p) << body;
    EXPECT_EQ(p.error(), condition::invalid_input) << body;
  }
}

TEST(WorkloadReports, EveryTruncationIsRefused) {
  auto const status = api::to_json(api::AgentStatusReport{"running", "d-1", kDigest, ""});
  auto const deployed = api::to_json(api::DeployedReport{"d-1", kDigest});
  for (std::size_t n = 0; n < status.size(); ++n) EXPECT_FALSE(api::parse_agent_status_report(status.substr(0, n))) << n;
  for (std::size_t n = 0; n < deployed.size(); ++n) EXPECT_FALSE(api::parse_deployed_report(deployed.substr(0, n))) << n;
}

// --- the agent's stats -------------------------------------------------------------------------------

api::AgentStats sample_stats() {
  api::AgentStats s;
  s.cpu_count = 4;
  s.load1 = 0.25;
  s.load5 = 0.5;
  s.load15 = 1;
  s.memory_total_bytes = 4294967296;
  s.memory_available_bytes = 2147483648;
  s.disk_path = "/var/lib/easyenclave";
  s.disk_total_bytes = 10737418240;
  s.disk_available_bytes = 5368709120;
  s.system_uptime_seconds = 1234.5;
  s.agent_uptime_seconds = 1200;
  return s;
}

TEST(AgentStats, RoundTripsWithAndWithoutTheDisk) {
  auto const text = api::to_json(sample_stats());
  EXPECT_EQ(api::to_json(api::parse_agent_stats(text).value()), text);
  auto no_disk = sample_stats();
  no_disk.disk_path.reset();
  auto const without = api::to_json(no_disk);
  EXPECT_NE(without.find(R"("disk":{})"), std::string::npos);
  EXPECT_FALSE(api::parse_agent_stats(without).value().disk_path);
}

TEST(AgentStats, RefusesWrongShapesAndNumbersOutOfRange) {
  // As an agent writes it, but with plain number spellings (Boost.JSON writes 0.25 as 2.5E-1).
  std::string const good =
      R"({"cpu":{"count":4,"load1":0.25,"load5":0.5,"load15":1},"memory":{"total_bytes":4294967296,)"
      R"("available_bytes":2147483648},"disk":{"path":"/var/lib/easyenclave","total_bytes":10737418240,)"
      R"("available_bytes":5368709120},"uptime":{"system_seconds":1234.5,"agent_seconds":1200}})";
  ASSERT_TRUE(api::parse_agent_stats(good));
  auto with = [&good](std::string_view from, std::string_view to) {
    auto t = good;
    auto at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return t.replace(at, from.size(), to);
  };
  for (auto const& body : {with(R"("load1":0.25)", R"("load1":-1)"), with(R"("load1":0.25)", R"("load1":1e13)"),
                           with(R"("load1":0.25)", R"("load1":"0.25")"), with(R"("count":4)", R"("count":4.5)"),
                           with(R"("count":4)", R"("count":-4)"), with(R"("total_bytes":4294967296)", R"("total_bytes":null)"),
                           with(R"("path":"/var/lib/easyenclave")", R"("path":"")"),
                           with(R"("path":"/var/lib/easyenclave",)", ""), with(R"("agent_seconds":1200)", R"("agent_seconds":true)"),
                           with(R"("cpu":{)", R"("cpu":[],"x":{)"), std::string("{}"), std::string("[]"),
                           std::string(R"({"cpu":{"count":4,"load1":0,"load5":0,"load15":0}})")}) {
    auto r = api::parse_agent_stats(body);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error(), condition::invalid_input) << body;
  }
  for (std::size_t n = 0; n < good.size(); ++n) EXPECT_FALSE(api::parse_agent_stats(good.substr(0, n))) << n;
  EXPECT_FALSE(api::parse_agent_stats(with(R"("path":"/var/lib/easyenclave")", "\"path\":\"" + std::string(17000, 'a') + "\"")));
}

}  // namespace
