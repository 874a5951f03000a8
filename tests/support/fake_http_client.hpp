#pragma once
// A scripted ee::http::Client (Azure's TestTransport): replies per (method, path) and a record
// of every request it was sent. Service clients take a std::shared_ptr<http::Client>, so tests
// hand them one of these and never touch the network:
//
//   auto http = std::make_shared<ee::test::FakeHttpClient>();
//   http->on(verb::post, "/zones/z1/dns_records", 409, R"({"success":false})");
//   ... EXPECT_EQ(http->requests().at(0)[field::authorization], "Bearer t0k");
#include <easyenclave/error.hpp>
#include <easyenclave/http/client.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ee::test {

/// Thread-safe: scripting, sending and inspecting may happen concurrently from any threads.
class FakeHttpClient : public ee::http::Client {
 public:
  using Verb = boost::beast::http::verb;
  /// Computes a reply from the request; it runs outside the fake's lock, so it may call
  /// requests() or script further replies.
  using Handler = std::function<ee::result<ee::http::Response>(ee::http::Request const&)>;
  using Headers = std::vector<std::pair<std::string, std::string>>;

  /// Scripts a reply with this status, body and headers (Content-Length is set) for requests
  /// with `method` whose target's path, without query, is `path`.
  ///
  /// Every call for the same (method, path) appends to that key's sequence: replies are used in
  /// the order they were scripted and the last one then repeats. So one call answers every
  /// request alike, and `on(get, "/x", 503, ""); on(get, "/x", 503, ""); on(get, "/x", 200, "ok")`
  /// fails twice and then succeeds.
  void on(Verb method, std::string path, unsigned status, std::string body, Headers headers = {});
  /// Scripts a computed reply (or error) as the next step of the sequence for (method, path).
  void on(Verb method, std::string path, Handler handler);
  /// Scripts a transport failure (errc::timeout, errc::connect_failed, ...) as the next step.
  void fail(Verb method, std::string path, ee::Error error);

  /// Copies of the requests sent so far, in the order they arrived; targets are as sent
  /// (absolute URLs).
  std::vector<ee::http::Request> requests() const;
  std::size_t request_count() const;

  /// Records the request and answers from the script. An unscripted (method, path) gives
  /// http::errc::no_scripted_reply naming both. Completes without suspending.
  boost::asio::awaitable<ee::result<ee::http::Response>> send(
      ee::http::Request request, ee::http::RequestOptions options = {}) override;

  /// The path of a target (absolute URL or origin-form) without query and fragment:
  /// "https://cf.test/zones/z1?x=1" -> "/zones/z1".
  static std::string path_of(std::string_view target);

 private:
  struct Script {
    std::vector<Handler> steps{};
    std::size_t next = 0;
  };

  void add_step(Verb method, std::string path, Handler handler);

  mutable std::mutex mutex_;
  std::map<std::pair<Verb, std::string>, Script> scripts_;
  std::vector<ee::http::Request> requests_;
};

}  // namespace ee::test
