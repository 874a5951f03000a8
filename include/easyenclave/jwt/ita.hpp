#pragma once
/// @file Intel Trust Authority (ITA): the appraisal client (quote in, attestation token out) and
/// the verification of ITA attestation tokens into the same `tdx::Appraisal` the local DCAP
/// path produces.
///
/// ITA API (Intel Trust Authority REST API, "Attestation" and "Nonce" operations):
///  - v1: `POST {base}/appraisal/v1/attest`, headers `x-api-key`, `Accept: application/json`,
///    body `{"quote": "<base64>"}`, answer `{"token": "<JWT>"}`.
///  - v2: `GET {base}/appraisal/v2/nonce` answers `{"val","iat","signature"}` (base64 strings);
///    `POST {base}/appraisal/v2/attest` with composite evidence `{"tdx": {"quote", "verifier_nonce",
///    "runtime_data"}, "token_signing_alg": "PS384"}` (the shape Intel's own client sends)
///    answers `{"token"}`. The TD binds the nonce by putting SHA-512(val || iat || runtime_data)
///    into REPORTDATA.
/// Tokens are PS384-signed JWTs (RS256 is listed in the key set too) whose key set is served at
/// `https://portal.trustauthority.intel.com/certs`.
#include <easyenclave/error.hpp>
#include <easyenclave/http/client.hpp>
#include <easyenclave/jwt/error.hpp>
#include <easyenclave/jwt/token.hpp>
#include <easyenclave/tdx/appraisal.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ee::jwt {

/// Where Intel publishes the production token signing keys (configuration, never token input).
inline constexpr std::string_view kItaJwksUrl = "https://portal.trustauthority.intel.com/certs";
/// The production API base.
inline constexpr std::string_view kItaApiBase = "https://api.trustauthority.intel.com";

/// How ITA tokens are verified. Defaults are Intel's production values.
struct ItaVerifyOptions {
  std::vector<Algorithm> algorithms{Algorithm::ps384, Algorithm::rs256};
  std::vector<std::string> issuers{"Intel Trust Authority", "https://portal.trustauthority.intel.com"};
  /// ITA tokens carry no `aud` by default; set this only if your ITA policy adds one.
  std::optional<std::string> audience{};
  std::chrono::seconds leeway{120};
  /// The ITA root (for example "Intel Trust Authority Root CA") to check each key's x5c against.
  std::optional<CertificateRoot> x5c_root{};
  /// Refuse (report_data_mismatch) a token whose report data is not SHA-512(nonce.val ||
  /// nonce.iat || held or runtime data), or that has no verifier nonce. Leave off when the TD
  /// lays out REPORTDATA itself (easyenclave's own nonce || key-hash layout).
  bool require_nonce_binding = false;
};

/// A verifier nonce (ITA v2 `GET /appraisal/v2/nonce`, and the token's `verifier_nonce`): the
/// base64 strings exactly as ITA serves them, to be passed back unchanged.
struct ItaNonce {
  std::string val{};
  std::string iat{};
  std::string signature{};
};

/// A verified ITA token, with its TDX claims turned into an Appraisal.
struct ItaToken {
  /// appraised_by = intel_trust_authority; appraised_at = iat; valid_until = exp.
  tdx::Appraisal appraisal{};
  /// The nonce the token says ITA issued (absent when attested without one).
  std::optional<ItaNonce> verifier_nonce{};
  /// `attester_held_data` (v1 API) or `attester_runtime_data` (v2, when a base64 string),
  /// decoded: the data the TD bound into REPORTDATA with the nonce.
  std::vector<std::uint8_t> user_data{};
  /// `policy_ids_matched` ids, when ITA appraised against policies.
  std::vector<std::string> policy_ids_matched{};
  /// The verified token (header, all claims).
  Token token{};

  /// True when report data == SHA-512(nonce.val || nonce.iat || user_data) (decoded bytes),
  /// the binding ITA's client libraries use. False without a verifier nonce.
  bool nonce_binding_holds() const;
};

