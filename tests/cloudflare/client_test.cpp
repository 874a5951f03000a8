// ee::cloudflare::Client against scripted replies: what it sends (URL, headers, body), how it
// judges answers (status, envelope, Cloudflare's error codes), paging, and what it refuses to
// send at all.
#include <easyenclave/block_on.hpp>
#include <easyenclave/cloudflare/tunnels.hpp>
#include <easyenclave/http/error.hpp>

#include "support/fake_http_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace {

using boost::beast::http::field;
using boost::beast::http::verb;
using ee::cloudflare::Client;
using ee::cloudflare::errc;
using ee::cloudflare::Settings;
using ee::test::FakeHttpClient;

constexpr char kToken[] = "t0k-Secret-9f8e7d";
constexpr char kBase[] = "https://cf.test/client/v4";
constexpr char kTunnels[] = "/client/v4/accounts/acc1/cfd_tunnel";
constexpr char kRecords[] = "/client/v4/zones/zone1/dns_records";
constexpr char kTunnelId[] = "c1744f8b-faa1-48a4-9e5c-02ac921467fa";

Settings settings() {
  Settings s;
  s.api_base = kBase;
  s.api_token = kToken;
  s.account_id = "acc1";
  s.zone_id = "zone1";
  s.domain = "example.com";
  return s;
}

std::string ok(std::string const& result) {
  return R"({"success":true,"errors":[],"messages":[],"result":)" + result + "}";
}

std::string ok_page(std::string const& items, int page, int total_pages) {
  return R"({"success":true,"errors":[],"messages":[],"result":[)" + items +
         R"(],"result_info":{"page":)" + std::to_string(page) + R"(,"per_page":50,"count":1,)" +
         R"("total_count":)" + std::to_string(total_pages) + R"(,"total_pages":)" +
         std::to_string(total_pages) + "}}";
}

std::string refused(int code, std::string const& message) {
  return R"({"success":false,"errors":[{"code":)" + std::to_string(code) + R"(,"message":")" +
         message + R"("}],"messages":[],"result":null})";
}

std::string tunnel(std::string const& id, std::string const& name,
                   std::string const& deleted_at = "null") {
  return R"({"id":")" + id + R"(","name":")" + name + R"(","created_at":"2025-01-01T00:00:00Z",)" +
         R"("deleted_at":)" + deleted_at + "}";
}

std::string record(std::string const& id, std::string const& type, std::string const& name,
                   std::string const& content, bool proxied = true) {
  return R"({"id":")" + id + R"(","type":")" + type + R"(","name":")" + name +
         R"(","content":")" + content + R"(","proxied":)" + (proxied ? "true" : "false") +
         R"(,"ttl":1})";
}

template <class T>
T run(boost::asio::awaitable<T> task) {
  return ee::block_on(std::move(task));
}

