#pragma once
// Attesting the control plane before trusting its key (cp_trust.cpp; the checks are listed at
// agent::CpAttestationPolicy in runtime.hpp).
#include <easyenclave/agent/runtime.hpp>
#include <easyenclave/api/signing.hpp>
#include <easyenclave/error.hpp>
#include <easyenclave/http/client.hpp>
#include <easyenclave/jwt/ita.hpp>
#include <easyenclave/jwt/jwks_cache.hpp>
#include <easyenclave/tdx/verify.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace ee::agent::detail {

/// A control plane whose key passed the policy.
struct AttestedCp {
  api::PublicKey key;
  tdx::Measurement mrtd{};
};

/// Thread-safe: `attest` may run on any executor; the collateral fetcher and JWKS cache it uses
/// are thread-safe.
class CpVerifier {
 public:
  /// `policy.policy.allowed_mrtds` must not be empty (checked by the runtime's start).
  CpVerifier(std::shared_ptr<http::Client> http, CpAttestationPolicy policy, std::string cp_url,
             std::chrono::milliseconds call_timeout,
             std::function<std::chrono::system_clock::time_point()> now);

  /// Asks the CP for its attestation over a fresh random nonce and checks it.
  /// @returns the attested key and MRTD; agent::errc::cp_unavailable when the CP could not be
  ///          asked (transport, non-200); agent::errc::cp_not_attested naming the check that
  ///          failed (evidence, appraisal, nonce binding, key binding, policy). Never throws
  ///          (except bad_alloc). The verifier must outlive the returned awaitable.
  boost::asio::awaitable<result<AttestedCp>> attest() const;

 private:
  boost::asio::awaitable<result<tdx::Verdict>> appraise(std::vector<std::uint8_t> raw) const;

  std::shared_ptr<http::Client> http_;
  CpAttestationPolicy policy_;
  std::string cp_url_;
  std::chrono::milliseconds call_timeout_;
  std::function<std::chrono::system_clock::time_point()> now_;
  tdx::Verifier verifier_;
  std::shared_ptr<tdx::CollateralFetcher> fetcher_;
  std::optional<jwt::ItaClient> ita_;
  std::unique_ptr<jwt::JwksCache> ita_keys_;
};

}  // namespace ee::agent::detail