/// SHA-512(val || iat || user_data) as the 64 bytes of REPORTDATA (ITA's nonce binding).
/// Never throws (except bad_alloc).
tdx::ReportData ita_report_data(std::span<std::uint8_t const> nonce_val,
                                std::span<std::uint8_t const> nonce_iat,
                                std::span<std::uint8_t const> user_data);

/// Verifies an ITA token (`jwt::verify` with `options`) and reads its TDX claims, at the top
/// level (v1 appraisal API) or under a `tdx` object (v2): `tdx_mrtd`, `tdx_rtmr0..3`,
/// `tdx_report_data` (required), `tdx_td_attributes`, `tdx_xfam`, `tdx_tee_tcb_svn`,
/// `tdx_mrseam`, `tdx_mrsignerseam`, `tdx_mrconfigid`, `tdx_mrowner`, `tdx_mrownerconfig`
/// (zero when absent), `attester_type` ("TDX" when present), `attester_tcb_status` (required,
/// Intel's spelling), `attester_tcb_date` (RFC 3339), `attester_advisory_ids`,
/// `verifier_nonce`, `attester_held_data` / `attester_runtime_data`, `policy_ids_matched`.
/// No I/O. Inputs are only read during the call.
/// @returns the ItaToken, the errors of `jwt::verify`, missing_claim / invalid_claim naming the
///          claim (hex of the wrong size, unknown TCB status, ...), or report_data_mismatch when
///          `require_nonce_binding` is set and the binding fails. Thread-safe; never throws
///          (except bad_alloc).
result<ItaToken> verify_ita_token(std::string_view compact, KeySet const& keys,
                                  ItaVerifyOptions const& options, TimePoint now);

/// Normalises a configured ITA base URL: trailing slashes and a trailing `/appraisal/v1`,
/// `/appraisal/v1/attest`, `/appraisal/v2`, `/appraisal/v2/attest` or `/appraisal/v2/nonce` are
/// removed, so every documented way of writing it gives the same base.
/// @returns the base ("https://api.trustauthority.intel.com"), or jwt::errc::bad_url when it is
///          not an absolute http(s) URL. Never throws (except bad_alloc).
result<std::string> normalize_ita_base_url(std::string_view url);

struct ItaClientOptions {
  /// Any form normalize_ita_base_url accepts.
  std::string base_url{kItaApiBase};
  /// Sent as `x-api-key`; never logged.
  std::string api_key{};
  http::RequestOptions request{std::chrono::seconds(30)};
};

/// The ITA appraisal client over an injected `http::Client`. Thread-safe: one client may serve
/// concurrent coroutines. Never logs the API key, quotes or tokens.
class ItaClient {
 public:
  ItaClient(std::shared_ptr<http::Client> http, ItaClientOptions options);

  /// The normalised base URL ("" when the configured one is invalid; every call then fails
  /// with bad_url).
  std::string const& base_url() const noexcept { return base_; }

  /// v1: appraises `quote` and returns the token (verify it with verify_ita_token).
  /// @returns the token text; jwt::errc::ita_rejected_request for a 4xx other than 401/403 (a
  ///          bad quote), ita_failed for 401/403 (API key refused), 5xx, other statuses or a body
  ///          without a string `token`; http::errc transport errors; bad_url. Never throws
  ///          (except bad_alloc).
  boost::asio::awaitable<result<std::string>> attest(std::vector<std::uint8_t> quote) const;

  /// v2: a fresh verifier nonce. Errors as `attest`.
  boost::asio::awaitable<result<ItaNonce>> nonce() const;

  /// v2: appraises `quote` that binds `nonce` and `runtime_data` (REPORTDATA =
  /// ita_report_data(val, iat, runtime_data)). Errors as `attest`.
  boost::asio::awaitable<result<std::string>> attest(std::vector<std::uint8_t> quote, ItaNonce nonce,
                                                     std::vector<std::uint8_t> runtime_data) const;

 private:
  std::shared_ptr<http::Client> http_;
  ItaClientOptions options_;
  std::string base_;
};

}  // namespace ee::jwt