ee::result<ee::http::Response> reply(std::string body) {
  ee::http::Response response{boost::beast::http::status::ok, 11};
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

// The value of query parameter `name` in a request target, decoded; empty when absent.
std::string query_of(ee::http::Request const& request, std::string const& name) {
  auto url = boost::urls::parse_uri(request.target());
  if (!url) return {};
  for (auto const& param : url->params())
    if (param.key == name) return param.value;
  return {};
}

struct Fixture {
  std::shared_ptr<FakeHttpClient> http = std::make_shared<FakeHttpClient>();
  Client client{http, settings()};
};

// ---- What is sent --------------------------------------------------------------------------

TEST(CloudflareClient, SendsTheBearerTokenAndAsksForJson) {
  Fixture f;
  f.http->on(verb::get, kTunnels, 200, ok_page("", 1, 0));
  auto found = run(f.client.find_tunnels("ee-cp-web"));
  ASSERT_TRUE(found) << found.error().message();
  ASSERT_EQ(f.http->request_count(), 1u);
  auto const request = f.http->requests().at(0);
  EXPECT_EQ(request[field::authorization], std::string("Bearer ") + kToken);
  EXPECT_EQ(request[field::accept], "application/json");
  EXPECT_EQ(request.target(), std::string(kBase) +
                                  "/accounts/acc1/cfd_tunnel?name=ee-cp-web&is_deleted=false"
                                  "&page=1&per_page=50");
}

TEST(CloudflareClient, ATrailingSlashOnTheBaseIsIgnored) {
  auto http = std::make_shared<FakeHttpClient>();
  auto s = settings();
  s.api_base = std::string(kBase) + "//";
  Client client(http, s);
  http->on(verb::get, std::string(kTunnels) + "/" + kTunnelId + "/token", 200, ok(R"("tok")"));
  auto token = run(client.tunnel_token(kTunnelId));
  ASSERT_TRUE(token) << token.error().message();
  EXPECT_EQ(*token, "tok");
}

TEST(CloudflareClient, CreateTunnelPostsARemotelyManagedTunnel) {
  Fixture f;
  f.http->on(verb::post, kTunnels, 200, ok(tunnel(kTunnelId, "ee-cp-web")));
  auto made = run(f.client.create_tunnel("ee-cp-web"));
  ASSERT_TRUE(made) << made.error().message();
  EXPECT_EQ(made->id, kTunnelId);
  EXPECT_EQ(made->name, "ee-cp-web");
  auto const request = f.http->requests().at(0);
  EXPECT_EQ(request[field::content_type], "application/json");
  auto body = boost::json::parse(request.body());
  EXPECT_EQ(body.at("name").as_string(), "ee-cp-web");
  EXPECT_EQ(body.at("config_src").as_string(), "cloudflare");
}

TEST(CloudflareClient, PutIngressSendsTheHostnameRuleThenA404CatchAll) {
  Fixture f;
  auto const path = std::string(kTunnels) + "/" + kTunnelId + "/configurations";
  f.http->on(verb::put, path, 200, ok("null"));
  auto put = run(f.client.put_ingress(kTunnelId, {{.hostname = "web.example.com", .path = "^/api/health$",
                                                    .service = "http://127.0.0.1:8081"},
                                                   {.hostname = "web.example.com", .path = {}, .service = "http://127.0.0.1:8080"}}));
  ASSERT_TRUE(put) << put.error().message();
  auto body = boost::json::parse(f.http->requests().at(0).body());
  auto const& ingress = body.at("config").at("ingress").as_array();
  ASSERT_EQ(ingress.size(), 3u);
  EXPECT_EQ(ingress[0].at("hostname").as_string(), "web.example.com");
  EXPECT_EQ(ingress[0].at("path").as_string(), "^/api/health$");
  EXPECT_EQ(ingress[0].at("service").as_string(), "http://127.0.0.1:8081");
  EXPECT_FALSE(ingress[1].as_object().contains("path"));  // no path: every path
  EXPECT_EQ(ingress[1].at("service").as_string(), "http://127.0.0.1:8080");
  EXPECT_FALSE(ingress[2].as_object().contains("hostname"));
  EXPECT_EQ(ingress[2].at("service").as_string(), "http_status:404");
}

TEST(CloudflareClient, CreateAndUpdateCnameSendAProxiedAutomaticTtlRecord) {
  Fixture f;
  auto const target = std::string(kTunnelId) + ".cfargotunnel.com";
  f.http->on(verb::post, kRecords, 200, ok(record("r1", "CNAME", "web.example.com", target)));
  f.http->on(verb::put, std::string(kRecords) + "/r1", 200,
             ok(record("r1", "CNAME", "web.example.com", target)));
  auto made = run(f.client.create_cname("web.example.com", target));
  ASSERT_TRUE(made) << made.error().message();
  EXPECT_EQ(made->id, "r1");
  EXPECT_TRUE(made->proxied);
  auto updated = run(f.client.update_cname("r1", "web.example.com", target));
  ASSERT_TRUE(updated) << updated.error().message();
  auto const requests = f.http->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].method(), verb::put);
  for (auto const& request : requests) {
    auto body = boost::json::parse(request.body());
    EXPECT_EQ(body.at("type").as_string(), "CNAME");
    EXPECT_EQ(body.at("name").as_string(), "web.example.com");
    EXPECT_EQ(body.at("content").as_string(), target);
    EXPECT_EQ(body.at("proxied").as_bool(), true);
    EXPECT_EQ(body.at("ttl").as_int64(), 1);
  }
}

