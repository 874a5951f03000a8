// The production http::Client: HTTP/1.1 (RFC 9112) over TCP or TLS on Boost.Beast, with C++20
// coroutines. Everything Beast-, SSL- and coroutine-specific for the client stays in this one
// translation unit, which keeps the rest of the library quick to compile.
#include <easyenclave/http/https_client.hpp>

#include <easyenclave/http/error.hpp>

#include "detail/log.hpp"
#include "http/redact.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace ee::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
namespace urls = boost::urls;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using SysError = boost::system::error_code;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kComponent = "http";

// ---------------------------------------------------------------------------------------------
// The target URL

// Where a request goes, derived once from its absolute-URL target.
struct Origin {
  bool tls = false;
  std::string host{};  // lower-case DNS name, or an IP literal without brackets
  bool host_is_ip = false;
  std::uint16_t port = 0;
  std::string authority{};    // host (IPv6 in brackets) ":" port, for messages and pool keys
  std::string host_header{};  // RFC 9110 section 7.2: the port only when not the default
  std::string target{};       // origin-form, RFC 9112 section 3.2.1
  std::string log_url{};      // scheme, authority and path: no query, it may carry keys

  std::string pool_key() const { return (tls ? "https://" : "http://") + authority; }
};

bool is_dns_name(std::string_view name) noexcept {
  // RFC 1123 section 2.1 host names plus '_', which real service records use. Anything else
  // (spaces, percent-decoded controls, '@') is refused rather than sent to the resolver.
  if (name.empty() || name.size() > 253) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
  });
}

result<Origin> parse_origin(std::string_view url) {
  auto const redacted = redact_url(url);
  // RFC 3986 section 4.3: the target must be an absolute URI. A fragment is allowed in the
  // input (and never sent, RFC 9110 section 4.2.5), so parse as URI rather than absolute-URI.
  auto parsed = urls::parse_uri(url);
  if (!parsed) {
    return Error(errc::bad_url, "request target '" + redacted + "' is not an absolute URL");
  }
  urls::url_view const& u = *parsed;
  Origin origin;
  if (u.scheme_id() == urls::scheme::https) {
    origin.tls = true;
  } else if (u.scheme_id() != urls::scheme::http) {
    return Error(errc::bad_url, "unsupported URL scheme '" + std::string(u.scheme()) +
                                    "' (expected http or https)");
  }
  // Credentials in the URL would end up in logs and proxies; they belong in a header.
  if (u.has_userinfo()) {
    return Error(errc::bad_url, "URLs with userinfo are refused: put credentials in a header");
  }
  std::string bracketed;
  switch (u.host_type()) {
    case urls::host_type::name:
      origin.host = u.host_name();
      std::transform(origin.host.begin(), origin.host.end(), origin.host.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
      });
      if (!is_dns_name(origin.host)) {
        return Error(errc::bad_url, "URL '" + redacted + "' has an invalid host name");
      }
      bracketed = origin.host;
      break;
    case urls::host_type::ipv4:
      origin.host = u.host_ipv4_address().to_string();
      origin.host_is_ip = true;
      bracketed = origin.host;
      break;
    case urls::host_type::ipv6:
      origin.host = u.host_ipv6_address().to_string();
      origin.host_is_ip = true;
      bracketed = "[" + origin.host + "]";
      break;
    default:
      return Error(errc::bad_url, "URL '" + redacted + "' has no usable host");
  }
  std::uint16_t const default_port = origin.tls ? 443 : 80;
  origin.port = default_port;
  if (u.has_port() && !u.port().empty()) {
    // RFC 3986 allows any run of digits; only 1-65535 can be connected to. (Boost.URL 1.81's
    // port_number() wraps larger values, so the digits are parsed here.)
    std::string_view const digits = u.port();
    unsigned long value = 0;
    auto const [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc{} || end != digits.data() + digits.size() || value == 0 ||
        value > std::numeric_limits<std::uint16_t>::max()) {
      return Error(errc::bad_url, "URL '" + redacted + "' has an invalid port");
    }
    origin.port = static_cast<std::uint16_t>(value);
  }
  origin.authority = bracketed + ":" + std::to_string(origin.port);
  origin.host_header = origin.port == default_port ? bracketed : origin.authority;
  std::string path(u.encoded_path());
  if (path.empty()) path = "/";  // RFC 9112 section 3.2.1: an empty path is sent as "/"
  origin.target = path;
  if (u.has_query()) origin.target += "?" + std::string(u.encoded_query());
  origin.log_url = (origin.tls ? "https://" : "http://") + origin.host_header + path;
  return origin;
}

