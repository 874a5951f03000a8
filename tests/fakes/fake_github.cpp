#include "fakes/fake_github.hpp"

#include <easyenclave/http/router.hpp>

#include "detail/crypto.hpp"
#include "detail/json.hpp"
#include "detail/time.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>

namespace ee::test {

namespace bj = boost::json;
namespace bhttp = boost::beast::http;
using Awaitable = boost::asio::awaitable<ee::result<ee::http::Response>>;

struct FakeGithubIssuer::State {
  FakeGithubOptions options;
  std::optional<SigningKey> key;
  std::string url;
  std::string issuer;
  std::unique_ptr<ee::http::Server> server;

  std::mutex releases_mutex;
  std::map<std::string, std::vector<FakeRelease>> releases;  // by lower-case repository, newest first
  std::vector<std::string> objects;                          // asset bodies by index

  struct Grant {
    std::string login;
    std::string redirect_uri;
    std::chrono::system_clock::time_point expires_at;
  };
  std::mutex oauth_mutex;
  std::vector<FakeOAuthUser> users;
  std::map<std::string, Grant> codes;          // unexchanged codes
  std::map<std::string, std::string> tokens;   // access token -> login
  std::size_t exchanges = 0;

  FakeOAuthUser const* user(std::string_view login) const {
    for (auto const& u : users) {
      if (u.login == login) return &u;
    }
    return nullptr;
  }

