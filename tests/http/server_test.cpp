#include <easyenclave/http/server.hpp>

#include <easyenclave/http/error.hpp>

#include "support/loopback_server.hpp"
#include "support/test_pki.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <easyenclave/log.hpp>

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using ee::http::Request;
using ee::http::RequestContext;
using ee::http::Response;
using ee::http::Router;
using ee::http::ServerOptions;
using ee::test::LoopbackServer;
using namespace std::chrono_literals;

constexpr auto kLimit = std::chrono::milliseconds(5000);  // generous bound for any one step
using HandlerResult = asio::awaitable<ee::result<Response>>;

// A blocking client for tests: every step runs on a private io_context for at most a bound
// time, so a misbehaving server fails the test instead of hanging it.
template <class Stream>
class BasicClient {
 public:
  /// Connects to 127.0.0.1:`port`, from the loopback address `source` when one is given.
  explicit BasicClient(std::uint16_t port, ssl::context* tls = nullptr,
                       char const* source = nullptr)
      : stream_(make_stream(tls)) {
    ec_ = {};
    if (source != nullptr) {
      lowest().open(tcp::v4(), ec_);
      if (!ec_) lowest().bind(tcp::endpoint(asio::ip::make_address(source), 0), ec_);
    }
    if (!ec_) lowest().connect(tcp::endpoint(asio::ip::address_v4::loopback(), port), ec_);
    if constexpr (std::is_same_v<Stream, ssl::stream<tcp::socket>>) {
      if (!ec_) {
        ec_ = run([this](auto done) {
          stream_.async_handshake(ssl::stream_base::client, std::move(done));
        });
      }
    }
  }

  /// The error of connecting (and handshaking).
  boost::system::error_code const& connect_error() const noexcept { return ec_; }

  /// Sends `request` and reads the response; nullopt (and a test failure message in `error()`)
  /// when either step fails or takes longer than kLimit.
  std::optional<Response> exchange(Request request, bool head = false) {
    if (!request.count(bhttp::field::host)) request.set(bhttp::field::host, "127.0.0.1");
    request.prepare_payload();
    ec_ = run([this, &request](auto done) {
      bhttp::async_write(stream_, request,
                         [done](boost::system::error_code ec, std::size_t) { done(ec); });
    });
    if (ec_) return std::nullopt;
    return read_response(head);
  }

  std::optional<Response> read_response(bool head = false) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.skip(head);
    parser.body_limit(boost::none);
    ec_ = run([this, &parser](auto done) {
      bhttp::async_read(stream_, buffer_, parser,
                        [done](boost::system::error_code ec, std::size_t) { done(ec); });
    });
    if (ec_) return std::nullopt;
    return parser.release();
  }

  std::optional<Response> get(std::string target) {
    return exchange(Request{bhttp::verb::get, target, 11});
  }

  boost::system::error_code write_raw(std::string const& bytes) {
    ec_ = run([this, &bytes](auto done) {
      asio::async_write(stream_, asio::buffer(bytes),
                        [done](boost::system::error_code ec, std::size_t) { done(ec); });
    });
    return ec_;
  }

  /// Reads exactly `n` bytes.
  std::string read_exactly(std::size_t n) {
    std::string out(n, '\0');
    ec_ = run([this, &out](auto done) {
      asio::async_read(stream_, asio::buffer(out),
                       [done](boost::system::error_code ec, std::size_t) { done(ec); });
    });
    return out;
  }

  /// True when the server closes the connection (EOF or reset) within `limit`; bytes that
  /// arrive before that are discarded.
  bool closed_by_peer_within(std::chrono::milliseconds limit) {
    auto const deadline = std::chrono::steady_clock::now() + limit;
    std::array<char, 1024> sink{};
    while (std::chrono::steady_clock::now() < deadline) {
      auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      auto const ec = run(
          [this, &sink](auto done) {
            stream_.async_read_some(asio::buffer(sink), [done](boost::system::error_code e,
                                                               std::size_t) { done(e); });
          },
          left);
      if (ec == asio::error::timed_out) return false;
      if (ec) return true;
    }
    return false;
  }

  boost::system::error_code const& error() const noexcept { return ec_; }
  typename Stream::lowest_layer_type& lowest() { return stream_.lowest_layer(); }

 private:
  Stream make_stream(ssl::context* tls) {
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      (void)tls;
      return Stream(ioc_);
    } else {
      return Stream(ioc_, *tls);
    }
  }

  // Starts an operation whose completion calls `done(ec)`, runs it for at most `limit`.
  template <class Start>
  boost::system::error_code run(Start start, std::chrono::milliseconds limit = kLimit) {
    std::optional<boost::system::error_code> outcome;
    start([&outcome](boost::system::error_code ec) { outcome = ec; });
    ioc_.restart();
    ioc_.run_for(limit);
    if (outcome) return *outcome;
    boost::system::error_code ignored;
    lowest().cancel(ignored);
    ioc_.restart();
    ioc_.run();
    return asio::error::timed_out;
  }

  asio::io_context ioc_;
  Stream stream_;
  beast::flat_buffer buffer_;
  boost::system::error_code ec_;
};