// ---------------------------------------------------------------------------------------------
// Connections and the idle pool

struct Connection {
  Connection(asio::any_io_executor const& ex, std::string pool_key)
      : key(std::move(pool_key)), executor(ex),
        context(&asio::query(ex, asio::execution::context)) {
    plain.emplace(ex);
  }
  Connection(asio::any_io_executor const& ex, std::string pool_key, ssl::context& tls_context)
      : key(std::move(pool_key)), executor(ex),
        context(&asio::query(ex, asio::execution::context)) {
    tls.emplace(ex, tls_context);
  }

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  std::string key;
  asio::any_io_executor executor;
  asio::execution_context* context;
  std::optional<beast::tcp_stream> plain{};
  std::optional<TlsStream> tls{};
  beast::flat_buffer buffer{};
  Clock::time_point idle_since{};
};

// True when an idle connection can still carry a request. A peer that closed it (an idle
// timeout on the server, RFC 9112 section 9.8) has left an EOF or a TLS close_notify in the
// socket; either makes it readable while we expect silence. Peeking never consumes data.
bool looks_alive(Connection& connection) {
  char byte = 0;
  auto const n = ::recv(connection.lowest().socket().native_handle(), &byte, 1,
                        MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

class Pool;

// Pooled sockets belong to an io_context, and a socket must not outlive its context. Callers
// such as ee::block_on create and destroy a context per call, so the pool registers this
// service with every context it keeps connections for; the context's destructor calls
// shutdown() before tearing down its reactor, and the pool drops that context's connections.
class PoolReaper final : public asio::execution_context::service {
 public:
  static asio::execution_context::id id;

  explicit PoolReaper(asio::execution_context& context)
      : asio::execution_context::service(context) {}

  void watch(std::weak_ptr<Pool> const& pool) {
    std::lock_guard lock(mutex_);
    std::erase_if(pools_, [](auto const& p) { return p.expired(); });
    for (auto const& known : pools_) {
      if (!known.owner_before(pool) && !pool.owner_before(known)) return;
    }
    pools_.push_back(pool);
  }

 private:
  void shutdown() override;

  std::mutex mutex_;
  std::vector<std::weak_ptr<Pool>> pools_;
};

asio::execution_context::id PoolReaper::id;

class Pool : public std::enable_shared_from_this<Pool> {
 public:
  Pool(std::size_t max_idle_per_origin, std::size_t max_idle_total, std::chrono::seconds idle_timeout)
      : max_idle_(max_idle_per_origin), max_idle_total_(max_idle_total), idle_timeout_(idle_timeout) {}

  // The most recently used live connection for `key` on `executor`, or null. Connections are
  // bound to the executor they were created on, so another executor never shares them.
  std::unique_ptr<Connection> take(std::string const& key, asio::any_io_executor const& ex) {
    std::lock_guard lock(mutex_);
    evict_expired(Clock::now());
    for (std::size_t i = idle_.size(); i-- > 0;) {
      if (idle_[i]->key != key || idle_[i]->executor != ex) continue;
      std::unique_ptr<Connection> found = std::move(idle_[i]);
      idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(i));
      if (looks_alive(*found)) return found;
      // Closed by the peer: drop it (under the lock, see evict_expired) and look further.
    }
    return nullptr;
  }

  void put(std::unique_ptr<Connection> connection) {
    if (max_idle_ == 0) return;
    asio::use_service<PoolReaper>(*connection->context).watch(weak_from_this());
    std::lock_guard lock(mutex_);
    auto const now = Clock::now();
    evict_expired(now);
    std::size_t same = 0;
    for (auto const& c : idle_) {
      if (c->key == connection->key && c->executor == connection->executor) ++same;
    }
    if (same >= max_idle_) {
      auto oldest = std::find_if(idle_.begin(), idle_.end(), [&](auto const& c) {
        return c->key == connection->key && c->executor == connection->executor;
      });
      idle_.erase(oldest);
    }
    connection->idle_since = now;
    idle_.push_back(std::move(connection));
    if (idle_.size() > max_idle_total_) {
      idle_.erase(idle_.begin(), idle_.begin() + static_cast<std::ptrdiff_t>(idle_.size() - max_idle_total_));
    }
  }

  void drop_context(asio::execution_context const* context) {
    std::lock_guard lock(mutex_);
    std::erase_if(idle_, [&](auto const& c) { return c->context == context; });
  }

 private:
  // Connections are destroyed under the lock on purpose: drop_context, called while a context
  // is being destroyed, must not return while another thread still closes one of its sockets.
  void evict_expired(Clock::time_point now) {
    std::erase_if(idle_, [&](auto const& c) { return now - c->idle_since >= idle_timeout_; });
  }

  std::size_t const max_idle_;
  std::size_t const max_idle_total_;
  Clock::duration const idle_timeout_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;  // oldest first
};

void PoolReaper::shutdown() {
  std::vector<std::weak_ptr<Pool>> pools;
  {
    std::lock_guard lock(mutex_);
    pools.swap(pools_);
  }
  for (auto const& weak : pools) {
    if (auto pool = weak.lock()) pool->drop_context(&context());
  }
}

// ---------------------------------------------------------------------------------------------
// Error mapping

std::string milliseconds_text(Clock::duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

bool is_http_parse_error(SysError const& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category();
}

// The peer went away: an orderly or abortive close, or TLS without close_notify.
bool is_peer_close(SysError const& ec) {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::connection_aborted || ec == asio::error::broken_pipe ||
         ec == ssl::error::stream_truncated;
}

Error io_error(SysError const& ec, std::string_view what, Origin const& origin,
               Clock::time_point deadline, RequestOptions const& options) {
  auto const where = std::string(what) + " " + origin.authority;
  if (ec == beast::error::timeout || Clock::now() >= deadline) {
    return Error(errc::timeout, where + " exceeded the deadline of " +
                                    milliseconds_text(options.timeout));
  }
  if (ec == asio::error::operation_aborted) {
    return Error(ee::errc::cancelled, where + " was cancelled");
  }
  if (ec == bhttp::error::header_limit || ec == bhttp::error::body_limit ||
      ec == bhttp::error::buffer_overflow) {
    return Error(errc::response_too_large, "response from " + origin.authority + " exceeds " +
                                               std::to_string(options.max_response_bytes) +
                                               " bytes");
  }
  if (is_peer_close(ec)) {
    return Error(errc::connection_closed, where + ": the peer closed the connection (" +
                                              ec.message() + ")");
  }
  if (is_http_parse_error(ec)) {
    return Error(errc::protocol_error, where + ": malformed HTTP/1.1 response (" +
                                           ec.message() + ")");
  }
  return Error(errc::connection_closed, where + " failed: " + ec.message());
}

Error handshake_error(SysError const& ec, SSL* ssl, Origin const& origin,
                      Clock::time_point deadline, RequestOptions const& options) {
  // With verify_peer, OpenSSL aborts the handshake on the first verification failure and keeps
  // the reason in the verify result; the host check (RFC 6125 section 6) is part of it.
  long const verify = SSL_get_verify_result(ssl);
  if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    return Error(errc::hostname_mismatch, "the certificate of " + origin.authority +
                                              " does not name " + origin.host);
  }
  if (verify != X509_V_OK) {
    return Error(errc::certificate_untrusted,
                 "the certificate chain of " + origin.authority + " did not verify: " +
                     X509_verify_cert_error_string(verify));
  }
  if (ec == beast::error::timeout || Clock::now() >= deadline) {
    return Error(errc::timeout, "TLS handshake with " + origin.authority +
                                    " exceeded the deadline of " +
                                    milliseconds_text(options.timeout));
  }
  if (ec == asio::error::operation_aborted) {
    return Error(ee::errc::cancelled, "TLS handshake with " + origin.authority + " was cancelled");
  }
  return Error(errc::tls_handshake_failed,
               "TLS handshake with " + origin.authority + " failed: " + ec.message());
}

// ---------------------------------------------------------------------------------------------
// One exchange on one connection

struct Outcome {
  std::optional<Response> response{};
  Error error{};
  bool nothing_received = false;  // no byte of a response arrived before the failure
  bool failed_on_write = false;
  bool reusable = false;
};

template <class Stream>
asio::awaitable<Outcome> exchange(Stream& stream, Connection& connection, Request const& request,
                                  Origin const& origin, Clock::time_point deadline,
                                  RequestOptions const& options) {
  Outcome out;
  connection.lowest().expires_at(deadline);
  auto [write_ec, written] = co_await bhttp::async_write(stream, request, kNoThrow);
  (void)written;
  if (write_ec) {
    out.error = io_error(write_ec, "sending the request to", origin, deadline, options);
    out.nothing_received = true;
    out.failed_on_write = true;
    co_return out;
  }

  std::size_t budget = options.max_response_bytes;
  for (;;) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(budget, std::numeric_limits<std::uint32_t>::max())));
    parser.body_limit(budget);
    // A response to HEAD has headers that describe a body it never carries (RFC 9110 9.3.2).
    if (request.method() == bhttp::verb::head) parser.skip(true);

    auto [header_ec, header_bytes] =
        co_await bhttp::async_read_header(stream, connection.buffer, parser, kNoThrow);
    if (header_ec) {
      out.error = io_error(header_ec, "reading the response from", origin, deadline, options);
      out.nothing_received = !parser.got_some() && is_peer_close(header_ec);
      co_return out;
    }
    budget -= std::min(budget, header_bytes);
    unsigned const status = parser.get().result_int();
    if (status == 101) {
      // We never ask to switch protocols (RFC 9110 section 15.2.2), so this is not ours.
      out.error = Error(errc::protocol_error,
                        "unexpected 101 Switching Protocols from " + origin.authority);
      co_return out;
    }
    // Interim 1xx responses precede the final one (RFC 9110 section 15.2): skip them.
    if (status >= 100 && status < 200) continue;

    // The header already told us the size: refuse early instead of reading up to the cap.
    if (auto length = parser.content_length(); length && *length > budget) {
      out.error = Error(errc::response_too_large,
                        "response from " + origin.authority + " announces " +
                            std::to_string(*length) + " body bytes, over the cap of " +
                            std::to_string(options.max_response_bytes) + " bytes");
      co_return out;
    }
    parser.body_limit(budget);
    auto [body_ec, body_bytes] =
        co_await bhttp::async_read(stream, connection.buffer, parser, kNoThrow);
    (void)body_bytes;
    if (body_ec) {
      out.error = io_error(body_ec, "reading the response from", origin, deadline, options);
      co_return out;
    }
    // Reuse only a connection both sides keep open (RFC 9112 section 9.3) and that holds no
    // stray bytes which would be mistaken for the next response.
    out.reusable = parser.keep_alive() && request.keep_alive() && connection.buffer.size() == 0;
    out.response = parser.release();
    co_return out;
  }
}

