// The coroutine HTTP/1.1 server. All Asio/Beast/SSL machinery of the server lives in this one
// translation unit: it is the slowest file of the library to compile, and keeping it here means
// nothing else pays for it.
//
// Shape (after Beast's advanced_server_flex_awaitable example): one accept loop on its own
// strand; one coroutine per connection (on its own strand when there is more than one io
// thread); per-phase deadlines on each connection (Session::expires_after, one lazy timer);
// every asynchronous operation completes with as_tuple, so no exception is used for control flow
// and none escapes into the io_context.
#include <easyenclave/http/server.hpp>

#include <easyenclave/http/error.hpp>

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "detail/log.hpp"
#include "http/request_head.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <openssl/ssl.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <ctime>
#include <exception>
#include <charconv>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ee::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
// The stable id ("http.body_too_large") of a code the server answers with by itself.
std::string code_id(errc e) { return Error(e).id(); }

constexpr std::string_view kComponent = "http";
constexpr std::size_t kReadChunk = 8 * 1024;
// After an error response we close the connection, but first read and discard what the client
// is still sending for a moment: closing a socket with unread input makes the kernel send RST,
// which can destroy the response before the client reads it (the "lingering close" of Apache
// and nginx). Bounded in time and bytes so it costs little.
constexpr auto kLingerTime = std::chrono::milliseconds(1000);
constexpr std::size_t kLingerBytes = 4 * 1024 * 1024;
// Upper bound on a TLS close_notify exchange at the end of a connection.
constexpr auto kTlsShutdownTime = std::chrono::milliseconds(1000);
// After shutdown_grace, sessions are closed forcibly; this is how long we let them unwind before
// the io_context is stopped outright.
constexpr auto kForceCloseUnwind = std::chrono::milliseconds(200);
// When accept fails (EMFILE, ENFILE, ENOBUFS, ENOMEM...) the listening socket stays readable, so
// retrying at once would spin: wait, doubling the wait while it keeps failing.
constexpr auto kAcceptBackoffMin = std::chrono::milliseconds(10);
constexpr auto kAcceptBackoffMax = std::chrono::milliseconds(1000);
// Events that can repeat thousands of times a second get at most one log line this often.
constexpr auto kLogEvery = std::chrono::seconds(10);
// Connections over the cap answered with a 503 at the same time, at most; beyond that they are
// closed at once. Each one lingers briefly so the client reads the answer instead of a reset.
constexpr std::size_t kMaxRefusing = 32;
constexpr auto kRefusalTime = std::chrono::milliseconds(500);
constexpr std::size_t kRefusalDrainBytes = 64 * 1024;

using PlainStream = tcp::socket;
using TlsStream = ssl::stream<tcp::socket>;

// What stop() needs from a connection, whatever its stream type. Both calls post to the
// connection's executor, so they never race with the session coroutine.
class Connection {
 public:
  virtual ~Connection() = default;
  /// Closes the connection if it is waiting for the next request (keep-alive idle).
  virtual void close_if_idle() = 0;
  /// Closes the socket whatever it is doing.
  virtual void force_close() = 0;
};

// One connection: its stream and its deadline. The deadline is lazy: setting it only stores a
// time, and one timer wait per connection is outstanding at a time. When the wait ends it
// compares the clock with the deadline in force then: past it, the socket is closed (every
// operation in progress ends with an error and timed_out() is true); before it, the timer waits
// again for the rest. A keep-alive connection moves its deadline forward on every request, so
// this costs one timer wait per idle timeout instead of arming and cancelling a timer around
// every read and write (which beast::tcp_stream does, and which cost more than parsing the
// request). Only a deadline earlier than the outstanding wait re-arms the timer. While a
// handler runs there is no deadline (expires_never), as there was none between a tcp_stream's
// operations.
template <class Stream>
class Session final : public Connection, public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <class... Args>
  explicit Session(std::uint64_t id, tcp::endpoint remote, Args&&... args)
      : stream_(std::forward<Args>(args)...), timer_(stream_.get_executor()), id_(id), remote_(std::move(remote)) {}

  void close_if_idle() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->idle_) self->close();
    });
  }
  void force_close() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->close(); });
  }

  Stream& stream() noexcept { return stream_; }
  tcp::socket& lowest() noexcept {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }
  std::uint64_t id() const noexcept { return id_; }
  tcp::endpoint const& remote() const noexcept { return remote_; }
  void set_idle(bool idle) noexcept { idle_ = idle; }
  void close() noexcept {
    error_code ec;
    lowest().close(ec);
  }

  void expires_after(Clock::duration d) { expires_at(Clock::now() + d); }
  void expires_at(Clock::time_point at) {
    deadline_ = at;
    if (armed_ <= at) return;  // the outstanding wait ends first and waits again for the rest
    arm(at);
  }
  void expires_never() noexcept { deadline_ = Clock::time_point::max(); }
  /// True once the deadline passed and closed the socket.
  bool timed_out() const noexcept { return timed_out_; }
  /// At the end of the connection: no wait may outlive it.
  void stop_timer() noexcept {
    deadline_ = Clock::time_point::max();
    armed_ = Clock::time_point::max();
    timer_.cancel();
  }

  /// Reused for every response's head, so writing one allocates nothing once it has grown.
  std::string& head_buffer() noexcept { return head_; }

 private:
  void arm(Clock::time_point at) {
    armed_ = at;
    timer_.expires_at(at);  // ends an outstanding wait with operation_aborted
    timer_.async_wait([weak = this->weak_from_this(), at](error_code const& ec) {
      if (ec) return;  // re-armed or stopped
      if (auto self = weak.lock()) self->on_timer(at);
    });
  }
  void on_timer(Clock::time_point at) {
    if (armed_ != at) return;  // a wait that ended just before it was superseded
    armed_ = Clock::time_point::max();
    if (deadline_ == Clock::time_point::max()) return;
    if (deadline_ > Clock::now()) {
      arm(deadline_);
      return;
    }
    timed_out_ = true;
    close();
  }

  Stream stream_;
  asio::steady_timer timer_;
  std::uint64_t id_;
  tcp::endpoint remote_;
  std::string head_{};
  // Touched only on the connection's executor.
  Clock::time_point deadline_ = Clock::time_point::max();
  Clock::time_point armed_ = Clock::time_point::max();  // when the outstanding wait ends; max: none
  bool timed_out_ = false;
  bool idle_ = false;
};