TEST(CloudflareClient, QueryValuesArePercentEncoded) {
  Fixture f;
  f.http->on(verb::get, kTunnels, 200, ok_page("", 1, 0));
  f.http->on(verb::get, kRecords, 200, ok_page("", 1, 0));
  ASSERT_TRUE(run(f.client.find_tunnels("a b&is_deleted=true/\xc3\xa9+#")));
  ASSERT_TRUE(run(f.client.find_cnames("x.example.com&type=A")));
  auto const requests = f.http->requests();
  EXPECT_EQ(requests[0].target(), std::string(kBase) +
                                      "/accounts/acc1/cfd_tunnel?name=a%20b%26is_deleted%3Dtrue%2F"
                                      "%C3%A9%2B%23&is_deleted=false&page=1&per_page=50");
  EXPECT_EQ(query_of(requests[0], "name"), "a b&is_deleted=true/\xc3\xa9+#");
  EXPECT_EQ(query_of(requests[0], "is_deleted"), "false");
  EXPECT_EQ(requests[1].target(), std::string(kBase) +
                                      "/zones/zone1/dns_records?type=CNAME&name=x.example.com%26"
                                      "type%3DA&page=1&per_page=50");
}

// ---- How answers are judged ----------------------------------------------------------------

TEST(CloudflareClient, Status401And403AreUnauthorized) {
  for (unsigned status : {401u, 403u}) {
    Fixture f;
    f.http->on(verb::get, kTunnels, status, refused(10000, "Authentication error"));
    auto found = run(f.client.find_tunnels("x"));
    ASSERT_FALSE(found) << status;
    EXPECT_EQ(found.error(), errc::unauthorized) << status;
    EXPECT_EQ(found.error(), ee::condition::upstream_failure);
    EXPECT_NE(found.error().message().find("code 10000"), std::string::npos);
  }
}

TEST(CloudflareClient, Other4xxIsApiErrorWithCloudflaresCodesAndNeverTheToken) {
  Fixture f;
  auto const body = R"({"success":false,"errors":[{"code":1003,"message":"Invalid tunnel name"},)"
                    R"({"code":7,"message":"token )" + std::string(kToken) +
                    R"( is fine\nreally"}],"messages":[],"result":null})";
  f.http->on(verb::post, kTunnels, 400, body);
  auto made = run(f.client.create_tunnel("bad name"));
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error(), errc::api_error);
  auto const message = made.error().message();
  EXPECT_NE(message.find("code 1003: Invalid tunnel name"), std::string::npos) << message;
  EXPECT_NE(message.find("code 7"), std::string::npos) << message;
  EXPECT_NE(message.find("HTTP 400"), std::string::npos) << message;
  EXPECT_EQ(message.find(kToken), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(CloudflareClient, A404ThatIsNotADeleteIsAnApiError) {
  Fixture f;
  f.http->on(verb::get, std::string(kTunnels) + "/" + kTunnelId + "/token", 404,
             refused(1003, "Tunnel not found"));
  auto token = run(f.client.tunnel_token(kTunnelId));
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error(), errc::api_error);
}

TEST(CloudflareClient, ServerErrorsAndUnreadableAnswersAreUnavailable) {
  struct Case {
    unsigned status;
    std::string body;
  };
  std::vector<Case> const cases = {
      {500, refused(10001, "Internal error")},
      {502, "<html>Bad gateway</html>"},
      {503, ""},
      {200, "<html>not json</html>"},
      {200, "[1,2]"},
      {200, R"({"errors":[],"result":"tok"})"},                   // no success field
      {200, R"({"success":"yes","errors":[],"result":"tok"})"},   // not a boolean
      {200, R"({"success":true,"errors":[],"result":null})"},     // no result
      {200, R"({"success":true,"errors":[],"result":42})"},       // not a string
      {302, R"({"success":true,"errors":[],"result":"tok"})"},    // not 2xx
  };
  auto const path = std::string(kTunnels) + "/" + kTunnelId + "/token";
  for (auto const& c : cases) {
    Fixture f;
    f.http->on(verb::get, path, c.status, c.body);
    auto token = run(f.client.tunnel_token(kTunnelId));
    ASSERT_FALSE(token) << c.status << " " << c.body;
    EXPECT_EQ(token.error(), errc::unavailable) << c.status << " " << c.body;
    EXPECT_EQ(token.error().message().find(kToken), std::string::npos);
  }
}

