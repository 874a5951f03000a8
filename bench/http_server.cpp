// bench_http_server: requests per second and latency of ee::http::Server on loopback, beside the
// physical limit of the same machine: the same client load against a raw Asio server that
// answers a canned response without parsing anything.
//
// Usage: bench_http_server [server_threads (default 1)]
//
// Both measurements use the same client: 64 keep-alive connections driven by coroutines on one
// io_context thread, each sending a fixed GET and parsing the response with Beast. A run stops at
// kMaxRequests or kMaxTime, whichever comes first.
#include <easyenclave/http/router.hpp>
#include <easyenclave/http/server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr int kConnections = 64;
constexpr std::size_t kMaxRequests = 300'000;
constexpr auto kMaxTime = std::chrono::milliseconds(4000);
constexpr std::string_view kBody = R"({"ok":true,"n":42})";
constexpr std::string_view kRequest = "GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

struct Load {
  std::size_t requests = 0;
  std::size_t failures = 0;
  double seconds = 0;
  std::vector<double> latencies_us{};  // one per request, all connections
};

struct LoadState {
  Clock::time_point deadline{};
  std::size_t issued = 0;  // only touched on the client thread
  Load load{};
};

asio::awaitable<void> client_connection(tcp::endpoint endpoint, LoadState& state) {
  auto executor = co_await asio::this_coro::executor;
  tcp::socket socket(executor);
  auto [connect_ec] = co_await socket.async_connect(endpoint, kUseTuple);
  if (connect_ec) {
    ++state.load.failures;
    co_return;
  }
  socket.set_option(tcp::no_delay(true));
  beast::flat_buffer buffer;
  while (state.issued < kMaxRequests && Clock::now() < state.deadline) {
    ++state.issued;
    auto const started = Clock::now();
    auto [write_ec, written] =
        co_await asio::async_write(socket, asio::buffer(kRequest.data(), kRequest.size()),
                                   kUseTuple);
    if (write_ec) {
      ++state.load.failures;
      co_return;
    }
    bhttp::response<bhttp::string_body> response;
    auto [read_ec, read] = co_await bhttp::async_read(socket, buffer, response, kUseTuple);
    if (read_ec || response.result() != bhttp::status::ok || response.body() != kBody) {
      ++state.load.failures;
      co_return;
    }
    state.load.latencies_us.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - started).count());
    ++state.load.requests;
  }
}

// Drives kConnections keep-alive connections against `endpoint` from one client thread.
Load run_load(tcp::endpoint endpoint) {
  asio::io_context ioc(1);
  LoadState state;
  state.load.latencies_us.reserve(kMaxRequests);
  auto const started = Clock::now();
  state.deadline = started + kMaxTime;
  for (int i = 0; i < kConnections; ++i) {
    asio::co_spawn(ioc, client_connection(endpoint, state), asio::detached);
  }
  ioc.run();
  state.load.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return std::move(state.load);
}

// The physical limit: read whatever arrives, answer one canned response per complete request
// header ("\r\n\r\n"), no parsing. A thin layer over the kernel's loopback TCP.
asio::awaitable<void> raw_connection(tcp::socket socket, std::string const& canned) {
  std::array<char, 16 * 1024> buffer{};
  std::string_view constexpr kEnd = "\r\n\r\n";
  std::size_t matched = 0;  // how much of kEnd the previous read ended with
  while (true) {
    auto [read_ec, n] = co_await socket.async_read_some(asio::buffer(buffer), kUseTuple);
    if (read_ec) co_return;
    std::size_t complete = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (buffer[i] == kEnd[matched]) {
        if (++matched == kEnd.size()) {
          ++complete;
          matched = 0;
        }
      } else {
        matched = buffer[i] == kEnd[0] ? 1 : 0;
      }
    }
    for (std::size_t i = 0; i < complete; ++i) {
      auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(canned), kUseTuple);
      if (write_ec) co_return;
    }
  }
}

asio::awaitable<void> raw_accept(tcp::acceptor& acceptor, std::string const& canned) {
  while (true) {
    auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
    if (ec) co_return;
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor.get_executor(), raw_connection(std::move(socket), canned),
                   asio::detached);
  }
}

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  auto const index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(index),
                   values.end());
  return values[index];
}

void print(char const* name, Load& load) {
  double const rps = static_cast<double>(load.requests) / load.seconds;
  double const p50 = percentile(load.latencies_us, 0.50);
  double const p99 = percentile(load.latencies_us, 0.99);
  std::printf("%-28s %9zu requests in %5.2f s  %10.0f req/s  p50 %7.1f us  p99 %7.1f us  failures %zu\n",
              name, load.requests, load.seconds, rps, p50, p99, load.failures);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t threads = 1;
  if (argc > 1) threads = static_cast<std::size_t>(std::max(1, std::atoi(argv[1])));

  std::printf("bench_http_server: %d keep-alive connections, one client thread, stop at %zu "
              "requests or %.1f s; hardware threads: %u\n",
              kConnections, kMaxRequests,
              std::chrono::duration<double>(kMaxTime).count(),
              std::thread::hardware_concurrency());

  // 1. ee::http::Server with one small JSON route.
  ee::http::Router router;
  router.get("/json", [](ee::http::RequestContext&)
                          -> asio::awaitable<ee::result<ee::http::Response>> {
    co_return ee::http::json_response(bhttp::status::ok, std::string(kBody));
  });
  auto server = ee::http::Server::start(
      std::move(router), ee::http::ServerOptions{.host = "127.0.0.1", .port = 0, .threads = threads});
  if (!server) {
    std::fprintf(stderr, "server start failed: %s\n", server.error().message().c_str());
    return 1;
  }
  Load served = run_load((*server)->endpoint());
  (*server)->stop();

  // 2. The physical limit: raw Asio, canned response, same client, same machine, same run.
  std::string const canned = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                             std::to_string(kBody.size()) + "\r\n\r\n" + std::string(kBody);
  asio::io_context raw_ioc(1);
  tcp::acceptor acceptor(raw_ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  asio::co_spawn(raw_ioc, raw_accept(acceptor, canned), asio::detached);
  std::thread raw_thread([&raw_ioc] { raw_ioc.run(); });
  Load raw = run_load(acceptor.local_endpoint());
  raw_ioc.stop();
  raw_thread.join();

  char label[64];
  std::snprintf(label, sizeof label, "ee::http::Server (%zu thr)", threads);
  print(label, served);
  print("raw asio canned (1 thr)", raw);
  double const ratio = (static_cast<double>(served.requests) / served.seconds) /
                       (static_cast<double>(raw.requests) / raw.seconds);
  std::printf("server / physical limit: %.2f\n", ratio);
  return served.failures == 0 && raw.failures == 0 ? 0 : 1;
}