// RFC 9110 section 6.6.1: an origin server with a clock sends Date, in IMF-fixdate
// (section 5.6.7). Formatted once per second per thread.
std::string const& http_date() {
  thread_local std::time_t cached_second = 0;
  thread_local std::string cached;
  std::time_t const now = std::time(nullptr);
  if (now != cached_second || cached.empty()) {
    std::tm utc{};
    gmtime_r(&now, &utc);
    std::array<char, 64> text{};
    auto const n = std::strftime(text.data(), text.size(), "%a, %d %b %Y %H:%M:%S GMT", &utc);
    cached.assign(text.data(), n);
    cached_second = now;
  }
  return cached;
}

// A Beast parser error (as opposed to the peer closing or a socket failure).
bool is_parse_error(error_code const& ec) {
  return ec.category() == make_error_code(bhttp::error::bad_target).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

// Bounds the log lines of an event that can repeat thousands of times a second (accept failing,
// connections refused, clients over their rate limit): the first occurrence gets a line, then at
// most one line per kLogEvery carrying how many happened since the previous line, and the end of
// a burst whose start was logged gets one line too. Not thread-safe: one owner, or a lock.
class EventLog {
 public:
  /// Records one event. True when a line is due now; `count` is then the number of events since
  /// the previous line, this one included.
  bool note(Clock::time_point now, std::size_t& count) {
    ++pending_;
    ++burst_;
    if (now < next_line_) return false;
    next_line_ = now + kLogEvery;
    count = std::exchange(pending_, 0);
    announced_ = true;
    return true;
  }
  /// Ends the current burst. True when its start was logged; `count` is then the number of
  /// events of the burst.
  bool end_burst(std::size_t& count) {
    if (burst_ == 0) return false;
    count = std::exchange(burst_, 0);
    if (!std::exchange(announced_, false)) return false;
    pending_ = 0;
    return true;
  }

 private:
  Clock::time_point next_line_{};
  std::size_t pending_ = 0;
  std::size_t burst_ = 0;
  bool announced_ = false;
};

std::string allow_value(std::vector<bhttp::verb> const& methods) {
  std::string out;
  for (auto const method : methods) {
    if (!out.empty()) out += ", ";
    out += bhttp::to_string(method);
  }
  return out;
}

// Everything a running server owns. Server::Impl (private to the public header) is this struct,
// named here so the free coroutines below can take it.
struct ServerState {
  ServerState(Router r, ServerOptions o)
      : router(std::move(r)),
        options(std::move(o)),
        ioc_threads(std::max<std::size_t>(options.threads, 1)),
        ioc(std::in_place, static_cast<int>(ioc_threads)) {}

  ~ServerState() {
    stop();
    // Destroy the acceptor, then the io_context (and with it any coroutine frame still
    // suspended in it) while every other member is alive: session frames unregister themselves
    // from `sessions` as they are destroyed.
    acceptor.reset();
    ioc.reset();
  }

  void stop();
  void register_session(std::uint64_t id, std::weak_ptr<Connection> connection);
  void unregister_session(std::uint64_t id);
  std::vector<std::shared_ptr<Connection>> snapshot_sessions();

  Router router;
  ServerOptions options;
  std::size_t ioc_threads;  // options.threads, at least 1
  std::optional<ssl::context> tls{};  // declared before ioc: streams in its frames refer to it
  std::optional<asio::io_context> ioc;
  std::optional<tcp::acceptor> acceptor{};
  tcp::endpoint endpoint{};
  std::vector<std::thread> threads{};

  std::atomic<std::size_t> in_flight{0};
  std::atomic<std::size_t> connections{0};
  std::atomic<bool> stopping{false};

  // Fixed at start, read-only afterwards.
  std::size_t max_connections = 0;
  AddressSet trusted_proxies{};
  std::map<std::string, std::unique_ptr<RateLimiter>, std::less<>> limiters{};

  // ServerOptions::metrics' instruments; all null without a registry.
  struct Instruments {
    metrics::Family<metrics::Counter>* requests = nullptr;
    metrics::Family<metrics::Histogram>* durations = nullptr;
    metrics::Gauge* in_flight = nullptr;
    metrics::Gauge* open = nullptr;
    metrics::Counter* refused = nullptr;
    metrics::Counter* rate_limited = nullptr;
  } instruments{};

  std::atomic<std::size_t> refused{0};        // connections over the cap, since start
  std::atomic<std::size_t> refusing{0};       // 503 answers being written right now
  std::atomic<std::size_t> rate_limited{0};   // 429 answers, since start
  std::mutex rate_log_mutex;
  EventLog rate_log{};  // guarded by rate_log_mutex

  std::mutex mutex;                // guards everything below; never held across co_await
  std::condition_variable changed;  // sessions emptied, stop finished, a signal arrived
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> sessions{};
  std::uint64_t next_session_id = 0;
  bool stop_started = false;
  bool stopped = false;
  bool signalled = false;
};

using Impl = ServerState;

// Unregisters a session when its coroutine frame ends, also when the frame is destroyed
// without resuming (io_context torn down after a forced stop).
class SessionRegistration {
 public:
  SessionRegistration(Impl& impl, std::uint64_t id) : impl_(impl), id_(id) {}
  ~SessionRegistration() { impl_.unregister_session(id_); }
  SessionRegistration(SessionRegistration const&) = delete;
  SessionRegistration& operator=(SessionRegistration const&) = delete;

 private:
  Impl& impl_;
  std::uint64_t id_;
};

class InFlight {
 public:
  explicit InFlight(Impl& impl) : impl_(impl) {
    ++impl_.in_flight;
    if (impl_.instruments.in_flight != nullptr) impl_.instruments.in_flight->add(1);
  }
  ~InFlight() {
    --impl_.in_flight;
    if (impl_.instruments.in_flight != nullptr) impl_.instruments.in_flight->add(-1);
  }
  InFlight(InFlight const&) = delete;
  InFlight& operator=(InFlight const&) = delete;

 private:
  Impl& impl_;
};

// The `method` label: a standard verb's name, else "other" (an unknown method is the caller's
// text, and labels must not be).
std::string_view method_label(bhttp::verb method) {
  if (method == bhttp::verb::unknown) return "other";
  auto const name = bhttp::to_string(method);
  return {name.data(), name.size()};
}

// Route labels of requests no route pattern names.
constexpr std::string_view kUnmatchedRoute = "unmatched";
constexpr std::string_view kRefusedRoute = "refused";

void count_request(Impl& impl, bhttp::verb method, std::string_view route, unsigned status,
                   Clock::time_point started) {
  auto& instruments = impl.instruments;
  if (instruments.requests == nullptr) return;
  char digits[8];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, status);
  std::string_view const status_text(digits, ec == std::errc() ? static_cast<std::size_t>(end - digits) : 0);
  auto const verb = method_label(method);
  instruments.requests->with({verb, route, status_text}).inc();
  instruments.durations->with({verb, route})
      .observe(std::chrono::duration<double>(Clock::now() - started).count());
}