TEST(CloudflareClient, TransportFailuresAreUnavailableWithTheirDetail) {
  Fixture f;
  f.http->fail(verb::get, kRecords,
               ee::Error(ee::http::errc::connect_failed, "connect to cf.test:443 refused"));
  auto found = run(f.client.find_cnames("web.example.com"));
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error(), errc::unavailable);
  EXPECT_NE(found.error().message().find("connect to cf.test:443 refused"), std::string::npos);
  EXPECT_NE(found.error().message().find("http.connect_failed"), std::string::npos);
}

TEST(CloudflareClient, ACancelledCallStaysCancelled) {
  Fixture f;
  f.http->fail(verb::delete_, std::string(kRecords) + "/r1", ee::Error(ee::errc::cancelled));
  auto deleted = run(f.client.delete_dns_record("r1"));
  ASSERT_FALSE(deleted);
  EXPECT_EQ(deleted.error(), ee::errc::cancelled);
}

TEST(CloudflareClient, SuccessFalseIsAnApiErrorEvenWith200) {
  Fixture f;
  f.http->on(verb::post, kRecords, 200, refused(9005, "Content for CNAME record is invalid"));
  auto made = run(f.client.create_cname("web.example.com", "x.cfargotunnel.com"));
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error(), errc::api_error);
  EXPECT_NE(made.error().message().find("code 9005"), std::string::npos);
}

TEST(CloudflareClient, ExistsCodesAreRecordExists) {
  for (int code : {81053, 81057, 81058}) {
    Fixture f;
    f.http->on(verb::post, kRecords, 400, refused(code, "exists"));
    auto made = run(f.client.create_cname("web.example.com", "x.cfargotunnel.com"));
    ASSERT_FALSE(made) << code;
    EXPECT_EQ(made.error(), errc::record_exists) << code;
    EXPECT_EQ(made.error(), ee::condition::conflict) << code;
  }
  Fixture f;
  f.http->on(verb::post, kTunnels, 409, refused(1013, "You already have a tunnel with this name"));
  auto made = run(f.client.create_tunnel("ee-cp-web"));
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error(), errc::record_exists);
  // success:false with an exists code, as some endpoints answer it.
  Fixture g;
  g.http->on(verb::post, kRecords, 200, refused(81057, "The record already exists."));
  auto again = run(g.client.create_cname("web.example.com", "x.cfargotunnel.com"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), errc::record_exists);
}

TEST(CloudflareClient, MissingThingsOnDeleteAndUpdateAreNotFound) {
  Fixture f;
  auto const tunnel_path = std::string(kTunnels) + "/" + kTunnelId;
  f.http->on(verb::delete_, tunnel_path, 404, refused(1003, "Tunnel not found"));
  f.http->on(verb::delete_, tunnel_path + "/connections", 404, refused(1003, "Tunnel not found"));
  f.http->on(verb::delete_, std::string(kRecords) + "/r1", 404,
             refused(81044, "Record does not exist."));
  f.http->on(verb::delete_, std::string(kRecords) + "/r2", 400,
             refused(81044, "Record does not exist."));
  f.http->on(verb::put, std::string(kRecords) + "/r1", 404,
             refused(81044, "Record does not exist."));
  EXPECT_EQ(run(f.client.delete_tunnel(kTunnelId)).error(), errc::not_found);
  EXPECT_EQ(run(f.client.delete_connections(kTunnelId)).error(), errc::not_found);
  EXPECT_EQ(run(f.client.delete_dns_record("r1")).error(), errc::not_found);
  EXPECT_EQ(run(f.client.delete_dns_record("r2")).error(), errc::not_found);
  auto updated = run(f.client.update_cname("r1", "web.example.com", "x.cfargotunnel.com"));
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error(), errc::not_found);
  EXPECT_EQ(updated.error(), ee::condition::not_found);
}

