// GitHub's OAuth web application flow, the CP's side: the authorize URL, the code exchange and
// the two reads (/user, /user/orgs). The answers are parsed in sign_in_parsing.cpp, strictly:
// GitHub's documented shapes, with bounds, and nothing of them reaches a log or an error message
// but GitHub's own error code.
#include <easyenclave/cp/error.hpp>
#include <easyenclave/cp/github_oauth.hpp>

#include "detail/encoding.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include <algorithm>
#include <string>

namespace ee::cp {
namespace {

namespace bhttp = boost::beast::http;

constexpr std::size_t kMaxOrgs = 1000;
constexpr std::size_t kOrgsPerPage = 100;

Error failed(std::string what) { return Error(errc::oauth_failed, std::move(what)); }

class HttpGithubOAuthClient final : public GithubOAuthClient {
 public:
  HttpGithubOAuthClient(std::shared_ptr<http::Client> http, GithubOAuthSettings settings)
      : http_(std::move(http)), settings_(std::move(settings)) {}

  std::string authorize_url(std::string_view state) const override {
    return settings_.web_url + "/login/oauth/authorize?client_id=" + detail::percent_encode(settings_.client_id) +
           "&redirect_uri=" + detail::percent_encode(settings_.redirect_uri) + "&scope=read%3Aorg&state=" +
           detail::percent_encode(state) + "&allow_signup=false";
  }

  boost::asio::awaitable<result<GithubSignIn>> sign_in(std::string code) override {
    auto token = co_await exchange(code);
    if (!token) co_return token.error();
    auto user_body = co_await get(*token, "/user");
    if (!user_body) co_return user_body.error();
    auto user = parse_github_user(*user_body);
    if (!user) co_return failed("GitHub's /user answer: " + user.error().message());
    GithubSignIn signed_in;
    signed_in.user = std::move(*user);
    for (std::size_t page = 1; signed_in.orgs.size() < kMaxOrgs; ++page) {
      auto orgs_body = co_await get(*token, "/user/orgs?per_page=100&page=" + std::to_string(page));
      if (!orgs_body) co_return orgs_body.error();
      auto orgs = parse_github_orgs(*orgs_body);
      if (!orgs) co_return failed("GitHub's /user/orgs answer: " + orgs.error().message());
      auto const count = orgs->size();
      for (auto& org : *orgs) {
        if (signed_in.orgs.size() == kMaxOrgs) break;
        signed_in.orgs.push_back(std::move(org));
      }
      if (count < kOrgsPerPage) break;
    }
    co_return signed_in;
  }

 private:
  boost::asio::awaitable<result<std::string>> exchange(std::string const& code) {
    http::Request request{bhttp::verb::post, settings_.web_url + "/login/oauth/access_token", 11};
    request.set(bhttp::field::accept, "application/json");
    request.set(bhttp::field::content_type, "application/x-www-form-urlencoded");
    request.body() = "client_id=" + detail::percent_encode(settings_.client_id) +
                     "&client_secret=" + detail::percent_encode(settings_.client_secret) +
                     "&code=" + detail::percent_encode(code) +
                     "&redirect_uri=" + detail::percent_encode(settings_.redirect_uri);
    request.prepare_payload();
    auto response = co_await http_->send(std::move(request));
    if (!response) co_return failed("GitHub's token exchange could not be reached: " + response.error().message());
    if (response->result() != bhttp::status::ok) {
      co_return failed("GitHub's token exchange answered HTTP " + std::to_string(response->result_int()));
    }
    co_return parse_github_token_answer(response->body());
  }

  boost::asio::awaitable<result<std::string>> get(std::string const& token, std::string const& path) {
    http::Request request{bhttp::verb::get, settings_.api_url + path, 11};
    request.set(bhttp::field::accept, "application/vnd.github+json");
    request.set(bhttp::field::authorization, "Bearer " + token);
    request.set("X-GitHub-Api-Version", "2022-11-28");
    auto response = co_await http_->send(std::move(request));
    auto const endpoint = path.substr(0, path.find('?'));
    if (!response) co_return failed("GitHub's " + endpoint + " could not be reached: " + response.error().message());
    if (response->result() != bhttp::status::ok) {
      co_return failed("GitHub's " + endpoint + " answered HTTP " + std::to_string(response->result_int()));
    }
    co_return std::move(response->body());
  }

  std::shared_ptr<http::Client> http_;
  GithubOAuthSettings settings_;
};

}  // namespace

std::shared_ptr<GithubOAuthClient> make_github_oauth_client(std::shared_ptr<http::Client> http,
                                                            GithubOAuthSettings settings) {
  return std::make_shared<HttpGithubOAuthClient>(std::move(http), std::move(settings));
}

}  // namespace ee::cp
