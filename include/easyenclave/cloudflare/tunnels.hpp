#pragma once
/// @file Cloudflare tunnels for agents: one named tunnel per agent, its ingress (on the agent's
/// hostname, the agent API's five paths to 127.0.0.1:8081 and every other path to the workload on
/// 127.0.0.1:8080; other hostnames 404) and a proxied CNAME
/// `<label>.<domain>` → `<tunnel_id>.cfargotunnel.com`, over the Cloudflare v4 API.
///
/// Every operation is idempotent by name: `ensure` finds the tunnel and the DNS record before
/// creating them, so an agent that re-registers (or a CP whose database was wiped) gets the same
/// tunnel back. When a later step fails, what this call created is deleted again.
#include <easyenclave/cloudflare/error.hpp>
#include <easyenclave/error.hpp>
#include <easyenclave/http/client.hpp>

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ee::cloudflare {

/// Account settings, from CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_ZONE_ID and
/// EE_DOMAIN in the programs.
struct Settings {
  std::string api_base = "https://api.cloudflare.com/client/v4";
  std::string api_token{};   ///< secret: sent as a bearer token, never logged
  std::string account_id{};
  std::string zone_id{};
  std::string domain{};      ///< the zone's domain, e.g. "example.com"
  /// Distinguishes the tunnels of several control planes on one account: tunnel names are
  /// "ee-<instance_id>-<label>". [a-z0-9-], 1-20 chars.
  std::string instance_id = "cp";
  /// Where ingress sends the agent's public traffic: the workload.
  std::string origin_service = "http://127.0.0.1:8080";
  /// Where ingress sends the agent API's own paths (`agent_api_path`), ahead of the workload: the
  /// CP reaches the agent, and clients fetch its attested health, through the same hostname.
  /// Empty: everything goes to `origin_service`.
  std::string agent_api_service = "http://127.0.0.1:8081";
  /// The agent API's routes, as a cloudflared ingress path regex; the workload keeps every other
  /// path, its own /api/... included.
  std::string agent_api_path = "^/api/(health|logs|stats|metrics|deploy|undeploy)$";
  http::RequestOptions request{};
  /// All of api_token, account_id, zone_id and domain are set.
  bool configured() const noexcept {
    return !api_token.empty() && !account_id.empty() && !zone_id.empty() && !domain.empty();
  }
};

/// An agent's tunnel as it exists at Cloudflare.
struct Tunnel {
  std::string id{};             ///< tunnel UUID
  std::string name{};           ///< "ee-<instance_id>-<label>"
  std::string hostname{};       ///< "<label>.<domain>"
  std::string dns_record_id{};
  std::string token{};          ///< secret: what `cloudflared tunnel run --token` needs
};

/// The DNS label for an agent: its vm_name lowercased with characters outside [a-z0-9-]
/// replaced by '-', trimmed of leading/trailing '-'; when that changed the name, is empty or
/// longer than 40 chars, or already ends in '-' and 8 hex chars (the hashed shape), it is
/// shortened to 31 chars (an empty one becomes "agent") and suffixed with '-' and 8 hex chars of
/// SHA-256(vm_name), so distinct vm_names share a label only by a SHA-256 prefix collision, never
/// by choosing another's hashed label as a name. At most 40 chars. Pure; never throws (except
/// bad_alloc).
std::string label_for(std::string_view vm_name);

/// What the control plane needs from a tunnel provider; the Cloudflare implementation is below,
/// tests substitute their own. Thread-safe.
class TunnelProvider {
 public:
  virtual ~TunnelProvider() = default;
  /// Creates or reuses the tunnel, ingress and DNS record for `label` and returns them with a
  /// fresh token. Idempotent.
  virtual boost::asio::awaitable<result<Tunnel>> ensure(std::string label) = 0;
  /// Deletes the DNS record (when `dns_record_id` is set), the tunnel's connections and the
  /// tunnel. Missing pieces count as deleted.
  virtual boost::asio::awaitable<result<void>> remove(Tunnel tunnel) = 0;
};

/// The Cloudflare v4 API calls the provider is made of. Each checks the HTTP status and
/// `"success": true` and maps failures: 401/403 → errc::unauthorized, other 4xx →
/// errc::api_error (with Cloudflare's error codes and messages in the detail), 5xx or an
/// unreadable body → errc::unavailable (a transport failure keeps its detail; a cancelled call
/// stays ee::errc::cancelled). Lists follow `result_info` pages to the end (at most 1000 pages,
/// errc::unavailable beyond). Every call first checks what it puts into the URL: the token and
/// `api_base` (an absolute http(s) URL), and the account or zone id it needs, give
/// errc::not_configured when unset or malformed; a tunnel or record id outside 1-64 of
/// [A-Za-z0-9-] gives errc::invalid_id, so no value can alter the request path. Query values are
/// percent-encoded. Error details carry Cloudflare's error codes and messages, never the token.
/// Never throws (except std::bad_alloc). Thread-safe; `http` must be thread-safe; the client
/// must outlive the calls it starts.
class Client {
 public:
  Client(std::shared_ptr<http::Client> http, Settings settings);

  struct TunnelInfo {
    std::string id{}, name{};
  };
  struct DnsRecord {
    std::string id{}, type{}, name{}, content{};
    bool proxied = false;
  };
  /// One ingress rule; an empty path matches every path.
  struct IngressRule {
    std::string hostname{}, path{}, service{};
  };

  /// GET /accounts/{account}/cfd_tunnel?name=…&is_deleted=false (paged).
  boost::asio::awaitable<result<std::vector<TunnelInfo>>> find_tunnels(std::string name) const;
  /// POST /accounts/{account}/cfd_tunnel {"name","config_src":"cloudflare"}.
  /// errc::record_exists when an active tunnel of that name exists (code 1013).
  boost::asio::awaitable<result<TunnelInfo>> create_tunnel(std::string name) const;
  /// GET /accounts/{account}/cfd_tunnel/{id}/token.
  boost::asio::awaitable<result<std::string>> tunnel_token(std::string tunnel_id) const;
  /// PUT /accounts/{account}/cfd_tunnel/{id}/configurations: `rules` in order, then the
  /// catch-all `http_status:404` (cloudflared requires a last rule that matches everything).
  boost::asio::awaitable<result<void>> put_ingress(std::string tunnel_id, std::vector<IngressRule> rules) const;
  /// DELETE /accounts/{account}/cfd_tunnel/{id}/connections. errc::not_found when the tunnel is
  /// absent.
  boost::asio::awaitable<result<void>> delete_connections(std::string tunnel_id) const;
  /// DELETE /accounts/{account}/cfd_tunnel/{id}. errc::not_found when absent.
  boost::asio::awaitable<result<void>> delete_tunnel(std::string tunnel_id) const;
  /// GET /zones/{zone}/dns_records?type=CNAME&name=… (paged).
  boost::asio::awaitable<result<std::vector<DnsRecord>>> find_cnames(std::string name) const;
  /// POST /zones/{zone}/dns_records, proxied CNAME. errc::record_exists when Cloudflare says
  /// the record already exists (code 81053/81057).
  boost::asio::awaitable<result<DnsRecord>> create_cname(std::string name, std::string target) const;
  /// PUT /zones/{zone}/dns_records/{id}: overwrites the record with a proxied CNAME `name` →
  /// `target`. errc::not_found when absent.
  boost::asio::awaitable<result<DnsRecord>> update_cname(std::string record_id, std::string name,
                                                         std::string target) const;
  /// DELETE /zones/{zone}/dns_records/{id}. errc::not_found when absent.
  boost::asio::awaitable<result<void>> delete_dns_record(std::string record_id) const;

  Settings const& settings() const noexcept { return settings_; }

 private:
  std::shared_ptr<http::Client> http_;
  Settings settings_;
};

/// The Cloudflare TunnelProvider. `settings.configured()` must hold (errc::not_configured
/// from every call otherwise).
std::shared_ptr<TunnelProvider> make_cloudflare_tunnels(std::shared_ptr<http::Client> http,
                                                        Settings settings);

}  // namespace ee::cloudflare