using Client = BasicClient<tcp::socket>;
using TlsClient = BasicClient<ssl::stream<tcp::socket>>;

boost::json::value json_of(Response const& response) {
  boost::system::error_code ec;
  auto value = boost::json::parse(response.body(), ec);
  if (ec) throw std::runtime_error("not JSON: " + response.body());
  return value;
}

HandlerResult hello(RequestContext& context) {
  co_return ee::http::json_response(
      bhttp::status::ok, R"({"hello":")" + std::string(context.params.get("name")) + R"("})");
}

HandlerResult echo(RequestContext& context) {
  Response response{bhttp::status::ok, 11};
  response.body() = context.request.body();
  co_return response;
}

HandlerResult sleepy(RequestContext&) {
  asio::steady_timer timer(co_await asio::this_coro::executor, 300ms);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return ee::http::json_response(bhttp::status::ok, R"({"slept":true})");
}

Router make_router() {
  Router router;
  router.get("/hello/{name}", hello);
  router.post("/echo", echo);
  router.put("/echo", echo);
  router.get("/sleep", sleepy);
  router.get("/fail/conflict", [](RequestContext&) -> HandlerResult {
    co_return ee::Error(ee::http::errc::invalid_route, "a \"quoted\" detail");
  });
  router.get("/fail/unavailable", [](RequestContext&) -> HandlerResult {
    co_return ee::http::errc::timeout;
  });
  router.get("/throw", [](RequestContext&) -> HandlerResult {
    throw std::runtime_error("boom");
    co_return ee::http::json_response(bhttp::status::ok, "{}");
  });
  return router;
}

TEST(HttpServer, RoutesRequestsWithPathParameters) {
  LoopbackServer server(make_router());
  Client client(server.port());
  auto const response = client.get("/hello/w%C3%B6rld");
  ASSERT_TRUE(response) << client.error().message();
  EXPECT_EQ(response->result(), bhttp::status::ok);
  EXPECT_EQ(response->at(bhttp::field::content_type), "application/json");
  EXPECT_EQ(json_of(*response).at("hello").as_string(), "w\xC3\xB6rld");
  EXPECT_TRUE(response->keep_alive());
  EXPECT_TRUE(response->count(bhttp::field::date));
}

TEST(HttpServer, KeepsConnectionAliveAcrossRequests) {
  LoopbackServer server(make_router());
  Client client(server.port());
  for (int i = 0; i < 5; ++i) {
    Request request{bhttp::verb::post, "/echo", 11};
    request.body() = "body " + std::to_string(i);
    auto const response = client.exchange(request);
    ASSERT_TRUE(response) << client.error().message();
    EXPECT_EQ(response->body(), "body " + std::to_string(i));
  }
  EXPECT_EQ(server.server().open_connections(), 1U);
}

TEST(HttpServer, Answers404ForUnknownPath) {
  LoopbackServer server(make_router());
  Client client(server.port());
  auto const response = client.get("/nope");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), bhttp::status::not_found);
  EXPECT_EQ(json_of(*response).at("code").as_string(), "http.route_not_found");
}

TEST(HttpServer, Answers405WithAllowHeader) {
  LoopbackServer server(make_router());
  Client client(server.port());
  auto const response = client.exchange(Request{bhttp::verb::delete_, "/echo", 11});
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), bhttp::status::method_not_allowed);
  EXPECT_EQ(response->at(bhttp::field::allow), "POST, PUT");
  EXPECT_EQ(json_of(*response).at("code").as_string(), "http.method_not_allowed");
}

TEST(HttpServer, AnswersHeadWithHeadersOnly) {
  LoopbackServer server(make_router());
  Client client(server.port());
  auto const response = client.exchange(Request{bhttp::verb::head, "/hello/x", 11}, true);
  ASSERT_TRUE(response) << client.error().message();
  EXPECT_EQ(response->result(), bhttp::status::ok);
  EXPECT_EQ(response->at(bhttp::field::content_length), "13");  // {"hello":"x"}
  // The connection is still in sync: the next exchange reads the next response, not a body.
  auto const next = client.get("/hello/y");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body(), R"({"hello":"y"})");
}

TEST(HttpServer, Answers413ForOversizedBodyAndCloses) {
  LoopbackServer server(make_router(), ServerOptions{.body_limit = 1024});
  Client client(server.port());
  Request request{bhttp::verb::post, "/echo", 11};
  request.body() = std::string(4096, 'x');
  auto const response = client.exchange(request);
  ASSERT_TRUE(response) << client.error().message();
  EXPECT_EQ(response->result(), bhttp::status::payload_too_large);
  EXPECT_FALSE(response->keep_alive());
  auto const body = json_of(*response);
  EXPECT_EQ(body.at("code").as_string(), "http.body_too_large");
  EXPECT_EQ(body.at("request_id").as_string(), response->at("X-Request-Id"));
  EXPECT_TRUE(client.closed_by_peer_within(kLimit));
}

