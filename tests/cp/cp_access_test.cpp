// Who may call what, walked over the route table the CP itself reports (ControlPlane::routes()),
// not a hand-written list: every route is called by every kind of principal over real HTTP, and
// the answer must be what the route's declared Access admits. A route added later is covered the
// moment it is registered.
#include "cp/cp_harness.hpp"
#include "cp/secrets.hpp"

#include <easyenclave/api/signing.hpp>
#include <easyenclave/cp/access.hpp>

#include <boost/beast/http/verb.hpp>
#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

namespace bhttp = boost::beast::http;
namespace bj = boost::json;
using ee::cp::Access;
using ee::test::CpHarness;

// The kinds of caller an outsider or a participant can be.
enum class Principal {
  anonymous,       // no credential
  agent_self,      // signed with the key of the agent the path names
  other_agent,     // signed with the key of another registered agent
  owner_workflow,  // OIDC token of a workflow of the owner of every subject below
  other_workflow,  // OIDC token of a workflow of another GitHub owner
  admin,           // the admin token
  forged_bearer,   // a bearer that is neither the admin token nor a valid token
  admin_session,   // a password login's session, by its cookie
  owner_session,   // a GitHub sign-in of a member of the owner's organisation, by bearer
  other_session,   // a GitHub sign-in of someone else, by its cookie
  own_key,         // API key of the account the path names: a deployer linked to the owner above
  other_key,       // API key of another account: a deployer linked to another GitHub owner
  forged_key,      // a bearer shaped like an API key that is no account's
};

constexpr Principal kPrincipals[] = {Principal::anonymous,      Principal::agent_self,     Principal::other_agent,
                                     Principal::owner_workflow, Principal::other_workflow, Principal::admin,
                                     Principal::forged_bearer,  Principal::admin_session,  Principal::owner_session,
                                     Principal::other_session,  Principal::own_key,        Principal::other_key,
                                     Principal::forged_key};

char const* name(Principal p) {
  switch (p) {
    case Principal::anonymous: return "anonymous";
    case Principal::agent_self: return "agent_self";
    case Principal::other_agent: return "other_agent";
    case Principal::owner_workflow: return "owner_workflow";
    case Principal::other_workflow: return "other_workflow";
    case Principal::admin: return "admin";
    case Principal::forged_bearer: return "forged_bearer";
    case Principal::admin_session: return "admin_session";
    case Principal::owner_session: return "owner_session";
    case Principal::other_session: return "other_session";
    case Principal::own_key: return "own_key";
    case Principal::other_key: return "other_key";
    case Principal::forged_key: return "forged_key";
  }
  return "?";
}

// The oracle: which principals each rule admits, written from docs/api.md ("Who may call what"),
// independently of the CP's code.
bool admits(Access access, Principal p) {
  bool const admin = p == Principal::admin || p == Principal::admin_session;
  bool const owner = p == Principal::owner_workflow || p == Principal::owner_session;
  switch (access) {
    case Access::anyone: return true;
    case Access::agent_self: return p == Principal::agent_self;
    case Access::github_workflow: return p == Principal::owner_workflow || p == Principal::other_workflow;
    case Access::publisher_of_app: return p == Principal::owner_workflow;
    case Access::owner_of_agent: return owner;
    case Access::owner_of_agent_or_admin: return owner || admin;
    case Access::owner_of_token_or_admin: return p == Principal::owner_workflow || admin;
    case Access::admin: return admin;
    case Access::github_identity:
      return owner || p == Principal::other_workflow || p == Principal::other_session;
    case Access::person:
      return p == Principal::admin_session || p == Principal::owner_session || p == Principal::other_session;
    case Access::account_creation: return true;  // not admin-only here
    case Access::account_self: return p == Principal::own_key || admin;
    case Access::deployer:
      return p == Principal::owner_workflow || p == Principal::other_workflow || p == Principal::own_key ||
             p == Principal::other_key;
  }
  return false;
}

// What a refusal looks like: 401 or 403 before the handler runs (400 for a bearer that is not
// even a well-formed JWS, docs/api.md); another owner's bootstrap token is answered 404, exactly
// like an unknown one, so its id cannot be probed; so is another account to an account's key.
bool is_refusal(Access access, Principal p, ee::http::Response const& response) {
  auto const status = response.result_int();
  if (access == Access::owner_of_token_or_admin && p == Principal::other_workflow) return status == 404;
  if (access == Access::account_self && p == Principal::other_key) return status == 404;
  if (p == Principal::forged_bearer && status == 400) {
    return response.body().find(R"("code":"jwt.malformed_token")") != std::string::npos;
  }
  return status == 401 || status == 403;
}

