// Where `ee` and the Python package find the credential they send to the control plane
// (client/control_plane.hpp).
//
// GitHub Actions: a job with `permissions: id-token: write` has ACTIONS_ID_TOKEN_REQUEST_URL and
// ACTIONS_ID_TOKEN_REQUEST_TOKEN; GET <url>&audience=<aud> with "Authorization: bearer <token>"
// answers {"value": "<JWT>"} (GitHub docs, "Configuring OpenID Connect in cloud providers",
// "Requesting the JWT using environment variables").
#include <easyenclave/client/control_plane.hpp>

#include <easyenclave/file.hpp>

#include "detail/encoding.hpp"
#include "detail/json.hpp"

#include <boost/beast/http/field.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace ee::client {
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

namespace {

std::string env_value(settings::Environment const& env, std::string_view name) {
  if (!env) return {};
  return env(name).value_or("");
}

// A bearer credential is one line of visible ASCII (RFC 6750 b64token is narrower; we only keep
// what would break the header or a file's line out).
bool token_chars_ok(std::string_view token) {
  return !token.empty() && std::all_of(token.begin(), token.end(), [](char c) {
    auto const u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

std::string trimmed(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) text.pop_back();
  std::size_t start = 0;
  while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start])) != 0) ++start;
  return text.substr(start);
}

}  // namespace

std::string_view to_string(TokenSource s) noexcept {
  switch (s) {
    case TokenSource::argument:
      return "--token";
    case TokenSource::environment:
      return "EE_TOKEN";
    case TokenSource::github_actions:
      return "github-actions";
    case TokenSource::stored:
      return "stored";
    case TokenSource::none:
      break;
  }
  return "none";
}

asio::awaitable<result<std::string>> mint_actions_token(http::Client& http, std::string request_url,
                                                        std::string request_token, std::string audience,
                                                        http::RequestOptions options) {
  auto const what = std::string("the GitHub Actions token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL)");
  auto url = request_url;
  if (!audience.empty()) url += (url.find('?') == std::string::npos ? "?" : "&") + ("audience=" + detail::percent_encode(audience));
  http::Request request{bhttp::verb::get, url, 11};
  request.set(bhttp::field::authorization, "bearer " + request_token);
  request.set(bhttp::field::accept, "application/json");
  auto response = co_await http.send(std::move(request), options);
  if (!response) {
    co_return Error(errc::credentials_unavailable, what + ": " + response.error().message());
  }
  if (response->result_int() != 200) {
    co_return Error(errc::credentials_unavailable,
                    what + " answered HTTP " + std::to_string(response->result_int()) +
                        "; does the job have `permissions: id-token: write`?");
  }
  auto doc = detail::json::parse(response->body());
  if (!doc) co_return Error(errc::credentials_unavailable, what + ": " + doc.error().message());
  auto reader = detail::json::ObjectReader::from(*doc);
  if (!reader) co_return Error(errc::credentials_unavailable, what + ": " + reader.error().message());
  auto value = reader->string("value");
  if (!value) co_return Error(errc::credentials_unavailable, what + ": " + value.error().message());
  if (!token_chars_ok(*value)) co_return Error(errc::credentials_unavailable, what + ": the token is not one line");
  co_return std::move(*value);
}

asio::awaitable<result<Credential>> resolve_credential(http::Client& http, CredentialInputs inputs,
                                                       http::RequestOptions options) {
  if (!inputs.argument.empty()) {
    if (!token_chars_ok(inputs.argument)) co_return Error(ee::errc::invalid_value, "--token: not one line of text");
    co_return Credential{inputs.argument, TokenSource::argument, "--token"};
  }
  if (auto token = env_value(inputs.env, "EE_TOKEN"); !token.empty()) {
    if (!token_chars_ok(token)) co_return Error(ee::errc::invalid_value, "EE_TOKEN: not one line of text");
    co_return Credential{std::move(token), TokenSource::environment, "EE_TOKEN"};
  }
  auto const request_url = env_value(inputs.env, "ACTIONS_ID_TOKEN_REQUEST_URL");
  auto const request_token = env_value(inputs.env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN");
  if (!request_url.empty() && !request_token.empty()) {
    auto minted = co_await mint_actions_token(http, request_url, request_token, inputs.audience, options);
    if (!minted) co_return minted.error();
    co_return Credential{std::move(*minted), TokenSource::github_actions, "audience " + inputs.audience};
  }
  auto const path = stored_token_path(inputs.env);
  if (!path.empty()) {
    auto stored = read_stored_token(path);
    if (!stored) co_return stored.error();
    if (*stored) co_return Credential{std::move(**stored), TokenSource::stored, path.string()};
  }
  co_return Credential{};
}

std::filesystem::path stored_token_path(settings::Environment const& env) {
  if (auto xdg = env_value(env, "XDG_CONFIG_HOME"); !xdg.empty()) {
    return std::filesystem::path(xdg) / "easyenclave" / "token";
  }
  if (auto home = env_value(env, "HOME"); !home.empty()) {
    return std::filesystem::path(home) / ".config" / "easyenclave" / "token";
  }
  return {};
}

result<void> store_token(std::filesystem::path const& path, std::string_view token) {
  if (!token_chars_ok(token)) return Error(ee::errc::invalid_value, "the token must be one line of visible text");
  auto const dir = path.parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    if (std::filesystem::create_directories(dir, ec)) {
      // Only the user lists what is stored there (the token file itself is 0600 in any case).
      std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
    }
    if (ec) return Error(ee::errc::io_error, "cannot create " + dir.string() + ": " + ec.message());
  }
  return write_file_atomic(path, std::string(token) + "\n", 0600);
}

result<std::optional<std::string>> read_stored_token(std::filesystem::path const& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<std::string>{};
    return Error(errc::credentials_unavailable, path.string() + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return Error(errc::credentials_unavailable, path.string() + " is not a regular file");
  if ((st.st_mode & 077) != 0) {
    return Error(errc::credentials_unavailable,
                 path.string() + " is readable by other users; run `chmod 600 " + path.string() +
                     "` or `ee login` again");
  }
  auto text = read_file(path, 64 * 1024);
  if (!text) return Error(errc::credentials_unavailable, text.error().message());
  auto token = trimmed(std::move(*text));
  if (!token_chars_ok(token)) {
    return Error(errc::credentials_unavailable, path.string() + " does not hold one token; run `ee login` again");
  }
  return std::optional<std::string>{std::move(token)};
}

result<bool> remove_stored_token(std::filesystem::path const& path) {
  std::error_code ec;
  auto const removed = std::filesystem::remove(path, ec);
  if (ec) return Error(ee::errc::io_error, "cannot remove " + path.string() + ": " + ec.message());
  return removed;
}

}  // namespace ee::client
