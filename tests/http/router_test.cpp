#include <easyenclave/http/router.hpp>

#include <easyenclave/http/error.hpp>

#include <gtest/gtest.h>
#include <boost/asio/awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <vector>

namespace {

namespace bhttp = boost::beast::http;
using ee::http::Request;
using ee::http::RequestContext;
using ee::http::Response;
using ee::http::Router;

ee::http::Handler ok_handler() {
  return [](RequestContext&) -> boost::asio::awaitable<ee::result<Response>> {
    co_return ee::http::json_response(bhttp::status::ok, "{}");
  };
}

Request request_for(std::string target) {
  Request request{bhttp::verb::get, target, 11};
  return request;
}

// A category whose codes map onto the portable condition with the same value, so status_for
// can be checked for every condition without depending on other domains.
class ConditionCategory final : public boost::system::error_category {
 public:
  char const* name() const noexcept override { return "router_test"; }
  std::string message(int value) const override { return "test code " + std::to_string(value); }
  boost::system::error_condition default_error_condition(int value) const noexcept override {
    return ee::make_error_condition(static_cast<ee::condition>(value));
  }
};

ee::Error error_with(ee::condition c) {
  static ConditionCategory const category;
  return ee::Error(ee::error_code(static_cast<int>(c), category));
}

TEST(Router, DispatchesByMethodAndPath) {
  Router router;
  router.get("/v1/agents", ok_handler()).post("/v1/agents", ok_handler());
  ASSERT_TRUE(router.check());

  auto const get = router.match(bhttp::verb::get, "/v1/agents");
  ASSERT_EQ(get.kind, Router::MatchKind::found);
  EXPECT_EQ(get.route->method, bhttp::verb::get);
  auto const post = router.match(bhttp::verb::post, "/v1/agents");
  ASSERT_EQ(post.kind, Router::MatchKind::found);
  EXPECT_EQ(post.route->method, bhttp::verb::post);
}

TEST(Router, AFallbackAnswersUnmatchedPathsButNotWrongMethods) {
  Router router;
  router.get("/api/health", ok_handler());
  EXPECT_EQ(router.match(bhttp::verb::get, "/anything").kind, Router::MatchKind::not_found);
  router.fallback(ok_handler());
  ASSERT_TRUE(router.check());
  for (auto const* path : {"/", "/anything", "/api/other", "/a/b/c"}) {
    auto const m = router.match(bhttp::verb::post, path);
    ASSERT_EQ(m.kind, Router::MatchKind::found) << path;
    EXPECT_EQ(m.route->pattern, "*");
  }
  EXPECT_EQ(router.match(bhttp::verb::get, "/api/health").route->pattern, "/api/health");
  // A route's own path under another method stays 405: the fallback does not take it over.
  EXPECT_EQ(router.match(bhttp::verb::post, "/api/health").kind,
            Router::MatchKind::method_not_allowed);
  EXPECT_EQ(router.routes().size(), 1u);
}

TEST(Router, ExtractsPercentDecodedPathParameters) {
  Router router;
  router.get("/v1/apps/{owner}/{name}/versions", ok_handler());
  auto const match = router.match(bhttp::verb::get, "/v1/apps/github%3Aorg/my%20app/versions");
  ASSERT_EQ(match.kind, Router::MatchKind::found);
  EXPECT_EQ(match.params.get("owner"), "github:org");
  EXPECT_EQ(match.params.get("name"), "my app");
  EXPECT_TRUE(match.params.contains("name"));
  EXPECT_FALSE(match.params.contains("version"));
  EXPECT_EQ(match.params.get("version"), "");
}

TEST(Router, DecodesEncodedSlashInsideParameter) {
  Router router;
  router.get("/files/{name}", ok_handler());
  auto const match = router.match(bhttp::verb::get, "/files/a%2Fb");
  ASSERT_EQ(match.kind, Router::MatchKind::found);
  EXPECT_EQ(match.params.get("name"), "a/b");
}

TEST(Router, RejectsMalformedPercentEscapes) {
  Router router;
  router.get("/files/{name}", ok_handler());
  EXPECT_EQ(router.match(bhttp::verb::get, "/files/a%2").kind, Router::MatchKind::not_found);
  EXPECT_EQ(router.match(bhttp::verb::get, "/files/a%zz").kind, Router::MatchKind::not_found);
  EXPECT_EQ(router.match(bhttp::verb::get, "/files/%").kind, Router::MatchKind::not_found);
}

TEST(Router, LiteralSegmentBeatsParameterSegment) {
  // Registered parameter-first, so the order of registration cannot be what decides.
  Router router;
  router.get("/v1/agents/{id}", ok_handler());
  router.get("/v1/agents/self", ok_handler());
  router.get("/v1/{kind}/self", ok_handler());
  ASSERT_TRUE(router.check());

  auto const self = router.match(bhttp::verb::get, "/v1/agents/self");
  ASSERT_EQ(self.kind, Router::MatchKind::found);
  EXPECT_EQ(self.route->pattern, "/v1/agents/self");
  EXPECT_TRUE(self.params.items().empty());

  auto const other = router.match(bhttp::verb::get, "/v1/agents/a-1");
  ASSERT_EQ(other.kind, Router::MatchKind::found);
  EXPECT_EQ(other.route->pattern, "/v1/agents/{id}");
  EXPECT_EQ(other.params.get("id"), "a-1");

  auto const kind = router.match(bhttp::verb::get, "/v1/apps/self");
  ASSERT_EQ(kind.kind, Router::MatchKind::found);
  EXPECT_EQ(kind.route->pattern, "/v1/{kind}/self");
  EXPECT_EQ(kind.params.get("kind"), "apps");
}

TEST(Router, ReportsMethodNotAllowedWithAllowedMethods) {
  Router router;
  router.get("/v1/agents/{id}", ok_handler());
  router.del("/v1/agents/{id}", ok_handler());
  auto const match = router.match(bhttp::verb::post, "/v1/agents/a1");
  ASSERT_EQ(match.kind, Router::MatchKind::method_not_allowed);
  EXPECT_EQ(match.route, nullptr);
  std::vector<bhttp::verb> const expected{bhttp::verb::delete_, bhttp::verb::get,
                                          bhttp::verb::head};
  EXPECT_EQ(match.allowed_methods, expected);
}

TEST(Router, ReportsNotFoundForUnmatchedPaths) {
  Router router;
  router.get("/v1/agents/{id}", ok_handler());
  router.get("/", ok_handler());
  EXPECT_EQ(router.match(bhttp::verb::get, "/v1/agents").kind, Router::MatchKind::not_found);
  EXPECT_EQ(router.match(bhttp::verb::get, "/v1/agents/").kind, Router::MatchKind::not_found);
  EXPECT_EQ(router.match(bhttp::verb::get, "/v1/agents/a/b").kind, Router::MatchKind::not_found);
  EXPECT_EQ(router.match(bhttp::verb::get, "/v2/agents/a").kind, Router::MatchKind::not_found);
  EXPECT_EQ(router.match(bhttp::verb::get, "").kind, Router::MatchKind::not_found);
  EXPECT_EQ(router.match(bhttp::verb::get, "/").kind, Router::MatchKind::found);
}

TEST(Router, HeadIsServedByGetRoute) {
  Router router;
  router.get("/health", ok_handler());
  auto const match = router.match(bhttp::verb::head, "/health");
  ASSERT_EQ(match.kind, Router::MatchKind::found);
  EXPECT_EQ(match.route->method, bhttp::verb::get);
}

TEST(Router, CheckReportsMalformedPatterns) {
  for (auto const* pattern : {"", "v1/agents", "/v1//agents", "/v1/{", "/v1/{}", "/v1/{a-b}",
                              "/v1/x{id}", "/v1/{id}x", "/v1/{id}/{id}", "/v1/a b", "/v1/%20"}) {
    Router router;
    router.get(pattern, ok_handler());
    auto const checked = router.check();
    ASSERT_FALSE(checked) << pattern;
    EXPECT_EQ(checked.error(), ee::http::errc::invalid_route) << pattern;
    EXPECT_EQ(checked.error(), ee::condition::invalid_input) << pattern;
    EXPECT_TRUE(router.routes().empty()) << pattern;
  }
}

TEST(Router, CheckReportsDuplicateRoutesAndKeepsTheFirst) {
  Router router;
  router.get("/v1/agents/{id}", ok_handler());
  router.get("/v1/agents/{agent_id}", ok_handler());
  router.post("/v1/agents/{agent_id}", ok_handler());  // another method: fine
  auto const checked = router.check();
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error(), ee::http::errc::invalid_route);
  EXPECT_NE(checked.error().message().find("/v1/agents/{agent_id}"), std::string::npos);
  EXPECT_EQ(router.routes().size(), 2U);
}