class AccessMatrix {
 public:
  AccessMatrix() : h_(ee::test::HarnessOptions{.customize = [](ee::cp::Options& o) {
                     // Hundreds of calls from one address: this test is about who, not how often.
                     o.server.rate_limits["anonymous"].per_minute = 0;
                     o.server.rate_limits["account_creation"].per_minute = 0;
                   }}) {
    agent_.owner = "github:org/octo-org";
    h_.register_ok(agent_);
    h_.register_ok(other_);
    auto published = h_.publish(owner_token(), "hello");
    EXPECT_EQ(published.result(), bhttp::status::created) << published.body();
    auto minted = h_.call_bearer(bhttp::verb::post, "/api/v1/owners/bootstrap-tokens", owner_token(), "{}");
    EXPECT_EQ(minted.result(), bhttp::status::created) << minted.body();
    token_id_ = std::string(bj::parse(minted.body()).at("id").as_string());
    store_sessions();
    make_own_account();
    auto other = create_account("other-account");
    other_key_ = other.second;
    link(other.first, other_key_, other_token("easyenclave/accounts/" + other.first));
  }

  // (id, key) of a new deployer account.
  std::pair<std::string, std::string> create_account(std::string const& name) {
    auto created = h_.call(bhttp::verb::post, "/api/v1/accounts", R"({"name":")" + name + R"("})");
    EXPECT_EQ(created.result(), bhttp::status::created) << created.body();
    auto const body = bj::parse(created.body());
    return {std::string(body.at("id").as_string()), std::string(body.at("api_key").as_string())};
  }

  void link(std::string const& id, std::string const& key, std::string const& token) {
    auto linked = h_.call_bearer(bhttp::verb::post, "/api/v1/accounts/" + id + "/identity", key,
                                 R"({"token":")" + token + R"("})");
    EXPECT_EQ(linked.result(), bhttp::status::ok) << linked.body();
  }

  // The account the path names: made again after an admitted call deleted it.
  void make_own_account() {
    auto own = create_account("own-account-" + std::to_string(++own_accounts_));
    own_account_id_ = own.first;
    own_key_ = own.second;
    link(own_account_id_, own_key_, h_.github_token("octo-org/hello", "easyenclave/accounts/" + own_account_id_));
  }

  // Sessions put straight into the store, as a sign-in would leave them (the sign-in flows have
  // their own tests in cp_sessions_test.cpp). Again after a logout ends one.
  void store_sessions() {
    auto store = [this](std::string const& id, bool admin, ee::registry::GithubAccount user,
                        std::vector<ee::registry::GithubAccount> orgs) {
      auto token = ee::cp::new_secret("ee_sess_");
      ee::registry::LoginSession session;
      session.id = id;
      session.token_prefix = ee::cp::lookup_prefix(token).value();
      session.token_hash = ee::cp::hash_secret(token, ee::cp::Argon2Params{}).value();
      session.method = user.login.empty() ? ee::registry::LoginMethod::password : ee::registry::LoginMethod::github;
      session.admin = admin;
      session.github_user = std::move(user);
      session.github_orgs = std::move(orgs);
      session.created_at = h_.now();
      session.expires_at = h_.now() + std::chrono::hours(24);
      (void)h_.stores().sessions->remove(id);
      EXPECT_TRUE(h_.stores().sessions->insert(session));
      return token;
    };
    admin_session_ = store("00000000-0000-4000-8000-00000000000a", true, {}, {});
    owner_session_ = store("00000000-0000-4000-8000-00000000000b", false, {.login = "alice", .id = "1001"},
                           {{.login = "octo-org", .id = "654321"}});
    other_session_ = store("00000000-0000-4000-8000-00000000000c", false, {.login = "mallory", .id = "6666"},
                           {{.login = "evil-org", .id = "111111"}});
  }

  CpHarness& harness() { return h_; }

  // The pattern with its parameters filled with subjects that exist and belong to the owner.
  std::string target(std::string const& pattern) const {
    std::string out = pattern;
    auto fill = [&out](std::string const& param, std::string const& value) {
      for (auto at = out.find(param); at != std::string::npos; at = out.find(param)) out.replace(at, param.size(), value);
    };
    fill("{id}", pattern.find("bootstrap-tokens") != std::string::npos ? token_id_
                 : pattern.find("/accounts/") != std::string::npos     ? own_account_id_
                                                                       : agent_.agent_id);
    fill("{name}", "hello");
    fill("{mrtd}", std::string(96, 'a'));
    fill("{key}", "heartbeat_interval");
    return out;
  }

