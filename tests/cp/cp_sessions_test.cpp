// People's sessions over a real CP: the admin password, GitHub OAuth against the GitHub stand-in
// with a browser-like client (cookies kept per browser, redirects followed by hand), the session
// lifecycle (use, logout, expiry, purge, wrong prefix, right prefix with a wrong secret), cookie
// requests from another site, and owner isolation on every /me route.
#include "cp/cp_harness.hpp"
#include "cp/secrets.hpp"

#include <easyenclave/cp/error.hpp>

#include <boost/beast/http/verb.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/url.hpp>

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace {

namespace bhttp = boost::beast::http;
namespace bj = boost::json;
using ee::test::CpHarness;
using ee::test::FakeGithubIssuer;
using ee::test::HarnessOptions;

constexpr char kPassword[] = "correct horse battery staple";
constexpr char kRedirectUri[] = "https://cp.example.com/auth/github/callback";

bj::value body(ee::http::Response const& r) { return bj::parse(r.body()); }
std::string code_of(ee::http::Response const& r) {
  auto parsed = bj::parse(r.body());
  return parsed.is_object() && parsed.as_object().contains("code") ? std::string(parsed.at("code").as_string()) : "";
}

// A browser: the cookies it was given, by name (paths are not modelled: the CP's cookies do not
// share names), sent with every request to the CP.
struct Browser {
  std::map<std::string, std::string> cookies;

  void keep(ee::http::Response const& r) {
    auto const [first, last] = r.equal_range(bhttp::field::set_cookie);
    for (auto it = first; it != last; ++it) {
      std::string_view v = it->value();
      auto const pair = v.substr(0, v.find(';'));
      auto const eq = pair.find('=');
      auto const name = std::string(pair.substr(0, eq));
      auto const value = std::string(pair.substr(eq + 1));
      if (value.empty() || v.find("Max-Age=0") != std::string_view::npos) {
        cookies.erase(name);
      } else {
        cookies[name] = value;
      }
    }
  }
  std::string header() const {
    std::string out;
    for (auto const& [name, value] : cookies) out += (out.empty() ? "" : "; ") + name + "=" + value;
    return out;
  }
  ee::http::Response call(CpHarness& h, bhttp::verb method, std::string const& path, std::string body = "",
                          std::map<std::string, std::string> headers = {}) {
    if (!cookies.empty()) headers["Cookie"] = header();
    auto r = h.call(method, path, std::move(body), headers);
    keep(r);
    return r;
  }
};

std::string location(ee::http::Response const& r) { return std::string(r[bhttp::field::location]); }

// Follows the CP's redirect to GitHub's authorize page (the stand-in signs `login` in and
// consents at once) and returns the path and query of the CP callback GitHub sends the browser to.
std::string consent_at_github(CpHarness& h, std::string const& authorize_url, std::string const& login) {
  ee::http::Request request{bhttp::verb::get, authorize_url + "&login=" + login, 11};
  request.prepare_payload();
  auto r = h.send(std::move(request));
  EXPECT_EQ(r.result(), bhttp::status::found) << r.body();
  boost::urls::url back(location(r));
  EXPECT_EQ(std::string(back.encoded_path()), "/auth/github/callback");
  return std::string(back.encoded_path()) + "?" + std::string(back.encoded_query());
}

class Sessions : public ::testing::Test {
 protected:
  void SetUp() override {
    github_ = FakeGithubIssuer::start().value();
    github_->add_oauth_user({.login = "Alice", .id = 1001, .orgs = {{"octo-org", 654321}, {"alice-lab", 42}}});
    github_->add_oauth_user({.login = "bob", .id = 1002, .orgs = {{"other-org", 777}}});
    github_->add_oauth_user({.login = "carol-admin", .id = 1003, .orgs = {}});
  }

  HarnessOptions options(bool password = true, bool github = true) {
    auto const url = github_->url();
    return HarnessOptions{.customize = [url, password, github](ee::cp::Options& o) {
      if (password) o.logins.admin_password_hash = ee::cp::hash_secret(kPassword, ee::cp::Argon2Params{}).value();
      if (github) {
        o.logins.github = {.client_id = "ee-fake-oauth-client", .client_secret = "ee-fake-oauth-secret",
                           .redirect_uri = kRedirectUri, .web_url = url, .api_url = url};
        o.logins.admin_github_logins = {"carol-admin"};
      }
      o.server.rate_limits.erase("sign_in");
      o.server.rate_limits["sign_in"] = {.per_minute = 0, .burst = 1};  // off: the tests sign in often
    }};
  }

  // A whole GitHub sign-in in `browser`, as `login`; returns the callback's response.
  ee::http::Response sign_in(CpHarness& h, Browser& browser, std::string const& login) {
    auto start = browser.call(h, bhttp::verb::get, "/auth/github");
    EXPECT_EQ(start.result(), bhttp::status::found) << start.body();
    auto const callback = consent_at_github(h, location(start), login);
    return browser.call(h, bhttp::verb::get, callback);
  }

  std::string password_session(CpHarness& h) {
    auto r = h.call(bhttp::verb::post, "/admin/login", std::string(R"({"password":")") + kPassword + "\"}");
    EXPECT_EQ(r.result(), bhttp::status::ok) << r.body();
    return std::string(body(r).at("token").as_string());
  }

  std::unique_ptr<FakeGithubIssuer> github_;
};

// --- the admin password ----------------------------------------------------------------------------

TEST_F(Sessions, APasswordLoginGivesAnAdminSessionByBearerAndByCookie) {
  CpHarness h(options());
  auto wrong = h.call(bhttp::verb::post, "/admin/login", R"({"password":"tr0ub4dor"})");
  EXPECT_EQ(wrong.result(), bhttp::status::unauthorized) << wrong.body();
  EXPECT_EQ(code_of(wrong), "cp.login_failed");
  EXPECT_TRUE(wrong[bhttp::field::set_cookie].empty());

  auto r = h.call(bhttp::verb::post, "/admin/login", std::string(R"({"password":")") + kPassword + "\"}");
  ASSERT_EQ(r.result(), bhttp::status::ok) << r.body();
  EXPECT_EQ(r[bhttp::field::cache_control], "no-store");
  auto const token = std::string(body(r).at("token").as_string());
  EXPECT_TRUE(token.starts_with("ee_sess_"));
  EXPECT_EQ(token.size(), 8u + 32u);
  EXPECT_TRUE(body(r).at("admin").as_bool());
  EXPECT_EQ(body(r).at("method").as_string(), "password");
  auto const cookie = std::string(r[bhttp::field::set_cookie]);
  EXPECT_EQ(cookie, "ee_session=" + token + "; Path=/; Max-Age=86400; Secure; HttpOnly; SameSite=Lax");

  // An admin route, by bearer and by cookie.
  auto by_bearer = h.call_bearer(bhttp::verb::get, "/api/v1/admin/trusted-mrtds", token);
  EXPECT_EQ(by_bearer.result(), bhttp::status::ok) << by_bearer.body();
  auto by_cookie = h.call(bhttp::verb::get, "/api/v1/admin/trusted-mrtds", "", {{"Cookie", "ee_session=" + token}});
  EXPECT_EQ(by_cookie.result(), bhttp::status::ok) << by_cookie.body();

  auto me = h.call_bearer(bhttp::verb::get, "/auth/me", token);
  ASSERT_EQ(me.result(), bhttp::status::ok) << me.body();
  EXPECT_TRUE(body(me).at("admin").as_bool());
  EXPECT_FALSE(body(me).as_object().contains("token"));
  EXPECT_FALSE(body(me).as_object().contains("login"));
}

TEST_F(Sessions, APasswordLoginWorksWithoutAnAdminTokenAndIsOffWithoutAPassword) {
  CpHarness with_password(HarnessOptions{.customize = [this](ee::cp::Options& o) {
    options().customize(o);
    o.admin_token.clear();
  }});
  auto token = password_session(with_password);
  EXPECT_EQ(with_password.call_bearer(bhttp::verb::get, "/api/v1/admin/trusted-mrtds", token).result(), bhttp::status::ok);

  CpHarness without(options(false, false));
  auto r = without.call(bhttp::verb::post, "/admin/login", std::string(R"({"password":")") + kPassword + "\"}");
  EXPECT_EQ(r.result(), bhttp::status::service_unavailable) << r.body();
  EXPECT_EQ(code_of(r), "cp.logins_unavailable");
  auto methods = without.call(bhttp::verb::get, "/auth/methods");
  ASSERT_EQ(methods.result(), bhttp::status::ok);
  EXPECT_FALSE(body(methods).at("password").as_bool());
  EXPECT_FALSE(body(methods).at("github").as_bool());
  EXPECT_TRUE(body(methods).at("admin_token").as_bool());
}

TEST_F(Sessions, LoginBodiesAreCheckedStrictly) {
  CpHarness h(options());
  for (std::string bad : {std::string(""), std::string("{}"), std::string(R"({"password":""})"),
                          std::string(R"({"password":1})"), std::string(R"({"password":"x","user":"admin"})"),
                          std::string(R"({"password":"x","password":"y"})"),
                          R"({"password":")" + std::string(1025, 'a') + "\"}"}) {
    auto r = h.call(bhttp::verb::post, "/admin/login", bad);
    EXPECT_EQ(r.result(), bhttp::status::bad_request) << bad << " -> " << r.body();
  }
}