TEST(HttpServer, Answers413ForOversizedChunkedBody) {
  LoopbackServer server(make_router(), ServerOptions{.body_limit = 1024});
  Client client(server.port());
  std::string const chunk(600, 'y');
  std::string raw = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) raw += "258\r\n" + chunk + "\r\n";  // 0x258 = 600
  raw += "0\r\n\r\n";
  ASSERT_FALSE(client.write_raw(raw));
  auto const response = client.read_response();
  ASSERT_TRUE(response) << client.error().message();
  EXPECT_EQ(response->result(), bhttp::status::payload_too_large);
}

TEST(HttpServer, AcceptsBodyAtTheLimit) {
  LoopbackServer server(make_router(), ServerOptions{.body_limit = 1024});
  Client client(server.port());
  Request request{bhttp::verb::post, "/echo", 11};
  request.body() = std::string(1024, 'x');
  auto const response = client.exchange(request);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), bhttp::status::ok);
  EXPECT_EQ(response->body().size(), 1024U);
}

TEST(HttpServer, Answers100ContinueBeforeReadingBody) {
  LoopbackServer server(make_router());
  Client client(server.port());
  ASSERT_FALSE(client.write_raw(
      "PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  std::string const interim = "HTTP/1.1 100 Continue\r\n\r\n";
  EXPECT_EQ(client.read_exactly(interim.size()), interim);
  ASSERT_FALSE(client.write_raw("hello"));
  auto const response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "hello");
}

TEST(HttpServer, Answers431ForHugeHeaders) {
  LoopbackServer server(make_router(), ServerOptions{.header_limit = 2048});
  Client client(server.port());
  Request request{bhttp::verb::get, "/hello/x", 11};
  request.set("X-Padding", std::string(8192, 'p'));
  auto const response = client.exchange(request);
  ASSERT_TRUE(response) << client.error().message();
  EXPECT_EQ(response->result(), bhttp::status::request_header_fields_too_large);
  EXPECT_EQ(json_of(*response).at("code").as_string(), "http.header_too_large");
  EXPECT_FALSE(response->keep_alive());
}

TEST(HttpServer, Answers400ForMalformedRequestAndMissingHost) {
  LoopbackServer server(make_router());
  {
    Client client(server.port());
    ASSERT_FALSE(client.write_raw("GET /hello/x HTTP/1.1\r\nBad Header\r\n\r\n"));
    auto const response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->result(), bhttp::status::bad_request);
  }
  {
    Client client(server.port());
    ASSERT_FALSE(client.write_raw("GET /hello/x HTTP/1.1\r\n\r\n"));
    auto const response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->result(), bhttp::status::bad_request);
  }
}

TEST(HttpServer, DropsStalledClientAfterHeaderTimeout) {
  LoopbackServer server(make_router(), ServerOptions{.header_timeout = 300ms});
  Client stalled(server.port());
  ASSERT_FALSE(stalled.write_raw("GET /hello/x HTTP/1.1\r\nHost: x\r\nX-Half"));

  // Others are served while the stalled client holds its connection.
  Client other(server.port());
  auto const response = other.get("/hello/other");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), bhttp::status::ok);

  EXPECT_TRUE(stalled.closed_by_peer_within(kLimit));
}

// A connection's deadline is lazy (one timer wait re-arms itself for the rest): a deadline
// earlier than the wait in force must still end the connection on time. Here the wait in force
// is the 60 s idle timeout when the stalled header's 300 ms begins.
TEST(HttpServer, DropsStalledHeaderOnAReusedConnectionAfterHeaderTimeout) {
  LoopbackServer server(make_router(), ServerOptions{.header_timeout = 300ms, .idle_timeout = 60s});
  Client client(server.port());
  auto const response = client.get("/hello/x");
  ASSERT_TRUE(response);
  EXPECT_TRUE(response->keep_alive());
  std::this_thread::sleep_for(500ms);  // past the first request's header deadline
  ASSERT_FALSE(client.write_raw("GET /hello/y HTTP/1.1\r\nHost: x\r\nX-Half"));
  EXPECT_TRUE(client.closed_by_peer_within(kLimit));
}

TEST(HttpServer, DropsStalledBodyAfterBodyTimeout) {
  LoopbackServer server(make_router(), ServerOptions{.header_timeout = 60s, .body_timeout = 300ms, .idle_timeout = 60s});
  Client client(server.port());
  ASSERT_FALSE(client.write_raw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":"));
  EXPECT_TRUE(client.closed_by_peer_within(kLimit));
}

