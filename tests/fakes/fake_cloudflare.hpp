#pragma once
// A stand-in for the Cloudflare v4 API on a real ee::http::Server, speaking the shapes the
// tunnel provider uses and keeping state, so tests can assert what exists after a call (and what
// a failed call left behind). In-process for tests, and as the `ee-fake-cloudflare` program.
//
// Every answer is the v4 envelope {"success","errors":[{"code","message"}],"messages":[],
// "result"}; lists add "result_info" {page, per_page, count, total_count, total_pages} and
// honour the `page` and `per_page` query parameters. Routes, under `url()` (which ends in
// "/client/v4" like the real API base):
//
//   GET    /accounts/{account}/cfd_tunnel          ?name= &is_deleted= &uuid= (paged)
//   POST   /accounts/{account}/cfd_tunnel          {"name","config_src"[,"tunnel_secret"]}
//   GET    /accounts/{account}/cfd_tunnel/{id}
//   DELETE /accounts/{account}/cfd_tunnel/{id}     400 (code 1022) while connected
//   GET    /accounts/{account}/cfd_tunnel/{id}/token  result: base64 of {"a","t","s"}
//   GET    /accounts/{account}/cfd_tunnel/{id}/configurations
//   PUT    /accounts/{account}/cfd_tunnel/{id}/configurations  {"config":{"ingress":[...]}}
//   DELETE /accounts/{account}/cfd_tunnel/{id}/connections
//   GET    /zones/{zone}/dns_records               ?type= &name= &content= (paged)
//   POST   /zones/{zone}/dns_records               {"type","name","content"[,"proxied","ttl"]}
//   GET    /zones/{zone}/dns_records/{id}
//   PUT    /zones/{zone}/dns_records/{id}
//   DELETE /zones/{zone}/dns_records/{id}          404 (code 81044) when absent
//
// Errors as Cloudflare gives them: no or another bearer token → 403 (code 10000); another
// account → 403 (code 9109); another zone → 404 (code 7003); a second active tunnel of one name →
// 409 (code 1013); a record whose name another record holds where one of them is a CNAME → 400
// (code 81053); an identical record → 400 (code 81058); an ingress whose last rule has a hostname
// or path → 400; an unknown or deleted tunnel → 404. Deleted tunnels keep their `deleted_at` and
// leave `is_deleted=false` lists.
#include <easyenclave/error.hpp>
#include <easyenclave/http/server.hpp>

#include <boost/beast/http/verb.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ee::test {

struct FakeCloudflareOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  /// The only bearer token accepted. Visible ASCII, not empty.
  std::string api_token = "ee-fake-cloudflare-token";
  /// The only account and zone served. 1-64 of [A-Za-z0-9-].
  std::string account_id = "ee-fake-account";
  std::string zone_id = "ee-fake-zone";
  std::size_t threads = 2;
};

/// One ingress rule as stored from a configuration PUT.
struct FakeIngressRule {
  std::string hostname{};  ///< empty for the catch-all
  std::string path{};
  std::string service{};
};

struct FakeTunnel {
  std::string id{};  ///< UUID
  std::string name{};
  std::string config_src{};  ///< "cloudflare" (remotely managed) or "local"
  std::string secret{};      ///< base64 of 32 bytes: the "s" of the token
  std::string created_at{};  ///< RFC 3339
  std::optional<std::string> deleted_at{};
  std::vector<std::string> connections{};  ///< ids of simulated connectors
  /// The ingress of the last configuration PUT; nullopt before the first.
  std::optional<std::vector<FakeIngressRule>> ingress{};
  std::int64_t config_version = 0;
};

struct FakeDnsRecord {
  std::string id{};    ///< 32 hex digits
  std::string type{};  ///< "CNAME", "A", ...
  std::string name{};  ///< lower case
  std::string content{};
  bool proxied = false;
  std::int64_t ttl = 1;  ///< 1: automatic
  std::string created_on{}, modified_on{};
};

/// Thread-safe: every accessor may be called while the server serves requests.
class FakeCloudflare {
 public:
  /// errc::invalid_value for a malformed token, account or zone id; http errors when the server
  /// cannot start.
  static ee::result<std::unique_ptr<FakeCloudflare>> start(FakeCloudflareOptions options = {});
  ~FakeCloudflare();
  FakeCloudflare(FakeCloudflare const&) = delete;
  FakeCloudflare& operator=(FakeCloudflare const&) = delete;

  /// The API base: "http://127.0.0.1:<port>/client/v4".
  std::string url() const;
  std::string const& api_token() const;
  std::string const& account_id() const;
  std::string const& zone_id() const;
  ee::http::Server& server();

  /// Tunnels that are not deleted.
  std::size_t live_tunnel_count() const;
  std::size_t dns_record_count() const;
  /// Every tunnel ever created (deleted ones too), oldest first.
  std::vector<FakeTunnel> tunnels() const;
  /// The tunnel with `id` (deleted or not); nullopt when unknown.
  std::optional<FakeTunnel> tunnel(std::string_view id) const;
  /// The live tunnel called `name`; nullopt when none.
  std::optional<FakeTunnel> live_tunnel_named(std::string_view name) const;
  /// Every DNS record, oldest first.
  std::vector<FakeDnsRecord> records() const;
  /// The ingress of tunnel `id`; nullopt when unknown or never configured.
  std::optional<std::vector<FakeIngressRule>> ingress(std::string_view tunnel_id) const;

  /// Seeds a tunnel as if created through the API earlier (no name check); returns its id.
  std::string add_tunnel(std::string name, std::string config_src = "cloudflare");
  /// Seeds a DNS record (no conflict check; the name is lowercased); returns its id.
  std::string add_record(std::string type, std::string name, std::string content,
                         bool proxied = false);
  /// Gives a live tunnel one more active connector, as a running cloudflared would; deleting the
  /// tunnel is then refused until its connections are deleted. False when the tunnel is unknown
  /// or deleted.
  bool simulate_connection(std::string_view tunnel_id);

  /// Answers the (skip + 1)-th next request whose method is `method` and whose path below the
  /// API base starts with `path_prefix` (e.g. "/zones/<zone>/dns_records") with `status` and an
  /// envelope carrying error `code`, without touching any state. Checked before authentication.
  /// Each call arms one failure; armed failures are matched in the order they were armed.
  void fail_next(boost::beast::http::verb method, std::string path_prefix, unsigned status,
                 std::int64_t code = 10001, std::size_t skip = 0);
  /// Requests routed so far (injected failures and refusals included).
  std::size_t request_count() const;
  /// Those requests as "METHOD /path" (below the API base, no query), in arrival order.
  std::vector<std::string> request_log() const;
  /// How many routed requests were `method` on exactly `path` (below the API base).
  std::size_t count_requests(boost::beast::http::verb method, std::string_view path) const;

  struct State;

 private:
  explicit FakeCloudflare(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace ee::test