  bj::object claims(GithubTokenRequest const& r) const {
    auto const now = ee::detail::to_unix_seconds(options.clock());
    auto const owner = r.repository.substr(0, r.repository.find('/'));
    bj::object c;
    c["iss"] = issuer;
    c["aud"] = r.audience;
    c["sub"] = "repo:" + r.repository + ":ref:" + r.ref;
    c["iat"] = now;
    c["nbf"] = now;
    c["exp"] = now + options.lifetime.count();
    c["jti"] = ee::detail::uuid_v4().value();
    c["repository"] = r.repository;
    c["repository_id"] = r.repository_id;
    c["repository_owner"] = owner;
    c["repository_owner_id"] = r.repository_owner_id;
    c["ref"] = r.ref;
    c["ref_type"] = "branch";
    c["sha"] = r.sha;
    c["workflow"] = r.workflow;
    c["job_workflow_ref"] = r.repository + "/.github/workflows/" + r.workflow + ".yml@" + r.ref;
    if (r.environment) c["environment"] = *r.environment;
    c["run_id"] = r.run_id;
    c["run_number"] = "1";
    c["run_attempt"] = "1";
    c["actor"] = r.actor;
    c["event_name"] = "push";
    c["runner_environment"] = "github-hosted";
    return c;
  }
  std::string mint(std::string const& claims_json) const { return key->mint("RS256", claims_json); }
  std::string jwks() const { return ee::test::jwks_json({key->jwk_json("RS256")}); }
};

namespace {

ee::http::Response value_response(std::string token) {
  bj::object body;
  body["value"] = std::move(token);
  body["count"] = 1;
  return ee::http::json_response(bhttp::status::ok, bj::serialize(body));
}

Awaitable discovery(std::shared_ptr<FakeGithubIssuer::State> s) {
  bj::object doc;
  doc["issuer"] = s->issuer;
  doc["jwks_uri"] = s->url + "/.well-known/jwks";
  doc["subject_types_supported"] = bj::array{"public", "pairwise"};
  doc["response_types_supported"] = bj::array{"id_token"};
  doc["id_token_signing_alg_values_supported"] = bj::array{"RS256"};
  doc["claims_supported"] = bj::array{"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository",
                                      "repository_id", "repository_owner", "repository_owner_id", "run_id",
                                      "sha", "workflow", "job_workflow_ref", "environment", "actor"};
  co_return ee::http::json_response(bhttp::status::ok, bj::serialize(doc));
}

Awaitable jwks(std::shared_ptr<FakeGithubIssuer::State> s) {
  co_return ee::http::json_response(bhttp::status::ok, s->jwks());
}

Awaitable token_route(std::shared_ptr<FakeGithubIssuer::State> s, ee::http::RequestContext& ctx) {
  GithubTokenRequest r;
  if (auto audience = ctx.query("audience")) r.audience = *audience;
  if (auto repository = ctx.query("repository")) {
    if (repository->find('/') == std::string::npos)
      co_return ee::Error(ee::errc::invalid_value, "repository must be owner/name");
    r.repository = *repository;
  }
  co_return value_response(s->mint(bj::serialize(s->claims(r))));
}

Awaitable mint_route(std::shared_ptr<FakeGithubIssuer::State> s, ee::http::RequestContext& ctx) {
  auto overrides = ee::detail::json::parse(ctx.request.body());
  if (!overrides) co_return overrides.error();
  if (!overrides->is_object()) co_return ee::Error(ee::errc::wrong_type, "body: expected a JSON object of claims");
  auto claims = s->claims({});
  for (auto const& [k, v] : overrides->as_object()) claims[k] = v;
  co_return value_response(s->mint(bj::serialize(claims)));
}

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string repository_of(ee::http::RequestContext const& ctx) {
  return lower(std::string(ctx.params.get("owner")) + "/" + std::string(ctx.params.get("repo")));
}

Awaitable releases_route(std::shared_ptr<FakeGithubIssuer::State> s, ee::http::RequestContext& ctx) {
  auto const repository = repository_of(ctx);
  bj::array list;
  std::lock_guard lock(s->releases_mutex);
  auto it = s->releases.find(repository);
  if (it == s->releases.end())
    co_return ee::http::json_response(bhttp::status::not_found, R"({"message":"Not Found"})");
  for (auto const& release : it->second) {
    bj::object r;
    r["tag_name"] = release.tag_name;
    r["name"] = release.tag_name;
    r["published_at"] = release.published_at;
    bj::array assets;
    for (auto const& [name, content] : release.assets) {
      bj::object asset;
      asset["name"] = name;
      asset["size"] = content.size();
      asset["browser_download_url"] =
          s->url + "/download/" + repository + "/" + release.tag_name + "/" + name;
      assets.push_back(std::move(asset));
    }
    r["assets"] = std::move(assets);
    list.push_back(std::move(r));
  }
  co_return ee::http::json_response(bhttp::status::ok, bj::serialize(list));
}

// browser_download_url answers with a redirect to the object store, as GitHub's does.
Awaitable download_route(std::shared_ptr<FakeGithubIssuer::State> s, ee::http::RequestContext& ctx) {
  auto const repository = repository_of(ctx);
  std::lock_guard lock(s->releases_mutex);
  auto it = s->releases.find(repository);
  if (it != s->releases.end()) {
    for (auto const& release : it->second) {
      if (release.tag_name != ctx.params.get("tag")) continue;
      for (auto const& [name, content] : release.assets) {
        if (name != ctx.params.get("asset")) continue;
        s->objects.push_back(content);
        ee::http::Response redirect{bhttp::status::found, 11};
        redirect.set(bhttp::field::location, s->url + "/objects/" + std::to_string(s->objects.size() - 1));
        redirect.prepare_payload();
        co_return redirect;
      }
    }
  }
  co_return ee::http::json_response(bhttp::status::not_found, R"({"message":"Not Found"})");
}

Awaitable object_route(std::shared_ptr<FakeGithubIssuer::State> s, ee::http::RequestContext& ctx) {
  std::lock_guard lock(s->releases_mutex);
  auto const id = std::string(ctx.params.get("id"));
  std::size_t index = 0;
  for (char c : id) {
    if (std::isdigit(static_cast<unsigned char>(c)) == 0) co_return ee::Error(ee::errc::invalid_value, "object id");
    index = index * 10 + static_cast<std::size_t>(c - '0');
  }
  if (id.empty() || index >= s->objects.size())
    co_return ee::http::json_response(bhttp::status::not_found, R"({"message":"Not Found"})");
  ee::http::Response response{bhttp::status::ok, 11};
  response.set(bhttp::field::content_type, "application/octet-stream");
  response.body() = s->objects[index];
  response.prepare_payload();
  co_return response;
}

Awaitable add_release_route(std::shared_ptr<FakeGithubIssuer::State> s, ee::http::RequestContext& ctx) {
  auto body = ee::detail::json::parse(ctx.request.body());
  if (!body) co_return body.error();
  auto reader = ee::detail::json::ObjectReader::from(*body);
  if (!reader) co_return reader.error();
  FakeRelease release;
  auto tag = reader->string("tag_name");
  if (!tag) co_return tag.error();
  release.tag_name = *tag;
  auto published = reader->optional_string("published_at");
  if (!published) co_return published.error();
  if (*published) release.published_at = **published;
  auto assets = reader->child("assets");
  if (!assets) co_return assets.error();
  for (auto const& [name, content] : assets->object()) {
    if (!content.is_string()) co_return ee::Error(ee::errc::wrong_type, "assets: expected strings");
    release.assets.emplace_back(std::string(name), std::string(content.as_string()));
  }
  auto const repository = repository_of(ctx);
  {
    std::lock_guard lock(s->releases_mutex);
    auto& list = s->releases[repository];
    list.insert(list.begin(), std::move(release));
  }
  co_return ee::http::json_response(bhttp::status::created, R"({"created":true})");
}

// --- OAuth --------------------------------------------------------------------------------------

std::map<std::string, std::string> form_fields(std::string_view body) {
  std::map<std::string, std::string> fields;
  boost::urls::url u;
  u.set_encoded_query(body);
  for (auto const& param : u.params()) fields[std::string(param.key)] = std::string(param.value);
  return fields;
}

std::string random_token(std::string_view prefix) {
  auto bytes = ee::detail::random_bytes(20).value();
  std::string out(prefix);
  for (auto b : bytes) {
    constexpr char kHex[] = "0123456789abcdef";
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

ee::http::Response github_error(bhttp::status status, std::string_view message) {
  bj::object body;
  body["message"] = message;
  body["documentation_url"] = "https://docs.github.com/rest";
  return ee::http::json_response(status, bj::serialize(body));
}

Awaitable authorize_route(std::shared_ptr<FakeGithubIssuer::State> s, ee::http::RequestContext& ctx) {
  if (ctx.query("client_id").value_or("") != s->options.oauth_client_id) {
    co_return github_error(bhttp::status::not_found, "unknown client_id");
  }
  auto const redirect_uri = ctx.query("redirect_uri").value_or("");
  auto const state = ctx.query("state").value_or("");
  if (redirect_uri.empty()) co_return github_error(bhttp::status::bad_request, "redirect_uri is required here");
  std::string code;
  {
    std::lock_guard lock(s->oauth_mutex);
    if (s->users.empty()) co_return github_error(bhttp::status::unauthorized, "no user is signed in at GitHub");
    auto const* user = ctx.query("login") ? s->user(*ctx.query("login")) : &s->users.front();
    if (user == nullptr) co_return github_error(bhttp::status::unauthorized, "no such user");
    code = random_token("");
    s->codes[code] = {user->login, redirect_uri, s->options.clock() + std::chrono::minutes(10)};
  }
  boost::urls::url target(redirect_uri);
  target.params().set("code", code);
  target.params().set("state", state);
  ee::http::Response redirect{bhttp::status::found, 11};
  redirect.set(bhttp::field::location, std::string(target.buffer()));
  redirect.prepare_payload();
  co_return redirect;
}

Awaitable access_token_route(std::shared_ptr<FakeGithubIssuer::State> s, ee::http::RequestContext& ctx) {
  auto fields = form_fields(ctx.request.body());
  std::lock_guard lock(s->oauth_mutex);
  ++s->exchanges;
  if (fields["client_id"] != s->options.oauth_client_id || fields["client_secret"] != s->options.oauth_client_secret) {
    co_return ee::http::json_response(bhttp::status::ok,
                                      R"({"error":"incorrect_client_credentials","error_description":"The client_id and/or client_secret passed are incorrect."})");
  }
  auto const grant = s->codes.find(fields["code"]);
  if (grant == s->codes.end() || grant->second.expires_at <= s->options.clock() ||
      grant->second.redirect_uri != fields["redirect_uri"]) {
    co_return ee::http::json_response(bhttp::status::ok,
                                      R"({"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."})");
  }
  auto const login = grant->second.login;
  s->codes.erase(grant);
  auto token = random_token("gho_");
  s->tokens[token] = login;
  bj::object body;
  body["access_token"] = token;
  body["token_type"] = "bearer";
  body["scope"] = "read:org";
  co_return ee::http::json_response(bhttp::status::ok, bj::serialize(body));
}

FakeOAuthUser const* bearer_user(FakeGithubIssuer::State& s, ee::http::RequestContext& ctx) {
  auto const it = ctx.request.find(bhttp::field::authorization);
  if (it == ctx.request.end() || !it->value().starts_with("Bearer ")) return nullptr;
  auto const token = s.tokens.find(std::string(it->value().substr(7)));
  return token == s.tokens.end() ? nullptr : s.user(token->second);
}

Awaitable user_route(std::shared_ptr<FakeGithubIssuer::State> s, ee::http::RequestContext& ctx) {
  std::lock_guard lock(s->oauth_mutex);
  auto const* user = bearer_user(*s, ctx);
  if (user == nullptr) co_return github_error(bhttp::status::unauthorized, "Bad credentials");
  bj::object body;
  body["login"] = user->login;
  body["id"] = user->id;
  body["node_id"] = "U_fake";
  body["type"] = "User";
  body["site_admin"] = false;
  co_return ee::http::json_response(bhttp::status::ok, bj::serialize(body));
}

Awaitable user_orgs_route(std::shared_ptr<FakeGithubIssuer::State> s, ee::http::RequestContext& ctx) {
  std::lock_guard lock(s->oauth_mutex);
  auto const* user = bearer_user(*s, ctx);
  if (user == nullptr) co_return github_error(bhttp::status::unauthorized, "Bad credentials");
  auto const number = [&ctx](char const* name, std::size_t fallback) {
    auto text = ctx.query(name);
    return text ? static_cast<std::size_t>(std::stoul(*text)) : fallback;
  };
  auto const per_page = std::min<std::size_t>(number("per_page", 30), 100);
  auto const page = std::max<std::size_t>(number("page", 1), 1);
  bj::array orgs;
  for (std::size_t i = (page - 1) * per_page; i < user->orgs.size() && i < page * per_page; ++i) {
    orgs.push_back(bj::object{{"login", user->orgs[i].first}, {"id", user->orgs[i].second}, {"description", nullptr}});
  }
  co_return ee::http::json_response(bhttp::status::ok, bj::serialize(orgs));
}

Awaitable add_user_route(std::shared_ptr<FakeGithubIssuer::State> s, ee::http::RequestContext& ctx) {
  auto body = ee::detail::json::parse(ctx.request.body());
  if (!body) co_return body.error();
  auto reader = ee::detail::json::ObjectReader::from(*body);
  if (!reader) co_return reader.error();
  FakeOAuthUser user;
  auto login = reader->string("login");
  if (!login) co_return login.error();
  user.login = *login;
  auto id = reader->integer("id", 1);
  if (!id) co_return id.error();
  user.id = *id;
  if (reader->contains("orgs")) {
    auto orgs = reader->array("orgs");
    if (!orgs) co_return orgs.error();
    for (auto const& item : **orgs) {
      auto org = ee::detail::json::ObjectReader::from(item, "orgs[]");
      if (!org) co_return org.error();
      auto org_login = org->string("login");
      if (!org_login) co_return org_login.error();
      auto org_id = org->integer("id", 1);
      if (!org_id) co_return org_id.error();
      user.orgs.emplace_back(*org_login, *org_id);
    }
  }
  std::lock_guard lock(s->oauth_mutex);
  s->users.push_back(std::move(user));
  co_return ee::http::json_response(bhttp::status::created, R"({"created":true})");
}

}  // namespace

ee::result<std::unique_ptr<FakeGithubIssuer>> FakeGithubIssuer::start(FakeGithubOptions options) {
  auto s = std::make_shared<State>();
  s->options = std::move(options);
  s->key = s->options.private_key_pem.empty() ? SigningKey::rsa(2048, s->options.kid)
                                               : SigningKey::from_pem(s->options.private_key_pem, s->options.kid);
  ee::http::Router router;
  router.get("/.well-known/openid-configuration", [s](ee::http::RequestContext&) { return discovery(s); });
  router.get("/.well-known/jwks", [s](ee::http::RequestContext&) { return jwks(s); });
  router.get("/token", [s](ee::http::RequestContext& ctx) { return token_route(s, ctx); });
  router.post("/mint", [s](ee::http::RequestContext& ctx) { return mint_route(s, ctx); });
  router.get("/repos/{owner}/{repo}/releases",
             [s](ee::http::RequestContext& ctx) { return releases_route(s, ctx); });
  router.get("/download/{owner}/{repo}/{tag}/{asset}",
             [s](ee::http::RequestContext& ctx) { return download_route(s, ctx); });
  router.get("/objects/{id}", [s](ee::http::RequestContext& ctx) { return object_route(s, ctx); });
  router.post("/releases/{owner}/{repo}",
              [s](ee::http::RequestContext& ctx) { return add_release_route(s, ctx); });
  router.get("/login/oauth/authorize", [s](ee::http::RequestContext& ctx) { return authorize_route(s, ctx); });
  router.post("/login/oauth/access_token", [s](ee::http::RequestContext& ctx) { return access_token_route(s, ctx); });
  router.get("/user", [s](ee::http::RequestContext& ctx) { return user_route(s, ctx); });
  router.get("/user/orgs", [s](ee::http::RequestContext& ctx) { return user_orgs_route(s, ctx); });
  router.post("/oauth/users", [s](ee::http::RequestContext& ctx) { return add_user_route(s, ctx); });
  ee::http::ServerOptions server_options;
  server_options.host = s->options.host;
  server_options.port = s->options.port;
  auto server = ee::http::Server::start(std::move(router), server_options);
  if (!server) return server.error();
  s->server = std::move(*server);
  s->url = "http://" + s->options.host + ":" + std::to_string(s->server->port());
  s->issuer = s->options.issuer.empty() ? s->url : s->options.issuer;
  return std::unique_ptr<FakeGithubIssuer>(new FakeGithubIssuer(std::move(s)));
}

FakeGithubIssuer::~FakeGithubIssuer() {
  // The routes hold the state; dropping the server breaks that cycle.
  if (state_ && state_->server) {
    state_->server->stop();
    state_->server.reset();
  }
}

std::string FakeGithubIssuer::url() const { return state_->url; }
std::string FakeGithubIssuer::jwks_json() const { return state_->jwks(); }
std::string const& FakeGithubIssuer::issuer() const { return state_->issuer; }
std::string FakeGithubIssuer::mint(GithubTokenRequest const& request) const {
  auto text = bj::serialize(state_->claims(request));
  if (!request.extra_json.empty()) text = text.substr(0, text.size() - 1) + request.extra_json + "}";
  return state_->mint(text);
}
std::string FakeGithubIssuer::mint_raw(std::string const& claims_json) const { return state_->mint(claims_json); }
SigningKey const& FakeGithubIssuer::key() const { return *state_->key; }
void FakeGithubIssuer::add_release(std::string const& repository, FakeRelease release) {
  std::lock_guard lock(state_->releases_mutex);
  auto& list = state_->releases[lower(repository)];
  list.insert(list.begin(), std::move(release));
}
ee::http::Server& FakeGithubIssuer::server() { return *state_->server; }
void FakeGithubIssuer::add_oauth_user(FakeOAuthUser user) {
  std::lock_guard lock(state_->oauth_mutex);
  state_->users.push_back(std::move(user));
}
std::size_t FakeGithubIssuer::oauth_exchanges() const {
  std::lock_guard lock(state_->oauth_mutex);
  return state_->exchanges;
}

}  // namespace ee::test