TEST(HttpServer, DropsAClientThatDoesNotReadItsResponseAfterWriteTimeout) {
  Router router;
  router.get("/big", [](RequestContext&) -> HandlerResult {
    co_return ee::http::json_response(bhttp::status::ok, std::string(64 << 20, ' '));
  });
  LoopbackServer server(std::move(router), ServerOptions{.idle_timeout = 60s, .write_timeout = 300ms});
  Client client(server.port());
  ASSERT_FALSE(client.write_raw("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::this_thread::sleep_for(1s);  // the socket buffers fill; the rest cannot be written
  // What was written before the close is read, then the end: a server that had waited would
  // write the rest now and keep the connection open.
  EXPECT_TRUE(client.closed_by_peer_within(kLimit));
}

TEST(HttpServer, ClosesIdleKeepAliveConnectionAfterIdleTimeout) {
  LoopbackServer server(make_router(), ServerOptions{.idle_timeout = 300ms});
  Client client(server.port());
  auto const response = client.get("/hello/x");
  ASSERT_TRUE(response);
  EXPECT_TRUE(response->keep_alive());
  EXPECT_TRUE(client.closed_by_peer_within(kLimit));
}

TEST(HttpServer, Serves64ConcurrentKeepAliveClients) {
  LoopbackServer server(make_router(), ServerOptions{.threads = 2});
  constexpr int kClients = 64;
  constexpr int kRequestsEach = 5;
  std::atomic<int> succeeded{0};
  std::vector<std::thread> threads;
  threads.reserve(kClients);
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&server, &succeeded, c] {
      Client client(server.port());
      for (int i = 0; i < kRequestsEach; ++i) {
        auto const name = std::to_string(c) + "-" + std::to_string(i);
        auto const response = client.get("/hello/" + name);
        if (response && response->result() == bhttp::status::ok &&
            response->body() == R"({"hello":")" + name + R"("})") {
          ++succeeded;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(succeeded.load(), kClients * kRequestsEach);
}

TEST(HttpServer, GracefulStopFinishesRequestInFlight) {
  LoopbackServer server(make_router(), ServerOptions{.shutdown_grace = 5000ms});
  auto const port = server.port();

  // Polls `done` every millisecond for at most kLimit.
  auto eventually = [](auto done) {
    auto const deadline = std::chrono::steady_clock::now() + kLimit;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    return done();
  };

  Client idle(port);  // a keep-alive connection with nothing in flight: closed at once
  ASSERT_TRUE(idle.get("/hello/idle"));
  // The client can read the response before the server has seen its write complete.
  ASSERT_TRUE(eventually([&] { return server.server().requests_in_flight() == 0; }));

  std::optional<Response> slow_response;
  Client slow(port);
  std::thread slow_thread([&] { slow_response = slow.get("/sleep"); });
  EXPECT_TRUE(eventually([&] { return server.server().requests_in_flight() == 1; }));
  EXPECT_EQ(server.server().open_connections(), 2U);

  server.server().stop();  // returns once the slow request has been answered
  slow_thread.join();

  ASSERT_TRUE(slow_response) << slow.error().message();
  EXPECT_EQ(slow_response->result(), bhttp::status::ok);
  EXPECT_FALSE(slow_response->keep_alive());  // Connection: close
  EXPECT_EQ(server.server().requests_in_flight(), 0U);
  EXPECT_EQ(server.server().open_connections(), 0U);
  EXPECT_TRUE(idle.closed_by_peer_within(kLimit));

  Client late(port);
  EXPECT_EQ(late.connect_error(), asio::error::connection_refused);
}

TEST(HttpServer, WaitForSignalReturnsWhenStoppedElsewhere) {
  LoopbackServer server(make_router());
  std::thread stopper([&] {
    std::this_thread::sleep_for(50ms);
    server.server().stop();
  });
  server.server().wait_for_signal();
  stopper.join();
  server.server().wait();  // already stopped: returns at once
  Client late(server.port());
  EXPECT_TRUE(late.connect_error());
}

TEST(HttpServer, EchoesSaneRequestId) {
  LoopbackServer server(make_router());
  Client client(server.port());
  Request request{bhttp::verb::get, "/hello/x", 11};
  request.set("X-Request-Id", "abc.DEF_123-xyz");
  auto const response = client.exchange(request);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->at("X-Request-Id"), "abc.DEF_123-xyz");
}

TEST(HttpServer, GeneratesRequestIdWhenMissingOrInsane) {
  LoopbackServer server(make_router());
  Client client(server.port());
  auto const plain = client.get("/hello/x");
  ASSERT_TRUE(plain);
  std::string const generated(plain->at("X-Request-Id"));
  EXPECT_FALSE(generated.empty());

  for (std::string const& bad : {std::string("has space"), std::string(129, 'a'),
                                std::string("semi;colon")}) {
    Request request{bhttp::verb::get, "/nope", 11};
    request.set("X-Request-Id", bad);
    auto const response = client.exchange(request);
    ASSERT_TRUE(response);
    std::string const id(response->at("X-Request-Id"));
    EXPECT_NE(id, bad);
    EXPECT_NE(id, generated);
    EXPECT_EQ(json_of(*response).at("request_id").as_string(), id);
  }
}

TEST(HttpServer, MapsHandlerErrorToStatusAndJsonBody) {
  LoopbackServer server(make_router());
  Client client(server.port());
  Request request{bhttp::verb::get, "/fail/conflict", 11};
  request.set("X-Request-Id", "rid-1");
  auto const response = client.exchange(request);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), bhttp::status::bad_request);  // invalid_route -> invalid_input
  auto const body = json_of(*response);
  EXPECT_EQ(body.at("code").as_string(), "http.invalid_route");
  EXPECT_EQ(body.at("message").as_string(), "a \"quoted\" detail");
  EXPECT_EQ(body.at("request_id").as_string(), "rid-1");

  auto const unavailable = client.get("/fail/unavailable");
  ASSERT_TRUE(unavailable);
  EXPECT_EQ(unavailable->result(), bhttp::status::service_unavailable);
  EXPECT_EQ(json_of(*unavailable).at("code").as_string(), "http.timeout");
}

TEST(HttpServer, AnswersHandlerExceptionWith500AndKeepsServing) {
  LoopbackServer server(make_router());
  Client client(server.port());
  auto const response = client.get("/throw");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result(), bhttp::status::internal_server_error);
  auto const body = json_of(*response);
  EXPECT_EQ(body.at("code").as_string(), "http.internal_error");
  EXPECT_EQ(body.at("message").as_string().find("boom"), boost::json::string::npos);
  auto const next = client.get("/hello/again");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->result(), bhttp::status::ok);
}

