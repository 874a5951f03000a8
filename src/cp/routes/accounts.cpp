// Accounts and their API keys:
//
//   POST   /accounts                       (anyone, or the admin when creation is admin-only)
//                                          {name, type?} -> 201 account + api_key (shown once)
//   GET    /accounts[?name=&type=&limit=&offset=]   (admin) -> [account, ...]
//   GET    /accounts/{id}                  (its own key, or the admin) -> account
//   POST   /accounts/{id}/identity         (its own key, or the admin) {token} or {session[, org]}
//                                           -> account, linked
//                                          to the GitHub owner of a workflow's OIDC token
//   POST   /accounts/{id}/api-key/rotate   (its own key, or the admin) -> account + new api_key
//   DELETE /accounts/{id}                  (its own key, or the admin) -> {"removed": true}
//
// A key is "ee_live_" + 32 base62 characters; only its Argon2id hash is stored, beside its first
// 12 characters to find it (secrets.hpp). The key is in the answer that made it and nowhere else:
// not in the store, not in a log (logs name a key by its prefix).
#include "cp/routes/routes.hpp"
#include "cp/sessions.hpp"

#include <easyenclave/cp/error.hpp>

#include "detail/ascii.hpp"
#include "detail/crypto.hpp"
#include "detail/json.hpp"
#include "detail/log.hpp"
#include "detail/time.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