TEST(CloudflareClient, DeletesSucceedWithoutAResult) {
  Fixture f;
  auto const tunnel_path = std::string(kTunnels) + "/" + kTunnelId;
  f.http->on(verb::delete_, tunnel_path, 200,
             ok(tunnel(kTunnelId, "x", R"("2025-01-02T00:00:00Z")")));
  f.http->on(verb::delete_, tunnel_path + "/connections", 200, ok("null"));
  f.http->on(verb::delete_, std::string(kRecords) + "/r1", 200, ok(R"({"id":"r1"})"));
  EXPECT_TRUE(run(f.client.delete_connections(kTunnelId)));
  EXPECT_TRUE(run(f.client.delete_tunnel(kTunnelId)));
  EXPECT_TRUE(run(f.client.delete_dns_record("r1")));
}

TEST(CloudflareClient, MalformedItemsAreUnavailable) {
  std::vector<std::string> const tunnels = {
      R"({"name":"x"})",                                     // no id
      R"({"id":"../../zones","name":"x"})",                  // an id we would not put in a URL
      R"({"id":42,"name":"x"})",                             // wrong type
      R"({"id":"abc","name":"x","deleted_at":7})",           // wrong type
      R"("abc")",                                            // not an object
  };
  for (auto const& result : tunnels) {
    Fixture f;
    f.http->on(verb::post, kTunnels, 200, ok(result));
    auto made = run(f.client.create_tunnel("x"));
    ASSERT_FALSE(made) << result;
    EXPECT_EQ(made.error(), errc::unavailable) << result;
  }
  Fixture f;
  f.http->on(verb::get, kRecords, 200, ok(R"({"not":"a list"})"));
  auto found = run(f.client.find_cnames("web.example.com"));
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error(), errc::unavailable);
  Fixture g;
  g.http->on(verb::get, kRecords, 200, ok_page(R"({"id":"r1","type":"CNAME"})", 1, 1));
  auto partial = run(g.client.find_cnames("web.example.com"));
  ASSERT_FALSE(partial);
  EXPECT_EQ(partial.error(), errc::unavailable);
}

// ---- Paging --------------------------------------------------------------------------------

TEST(CloudflareClient, PagingFollowsTotalPages) {
  Fixture f;
  f.http->on(verb::get, kRecords, [](ee::http::Request const& request) {
    auto const page = std::stoi(query_of(request, "page"));
    auto const item = record("r" + std::to_string(page), "CNAME", "web.example.com", "t");
    return reply(ok_page(item, page, 3));
  });
  auto found = run(f.client.find_cnames("web.example.com"));
  ASSERT_TRUE(found) << found.error().message();
  ASSERT_EQ(found->size(), 3u);
  EXPECT_EQ((*found)[0].id, "r1");
  EXPECT_EQ((*found)[2].id, "r3");
  auto const requests = f.http->requests();
  ASSERT_EQ(requests.size(), 3u);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(query_of(requests[i], "page"), std::to_string(i + 1));
    EXPECT_EQ(query_of(requests[i], "per_page"), "50");
    EXPECT_EQ(query_of(requests[i], "type"), "CNAME");
  }
}

TEST(CloudflareClient, PagingStopsAtAnEmptyPageAndWithoutResultInfo) {
  Fixture f;
  // Claims 5 pages, but page 2 is empty: the list ended early.
  auto const item = record("r1", "CNAME", "web.example.com", "t");
  f.http->on(verb::get, kRecords, 200, ok_page(item, 1, 5));
  f.http->on(verb::get, kRecords, 200, ok_page("", 2, 5));
  auto found = run(f.client.find_cnames("web.example.com"));
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(found->size(), 1u);
  EXPECT_EQ(f.http->request_count(), 2u);

  Fixture g;  // an unpaged answer
  g.http->on(verb::get, kTunnels, 200, ok("[" + tunnel(kTunnelId, "x") + "]"));
  auto tunnels = run(g.client.find_tunnels("x"));
  ASSERT_TRUE(tunnels) << tunnels.error().message();
  EXPECT_EQ(tunnels->size(), 1u);
  EXPECT_EQ(g.http->request_count(), 1u);
}