// RFC 9110 section 9.2.2. Only these may be repeated without the caller's knowledge.
bool is_idempotent(bhttp::verb method) noexcept {
  switch (method) {
    case bhttp::verb::get:
    case bhttp::verb::head:
    case bhttp::verb::options:
    case bhttp::verb::trace:
    case bhttp::verb::put:
    case bhttp::verb::delete_:
      return true;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// The client

class HttpsClient final : public Client, public std::enable_shared_from_this<HttpsClient> {
 public:
  HttpsClient(HttpsOptions options, ssl::context tls)
      : options_(std::move(options)),
        tls_(std::move(tls)),
        pool_(std::make_shared<Pool>(options_.max_idle_per_origin, options_.max_idle_total,
                                    options_.idle_timeout)) {}

  asio::awaitable<result<Response>> send(Request request, RequestOptions options) override;

 private:
  asio::awaitable<result<std::vector<tcp::endpoint>>> resolve(Origin const& origin,
                                                               Clock::time_point deadline,
                                                               RequestOptions const& options);
  asio::awaitable<result<std::unique_ptr<Connection>>> connect(Origin const& origin,
                                                               Clock::time_point deadline,
                                                               RequestOptions const& options);

  HttpsOptions const options_;
  ssl::context tls_;  // only read after construction: OpenSSL allows concurrent SSL_new on it
  std::shared_ptr<Pool> pool_;
  std::atomic<std::uint64_t> next_id_{1};
};

asio::awaitable<result<std::vector<tcp::endpoint>>> HttpsClient::resolve(
    Origin const& origin, Clock::time_point deadline, RequestOptions const& options) {
  std::vector<tcp::endpoint> endpoints;
  if (origin.host_is_ip) {
    SysError ec;
    auto const address = asio::ip::make_address(origin.host, ec);
    if (ec) co_return Error(errc::bad_url, "invalid IP address " + origin.host);
    endpoints.emplace_back(address, origin.port);
    co_return endpoints;
  }
  auto executor = co_await asio::this_coro::executor;
  // getaddrinfo runs on Asio's resolver thread and cannot be interrupted, and the resolver
  // ignores per-operation cancellation. The lookup therefore reports into a channel that it
  // shares ownership of, and we race the channel against the deadline: on timeout we return
  // and the lookup finishes in the background into a channel nobody reads.
  using Results = tcp::resolver::results_type;
  using Channel = asio::experimental::concurrent_channel<void(SysError, Results)>;
  auto channel = std::make_shared<Channel>(executor, 1);
  auto resolver = std::make_shared<tcp::resolver>(executor);
  resolver->async_resolve(origin.host, std::to_string(origin.port),
                          tcp::resolver::numeric_service,
                          [channel, resolver](SysError ec, Results results) {
                            channel->try_send(ec, std::move(results));
                          });
  asio::steady_timer timer(executor, deadline);
  using asio::experimental::awaitable_operators::operator||;
  auto winner = co_await (channel->async_receive(kNoThrow) || timer.async_wait(kNoThrow));
  if (winner.index() == 1) {
    resolver->cancel();
    auto [timer_ec] = std::get<1>(winner);
    if (timer_ec == asio::error::operation_aborted) {
      co_return Error(ee::errc::cancelled, "resolving " + origin.host + " was cancelled");
    }
    co_return Error(errc::timeout, "resolving " + origin.host + " exceeded the deadline of " +
                                       milliseconds_text(options.timeout));
  }
  auto [ec, results] = std::get<0>(std::move(winner));
  if (ec == asio::error::operation_aborted) {
    co_return Error(ee::errc::cancelled, "resolving " + origin.host + " was cancelled");
  }
  if (ec || results.empty()) {
    co_return Error(errc::resolve_failed,
                    "resolving " + origin.host + " failed: " +
                        (ec ? ec.message() : std::string("no addresses")));
  }
  for (auto const& entry : results) endpoints.push_back(entry.endpoint());
  co_return endpoints;
}

asio::awaitable<result<std::unique_ptr<Connection>>> HttpsClient::connect(
    Origin const& origin, Clock::time_point deadline, RequestOptions const& options) {
  auto endpoints = co_await resolve(origin, deadline, options);
  if (!endpoints) co_return endpoints.error();
  auto executor = co_await asio::this_coro::executor;
  auto connection = origin.tls ? std::make_unique<Connection>(executor, origin.pool_key(), tls_)
                               : std::make_unique<Connection>(executor, origin.pool_key());
  connection->lowest().expires_at(deadline);
  // Each address in turn, the socket opened here: Asio's range connect reports a socket it could
  // not open (too many open files) as operation_aborted, which would read as a cancellation.
  SysError connect_ec = asio::error::host_not_found;
  for (auto const& endpoint : *endpoints) {
    auto& socket = connection->lowest().socket();
    SysError open_ec;
    if (socket.is_open()) socket.close(open_ec);
    socket.open(endpoint.protocol(), open_ec);
    if (open_ec) {
      co_return Error(errc::connect_failed, "connecting to " + origin.authority +
                                                " failed: no socket could be opened: " + open_ec.message());
    }
    auto [ec] = co_await connection->lowest().async_connect(endpoint, kNoThrow);
    connect_ec = ec;
    if (!connect_ec || connect_ec == beast::error::timeout || connect_ec == asio::error::operation_aborted) break;
  }
  if (connect_ec == beast::error::timeout || (connect_ec && Clock::now() >= deadline)) {
    co_return Error(errc::timeout, "connecting to " + origin.authority +
                                       " exceeded the deadline of " +
                                       milliseconds_text(options.timeout));
  }
  if (connect_ec == asio::error::operation_aborted) {
    co_return Error(ee::errc::cancelled, "connecting to " + origin.authority + " was cancelled");
  }
  if (connect_ec) {
    co_return Error(errc::connect_failed,
                    "connecting to " + origin.authority + " failed: " + connect_ec.message());
  }
  if (!origin.tls) co_return connection;

  SSL* const ssl_handle = connection->tls->native_handle();
  bool configured = true;
  if (origin.host_is_ip) {
    // RFC 6066 section 3 forbids literal addresses in SNI; RFC 6125 section 1.7.2 leaves IP
    // identities to the iPAddress subjectAltName, which OpenSSL matches against this value.
    configured = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), origin.host.c_str());
  } else {
    // SNI lets a shared front end pick the certificate for this name (RFC 6066 section 3).
    // (SSL_set_tlsext_host_name spelled out: the macro casts away const C-style.)
    configured = SSL_ctrl(ssl_handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                          const_cast<char*>(origin.host.c_str())) == 1;
    // RFC 6125 section 6.4.3: a wildcard matches one whole left-most label only.
    SSL_set_hostflags(ssl_handle, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    configured = configured && SSL_set1_host(ssl_handle, origin.host.c_str()) == 1;
  }
  if (!configured) {
    co_return Error(errc::tls_handshake_failed,
                    "could not configure TLS peer verification for " + origin.host);
  }
  auto [handshake_ec] =
      co_await connection->tls->async_handshake(ssl::stream_base::client, kNoThrow);
  if (handshake_ec) {
    co_return handshake_error(handshake_ec, ssl_handle, origin, deadline, options);
  }
  co_return connection;
}

asio::awaitable<result<Response>> HttpsClient::send(Request request, RequestOptions options) {
  // Keeps the client (its TLS context and pool) alive until this exchange is over.
  auto const self = shared_from_this();
  auto const started = Clock::now();
  auto const deadline = started + options.timeout;

  auto origin = parse_origin(request.target());
  if (!origin) co_return origin.error();
  request.version(11);
  request.target(origin->target);
  request.set(bhttp::field::host, origin->host_header);
  if (request.find(bhttp::field::user_agent) == request.end()) {
    request.set(bhttp::field::user_agent, options_.user_agent);
  }
  request.prepare_payload();

  auto const id = next_id_.fetch_add(1, std::memory_order_relaxed);
  if (ee::log::enabled(ee::log::Level::debug)) {
    detail::log::debug(kComponent, "request id=", id, " method=", request.method_string(),
                       " url=", origin->log_url, " body_bytes=", request.body().size(),
                       " headers=\"", format_headers(request), "\"");
  }

  auto const executor = co_await asio::this_coro::executor;
  bool retried = false;
  for (;;) {
    // A retry always uses a fresh connection: another pooled one may be just as stale.
    std::unique_ptr<Connection> connection =
        retried ? nullptr : pool_->take(origin->pool_key(), executor);
    bool const reused = connection != nullptr;
    if (!connection) {
      auto fresh = co_await connect(*origin, deadline, options);
      if (!fresh) {
        detail::log::debug(kComponent, "request id=", id, " failed: ", fresh.error().message());
        co_return fresh.error();
      }
      connection = std::move(*fresh);
    }

    Outcome outcome;
    if (connection->tls) {
      outcome = co_await exchange(*connection->tls, *connection, request, *origin, deadline,
                                  options);
    } else {
      outcome = co_await exchange(*connection->plain, *connection, request, *origin, deadline,
                                  options);
    }
    if (outcome.response) {
      if (ee::log::enabled(ee::log::Level::debug)) {
        detail::log::debug(kComponent, "response id=", id,
                           " status=", outcome.response->result_int(),
                           " body_bytes=", outcome.response->body().size(),
                           " elapsed_ms=",
                           std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() -
                                                                                 started)
                               .count(),
                           " reused_connection=", reused, " headers=\"",
                           format_headers(*outcome.response), "\"");
      }
      if (outcome.reusable) {
        connection->lowest().expires_never();
        pool_->put(std::move(connection));
      }
      co_return std::move(*outcome.response);
    }

    // A pooled connection the server closed while idle fails before any response byte. Retry
    // once on a new connection when that cannot apply the request twice: the request was not
    // fully written, or its method is idempotent (RFC 9112 section 9.3.1), or the caller made it
    // so with an Idempotency-Key.
    bool const replayable = outcome.failed_on_write || is_idempotent(request.method()) ||
                            request.find("Idempotency-Key") != request.end();
    if (reused && !retried && outcome.nothing_received && replayable &&
        Clock::now() < deadline) {
      detail::log::debug(kComponent, "request id=", id,
                         " retrying on a new connection: ", outcome.error.message());
      retried = true;
      continue;
    }
    detail::log::debug(kComponent, "request id=", id, " failed: ", outcome.error.message());
    co_return outcome.error;
  }
}

}  // namespace

result<std::shared_ptr<Client>> make_https_client(HttpsOptions options) {
  try {
    ssl::context tls(ssl::context::tls_client);
    // TLS 1.0 and 1.1 are deprecated (RFC 8996).
    if (SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION) != 1) {
      return Error(errc::tls_setup_failed, "could not require TLS 1.2 or later");
    }
    tls.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
    tls.set_verify_mode(ssl::verify_peer);
    SysError ec;
    if (options.use_system_roots) {
      tls.set_default_verify_paths(ec);
      if (ec) {
        return Error(errc::tls_setup_failed,
                     "could not load the system trust roots: " + ec.message());
      }
    }
    if (!options.extra_ca_file.empty()) {
      tls.load_verify_file(options.extra_ca_file, ec);
      if (ec) {
        return Error(errc::tls_setup_failed, "could not load CA file '" +
                                                 options.extra_ca_file + "': " + ec.message());
      }
    }
    return std::make_shared<HttpsClient>(std::move(options), std::move(tls));
  } catch (boost::system::system_error const& e) {
    // ssl::context's constructor throws only when OpenSSL cannot allocate a context.
    return Error(errc::tls_setup_failed, std::string("could not create a TLS context: ") +
                                             e.code().message());
  }
}

}  // namespace ee::http
