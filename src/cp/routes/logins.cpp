// Signing in: the admin password, GitHub OAuth, and the session afterwards.
//
//   POST /admin/login           {"password"}  -> {"token", "session_id", "admin", "method", "expires_at"}
//                                               and the session cookie
//   POST /admin/logout          (a session)    -> {"ended": session_id}; the cookie cleared
//   GET  /auth/methods                         -> {"password", "github", "admin_token"} (booleans)
//   GET  /auth/me               (a session)    -> who the session is
//   GET  /auth/github                          -> 302 to GitHub's authorize page, {"auth_url", "state"},
//                                               and the state cookie
//   GET  /auth/github/callback?code&state      -> 303 to the console, the session cookie
//
// Sessions reach browsers only in a cookie (Secure, HttpOnly, SameSite=Lax) and scripts in the
// body of POST /admin/login; never in a URL.
#include "cp/routes/routes.hpp"
#include "cp/sessions.hpp"

#include <easyenclave/cp/error.hpp>

#include "detail/json.hpp"
#include "detail/log.hpp"
#include "detail/time.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

namespace ee::cp {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using Reply = asio::awaitable<result<http::Response>>;

constexpr std::size_t kMaxPasswordBytes = 1024;
constexpr std::size_t kMaxCodeBytes = 256;

http::Response no_store(http::Response response) {
  response.set(bhttp::field::cache_control, "no-store");
  return response;
}

std::string session_json(registry::LoginSession const& session, std::string const* token) {
  boost::json::object body;
  if (token != nullptr) body["token"] = *token;
  body["session_id"] = session.id;
  body["method"] = std::string(registry::to_string(session.method));
  body["admin"] = session.admin;
  if (!session.github_user.login.empty()) {
    body["login"] = session.github_user.login;
    body["github_id"] = session.github_user.id;
    boost::json::array orgs;
    for (auto const& org : session.github_orgs) orgs.push_back(boost::json::object{{"login", org.login}, {"id", org.id}});
    body["orgs"] = std::move(orgs);
  }
  body["created_at"] = detail::format_rfc3339(session.created_at);
  body["expires_at"] = detail::format_rfc3339(session.expires_at);
  return detail::json::serialize(body);
}

std::chrono::seconds lifetime_left(registry::LoginSession const& session, TimePoint now) {
  return std::max(std::chrono::seconds(0), std::chrono::duration_cast<std::chrono::seconds>(session.expires_at - now));
}

// --- the admin password ---------------------------------------------------------------------------

result<std::string> parse_password(std::string_view body) {
  auto doc = detail::json::parse(body, {.max_bytes = 4096, .max_depth = 2});
  if (!doc) return doc.error();
  auto r = detail::json::ObjectReader::from(*doc);
  if (!r) return r.error();
  if (auto known = r->reject_unknown({"password"}); !known) return known.error();
  auto password = r->string("password");
  if (!password) return password.error();
  if (password->empty() || password->size() > kMaxPasswordBytes) {
    return r->field_error("password", ee::errc::invalid_value, "must be 1-1024 bytes");
  }
  return password;
}

Reply login(http::RequestContext& ctx, Services& s, Caller const&) {
  auto password = parse_password(ctx.request.body());
  if (!password) co_return password.error();
  if (auto checked = co_await check_admin_password(s, std::move(*password)); !checked) {
    if (checked.error() == errc::login_failed) detail::log::warn("cp", "admin password refused from ", ctx.client);
    co_return checked.error();
  }
  auto opened = co_await open_session(s, registry::LoginMethod::password, true, nullptr);
  if (!opened) co_return opened.error();
  auto const& [session, token] = *opened;
  detail::log::info("cp", "admin signed in with the password: session ", session.id, " from ", ctx.client);
  auto response = no_store(http::json_response(bhttp::status::ok, session_json(session, &token)));
  response.insert(bhttp::field::set_cookie, set_cookie(kSessionCookie, token, "/", s.options.logins.session_ttl));
  co_return response;
}

// --- the session -------------------------------------------------------------------------------------

Reply logout(http::RequestContext&, Services& s, Caller const& caller) {
  auto const& session = std::get<Person>(caller.principal).session;
  auto const id = session.id;
  if (auto removed = co_await s.store([&s, &id] { return s.stores.sessions->remove(id); });
      !removed && removed.error() != registry::errc::not_found) {
    co_return removed.error();
  }
  detail::log::info("cp", caller.name(), " signed out: session ", id);
  boost::json::object body;
  body["ended"] = id;
  auto response = no_store(http::json_response(bhttp::status::ok, detail::json::serialize(body)));
  response.insert(bhttp::field::set_cookie, set_cookie(kSessionCookie, "", "/", std::chrono::seconds(0)));
  co_return response;
}

Reply me(http::RequestContext&, Services&, Caller const& caller) {
  auto const& session = std::get<Person>(caller.principal).session;
  co_return no_store(http::json_response(bhttp::status::ok, session_json(session, nullptr)));
}

Reply methods(http::RequestContext&, Services& s, Caller const&) {
  boost::json::object body;
  bool const sessions = s.stores.sessions != nullptr;
  body["password"] = sessions && !s.options.logins.admin_password_hash.empty();
  body["github"] = sessions && s.github_oauth != nullptr;
  body["admin_token"] = !s.options.admin_token.empty();
  co_return http::json_response(bhttp::status::ok, detail::json::serialize(body));
}

// --- GitHub ------------------------------------------------------------------------------------------

constexpr std::string_view kCallbackPath = "/auth/github/callback";

Reply github_start(http::RequestContext&, Services& s, Caller const&) {
  if (s.github_oauth == nullptr || s.stores.sessions == nullptr) {
    co_return Error(errc::logins_unavailable, "GitHub sign-in is not set up (GITHUB_OAUTH_CLIENT_ID)");
  }
  auto state = s.oauth_states.issue(s.now());
  if (!state) co_return state.error();
  auto url = s.github_oauth->authorize_url(*state);
  boost::json::object body;
  body["auth_url"] = url;
  body["state"] = *state;
  // A browser follows the redirect; a script reads the body. Either way the state cookie binds
  // the flow to whoever asked.
  auto response = no_store(http::json_response(bhttp::status::found, detail::json::serialize(body)));
  response.set(bhttp::field::location, url);
  response.insert(bhttp::field::set_cookie, set_cookie(kOAuthStateCookie, *state, kCallbackPath, s.oauth_states.ttl()));
  co_return response;
}

Reply github_callback(http::RequestContext& ctx, Services& s, Caller const&) {
  if (s.github_oauth == nullptr || s.stores.sessions == nullptr) {
    co_return Error(errc::logins_unavailable, "GitHub sign-in is not set up (GITHUB_OAUTH_CLIENT_ID)");
  }
  if (auto denied = ctx.query("error")) {
    co_return Error(errc::oauth_failed, "GitHub did not sign you in (the authorization was declined or failed)");
  }
  auto const now = s.now();
  auto const state = ctx.query("state").value_or("");
  auto const cookie = cookie_value(ctx.request, kOAuthStateCookie).value_or("");
  auto expires_at = s.oauth_states.check(state, cookie, now);
  if (!expires_at) co_return expires_at.error();
  // Single use, on every replica: the replay store keeps it until it would have expired anyway.
  bool const first = co_await s.store(
      [&s, &state, at = *expires_at, now] { return s.replay_guard.first_use("oauth-state:" + state, at, now); });
  if (!first) co_return Error(errc::oauth_state_invalid, "this sign-in was already used; start it again");
  auto code = ctx.query("code").value_or("");
  if (code.empty() || code.size() > kMaxCodeBytes) co_return Error(ee::errc::invalid_value, "code: missing or too long");
  auto who = co_await s.github_oauth->sign_in(std::move(code));
  if (!who) {
    detail::log::warn("cp", "GitHub sign-in failed: ", who.error().message());
    co_return who.error();
  }
  bool const admin = is_admin_login(s, who->user.login);
  auto opened = co_await open_session(s, registry::LoginMethod::github, admin, &*who);
  if (!opened) co_return opened.error();
  auto const& [session, token] = *opened;
  detail::log::info("cp", "github:", who->user.login, admin ? " (admin)" : "", " signed in: session ", session.id);
  auto response = no_store(http::json_response(bhttp::status::see_other, session_json(session, nullptr)));
  response.set(bhttp::field::location, s.options.logins.after_login_path);
  response.insert(bhttp::field::set_cookie, set_cookie(kSessionCookie, token, "/", lifetime_left(session, now)));
  response.insert(bhttp::field::set_cookie, set_cookie(kOAuthStateCookie, "", kCallbackPath, std::chrono::seconds(0)));
  co_return response;
}

}  // namespace

void add_login_routes(Routes& routes) {
  routes.add_at(bhttp::verb::post, "/admin/login", Access::anyone, login, kSignIn);
  routes.add_at(bhttp::verb::post, "/admin/logout", Access::person, logout);
  routes.add_at(bhttp::verb::get, "/auth/methods", Access::anyone, methods);
  routes.add_at(bhttp::verb::get, "/auth/me", Access::person, me);
  routes.add_at(bhttp::verb::get, "/auth/github", Access::anyone, github_start, kSignIn);
  routes.add_at(bhttp::verb::get, std::string(kCallbackPath), Access::anyone, github_callback, kSignIn);
}

}  // namespace ee::cp
