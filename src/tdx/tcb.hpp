#pragma once
// Intel's TCB evaluation for TDX quotes, as the Quote Verification Library (QVL) does it:
// platform TCB level matching against the PCK certificate's SGX TCB and the TD's TEE_TCB_SVN,
// the TDX module identity check, the QE identity check, and the convergence of the three
// statuses into one. Pure functions over parsed inputs; no I/O, no clock.
#include <easyenclave/error.hpp>
#include <easyenclave/tdx/collateral.hpp>
#include <easyenclave/tdx/quote.hpp>
#include <easyenclave/tdx/verify.hpp>

#include <optional>
#include <string>
#include <vector>

namespace ee::tdx::detail {

/// What the TDX module check found.
struct ModuleMatch {
  /// The module identity used ("TDX_01"), or empty when the quote's module major version
  /// (TEE_TCB_SVN[1]) is 0 or the TCB info lists no identities and `tdxModule` was used.
  std::string identity_id{};
  /// The matched identity level (null when identity_id is empty).
  TdxModuleIdentity::Level const* level = nullptr;
  /// The first TDX TCB component compared by the platform level match: 2 when an identity
  /// carries the module's own SVN (TEE_TCB_SVN[0..1] are the module SVN and version), else 0.
  std::size_t first_tdx_component = 0;
};

/// Checks MRSIGNERSEAM and masked SEAMATTRIBUTES against the TDX module identity "TDX_%02X" of
/// TEE_TCB_SVN[1] (TCB info v3 `tdxModuleIdentities`), choosing its level by isvsvn <=
/// TEE_TCB_SVN[0]; for module version 0, or TCB info without identities, against `tdxModule`.
/// errc::tdx_module_mismatch (identity missing, signer or attributes differ) or
/// errc::tcb_level_not_supported (no identity level for the module SVN).
result<ModuleMatch> match_tdx_module(TcbInfo const& info, TdReport const& report);

/// The first TCB level (Intel lists them newest first) whose 16 SGX components and PCESVN are
/// each <= the PCK certificate's, and whose TDX components from `first_tdx_component` on are
/// each <= TEE_TCB_SVN. errc::tcb_level_not_supported when none is.
result<TcbLevel const*> match_platform_level(TcbInfo const& info, PckExtension const& pck,
                                             TdReport const& report,
                                             std::size_t first_tdx_component);

/// The QE report against the QE identity: MRSIGNER, ISVPRODID, masked MISCSELECT and masked
/// ATTRIBUTES must equal the identity's (errc::qe_identity_mismatch); the level is the first
/// whose isvsvn <= the QE's ISVSVN (errc::tcb_level_not_supported when none is).
result<QeIdentity::Level const*> match_qe_identity(QeIdentity const& identity,
                                                   EnclaveReport const& qe_report);

/// QVL's convergence of a platform status with a TDX module or QE status: an OutOfDate
/// component makes UpToDate/SWHardeningNeeded OutOfDate and the Configuration* statuses
/// OutOfDateConfigurationNeeded; a Revoked component makes the result Revoked.
TcbStatus converge(TcbStatus platform, TcbStatus component) noexcept;

/// Appends the ids of `more` not yet in `ids`, keeping first-seen order.
void merge_advisories(std::vector<std::string>& ids, std::vector<std::string> const& more);

}  // namespace ee::tdx::detail
