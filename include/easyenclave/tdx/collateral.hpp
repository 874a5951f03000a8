#pragma once
/// @file Intel DCAP collateral for TDX quote verification: TCB info, QE identity, CRLs and their
/// issuer chains. Loading parses and keeps the exact signed bytes; verification (verify.hpp)
/// checks the signatures. No I/O here except the explicit file loader.
#include <easyenclave/error.hpp>
#include <easyenclave/tdx/quote.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ee::tdx {

using TimePoint = std::chrono::system_clock::time_point;

/// Intel's TCB status strings, as an enum. Ordered from best to worst only for readability; the
/// verifier never compares them numerically.
enum class TcbStatus {
  unknown = 0,                          ///< not evaluated (offline verification)
  up_to_date,                           ///< "UpToDate"
  sw_hardening_needed,                  ///< "SWHardeningNeeded"
  configuration_needed,                 ///< "ConfigurationNeeded"
  configuration_and_sw_hardening_needed,///< "ConfigurationAndSWHardeningNeeded"
  out_of_date,                          ///< "OutOfDate"
  out_of_date_configuration_needed,     ///< "OutOfDateConfigurationNeeded"
  revoked,                              ///< "Revoked"
};
/// Intel's spelling ("UpToDate", ...); "Unknown" for unknown.
std::string_view to_string(TcbStatus status) noexcept;
/// Parses Intel's spelling; nullopt for anything else, "Unknown" included (Intel never
/// publishes it, so collateral that says it is malformed).
std::optional<TcbStatus> parse_tcb_status(std::string_view text) noexcept;
/// Parses any status `to_string` prints, "Unknown" included: for allow-lists (`ee quote verify
/// --allow-tcb`, Python policies), which must be able to name every status a verdict can show.
/// @returns the status, or core errc::invalid_value whose message lists the accepted names.
///          Never throws (except bad_alloc).
result<TcbStatus> parse_tcb_status_name(std::string_view text);

/// One level of a TCB info `tcbLevels` array.
struct TcbLevel {
  std::array<std::uint8_t, 16> sgx_components{};
  std::uint16_t pce_svn = 0;
  std::array<std::uint8_t, 16> tdx_components{};
  TcbStatus status = TcbStatus::unknown;
  TimePoint tcb_date{};
  std::vector<std::string> advisory_ids{};
};

/// A TDX module identity (`tdxModuleIdentities`, TCB info v3) with its own TCB levels keyed by
/// the module's isvsvn.
struct TdxModuleIdentity {
  std::string id{};  ///< "TDX_01", "TDX_03", ...
  Measurement mr_signer{};
  std::array<std::uint8_t, 8> attributes{};
  std::array<std::uint8_t, 8> attributes_mask{};
  struct Level {
    std::uint16_t isv_svn = 0;
    TcbStatus status = TcbStatus::unknown;
    TimePoint tcb_date{};
    std::vector<std::string> advisory_ids{};
  };
  std::vector<Level> levels{};
};

/// Parsed `tcbInfo` (TDX, version 3).
struct TcbInfo {
  std::string id{};  ///< "TDX"
  int version = 0;
  TimePoint issue_date{};
  TimePoint next_update{};
  std::array<std::uint8_t, 6> fmspc{};
  std::array<std::uint8_t, 2> pce_id{};
  int tcb_type = 0;
  int tcb_evaluation_data_number = 0;
  /// `tdxModule`: the SEAM module signer and attributes every TD quote must match.
  Measurement tdx_module_mr_signer{};
  std::array<std::uint8_t, 8> tdx_module_attributes{};
  std::array<std::uint8_t, 8> tdx_module_attributes_mask{};
  std::vector<TdxModuleIdentity> tdx_module_identities{};
  std::vector<TcbLevel> levels{};
};

/// Parsed `enclaveIdentity` of the TD quoting enclave ("TD_QE", version 2).
struct QeIdentity {
  std::string id{};
  int version = 0;
  TimePoint issue_date{};
  TimePoint next_update{};
  int tcb_evaluation_data_number = 0;
  std::uint32_t misc_select = 0;
  std::uint32_t misc_select_mask = 0;
  std::array<std::uint8_t, 16> attributes{};
  std::array<std::uint8_t, 16> attributes_mask{};
  std::array<std::uint8_t, 32> mr_signer{};
  std::uint16_t isv_prod_id = 0;
  struct Level {
    std::uint16_t isv_svn = 0;
    TcbStatus status = TcbStatus::unknown;
    TimePoint tcb_date{};
    std::vector<std::string> advisory_ids{};
  };
  std::vector<Level> levels{};
};

