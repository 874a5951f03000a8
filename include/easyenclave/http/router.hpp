#pragma once
/// @file Routing of inbound requests to handlers: method dispatch, `{param}` path segments,
/// 404 versus 405.
#include <easyenclave/error.hpp>
#include <easyenclave/http/client.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/verb.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ee::http {

/// Values of the `{name}` segments of a matched route, percent-decoded.
class PathParams {
 public:
  /// The value of `name`, or an empty view when the route has no such parameter.
  std::string_view get(std::string_view name) const noexcept;
  bool contains(std::string_view name) const noexcept;
  void set(std::string name, std::string value);
  std::vector<std::pair<std::string, std::string>> const& items() const noexcept { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

/// Everything a handler may read about the request it serves. Valid for the handler's duration.
struct RequestContext {
  Request const& request;
  PathParams params{};
  /// The request id: the client's `X-Request-Id` when it is sane (1-128 of [A-Za-z0-9._-]),
  /// else a generated one. The server echoes it in the response and in error bodies.
  std::string request_id{};
  boost::asio::ip::tcp::endpoint remote{};
  /// The client's address: `remote`'s, or, when `remote` is a trusted proxy
  /// (`ServerOptions::trusted_proxies`), the one the proxy names (see `client_address`).
  boost::asio::ip::address client{};

  /// The path of the target, without the query, not decoded.
  std::string_view path() const noexcept;
  /// The first value of query parameter `name`, percent-decoded; nullopt when absent.
  std::optional<std::string> query(std::string_view name) const;
};

/// A handler returns a response or an error. The server turns an error into a JSON body
/// `{"code": Error::id(), "message": ..., "request_id": ...}` with the status that
/// `status_for(error)` gives, so handlers never build error bodies themselves. For 4xx the message
/// is `Error::message()` (it tells callers what to fix in their input); for 5xx it is a generic
/// phrase and the detail goes to the log with the request id, so internals never leak. An
/// exception escaping a handler is logged and answered with 500.
using Handler = std::function<boost::asio::awaitable<result<Response>>(RequestContext&)>;

/// A route table. Build it once, then hand it to the server; matching is thread-safe and
/// `add` must not be called after the server starts.
class Router {
 public:
  struct Route {
    boost::beast::http::verb method{};
    std::string pattern{};  ///< "/api/v1/agents/{id}/heartbeat"
    Handler handler{};
    /// The rate-limit class of the route (a key of `ServerOptions::rate_limits`, such as
    /// "anonymous"); empty: not limited. A request over its client's limit is answered 429
    /// with `Retry-After` before the handler runs.
    std::string rate_class{};
  };

  /// Adds a route. `pattern` starts with '/'; a segment `{name}` matches one non-empty path
  /// segment. Where a literal and a parameter segment both match, the literal wins. A malformed
  /// pattern or a duplicate (method, pattern) is not added; it is recorded and reported by
  /// `check()`, which `Server::start` calls, so a bad table fails at start-up. `rate_class`
  /// names the route's rate-limit class; `Server::start` fails when the server's options do not
  /// define it.
  Router& add(boost::beast::http::verb method, std::string pattern, Handler handler,
              std::string rate_class = {});
  Router& get(std::string pattern, Handler handler, std::string rate_class = {});
  Router& post(std::string pattern, Handler handler, std::string rate_class = {});
  Router& put(std::string pattern, Handler handler, std::string rate_class = {});
  Router& del(std::string pattern, Handler handler, std::string rate_class = {});
  /// Answers requests whose path no route matches (instead of 404), e.g. a proxy to what stands
  /// behind the server. A path that matches a route under another method is still 405. Not
  /// listed by `routes()`.
  Router& fallback(Handler handler);

  enum class MatchKind { found, method_not_allowed, not_found };
  struct Match {
    MatchKind kind = MatchKind::not_found;
    Route const* route = nullptr;                             ///< set when found
    PathParams params{};                                      ///< set when found
    std::vector<boost::beast::http::verb> allowed_methods{};  ///< set when method_not_allowed
  };
  /// Matches `path` (no query string, not decoded; each segment is percent-decoded before it is
  /// compared, and a malformed escape matches nothing). HEAD falls back to the GET route when no
  /// HEAD route matches. A path that matches some pattern under another method gives
  /// `method_not_allowed` with the methods that would match (HEAD included wherever GET is),
  /// sorted by name. Thread-safe on a const router; `route` points into this router.
  Match match(boost::beast::http::verb method, std::string_view path) const;

  std::vector<Route> const& routes() const noexcept { return routes_; }

  /// The first problem met by `add`, as errc::invalid_route naming the pattern; success if none.
  result<void> check() const;

  /// One segment of a parsed pattern: a literal, or a parameter with its name.
  struct Segment {
    bool is_param = false;
    std::string text{};
  };

 private:
  std::vector<Route> routes_;
  std::vector<std::vector<Segment>> segments_;  ///< parsed patterns, parallel to routes_
  std::optional<Route> fallback_{};
  Error first_error_{};
};

/// The single mapping from an error's condition to an HTTP status (400, 401, 403, 404, 409,
/// 502, 503; 500 for an unmapped code).
boost::beast::http::status status_for(Error const& error) noexcept;

/// A JSON response with `Content-Type: application/json` and the given body.
Response json_response(boost::beast::http::status status, std::string body);
/// The error response the server sends for `error` (see `Handler` for the 4xx/5xx message rule).
Response error_response(Error const& error, std::string_view request_id);
/// An error response with an explicit status and code (used for 404/405/413 produced by the
/// server itself). `code` and `message` are JSON-escaped.
Response error_response(boost::beast::http::status status, std::string_view code,
                        std::string_view message, std::string_view request_id);

}  // namespace ee::http