TEST(Router, CheckReportsEmptyHandler) {
  Router router;
  router.get("/x", ee::http::Handler{});
  EXPECT_FALSE(router.check());
}

TEST(Router, CheckSucceedsForValidTable) {
  Router router;
  router.get("/", ok_handler())
      .get("/v1/agents/{id}", ok_handler())
      .put("/v1/apps/{name}/versions/{version}", ok_handler())
      .post("/v1/a:b@c/~x!$&'()*+,;=", ok_handler());
  EXPECT_TRUE(router.check());
  EXPECT_EQ(router.routes().size(), 4U);
}

TEST(RequestContext, PathDropsQueryAndKeepsEncoding) {
  auto const request = request_for("/v1/apps/my%20app?x=1&y=2");
  RequestContext const context{request, {}, {}, {}};
  EXPECT_EQ(context.path(), "/v1/apps/my%20app");
}

TEST(RequestContext, PathOfAbsoluteFormTarget) {
  auto const request = request_for("http://example.com/v1/agents?x=1");
  RequestContext const context{request, {}, {}, {}};
  EXPECT_EQ(context.path(), "/v1/agents");
}

TEST(RequestContext, QueryDecodesFirstValue) {
  auto const request = request_for("/search?q=a%20b+c&q=second&flag&empty=");
  RequestContext const context{request, {}, {}, {}};
  EXPECT_EQ(context.query("q"), "a b c");
  EXPECT_EQ(context.query("flag"), "");
  EXPECT_EQ(context.query("empty"), "");
  EXPECT_EQ(context.query("missing"), std::nullopt);
}

