// The pure parts of signing in: OAuth states, cookies, GitHub's answers, stored org lists. No
// I/O; the flows over a real CP are in cp_sessions_test.cpp.
#include "cp/oauth_states.hpp"
#include "cp/sessions.hpp"

#include <easyenclave/cp/error.hpp>
#include <easyenclave/cp/github_oauth.hpp>
#include <easyenclave/registry/types.hpp>

#include "detail/encoding.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace {

using ee::cp::OAuthStates;
using Clock = std::chrono::system_clock;

Clock::time_point at(std::int64_t seconds) { return Clock::time_point(std::chrono::seconds(seconds)); }

OAuthStates states(std::uint8_t fill = 7) {
  OAuthStates::Key key{};
  key.fill(fill);
  return OAuthStates(key, std::chrono::seconds(600));
}

TEST(OAuthStates, AStateIsGoodInTheBrowserThatGotItUntilItExpires) {
  auto const s = states();
  auto const state = s.issue(at(1'000'000)).value();
  EXPECT_EQ(state.size(), 54u);
  auto const expires = s.check(state, state, at(1'000'599));
  ASSERT_TRUE(expires) << expires.error().message();
  EXPECT_EQ(*expires, at(1'000'600));
  EXPECT_EQ(s.check(state, state, at(1'000'600)).error(), ee::cp::errc::oauth_state_invalid);
}

TEST(OAuthStates, EveryStateIsNew) {
  auto const s = states();
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(seen.insert(s.issue(at(1'000'000)).value()).second);
}

TEST(OAuthStates, AnotherBrowsersForgedOrAlteredStateIsRefused) {
  auto const s = states();
  auto const now = at(1'000'000);
  auto const mine = s.issue(now).value();
  auto const theirs = s.issue(now).value();
  EXPECT_FALSE(s.check(mine, theirs, now)) << "another browser's cookie";
  EXPECT_FALSE(s.check(mine, "", now)) << "no cookie";
  EXPECT_FALSE(s.check("", "", now)) << "no state";
  EXPECT_FALSE(states(8).check(mine, mine, now)) << "another CP's key";
  // Every single-character change, including one that moves the expiry later, breaks the MAC.
  auto const alphabet = std::string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
  for (std::size_t i = 0; i < mine.size(); ++i) {
    auto altered = mine;
    altered[i] = alphabet[(alphabet.find(mine[i]) + 1) % alphabet.size()];
    EXPECT_FALSE(s.check(altered, altered, now)) << "position " << i;
  }
  for (auto const& junk : {std::string(54, 'A'), std::string(200, 'A'), std::string("!!!!"), mine + "A", mine.substr(1)}) {
    auto r = s.check(junk, junk, now);
    ASSERT_FALSE(r) << junk;
    EXPECT_EQ(r.error(), ee::cp::errc::oauth_state_invalid);
  }
}

TEST(OAuthStates, ReplicasOfOneCpDeriveOneKeyAndOtherKeysDiffer) {
  EXPECT_EQ(OAuthStates::derive_key("pem-a"), OAuthStates::derive_key("pem-a"));
  EXPECT_NE(OAuthStates::derive_key("pem-a"), OAuthStates::derive_key("pem-b"));
}

ee::http::Request with_cookies(std::initializer_list<std::string> headers) {
  ee::http::Request r{boost::beast::http::verb::get, "/", 11};
  for (auto const& h : headers) r.insert(boost::beast::http::field::cookie, h);
  return r;
}

TEST(Cookies, AValueIsFoundAmongOthersAndAcrossHeaders) {
  EXPECT_EQ(ee::cp::cookie_value(with_cookies({"a=1; ee_session=tok; b=2"}), "ee_session"), "tok");
  EXPECT_EQ(ee::cp::cookie_value(with_cookies({"a=1", "ee_session=tok"}), "ee_session"), "tok");
  EXPECT_EQ(ee::cp::cookie_value(with_cookies({"  ee_session=tok  ;"}), "ee_session"), "tok");
  EXPECT_EQ(ee::cp::cookie_value(with_cookies({"ee_session="}), "ee_session"), "");
  EXPECT_FALSE(ee::cp::cookie_value(with_cookies({}), "ee_session"));
  EXPECT_FALSE(ee::cp::cookie_value(with_cookies({"xee_session=tok; ee_sessionx=tok"}), "ee_session"));
  EXPECT_FALSE(ee::cp::cookie_value(with_cookies({"ee_session"}), "ee_session"));
}

TEST(Cookies, ARepeatedCookieIsRefusedRatherThanGuessed) {
  EXPECT_FALSE(ee::cp::cookie_value(with_cookies({"ee_session=a; ee_session=b"}), "ee_session"));
  EXPECT_FALSE(ee::cp::cookie_value(with_cookies({"ee_session=a", "ee_session=a"}), "ee_session"));
}

TEST(Cookies, SetCookieIsSecureHttpOnlyAndLax) {
  EXPECT_EQ(ee::cp::set_cookie("ee_session", "v", "/", std::chrono::seconds(60)),
            "ee_session=v; Path=/; Max-Age=60; Secure; HttpOnly; SameSite=Lax");
}