// Version and Connection as the server sends them. Date, X-Request-Id and Content-Length are
// not set here but written by write_head.
void finish_headers(Response& response, bool keep_alive) {
  response.version(11);
  response.keep_alive(keep_alive);
  auto const status = response.result();
  if (bhttp::to_status_class(status) == bhttp::status_class::informational ||
      status == bhttp::status::no_content || status == bhttp::status::not_modified) {
    response.prepare_payload();  // Beast's rule for these, which refuses content where none may be
  }
}

void append_number(std::string& out, std::uint64_t n) {
  char digits[24];
  auto const [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, ec == std::errc() ? end : digits);
}

// The status line and header block of `response` as sent, into `out` (cleared first): the
// response's own fields, then the ones the server sets on every response, Date (RFC 9110
// section 6.6.1), X-Request-Id and Content-Length (section 8.6; a string body's size, which is
// what prepare_payload would set). Built into one reused string instead of setting the three
// fields on the response and letting Beast's serializer walk them: that cost an allocation per
// field and a serializer per response.
void write_head(Response const& response, std::string_view request_id, std::string& out) {
  out.clear();
  out.append("HTTP/1.1 ");
  append_number(out, response.result_int());
  out.push_back(' ');
  auto const reason = response.reason();
  out.append(reason.data(), reason.size());
  out.append("\r\n");
  for (auto const& field : response) {
    auto const name = field.name();
    if (name == bhttp::field::date || name == bhttp::field::content_length) continue;
    auto const name_text = field.name_string();
    if (name == bhttp::field::unknown && beast::iequals(name_text, "X-Request-Id")) continue;
    auto const value = field.value();
    out.append(name_text.data(), name_text.size()).append(": ").append(value.data(), value.size()).append("\r\n");
  }
  out.append("Date: ").append(http_date()).append("\r\nX-Request-Id: ").append(request_id);
  out.append("\r\nContent-Length: ");
  append_number(out, response.body().size());
  out.append("\r\n\r\n");
}

// Writes `response` (finish_headers applied) with its head from write_head. Over plain TCP the
// head and body go in one gather write attempted at once on the non-blocking socket: a small
// response fits the send buffer, so it is written without a trip through the io_context and
// without a deadline; what does not fit is written asynchronously under write_timeout.
template <class Stream>
asio::awaitable<bool> write_response(Impl& impl, Session<Stream>& session, Response& response,
                                     std::string_view request_id, bool head_only) {
  if (response.chunked()) {
    // A handler chose chunked framing: Beast's serializer encodes the body as chunks.
    response.set("X-Request-Id", request_id);
    response.set(bhttp::field::date, http_date());
    response.prepare_payload();
    session.expires_after(impl.options.write_timeout);
    if (head_only) {
      bhttp::response_serializer<bhttp::string_body> serializer{response};
      auto [ec, n] = co_await bhttp::async_write_header(session.stream(), serializer, kUseTuple);
      co_return !ec && !session.timed_out();
    }
    auto [ec, n] = co_await bhttp::async_write(session.stream(), response, kUseTuple);
    co_return !ec && !session.timed_out();
  }
  auto& head = session.head_buffer();
  write_head(response, request_id, head);
  // RFC 9110 section 9.3.2: the answer to HEAD carries GET's header fields (Content-Length
  // included) and no content.
  std::string_view const body = head_only ? std::string_view() : std::string_view(response.body());
  std::size_t written = 0;
  if constexpr (std::is_same_v<Stream, PlainStream>) {
    error_code ec;
    std::array<asio::const_buffer, 2> const both{asio::buffer(head), asio::buffer(body.data(), body.size())};
    written = session.lowest().write_some(both, ec);
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) co_return false;
    if (written == head.size() + body.size()) co_return true;
  }
  std::array<asio::const_buffer, 2> rest{};
  if (written < head.size()) {
    rest = {asio::buffer(head) + written, asio::buffer(body.data(), body.size())};
  } else {
    rest = {asio::const_buffer(), asio::buffer(body.data(), body.size()) + (written - head.size())};
  }
  session.expires_after(impl.options.write_timeout);
  auto [ec, n] = co_await asio::async_write(session.stream(), rest, kUseTuple);
  co_return !ec && !session.timed_out();
}

template <class Stream>
asio::awaitable<void> close_connection(Session<Stream>& session, bool linger) {
  error_code ec;
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    // Send close_notify (RFC 8446 section 6.1) so the client can tell truncation from the end.
    session.expires_after(kTlsShutdownTime);
    auto [shutdown_ec] = co_await session.stream().async_shutdown(kUseTuple);
    (void)shutdown_ec;  // the peer may well have closed first
  } else {
    session.lowest().shutdown(tcp::socket::shutdown_send, ec);
    if (linger && !ec) {
      session.expires_after(kLingerTime);
      std::array<char, kReadChunk> sink{};
      std::size_t drained = 0;
      while (drained < kLingerBytes) {
        auto [read_ec, n] = co_await session.lowest().async_read_some(asio::buffer(sink), kUseTuple);
        if (read_ec) break;
        drained += n;
      }
    }
  }
  session.close();
}

// Answers a request the server refuses by itself (malformed, too large) and closes.
template <class Stream>
asio::awaitable<void> refuse(Impl& impl, Session<Stream>& session, bhttp::status status,
                             std::string_view code, std::string_view message,
                             std::string_view request_id, std::string_view method,
                             Clock::time_point started) {
  auto response = error_response(status, code, message, request_id);
  finish_headers(response, false);
  count_request(impl, bhttp::string_to_verb(method), kRefusedRoute, static_cast<unsigned>(status), started);
  co_await write_response(impl, session, response, request_id, false);
  detail::log::debug(kComponent, "method=", method, " status=", static_cast<unsigned>(status),
                     " duration_ms=",
                     std::chrono::duration<double, std::milli>(Clock::now() - started).count(),
                     " request_id=", request_id, " refused=", code);
  co_await close_connection(session, true);
}

