#pragma once
// What the control plane's registration uses of the Cloudflare provider beyond the public
// TunnelProvider interface: creating a new agent's pieces without looking them up first.
// A first registration's label has most likely no tunnel and no CNAME yet, and each lookup is an
// API call: creating first and looking only when Cloudflare refuses the create as a duplicate
// takes 3 calls instead of 6 (create tunnel, whose answer carries the token; ingress; create
// CNAME) and gives the same pieces as TunnelProvider::ensure.
#include <easyenclave/cloudflare/tunnels.hpp>

#include <memory>
#include <string>

namespace ee::cloudflare {

/// TunnelProvider::ensure for a label the caller has no record of. On a provider made by
/// make_cloudflare_tunnels: creates the tunnel and the CNAME before anything is looked up, and
/// on a duplicate (code 1013, 81053/81057/81058) finds and adopts (or corrects) what exists, as
/// ensure does; what this call created is rolled back on a later failure. On any other provider:
/// its ensure.
boost::asio::awaitable<result<Tunnel>> ensure_new(std::shared_ptr<TunnelProvider> provider, std::string label);

/// What Client::create_tunnel sends, with the token of Cloudflare's answer ("result.token",
/// documented with POST /accounts/{account}/cfd_tunnel; empty when the answer has none).
struct CreatedTunnel {
  Client::TunnelInfo info{};
  std::string token{};  ///< secret
};
/// Checks and errors as Client's; `http` as the Client's.
boost::asio::awaitable<result<CreatedTunnel>> create_tunnel_with_token(http::Client& http, Settings const& settings,
                                                                       std::string name);

}  // namespace ee::cloudflare
