#include <easyenclave/client/error.hpp>

#include "detail/error_category.hpp"

namespace ee::client {
namespace {
using detail::CodeInfo;
constexpr auto ii = condition::invalid_input;
constexpr auto ua = condition::unauthenticated;
constexpr auto fb = condition::forbidden;
constexpr auto nf = condition::not_found;
constexpr auto cf = condition::conflict;
constexpr auto uf = condition::upstream_failure;
constexpr auto un = condition::unavailable;
constexpr int v(errc e) { return static_cast<int>(e); }
constexpr CodeInfo kClientCodes[] = {
    {v(errc::invalid_target), "invalid_target", "the target is neither org/repo nor an app name",
     ii},
    {v(errc::catalog_unavailable), "catalog_unavailable",
     "the control plane or GitHub failed or answered badly", uf},
    {v(errc::app_not_found), "app_not_found", "no such app in the catalog", nf},
    {v(errc::no_published_version), "no_published_version", "the app publishes no matching version",
     nf},
    {v(errc::no_running_agent), "no_running_agent", "no running deployment on a verified agent",
     nf},
    {v(errc::agent_unreachable), "agent_unreachable",
     "the agent could not be reached or answered non-2xx", uf},
    {v(errc::malformed_evidence), "malformed_evidence", "the evidence is not in the expected form",
     uf},
    {v(errc::collateral_unavailable), "collateral_unavailable",
     "no DCAP collateral could be obtained", uf},
    {v(errc::quote_rejected), "quote_rejected", "the quote did not verify", ua},
    {v(errc::nonce_mismatch), "nonce_mismatch", "the quote does not carry the nonce that was sent",
     ua},
    {v(errc::key_not_bound), "key_not_bound", "the quote does not bind the agent's public key", ua},
    {v(errc::agent_key_mismatch), "agent_key_mismatch",
     "the agent's key differs from the one the control plane attested", ua},
    {v(errc::mrtd_not_published), "mrtd_not_published", "the MRTD is not published for the app",
     fb},
    {v(errc::rtmr_mismatch), "rtmr_mismatch", "an RTMR differs from the published value", fb},
    {v(errc::image_digest_mismatch), "image_digest_mismatch",
     "the workload's image is not the published one", fb},
    {v(errc::workload_not_running), "workload_not_running", "the workload is not running", fb},
    {v(errc::policy_refused), "policy_refused", "the attestation policy refuses the appraisal", fb},
    {v(errc::release_not_found), "release_not_found",
     "no release carries an attestation.json asset", nf},
    {v(errc::cp_refused_input), "cp_refused_input", "the control plane refused the request as malformed",
     ii},
    {v(errc::cp_unauthenticated), "cp_unauthenticated", "the control plane did not accept the credential",
     ua},
    {v(errc::cp_forbidden), "cp_forbidden", "the control plane refused the caller", fb},
    {v(errc::cp_not_found), "cp_not_found", "the control plane has no such thing", nf},
    {v(errc::cp_conflict), "cp_conflict", "the request conflicts with the control plane's state", cf},
    {v(errc::cp_unavailable), "cp_unavailable", "the control plane is busy or unavailable", un},
    {v(errc::cp_failed), "cp_failed", "the control plane failed", uf},
    {v(errc::cp_answer_malformed), "cp_answer_malformed", "the control plane's answer is not as documented",
     uf},
    {v(errc::credentials_unavailable), "credentials_unavailable", "no credential could be obtained", ua},
};
}  // namespace

error_code make_error_code(errc e) noexcept {
  static detail::TableCategory const category("client", kClientCodes);
  return {static_cast<int>(e), category};
}

}  // namespace ee::client
