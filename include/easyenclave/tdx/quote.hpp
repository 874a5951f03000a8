#pragma once
/// @file TDX quote v4/v5 parsing. No I/O, no clock, no globals: a structural parse whose result
/// the verifier (verify.hpp) checks. Layout: Intel TDX DCAP Quoting Library API, appendix A
/// ("Quote Format"), v4 and v5; offsets in src/tdx/quote_layout.hpp.
#include <easyenclave/error.hpp>
#include <easyenclave/tdx/error.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace ee::tdx {

using Bytes16 = std::array<std::uint8_t, 16>;
using Bytes8 = std::array<std::uint8_t, 8>;
/// A SHA-384 measurement register (MRTD, RTMRs, MRSEAM, ...).
using Measurement = std::array<std::uint8_t, 48>;
using ReportData = std::array<std::uint8_t, 64>;
/// Raw P-256 values: a public key x‖y or a signature r‖s, 32 bytes each half.
using P256Raw = std::array<std::uint8_t, 64>;

inline constexpr std::uint32_t kTeeTypeTdx = 0x81;
inline constexpr std::uint16_t kAttestationKeyEcdsaP256 = 2;

/// The 48-byte quote header.
struct QuoteHeader {
  std::uint16_t version = 0;
  std::uint16_t attestation_key_type = 0;
  std::uint32_t tee_type = 0;
  /// Reserved (zero) in TDX quotes; SGX quotes carry QE and PCE SVNs here.
  std::uint16_t qe_svn = 0;
  std::uint16_t pce_svn = 0;
  Bytes16 qe_vendor_id{};
  std::array<std::uint8_t, 20> user_data{};
};

/// The TD report body: TD 1.0 (584 bytes) or TD 1.5 (648 bytes, two extra fields). Fields in
/// wire order.
struct TdReport {
  Bytes16 tee_tcb_svn{};
  Measurement mr_seam{};
  Measurement mr_signer_seam{};
  Bytes8 seam_attributes{};
  Bytes8 td_attributes{};
  Bytes8 xfam{};
  Measurement mr_td{};
  Measurement mr_config_id{};
  Measurement mr_owner{};
  Measurement mr_owner_config{};
  std::array<Measurement, 4> rtmr{};
  ReportData report_data{};
  /// TD 1.5 only (zero for TD 1.0).
  Bytes16 tee_tcb_svn2{};
  /// TD 1.5 only (zero for TD 1.0).
  Measurement mr_servicetd{};
  bool is_td15 = false;

  /// TDATTRIBUTES bit 0: the TD runs in debug mode (its memory is readable by the host).
  bool debug() const noexcept { return (td_attributes[0] & 0x01) != 0; }
  /// TDATTRIBUTES bit 28: SEPT #VE disabled (the guest cannot be fed EPT violations as #VE).
  bool sept_ve_disable() const noexcept { return (td_attributes[3] & 0x10) != 0; }
};

/// The 384-byte SGX enclave report of the Quoting Enclave (QE), signed by the PCK key.
struct EnclaveReport {
  Bytes16 cpu_svn{};
  std::uint32_t misc_select = 0;
  Bytes16 attributes{};
  std::array<std::uint8_t, 32> mr_enclave{};
  std::array<std::uint8_t, 32> mr_signer{};
  std::uint16_t isv_prod_id = 0;
  std::uint16_t isv_svn = 0;
  ReportData report_data{};
};

/// A parsed quote. Owns a copy of its bytes; every span it returns points into that copy and is
/// valid as long as the Quote (moves keep the spans valid: the buffer moves with it). Immutable
/// and thread-safe after parsing.
class Quote {
 public:
  std::uint16_t version() const noexcept { return header_.version; }
  QuoteHeader const& header() const noexcept { return header_; }
  /// 2 (TD report 1.0) or 3 (TD report 1.5); v4 quotes always carry 2.
  std::uint16_t body_type() const noexcept { return body_type_; }
  TdReport const& td_report() const noexcept { return report_; }

  /// The bytes the attestation key signs: header ‖ (v5 body descriptor) ‖ body.
  std::span<std::uint8_t const> signed_bytes() const noexcept { return span(0, signed_len_); }
  /// ECDSA P-256 signature r‖s over `signed_bytes()`.
  P256Raw const& signature() const noexcept { return signature_; }
  /// The attestation key x‖y (its hash is bound into the QE report data).
  P256Raw const& attestation_key() const noexcept { return attestation_key_; }

  EnclaveReport const& qe_report() const noexcept { return qe_report_; }
  /// The raw 384-byte QE report, the message the PCK key signs.
  std::span<std::uint8_t const> qe_report_bytes() const noexcept { return span(qe_report_offset_, 384); }
  P256Raw const& qe_report_signature() const noexcept { return qe_report_signature_; }
  std::span<std::uint8_t const> qe_auth_data() const noexcept { return span(auth_offset_, auth_len_); }
  /// The PCK certificate chain (certification data type 5) as carried: PEM, leaf first, possibly
  /// NUL-terminated.
  std::span<std::uint8_t const> pck_chain_pem() const noexcept { return span(pck_offset_, pck_len_); }
  /// Bytes after the signature data (some producers pad or append); kept, never interpreted.
  std::span<std::uint8_t const> trailing_bytes() const noexcept {
    return span(end_of_signature_data_, raw_.size() - end_of_signature_data_);
  }
  /// The whole quote as given to parse_quote.
  std::span<std::uint8_t const> raw() const noexcept { return raw_; }

 private:
  friend result<Quote> parse_quote(std::span<std::uint8_t const>);
  std::span<std::uint8_t const> span(std::size_t offset, std::size_t length) const noexcept {
    return std::span<std::uint8_t const>(raw_).subspan(offset, length);
  }

  std::vector<std::uint8_t> raw_{};
  QuoteHeader header_{};
  std::uint16_t body_type_ = 0;
  TdReport report_{};
  P256Raw signature_{};
  P256Raw attestation_key_{};
  EnclaveReport qe_report_{};
  P256Raw qe_report_signature_{};
  std::size_t signed_len_ = 0;
  std::size_t qe_report_offset_ = 0;
  std::size_t auth_offset_ = 0, auth_len_ = 0;
  std::size_t pck_offset_ = 0, pck_len_ = 0;
  std::size_t end_of_signature_data_ = 0;
};

/// Structural parse of a TDX quote, v4 or v5. Checks every declared length against the input and
/// against each other; never reads past `bytes`, which need not outlive the call. Does not check
/// any signature (see verify.hpp).
/// @returns the Quote, or a tdx::errc that says which structure is malformed: quote_truncated,
///          unsupported_version, not_a_td_quote (SGX quotes, with a message saying so),
///          unsupported_attestation_key_type, unsupported_body_type, body_size_mismatch,
///          unsupported_certification_data, malformed_signature_data. Never throws (except
///          bad_alloc).
[[nodiscard]] result<Quote> parse_quote(std::span<std::uint8_t const> bytes);

}  // namespace ee::tdx
