#pragma once
/// @file Fetching TDX collateral from Intel PCS API v4 (or a PCCS, which serves the same paths)
/// through the `http::Client` seam, with a per-platform cache that honours `nextUpdate`.
///
/// One fetch is four GETs (Intel SGX and TDX DCAP PCS API v4); the first three carry their issuer
/// chain URL-encoded in the response header named after the `;`:
///   {api_base}/tdx/certification/v4/tcb?fmspc={hex}          TCB info; TCB-Info-Issuer-Chain
///   {api_base}/tdx/certification/v4/qe/identity              TD QE identity;
///                                                            SGX-Enclave-Identity-Issuer-Chain
///   {api_base}/sgx/certification/v4/pckcrl?ca={ca}&encoding=der   PCK CRL (DER);
///                                                            SGX-PCK-CRL-Issuer-Chain
///   {root_ca_crl_url}                                        Intel SGX Root CA CRL (DER)
/// The result is assembled with `collateral_from_pcs`; nothing is verified here (that is
/// `tdx::verify`'s job, at the caller's clock), so a fetched Collateral is only as trustworthy as
/// its signatures, which the verifier checks against the pinned root.
#include <easyenclave/error.hpp>
#include <easyenclave/http/client.hpp>
#include <easyenclave/tdx/collateral.hpp>
#include <easyenclave/tdx/quote.hpp>

#include <boost/asio/awaitable.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace ee::tdx {

/// The CA that issued a PCK certificate; it selects the PCK CRL (`ca=platform|processor`).
enum class PckCaType {
  platform,   ///< "Intel SGX PCK Platform CA" (multi-package platforms, all TDX servers so far)
  processor,  ///< "Intel SGX PCK Processor CA"
};
/// "platform" or "processor": the spelling of PCS's `ca` query parameter.
std::string_view to_string(PckCaType ca) noexcept;

/// What collateral a quote needs: its platform's FMSPC and the CA of its PCK certificate.
struct CollateralKey {
  std::array<std::uint8_t, 6> fmspc{};
  PckCaType ca = PckCaType::platform;
};

/// Reads the key from the PCK leaf certificate carried in `quote`: FMSPC from its SGX extension,
/// the CA type from its issuer's common name ("... PCK Platform CA" / "... PCK Processor CA").
/// Only parses; the chain is not verified (the verifier does that with the fetched collateral).
/// @returns tdx::errc::bad_certificate when the chain does not parse or the issuer is neither
///          CA; tdx::errc::pck_extension_malformed when the SGX extension is.
///          Thread-safe; never throws (except bad_alloc).
result<CollateralKey> collateral_key_of(Quote const& quote);

struct FetcherOptions {
  /// Intel PCS. A PCCS base ("https://pccs:8081") works the same: it serves the same v4 paths.
  std::string api_base = "https://api.trustedservices.intel.com";
  /// Sent as `Ocp-Apim-Subscription-Key` to `api_base` only (never to `root_ca_crl_url`'s
  /// host); PCS does not require it for TDX v4 collateral. Never logged.
  std::string api_key{};
  /// Where the Intel SGX Root CA CRL (DER) is published.
  std::string root_ca_crl_url =
      "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";
  /// Take the root CA CRL from `{api_base}/sgx/certification/v4/rootcacrl` instead (a PCCS
  /// serves it there, as hex-encoded DER; raw DER is accepted too).
  bool root_ca_crl_from_api = false;
  /// A cached copy is refreshed once `now + refresh_margin` reaches its expiry, so callers never
  /// receive collateral about to expire while a newer one is published.
  std::chrono::seconds refresh_margin{std::chrono::hours{24}};
  /// After a refresh that failed (or brought collateral expiring as soon) while the cached copy
  /// is still valid, the copy is served for this long before the next attempt, so an outage does
  /// not turn every call into four requests.
  std::chrono::seconds retry_interval{std::chrono::minutes{5}};
  /// Timeout and size cap of every request.
  http::RequestOptions request{};
  /// The clock for expiry decisions; empty means `std::chrono::system_clock::now`. Injected by
  /// tests; must be thread-safe.
  std::function<TimePoint()> now{};
};

/// Fetches and caches collateral per (FMSPC, PCK CA type).
///
/// Cache: an entry is served while `now + refresh_margin < expiry`, where expiry is the earliest
/// nextUpdate of its TCB info, QE identity, PCK CRL and root CA CRL (`collateral_window`). Past
/// that it is refetched; if the refetch fails, the cached copy is still served while it has not
/// expired (`now < expiry`), else the error is returned. Concurrent fetches of one key make one
/// set of requests (single flight): the others wait for its outcome. Every caller of a key gets
/// the same `shared_ptr` until a refetch replaces it, which lets `tdx::Verifier` reuse its
/// verified-collateral cache.
///
/// A failed fetch is not cached (the map holds only platforms that have collateral), so every
/// call for an unknown FMSPC costs a request: take the key from a quote whose PCK chain already
/// verified offline, not from untrusted input.
///
/// Thread-safe: one fetcher may serve coroutines on any executors and threads; copies share the
/// cache and the client. The client and options are fixed at construction. A caller waiting on
/// another's fetch keeps outstanding work on its executor (so `block_on` and `io_context::run`
/// do not return under it); do not stop or destroy that context until the fetch completes.
class CollateralFetcher {
 public:
  /// `client` must not be null; it is shared, and kept alive by every copy and every pending
  /// fetch.
  CollateralFetcher(std::shared_ptr<http::Client> client, FetcherOptions options = {});

  /// The collateral for `fmspc` whose PCK CRL is that of `ca`.
  /// @returns the collateral (structurally checked by `collateral_from_pcs`, signatures not yet
  ///          verified), from the cache or freshly fetched. Errors:
  ///          tdx::errc::collateral_not_found (condition not_found) when PCS answers 404 for the
  ///          FMSPC; tdx::errc::collateral_fetch_failed (upstream_failure) for any other non-200
  ///          status, a missing or badly percent-encoded issuer-chain header, or a TCB info for
  ///          another FMSPC; http::errc transport errors (timeout, connect_failed, ...) with the
  ///          URL in the message; the errors of `collateral_from_pcs` (malformed_collateral,
  ///          bad_certificate, ...) for a body that does not parse; core errc::cancelled for a
  ///          waiter whose single-flight leader was destroyed before finishing. Messages name
  ///          the URL without query or credentials. Never throws (except bad_alloc).
  ///          The coroutine keeps the fetcher's shared state alive; nothing is borrowed.
  boost::asio::awaitable<result<std::shared_ptr<Collateral const>>> fetch(
      std::array<std::uint8_t, 6> fmspc, PckCaType ca) const;
  /// `fetch` for the key of `quote` (`collateral_key_of`); `quote` is read before the first
  /// suspension only, so it need not outlive the returned awaitable's start.
  /// @returns the errors of `collateral_key_of` and `fetch`.
  boost::asio::awaitable<result<std::shared_ptr<Collateral const>>> fetch_for_quote(
      Quote const& quote) const;

  struct Impl;  // the shared cache and client (src/tdx/fetcher.cpp)

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace ee::tdx
