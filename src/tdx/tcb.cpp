#include "tdx/tcb.hpp"

#include <algorithm>
#include <cstdio>

namespace ee::tdx::detail {
namespace {

template <std::size_t N>
std::array<std::uint8_t, N> masked(std::array<std::uint8_t, N> value,
                                   std::array<std::uint8_t, N> const& mask) noexcept {
  for (std::size_t i = 0; i < N; ++i) value[i] &= mask[i];
  return value;
}

result<void> check_module_signer(Measurement const& expected_signer, Bytes8 const& attributes,
                                 Bytes8 const& mask, TdReport const& report,
                                 std::string const& what) {
  if (report.mr_signer_seam != expected_signer)
    return Error(errc::tdx_module_mismatch, "MRSIGNERSEAM differs from " + what + " mrsigner");
  if (masked(report.seam_attributes, mask) != attributes)
    return Error(errc::tdx_module_mismatch,
                 "masked SEAMATTRIBUTES differ from " + what + " attributes");
  return {};
}

}  // namespace

result<ModuleMatch> match_tdx_module(TcbInfo const& info, TdReport const& report) {
  // TEE_TCB_SVN[0] is the module's SVN and [1] its major version (TDX DCAP API, A.3.2;
  // Intel PCS API v4, TCB info v3 "tdxModuleIdentities").
  std::uint8_t const svn = report.tee_tcb_svn[0];
  std::uint8_t const version = report.tee_tcb_svn[1];
  ModuleMatch match;
  if (version == 0 || info.tdx_module_identities.empty()) {
    auto ok = check_module_signer(info.tdx_module_mr_signer, info.tdx_module_attributes,
                                  info.tdx_module_attributes_mask, report, "tdxModule");
    if (!ok) return ok.error();
    return match;
  }
  char id[8];
  std::snprintf(id, sizeof id, "TDX_%02X", static_cast<unsigned>(version));
  auto const it = std::find_if(info.tdx_module_identities.begin(),
                               info.tdx_module_identities.end(),
                               [&](TdxModuleIdentity const& m) { return m.id == id; });
  if (it == info.tdx_module_identities.end())
    return Error(errc::tdx_module_mismatch,
                 std::string("TCB info has no TDX module identity ") + id);
  auto ok = check_module_signer(it->mr_signer, it->attributes, it->attributes_mask, report,
                                std::string("module identity ") + id);
  if (!ok) return ok.error();
  auto const level = std::find_if(it->levels.begin(), it->levels.end(),
                                  [&](auto const& l) { return l.isv_svn <= svn; });
  if (level == it->levels.end())
    return Error(errc::tcb_level_not_supported, std::string("TDX module ") + id + " SVN " +
                                                    std::to_string(svn) +
                                                    " is below every level of its identity");
  match.identity_id = id;
  match.level = &*level;
  match.first_tdx_component = 2;
  return match;
}

result<TcbLevel const*> match_platform_level(TcbInfo const& info, PckExtension const& pck,
                                             TdReport const& report,
                                             std::size_t first_tdx_component) {
  for (auto const& level : info.levels) {
    bool ok = pck.pce_svn >= level.pce_svn;
    for (std::size_t i = 0; ok && i < 16; ++i)
      ok = pck.sgx_components[i] >= level.sgx_components[i];
    for (std::size_t i = first_tdx_component; ok && i < 16; ++i)
      ok = report.tee_tcb_svn[i] >= level.tdx_components[i];
    if (ok) return &level;
  }
  return Error(errc::tcb_level_not_supported,
               "no TCB level matches the platform (PCK SGX components, PCESVN " +
                   std::to_string(pck.pce_svn) + " and TEE_TCB_SVN are below every level of " +
                   std::to_string(info.levels.size()) + ")");
}

result<QeIdentity::Level const*> match_qe_identity(QeIdentity const& identity,
                                                   EnclaveReport const& qe) {
  if (qe.mr_signer != identity.mr_signer)
    return Error(errc::qe_identity_mismatch, "QE MRSIGNER differs from the QE identity");
  if (qe.isv_prod_id != identity.isv_prod_id)
    return Error(errc::qe_identity_mismatch, "QE ISVPRODID " + std::to_string(qe.isv_prod_id) +
                                                 ", QE identity expects " +
                                                 std::to_string(identity.isv_prod_id));
  if ((qe.misc_select & identity.misc_select_mask) != identity.misc_select)
    return Error(errc::qe_identity_mismatch, "masked QE MISCSELECT differs from the QE identity");
  if (masked(qe.attributes, identity.attributes_mask) != identity.attributes)
    return Error(errc::qe_identity_mismatch, "masked QE ATTRIBUTES differ from the QE identity");
  auto const level = std::find_if(identity.levels.begin(), identity.levels.end(),
                                  [&](auto const& l) { return l.isv_svn <= qe.isv_svn; });
  if (level == identity.levels.end())
    return Error(errc::tcb_level_not_supported,
                 "QE ISVSVN " + std::to_string(qe.isv_svn) + " is below every QE identity level");
  return &*level;
}

TcbStatus converge(TcbStatus platform, TcbStatus component) noexcept {
  using S = TcbStatus;
  if (component == S::revoked) return S::revoked;
  if (component == S::out_of_date) {
    if (platform == S::up_to_date || platform == S::sw_hardening_needed) return S::out_of_date;
    if (platform == S::configuration_needed ||
        platform == S::configuration_and_sw_hardening_needed)
      return S::out_of_date_configuration_needed;
  }
  return platform;
}

void merge_advisories(std::vector<std::string>& ids, std::vector<std::string> const& more) {
  for (auto const& id : more)
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
}

}  // namespace ee::tdx::detail