TEST(HttpServer, StartFailsOnInvalidRouteTable) {
  Router router;
  router.get("no-slash", hello);
  auto const server = ee::http::Server::start(std::move(router));
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error(), ee::http::errc::invalid_route);
}

TEST(HttpServer, StartFailsWithBindFailedWhenPortIsTaken) {
  LoopbackServer first(make_router());
  auto const second =
      ee::http::Server::start(make_router(), ServerOptions{.host = "127.0.0.1", .port = first.port()});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), ee::http::errc::bind_failed);
}

TEST(HttpServer, ServesOverTls) {
  ee::test::TestPki const pki;
  auto const files = pki.issue_server("server", {"localhost"}, {"127.0.0.1"});
  LoopbackServer server(make_router(),
                        ServerOptions{.tls_certificate_file = files.chain.string(),
                                      .tls_private_key_file = files.private_key.string()});
  EXPECT_EQ(server.url().rfind("https://", 0), 0U);

  ssl::context tls(ssl::context::tls_client);
  tls.set_verify_mode(ssl::verify_none);
  TlsClient client(server.port(), &tls);
  ASSERT_FALSE(client.connect_error()) << client.connect_error().message();
  for (int i = 0; i < 2; ++i) {
    auto const response = client.get("/hello/tls");
    ASSERT_TRUE(response) << client.error().message();
    EXPECT_EQ(response->result(), bhttp::status::ok);
    EXPECT_EQ(response->body(), R"({"hello":"tls"})");
  }

  // A plain-text request on the TLS port is not answered as HTTP.
  Client plain(server.port());
  auto const refused = plain.get("/hello/plain");
  EXPECT_FALSE(refused);
}

TEST(HttpServer, StartFailsWithTlsSetupFailedWhenKeyFileIsMissing) {
  ee::test::TestPki const pki;
  auto const files = pki.issue_server("server", {"localhost"}, {"127.0.0.1"});
  auto const server = ee::http::Server::start(
      make_router(), ServerOptions{.tls_certificate_file = files.chain.string(),
                                   .tls_private_key_file = (pki.dir() / "missing.key").string()});
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error(), ee::http::errc::tls_setup_failed);
  EXPECT_EQ(server.error(), ee::condition::invalid_input);
}

TEST(HttpServer, StartFailsWithTlsSetupFailedWhenKeyDoesNotMatch) {
  ee::test::TestPki const pki;
  auto const a = pki.issue_server("a", {"localhost"});
  auto const b = pki.issue_server("b", {"localhost"});
  auto const server = ee::http::Server::start(
      make_router(), ServerOptions{.tls_certificate_file = a.chain.string(),
                                   .tls_private_key_file = b.private_key.string()});
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error(), ee::http::errc::tls_setup_failed);
}

// ---- framing (RFC 9112 sections 6.1-6.3) ------------------------------------------------------