TEST_F(Sessions, ASessionIsRefusedOnceEndedExpiredOrForged) {
  CpHarness h(options());
  auto const token = password_session(h);
  auto admin_call = [&h](std::string const& t) { return h.call_bearer(bhttp::verb::get, "/api/v1/admin/trusted-mrtds", t); };
  ASSERT_EQ(admin_call(token).result(), bhttp::status::ok);

  // A wrong prefix, and the right prefix with another secret: both unknown.
  auto other = token;
  other[10] = other[10] == 'A' ? 'B' : 'A';
  auto wrong_secret = token.substr(0, 12) + std::string(28, 'x');
  for (auto const& forged : {other, wrong_secret, std::string("ee_sess_short")}) {
    auto r = admin_call(forged);
    EXPECT_EQ(r.result(), bhttp::status::unauthorized) << forged;
    EXPECT_EQ(code_of(r), "cp.session_invalid");
    EXPECT_EQ(r.body().find(forged), std::string::npos) << "the token is never echoed";
  }

  // Logout ends it at once, although this process verified it before.
  auto out = h.call_bearer(bhttp::verb::post, "/admin/logout", token);
  ASSERT_EQ(out.result(), bhttp::status::ok) << out.body();
  EXPECT_NE(std::string(out[bhttp::field::set_cookie]).find("ee_session=; Path=/; Max-Age=0"), std::string::npos);
  EXPECT_EQ(code_of(admin_call(token)), "cp.session_invalid");
  EXPECT_EQ(h.call_bearer(bhttp::verb::post, "/admin/logout", token).result(), bhttp::status::unauthorized);

  // Expiry: refused at its end, and purged by the maintenance pass.
  auto const second = password_session(h);
  ASSERT_EQ(admin_call(second).result(), bhttp::status::ok);
  h.advance(std::chrono::hours(24));
  EXPECT_EQ(code_of(admin_call(second)), "cp.session_invalid");
  auto report = h.cp().run_maintenance();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->sessions_purged, 1u);
}

