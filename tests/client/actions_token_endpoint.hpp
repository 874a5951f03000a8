#pragma once
// GitHub Actions' ID-token request endpoint (ACTIONS_ID_TOKEN_REQUEST_URL), played on loopback:
// it answers only the request token it was given (`Authorization: bearer <token>`, as the
// runner's endpoint does), requires the api-version the runner's URL carries, and mints with the
// fake GitHub issuer for the audience asked, for repository octo-org/hello.
#include "fakes/fake_github.hpp"
#include "support/loopback_server.hpp"

#include <boost/beast/http/field.hpp>

#include <atomic>
#include <string>

namespace ee::test {

class ActionsTokenEndpoint {
 public:
  ActionsTokenEndpoint(FakeGithubIssuer& github, std::string request_token)
      : server_(router(github, std::move(request_token), calls_)) {}
  std::string request_url() const { return server_.url() + "/token?api-version=2.0"; }
  int calls() const { return calls_.load(); }

 private:
  static ee::http::Router router(FakeGithubIssuer& github, std::string expected,
                                 std::atomic<int>& calls) {
    ee::http::Router r;
    r.get("/token", [&github, expected, &calls](ee::http::RequestContext& ctx)
                        -> boost::asio::awaitable<ee::result<ee::http::Response>> {
      ++calls;
      if (std::string(ctx.request[boost::beast::http::field::authorization]) != "bearer " + expected) {
        co_return ee::http::json_response(boost::beast::http::status::unauthorized, R"({"message":"bad request token"})");
      }
      GithubTokenRequest request;
      request.repository = "octo-org/hello";
      request.audience = ctx.query("audience").value_or("");
      if (ctx.query("api-version").value_or("") != "2.0") co_return ee::http::json_response(boost::beast::http::status::bad_request, "{}");
      co_return ee::http::json_response(boost::beast::http::status::ok, R"({"count":1,"value":")" + github.mint(request) + "\"}");
    });
    return r;
  }
  std::atomic<int> calls_{0};
  LoopbackServer server_;
};

}  // namespace ee::test
