// Accounts and API keys over real HTTP: a key's whole life (create, use, rotate, delete), keys
// that are wrong in each way, one account's key against another account, linking a GitHub
// identity and deploying with a linked deployer's key, admin-only creation and its rate limit.
// Written as an outsider who can create accounts freely would attack them: link to someone else's
// identity, deploy to someone else's agent, enumerate accounts, learn a key from logs or errors.
#include "cp/cp_harness.hpp"
#include "cp/secrets.hpp"

#include <easyenclave/log.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <mutex>
#include <regex>
#include <tuple>
#include <string>
#include <vector>

namespace {

using ee::test::CpHarness;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;

bj::value body(ee::http::Response const& r) { return bj::parse(r.body()); }

// A harness whose account creation is not rate limited (the tests that are about the limit set
// their own), plus `more`.
ee::test::HarnessOptions unlimited(std::function<void(ee::cp::Options&)> more = {}) {
  return {.customize = [more](ee::cp::Options& o) {
    o.server.rate_limits["account_creation"].per_minute = 0;
    if (more) more(o);
  }};
}
std::string code(ee::http::Response const& r) {
  auto const v = bj::parse(r.body());
  return v.is_object() && v.as_object().contains("code") ? std::string(v.at("code").as_string()) : "";
}

struct Account {
  std::string id;
  std::string key;
};

Account create(CpHarness& h, std::string const& name, std::string const& type = "deployer",
               std::string const& bearer = "") {
  std::string const request = R"({"name":")" + name + R"(","type":")" + type + R"("})";
  auto created = bearer.empty() ? h.call(bhttp::verb::post, "/api/v1/accounts", request)
                                : h.call_bearer(bhttp::verb::post, "/api/v1/accounts", bearer, request);
  EXPECT_EQ(created.result(), bhttp::status::created) << created.body();
  if (created.result() != bhttp::status::created) return {};
  auto const b = body(created);
  return {std::string(b.at("id").as_string()), std::string(b.at("api_key").as_string())};
}

// A GitHub Actions token of `owner` (id `owner_id`) minted for `audience`.
std::string token_of(CpHarness& h, std::string const& owner, std::string const& owner_id, std::string audience) {
  ee::test::GithubTokenRequest request;
  request.repository = owner + "/ci";
  request.repository_owner_id = owner_id;
  request.audience = std::move(audience);
  return h.github().mint(request);
}

ee::http::Response link(CpHarness& h, Account const& a, std::string const& token, std::string const& bearer = "") {
  return h.call_bearer(bhttp::verb::post, "/api/v1/accounts/" + a.id + "/identity", bearer.empty() ? a.key : bearer,
                       R"({"token":")" + token + R"("})");
}

// Links `a` to `owner`/`owner_id` with a token minted for it, expecting success.
void link_ok(CpHarness& h, Account const& a, std::string const& owner, std::string const& owner_id) {
  auto linked = link(h, a, token_of(h, owner, owner_id, "easyenclave/accounts/" + a.id));
  ASSERT_EQ(linked.result(), bhttp::status::ok) << linked.body();
}

ee::http::Response get(CpHarness& h, std::string const& id, std::string const& bearer) {
  return h.call_bearer(bhttp::verb::get, "/api/v1/accounts/" + id, bearer);
}

// Every log line while alive.
class LogCapture {
 public:
  LogCapture() {
    ee::log::set_level(ee::log::Level::debug);
    ee::log::set_sink([this](ee::log::Level, std::string_view component, std::string_view message) {
      std::lock_guard lock(mutex_);
      lines_.push_back(std::string(component) + ": " + std::string(message));
    });
  }
  ~LogCapture() { ee::log::set_sink({}); }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  bool contains(std::string const& text) const {
    for (auto const& line : lines())
      if (line.find(text) != std::string::npos) return true;
    return false;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

TEST(CpAccounts, KeyLifecycleCreateUseRotateDelete) {
  CpHarness h(unlimited());
  auto created = h.call(bhttp::verb::post, "/api/v1/accounts", R"({"name":"acme-ci"})");
  ASSERT_EQ(created.result(), bhttp::status::created) << created.body();
  EXPECT_EQ(created[bhttp::field::cache_control], "no-store");
  auto const b = body(created);
  std::string const id(b.at("id").as_string());
  std::string const key(b.at("api_key").as_string());
  EXPECT_TRUE(std::regex_match(key, std::regex("ee_live_[A-Za-z0-9]{32}"))) << key;
  EXPECT_EQ(b.at("type").as_string(), "deployer");
  EXPECT_EQ(b.at("api_key_prefix").as_string(), key.substr(0, 12));
  EXPECT_EQ(b.at("github_id").as_string(), "");
  EXPECT_EQ(created.body().find("argon2"), std::string::npos) << "the hash is never shown";

  // Used twice: the second time from the cache of verified keys.
  for (int i = 0; i < 2; ++i) {
    auto mine = get(h, id, key);
    ASSERT_EQ(mine.result(), bhttp::status::ok) << mine.body();
    EXPECT_EQ(body(mine).at("name").as_string(), "acme-ci");
    EXPECT_EQ(mine.body().find(key), std::string::npos) << "the key is answered only once";
    EXPECT_EQ(mine.body().find("argon2"), std::string::npos);
  }

  auto rotated = h.call_bearer(bhttp::verb::post, "/api/v1/accounts/" + id + "/api-key/rotate", key);
  ASSERT_EQ(rotated.result(), bhttp::status::ok) << rotated.body();
  EXPECT_EQ(rotated[bhttp::field::cache_control], "no-store");
  std::string const new_key(body(rotated).at("api_key").as_string());
  EXPECT_NE(new_key, key);
  // The old key, cached a moment ago, is dead at once; the new one works.
  auto old = get(h, id, key);
  EXPECT_EQ(old.result(), bhttp::status::unauthorized) << old.body();
  EXPECT_EQ(code(old), "cp.bad_api_key");
  EXPECT_EQ(get(h, id, new_key).result(), bhttp::status::ok);
  EXPECT_EQ(get(h, id, new_key).result(), bhttp::status::ok);

  auto removed = h.call_bearer(bhttp::verb::delete_, "/api/v1/accounts/" + id, new_key);
  ASSERT_EQ(removed.result(), bhttp::status::ok) << removed.body();
  auto after = get(h, id, new_key);
  EXPECT_EQ(after.result(), bhttp::status::unauthorized) << after.body();
  EXPECT_EQ(code(after), "cp.bad_api_key");
  EXPECT_EQ(get(h, id, h.admin_token()).result(), bhttp::status::not_found);
}

TEST(CpAccounts, ARotationOnOneReplicaKillsTheKeyCachedByAnother) {
  CpHarness first(unlimited());
  // A second CP on the same registry, with its own cache of verified keys.
  auto const shared = first.stores();
  CpHarness second(unlimited([shared](ee::cp::Options& o) { o.stores = shared; }));
  auto const a = create(first, "alpha");
  ASSERT_EQ(get(second, a.id, a.key).result(), bhttp::status::ok);  // now cached by the second
  auto rotated = first.call_bearer(bhttp::verb::post, "/api/v1/accounts/" + a.id + "/api-key/rotate", a.key);
  ASSERT_EQ(rotated.result(), bhttp::status::ok);
  EXPECT_EQ(get(second, a.id, a.key).result(), bhttp::status::unauthorized);
  // Even were the new key to share the old one's prefix, the cache is keyed by the stored hash:
  // a row that keeps the prefix but holds another hash refuses the cached key.
  auto const b = create(first, "beta");
  ASSERT_EQ(get(second, b.id, b.key).result(), bhttp::status::ok);
  auto const other_hash = ee::cp::hash_secret(ee::cp::new_secret("ee_live_"), ee::cp::Argon2Params{}).value();
  ASSERT_TRUE(shared.accounts->replace_key(b.id, b.key.substr(0, 12), other_hash));
  auto const refused = get(second, b.id, b.key);
  EXPECT_EQ(refused.result(), bhttp::status::unauthorized) << refused.body();
  EXPECT_EQ(code(refused), "cp.bad_api_key");
}

TEST(CpAccounts, WrongPrefixAndRightPrefixWithWrongSecretAreRefusedAlike) {
  CpHarness h(unlimited());
  auto const a = create(h, "alpha");
  auto const unknown_prefix = "ee_live_" + std::string(32, 'Z');
  auto wrong_secret = a.key.substr(0, 12) + std::string(28, a.key[12] == 'x' ? 'y' : 'x');
  ASSERT_EQ(wrong_secret.size(), a.key.size());
  auto const r1 = get(h, a.id, unknown_prefix);
  auto const r2 = get(h, a.id, wrong_secret);
  for (auto const* r : {&r1, &r2}) {
    EXPECT_EQ(r->result(), bhttp::status::unauthorized) << r->body();
    EXPECT_EQ(code(*r), "cp.bad_api_key");
  }
  // The same message: the answer does not say whether the prefix exists.
  EXPECT_EQ(body(r1).at("message"), body(r2).at("message"));
  // Malformed keys: too short, too long, a foreign character. Never read as a JWT.
  for (auto const& bad : {std::string("ee_live_short"), a.key + "0", a.key.substr(0, 39) + "!", std::string("ee_live_")}) {
    auto r = get(h, a.id, bad);
    EXPECT_EQ(r.result(), bhttp::status::unauthorized) << bad << " " << r.body();
    EXPECT_EQ(code(r), "cp.bad_api_key") << bad;
  }
  // A key on a route that takes only a workflow's token is not verified as a JWT either.
  auto on_workflow_route = h.call_bearer(bhttp::verb::get, "/api/v1/owners/bootstrap-tokens", a.key);
  EXPECT_EQ(on_workflow_route.result(), bhttp::status::unauthorized) << on_workflow_route.body();
  EXPECT_EQ(code(on_workflow_route), "cp.missing_credentials");
  // The right key still works.
  EXPECT_EQ(get(h, a.id, a.key).result(), bhttp::status::ok);
}

TEST(CpAccounts, AKeyOfOneAccountFindsNoOtherAccount) {
  CpHarness h(unlimited());
  auto const a = create(h, "alpha");
  auto const b = create(h, "beta");
  // Another account's id is answered exactly like an id that does not exist.
  auto const other = get(h, b.id, a.key);
  auto const missing = get(h, "00000000-0000-4000-8000-000000000000", a.key);
  EXPECT_EQ(other.result(), bhttp::status::not_found) << other.body();
  EXPECT_EQ(missing.result(), bhttp::status::not_found) << missing.body();
  EXPECT_EQ(code(other), code(missing));
  EXPECT_EQ(other.body().find("beta"), std::string::npos);
  for (auto [verb, path] : {std::pair{bhttp::verb::post, "/api-key/rotate"}, {bhttp::verb::delete_, ""},
                            {bhttp::verb::post, "/identity"}}) {
    auto r = h.call_bearer(verb, "/api/v1/accounts/" + b.id + path, a.key, "{}");
    EXPECT_EQ(r.result(), bhttp::status::not_found) << path << " " << r.body();
  }
  // Nothing of b changed: its key works and is the same.
  auto const still = get(h, b.id, b.key);
  ASSERT_EQ(still.result(), bhttp::status::ok) << still.body();
  EXPECT_EQ(body(still).at("api_key_prefix").as_string(), b.key.substr(0, 12));
  // Listing every account is the admin's alone.
  EXPECT_EQ(h.call_bearer(bhttp::verb::get, "/api/v1/accounts", a.key).result(), bhttp::status::unauthorized);
  EXPECT_EQ(h.call(bhttp::verb::get, "/api/v1/accounts").result(), bhttp::status::unauthorized);
}

TEST(CpAccounts, TheAdminListsFiltersAndManagesAnyAccount) {
  CpHarness h(unlimited());
  auto const a = create(h, "alpha");
  auto const b = create(h, "beta", "contributor");
  auto const l = create(h, "gamma", "launcher", h.admin_token());
  auto all = h.call_bearer(bhttp::verb::get, "/api/v1/accounts", h.admin_token());
  ASSERT_EQ(all.result(), bhttp::status::ok) << all.body();
  EXPECT_EQ(body(all).as_array().size(), 3u);
  EXPECT_EQ(all.body().find("argon2"), std::string::npos);
  auto by_type = body(h.call_bearer(bhttp::verb::get, "/api/v1/accounts?type=contributor", h.admin_token()));
  ASSERT_EQ(by_type.as_array().size(), 1u);
  EXPECT_EQ(by_type.as_array()[0].at("id").as_string(), b.id);
  auto by_name = body(h.call_bearer(bhttp::verb::get, "/api/v1/accounts?name=gamma", h.admin_token()));
  ASSERT_EQ(by_name.as_array().size(), 1u);
  EXPECT_EQ(by_name.as_array()[0].at("type").as_string(), "launcher");
  auto paged = body(h.call_bearer(bhttp::verb::get, "/api/v1/accounts?limit=1&offset=1", h.admin_token()));
  ASSERT_EQ(paged.as_array().size(), 1u);
  EXPECT_EQ(h.call_bearer(bhttp::verb::get, "/api/v1/accounts?type=root", h.admin_token()).result(),
            bhttp::status::bad_request);
  EXPECT_EQ(get(h, a.id, h.admin_token()).result(), bhttp::status::ok);
  // The admin rotates a's key: a's old key is dead, the new one works.
  auto rotated = h.call_bearer(bhttp::verb::post, "/api/v1/accounts/" + a.id + "/api-key/rotate", h.admin_token());
  ASSERT_EQ(rotated.result(), bhttp::status::ok) << rotated.body();
  EXPECT_EQ(get(h, a.id, a.key).result(), bhttp::status::unauthorized);
  EXPECT_EQ(get(h, a.id, std::string(body(rotated).at("api_key").as_string())).result(), bhttp::status::ok);
  ASSERT_EQ(h.call_bearer(bhttp::verb::delete_, "/api/v1/accounts/" + l.id, h.admin_token()).result(),
            bhttp::status::ok);
  EXPECT_EQ(get(h, l.id, l.key).result(), bhttp::status::unauthorized);
}

TEST(CpAccounts, CreationChecksTheBody) {
  CpHarness h(unlimited());
  for (auto const& bad : {R"({})", R"({"name":""})", R"({"name":"Alice"})", R"({"name":"-x"})", R"({"name":"a b"})",
                          R"({"name":"a","type":"root"})", R"({"name":"a","extra":1})", R"({"name":7})", R"([1])",
                          "not json"}) {
    auto r = h.call(bhttp::verb::post, "/api/v1/accounts", bad);
    EXPECT_EQ(r.result(), bhttp::status::bad_request) << bad << " " << r.body();
  }
  auto long_name = h.call(bhttp::verb::post, "/api/v1/accounts", R"({"name":")" + std::string(65, 'a') + R"("})");
  EXPECT_EQ(long_name.result(), bhttp::status::bad_request);
  create(h, "taken");
  auto again = h.call(bhttp::verb::post, "/api/v1/accounts", R"({"name":"taken"})");
  EXPECT_EQ(again.result(), bhttp::status::conflict) << again.body();
  EXPECT_EQ(again.body().find("ee_live_"), std::string::npos);
}

TEST(CpAccounts, OnlyTheAdminCreatesLauncherAccounts) {
  CpHarness h(unlimited());
  auto const a = create(h, "alpha");
  auto anonymous = h.call(bhttp::verb::post, "/api/v1/accounts", R"({"name":"launch","type":"launcher"})");
  EXPECT_EQ(anonymous.result(), bhttp::status::forbidden) << anonymous.body();
  auto with_key = h.call_bearer(bhttp::verb::post, "/api/v1/accounts", a.key, R"({"name":"launch","type":"launcher"})");
  EXPECT_EQ(with_key.result(), bhttp::status::forbidden) << with_key.body();
  create(h, "launch", "launcher", h.admin_token());
}

TEST(CpAccounts, AdminOnlyCreationAdmitsOnlyTheAdminToken) {
  CpHarness h(unlimited([](ee::cp::Options& o) { o.accounts.admin_only_creation = true; }));
  auto const anonymous = h.call(bhttp::verb::post, "/api/v1/accounts", R"({"name":"alpha"})");
  EXPECT_EQ(anonymous.result(), bhttp::status::unauthorized) << anonymous.body();
  EXPECT_EQ(code(anonymous), "cp.missing_credentials");
  auto const wrong = h.call_bearer(bhttp::verb::post, "/api/v1/accounts", "not-the-admin", R"({"name":"alpha"})");
  EXPECT_EQ(wrong.result(), bhttp::status::unauthorized) << wrong.body();
  EXPECT_EQ(code(wrong), "cp.bad_admin_token");
  auto const workflow =
      h.call_bearer(bhttp::verb::post, "/api/v1/accounts", h.github_token("octo-org/hello"), R"({"name":"alpha"})");
  EXPECT_EQ(workflow.result(), bhttp::status::unauthorized) << workflow.body();
  auto const a = create(h, "alpha", "deployer", h.admin_token());
  // An account's own key does not make more accounts either.
  auto const with_key = h.call_bearer(bhttp::verb::post, "/api/v1/accounts", a.key, R"({"name":"beta"})");
  EXPECT_EQ(with_key.result(), bhttp::status::unauthorized) << with_key.body();
  EXPECT_EQ(get(h, a.id, a.key).result(), bhttp::status::ok);
}

TEST(CpAccounts, AdminOnlyCreationWithoutAnAdminTokenIsDisabled) {
  CpHarness h(ee::test::HarnessOptions{.customize = [](ee::cp::Options& o) {
    o.accounts.admin_only_creation = true;
    o.admin_token.clear();
  }});
  auto const r = h.call(bhttp::verb::post, "/api/v1/accounts", R"({"name":"alpha"})");
  EXPECT_EQ(r.result(), bhttp::status::forbidden) << r.body();
  EXPECT_EQ(code(r), "cp.admin_disabled");
}

TEST(CpAccounts, CreationIsRateLimitedPerClientAddress) {
  CpHarness h(ee::test::HarnessOptions{.customize = [](ee::cp::Options& o) {
    o.server.rate_limits["account_creation"] = ee::http::RateLimit{.per_minute = 1, .burst = 3};
  }});
  for (int i = 0; i < 3; ++i) create(h, "acct-" + std::to_string(i));
  auto const fourth = h.call(bhttp::verb::post, "/api/v1/accounts", R"({"name":"acct-3"})");
  EXPECT_EQ(fourth.result(), bhttp::status::too_many_requests) << fourth.body();
  EXPECT_FALSE(fourth[bhttp::field::retry_after].empty());
  // A malformed body is counted too: the limit runs before the handler.
  EXPECT_EQ(h.call(bhttp::verb::post, "/api/v1/accounts", "{}").result(), bhttp::status::too_many_requests);
  // The other routes are in their own classes: the accounts made still work.
  EXPECT_EQ(h.call(bhttp::verb::get, "/api/v1/agents").result(), bhttp::status::ok);
}

TEST(CpAccounts, TheDefaultCreationLimitAppliesWithoutSettings) {
  CpHarness h;  // the options name no account_creation class: start defines 2 a minute after 5
  int created = 0;
  int limited = 0;
  for (int i = 0; i < 7; ++i) {
    auto r = h.call(bhttp::verb::post, "/api/v1/accounts", R"({"name":"n)" + std::to_string(i) + R"("})");
    if (r.result() == bhttp::status::created) ++created;
    if (r.result() == bhttp::status::too_many_requests) ++limited;
  }
  EXPECT_EQ(created, 5);
  EXPECT_EQ(limited, 2);
}

TEST(CpAccounts, LinkingNeedsATokenMintedForThisAccount) {
  CpHarness h(unlimited());
  auto const mallory = create(h, "mallory");
  auto const victim = create(h, "victim");
  // A deploy token of the victim's owner (audience "easyenclave"), as a proxy or a log could leak
  // it: it links nothing.
  auto const deploy_token = token_of(h, "victim-org", "777", "easyenclave");
  auto const r1 = link(h, mallory, deploy_token);
  EXPECT_EQ(r1.result(), bhttp::status::unauthorized) << r1.body();
  EXPECT_EQ(code(r1), "jwt.audience_mismatch");
  // A token the victim minted for the victim's own account: not for mallory's.
  auto const victims_link = token_of(h, "victim-org", "777", "easyenclave/accounts/" + victim.id);
  auto const r2 = link(h, mallory, victims_link);
  EXPECT_EQ(r2.result(), bhttp::status::unauthorized) << r2.body();
  // Nor can mallory present it on the victim's account: mallory's key finds no such account.
  auto const r3 = h.call_bearer(bhttp::verb::post, "/api/v1/accounts/" + victim.id + "/identity", mallory.key,
                                R"({"token":")" + victims_link + R"("})");
  EXPECT_EQ(r3.result(), bhttp::status::not_found) << r3.body();
  // A token of another issuer's keys, a garbage token and a missing one are refused.
  EXPECT_EQ(link(h, mallory, "not-a-jwt").result(), bhttp::status::bad_request);
  auto const no_token = h.call_bearer(bhttp::verb::post, "/api/v1/accounts/" + mallory.id + "/identity", mallory.key, "{}");
  EXPECT_EQ(no_token.result(), bhttp::status::bad_request) << no_token.body();
  auto const mallory_now = body(get(h, mallory.id, mallory.key));
  EXPECT_EQ(mallory_now.at("github_id").as_string(), "");
  // The victim links its own account with its own token.
  auto const linked = link(h, victim, victims_link);
  ASSERT_EQ(linked.result(), bhttp::status::ok) << linked.body();
  EXPECT_EQ(body(linked).at("github_login").as_string(), "victim-org");
  EXPECT_EQ(body(linked).at("github_id").as_string(), "777");
  // The admin may link any account, with a token minted for that account.
  auto const by_admin = link(h, mallory, token_of(h, "Mallory-Org", "888", "easyenclave/accounts/" + mallory.id),
                             h.admin_token());
  ASSERT_EQ(by_admin.result(), bhttp::status::ok) << by_admin.body();
  EXPECT_EQ(body(by_admin).at("github_login").as_string(), "mallory-org");
}

// Deploys with keys: the owner's linked deployer deploys; nobody else's key reaches the agent.
class KeyDeploy : public ::testing::Test {
 protected:
  void SetUp() override {
    auto published = h_.publish(h_.github_token("octo-org/hello"), "hello");
    ASSERT_EQ(published.result(), bhttp::status::created) << published.body();
    h_.register_ok(agent_);
    // The agent's owner was proven by id (as with a bootstrap token): the owner id must match too.
    auto record = h_.stores().agents->get(agent_.agent_id).value();
    record.owner_id = "654321";
    ASSERT_TRUE(h_.stores().agents->update(record));
  }

  ee::http::Response deploy(std::string const& key) {
    return h_.call_bearer(bhttp::verb::post, "/api/v1/deploy", key,
                          R"({"app_name":"hello","version":"1.0.0","agent_id":")" + agent_.agent_id + R"("})");
  }

  CpHarness h_{unlimited()};
  ee::test::TestAgent agent_ = h_.agent("vm-keys");
};

TEST_F(KeyDeploy, ADeployerLinkedToTheOwnerDeploys) {
  auto const a = create(h_, "octo-ci");
  link_ok(h_, a, "octo-org", "654321");
  auto const deployed = deploy(a.key);
  ASSERT_EQ(deployed.result(), bhttp::status::ok) << deployed.body();
  ASSERT_EQ(agent_.api->deploys().size(), 1u);
  auto const d = body(h_.call(bhttp::verb::get, "/api/v1/deployments/" +
                                                    std::string(body(deployed).at("deployment_id").as_string())));
  EXPECT_EQ(d.at("requested_by").as_string(), "account:octo-ci");
}

TEST_F(KeyDeploy, AnUnlinkedDeployerIsRefused) {
  auto const a = create(h_, "unlinked");
  auto const r = deploy(a.key);
  EXPECT_EQ(r.result(), bhttp::status::forbidden) << r.body();
  EXPECT_EQ(code(r), "cp.principal_not_allowed");
  EXPECT_NE(r.body().find("not linked"), std::string::npos) << r.body();
  EXPECT_TRUE(agent_.api->deploys().empty());
}

TEST_F(KeyDeploy, ADeployerOfAnotherOwnerIsRefused) {
  auto const a = create(h_, "evil-ci");
  link_ok(h_, a, "evil-org", "111111");
  auto const named = deploy(a.key);
  EXPECT_EQ(named.result(), bhttp::status::forbidden) << named.body();
  EXPECT_EQ(code(named), "cp.owner_mismatch");
  auto const any = h_.call_bearer(bhttp::verb::post, "/api/v1/deploy", a.key, R"({"app_name":"hello","version":"1.0.0"})");
  EXPECT_EQ(any.result(), bhttp::status::conflict) << any.body();
  EXPECT_EQ(code(any), "cp.no_eligible_agent");
  EXPECT_TRUE(agent_.api->deploys().empty());
}

TEST_F(KeyDeploy, TheOwnersLoginWithAnotherIdIsRefused) {
  // A re-created organisation of the same name (another numeric id) inherits nothing.
  auto const a = create(h_, "squatter");
  link_ok(h_, a, "octo-org", "999999");
  auto const r = deploy(a.key);
  EXPECT_EQ(r.result(), bhttp::status::forbidden) << r.body();
  EXPECT_EQ(code(r), "cp.owner_mismatch");
  EXPECT_TRUE(agent_.api->deploys().empty());
}

TEST_F(KeyDeploy, OtherAccountTypesAreRefusedEvenWhenLinked) {
  auto const contributor = create(h_, "contrib", "contributor");
  link_ok(h_, contributor, "octo-org", "654321");
  auto const launcher = create(h_, "launcher", "launcher", h_.admin_token());
  link_ok(h_, launcher, "octo-org", "654321");
  for (auto const* key : {&contributor.key, &launcher.key}) {
    auto const r = deploy(*key);
    EXPECT_EQ(r.result(), bhttp::status::forbidden) << r.body();
    EXPECT_EQ(code(r), "cp.principal_not_allowed");
  }
  // Nor may a deployer key use the workflow-only routes (publishing, bootstrap tokens).
  auto const a = create(h_, "octo-ci");
  link_ok(h_, a, "octo-org", "654321");
  EXPECT_EQ(h_.call_bearer(bhttp::verb::post, "/api/v1/owners/bootstrap-tokens", a.key, "{}").result(),
            bhttp::status::unauthorized);
  EXPECT_EQ(h_.publish(a.key, "other-app").result(), bhttp::status::unauthorized);
  EXPECT_TRUE(agent_.api->deploys().empty());
}

TEST_F(KeyDeploy, ARotatedOrDeletedKeyNoLongerDeploys) {
  auto const a = create(h_, "octo-ci");
  link_ok(h_, a, "octo-org", "654321");
  auto const dry = h_.call_bearer(bhttp::verb::post, "/api/v1/deploy", a.key,
                                  R"({"app_name":"hello","version":"1.0.0","dry_run":true})");
  ASSERT_EQ(dry.result(), bhttp::status::ok) << dry.body();
  auto rotated = h_.call_bearer(bhttp::verb::post, "/api/v1/accounts/" + a.id + "/api-key/rotate", a.key);
  ASSERT_EQ(rotated.result(), bhttp::status::ok);
  EXPECT_EQ(deploy(a.key).result(), bhttp::status::unauthorized);
  std::string const new_key(body(rotated).at("api_key").as_string());
  ASSERT_EQ(h_.call_bearer(bhttp::verb::delete_, "/api/v1/accounts/" + a.id, new_key).result(), bhttp::status::ok);
  EXPECT_EQ(deploy(new_key).result(), bhttp::status::unauthorized);
  EXPECT_TRUE(agent_.api->deploys().empty());
}

TEST(CpAccounts, KeysNeverReachTheLogOrErrorBodies) {
  LogCapture logs;
  CpHarness h(unlimited());
  auto const a = create(h, "alpha");
  ASSERT_EQ(get(h, a.id, a.key).result(), bhttp::status::ok);
  std::string const wrong = a.key.substr(0, 12) + std::string(28, a.key[12] == 'q' ? 'r' : 'q');
  auto const refused = get(h, a.id, wrong);
  EXPECT_EQ(refused.body().find(wrong), std::string::npos);
  EXPECT_EQ(refused.body().find(wrong.substr(12)), std::string::npos);
  auto rotated = h.call_bearer(bhttp::verb::post, "/api/v1/accounts/" + a.id + "/api-key/rotate", a.key);
  ASSERT_EQ(rotated.result(), bhttp::status::ok);
  std::string const new_key(body(rotated).at("api_key").as_string());
  (void)get(h, a.id, a.key);  // the old key, refused
  auto const lines = logs.lines();
  ASSERT_FALSE(lines.empty());
  for (auto const& line : lines) {
    for (auto const* secret : {&a.key, &wrong, &new_key}) {
      // Not the key, nor its secret part after the prefix.
      EXPECT_EQ(line.find(secret->substr(12)), std::string::npos) << line;
    }
  }
  // Failures are logged by prefix.
  EXPECT_TRUE(logs.contains("API key refused: prefix=" + a.key.substr(0, 12))) << "no refusal line";
  EXPECT_TRUE(logs.contains("account created")) << "no creation line";
}

TEST(CpAccounts, ArgonParametersBelowOwaspMinimumRefuseToStart) {
  for (auto [m, t, p] : {std::tuple{19455u, 2u, 1u}, {19456u, 1u, 1u}, {19456u, 2u, 0u}, {2u * 1024u * 1024u, 2u, 1u}}) {
    ee::cp::Options o;
    o.dev = true;
    o.background_tasks = false;
    o.accounts.argon2_memory_kib = m;
    o.accounts.argon2_iterations = t;
    o.accounts.argon2_parallelism = p;
    auto started = ee::cp::ControlPlane::start(std::move(o));
    ASSERT_FALSE(started) << m << "," << t << "," << p;
    EXPECT_EQ(started.error(), ee::errc::out_of_range);
  }
}

}  // namespace