// Refuses the request when its client is over the route's rate limit; nullopt lets it through.
std::optional<Response> over_rate_limit(Impl& impl, Router::Route const& route,
                                        RequestContext const& context) {
  if (route.rate_class.empty()) return std::nullopt;
  auto const limiter = impl.limiters.find(route.rate_class);
  if (limiter == impl.limiters.end()) return std::nullopt;  // a class whose limit is 0: off
  auto const decision = limiter->second->take(context.client);
  if (decision.allowed) return std::nullopt;
  ++impl.rate_limited;
  if (impl.instruments.rate_limited != nullptr) impl.instruments.rate_limited->inc();
  {
    std::lock_guard const lock(impl.rate_log_mutex);
    std::size_t count = 0;
    if (impl.rate_log.note(Clock::now(), count)) {
      detail::log::warn(kComponent, "rate limit: answered 429 to ", count,
                        " request(s) since the last report; latest class=", route.rate_class,
                        " client=", context.client.to_string());
    }
  }
  auto const seconds = std::to_string(decision.retry_after.count());
  // RFC 6585 section 4, with Retry-After (RFC 9110 section 10.2.3) in seconds.
  auto response = error_response(bhttp::status::too_many_requests, code_id(errc::rate_limited),
                                 "too many requests from this address; retry after " + seconds +
                                     " s",
                                 context.request_id);
  response.set(bhttp::field::retry_after, seconds);
  return response;
}

// `route` is set to the matched pattern (it lives in the router), or kUnmatchedRoute.
asio::awaitable<Response> dispatch(Impl& impl, Request const& request,
                                   std::string const& request_id, tcp::endpoint const& remote,
                                   std::string_view& route) {
  RequestContext context{request, {}, request_id, remote,
                         client_address(remote.address(), request, impl.trusted_proxies)};
  auto match = impl.router.match(request.method(), context.path());
  route = match.kind == Router::MatchKind::found ? std::string_view(match.route->pattern) : kUnmatchedRoute;
  if (match.kind == Router::MatchKind::not_found) {
    co_return error_response(bhttp::status::not_found, code_id(errc::route_not_found),
                             "no route matches this path", request_id);
  }
  if (match.kind == Router::MatchKind::method_not_allowed) {
    // RFC 9110 section 15.5.6: a 405 response must list the allowed methods in Allow.
    auto response = error_response(bhttp::status::method_not_allowed, code_id(errc::method_not_allowed),
                                   "method not allowed on this path", request_id);
    response.set(bhttp::field::allow, allow_value(match.allowed_methods));
    co_return response;
  }
  if (auto refused = over_rate_limit(impl, *match.route, context)) co_return std::move(*refused);
  context.params = std::move(match.params);

  std::optional<result<Response>> outcome;
  try {
    outcome.emplace(co_await match.route->handler(context));
  } catch (std::exception const& e) {
    detail::log::error(kComponent, "handler threw: route=", match.route->pattern,
                       " request_id=", request_id, " what=", e.what());
  } catch (...) {
    detail::log::error(kComponent, "handler threw a non-exception: route=", match.route->pattern,
                       " request_id=", request_id);
  }
  if (!outcome) {
    co_return error_response(bhttp::status::internal_server_error, code_id(errc::internal_error),
                             "internal server error", request_id);
  }
  if (outcome->has_value()) co_return std::move(**outcome);
  Error const& error = outcome->error();
  auto const status = status_for(error);
  // Log the handled error once, here. Server-side failures deserve attention; client errors are
  // routine and go to debug with the request line.
  if (bhttp::to_status_class(status) == bhttp::status_class::server_error) {
    detail::log::warn(kComponent, "request failed: route=", match.route->pattern,
                      " request_id=", request_id, " error=", error.id(),
                      " detail=", error.message());
  }
  co_return error_response(error, request_id);
}

struct FramingProblem {
  bhttp::status status{};
  errc code{};
  std::string_view message{};
};

// RFC 9112 sections 6.1-6.3. The one framing of a request body we accept is either a single
// Content-Length of digits or Transfer-Encoding that is exactly chunked; anything else is how
// two parsers in a row (ours and the workload's behind the agent, or a proxy's in front of us)
// come to disagree about where a request ends, which is request smuggling. Beast on its own
// takes "Transfer-Encoding: xchunked" or "chunked, identity" as no body at all and would parse
// the body as the next request.
std::optional<FramingProblem> framing_problem(bhttp::fields const& fields, unsigned version) {
  std::size_t lengths = 0;
  bool length_is_digits = true;
  bool has_transfer_encoding = false;
  std::vector<std::string_view> codings;
  for (auto const& field : fields) {
    if (field.name() == bhttp::field::content_length) {
      ++lengths;
      auto const value = field.value();
      length_is_digits = length_is_digits && !value.empty() &&
                         std::all_of(value.begin(), value.end(),
                                     [](char c) { return c >= '0' && c <= '9'; });
    } else if (field.name() == bhttp::field::transfer_encoding) {
      has_transfer_encoding = true;
      // The lines of a repeated field are one comma-separated list (RFC 9110 section 5.3).
      std::string_view list = field.value();
      while (true) {
        auto const comma = list.find(',');
        auto coding = list.substr(0, comma);
        while (!coding.empty() && (coding.front() == ' ' || coding.front() == '\t')) {
          coding.remove_prefix(1);
        }
        while (!coding.empty() && (coding.back() == ' ' || coding.back() == '\t')) {
          coding.remove_suffix(1);
        }
        if (!coding.empty()) codings.push_back(coding);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
      }
    }
  }
  auto const bad = [](std::string_view message) {
    return FramingProblem{bhttp::status::bad_request, errc::bad_request, message};
  };
  // RFC 9110 section 8.6: a list or repeated values could each be read differently downstream.
  if (lengths > 1) return bad("more than one Content-Length field");
  if (lengths == 1 && !length_is_digits) return bad("Content-Length must be one decimal number");
  if (!has_transfer_encoding) return std::nullopt;
  if (lengths > 0) return bad("both Content-Length and Transfer-Encoding");
  if (version < 11) return bad("Transfer-Encoding in an HTTP/1.0 request");
  if (codings.empty() || !beast::iequals(codings.back(), "chunked")) {
    return bad("Transfer-Encoding must end with chunked");
  }
  auto const chunked = std::count_if(codings.begin(), codings.end(), [](std::string_view c) {
    return beast::iequals(c, "chunked");
  });
  if (chunked > 1) return bad("chunked applied more than once");  // RFC 9112 section 6.1
  if (codings.size() > 1) {
    // RFC 9112 section 6.1: a coding the server does not understand is 501.
    return FramingProblem{bhttp::status::not_implemented, errc::unsupported_transfer_coding,
                          "only the chunked transfer coding is supported"};
  }
  return std::nullopt;
}