// /echo answers the body; GET /count counts its calls: a request smuggled in a body calls it.
struct CountingRouter {
  std::shared_ptr<std::atomic<int>> count = std::make_shared<std::atomic<int>>(0);
  Router make() const {
    Router router;
    router.post("/echo", echo);
    router.get("/count", [count = count](RequestContext&) -> HandlerResult {
      ++*count;
      co_return ee::http::json_response(bhttp::status::ok, "{}");
    });
    return router;
  }
};

constexpr std::string_view kSmuggled = "GET /count HTTP/1.1\r\nHost: x\r\n\r\n";

TEST(HttpServerFraming, RefusesAmbiguousFramingAndNeverReadsTheBodyAsARequest) {
  CountingRouter counting;
  LoopbackServer server(counting.make());
  // Each one is framed differently by different parsers; Beast alone read the first group as
  // "no body", so the body became a second request.
  for (std::string const fields : {
           "Transfer-Encoding: xchunked\r\n",
           "Transfer-Encoding: chunked, identity\r\n",
           "Transfer-Encoding: identity\r\n",
           "Transfer-Encoding: chunked;ext=1\r\n",
           "Transfer-Encoding: ,\r\n",
           "Transfer-Encoding: chunked, chunked\r\n",
           "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
           "Transfer-Encoding: chunked\r\n , identity\r\n",  // obs-fold, unfolded to one line
           "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n",
           "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
           "Content-Length: 0, 0\r\n",
           "Content-Length: 0\r\nContent-Length: 0\r\n",
           "Content-Length: +0\r\n",
       }) {
    Client client(server.port());
    ASSERT_FALSE(client.write_raw("POST /echo HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n" +
                                  std::string(kSmuggled)));
    auto const response = client.read_response();
    ASSERT_TRUE(response) << fields << client.error().message();
    EXPECT_EQ(response->result(), bhttp::status::bad_request) << fields;
    EXPECT_FALSE(response->keep_alive()) << fields;
    EXPECT_EQ(json_of(*response).at("code").as_string(), "http.bad_request") << fields;
    EXPECT_TRUE(client.closed_by_peer_within(kLimit)) << fields;
  }
  EXPECT_EQ(counting.count->load(), 0);
}

TEST(HttpServerFraming, RefusesTransferEncodingInHttp10) {
  CountingRouter counting;
  LoopbackServer server(counting.make());
  Client client(server.port());
  ASSERT_FALSE(client.write_raw(
      "POST /echo HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
      std::string(kSmuggled)));
  auto const response = client.read_response();
  ASSERT_TRUE(response) << client.error().message();
  EXPECT_EQ(response->result(), bhttp::status::bad_request);
  EXPECT_TRUE(client.closed_by_peer_within(kLimit));
  EXPECT_EQ(counting.count->load(), 0);
}

TEST(HttpServerFraming, AnswersAnUnknownCodingBeforeChunkedWith501) {
  CountingRouter counting;
  LoopbackServer server(counting.make());
  Client client(server.port());
  ASSERT_FALSE(client.write_raw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" +
      std::string(kSmuggled)));
  auto const response = client.read_response();
  ASSERT_TRUE(response) << client.error().message();
  EXPECT_EQ(response->result(), bhttp::status::not_implemented);
  EXPECT_EQ(json_of(*response).at("code").as_string(), "http.unsupported_transfer_coding");
  EXPECT_TRUE(client.closed_by_peer_within(kLimit));
  EXPECT_EQ(counting.count->load(), 0);
}

TEST(HttpServerFraming, ServesChunkedAndContentLengthBodiesOnOneConnection) {
  CountingRouter counting;
  LoopbackServer server(counting.make());
  Client client(server.port());
  ASSERT_FALSE(client.write_raw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:  Chunked \r\n\r\n"
      "5\r\nhello\r\n0\r\n\r\n"));
  auto const chunked = client.read_response();
  ASSERT_TRUE(chunked) << client.error().message();
  EXPECT_EQ(chunked->result(), bhttp::status::ok);
  EXPECT_EQ(chunked->body(), "hello");
  ASSERT_FALSE(client.write_raw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"));
  auto const sized = client.read_response();
  ASSERT_TRUE(sized) << client.error().message();
  EXPECT_EQ(sized->body(), "abc");
  ASSERT_FALSE(client.write_raw(std::string(kSmuggled)));  // a real second request is served
  auto const counted = client.read_response();
  ASSERT_TRUE(counted);
  EXPECT_EQ(counting.count->load(), 1);
}

// ---- connection cap, accept backoff -----------------------------------------------------------

// Polls `done` every millisecond for at most kLimit.
template <class Done>
bool eventually(Done done) {
  auto const deadline = std::chrono::steady_clock::now() + kLimit;
  while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  return done();
}