TEST(RequestContext, QueryWithoutQueryString) {
  auto const request = request_for("/search");
  RequestContext const context{request, {}, {}, {}};
  EXPECT_EQ(context.query("q"), std::nullopt);
}

TEST(StatusFor, MapsEveryConditionToItsStatus) {
  using ee::condition;
  EXPECT_EQ(ee::http::status_for(error_with(condition::invalid_input)), bhttp::status::bad_request);
  EXPECT_EQ(ee::http::status_for(error_with(condition::unauthenticated)),
            bhttp::status::unauthorized);
  EXPECT_EQ(ee::http::status_for(error_with(condition::forbidden)), bhttp::status::forbidden);
  EXPECT_EQ(ee::http::status_for(error_with(condition::not_found)), bhttp::status::not_found);
  EXPECT_EQ(ee::http::status_for(error_with(condition::conflict)), bhttp::status::conflict);
  EXPECT_EQ(ee::http::status_for(error_with(condition::upstream_failure)),
            bhttp::status::bad_gateway);
  EXPECT_EQ(ee::http::status_for(error_with(condition::unavailable)),
            bhttp::status::service_unavailable);
  EXPECT_EQ(ee::http::status_for(ee::Error{}), bhttp::status::internal_server_error);
}

TEST(StatusFor, MapsDomainCodesThroughTheirCondition) {
  EXPECT_EQ(ee::http::status_for(ee::errc::missing_field), bhttp::status::bad_request);
  EXPECT_EQ(ee::http::status_for(ee::http::errc::timeout), bhttp::status::service_unavailable);
  EXPECT_EQ(ee::http::status_for(ee::http::errc::connect_failed), bhttp::status::bad_gateway);
}

TEST(ErrorResponse, CarriesCodeMessageAndRequestIdAsEscapedJson) {
  ee::Error const error(ee::errc::missing_field, "field \"vm_name\"\n missing \\ here");
  auto const response = ee::http::error_response(error, "rid-\"1");
  EXPECT_EQ(response.result(), bhttp::status::bad_request);
  EXPECT_EQ(response[bhttp::field::content_type], "application/json");
  boost::system::error_code ec;
  auto const body = boost::json::parse(response.body(), ec);
  ASSERT_FALSE(ec) << response.body();
  EXPECT_EQ(body.at("code").as_string(), "core.missing_field");
  EXPECT_EQ(body.at("message").as_string(), "field \"vm_name\"\n missing \\ here");
  EXPECT_EQ(body.at("request_id").as_string(), "rid-\"1");
  EXPECT_EQ(response[bhttp::field::content_length], std::to_string(response.body().size()));
}

TEST(ErrorResponse, ExplicitStatusAndCode) {
  auto const response =
      ee::http::error_response(bhttp::status::payload_too_large, "http.body_too_large", "big", "r");
  EXPECT_EQ(response.result(), bhttp::status::payload_too_large);
  auto const body = boost::json::parse(response.body());
  EXPECT_EQ(body.at("code").as_string(), "http.body_too_large");
  EXPECT_EQ(body.at("message").as_string(), "big");
}

}  // namespace