// Feeds `parser` what `buffer` holds and reads more only while the parser needs it, until its
// header (`header_only`) or its whole message is done; `deadline` applies from the first read
// on. Beast's async_read_header and async_read loop the same way (parse, read on need_more) but
// complete through the io_context even when the buffer already held everything, which is the
// usual case of a keep-alive request arriving in one segment. The errors are theirs: the
// parser's (header_limit, body_limit, malformed input), end_of_stream when the peer closed
// before a byte of this request, partial_message when it closed inside it; after the deadline
// passed, beast::error::timeout.
template <class Stream>
asio::awaitable<error_code> read_request(Session<Stream>& session, beast::flat_buffer& buffer,
                                         inbound::RequestParser& parser, bool header_only,
                                         Clock::time_point deadline) {
  constexpr std::size_t kMaxRead = 64 * 1024;  // what Beast's reads ask for at most
  bool waiting = false;
  while (!(header_only ? parser.is_header_done() : parser.is_done())) {
    if (buffer.size() != 0) {
      error_code ec;
      auto const used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (!ec && used != 0) continue;
      if (ec && ec != bhttp::error::need_more) co_return ec;
    }
    if (!waiting) {
      session.expires_at(deadline);
      waiting = true;
    }
    auto const size = beast::read_size(buffer, kMaxRead);
    if (size == 0) co_return bhttp::error::buffer_overflow;
    auto [ec, n] = co_await session.stream().async_read_some(buffer.prepare(size), kUseTuple);
    buffer.commit(n);
    if (session.timed_out()) co_return beast::error::timeout;
    if (ec == asio::error::eof) {
      if (!parser.got_some()) co_return bhttp::error::end_of_stream;
      error_code eof_ec;
      parser.put_eof(eof_ec);  // partial_message, unless the message ends at the end of the stream
      co_return eof_ec;
    }
    if (ec) co_return ec;
  }
  co_return error_code{};
}