TEST_F(Sessions, ASessionIsNotACredentialForAgentOrWorkflowRoutes) {
  CpHarness h(options());
  auto const token = password_session(h);
  auto publish = h.call_bearer(bhttp::verb::post, "/api/v1/apps", token, "{}");
  EXPECT_EQ(publish.result(), bhttp::status::unauthorized) << publish.body();
  EXPECT_EQ(code_of(publish), "cp.missing_credentials");
  auto agent = h.agent("vm-session");
  h.register_ok(agent);
  auto beat = h.call_bearer(bhttp::verb::post, "/api/v1/agents/" + agent.agent_id + "/heartbeat", token, "{}");
  EXPECT_EQ(beat.result(), bhttp::status::unauthorized) << beat.body();
  // A password session has no GitHub identity: the owner routes are not for it.
  auto mine = h.call_bearer(bhttp::verb::get, "/api/v1/me/agents", token);
  EXPECT_EQ(mine.result(), bhttp::status::forbidden) << mine.body();
  EXPECT_EQ(code_of(mine), "cp.principal_not_allowed");
}

TEST_F(Sessions, CookieChangesFromAnotherSiteAreRefused) {
  CpHarness h(options());
  auto const token = password_session(h);
  auto const cookie = "ee_session=" + token;
  auto const host = h.cp().url().substr(std::string("http://").size());
  std::string const mrtd(96, 'c');
  auto const add = std::string(R"({"mrtd":")") + mrtd + R"("})";
  for (auto const& headers : std::vector<std::map<std::string, std::string>>{
           {{"Cookie", cookie}, {"Origin", "https://evil.example"}},
           {{"Cookie", cookie}, {"Sec-Fetch-Site", "cross-site"}},
           {{"Cookie", cookie}, {"Sec-Fetch-Site", "same-site"}},
           {{"Cookie", cookie}, {"Origin", "null"}}}) {
    auto r = h.call(bhttp::verb::post, "/api/v1/admin/trusted-mrtds", add, headers);
    EXPECT_EQ(r.result(), bhttp::status::forbidden) << r.body();
    EXPECT_EQ(code_of(r), "cp.cross_site_request");
  }
  // The console's own page: same origin.
  auto same = h.call(bhttp::verb::post, "/api/v1/admin/trusted-mrtds", add,
                     {{"Cookie", cookie}, {"Origin", "http://" + host}, {"Sec-Fetch-Site", "same-origin"}});
  EXPECT_EQ(same.result(), bhttp::status::created) << same.body();
  // A bearer token is not ambient: no origin check.
  auto bearer = h.call(bhttp::verb::delete_, "/api/v1/admin/trusted-mrtds/" + mrtd, "",
                       {{"Authorization", "Bearer " + token}, {"Origin", "https://evil.example"}});
  EXPECT_EQ(bearer.result(), bhttp::status::ok) << bearer.body();
  // Two session cookies (one tossed in by a sibling domain) are refused, not guessed between.
  auto tossed = h.call(bhttp::verb::get, "/auth/me", "", {{"Cookie", cookie + "; ee_session=ee_sess_tossedtossedtossedtossedtossedto"}});
  EXPECT_EQ(tossed.result(), bhttp::status::unauthorized) << tossed.body();
}

// --- GitHub OAuth ------------------------------------------------------------------------------------

TEST_F(Sessions, GithubSignInEndToEndGivesAnOwnerSessionInACookie) {
  CpHarness h(options());
  Browser browser;
  auto start = browser.call(h, bhttp::verb::get, "/auth/github");
  ASSERT_EQ(start.result(), bhttp::status::found) << start.body();
  auto const state = std::string(body(start).at("state").as_string());
  EXPECT_EQ(location(start), std::string(body(start).at("auth_url").as_string()));
  EXPECT_NE(location(start).find("client_id=ee-fake-oauth-client"), std::string::npos);
  EXPECT_NE(location(start).find("scope=read%3Aorg"), std::string::npos);
  EXPECT_EQ(std::string(start[bhttp::field::set_cookie]),
            "ee_oauth_state=" + state + "; Path=/auth/github/callback; Max-Age=600; Secure; HttpOnly; SameSite=Lax");

  auto const callback = consent_at_github(h, location(start), "Alice");
  auto done = browser.call(h, bhttp::verb::get, callback);
  ASSERT_EQ(done.result(), bhttp::status::see_other) << done.body();
  EXPECT_EQ(location(done), "/");
  EXPECT_FALSE(body(done).as_object().contains("token")) << "the token travels only in the cookie";
  ASSERT_TRUE(browser.cookies.contains("ee_session"));
  EXPECT_FALSE(browser.cookies.contains("ee_oauth_state")) << "the state cookie is cleared";

  auto me = browser.call(h, bhttp::verb::get, "/auth/me");
  ASSERT_EQ(me.result(), bhttp::status::ok) << me.body();
  auto const who = body(me);
  EXPECT_EQ(who.at("login").as_string(), "alice");
  EXPECT_EQ(who.at("github_id").as_string(), "1001");
  EXPECT_FALSE(who.at("admin").as_bool());
  EXPECT_EQ(who.at("method").as_string(), "github");
  ASSERT_EQ(who.at("orgs").as_array().size(), 2u);
  EXPECT_EQ(who.at("orgs").as_array()[0].at("login").as_string(), "octo-org");

  // An owner session is not the operator.
  auto admin = browser.call(h, bhttp::verb::get, "/api/v1/admin/trusted-mrtds");
  EXPECT_EQ(admin.result(), bhttp::status::forbidden) << admin.body();
  EXPECT_EQ(code_of(admin), "cp.principal_not_allowed");
}

TEST_F(Sessions, AnAdminGithubLoginGetsAnAdminSession) {
  CpHarness h(options());
  Browser browser;
  ASSERT_EQ(sign_in(h, browser, "carol-admin").result(), bhttp::status::see_other);
  auto admin = browser.call(h, bhttp::verb::get, "/api/v1/admin/trusted-mrtds");
  EXPECT_EQ(admin.result(), bhttp::status::ok) << admin.body();
  EXPECT_TRUE(body(browser.call(h, bhttp::verb::get, "/auth/me")).at("admin").as_bool());
}

TEST_F(Sessions, AStateIsSingleUseAndBoundToItsBrowser) {
  CpHarness h(options());
  Browser alice;
  auto start = alice.call(h, bhttp::verb::get, "/auth/github");
  auto const callback = consent_at_github(h, location(start), "Alice");
  auto const state_cookie = alice.cookies.at("ee_oauth_state");

  // Another browser (no state cookie, or its own) cannot complete Alice's sign-in: login CSRF.
  Browser mallory;
  auto stolen = mallory.call(h, bhttp::verb::get, callback);
  EXPECT_EQ(stolen.result(), bhttp::status::forbidden) << stolen.body();
  EXPECT_EQ(code_of(stolen), "cp.oauth_state_invalid");
  (void)mallory.call(h, bhttp::verb::get, "/auth/github");  // mallory's own state
  ASSERT_TRUE(mallory.cookies.contains("ee_oauth_state"));
  auto crossed = mallory.call(h, bhttp::verb::get, callback);
  EXPECT_EQ(code_of(crossed), "cp.oauth_state_invalid");
  EXPECT_EQ(github_->oauth_exchanges(), 0u) << "a refused state never reaches GitHub";

  // Alice completes it once; replaying the callback with the same cookie is refused.
  auto done = alice.call(h, bhttp::verb::get, callback);
  ASSERT_EQ(done.result(), bhttp::status::see_other) << done.body();
  Browser replay;
  replay.cookies["ee_oauth_state"] = state_cookie;
  auto again = replay.call(h, bhttp::verb::get, callback);
  EXPECT_EQ(again.result(), bhttp::status::forbidden) << again.body();
  EXPECT_EQ(code_of(again), "cp.oauth_state_invalid");
  EXPECT_FALSE(replay.cookies.contains("ee_session"));
}

TEST_F(Sessions, ForgedExpiredAndRefusedSignInsEndWithoutASession) {
  CpHarness h(options());
  // A state this CP never issued, with a matching cookie.
  Browser forger;
  auto const forged = std::string(54, 'A');
  forger.cookies["ee_oauth_state"] = forged;
  auto r = forger.call(h, bhttp::verb::get, "/auth/github/callback?code=abc&state=" + forged);
  EXPECT_EQ(code_of(r), "cp.oauth_state_invalid");

  // Too slow: the state expired.
  Browser slow;
  auto start = slow.call(h, bhttp::verb::get, "/auth/github");
  auto const callback = consent_at_github(h, location(start), "bob");
  h.advance(std::chrono::minutes(11));
  EXPECT_EQ(code_of(slow.call(h, bhttp::verb::get, callback)), "cp.oauth_state_invalid");

  // GitHub refuses the code (tampered): 502, no session.
  Browser tamper;
  auto start2 = tamper.call(h, bhttp::verb::get, "/auth/github");
  boost::urls::url back(consent_at_github(h, location(start2), "bob"));
  back.params().set("code", "not-the-code");
  auto refused = tamper.call(h, bhttp::verb::get, std::string(back.buffer()));
  EXPECT_EQ(refused.result(), bhttp::status::bad_gateway) << refused.body();
  EXPECT_EQ(code_of(refused), "cp.oauth_failed");
  EXPECT_FALSE(tamper.cookies.contains("ee_session"));

  // The user declined at GitHub.
  auto declined = tamper.call(h, bhttp::verb::get, "/auth/github/callback?error=access_denied&state=x");
  EXPECT_EQ(code_of(declined), "cp.oauth_failed");
}

TEST_F(Sessions, GithubSignInIsOffWhenNotSetUp) {
  CpHarness h(options(true, false));
  auto r = h.call(bhttp::verb::get, "/auth/github");
  EXPECT_EQ(r.result(), bhttp::status::service_unavailable) << r.body();
  EXPECT_EQ(code_of(r), "cp.logins_unavailable");
  auto methods = body(h.call(bhttp::verb::get, "/auth/methods"));
  EXPECT_TRUE(methods.at("password").as_bool());
  EXPECT_FALSE(methods.at("github").as_bool());
}

// --- linking an account by GitHub sign-in ---------------------------------------------------------

TEST_F(Sessions, AnAccountLinksToTheGithubIdentityItsHoldersSessionProves) {
  auto opts = options();
  auto const base = opts.customize;
  opts.customize = [base](ee::cp::Options& o) {
    base(o);
    o.server.rate_limits["account_creation"] = {.per_minute = 0, .burst = 1};
  };
  CpHarness h(opts);
  auto create = [&h](std::string const& name) {
    auto r = h.call(bhttp::verb::post, "/api/v1/accounts", R"({"name":")" + name + R"("})");
    EXPECT_EQ(r.result(), bhttp::status::created) << r.body();
    auto const b = body(r);
    return std::pair{std::string(b.at("id").as_string()), std::string(b.at("api_key").as_string())};
  };
  auto const [id, key] = create("alice-ci");
  auto const [other_id, other_key] = create("someone-else");
  Browser alice;
  ASSERT_EQ(sign_in(h, alice, "Alice").result(), bhttp::status::see_other);
  auto const session = alice.cookies.at("ee_session");
  auto link = [&h](std::string const& account, std::string const& with_key, std::string const& body_json) {
    return h.call_bearer(bhttp::verb::post, "/api/v1/accounts/" + account + "/identity", with_key, body_json);
  };

  // The user themself, then one of their organisations.
  auto as_user = link(id, key, R"({"session":")" + session + R"("})");
  ASSERT_EQ(as_user.result(), bhttp::status::ok) << as_user.body();
  EXPECT_EQ(body(as_user).at("github_login").as_string(), "alice");
  EXPECT_EQ(body(as_user).at("github_id").as_string(), "1001");
  EXPECT_EQ(body(as_user).at("github_org").as_string(), "");
  auto as_org = link(id, key, R"({"session":")" + session + R"(","org":"Octo-Org"})");
  ASSERT_EQ(as_org.result(), bhttp::status::ok) << as_org.body();
  EXPECT_EQ(body(as_org).at("github_login").as_string(), "octo-org");
  EXPECT_EQ(body(as_org).at("github_id").as_string(), "654321");
  EXPECT_EQ(body(as_org).at("github_org").as_string(), "octo-org");

  // An organisation GitHub did not list for her, a forged or password session, a mixed body, and
  // another account's key: nothing is linked.
  auto not_member = link(id, key, R"({"session":")" + session + R"(","org":"other-org"})");
  EXPECT_EQ(not_member.result(), bhttp::status::forbidden) << not_member.body();
  EXPECT_EQ(code_of(not_member), "cp.owner_mismatch");
  auto forged = link(id, key, R"({"session":"ee_sess_)" + std::string(32, 'Q') + R"("})");
  EXPECT_EQ(code_of(forged), "cp.session_invalid");
  auto password = link(id, key, R"({"session":")" + password_session(h) + R"("})");
  EXPECT_EQ(code_of(password), "cp.principal_not_allowed");
  EXPECT_EQ(link(id, key, R"({"session":")" + session + R"(","token":"x"})").result(), bhttp::status::bad_request);
  EXPECT_EQ(link(id, key, R"({"token":"x","org":"octo-org"})").result(), bhttp::status::bad_request);
  EXPECT_EQ(link(id, key, R"({})").result(), bhttp::status::bad_request);
  EXPECT_EQ(link(id, other_key, R"({"session":")" + session + R"("})").result(), bhttp::status::not_found);
  auto const still = body(h.call_bearer(bhttp::verb::get, "/api/v1/accounts/" + id, key));
  EXPECT_EQ(still.at("github_login").as_string(), "octo-org");
  auto const other = body(h.call_bearer(bhttp::verb::get, "/api/v1/accounts/" + other_id, other_key));
  EXPECT_EQ(other.at("github_login").as_string(), "");
}

// --- owners' own --------------------------------------------------------------------------------------

class OwnerRoutes : public Sessions {
 protected:
  // alice (octo-org) owns agent `a`; bob (other-org) owns agent `b`.
  void register_agents(CpHarness& h) {
    alice_agent_.emplace(h.agent("vm-alice"));
    alice_agent_->owner = "github:org/octo-org";
    h.register_ok(*alice_agent_);
    bob_agent_.emplace(h.agent("vm-bob"));
    bob_agent_->owner = "github:org/other-org";
    h.register_ok(*bob_agent_);
    a_ = alice_agent_->agent_id;
    b_ = bob_agent_->agent_id;
  }
  std::optional<ee::test::TestAgent> alice_agent_, bob_agent_;
  std::string a_, b_;
};

TEST_F(OwnerRoutes, EachOwnerSeesOnlyTheirOwnOnEveryMeRoute) {
  CpHarness h(options());
  register_agents(h);
  Browser alice, bob;
  ASSERT_EQ(sign_in(h, alice, "Alice").result(), bhttp::status::see_other);
  ASSERT_EQ(sign_in(h, bob, "bob").result(), bhttp::status::see_other);

  struct Case {
    Browser* browser;
    std::string mine, theirs;
  };
  for (auto const& c : {Case{&alice, a_, b_}, Case{&bob, b_, a_}}) {
    auto list = c.browser->call(h, bhttp::verb::get, "/api/v1/me/agents");
    ASSERT_EQ(list.result(), bhttp::status::ok) << list.body();
    auto const agents = body(list);
    ASSERT_EQ(agents.as_array().size(), 1u) << list.body();
    EXPECT_EQ(agents.as_array()[0].at("agent_id").as_string(), c.mine);
    EXPECT_EQ(c.browser->call(h, bhttp::verb::get, "/api/v1/me/agents/" + c.mine).result(), bhttp::status::ok);
    // Another owner's agent is exactly as absent as one that does not exist.
    auto theirs = c.browser->call(h, bhttp::verb::get, "/api/v1/me/agents/" + c.theirs);
    auto unknown = c.browser->call(h, bhttp::verb::get, "/api/v1/me/agents/00000000-0000-4000-8000-000000000000");
    EXPECT_EQ(theirs.result(), bhttp::status::not_found) << theirs.body();
    EXPECT_EQ(unknown.result(), bhttp::status::not_found);
    EXPECT_EQ(code_of(theirs), code_of(unknown));
    auto deployments = c.browser->call(h, bhttp::verb::get, "/api/v1/me/deployments");
    ASSERT_EQ(deployments.result(), bhttp::status::ok) << deployments.body();
    auto const listed = body(deployments);
    for (auto const& d : listed.as_array()) EXPECT_EQ(d.at("agent_id").as_string(), c.mine);
    // Console tokens and resets: another owner's agent is as absent as an unknown one.
    for (auto const* action : {"/console-access", "/reset"}) {
      auto refused = c.browser->call(h, bhttp::verb::post, "/api/v1/me/agents/" + c.theirs + action, "{}");
      EXPECT_EQ(refused.result(), bhttp::status::not_found) << action << " " << refused.body();
    }
    auto console = c.browser->call(h, bhttp::verb::post, "/api/v1/me/agents/" + c.mine + "/console-access",
                                   R"({"ttl_seconds":900})");
    ASSERT_EQ(console.result(), bhttp::status::ok) << console.body();
    EXPECT_EQ(console[bhttp::field::cache_control], "no-store");
    auto const minted = body(console);
    EXPECT_EQ(minted.at("agent_id").as_string(), c.mine);
    EXPECT_FALSE(minted.at("token").as_string().empty());
    auto reset = c.browser->call(h, bhttp::verb::post, "/api/v1/me/agents/" + c.mine + "/reset", "{}");
    ASSERT_EQ(reset.result(), bhttp::status::ok) << reset.body();
    EXPECT_EQ(body(reset).at("agent").at("agent_id").as_string(), c.mine);
    // The owner routes that existed before sessions take them too, for their own agents only.
    // (Admitted: what the fake agent answers is not this test's business.)
    auto const own_logs = c.browser->call(h, bhttp::verb::get, "/api/v1/agents/" + c.mine + "/logs");
    EXPECT_NE(own_logs.result(), bhttp::status::unauthorized) << own_logs.body();
    EXPECT_NE(own_logs.result(), bhttp::status::forbidden) << own_logs.body();
    auto other_logs = c.browser->call(h, bhttp::verb::get, "/api/v1/agents/" + c.theirs + "/logs");
    EXPECT_EQ(other_logs.result(), bhttp::status::forbidden) << other_logs.body();
    EXPECT_EQ(code_of(other_logs), "cp.owner_mismatch");
  }
}

TEST_F(OwnerRoutes, AWorkflowTokenSeesItsOwnersAgents) {
  CpHarness h(options());
  register_agents(h);
  auto list = h.call_bearer(bhttp::verb::get, "/api/v1/me/agents", h.github_token("octo-org/hello"));
  ASSERT_EQ(list.result(), bhttp::status::ok) << list.body();
  auto const agents = body(list);
  ASSERT_EQ(agents.as_array().size(), 1u);
  EXPECT_EQ(agents.as_array()[0].at("agent_id").as_string(), a_);
  auto other = h.call_bearer(bhttp::verb::get, "/api/v1/me/agents/" + b_, h.github_token("octo-org/hello"));
  EXPECT_EQ(other.result(), bhttp::status::not_found);
  EXPECT_EQ(h.call(bhttp::verb::get, "/api/v1/me/agents").result(), bhttp::status::unauthorized);
}

TEST_F(OwnerRoutes, ARecreatedOrganisationInheritsNothing) {
  CpHarness h(options());
  register_agents(h);
  // The agent's owner was proven as organisation id 999; alice's octo-org is id 654321, the same
  // name re-created by someone else.
  auto record = h.stores().agents->get(a_).value();
  record.owner_id = "999";
  ASSERT_TRUE(h.stores().agents->update(record));
  Browser alice;
  ASSERT_EQ(sign_in(h, alice, "Alice").result(), bhttp::status::see_other);
  auto const none = body(alice.call(h, bhttp::verb::get, "/api/v1/me/agents"));
  EXPECT_TRUE(none.as_array().empty());
  EXPECT_EQ(alice.call(h, bhttp::verb::get, "/api/v1/me/agents/" + a_).result(), bhttp::status::not_found);
  EXPECT_EQ(alice.call(h, bhttp::verb::get, "/api/v1/agents/" + a_ + "/logs").result(), bhttp::status::forbidden);
}

}  // namespace
