#pragma once
// What every benchmark program shares: reading its inputs, measuring a rate, and driving
// keep-alive HTTP load. Header-only, so each bench stays one translation unit.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ee::bench {

/// The whole file, or exit(2) with a message: a benchmark without its inputs has nothing to say.
inline std::string read_file_or_exit(std::string const& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(2);
  }
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct RateOptions {
  double seconds = 1.0;          ///< run at least this long
  long max_iterations = 2'000'000;
  int batch = 16;                ///< operations between clock reads
};

/// Runs `op` in batches until `options.seconds` have passed (or max_iterations), prints
/// "name  N /s  (us per op)" and returns operations per second. `op` returning false means an
/// unexpected result, which aborts the benchmark: a figure for a wrong answer is worthless.
inline double rate(char const* name, std::function<bool()> const& op, RateOptions options = {}) {
  using Clock = std::chrono::steady_clock;
  long done = 0;
  auto const start = Clock::now();
  double elapsed = 0;
  while (elapsed < options.seconds && done < options.max_iterations) {
    for (int i = 0; i < options.batch; ++i) {
      if (!op()) {
        std::fprintf(stderr, "%s: unexpected result\n", name);
        std::exit(1);
      }
    }
    done += options.batch;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  double const per_second = static_cast<double>(done) / elapsed;
  std::printf("  %-46s %10.0f /s  %8.1f us\n", name, per_second, 1e6 / per_second);
  return per_second;
}

// ---- a keep-alive HTTP load generator ------------------------------------------------------------

/// What `keep_alive_load` drives: `connections` keep-alive connections from one client thread,
/// each sending `request` and reading its response, until `max_requests` requests in all have
/// been sent or `max_time` has passed, whichever comes first.
struct KeepAliveOptions {
  int connections = 64;
  std::size_t max_requests = 300'000;
  std::chrono::milliseconds max_time{4000};
  bool latencies = true;  ///< record each request's latency (write start to parsed response)
};

struct KeepAliveLoad {
  std::size_t requests = 0;  ///< answered and accepted by the check
  std::size_t failures = 0;  ///< connections that failed to connect, write, read or check
  double seconds = 0;
  std::vector<double> latencies_us{};  ///< one per request, all connections (when asked for)
  std::string first_failure{};         ///< what went wrong first, for the message
};

using KeepAliveResponse = boost::beast::http::response<boost::beast::http::string_body>;
/// Whether a response is the right answer; a wrong one ends its connection as a failure.
using ResponseCheck = std::function<bool(KeepAliveResponse const&)>;

namespace detail {

struct KeepAliveState {
  std::chrono::steady_clock::time_point deadline{};
  std::size_t issued = 0;  // only touched on the client thread
  KeepAliveOptions options{};
  std::string request{};
  ResponseCheck check{};
  KeepAliveLoad load{};

  void fail(std::string what) {
    ++load.failures;
    if (load.first_failure.empty()) load.first_failure = std::move(what);
  }
};

inline boost::asio::awaitable<void> keep_alive_connection(boost::asio::ip::tcp::endpoint endpoint,
                                                          KeepAliveState& state) {
  namespace asio = boost::asio;
  using Clock = std::chrono::steady_clock;
  constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
  asio::ip::tcp::socket socket(co_await asio::this_coro::executor);
  auto [connect_ec] = co_await socket.async_connect(endpoint, kUseTuple);
  if (connect_ec) {
    state.fail("connect: " + connect_ec.message());
    co_return;
  }
  socket.set_option(asio::ip::tcp::no_delay(true));
  boost::beast::flat_buffer buffer;
  while (state.issued < state.options.max_requests && Clock::now() < state.deadline) {
    ++state.issued;
    auto const started = Clock::now();
    auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(state.request), kUseTuple);
    if (write_ec) {
      state.fail("write: " + write_ec.message());
      co_return;
    }
    KeepAliveResponse response;
    auto [read_ec, read] = co_await boost::beast::http::async_read(socket, buffer, response, kUseTuple);
    if (read_ec) {
      state.fail("read: " + read_ec.message());
      co_return;
    }
    if (!state.check(response)) {
      state.fail("unexpected response: " + std::to_string(response.result_int()) + " " + response.body());
      co_return;
    }
    if (state.options.latencies) {
      state.load.latencies_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - started).count());
    }
    ++state.load.requests;
  }
}

}  // namespace detail

/// Drives `request` (the bytes of a whole request, keep-alive) against `endpoint` as
/// `options` says, on the calling thread, and returns what was answered. Every response must pass
/// `check` (default: status 200): a figure for wrong answers is worthless, so callers exit on
/// failures.
inline KeepAliveLoad keep_alive_load(boost::asio::ip::tcp::endpoint endpoint, std::string request,
                                     KeepAliveOptions options = {}, ResponseCheck check = {}) {
  namespace asio = boost::asio;
  using Clock = std::chrono::steady_clock;
  asio::io_context ioc(1);
  detail::KeepAliveState state;
  state.options = options;
  state.request = std::move(request);
  state.check = check ? std::move(check) : ResponseCheck([](KeepAliveResponse const& r) {
    return r.result() == boost::beast::http::status::ok;
  });
  if (options.latencies) state.load.latencies_us.reserve(options.max_requests);
  auto const started = Clock::now();
  state.deadline = started + options.max_time;
  for (int i = 0; i < options.connections; ++i) {
    asio::co_spawn(ioc, detail::keep_alive_connection(endpoint, state), asio::detached);
  }
  ioc.run();
  state.load.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return std::move(state.load);
}

/// "GET target HTTP/1.1" with Host and, when given, extra header lines ("Name: value\r\n" each).
inline std::string get_request(std::string_view target, std::string_view extra_headers = {}) {
  std::string out = "GET ";
  out.append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n").append(extra_headers).append("\r\n");
  return out;
}

/// The p-th quantile (0..1) of `values` (reordered), 0 when empty.
inline double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  auto const index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(index), values.end());
  return values[index];
}

}  // namespace ee::bench
