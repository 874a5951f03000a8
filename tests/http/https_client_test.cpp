// The production client against raw loopback responders (plain TCP and TLS) that do exactly
// what each test needs: canned replies, oversized bodies, closing at chosen points, stalling.
#include <easyenclave/block_on.hpp>
#include <easyenclave/http/error.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/log.hpp>

#include "support/test_pki.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using ee::http::errc;
using ee::http::Request;
using ee::http::Response;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// What the responder does with the n-th request (0-based) on one connection.
struct Action {
  enum class Kind { reply, close, stall };
  Kind kind = Kind::reply;
  std::string bytes{};       // written as-is for Kind::reply
  bool close_after = false;  // close the connection after replying
};
using ServerRequest = bhttp::request<bhttp::string_body>;
using Script = std::function<Action(std::size_t index, ServerRequest const& request)>;

std::string reply_bytes(unsigned status, std::string const& body, std::string const& extra = "") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

Action reply(unsigned status, std::string const& body, std::string const& extra = "") {
  return Action{.bytes = reply_bytes(status, body, extra)};
}

// A loopback HTTP/1.1 responder on 127.0.0.1:0, on its own thread, with or without TLS.
class Responder {
 public:
  explicit Responder(Script script, std::optional<ee::test::PemFiles> tls = std::nullopt)
      : script_(std::move(script)), tls_context_(ssl::context::tls_server) {
    if (tls) {
      tls_context_.use_certificate_chain_file(tls->chain.string());
      tls_context_.use_private_key_file(tls->private_key.string(), ssl::context::pem);
      tls_enabled_ = true;
    }
    acceptor_.open(tcp::v4());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(context_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { context_.run(); });
  }

  ~Responder() {
    context_.stop();
    thread_.join();
  }

  std::uint16_t port() const { return port_; }
  std::size_t accepted() const { return accepted_.load(); }
  std::size_t requests() const { return requests_.load(); }
  std::size_t closed() const { return closed_.load(); }
  ServerRequest last_request() const {
    std::lock_guard lock(mutex_);
    return last_request_;
  }

  // Waits (bounded) until `closed()` reaches `n`; the server side closes asynchronously.
  bool wait_closed(std::size_t n) const {
    for (int i = 0; i < 200 && closed() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return closed() >= n;
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
      if (ec) co_return;
      ++accepted_;
      asio::co_spawn(context_, serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    if (tls_enabled_) {
      ssl::stream<tcp::socket> stream(std::move(socket), tls_context_);
      auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kNoThrow);
      if (!ec) co_await exchange(stream);
    } else {
      co_await exchange(socket);
    }
    ++closed_;
  }

  template <class Stream>
  asio::awaitable<void> exchange(Stream& stream) {
    beast::flat_buffer buffer;
    for (std::size_t index = 0;; ++index) {
      ServerRequest request;
      auto [ec, n] = co_await bhttp::async_read(stream, buffer, request, kNoThrow);
      if (ec) co_return;
      ++requests_;
      {
        std::lock_guard lock(mutex_);
        last_request_ = request;
      }
      Action action = script_(index, request);
      if (action.kind == Action::Kind::close) co_return;
      if (action.kind == Action::Kind::stall) {
        asio::steady_timer forever(co_await asio::this_coro::executor, std::chrono::hours(1));
        co_await forever.async_wait(kNoThrow);
        co_return;
      }
      auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(action.bytes),
                                                            kNoThrow);
      if (write_ec || action.close_after) co_return;
    }
  }

  Script script_;
  ssl::context tls_context_;  // before context_: connections die with context_, first
  asio::io_context context_;
  bool tls_enabled_ = false;
  tcp::acceptor acceptor_{context_};
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> accepted_{0}, requests_{0}, closed_{0};
  mutable std::mutex mutex_;
  ServerRequest last_request_;
  std::thread thread_;
};

// An io_context that outlives single calls, so pooled connections survive between requests.
class Loop {
 public:
  template <class T>
  T run(asio::awaitable<T> task) {
    std::optional<T> out;
    asio::co_spawn(context_, store(std::move(task), out), asio::detached);
    context_.restart();
    context_.run();
    return std::move(*out);
  }

 private:
  template <class T>
  static asio::awaitable<void> store(asio::awaitable<T> task, std::optional<T>& out) {
    out.emplace(co_await std::move(task));
  }
  asio::io_context context_;
};