namespace ee::cp {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;
using detail::json::ObjectReader;
using Reply = asio::awaitable<result<http::Response>>;

constexpr std::string_view kApiKeyKind = "ee_live_";
constexpr std::size_t kMaxNameLength = 64;
// Attempts at a key whose prefix no other account has: 4 random characters after "ee_live_" make
// a clash rare (1 in 14.8 million per existing key), and a retry takes a fresh key.
constexpr int kKeyAttempts = 3;

bool is_name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'; }

// Lower-case only, so that "Alice" and "alice" are not two accounts people would confuse.
result<void> check_account_name(std::string const& name, std::string_view field) {
  bool const ok = !name.empty() && name.size() <= kMaxNameLength && name.front() != '.' && name.front() != '_' &&
                  name.front() != '-' && std::all_of(name.begin(), name.end(), is_name_char);
  if (!ok) {
    return Error(ee::errc::invalid_value, std::string(field) +
                                              ": 1-64 characters of a-z, 0-9, '.', '_' and '-', starting with a "
                                              "letter or digit");
  }
  return {};
}

struct CreateRequest {
  std::string name{};
  registry::AccountType type = registry::AccountType::deployer;
};

result<CreateRequest> parse_create_request(std::string_view body) {
  auto doc = detail::json::parse(body);
  if (!doc) return doc.error();
  auto r = ObjectReader::from(*doc);
  if (!r) return r.error();
  if (auto known = r->reject_unknown({"name", "type"}); !known) return known.error();
  CreateRequest out;
  auto name = r->string("name");
  if (!name) return name.error();
  if (auto c = check_account_name(*name, "body.name"); !c) return c.error();
  out.name = std::move(*name);
  auto type = r->optional_string("type");
  if (!type) return type.error();
  if (*type) {
    auto parsed = registry::parse_account_type(**type);
    if (!parsed) return Error(ee::errc::invalid_value, "body.type: deployer, agent, contributor or launcher");
    out.type = *parsed;
  }
  return out;
}

// Proof of a GitHub identity: a workflow's OIDC token minted for this account, or the session of
// a person who signed in with GitHub (OAuth), with `org` naming one of their organisations when
// the account is to act for it.
struct LinkRequest {
  std::string token{};    // OIDC
  std::string session{};  // ee_sess_...
  std::string org{};
};

result<LinkRequest> parse_link_request(std::string_view body) {
  auto doc = detail::json::parse(body, {.max_bytes = 16 * 1024, .max_depth = 2});
  if (!doc) return doc.error();
  auto r = ObjectReader::from(*doc);
  if (!r) return r.error();
  if (auto known = r->reject_unknown({"token", "session", "org"}); !known) return known.error();
  LinkRequest out;
  auto token = r->optional_string("token");
  if (!token) return token.error();
  auto session = r->optional_string("session");
  if (!session) return session.error();
  auto org = r->optional_string("org");
  if (!org) return org.error();
  if (token->has_value() == session->has_value()) {
    return Error(ee::errc::invalid_value, "body: give either token (a GitHub Actions OIDC token) or session (a GitHub "
                                          "sign-in session's token)");
  }
  if (org->has_value() && !session->has_value()) {
    return r->field_error("org", ee::errc::invalid_value, "goes with session (a token names its owner itself)");
  }
  out.token = token->value_or("");
  out.session = session->value_or("");
  out.org = detail::ascii_lowercase(org->value_or(""));
  return out;
}

struct Identity {
  std::string id, login, org, proof;
};

// The GitHub identity a session proves: its user, or the organisation `org` GitHub listed for them
// at sign-in. A password session proves none.
result<Identity> identity_of(registry::LoginSession const& session, std::string const& org) {
  if (session.github_user.login.empty()) {
    return Error(errc::principal_not_allowed, "a password session has no GitHub identity; sign in with GitHub");
  }
  if (org.empty()) {
    return Identity{.id = session.github_user.id, .login = session.github_user.login, .org = "",
                    .proof = "github sign-in of " + session.github_user.login};
  }
  for (auto const& o : session.github_orgs) {
    if (o.login == org) {
      return Identity{.id = o.id, .login = o.login, .org = o.login,
                      .proof = "github sign-in of " + session.github_user.login + ", member of " + o.login};
    }
  }
  return Error(errc::owner_mismatch, "GitHub did not list '" + org + "' among the organisations of " +
                                         session.github_user.login + " at sign-in");
}

// What the API shows of an account: never the hash.
bj::object account_view(registry::Account const& a) {
  bj::object o;
  o["id"] = a.id;
  o["name"] = a.name;
  o["type"] = registry::to_string(a.type);
  o["api_key_prefix"] = a.api_key_prefix;
  o["github_id"] = a.github_id;
  o["github_login"] = a.github_login;
  o["github_org"] = a.github_org;
  o["created_at"] = detail::format_rfc3339(a.created_at);
  return o;
}

// An answer that carries a key: no cache may keep it (RFC 9111 section 5.2.2.5).
http::Response with_key(bhttp::status status, registry::Account const& account, std::string const& key) {
  auto body = account_view(account);
  body["api_key"] = key;
  auto response = http::json_response(status, detail::json::serialize(body));
  response.set(bhttp::field::cache_control, "no-store");
  return response;
}

struct NewKey {
  std::string key{};
  std::string prefix{};
  std::string hash{};
};

// A fresh key and its Argon2id hash at the configured cost, hashed on the hash pool.
asio::awaitable<result<NewKey>> new_key(Services& s) {
  NewKey k;
  k.key = new_secret(kApiKeyKind);
  k.prefix = k.key.substr(0, kLookupPrefixLength);
  auto hash = co_await s.hash([&s, &k] { return hash_secret(k.key, s.argon2); });
  if (!hash) co_return hash.error();
  k.hash = std::move(*hash);
  co_return k;
}

Reply create(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto request = parse_create_request(ctx.request.body());
  if (!request) co_return request.error();
  // A launcher key will claim capacity orders (the launcher principal): the operator makes those.
  if (request->type == registry::AccountType::launcher && !caller.is_operator()) {
    co_return Error(errc::principal_not_allowed, "only the admin may create launcher accounts");
  }
  auto id = detail::uuid_v4();
  if (!id) co_return id.error();
  for (int attempt = 0; attempt < kKeyAttempts; ++attempt) {
    auto key = co_await new_key(s);
    if (!key) co_return key.error();
    registry::Account account;
    account.id = *id;
    account.name = request->name;
    account.type = request->type;
    account.api_key_prefix = key->prefix;
    account.api_key_hash = key->hash;
    account.created_at = s.now();
    auto stored = co_await s.store([&s, &account] { return s.stores.accounts->insert(account); });
    if (stored) {
      detail::log::info("cp", "account created id=", stored->id, " name=", stored->name,
                        " type=", registry::to_string(stored->type), " key_prefix=", stored->api_key_prefix,
                        " by=", caller.name(), " client=", ctx.client.to_string());
      co_return with_key(bhttp::status::created, *stored, key->key);
    }
    if (stored.error() != registry::errc::conflict) co_return stored.error();
    // The name is taken, or (rarely) another account's key has this prefix: then a fresh key.
    auto existing = co_await s.store([&s, &request] { return s.stores.accounts->find_by_name(request->name); });
    if (existing) co_return Error(registry::errc::conflict, "an account named '" + request->name + "' exists");
    if (existing.error() != registry::errc::not_found) co_return existing.error();
  }
  co_return Error(registry::errc::conflict, "no unique API key prefix after several attempts; retry");
}

Reply list_accounts(http::RequestContext& ctx, Services& s, Caller const&) {
  auto page = page_of(ctx);
  if (!page) co_return page.error();
  registry::AccountFilter filter;
  filter.name = ctx.query("name");
  filter.limit = page->limit;
  filter.offset = page->offset;
  if (auto type = ctx.query("type")) {
    filter.type = registry::parse_account_type(*type);
    if (!filter.type) co_return Error(ee::errc::invalid_value, "type must be deployer, agent, contributor or launcher");
  }
  auto list = co_await s.store([&s, &filter] { return s.stores.accounts->list(filter); });
  if (!list) co_return list.error();
  bj::array out;
  for (auto const& a : *list) out.push_back(account_view(a));
  co_return http::json_response(bhttp::status::ok, detail::json::serialize(out));
}

// The rule (account_self) read the account: the key's own, or any for the operator.
Reply get_account(http::RequestContext&, Services&, Caller const& caller) {
  co_return http::json_response(bhttp::status::ok, detail::json::serialize(account_view(caller.account.value())));
}

// Links the account to the GitHub owner of a workflow's OIDC token. The token must be minted for
// this account (audience "<github_audience>/accounts/<id>"), so a token made for a deploy, or for
// another account, links nothing: whoever holds one cannot tie their own account to its owner.
Reply link_identity(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto const& account = caller.account.value();
  auto request = parse_link_request(ctx.request.body());
  if (!request) co_return request.error();
  Identity identity;
  if (!request->token.empty()) {
    auto claims = co_await verify_github_token(s, request->token, s.options.github_audience + "/accounts/" + account.id);
    if (!claims) co_return claims.error();
    identity = Identity{.id = claims->repository_owner_id, .login = detail::ascii_lowercase(claims->repository_owner),
                        .org = "", .proof = claims->repository};
  } else {
    // The person holding the account's key signed in with GitHub: the session is the proof.
    auto session = co_await find_session(s, request->session);
    if (!session) co_return session.error();
    auto proven = identity_of(*session, request->org);
    if (!proven) co_return proven.error();
    identity = std::move(*proven);
  }
  auto linked = co_await s.store([&s, &account, &identity] {
    return s.stores.accounts->link_identity(account.id, identity.id, identity.login, identity.org);
  });
  if (!linked) co_return linked.error();
  detail::log::info("cp", "account linked id=", linked->id, " name=", linked->name, " github_login=", identity.login,
                    " github_id=", linked->github_id, " proof=", identity.proof, " by=", caller.name());
  co_return http::json_response(bhttp::status::ok, detail::json::serialize(account_view(*linked)));
}

// A new key; the old one stops working the moment the new hash is stored (one statement), on this
// replica and every other: a key is checked against the stored hash on every use, and the cache
// of verified keys is keyed by that hash too.
Reply rotate_key(http::RequestContext&, Services& s, Caller const& caller) {
  auto const& account = caller.account.value();
  for (int attempt = 0; attempt < kKeyAttempts; ++attempt) {
    auto key = co_await new_key(s);
    if (!key) co_return key.error();
    auto replaced = co_await s.store(
        [&s, &account, &key] { return s.stores.accounts->replace_key(account.id, key->prefix, key->hash); });
    if (replaced) {
      detail::log::info("cp", "account key rotated id=", replaced->id, " old_prefix=", account.api_key_prefix,
                        " new_prefix=", replaced->api_key_prefix, " by=", caller.name());
      co_return with_key(bhttp::status::ok, *replaced, key->key);
    }
    if (replaced.error() != registry::errc::conflict) co_return replaced.error();
  }
  co_return Error(registry::errc::conflict, "no unique API key prefix after several attempts; retry");
}

// There is no balance yet; once billing exists, an account with one cannot be deleted.
Reply delete_account(http::RequestContext&, Services& s, Caller const& caller) {
  auto const& account = caller.account.value();
  auto removed = co_await s.store([&s, &account] { return s.stores.accounts->remove(account.id); });
  if (!removed) co_return removed.error();
  detail::log::info("cp", "account deleted id=", account.id, " name=", account.name, " by=", caller.name());
  co_return http::json_response(bhttp::status::ok, R"({"removed":true})");
}

}  // namespace

void add_account_routes(Routes& routes) {
  routes.add(bhttp::verb::post, "/accounts", Access::account_creation, create);
  routes.add(bhttp::verb::get, "/accounts", Access::admin, list_accounts);
  routes.add(bhttp::verb::get, "/accounts/{id}", Access::account_self, get_account);
  routes.add(bhttp::verb::post, "/accounts/{id}/identity", Access::account_self, link_identity);
  routes.add(bhttp::verb::post, "/accounts/{id}/api-key/rotate", Access::account_self, rotate_key);
  routes.add(bhttp::verb::delete_, "/accounts/{id}", Access::account_self, delete_account);
}

}  // namespace ee::cp
