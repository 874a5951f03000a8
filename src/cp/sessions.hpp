#pragma once
// People's sessions at the control plane: the admin password login, GitHub OAuth, and the
// session token a browser (cookie) or a script (bearer) presents afterwards.
//
// A session token is "ee_sess_" + 32 base62 characters (190 random bits). The CP keeps only an
// Argon2id hash of it, with its first 12 characters to find the row, like account API keys. A
// token is verified with Argon2id once per process; after that a cache keyed by the token's
// SHA-256 and the stored hash answers (cp/secrets.hpp), so a request with a session costs a
// SHA-256 and one indexed read, and a session that ended (logout, expiry, purge) is refused at
// once because its row is gone or expired. bench/bench_auth measures both paths.
//
// OAuth `state` values carry their own expiry and a MAC under a key derived from the CP's
// signing key (so every replica of one CP accepts them), are bound to the browser that started
// the flow by a cookie holding the same value, and are single use through the replay store.
#include "cp/cookies.hpp"
#include "cp/oauth_states.hpp"
#include "cp/services.hpp"

#include <easyenclave/cp/github_oauth.hpp>
#include <easyenclave/registry/types.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ee::cp {

inline constexpr std::string_view kSessionTokenKind = "ee_sess_";
/// The session cookie: Secure, HttpOnly, SameSite=Lax, Path=/.
inline constexpr std::string_view kSessionCookie = "ee_session";
/// The OAuth state cookie, sent only to the callback: Secure, HttpOnly, SameSite=Lax.
inline constexpr std::string_view kOAuthStateCookie = "ee_oauth_state";

/// A new session for a person: the record stored and the token, shown once. `who` is null for a
/// password login. errc::logins_unavailable without a session store.
boost::asio::awaitable<result<std::pair<registry::LoginSession, std::string>>> open_session(
    Services& services, registry::LoginMethod method, bool admin, GithubSignIn const* who);

/// The live session `token` names: errc::session_invalid when it is malformed, unknown, expired
/// or ended. Argon2id runs on the store pool, never on a server thread.
boost::asio::awaitable<result<registry::LoginSession>> find_session(Services& services, std::string token);

/// Checks the admin password against Options::logins' hash: errc::login_failed when it does not
/// match, errc::logins_unavailable when no password is set. Costs one Argon2id either way.
boost::asio::awaitable<result<void>> check_admin_password(Services& services, std::string password);

/// Whether a GitHub user signs in as the operator (Options::logins.admin_github_logins).
bool is_admin_login(Services const& services, std::string_view login);

}  // namespace ee::cp