// Reads one request from `buffer`/the stream, answers it, and says whether the connection may
// carry another request.
template <class Stream>
asio::awaitable<bool> serve_one(Impl& impl, Session<Stream>& session, beast::flat_buffer& buffer) {
  auto const& options = impl.options;
  inbound::RequestParser parser;
  inbound::prepare_request_parser(parser, options);

  // RFC 9112 section 2.2 asks for robustness against slow or partial input, but a client that
  // takes longer than header_timeout for one header block is holding a connection hostage.
  auto const header_deadline = Clock::now() + options.header_timeout;
  auto const header_ec = co_await read_request(session, buffer, parser, true, header_deadline);
  auto const started = Clock::now();
  if (header_ec) {
    if (header_ec == bhttp::error::header_limit) {
      // RFC 6585 section 5.
      co_await refuse(impl, session, bhttp::status::request_header_fields_too_large,
                      code_id(errc::header_too_large), "request header fields too large",
                      inbound::make_request_id(), "-", started);
    } else if (header_ec == beast::error::timeout) {
      detail::log::debug(kComponent, "dropping connection: header timeout remote=",
                         session.remote());
    } else if (is_parse_error(header_ec)) {
      // The request is not HTTP/1.1 we can read (RFC 9112 section 2.2).
      co_await refuse(impl, session, bhttp::status::bad_request, code_id(errc::bad_request),
                      "malformed request", inbound::make_request_id(), "-", started);
    }
    co_return false;
  }

  auto const& header = parser.get();
  std::string const request_id = inbound::request_id_for(header);
  std::string_view const method = header.method_string();  // valid until parser.release()

  auto const verdict = inbound::check_request_head(parser, options);
  if (verdict == inbound::HeadVerdict::missing_host) {
    co_await refuse(impl, session, bhttp::status::bad_request, code_id(errc::bad_request),
                    "missing Host header", request_id, method, started);
    co_return false;
  }
  if (auto const problem = framing_problem(header, header.version())) {
    co_await refuse(impl, session, problem->status, code_id(problem->code), problem->message,
                    request_id, method, started);
    co_return false;
  }
  if (verdict == inbound::HeadVerdict::body_too_large) {
    co_await refuse(impl, session, bhttp::status::payload_too_large, code_id(errc::body_too_large),
                    "request body exceeds the limit", request_id, method, started);
    co_return false;
  }
  if (verdict == inbound::HeadVerdict::read_body) {
    // RFC 9110 section 10.1.1: a client that sent Expect: 100-continue waits for an interim
    // response before sending the body.
    if (beast::iequals(header[bhttp::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      session.expires_after(options.write_timeout);
      auto [continue_ec, continue_n] = co_await asio::async_write(
          session.stream(), asio::buffer(kContinue.data(), kContinue.size()), kUseTuple);
      if (continue_ec || session.timed_out()) co_return false;
    }
    auto const body_ec =
        co_await read_request(session, buffer, parser, false, Clock::now() + options.body_timeout);
    if (body_ec == bhttp::error::body_limit) {
      co_await refuse(impl, session, bhttp::status::payload_too_large, code_id(errc::body_too_large),
                      "request body exceeds the limit", request_id, method, started);
      co_return false;
    }
    if (body_ec) {
      if (is_parse_error(body_ec)) {
        co_await refuse(impl, session, bhttp::status::bad_request, code_id(errc::bad_request),
                        "malformed request body", request_id, method, started);
      } else {
        detail::log::debug(kComponent, "dropping connection while reading body: ",
                           body_ec.message(), " request_id=", request_id);
      }
      co_return false;
    }
  }
  // No deadline while the handler runs (a tcp_stream had none between its operations either).
  session.expires_never();

  Request request = parser.release();
  std::string_view route = kUnmatchedRoute;
  bool keep_alive = false;
  bool written = false;
  unsigned status = 0;
  {
    InFlight const in_flight(impl);
    Response response = co_await dispatch(impl, request, request_id, session.remote(), route);
    // Once a stop has begun, every response closes its connection (RFC 9112 section 9.6).
    keep_alive = request.keep_alive() && !impl.stopping.load();
    finish_headers(response, keep_alive);
    status = response.result_int();
    // Counted before it is written, so a client that reads its response and then the metrics
    // finds its request counted.
    count_request(impl, request.method(), route, status, started);
    written = co_await write_response(impl, session, response, request_id,
                                      request.method() == bhttp::verb::head);
  }
  if (ee::log::enabled(ee::log::Level::debug)) {
    RequestContext const view{request, {}, {}, {}};
    detail::log::debug(kComponent, "method=", request.method_string(), " path=", view.path(),
                       " status=", status,
                       " duration_ms=",
                       std::chrono::duration<double, std::milli>(Clock::now() - started).count(),
                       " request_id=", request_id);
  }
  co_return written && keep_alive;
}

template <class Stream>
asio::awaitable<void> run_session(Impl& impl, std::shared_ptr<Session<Stream>> session) {
  SessionRegistration const registration(impl, session->id());
  auto const& options = impl.options;
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    session->expires_after(options.header_timeout);
    auto [ec] = co_await session->stream().async_handshake(ssl::stream_base::server, kUseTuple);
    if (ec || session->timed_out()) {
      detail::log::debug(kComponent, "TLS handshake failed: ", session->timed_out() ? "timeout" : ec.message(),
                         " remote=", session->remote());
      session->close();
      session->stop_timer();
      co_return;
    }
  } else {
    // For write_response's immediate write; asynchronous operations are unaffected.
    error_code ec;
    session->lowest().non_blocking(true, ec);
  }

  beast::flat_buffer buffer;
  bool first = true;
  bool open = true;
  while (!impl.stopping.load()) {
    if (buffer.size() == 0) {
      // Waiting for the first byte of the next request: this is the keep-alive idle state, the
      // only state stop() may end at once. A fresh connection gets the header timeout instead,
      // so connecting and sending nothing is not a way to hold a socket for the idle period.
      session->set_idle(true);
      session->expires_after(first ? options.header_timeout : options.idle_timeout);
      auto [ec, n] = co_await session->stream().async_read_some(buffer.prepare(kReadChunk),
                                                                kUseTuple);
      session->set_idle(false);
      if (ec || session->timed_out()) {
        open = !session->timed_out() && ec != asio::error::operation_aborted &&
               ec != asio::error::bad_descriptor;
        break;
      }
      buffer.commit(n);
    }
    first = false;
    if (!co_await serve_one(impl, *session, buffer)) {
      open = session->lowest().is_open();
      break;
    }
  }
  if (open) co_await close_connection(*session, false);
  session->stop_timer();
}

template <class Stream, class... Args>
void start_session(Impl& impl, tcp::socket socket, Args&&... args) {
  error_code ec;
  auto remote = socket.remote_endpoint(ec);
  auto executor = socket.get_executor();
  std::uint64_t id = 0;
  {
    std::lock_guard const lock(impl.mutex);
    id = impl.next_session_id++;
  }
  auto session = std::make_shared<Session<Stream>>(id, remote, std::move(socket),
                                                   std::forward<Args>(args)...);
  impl.register_session(id, session);
  asio::co_spawn(executor, run_session(impl, std::move(session)), [](std::exception_ptr e) {
    // Nothing in a session throws on purpose (as_tuple everywhere, handlers wrapped); this is
    // the last line of defence so one connection cannot take down the io threads.
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (std::exception const& ex) {
      detail::log::error(kComponent, "session ended by exception: ", ex.what());
    } catch (...) {
      detail::log::error(kComponent, "session ended by a non-exception");
    }
  });
}

// Decrements a counter when a frame ends, also when it is destroyed without resuming.
class CountedScope {
 public:
  explicit CountedScope(std::atomic<std::size_t>& counter) : counter_(counter) {}
  ~CountedScope() { --counter_; }
  CountedScope(CountedScope const&) = delete;
  CountedScope& operator=(CountedScope const&) = delete;

 private:
  std::atomic<std::size_t>& counter_;
};

// A connection over the cap: a 503 the client can read (RFC 9110 section 15.6.4), then close.
// The request itself is not read; what the client sends is drained for a moment so closing does
// not reset the connection before the answer is read (see kLingerTime).
asio::awaitable<void> refuse_connection(Impl& impl, tcp::socket socket) {
  CountedScope const counted(impl.refusing);
  beast::tcp_stream stream(std::move(socket));
  stream.expires_after(kRefusalTime);
  auto const request_id = inbound::make_request_id();
  auto response = error_response(bhttp::status::service_unavailable,
                                 code_id(errc::too_many_connections),
                                 "the server has too many open connections, retry later",
                                 request_id);
  response.set(bhttp::field::retry_after, "1");
  finish_headers(response, false);
  std::string head;
  write_head(response, request_id, head);
  std::array<asio::const_buffer, 2> const both{asio::buffer(head), asio::buffer(response.body())};
  auto [write_ec, written] = co_await asio::async_write(stream, both, kUseTuple);
  if (!write_ec) {
    error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    std::array<char, kReadChunk> sink{};
    std::size_t drained = 0;
    while (!ec && drained < kRefusalDrainBytes) {
      auto [read_ec, n] = co_await stream.async_read_some(asio::buffer(sink), kUseTuple);
      ec = read_ec;
      drained += n;
    }
  }
  stream.close();
}

asio::awaitable<void> accept_loop(Impl& impl) {
  auto& acceptor = *impl.acceptor;
  auto backoff = kAcceptBackoffMin;
  EventLog failures;  // this coroutine is their only user
  EventLog refusals;
  while (!impl.stopping.load()) {
    // A connection's operations never run concurrently: with one io thread that holds anyway,
    // with more each connection gets a strand. (A strand costs a queue and a lock per
    // completion, which one thread does not need.)
    auto const connection_executor = impl.ioc_threads == 1
                                         ? asio::any_io_executor(impl.ioc->get_executor())
                                         : asio::any_io_executor(asio::make_strand(*impl.ioc));
    auto [ec, socket] = co_await acceptor.async_accept(connection_executor, kUseTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open() || impl.stopping.load()) {
        co_return;
      }
      std::size_t count = 0;
      if (failures.note(Clock::now(), count)) {
        detail::log::warn(kComponent, "accept failed: ", ec.message(), " (", count,
                          " failure(s) since the last report); backing off up to ",
                          kAcceptBackoffMax.count(), " ms");
      }
      asio::steady_timer timer(co_await asio::this_coro::executor, backoff);
      co_await timer.async_wait(kUseTuple);
      backoff = std::min(backoff * 2, kAcceptBackoffMax);
      continue;
    }
    backoff = kAcceptBackoffMin;
    if (std::size_t count = 0; failures.end_burst(count)) {
      detail::log::info(kComponent, "accepting again after ", count, " failed accept(s)");
    }
    if (impl.stopping.load()) {
      socket.close(ec);
      co_return;
    }
    if (impl.connections.load() >= impl.max_connections) {
      ++impl.refused;
      if (impl.instruments.refused != nullptr) impl.instruments.refused->inc();
      if (std::size_t count = 0; refusals.note(Clock::now(), count)) {
        detail::log::warn(kComponent, "connection cap of ", impl.max_connections,
                          " reached: refused ", count,
                          " connection(s) since the last report");
      }
      // Over TLS a readable refusal would need a handshake, which is what the cap saves us.
      if (impl.tls || impl.refusing.load() >= kMaxRefusing) {
        socket.close(ec);
        continue;
      }
      ++impl.refusing;
      auto const executor = socket.get_executor();
      asio::co_spawn(executor, refuse_connection(impl, std::move(socket)),
                     [](std::exception_ptr) {});
      continue;
    }
    if (std::size_t count = 0; refusals.end_burst(count)) {
      detail::log::info(kComponent, "below the connection cap again after refusing ", count,
                        " connection(s)");
    }
    // Small request/response exchanges: do not let Nagle hold back the tail of a response.
    socket.set_option(tcp::no_delay(true), ec);
    if (impl.tls) {
      start_session<TlsStream>(impl, std::move(socket), *impl.tls);
    } else {
      start_session<PlainStream>(impl, std::move(socket));
    }
  }
}

