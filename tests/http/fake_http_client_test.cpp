#include "support/fake_http_client.hpp"

#include <easyenclave/block_on.hpp>
#include <easyenclave/http/error.hpp>

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace {

using boost::beast::http::field;
using boost::beast::http::verb;
using ee::http::Request;
using ee::test::FakeHttpClient;

Request make_request(verb method, std::string url, std::string body = {}) {
  Request request{method, url, 11};
  request.body() = std::move(body);
  return request;
}

TEST(FakeHttpClient, AnswersScriptedReplyAndRecordsTheRequest) {
  auto http = std::make_shared<FakeHttpClient>();
  http->on(verb::post, "/zones/z1/dns_records", 409, R"({"success":false})",
           {{"Content-Type", "application/json"}});
  auto request = make_request(verb::post, "https://cf.test/zones/z1/dns_records", "{}");
  request.set(field::authorization, "Bearer t0k");

  auto reply = ee::block_on(http->send(request));

  ASSERT_TRUE(reply.has_value()) << reply.error().message();
  EXPECT_EQ(reply->result_int(), 409u);
  EXPECT_EQ(reply->body(), R"({"success":false})");
  EXPECT_EQ((*reply)[field::content_type], "application/json");
  EXPECT_EQ((*reply)[field::content_length], "17");
  ASSERT_EQ(http->request_count(), 1u);
  EXPECT_EQ(http->requests().at(0)[field::authorization], "Bearer t0k");
  EXPECT_EQ(http->requests().at(0).body(), "{}");
}

TEST(FakeHttpClient, SequenceFailsTwiceThenSucceedsForEver) {
  auto http = std::make_shared<FakeHttpClient>();
  http->on(verb::get, "/x", 503, "busy");
  http->fail(verb::get, "/x", ee::http::errc::timeout);
  http->on(verb::get, "/x", 200, "ok");

  auto first = ee::block_on(http->send(make_request(verb::get, "https://h.test/x")));
  auto second = ee::block_on(http->send(make_request(verb::get, "https://h.test/x")));
  auto third = ee::block_on(http->send(make_request(verb::get, "https://h.test/x")));
  auto fourth = ee::block_on(http->send(make_request(verb::get, "https://h.test/x")));

  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->result_int(), 503u);
  ASSERT_TRUE(second.has_error());
  EXPECT_EQ(second.error(), ee::http::errc::timeout);
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->body(), "ok");
  ASSERT_TRUE(fourth.has_value());
  EXPECT_EQ(fourth->body(), "ok");
}

TEST(FakeHttpClient, MatchesOnPathWithoutQueryAndOnOriginFormTargets) {
  auto http = std::make_shared<FakeHttpClient>();
  http->on(verb::get, "/v1/items", 200, "[]");
  EXPECT_TRUE(ee::block_on(http->send(make_request(verb::get, "https://h.test/v1/items?page=2"))));
  EXPECT_TRUE(ee::block_on(http->send(make_request(verb::get, "/v1/items"))));
  EXPECT_EQ(FakeHttpClient::path_of("https://h.test"), "/");
  EXPECT_EQ(FakeHttpClient::path_of("https://h.test/a/b#frag"), "/a/b");
}

TEST(FakeHttpClient, UnscriptedRequestNamesMethodAndPath) {
  auto http = std::make_shared<FakeHttpClient>();
  http->on(verb::get, "/known", 200, "");
  auto reply = ee::block_on(http->send(make_request(verb::delete_, "https://h.test/known?x=1")));
  ASSERT_TRUE(reply.has_error());
  EXPECT_EQ(reply.error(), ee::http::errc::no_scripted_reply);
  EXPECT_EQ(reply.error(), ee::condition::not_found);
  EXPECT_NE(reply.error().detail().find("DELETE /known"), std::string::npos)
      << reply.error().detail();
  EXPECT_EQ(http->request_count(), 1u);  // recorded even though unanswered
}

TEST(FakeHttpClient, DynamicReplySeesTheRequest) {
  auto http = std::make_shared<FakeHttpClient>();
  http->on(verb::post, "/echo", [&](Request const& request) -> ee::result<ee::http::Response> {
    ee::http::Response response{boost::beast::http::status::created, 11};
    response.body() = "got " + request.body() + " after " + std::to_string(http->request_count());
    return response;
  });
  auto reply = ee::block_on(http->send(make_request(verb::post, "https://h.test/echo", "ping")));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->result(), boost::beast::http::status::created);
  EXPECT_EQ(reply->body(), "got ping after 1");
}

TEST(FakeHttpClient, RecordsConcurrentRequestsFromManyThreads) {
  auto http = std::make_shared<FakeHttpClient>();
  http->on(verb::get, "/n", 200, "ok");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&http] {
      for (int i = 0; i < 50; ++i) {
        auto reply = ee::block_on(http->send(make_request(verb::get, "http://h.test/n")));
        EXPECT_TRUE(reply.has_value());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(http->requests().size(), 200u);
}

}  // namespace