  ee::http::Response call(ee::cp::RouteInfo const& route, Principal p) {
    ee::http::Request request{route.method, h_.cp().url() + target(route.pattern), 11};
    request.set(bhttp::field::content_type, "application/json");
    request.body() = "{}";
    request.prepare_payload();
    switch (p) {
      case Principal::anonymous: break;
      case Principal::agent_self: ee::api::sign_request(request, agent_.key, h_.now()).value(); break;
      case Principal::other_agent: ee::api::sign_request(request, other_.key, h_.now()).value(); break;
      case Principal::owner_workflow: request.set(bhttp::field::authorization, "Bearer " + owner_token()); break;
      case Principal::other_workflow: request.set(bhttp::field::authorization, "Bearer " + other_token()); break;
      case Principal::admin: request.set(bhttp::field::authorization, "Bearer " + h_.admin_token()); break;
      case Principal::forged_bearer: request.set(bhttp::field::authorization, "Bearer not-a-token"); break;
      case Principal::admin_session: request.set(bhttp::field::cookie, "ee_session=" + admin_session_); break;
      case Principal::owner_session: request.set(bhttp::field::authorization, "Bearer " + owner_session_); break;
      case Principal::other_session: request.set(bhttp::field::cookie, "ee_session=" + other_session_); break;
      case Principal::own_key: request.set(bhttp::field::authorization, "Bearer " + own_key_); break;
      case Principal::other_key: request.set(bhttp::field::authorization, "Bearer " + other_key_); break;
      case Principal::forged_key:
        request.set(bhttp::field::authorization, "Bearer ee_live_" + std::string(32, 'Q'));
        break;
    }
    auto response = h_.send(std::move(request));
    if (route.pattern == "/admin/logout" && admits(route.access, p)) store_sessions();
    // An admitted rotation or deletion of the own account changes what the next calls present.
    if (response.result() == bhttp::status::ok && route.pattern.find("/accounts/{id}") != std::string::npos) {
      if (route.pattern.ends_with("/api-key/rotate")) {
        own_key_ = std::string(bj::parse(response.body()).at("api_key").as_string());
      } else if (route.method == bhttp::verb::delete_) {
        make_own_account();
      }
    }
    return response;
  }

 private:
  std::string owner_token() { return h_.github_token("octo-org/hello"); }
  std::string other_token(std::string audience = "easyenclave") {
    ee::test::GithubTokenRequest request;
    request.audience = std::move(audience);
    request.repository = "evil-org/hello";
    request.repository_owner_id = "111111";
    return h_.github().mint(request);
  }

  CpHarness h_;
  ee::test::TestAgent agent_ = h_.agent("vm-access-a");
  ee::test::TestAgent other_ = h_.agent("vm-access-b");
  std::string token_id_;
  std::string admin_session_, owner_session_, other_session_;
  int own_accounts_ = 0;
  std::string own_account_id_;
  std::string own_key_;
  std::string other_key_;
};

TEST(CpAccess, EveryRouteAdmitsExactlyThePrincipalsItsDeclaredAccessAllows) {
  AccessMatrix matrix;
  auto const routes = matrix.harness().cp().routes();
  ASSERT_GE(routes.size(), 40u);
  std::string problems;
  auto check = [&](ee::cp::RouteInfo const& route, Principal p) {
    auto const response = matrix.call(route, p);
    if (admits(route.access, p) == is_refusal(route.access, p, response)) {
      problems += std::string(bhttp::to_string(route.method)) + " " + route.pattern + " (" +
                  std::string(ee::cp::to_string(route.access)) + ") as " + name(p) + ": " +
                  std::to_string(response.result_int()) + " " + response.body() + "\n";
    }
  };
  // Every refusal first, over every route: a refused call must change nothing, so each later
  // refusal still finds its subject. Then the admitted calls, which may change it (an admin
  // removes the agent, an owner revokes the token): their answer only has to be no refusal.
  for (auto const& route : routes) {
    for (auto p : kPrincipals) {
      if (!admits(route.access, p)) check(route, p);
    }
  }
  for (auto const& route : routes) {
    for (auto p : kPrincipals) {
      if (admits(route.access, p)) check(route, p);
    }
  }
  EXPECT_EQ(problems, "");
}