TEST(CloudflareClient, PagingWithoutTotalPagesUsesTotalCountOrFullPages) {
  auto page_of = [](int page, int items, std::string const& info) {
    std::string list;
    for (int i = 0; i < items; ++i) {
      if (!list.empty()) list += ",";
      auto const id = "p" + std::to_string(page) + "i" + std::to_string(i);
      list += record(id, "CNAME", "w.example.com", "t");
    }
    return R"({"success":true,"errors":[],"messages":[],"result":[)" + list +
           R"(],"result_info":)" + info + "}";
  };
  Fixture f;  // total_pages null, total_count 60: two pages of 50
  f.http->on(verb::get, kRecords, 200,
             page_of(1, 50, R"({"page":1,"per_page":50,"total_count":60,"total_pages":null})"));
  f.http->on(verb::get, kRecords, 200,
             page_of(2, 10, R"({"page":2,"per_page":50,"total_count":60,"total_pages":null})"));
  auto found = run(f.client.find_cnames("w.example.com"));
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(found->size(), 60u);
  EXPECT_EQ(f.http->request_count(), 2u);

  Fixture g;  // no totals at all: a full page asks for the next, a short one ends the list
  g.http->on(verb::get, kRecords, 200, page_of(1, 50, R"({"page":1,"per_page":50})"));
  g.http->on(verb::get, kRecords, 200, page_of(2, 3, R"({"page":2,"per_page":50})"));
  auto more = run(g.client.find_cnames("w.example.com"));
  ASSERT_TRUE(more) << more.error().message();
  EXPECT_EQ(more->size(), 53u);
  EXPECT_EQ(g.http->request_count(), 2u);
}

TEST(CloudflareClient, PagingGivesUpBeyondAThousandPages) {
  Fixture f;
  f.http->on(verb::get, kTunnels, [](ee::http::Request const& request) {
    auto const page = std::stoi(query_of(request, "page"));
    return reply(ok_page(tunnel(kTunnelId, "other"), page, 1'000'000));
  });
  auto found = run(f.client.find_tunnels("x"));
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error(), errc::unavailable);
  EXPECT_EQ(f.http->request_count(), 1000u);
}

TEST(CloudflareClient, PagingErrorsStopTheList) {
  Fixture f;
  auto const item = record("r1", "CNAME", "web.example.com", "t");
  f.http->on(verb::get, kRecords, 200, ok_page(item, 1, 2));
  f.http->on(verb::get, kRecords, 503, "");
  auto found = run(f.client.find_cnames("web.example.com"));
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error(), errc::unavailable);
  EXPECT_NE(found.error().message().find("page 2"), std::string::npos) << found.error().message();
}

// ---- Filtering what Cloudflare returns -----------------------------------------------------

TEST(CloudflareClient, FindTunnelsDropsDeletedAndOtherNamedItems) {
  Fixture f;
  auto const items = tunnel("t1", "ee-cp-web", R"("2025-01-02T00:00:00Z")") + "," +
                     tunnel("t2", "ee-cp-web2") + "," + tunnel("t3", "EE-CP-WEB") + "," +
                     tunnel(kTunnelId, "ee-cp-web");
  f.http->on(verb::get, kTunnels, 200, ok_page(items, 1, 1));
  auto found = run(f.client.find_tunnels("ee-cp-web"));
  ASSERT_TRUE(found) << found.error().message();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].id, kTunnelId);
}

TEST(CloudflareClient, FindCnamesComparesNamesWithoutCaseAndKeepsOnlyCnames) {
  Fixture f;
  auto const items = record("r1", "CNAME", "Web.Example.COM", "a.cfargotunnel.com") + "," +
                     record("r2", "A", "web.example.com", "192.0.2.1") + "," +
                     record("r3", "CNAME", "www.example.com", "b.cfargotunnel.com", false) + "," +
                     record("r4", "CNAME", "web.example.com", "c.cfargotunnel.com", false);
  f.http->on(verb::get, kRecords, 200, ok_page(items, 1, 1));
  auto found = run(f.client.find_cnames("web.EXAMPLE.com"));
  ASSERT_TRUE(found) << found.error().message();
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[0].id, "r1");
  EXPECT_TRUE((*found)[0].proxied);
  EXPECT_EQ((*found)[1].id, "r4");
  EXPECT_FALSE((*found)[1].proxied);
  EXPECT_EQ((*found)[1].content, "c.cfargotunnel.com");
}

// ---- What is never sent --------------------------------------------------------------------