result<void> setup_tls(Impl& impl) {
  auto const& options = impl.options;
  if (options.tls_certificate_file.empty() && options.tls_private_key_file.empty()) return {};
  if (options.tls_certificate_file.empty() || options.tls_private_key_file.empty()) {
    return Error(errc::tls_setup_failed, "TLS needs both a certificate file and a key file");
  }
  try {
    impl.tls.emplace(ssl::context::tls_server);
  } catch (std::exception const& e) {
    return Error(errc::tls_setup_failed, std::string("cannot create a TLS context: ") + e.what());
  }
  auto& context = *impl.tls;
  error_code ec;
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                          ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                      ec);  // TLS 1.2+ only
  if (ec || SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION) != 1) {
    return Error(errc::tls_setup_failed, "cannot restrict the TLS context to TLS 1.2+");
  }
  context.use_certificate_chain_file(options.tls_certificate_file, ec);
  if (ec) {
    return Error(errc::tls_setup_failed, "certificate chain '" + options.tls_certificate_file +
                                             "': " + ec.message());
  }
  context.use_private_key_file(options.tls_private_key_file, ssl::context::pem, ec);
  if (ec) {
    return Error(errc::tls_setup_failed,
                 "private key '" + options.tls_private_key_file + "': " + ec.message());
  }
  if (SSL_CTX_check_private_key(context.native_handle()) != 1) {
    return Error(errc::tls_setup_failed, "private key '" + options.tls_private_key_file +
                                             "' does not match the certificate");
  }
  return {};
}

// ServerOptions::max_connections resolved: 0 means automatic (see server.hpp for the why).
std::size_t resolve_max_connections(std::size_t configured) {
  if (configured > 0) return configured;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return kAutoMaxConnections;
  }
  auto const three_quarters = static_cast<std::size_t>(limit.rlim_cur) / 4 * 3;
  return std::clamp<std::size_t>(three_quarters, 1, kAutoMaxConnections);
}

// Checks and builds what the options describe beyond sockets: the connection cap, the trusted
// proxies and a limiter per rate-limit class; every class a route names must be defined.
result<void> setup_limits(Impl& impl) {
  auto const& options = impl.options;
  impl.max_connections = resolve_max_connections(options.max_connections);
  auto proxies = AddressSet::parse(options.trusted_proxies);
  if (!proxies) return proxies.error().with_context("trusted_proxies");
  impl.trusted_proxies = std::move(*proxies);
  for (auto const& [name, limit] : options.rate_limits) {
    if (limit.per_minute == 0) continue;
    if (limit.burst == 0 || limit.max_clients == 0) {
      return Error(ee::errc::invalid_value,
                   "rate limit '" + name + "': burst and max_clients must be at least 1");
    }
    impl.limiters.emplace(name, std::make_unique<RateLimiter>(limit, options.rate_limit_clock));
  }
  for (auto const& route : impl.router.routes()) {
    if (route.rate_class.empty() || options.rate_limits.contains(route.rate_class)) continue;
    return Error(errc::invalid_route, "route " + std::string(bhttp::to_string(route.method)) +
                                          " '" + route.pattern + "': rate-limit class '" +
                                          route.rate_class + "' is not in rate_limits");
  }
  return {};
}

result<void> open_listener(Impl& impl) {
  auto const& options = impl.options;
  auto const where = options.host + ":" + std::to_string(options.port);
  error_code ec;
  tcp::endpoint endpoint;
  auto const address = asio::ip::make_address(options.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, options.port);
  } else {
    tcp::resolver resolver(*impl.ioc);
    auto const results = resolver.resolve(options.host, std::to_string(options.port),
                                          tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      return Error(errc::bind_failed, "cannot resolve " + where + ": " + ec.message());
    }
    endpoint = results.begin()->endpoint();
  }

  impl.acceptor.emplace(asio::make_strand(*impl.ioc));
  auto& acceptor = *impl.acceptor;
  auto fail = [&](std::string_view step) {
    return Error(errc::bind_failed, std::string(step) + " " + where + ": " + ec.message());
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail("open");
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("reuse_address");
  acceptor.bind(endpoint, ec);
  if (ec) return fail("bind");
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  impl.endpoint = acceptor.local_endpoint(ec);
  if (ec) return fail("local_endpoint");
  return {};
}

