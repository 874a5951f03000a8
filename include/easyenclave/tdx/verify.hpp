#pragma once
/// @file DCAP verification of a parsed TDX quote, with no I/O: every input, the trusted root and
/// the clock included, is a parameter (as Intel's QVL takes `expirationCheckDate`).
///
/// The result is a Verdict value. An error from `verify` means "could not verify" (malformed
/// inputs the verdict cannot describe); a verdict records every step with pass/fail and a reason,
/// and `accepted()` is false when any step failed. Whether an accepted verdict is good enough
/// (TCB status, debug TDs, measurements) is for `tdx::Policy` (policy.hpp) to judge.
#include <easyenclave/error.hpp>
#include <easyenclave/tdx/collateral.hpp>
#include <easyenclave/tdx/quote.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ee::tdx {

/// A pinned trust anchor: the Intel SGX Root CA (or, only where explicitly configured, the
/// simulator's test root). The root inside a quote is never trusted; it must equal this one.
///
/// A PCK chain is trusted when its last certificate is byte-identical to this root, or has the
/// same subject and public key and a signature that verifies with it (a re-issued root). Cheap
/// to copy (copies share the parsed certificate); immutable and thread-safe.
class TrustedRoot {
 public:
  /// Parses one certificate (PEM or DER); `pem_or_der` need not outlive the call.
  /// tdx::errc::bad_certificate when it does not parse. Never throws (except bad_alloc).
  static result<TrustedRoot> from_certificate(std::span<std::uint8_t const> pem_or_der);
  /// Reads and parses a certificate file. core errc::io_error when unreadable.
  static result<TrustedRoot> from_file(std::filesystem::path const& path);
  /// The Intel SGX Root CA, embedded (SHA-256 of its DER:
  /// 44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3).
  static TrustedRoot intel_sgx_root_ca();
  /// SHA-256 of the root certificate's DER, lower-case hex.
  std::string fingerprint() const;
  /// The root certificate's subject common name ("Intel SGX Root CA", "EE Simulator Root CA").
  /// Used by start-up checks that refuse test roots in production.
  std::string common_name() const;

  struct State;  // parsed certificate, shared by copies
  std::shared_ptr<State const> state() const noexcept { return state_; }

 private:
  explicit TrustedRoot(std::shared_ptr<State const> state) : state_(std::move(state)) {}
  std::shared_ptr<State const> state_;
};

/// The decoded Intel SGX PCK certificate extension (OID 1.2.840.113741.1.13.1).
struct PckExtension {
  std::array<std::uint8_t, 16> ppid{};
  std::array<std::uint8_t, 16> cpu_svn{};
  std::array<std::uint8_t, 16> sgx_components{};
  std::uint16_t pce_svn = 0;
  std::array<std::uint8_t, 2> pce_id{};
  std::array<std::uint8_t, 6> fmspc{};
  int sgx_type = 0;  ///< 0 Standard, 1 Scalable, 2 ScalableWithIntegrity
};

/// One verification step, in the order they ran. Names, in order: "quote_signature",
/// "pck_chain" (structure, signatures, root pinning, then every certificate's validity),
/// "qe_report_signature", "qe_report_binding", "pck_extension"; with collateral also
/// "root_ca_crl", "tcb_info", "qe_identity", "pck_crl" (each: issuer chain, revocation by the
/// root CA CRL, signature, validity windows), "pck_revocation", "fmspc", "qe_tcb",
/// "tdx_module", "tcb_level", "tcb_status". Verification stops at the first failed step (every
/// later step depends on it), so the failed step is the last one recorded.
struct VerificationStep {
  std::string name{};    ///< stable: "quote_signature", "pck_chain", "tcb_level", ...
  bool passed = false;
  std::string detail{};  ///< why it failed, or what it established
};

/// The outcome of a verification. A value, not an error: `accepted()` false with `error` set says
/// why the quote is not trusted.
struct Verdict {
  /// True when every step passed. Offline verification can be accepted with status unknown.
  bool accepted() const noexcept;
  /// The first failed step, or nullptr.
  VerificationStep const* first_failure() const noexcept;