TEST(CloudflareClient, IdsWithBadCharactersAreRefusedWithoutARequest) {
  Fixture f;
  std::vector<std::string> const bad = {"", "../zones", "a/b", "a?b", "a#b", "a b", "a%2Fb", "r.1",
                                        "\xc3\xa9", std::string(65, 'a'), std::string("a\0b", 3)};
  for (auto const& id : bad) {
    EXPECT_EQ(run(f.client.tunnel_token(id)).error(), errc::invalid_id) << id;
    EXPECT_EQ(run(f.client.put_ingress(id, {{.hostname = "web.example.com", .path = {},
                                             .service = "http://127.0.0.1:8080"}}))
                  .error(),
              errc::invalid_id);
    EXPECT_EQ(run(f.client.delete_connections(id)).error(), errc::invalid_id);
    EXPECT_EQ(run(f.client.delete_tunnel(id)).error(), errc::invalid_id);
    EXPECT_EQ(run(f.client.update_cname(id, "web.example.com", "t")).error(), errc::invalid_id);
    EXPECT_EQ(run(f.client.delete_dns_record(id)).error(), errc::invalid_id);
  }
  EXPECT_EQ(f.http->request_count(), 0u);
  EXPECT_EQ(ee::Error(errc::invalid_id), ee::condition::invalid_input);
  // The longest good id is sent (the unscripted fake then fails it as a transport would).
  EXPECT_EQ(run(f.client.tunnel_token(std::string(64, 'A'))).error(), errc::unavailable);
  EXPECT_EQ(f.http->request_count(), 1u);
}

TEST(CloudflareClient, UnsetOrMalformedSettingsAreNotConfiguredWithoutARequest) {
  auto http = std::make_shared<FakeHttpClient>();
  auto expect_refused = [&](Settings s, std::string const& why) {
    Client client(http, s);
    EXPECT_EQ(run(client.find_tunnels("x")).error(), errc::not_configured) << why;
    EXPECT_EQ(run(client.find_cnames("x.example.com")).error(), errc::not_configured) << why;
  };
  auto s = settings();
  s.api_token.clear();
  expect_refused(s, "no token");
  s = settings();
  s.api_token = "tok with space";
  expect_refused(s, "token with a space");
  s = settings();
  s.api_token = "tok\r\nX-Injected: 1";
  expect_refused(s, "token with CRLF");
  for (std::string base : {"", "cf.test/client/v4", "ftp://cf.test", "https://",
                           "https://u:p@cf.test", "https://cf.test/v4?x=1", "https://cf.test/v4#f",
                           "/client/v4"}) {
    s = settings();
    s.api_base = base;
    expect_refused(s, "api_base " + base);
  }
  EXPECT_EQ(http->request_count(), 0u);

  // A missing account only stops the tunnel calls, a missing zone only the DNS calls.
  s = settings();
  s.account_id.clear();
  Client no_account(http, s);
  EXPECT_EQ(run(no_account.find_tunnels("x")).error(), errc::not_configured);
  EXPECT_EQ(run(no_account.create_tunnel("x")).error(), errc::not_configured);
  EXPECT_EQ(run(no_account.tunnel_token(kTunnelId)).error(), errc::not_configured);
  EXPECT_EQ(run(no_account.delete_tunnel(kTunnelId)).error(), errc::not_configured);
  s.account_id = "acc/../other";
  Client bad_account(http, s);
  EXPECT_EQ(run(bad_account.find_tunnels("x")).error(), errc::not_configured);
  s = settings();
  s.zone_id.clear();
  Client no_zone(http, s);
  EXPECT_EQ(run(no_zone.find_cnames("x")).error(), errc::not_configured);
  EXPECT_EQ(run(no_zone.create_cname("x", "y")).error(), errc::not_configured);
  EXPECT_EQ(run(no_zone.delete_dns_record("r1")).error(), errc::not_configured);
  EXPECT_EQ(http->request_count(), 0u);
  EXPECT_EQ(ee::Error(errc::not_configured), ee::condition::invalid_input);
}

TEST(CloudflareClient, AnEmptyTunnelNameIsRefusedWithoutARequest) {
  Fixture f;
  auto made = run(f.client.create_tunnel(""));
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error(), errc::invalid_label);
  EXPECT_EQ(f.http->request_count(), 0u);
}

}  // namespace