Request get(std::string const& url) { return Request{bhttp::verb::get, url, 11}; }

std::shared_ptr<ee::http::Client> make_client(ee::http::HttpsOptions options = {}) {
  auto client = ee::http::make_https_client(std::move(options));
  EXPECT_TRUE(client.has_value()) << client.error().message();
  return client.value();
}

// One PKI for the binary: key generation is the slow part of these tests.
ee::test::TestPki const& pki() {
  static ee::test::TestPki const instance;
  return instance;
}

ee::http::HttpsOptions trusting_test_ca() {
  return {.use_system_roots = false, .extra_ca_file = pki().ca_file().string()};
}

std::string local_url(Responder const& server, std::string const& scheme,
                      std::string const& path = "/", std::string const& host = "127.0.0.1") {
  return scheme + "://" + host + ":" + std::to_string(server.port()) + path;
}

Script always(Action action) {
  return [action](std::size_t, ServerRequest const&) { return action; };
}

// --- plain HTTP -------------------------------------------------------------------------------

TEST(HttpsClient, PlainHttpSendsOriginFormTargetHostAndUserAgent) {
  Responder server(always(reply(200, "hello")));
  auto client = make_client();
  auto response = ee::block_on(client->send(get(local_url(server, "http", "/a/b?x=1#frag"))));
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->result_int(), 200u);
  EXPECT_EQ(response->body(), "hello");
  auto const seen = server.last_request();
  EXPECT_EQ(seen.target(), "/a/b?x=1");
  EXPECT_EQ(seen[bhttp::field::host], "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(seen[bhttp::field::user_agent], "easyenclave");
}

TEST(HttpsClient, KeepsCallerUserAgentAndSendsBody) {
  Responder server(always(reply(201, "")));
  auto client = make_client({.user_agent = "ignored"});
  Request request{bhttp::verb::post, local_url(server, "http", "/items"), 11};
  request.set(bhttp::field::user_agent, "mine/1.0");
  request.body() = R"({"a":1})";
  auto response = ee::block_on(client->send(request));
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(server.last_request()[bhttp::field::user_agent], "mine/1.0");
  EXPECT_EQ(server.last_request().body(), R"({"a":1})");
}

TEST(HttpsClient, NonSuccessStatusIsAResponseNotAnError) {
  Responder server(always(reply(503, "try later")));
  auto client = make_client();
  auto response = ee::block_on(client->send(get(local_url(server, "http"))));
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->result_int(), 503u);
  EXPECT_EQ(response->body(), "try later");
}

TEST(HttpsClient, SkipsInterimResponses) {
  Responder server(always(Action{.bytes = "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" +
                                          reply_bytes(200, "final")}));
  auto client = make_client();
  auto response = ee::block_on(client->send(get(local_url(server, "http"))));
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->body(), "final");
}