TEST(CpAccess, OnlyRegistrationAndTheChallengeAreOpenAmongRoutesThatChangeState) {
  // A route that changes state and admits anyone must be one whose body carries its own proof:
  // registration (attestation evidence bound to a CP nonce), the admin password login (the
  // password; rate limited per address in its own class). The challenge is a GET.
  CpHarness h;
  std::vector<std::string> open;
  for (auto const& route : h.cp().routes()) {
    if (route.access == Access::anyone && route.method != bhttp::verb::get) open.push_back(route.pattern);
  }
  std::sort(open.begin(), open.end());
  EXPECT_EQ(open, (std::vector<std::string>{"/admin/login", "/api/agents/register", "/api/v1/agents/register"}));
  // Account creation is open too unless made admin-only, under its own stricter rate limit.
  std::vector<std::string> creation;
  for (auto const& route : h.cp().routes()) {
    if (route.access == Access::account_creation) creation.push_back(route.pattern);
  }
  std::sort(creation.begin(), creation.end());
  EXPECT_EQ(creation, (std::vector<std::string>{"/api/accounts", "/api/v1/accounts"}));
}

TEST(CpAccess, AnAgentsSignatureDoesNotActForAnotherAgent) {
  AccessMatrix matrix;
  auto& h = matrix.harness();
  ee::cp::RouteInfo heartbeat{.method = bhttp::verb::post, .pattern = "/api/v1/agents/{id}/heartbeat",
                              .access = Access::agent_self};
  auto const other = matrix.call(heartbeat, Principal::other_agent);
  EXPECT_EQ(other.result(), bhttp::status::unauthorized) << other.body();
  EXPECT_EQ(bj::parse(other.body()).at("code").as_string(), "api.signature_invalid");
  // Nothing of the victim's record moved.
  auto const victim = bj::parse(h.call(bhttp::verb::get, matrix.target("/api/v1/agents/{id}")).body());
  EXPECT_EQ(victim.at("status").as_string(), "idle");
}

TEST(CpAccess, ACredentialOfTheWrongKindIsNamedInTheRefusal) {
  AccessMatrix matrix;
  ee::cp::RouteInfo deploy{.method = bhttp::verb::post, .pattern = "/api/v1/deploy", .access = Access::deployer};
  // The admin token is valid, but a deploy is a workflow's act: 403, saying what the route takes.
  auto const admin = matrix.call(deploy, Principal::admin);
  EXPECT_EQ(admin.result(), bhttp::status::forbidden) << admin.body();
  EXPECT_EQ(bj::parse(admin.body()).at("code").as_string(), "cp.principal_not_allowed");
  EXPECT_NE(admin.body().find("GitHub Actions OIDC"), std::string::npos) << admin.body();
  // An agent's signature on a workflow route is not looked at: 401, saying what the route takes.
  auto const signed_by_agent = matrix.call(deploy, Principal::agent_self);
  EXPECT_EQ(signed_by_agent.result(), bhttp::status::unauthorized) << signed_by_agent.body();
  EXPECT_EQ(bj::parse(signed_by_agent.body()).at("code").as_string(), "cp.missing_credentials");
  // An admin route never verifies a bearer as a JWT: a wrong one is simply not the admin token.
  ee::cp::RouteInfo admin_route{.method = bhttp::verb::get, .pattern = "/api/v1/admin/trusted-mrtds",
                                .access = Access::admin};
  auto const workflow = matrix.call(admin_route, Principal::owner_workflow);
  EXPECT_EQ(workflow.result(), bhttp::status::unauthorized) << workflow.body();
  EXPECT_EQ(bj::parse(workflow.body()).at("code").as_string(), "cp.bad_admin_token");
}

TEST(CpAccess, BothASignatureAndABearerAreRefused) {
  AccessMatrix matrix;
  auto& h = matrix.harness();
  ee::http::Request request{bhttp::verb::get, h.cp().url() + matrix.target("/api/v1/agents/{id}/logs"), 11};
  ee::api::sign_request(request, h.agent("vm-unused").key, h.now()).value();
  request.set(bhttp::field::authorization, "Bearer " + h.admin_token());
  auto const both = h.send(std::move(request));
  EXPECT_EQ(both.result(), bhttp::status::unauthorized) << both.body();
  EXPECT_EQ(bj::parse(both.body()).at("code").as_string(), "cp.missing_credentials");
}

}  // namespace