  bool offline = false;  ///< no collateral: signatures, binding and chain only
  /// The converged status (platform level, TDX module, QE); unknown offline or on failure.
  TcbStatus tcb_status = TcbStatus::unknown;
  /// Advisories of the matched platform level, TDX module level and QE level, without repeats.
  std::vector<std::string> advisory_ids{};
  /// tcbDate of the matched platform TCB level.
  TimePoint tcb_date{};
  std::array<std::uint8_t, 6> fmspc{};
  /// The PCK certificate's SGX extension (set once the "pck_extension" step passed).
  PckExtension pck{};
  TdReport td_report{};  ///< copied from the quote: the measurements that were verified
  TimePoint checked_at{};
  /// Earliest nextUpdate among TCB info, QE identity, PCK CRL and root CA CRL (collateral
  /// freshness for policies); set once the collateral steps passed.
  TimePoint collateral_expires_at{};
  /// Latest issueDate/thisUpdate among the same items.
  TimePoint collateral_issued_at{};
  std::vector<VerificationStep> steps{};
  /// The tdx::errc of the first failure (for exit codes and API errors), success if accepted.
  Error error{};
};

struct VerifyOptions {
  TrustedRoot root = TrustedRoot::intel_sgx_root_ca();
  /// The check time for every certificate, CRL and collateral window (QVL's
  /// expirationCheckDate). Before an item's start gives *_not_yet_valid, after its end *_expired.
  TimePoint now{};
};

/// Verifies `quote` against `collateral` (nullptr: offline mode), trusting only `options.root`
/// at `options.now`. Steps: quote signature with the attestation key; PCK chain to the pinned
/// root; QE report signature with the PCK key; QE report data binding; PCK extension; and with
/// collateral: CRLs and revocation, TCB info and QE identity signatures, issuer chains and
/// validity windows, FMSPC / PCE-ID match, QE identity, TDX module identity, TCB level (a quote
/// that matches no level fails with tdx::errc::tcb_level_not_supported) and the combined status.
/// Failures are recorded in the Verdict (see VerificationStep) with these tdx::errc in
/// Verdict::error: bad_quote_signature; bad_certificate, pck_chain_untrusted,
/// certificate_expired, certificate_not_yet_valid; bad_qe_report_signature,
/// qe_report_binding_mismatch; pck_extension_malformed; malformed_collateral,
/// collateral_chain_untrusted, bad_collateral_signature, crl_issuer_mismatch,
/// certificate_revoked, collateral_expired, collateral_not_yet_valid, collateral_mismatch;
/// fmspc_mismatch, qe_identity_mismatch, tdx_module_mismatch, tcb_level_not_supported.
/// No I/O. `quote` and `collateral` are only read during the call.
/// @returns a Verdict (check `accepted()`); the result carries no error today, the channel is
///          kept for inputs a future version cannot examine. Thread-safe; never throws (except
///          bad_alloc).
result<Verdict> verify(Quote const& quote, Collateral const* collateral,
                       VerifyOptions const& options);

struct VerifierOptions {
  /// Remember QE reports whose PCK signature verified (keyed by the chain's digest, the report
  /// and the signature bytes), so a platform seen before costs one ECDSA verification per quote.
  /// Off: two, as tdx::verify (benchmarks compare both).
  bool cache_qe_reports = true;
};

/// The same verification with caches for what does not change between quotes: parsed and
/// verified PCK chains (keyed by the chain bytes, reused only inside the chain's validity window)
/// and verified collateral (keyed by the Collateral object, reused only inside its window). With
/// both cached, verifying a quote of a new platform costs its two ECDSA verifications (quote and
/// QE report) plus parsing. Cache entries that failed or are outside their window at the call's `now` are never
/// stored or reused: such calls take the uncached path and report the precise failure. The
/// collateral cache holds a weak reference to each Collateral and at most 64 entries; the chain
/// cache at most 1024 chains. What a platform's quoting enclave repeats is remembered too: its
/// attestation key (by its 64 bytes) and, unless VerifierOptions says otherwise, its QE report
/// verified with a cached chain's PCK key (by the exact bytes of chain digest, report and
/// signature), at most 4 096 of each; a quote of a platform seen before then costs one ECDSA
/// verification. Verdicts are the same as tdx::verify's. Thread-safe; cheap to copy (copies
/// share the caches).
class Verifier {
 public:
  explicit Verifier(TrustedRoot root = TrustedRoot::intel_sgx_root_ca(), VerifierOptions options = {});
  /// As `tdx::verify`; `collateral` may be null (offline mode).
  result<Verdict> verify(Quote const& quote, std::shared_ptr<Collateral const> const& collateral,
                         TimePoint now) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ee::tdx
