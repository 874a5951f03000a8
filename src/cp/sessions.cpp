// People's sessions: opening one, finding the one a token names, the admin password
// (cp/sessions.hpp says why each is built as it is; OAuth states and cookies are in
// sign_in_parsing.cpp).
#include "cp/sessions.hpp"

#include "cp/secrets.hpp"

#include <easyenclave/cp/error.hpp>

#include "detail/ascii.hpp"
#include "detail/crypto.hpp"
#include "detail/log.hpp"

#include <algorithm>

namespace ee::cp {

boost::asio::awaitable<result<std::pair<registry::LoginSession, std::string>>> open_session(
    Services& s, registry::LoginMethod method, bool admin, GithubSignIn const* who) {
  if (!s.stores.sessions) co_return Error(errc::logins_unavailable, "this control plane has no session store");
  auto id = detail::uuid_v4();
  if (!id) co_return id.error();
  auto token = new_secret(kSessionTokenKind);
  auto prefix = lookup_prefix(token);
  if (!prefix) co_return prefix.error();
  registry::LoginSession session;
  session.id = std::move(*id);
  session.token_prefix = std::move(*prefix);
  session.method = method;
  session.admin = admin;
  if (who != nullptr) {
    session.github_user = who->user;
    session.github_orgs = who->orgs;
  }
  session.created_at = s.now();
  session.expires_at = session.created_at + s.options.logins.session_ttl;
  auto hash = co_await s.hash([&s, &token] { return hash_secret(token, s.argon2); });
  if (!hash) co_return hash.error();
  session.token_hash = std::move(*hash);
  auto stored = co_await s.store([&s, &session] { return s.stores.sessions->insert(session); });
  if (!stored) co_return stored.error();
  std::pair<registry::LoginSession, std::string> opened{std::move(*stored), std::move(token)};
  co_return opened;
}

boost::asio::awaitable<result<registry::LoginSession>> find_session(Services& s, std::string token) {
  if (!s.stores.sessions) co_return Error(errc::session_invalid, "this control plane keeps no sessions");
  auto prefix = lookup_prefix(token);
  if (!prefix || !token.starts_with(kSessionTokenKind)) co_return Error(errc::session_invalid, "not a session token");
  auto const now = s.now();
  // The lookup and the cache check in one trip to the store pool: a session in use costs one
  // indexed read and a SHA-256 there, and no trip to the hashing pool.
  struct Found {
    std::optional<registry::LoginSession> known{};
    std::vector<registry::LoginSession> candidates{};
  };
  auto found = co_await s.store([&s, &prefix, &token, now]() -> result<Found> {
    auto rows = s.stores.sessions->find_by_prefix(*prefix, now);
    if (!rows) return rows.error();
    Found out;
    for (auto& row : *rows) {
      if (s.verified_keys.remembered(token, row.token_hash)) {
        out.known = std::move(row);
        return out;
      }
    }
    out.candidates = std::move(*rows);
    return out;
  });
  if (!found) co_return found.error();
  if (found->known) co_return std::move(*found->known);
  auto* candidates = &found->candidates;
  // Not seen by this process: Argon2id, on its own pool. An unknown prefix costs what a wrong
  // secret costs, so the answer's timing does not say whether some token begins like this one.
  auto const match = co_await s.hash([&s, &token, &candidates]() -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < candidates->size(); ++i) {
      if (s.verified_keys.verify(token, (*candidates)[i].token_hash)) return i;
    }
    if (candidates->empty()) verify_nothing(s.argon2);
    return std::nullopt;
  });
  if (!match) {
    detail::log::info("cp", "session token refused (prefix ", *prefix, ")");
    co_return Error(errc::session_invalid, "the session is unknown, expired or ended; sign in again");
  }
  co_return std::move((*candidates)[*match]);
}

boost::asio::awaitable<result<void>> check_admin_password(Services& s, std::string password) {
  auto const& hash = s.options.logins.admin_password_hash;
  if (hash.empty()) co_return Error(errc::logins_unavailable, "no admin password is set (CP_ADMIN_PASSWORD)");
  // Argon2id every time, never cached: a login is rare, and a cache would make a guessed
  // password cheap to confirm.
  bool const matches = co_await s.hash([&hash, &password] { return verify_secret(password, hash); });
  if (!matches) co_return Error(errc::login_failed);
  co_return result<void>{};
}

bool is_admin_login(Services const& s, std::string_view login) {
  auto const lower = detail::ascii_lowercase(login);
  auto const& admins = s.options.logins.admin_github_logins;
  return !lower.empty() && std::find(admins.begin(), admins.end(), lower) != admins.end();
}

}  // namespace ee::cp