// Counts the log lines that contain `needle` while it lives.
class LogCounter {
 public:
  explicit LogCounter(std::string needle) : needle_(std::move(needle)) {
    ee::log::set_level(ee::log::Level::info);
    ee::log::set_sink([this](ee::log::Level, std::string_view, std::string_view message) {
      if (message.find(needle_) != std::string_view::npos) ++count_;
    });
  }
  ~LogCounter() { ee::log::set_sink({}); }
  int count() const { return count_.load(); }

 private:
  std::string needle_;
  std::atomic<int> count_{0};
};

TEST(HttpServer, RefusesConnectionsOverTheCapWith503AndServesAgainBelowIt) {
  LogCounter cap_lines("connection cap of");
  LoopbackServer server(make_router(), ServerOptions{.max_connections = 2});
  EXPECT_EQ(server.server().max_connections(), 2U);
  std::optional<Client> first(std::in_place, server.port());
  Client second(server.port());
  ASSERT_TRUE(first->get("/hello/a"));
  ASSERT_TRUE(second.get("/hello/b"));

  for (int i = 0; i < 5; ++i) {
    Client over(server.port());
    auto const response = over.read_response();  // answered without sending anything
    ASSERT_TRUE(response) << over.error().message();
    EXPECT_EQ(response->result(), bhttp::status::service_unavailable);
    EXPECT_EQ(json_of(*response).at("code").as_string(), "http.too_many_connections");
    EXPECT_FALSE(response->keep_alive());
    EXPECT_EQ(response->at(bhttp::field::retry_after), "1");
    EXPECT_TRUE(over.closed_by_peer_within(kLimit));
  }
  EXPECT_EQ(server.server().refused_connections(), 5U);
  EXPECT_EQ(cap_lines.count(), 1);  // one line for the burst, not one per connection

  first.reset();
  ASSERT_TRUE(eventually([&] { return server.server().open_connections() == 1; }));
  Client again(server.port());
  auto const response = again.get("/hello/c");
  ASSERT_TRUE(response) << again.error().message();
  EXPECT_EQ(response->result(), bhttp::status::ok);
  EXPECT_EQ(server.server().refused_connections(), 5U);
}

TEST(HttpServer, AutomaticConnectionCapFollowsTheDescriptorLimit) {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  LoopbackServer server(make_router());
  auto const expected =
      limit.rlim_cur == RLIM_INFINITY
          ? ee::http::kAutoMaxConnections
          : std::clamp<std::size_t>(limit.rlim_cur / 4 * 3, 1, ee::http::kAutoMaxConnections);
  EXPECT_EQ(server.server().max_connections(), expected);
}

// Reads exactly sizeof(T) bytes from a pipe.
template <class T>
bool read_pipe(int fd, T& value) {
  auto* out = reinterpret_cast<char*>(&value);
  std::size_t got = 0;
  while (got < sizeof(T)) {
    auto const n = ::read(fd, out + got, sizeof(T) - got);
    if (n <= 0) return false;
    got += static_cast<std::size_t>(n);
  }
  return true;
}

// The server runs in a child process whose descriptor limit is 64, with a connection cap above
// that, so accept itself fails with EMFILE. The old loop logged a line per attempt every 50 ms.
TEST(HttpServer, AcceptOutOfDescriptorsBacksOffLogsABoundedNumberOfLinesAndRecovers) {
  std::array<int, 2> to_child{};
  std::array<int, 2> from_child{};
  ASSERT_EQ(pipe(to_child.data()), 0);
  ASSERT_EQ(pipe(from_child.data()), 0);
  pid_t const pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The child: only async-signal-safe exits, no gtest.
    rlimit const low{64, 64};
    if (setrlimit(RLIMIT_NOFILE, &low) != 0) _exit(10);
    std::atomic<int> accept_lines{0};
    ee::log::set_level(ee::log::Level::info);
    ee::log::set_sink([&accept_lines](ee::log::Level, std::string_view, std::string_view message) {
      if (message.find("accept") != std::string_view::npos) ++accept_lines;
    });
    auto server = ee::http::Server::start(
        make_router(), ServerOptions{.header_timeout = 60s, .max_connections = 10'000});
    if (!server) _exit(11);
    std::uint16_t const port = (*server)->port();
    if (::write(from_child[1], &port, sizeof(port)) != sizeof(port)) _exit(12);
    char go = 0;
    if (!read_pipe(to_child[0], go)) _exit(13);
    (*server)->stop();
    int const lines = accept_lines.load();
    if (::write(from_child[1], &lines, sizeof(lines)) != sizeof(lines)) _exit(14);
    _exit(0);
  }
  close(to_child[0]);
  close(from_child[1]);
  std::uint16_t port = 0;
  ASSERT_TRUE(read_pipe(from_child[0], port));

  {
    // More connections than the child has descriptors: the kernel completes them into the
    // listen backlog, and the child's accept fails once its table is full.
    asio::io_context ioc;
    std::vector<tcp::socket> sockets;
    for (int i = 0; i < 100; ++i) {
      tcp::socket socket(ioc);
      boost::system::error_code ec;
      socket.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port), ec);
      ASSERT_FALSE(ec) << ec.message();
      sockets.push_back(std::move(socket));
    }
    std::this_thread::sleep_for(2s);  // the old loop logged about 40 lines in this time
  }  // every connection closes, the child's sessions end, descriptors come back

  std::optional<Response> served;
  auto const deadline = std::chrono::steady_clock::now() + kLimit;
  while (!served && std::chrono::steady_clock::now() < deadline) {
    Client client(port);
    served = client.get("/hello/again");
    if (!served) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(served);
  EXPECT_EQ(served->result(), bhttp::status::ok);

  char const go = 1;
  ASSERT_EQ(::write(to_child[1], &go, 1), 1);
  int lines = -1;
  EXPECT_TRUE(read_pipe(from_child[0], lines));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // One line when accepting starts failing, one when it works again.
  EXPECT_GE(lines, 1);
  EXPECT_LE(lines, 3);
  close(to_child[1]);
  close(from_child[0]);
}