void setup_metrics(Impl& impl) {
  auto* registry = impl.options.metrics.get();
  if (registry == nullptr) return;
  auto& in = impl.instruments;
  in.requests = &registry->counter("ee_http_requests_total", "HTTP requests answered, by method, route pattern and status",
                                   {"method", "route", "status"});
  in.durations = &registry->histogram("ee_http_request_duration_seconds",
                                      "Time from the end of a request's header to its response ready to write, in seconds",
                                      {"method", "route"}, metrics::duration_buckets());
  in.in_flight = &registry->gauge("ee_http_requests_in_flight", "Requests being handled").get();
  in.open = &registry->gauge("ee_http_connections_open", "Open connections").get();
  in.refused = &registry->counter("ee_http_connections_refused_total",
                                  "Connections refused for being over the connection cap").get();
  in.rate_limited = &registry->counter("ee_http_requests_rate_limited_total",
                                       "Requests answered 429 for being over their client's rate limit").get();
}

void run_io(asio::io_context& ioc) {
  while (true) {
    try {
      ioc.run();
      return;
    } catch (std::exception const& e) {
      detail::log::error(kComponent, "io thread caught: ", e.what());
    } catch (...) {
      detail::log::error(kComponent, "io thread caught a non-exception");
    }
  }
}

void ServerState::register_session(std::uint64_t id, std::weak_ptr<Connection> connection) {
  std::lock_guard const lock(mutex);
  sessions.emplace(id, std::move(connection));
  ++connections;
  if (instruments.open != nullptr) instruments.open->add(1);
}

void ServerState::unregister_session(std::uint64_t id) {
  std::lock_guard const lock(mutex);
  if (sessions.erase(id) == 0) return;
  --connections;
  if (instruments.open != nullptr) instruments.open->add(-1);
  if (sessions.empty()) changed.notify_all();
}

std::vector<std::shared_ptr<Connection>> ServerState::snapshot_sessions() {
  std::vector<std::shared_ptr<Connection>> out;
  std::lock_guard const lock(mutex);
  out.reserve(sessions.size());
  for (auto const& [id, weak] : sessions) {
    if (auto strong = weak.lock()) out.push_back(std::move(strong));
  }
  return out;
}

void ServerState::stop() {
  {
    std::unique_lock lock(mutex);
    if (stop_started) {
      changed.wait(lock, [this] { return stopped; });
      return;
    }
    stop_started = true;
    stopping.store(true);
  }
  changed.notify_all();  // wakes wait_for_signal()

  if (acceptor && ioc) {
    asio::post(acceptor->get_executor(), [this] {
      error_code ec;
      acceptor->close(ec);
    });
  }
  for (auto const& session : snapshot_sessions()) session->close_if_idle();
  {
    std::unique_lock lock(mutex);
    changed.wait_for(lock, options.shutdown_grace, [this] { return sessions.empty(); });
  }
  auto const remaining = snapshot_sessions();
  if (!remaining.empty()) {
    detail::log::warn(kComponent, "shutdown grace over, closing ", remaining.size(),
                      " connection(s)");
    for (auto const& session : remaining) session->force_close();
    std::unique_lock lock(mutex);
    changed.wait_for(lock, kForceCloseUnwind, [this] { return sessions.empty(); });
  }
  if (ioc) ioc->stop();
  for (auto& thread : threads) {
    if (thread.joinable()) thread.join();
  }
  if (acceptor) {
    error_code ec;
    acceptor->close(ec);  // no io thread runs any more, so this cannot race the accept loop
  }
  {
    std::lock_guard const lock(mutex);
    stopped = true;
  }
  changed.notify_all();
}

}  // namespace

struct Server::Impl : ServerState {
  using ServerState::ServerState;
};

// ---- Server ----------------------------------------------------------------------------------

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() = default;

result<std::unique_ptr<Server>> Server::start(Router router, ServerOptions options) {
  if (auto checked = router.check(); !checked) return checked.error();
  auto impl = std::make_unique<Impl>(std::move(router), std::move(options));
  if (auto limits = setup_limits(*impl); !limits) return limits.error();
  if (auto tls = setup_tls(*impl); !tls) return tls.error();
  setup_metrics(*impl);
  if (auto listening = open_listener(*impl); !listening) return listening.error();

  asio::co_spawn(impl->acceptor->get_executor(), accept_loop(*impl), [](std::exception_ptr e) {
    if (e) detail::log::error(kComponent, "accept loop ended by exception");
  });
  auto const thread_count = std::max<std::size_t>(impl->options.threads, 1);
  impl->threads.reserve(thread_count);
  for (std::size_t i = 0; i < thread_count; ++i) {
    impl->threads.emplace_back([ioc = &*impl->ioc] { run_io(*ioc); });
  }
  detail::log::info(kComponent, "listening on ", impl->endpoint, impl->tls ? " (TLS)" : "",
                    " threads=", thread_count, " max_connections=", impl->max_connections);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

tcp::endpoint Server::endpoint() const noexcept { return impl_->endpoint; }

void Server::stop() { impl_->stop(); }

void Server::wait_for_signal() {
  Impl& impl = *impl_;
  std::optional<asio::signal_set> signals;
  {
    std::lock_guard const lock(impl.mutex);
    if (!impl.stop_started) {
      signals.emplace(*impl.ioc, SIGINT, SIGTERM);
      signals->async_wait([&impl](error_code const& ec, int signal_number) {
        if (ec) return;
        detail::log::info(kComponent, "signal ", signal_number, " received, stopping");
        {
          std::lock_guard const inner(impl.mutex);
          impl.signalled = true;
        }
        impl.changed.notify_all();
      });
    }
  }
  bool by_signal = false;
  {
    std::unique_lock lock(impl.mutex);
    impl.changed.wait(lock, [&impl] { return impl.signalled || impl.stop_started; });
    by_signal = impl.signalled && !impl.stop_started;
  }
  if (by_signal) {
    impl.stop();
  } else {
    wait();
  }
  // The io threads are joined now, so destroying the signal_set cannot race its handler.
}

void Server::wait() {
  std::unique_lock lock(impl_->mutex);
  impl_->changed.wait(lock, [this] { return impl_->stopped; });
}

std::size_t Server::requests_in_flight() const noexcept { return impl_->in_flight.load(); }

std::size_t Server::open_connections() const noexcept { return impl_->connections.load(); }

std::size_t Server::max_connections() const noexcept { return impl_->max_connections; }

std::size_t Server::refused_connections() const noexcept { return impl_->refused.load(); }

std::size_t Server::rate_limited_requests() const noexcept { return impl_->rate_limited.load(); }

}  // namespace ee::http