TEST(HttpsClient, HeadResponseHasNoBodyAndKeepsTheConnectionUsable) {
  Responder server([](std::size_t, ServerRequest const& request) {
    if (request.method() == bhttp::verb::head) {
      return Action{.bytes = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"};
    }
    return reply(204, "");
  });
  auto client = make_client();
  Loop loop;
  auto head = loop.run(client->send(Request{bhttp::verb::head, local_url(server, "http"), 11}));
  ASSERT_TRUE(head.has_value()) << head.error().message();
  EXPECT_EQ(head->body(), "");
  auto next = loop.run(client->send(get(local_url(server, "http"))));
  ASSERT_TRUE(next.has_value()) << next.error().message();
  EXPECT_EQ(next->result_int(), 204u);
  EXPECT_EQ(server.accepted(), 1u);
}

// --- TLS verification -------------------------------------------------------------------------

TEST(HttpsClient, FailsWithCertificateUntrustedWhenCaIsNotTrusted) {
  Responder server(always(reply(200, "secret")),
                   pki().issue_server("untrusted", {"localhost"}, {"127.0.0.1"}));
  auto client = make_client({.use_system_roots = false});
  auto response = ee::block_on(client->send(get(local_url(server, "https"))));
  ASSERT_TRUE(response.has_error());
  EXPECT_EQ(response.error(), errc::certificate_untrusted) << response.error().message();
  EXPECT_EQ(response.error(), ee::condition::upstream_failure);
  EXPECT_EQ(server.requests(), 0u);

  // Trusting an unrelated CA (and the system roots) does not help either.
  auto other = make_client({.extra_ca_file = pki().other_ca_file().string()});
  auto again = ee::block_on(other->send(get(local_url(server, "https"))));
  ASSERT_TRUE(again.has_error());
  EXPECT_EQ(again.error(), errc::certificate_untrusted) << again.error().message();
}

TEST(HttpsClient, SucceedsWithExtraCaFileByIpAndByName) {
  Responder server(always(reply(200, "over tls")),
                   pki().issue_server("trusted", {"localhost"}, {"127.0.0.1"}));
  auto client = make_client(trusting_test_ca());
  auto by_ip = ee::block_on(client->send(get(local_url(server, "https", "/v1"))));
  ASSERT_TRUE(by_ip.has_value()) << by_ip.error().message();
  EXPECT_EQ(by_ip->body(), "over tls");
  auto by_name =
      ee::block_on(client->send(get(local_url(server, "https", "/v1", "localhost"))));
  ASSERT_TRUE(by_name.has_value()) << by_name.error().message();
  EXPECT_EQ(server.last_request()[bhttp::field::host],
            "localhost:" + std::to_string(server.port()));
}

TEST(HttpsClient, FailsWithHostnameMismatchForCertificateOfAnotherName) {
  Responder server(always(reply(200, "")), pki().issue_server("other", {"other.test"}));
  auto client = make_client(trusting_test_ca());
  auto by_ip = ee::block_on(client->send(get(local_url(server, "https"))));
  ASSERT_TRUE(by_ip.has_error());
  EXPECT_EQ(by_ip.error(), errc::hostname_mismatch) << by_ip.error().message();
  auto by_name = ee::block_on(client->send(get(local_url(server, "https", "/", "localhost"))));
  ASSERT_TRUE(by_name.has_error());
  EXPECT_EQ(by_name.error(), errc::hostname_mismatch) << by_name.error().message();
  EXPECT_EQ(server.requests(), 0u);
}

TEST(HttpsClient, IpLiteralIsCheckedAgainstIpAddressEntriesOnly) {
  // RFC 6125 / RFC 5280: a DNS entry "127.0.0.1" is not an IP identity.
  Responder server(always(reply(200, "")), pki().issue_server("dns-ip", {"127.0.0.1"}));
  auto client = make_client(trusting_test_ca());
  auto response = ee::block_on(client->send(get(local_url(server, "https"))));
  ASSERT_TRUE(response.has_error());
  EXPECT_EQ(response.error(), errc::hostname_mismatch) << response.error().message();
}

TEST(HttpsClient, PlainServerBehindHttpsUrlIsAHandshakeFailure) {
  Responder server(always(reply(200, "plain")));
  auto client = make_client(trusting_test_ca());
  auto response = ee::block_on(client->send(get(local_url(server, "https"))));
  ASSERT_TRUE(response.has_error());
  EXPECT_EQ(response.error(), errc::tls_handshake_failed) << response.error().message();
}

// --- limits and failures ----------------------------------------------------------------------

TEST(HttpsClient, ResponseOverTheCapIsRefused) {
  Responder server([](std::size_t, ServerRequest const& request) {
    if (request.target() == "/chunked") {
      std::string chunk(600, 'c');
      return Action{.bytes = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n" +
                             chunk + "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n"};
    }
    if (request.target() == "/headers") {
      return reply(200, "", "X-Big: " + std::string(2000, 'h') + "\r\n");
    }
    return reply(200, std::string(2000, 'b'));
  });
  auto client = make_client();
  ee::http::RequestOptions const small{.max_response_bytes = 1024};
  for (auto path : {"/sized", "/chunked", "/headers"}) {
    auto response = ee::block_on(client->send(get(local_url(server, "http", path)), small));
    ASSERT_TRUE(response.has_error()) << path;
    EXPECT_EQ(response.error(), errc::response_too_large) << path << ": "
                                                          << response.error().message();
  }
  auto fits = ee::block_on(client->send(get(local_url(server, "http", "/sized"))));
  ASSERT_TRUE(fits.has_value()) << fits.error().message();
  EXPECT_EQ(fits->body().size(), 2000u);
}

TEST(HttpsClient, TimesOutAgainstAStalledServer) {
  Responder server(always(Action{.kind = Action::Kind::stall}));
  auto client = make_client();
  auto const started = std::chrono::steady_clock::now();
  auto response = ee::block_on(
      client->send(get(local_url(server, "http")), {.timeout = std::chrono::milliseconds(300)}));
  auto const elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(response.has_error());
  EXPECT_EQ(response.error(), errc::timeout) << response.error().message();
  EXPECT_EQ(response.error(), ee::condition::unavailable);
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST(HttpsClient, TimesOutDuringATlsHandshakeThatNeverStarts) {
  // A listener that accepts TCP but never answers the ClientHello.
  asio::io_context context;
  tcp::acceptor acceptor(context, {asio::ip::make_address("127.0.0.1"), 0});
  auto client = make_client(trusting_test_ca());
  auto url = "https://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/";
  auto response = ee::block_on(client->send(get(url), {.timeout = std::chrono::milliseconds(300)}));
  ASSERT_TRUE(response.has_error());
  EXPECT_EQ(response.error(), errc::timeout) << response.error().message();
}

TEST(HttpsClient, MalformedResponseIsAProtocolError) {
  Responder server(always(Action{.bytes = "SMTP ready\r\n\r\n", .close_after = true}));
  auto client = make_client();
  auto response = ee::block_on(client->send(get(local_url(server, "http"))));
  ASSERT_TRUE(response.has_error());
  EXPECT_EQ(response.error(), errc::protocol_error) << response.error().message();
}

TEST(HttpsClient, CloseBeforeAnyResponseOnAFreshConnectionIsConnectionClosed) {
  Responder server(always(Action{.kind = Action::Kind::close}));
  auto client = make_client();
  auto response = ee::block_on(client->send(get(local_url(server, "http"))));
  ASSERT_TRUE(response.has_error());
  EXPECT_EQ(response.error(), errc::connection_closed) << response.error().message();
  EXPECT_EQ(server.accepted(), 1u);  // nothing to retry: the connection was new
}

TEST(HttpsClient, RefusedConnectionIsConnectFailed) {
  std::uint16_t port = 0;
  {
    asio::io_context context;
    tcp::acceptor acceptor(context, {asio::ip::make_address("127.0.0.1"), 0});
    port = acceptor.local_endpoint().port();
  }
  auto client = make_client();
  auto response =
      ee::block_on(client->send(get("http://127.0.0.1:" + std::to_string(port) + "/")));
  ASSERT_TRUE(response.has_error());
  EXPECT_EQ(response.error(), errc::connect_failed) << response.error().message();
  EXPECT_NE(response.error().detail().find("127.0.0.1"), std::string::npos);
}

// A process out of descriptors cannot open a socket. Asio's range connect reports that as
// operation_aborted; the client must say what it is (a control plane answered 200 concurrent
// registrations under a limit of 1024 with "connecting ... was cancelled").
TEST(HttpsClient, ASocketThatCannotBeOpenedIsConnectFailedNotCancelled) {
  auto client = make_client();
  asio::io_context context;
  asio::steady_timer reactor_made(context);  // the context's own descriptors, before the limit bites
  std::optional<ee::result<ee::http::Response>> response;
  std::string thrown;
  asio::co_spawn(context, client->send(get("http://127.0.0.1:9/")),
                 [&response, &thrown](std::exception_ptr e, ee::result<ee::http::Response> r) {
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (std::exception const& x) {
                       thrown = x.what();
                     }
                   }
                   response = std::move(r);
                 });
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  std::vector<int> held;
  {
    // Every descriptor below a lowered limit in use, then the send runs.
    rlimit low = saved;
    low.rlim_cur = 256;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    for (int fd = ::open("/dev/null", O_RDONLY); fd >= 0; fd = ::open("/dev/null", O_RDONLY)) held.push_back(fd);
    int const probe = ::socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_LT(probe, 0) << "a socket could still be opened: fd " << probe;
    if (probe >= 0) ::close(probe);
    context.run();
    for (int fd : held) ::close(fd);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  }
  EXPECT_EQ(thrown, "");  // send never throws
  ASSERT_TRUE(response.has_value());
  ASSERT_TRUE(response->has_error());
  EXPECT_EQ(response->error(), errc::connect_failed) << response->error().message();
  EXPECT_NE(response->error().detail().find("no socket could be opened"), std::string::npos)
      << response->error().detail();
}

TEST(HttpsClient, RejectsBadUrlsWithoutTouchingTheNetwork) {
  auto client = make_client();
  for (auto url : {"ftp://example.test/file", "http://", "http:///path", "/origin/form",
                   "https://user:pw@example.test/", "https://@example.test/", "not a url",
                   "http://example.test:99999/", "http://exa mple.test/", "https://[v1.x]/"}) {
    auto response = ee::block_on(client->send(get(url)));
    ASSERT_TRUE(response.has_error()) << url;
    EXPECT_EQ(response.error(), errc::bad_url) << url << ": " << response.error().message();
    EXPECT_EQ(response.error(), ee::condition::invalid_input) << url;
    EXPECT_EQ(response.error().detail().find("pw"), std::string::npos) << url;
  }
}

TEST(HttpsClient, MissingExtraCaFileIsTlsSetupFailed) {
  auto client = ee::http::make_https_client({.extra_ca_file = "/nonexistent/ca.pem"});
  ASSERT_TRUE(client.has_error());
  EXPECT_EQ(client.error(), errc::tls_setup_failed);
  EXPECT_NE(client.error().detail().find("/nonexistent/ca.pem"), std::string::npos);

  auto garbage = ee::http::make_https_client(
      {.extra_ca_file = ee::test::write_pem_files(pki().ca().credential(), pki().dir(), "g")
                            .private_key.string()});
  ASSERT_TRUE(garbage.has_error());
  EXPECT_EQ(garbage.error(), errc::tls_setup_failed);
}

// --- connection reuse -------------------------------------------------------------------------

TEST(HttpsClient, ReusesAKeepAliveConnection) {
  Responder server(always(reply(200, "again")),
                   pki().issue_server("reuse", {"localhost"}, {"127.0.0.1"}));
  auto client = make_client(trusting_test_ca());
  Loop loop;
  for (int i = 0; i < 3; ++i) {
    auto response = loop.run(client->send(get(local_url(server, "https"))));
    ASSERT_TRUE(response.has_value()) << response.error().message();
  }
  EXPECT_EQ(server.accepted(), 1u);
  EXPECT_EQ(server.requests(), 3u);
}

TEST(HttpsClient, DoesNotReuseAfterConnectionClose) {
  Responder server(always(Action{.bytes = reply_bytes(200, "bye", "Connection: close\r\n"),
                                 .close_after = true}));
  auto client = make_client();
  Loop loop;
  for (int i = 0; i < 2; ++i) {
    auto response = loop.run(client->send(get(local_url(server, "http"))));
    ASSERT_TRUE(response.has_value()) << response.error().message();
  }
  EXPECT_EQ(server.accepted(), 2u);
}

TEST(HttpsClient, IdleConnectionClosedByTheServerIsReplacedTransparently) {
  // The server closes after each response without saying so, as an idle timeout would.
  Responder server(always(Action{.bytes = reply_bytes(200, "ok"), .close_after = true}),
                   pki().issue_server("idle", {"localhost"}, {"127.0.0.1"}));
  auto client = make_client(trusting_test_ca());
  Loop loop;
  auto first = loop.run(client->send(get(local_url(server, "https"))));
  ASSERT_TRUE(first.has_value()) << first.error().message();
  ASSERT_TRUE(server.wait_closed(1));
  auto second = loop.run(client->send(get(local_url(server, "https"))));
  ASSERT_TRUE(second.has_value()) << second.error().message();
  EXPECT_EQ(server.accepted(), 2u);
}

TEST(HttpsClient, ReusedConnectionDroppedMidRequestIsRetriedOnce) {
  // The second request on every connection is read and then the connection is dropped: the
  // race a keep-alive client loses when the server times the connection out just then.
  Responder server([](std::size_t index, ServerRequest const&) {
    return index == 0 ? reply(200, "first") : Action{.kind = Action::Kind::close};
  });
  auto client = make_client();
  Loop loop;
  ASSERT_TRUE(loop.run(client->send(get(local_url(server, "http")))).has_value());
  auto retried = loop.run(client->send(get(local_url(server, "http"))));
  ASSERT_TRUE(retried.has_value()) << retried.error().message();
  EXPECT_EQ(retried->body(), "first");  // answered as the first request of a new connection
  EXPECT_EQ(server.accepted(), 2u);
  EXPECT_EQ(server.requests(), 3u);
}

TEST(HttpsClient, NonIdempotentRequestIsNotReplayedAfterItWasSent) {
  Responder server([](std::size_t index, ServerRequest const&) {
    return index == 0 ? reply(200, "first") : Action{.kind = Action::Kind::close};
  });
  auto client = make_client();
  Loop loop;
  ASSERT_TRUE(loop.run(client->send(get(local_url(server, "http")))).has_value());
  Request post{bhttp::verb::post, local_url(server, "http", "/charge"), 11};
  auto response = loop.run(client->send(post));
  ASSERT_TRUE(response.has_error());
  EXPECT_EQ(response.error(), errc::connection_closed) << response.error().message();
  EXPECT_EQ(server.requests(), 2u);
}

TEST(HttpsClient, PooledConnectionsDieWithTheirIoContext) {
  Responder server(always(reply(200, "ok")));
  auto client = make_client();
  // Each block_on runs its own io_context; the first one's connection must be closed when that
  // context goes away, not reused by (or leaked into) the second.
  ASSERT_TRUE(ee::block_on(client->send(get(local_url(server, "http")))).has_value());
  EXPECT_TRUE(server.wait_closed(1));
  ASSERT_TRUE(ee::block_on(client->send(get(local_url(server, "http")))).has_value());
  EXPECT_EQ(server.accepted(), 2u);
}

TEST(HttpsClient, IdleConnectionsAreBoundedInTotal) {
  Responder server(always(reply(200, "ok")));
  auto client = make_client({.max_idle_total = 2});
  asio::io_context io;
  int ok = 0;
  // Each strand is an executor of its own, so no call reuses another's connection: all three
  // would stay idle without the bound.
  for (int i = 0; i < 3; ++i) {
    asio::co_spawn(asio::make_strand(io), client->send(get(local_url(server, "http"))),
                   [&ok](std::exception_ptr, ee::result<ee::http::Response> r) { ok += r.has_value() ? 1 : 0; });
    io.restart();
    io.run();
  }
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(server.accepted(), 3u);
  EXPECT_TRUE(server.wait_closed(1));  // the oldest, closed to keep two
  EXPECT_EQ(server.closed(), 1u);
}

TEST(HttpsClient, ServesConcurrentCallersOnManyThreads) {
  Responder server(always(reply(200, "ok")),
                   pki().issue_server("concurrent", {"localhost"}, {"127.0.0.1"}));
  auto client = make_client(trusting_test_ca());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      Loop loop;
      for (int i = 0; i < 5; ++i) {
        if (loop.run(client->send(get(local_url(server, "https")))).has_value()) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_LE(server.accepted(), 4u);  // one connection per thread's io_context, then reuse
}

// --- logging ----------------------------------------------------------------------------------

TEST(HttpsClient, LogsRequestsWithSecretsRedacted) {
  Responder server(always(reply(200, "body-s3cret", "Set-Cookie: session=s3cret\r\n")));
  std::mutex mutex;
  std::vector<std::string> lines;
  ee::log::set_sink([&](ee::log::Level, std::string_view, std::string_view message) {
    std::lock_guard lock(mutex);
    lines.emplace_back(message);
  });
  auto const previous = ee::log::level();
  ee::log::set_level(ee::log::Level::debug);

  auto client = make_client();
  Request request = get(local_url(server, "http", "/v1/x?api_key=s3cret"));
  request.set(bhttp::field::authorization, "Bearer s3cret");
  request.set("Cf-Access-Client-Secret", "s3cret");
  request.body() = "payload-s3cret";
  auto response = ee::block_on(client->send(request));

  ee::log::set_level(previous);
  ee::log::set_sink({});
  ASSERT_TRUE(response.has_value()) << response.error().message();
  std::lock_guard lock(mutex);
  ASSERT_GE(lines.size(), 2u);
  std::string all;
  for (auto const& line : lines) all += line + "\n";
  EXPECT_EQ(all.find("s3cret"), std::string::npos) << all;
  EXPECT_NE(all.find("Authorization: <redacted>"), std::string::npos) << all;
  EXPECT_NE(all.find("/v1/x"), std::string::npos) << all;
  EXPECT_NE(all.find("status=200"), std::string::npos) << all;
}

}  // namespace