// ---- rate limits ------------------------------------------------------------------------------

struct FakeSteadyClock {
  std::shared_ptr<std::atomic<std::int64_t>> ms = std::make_shared<std::atomic<std::int64_t>>(0);
  std::function<std::chrono::steady_clock::time_point()> fn() const {
    return [ms = ms] {
      return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms->load()));
    };
  }
};

TEST(HttpServer, RateLimitedRouteAnswers429WithRetryAfterBeforeTheHandlerRuns) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  Router router;
  router.get(
      "/limited",
      [calls](RequestContext&) -> HandlerResult {
        ++*calls;
        co_return ee::http::json_response(bhttp::status::ok, "{}");
      },
      "anonymous");
  router.get("/hello/{name}", hello);
  FakeSteadyClock clock;
  ServerOptions options;
  options.rate_limits = {{"anonymous", ee::http::RateLimit{.per_minute = 60, .burst = 3}}};
  options.rate_limit_clock = clock.fn();
  LoopbackServer server(std::move(router), options);

  Client client(server.port());
  for (int i = 0; i < 3; ++i) {
    auto const ok = client.get("/limited");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->result(), bhttp::status::ok);
  }
  auto const limited = client.get("/limited");
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->result(), bhttp::status::too_many_requests);
  EXPECT_EQ(limited->at(bhttp::field::retry_after), "1");
  EXPECT_EQ(json_of(*limited).at("code").as_string(), "http.rate_limited");
  EXPECT_TRUE(limited->keep_alive());
  EXPECT_EQ(calls->load(), 3);
  EXPECT_EQ(server.server().rate_limited_requests(), 1U);

  // Routes without a class are not limited; another client address has its own bucket.
  EXPECT_EQ(client.get("/hello/x").value().result(), bhttp::status::ok);
  Client other(server.port(), nullptr, "127.0.0.2");
  ASSERT_FALSE(other.connect_error()) << other.connect_error().message();
  EXPECT_EQ(other.get("/limited").value().result(), bhttp::status::ok);

  *clock.ms += 1000;  // one token back
  EXPECT_EQ(client.get("/limited").value().result(), bhttp::status::ok);
  EXPECT_EQ(client.get("/limited").value().result(), bhttp::status::too_many_requests);
  EXPECT_EQ(calls->load(), 5);
}

TEST(HttpServer, ForwardedClientAddressIsBelievedOnlyFromTrustedProxies) {
  auto make = [] {
    Router router;
    router.get("/who", [](RequestContext& context) -> HandlerResult {
      co_return ee::http::json_response(bhttp::status::ok,
                                        "\"" + context.client.to_string() + "\"");
    });
    return router;
  };
  Request request{bhttp::verb::get, "/who", 11};
  request.set("CF-Connecting-IP", "203.0.113.9");
  {
    LoopbackServer server(make());
    Client client(server.port());
    EXPECT_EQ(client.exchange(request).value().body(), "\"127.0.0.1\"");
  }
  {
    LoopbackServer server(make(), ServerOptions{.trusted_proxies = {"127.0.0.1"}});
    Client client(server.port());
    EXPECT_EQ(client.exchange(request).value().body(), "\"203.0.113.9\"");
  }
  auto const bad = ee::http::Server::start(make(), ServerOptions{.trusted_proxies = {"proxy"}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("trusted_proxies"), std::string::npos);
}

TEST(HttpServer, StartFailsWhenARouteNamesAnUndefinedRateClass) {
  Router router;
  router.get("/x", hello, "anonymuos");
  auto const server = ee::http::Server::start(std::move(router));
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error(), ee::http::errc::invalid_route);
  EXPECT_NE(server.error().message().find("anonymuos"), std::string::npos);
}

}  // namespace