/// The collateral for one FMSPC, as loaded (nothing verified yet). Keeps the exact signed bytes
/// of the TCB info and QE identity: Intel signs the text of the inner JSON object as sent, not a
/// re-serialisation. Immutable after loading; share it freely between threads.
struct Collateral {
  std::string tcb_info_json{};                   ///< exact signed text of the tcbInfo object
  std::array<std::uint8_t, 64> tcb_info_signature{};  ///< ECDSA P-256 r‖s
  std::string tcb_info_issuer_chain_pem{};       ///< TCB Signing cert, then the root
  std::string qe_identity_json{};                ///< exact signed text of enclaveIdentity
  std::array<std::uint8_t, 64> qe_identity_signature{};
  std::string qe_identity_issuer_chain_pem{};
  std::vector<std::uint8_t> pck_crl_der{};       ///< CRL of the PCK's CA (Platform/Processor)
  std::string pck_crl_issuer_chain_pem{};        ///< that CA, then the root
  std::vector<std::uint8_t> root_ca_crl_der{};   ///< CRL of the Intel SGX Root CA
  TcbInfo tcb_info{};                            ///< parsed from tcb_info_json
  QeIdentity qe_identity{};                      ///< parsed from qe_identity_json
};

/// Loads the self-contained bundle format of `testdata/attestation/collateral/dcapqvl_*.json`
/// (dcap-qvl's QuoteCollateralV3, mirroring Intel's sgx_ql_qve_collateral_t): PEM chains, CRLs as
/// hex DER (PEM accepted too), `tcb_info`/`qe_identity` as the signed JSON text, signatures hex.
/// The simulator writes this format too.
/// Checks structure only: the signed documents parse (TCB info v3 with id "TDX" or "SGX", enclave
/// identity v2; unknown keys ignored), the chains and CRLs parse. `json` need not outlive the call.
/// @returns core errc (invalid_json, missing_field, wrong_type, bad_hex, ...) naming the field;
///          tdx::errc::malformed_collateral for a TCB info / QE identity / CRL that does not parse
///          (the message names the path, e.g. "tcbInfo.tcbLevels[0].tcbStatus");
///          tdx::errc::bad_certificate for an issuer chain that does not parse.
///          Never throws (except bad_alloc); thread-safe.
result<Collateral> parse_collateral_bundle(std::string_view json);
/// Writes the bundle format above (CRLs as hex DER, keys in dcap-qvl's order); round-trips with
/// parse_collateral_bundle. Never throws (except bad_alloc).
std::string serialize_collateral_bundle(Collateral const& collateral);

/// The pieces as Intel PCS v4 (or a PCCS) serves them: the response bodies of
/// `GET /tdx/certification/v4/tcb?fmspc=` (`{"tcbInfo":{...},"signature":"..."}`) and
/// `GET /tdx/certification/v4/qe/identity` (`{"enclaveIdentity":{...},"signature":"..."}`), the
/// issuer chains from the `TCB-Info-Issuer-Chain`/`SGX-Enclave-Identity-Issuer-Chain` and
/// `SGX-PCK-CRL-Issuer-Chain` headers (URL-decoded PEM), the PCK CRL and the root CA CRL (DER or
/// PEM).
struct PcsResponses {
  std::string tcb_info_body{};
  std::string tcb_info_issuer_chain_pem{};
  std::string qe_identity_body{};
  std::string qe_identity_issuer_chain_pem{};
  std::vector<std::uint8_t> pck_crl{};
  std::string pck_crl_issuer_chain_pem{};
  std::vector<std::uint8_t> root_ca_crl{};
};
/// Assembles a Collateral from PCS responses. The signed text is the exact source span of the
/// `tcbInfo` / `enclaveIdentity` value (found by a string-aware scan after a strict parse of the
/// whole body), never a re-serialisation; PEM CRLs are converted to DER.
/// @returns the errors of parse_collateral_bundle, with "TCB info response" / "QE identity
///          response" in the message for a body without its member or signature.
///          Never throws (except bad_alloc); thread-safe.
result<Collateral> collateral_from_pcs(PcsResponses const& responses);

/// When a Collateral as a whole is usable: the latest issueDate/thisUpdate and the earliest
/// nextUpdate among its TCB info, QE identity, PCK CRL and root CA CRL (the same window
/// Verdict::collateral_issued_at/expires_at report). Caches use `expires_at` to refresh.
struct CollateralWindow {
  TimePoint issued_at{};
  TimePoint expires_at{};
};
/// Computes the window from the parsed documents and the CRLs' thisUpdate/nextUpdate.
/// @returns tdx::errc::malformed_collateral when a CRL does not parse or has no nextUpdate.
///          Never throws (except bad_alloc); thread-safe.
result<CollateralWindow> collateral_window(Collateral const& collateral);

/// Reads a bundle file (parse_collateral_bundle). core errc::io_error when unreadable.
result<Collateral> load_collateral_file(std::filesystem::path const& path);

}  // namespace ee::tdx