TEST(GithubAnswers, TheTokenExchangeIsReadStrictly) {
  EXPECT_EQ(ee::cp::parse_github_token_answer(R"({"access_token":"gho_abc123","token_type":"bearer","scope":"read:org"})")
                .value(),
            "gho_abc123");
  EXPECT_EQ(ee::cp::parse_github_token_answer(R"({"access_token":"gho_x","token_type":"Bearer"})").value(), "gho_x");
  auto refused = ee::cp::parse_github_token_answer(R"({"error":"bad_verification_code","error_description":"x"})");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), ee::cp::errc::oauth_failed);
  EXPECT_NE(refused.error().message().find("bad_verification_code"), std::string::npos);
  // GitHub's own error text is never relayed unless it is a plain code.
  auto odd = ee::cp::parse_github_token_answer(R"({"error":"<script>alert(1)</script>"})");
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error().message().find("script"), std::string::npos);
  for (auto const* bad : {"", "null", "[]", R"({"token_type":"bearer"})", R"({"access_token":"gho_x"})",
                          R"({"access_token":"gho_x","token_type":"mac"})", R"({"access_token":"","token_type":"bearer"})",
                          R"({"access_token":"gho x\r\nX-Evil: 1","token_type":"bearer"})",
                          R"({"access_token":1,"token_type":"bearer"})",
                          R"({"access_token":"a","access_token":"b","token_type":"bearer"})"}) {
    auto r = ee::cp::parse_github_token_answer(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error(), ee::cp::errc::oauth_failed) << bad;
  }
  EXPECT_FALSE(ee::cp::parse_github_token_answer(
      std::string(R"({"access_token":")") + std::string(256, 'a') + R"(","token_type":"bearer"})"));
}

TEST(GithubAnswers, UsersAndOrganisationsAreReadWithLoweredLoginsAndDecimalIds) {
  auto user = ee::cp::parse_github_user(R"({"login":"OctoCat","id":583231,"type":"User"})").value();
  EXPECT_EQ(user.login, "octocat");
  EXPECT_EQ(user.id, "583231");
  auto orgs = ee::cp::parse_github_orgs(R"([{"login":"Octo-Org","id":1},{"login":"b","id":99}])").value();
  ASSERT_EQ(orgs.size(), 2u);
  EXPECT_EQ(orgs[0].login, "octo-org");
  EXPECT_EQ(orgs[1].id, "99");
  EXPECT_TRUE(ee::cp::parse_github_orgs("[]").value().empty());
  for (auto const* bad : {"", "{}", R"({"login":"a"})", R"({"id":1})", R"({"login":"a","id":0})",
                          R"({"login":"a","id":-1})", R"({"login":"a","id":1.5})", R"({"login":"a","id":"1"})",
                          R"({"login":"","id":1})", R"({"login":"-a","id":1})", R"({"login":"a b","id":1})",
                          R"({"login":"a:b","id":1})", R"({"login":"a,b","id":1})"}) {
    EXPECT_FALSE(ee::cp::parse_github_user(bad)) << bad;
  }
  EXPECT_FALSE(ee::cp::parse_github_user(std::string(R"({"login":")") + std::string(40, 'a') + R"(","id":1})"));
  for (auto const* bad : {"", "{}", "[1]", R"([{"login":"a"}])", R"([{"login":"a:b","id":1}])"}) {
    EXPECT_FALSE(ee::cp::parse_github_orgs(bad)) << bad;
  }
  std::string many = "[";
  for (int i = 0; i < 1001; ++i) many += std::string(i ? "," : "") + R"({"login":"o)" + std::to_string(i) + R"(","id":1})";
  EXPECT_FALSE(ee::cp::parse_github_orgs(many + "]"));
}

TEST(StoredOrgs, TheStoredFormRoundTripsAndAnythingElseIsRefused) {
  std::vector<ee::registry::GithubAccount> const orgs{{.login = "octo-org", .id = "1"}, {.login = "b2", .id = "99999"}};
  auto const text = ee::registry::encode_github_accounts(orgs);
  EXPECT_EQ(text, "octo-org:1,b2:99999");
  auto back = ee::registry::decode_github_accounts(text);
  ASSERT_TRUE(back);
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[1].login, "b2");
  EXPECT_TRUE(ee::registry::decode_github_accounts("").value().empty());
  for (auto const* bad : {",", "a:1,", ",a:1", "a", "a:", ":1", "A:1", "a:1x", "a:1:2", "a b:1", "a:123456789012345678901", "-a:1", "a:1,-b:2"}) {
    EXPECT_FALSE(ee::registry::decode_github_accounts(bad)) << bad;
  }
  EXPECT_FALSE(ee::registry::decode_github_accounts(std::string(40, 'a') + ":1"));
  EXPECT_TRUE(ee::registry::decode_github_accounts(std::string(39, 'a') + ":1"));
}

}  // namespace
