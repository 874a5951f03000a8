#pragma once
/// @file A TDX quote simulator for development and CI on machines without TDX. It owns a complete
/// test PKI made with OpenSSL at run time ("EE Simulator Root CA" -> "EE Simulator PCK Platform
/// CA" -> PCK certificate, and "EE Simulator TCB Signing"), an attestation key and a signed QE
/// report, and produces v4 quotes and DCAP collateral laid out exactly like Intel's, so the same
/// `tdx::verify` code path checks them.
///
/// NOTHING trusts the simulator by default. Its quotes verify only when the verifier is given the
/// simulator's root (`VerifyOptions::root = simulator.root()`); against the pinned Intel SGX Root
/// CA its PCK chain is untrusted. Never configure a production verifier with it.
#include <easyenclave/error.hpp>
#include <easyenclave/tdx/collateral.hpp>
#include <easyenclave/tdx/provider.hpp>
#include <easyenclave/tdx/quote.hpp>
#include <easyenclave/tdx/verify.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ee::tdx {

/// The common name of the simulator's root certificate. Production start-up checks refuse any
/// trusted root with this name (`TrustedRoot::common_name()`).
inline constexpr std::string_view kSimulatorRootName = "EE Simulator Root CA";

/// What the simulated TD and platform look like. The TD fields (measurements, attributes, XFAM,
/// MRSEAM) go into every quote made with `Simulator::quote(ReportData)`. The platform fields
/// (`tee_tcb_svn`, `now`, `validity`, `tcb_status`, `advisory_ids`, `revoke_pck`) shape the PKI
/// and collateral: they are used when those are generated and persisted with them.
struct SimulatorOptions {
  /// MRTD: the measurement of the TD's initial memory (firmware), what policies pin.
  Measurement mr_td{};
  /// RTMR0..3 as a real TD's firmware and kernel would have extended them.
  std::array<Measurement, 4> rtmr{};
  Measurement mr_config_id{};
  Measurement mr_owner{};
  Measurement mr_owner_config{};
  /// TDATTRIBUTES; the default sets only SEPT_VE_DISABLE (bit 28), as production TDs do. Set
  /// bit 0 to simulate a debug TD.
  Bytes8 td_attributes{0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00};
  Bytes8 xfam{0xe7, 0x02, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00};
  /// MRSEAM of the simulated TDX module (any value verifies: TCB info pins the module's signer,
  /// which is zero for Intel's modules and here, not its measurement).
  Measurement mr_seam{};
  /// TEE_TCB_SVN: byte 0 is the TDX module's SVN, byte 1 its major version (TDX_01 identity).
  /// The generated TCB info's top level matches exactly these values.
  Bytes16 tee_tcb_svn{0x06, 0x01, 0x03};

  /// Start of the validity of every certificate, CRL, TCB info and QE identity. The default
  /// (the epoch) means "the time of creation".
  TimePoint now{};
  /// Length of that validity, the same for every item.
  std::chrono::days validity{365};
  /// The status of the TCB level the platform matches, and its advisory ids (e.g. OutOfDate
  /// with "INTEL-SA-00837" to exercise TCB policies).
  TcbStatus tcb_status = TcbStatus::up_to_date;
  std::vector<std::string> advisory_ids{};
  /// List the PCK certificate's serial in the PCK CRL, so verification fails as revoked.
  bool revoke_pck = false;
};

/// A simulated TDX platform: PKI, attestation key, QE report and collateral. Immutable after
/// creation; `quote` and every accessor are thread-safe. Share it through `std::shared_ptr`.
class Simulator {
 public:
  /// Generates a fresh PKI (all keys P-256), QE report and collateral, in memory only.
  /// @returns the simulator, or tdx::errc::simulator_failed when OpenSSL fails or the generated
  ///          collateral does not load. Never throws (except bad_alloc).
  static result<std::shared_ptr<Simulator>> create(SimulatorOptions options = {});

  /// Loads the simulator persisted in `dir`, or creates one there when `dir` holds none, so
  /// separate processes (`ee sim quote`, `ee sim collateral`) share one PKI and their quotes
  /// verify against collateral written by another. The directory holds the certificates and
  /// private keys as PEM files (keys mode 0600; test keys, but keep them out of anything
  /// shipped) and `collateral.json` in the dcap-qvl bundle format. Creation is serialised across
  /// processes with a lock file in `dir`. When loading, only the TD fields of `options`
  /// are used; the platform fields were fixed when the directory was created.
  /// @returns the simulator, or tdx::errc::simulator_failed when the directory cannot be
  ///          created, read or written, or holds an incomplete or inconsistent set of files (the
  ///          detail names the file). Never throws (except bad_alloc).
  static result<std::shared_ptr<Simulator>> load_or_create(std::filesystem::path const& dir,
                                                           SimulatorOptions options = {});

  ~Simulator();
  Simulator(Simulator const&) = delete;
  Simulator& operator=(Simulator const&) = delete;

  /// A v4 TDX quote of the configured TD with `report_data`, signed by the attestation key;
  /// certification data type 6 (QE report signed by the PCK key, whose report data binds the
  /// attestation key) with the nested type 5 PEM chain PCK -> PCK Platform CA -> root.
  /// @returns the quote bytes, or tdx::errc::simulator_failed if signing fails.
  result<std::vector<std::uint8_t>> quote(ReportData const& report_data) const;
  /// The same with every TD report field chosen by the caller (TD 1.0 layout: `tee_tcb_svn2`,
  /// `mr_servicetd` and `is_td15` are ignored). A `tee_tcb_svn` below the configured one falls
  /// to the collateral's second, all-zero TCB level (OutOfDate), which tests of TCB policies use.
  result<std::vector<std::uint8_t>> quote(TdReport const& report) const;

  /// The TD report `quote(report_data)` signs.
  TdReport td_report(ReportData const& report_data) const;

  /// The collateral for this platform (FMSPC, TCB info, QE identity, CRLs, chains).
  Collateral const& collateral() const noexcept;
  /// The same collateral as dcap-qvl bundle JSON (`parse_collateral_bundle` reads it).
  std::string const& collateral_json() const noexcept;
  /// The simulator's root certificate, PEM ("EE Simulator Root CA").
  std::string const& root_pem() const noexcept;
  /// That root as a trust anchor for `VerifyOptions::root`. Only for tests and development.
  TrustedRoot const& root() const noexcept;
  /// The options the simulator was made with (for a loaded one: the given TD fields
  /// with the platform fields as persisted).
  SimulatorOptions const& options() const noexcept;

  struct Impl;  // defined in src/tdx/simulator.cpp

 private:
  explicit Simulator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// A QuoteProvider ("simulator") that asks `simulator` for quotes. Thread-safe; keeps the
/// simulator alive.
std::unique_ptr<QuoteProvider> make_simulator_provider(std::shared_ptr<Simulator const> simulator);

}  // namespace ee::tdx
