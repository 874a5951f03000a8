#include <easyenclave/cp/error.hpp>

#include "detail/error_category.hpp"

namespace ee::cp {
namespace {

using detail::CodeInfo;
constexpr auto ii = condition::invalid_input;
constexpr auto ua = condition::unauthenticated;
constexpr auto fb = condition::forbidden;
constexpr auto cf = condition::conflict;
constexpr auto uf = condition::upstream_failure;
constexpr auto un = condition::unavailable;
constexpr int v(errc e) { return static_cast<int>(e); }

constexpr CodeInfo kCpCodes[] = {
    {v(errc::unknown_nonce), "unknown_nonce", "nonce was not issued by this control plane or was already used", ua},
    {v(errc::nonce_expired), "nonce_expired", "nonce has expired; fetch a new challenge", ua},
    {v(errc::nonce_not_bound), "nonce_not_bound", "verified report data does not begin with the nonce", fb},
    {v(errc::key_not_bound), "key_not_bound", "report data does not bind the public key (SHA-256 in bytes 32..64)", fb},
    {v(errc::nonce_for_other_vm), "nonce_for_other_vm", "nonce was issued for another vm_name", fb},
    {v(errc::too_many_challenges), "too_many_challenges", "too many outstanding challenges; retry later", un},
    {v(errc::evidence_missing), "evidence_missing", "no evidence: send intel_ta_token or quote_b64", ii},
    {v(errc::appraiser_not_allowed), "appraiser_not_allowed", "this control plane does not accept this kind of evidence", fb},
    {v(errc::attestation_failed), "attestation_failed", "evidence did not verify", ua},
    {v(errc::mrtd_changed), "mrtd_changed", "agent registered before with another MRTD", fb},
    {v(errc::agent_unverified), "agent_unverified", "agent's attestation is not current", cf},
    {v(errc::agent_busy), "agent_busy", "agent already holds a deployment", cf},
    {v(errc::agent_mrtd_mismatch), "agent_mrtd_mismatch", "agent's MRTD differs from the version's", fb},
    {v(errc::no_eligible_agent), "no_eligible_agent", "no verified idle agent of this owner matches", cf},
    {v(errc::owner_mismatch), "owner_mismatch", "token's repository_owner does not own this resource", fb},
    {v(errc::missing_credentials), "missing_credentials", "missing bearer token", ua},
    {v(errc::bad_admin_token), "bad_admin_token", "admin token does not match", ua},
    {v(errc::admin_disabled), "admin_disabled", "admin routes are disabled (no admin token configured)", fb},
    {v(errc::agent_unreachable), "agent_unreachable", "agent API could not be reached", uf},
    {v(errc::no_quote_provider), "no_quote_provider", "this control plane has no quote provider", un},
    {v(errc::unsafe_configuration), "unsafe_configuration", "unsafe configuration for production (use --dev for local stand-ins)", ii},
    {v(errc::deployment_not_active), "deployment_not_active", "deployment is not active", cf},
    {v(errc::digest_mismatch), "digest_mismatch", "agent runs an image digest other than the catalog's", fb},
    {v(errc::admission_refused), "admission_refused", "this control plane's admission policy refuses the agent", fb},
    {v(errc::vm_name_taken), "vm_name_taken", "vm_name is registered to another owner or key", cf},
    {v(errc::owner_proof_required), "owner_proof_required", "an owner's bootstrap token is required", fb},
    {v(errc::bootstrap_token_invalid), "bootstrap_token_invalid", "bootstrap token is unknown, expired, revoked or used up", ua},
    {v(errc::bootstrap_token_mismatch), "bootstrap_token_mismatch", "bootstrap token does not admit this registration", fb},
    {v(errc::bootstrap_token_limit), "bootstrap_token_limit", "the owner holds the most live bootstrap tokens allowed; revoke some", cf},
    {v(errc::principal_not_allowed), "principal_not_allowed", "this kind of caller may not call this route", fb},
    {v(errc::unknown_setting), "unknown_setting", "no setting of this name", condition::not_found},
    {v(errc::setting_not_storable), "setting_not_storable", "this setting is given only by flag or environment", ii},
    {v(errc::settings_unavailable), "settings_unavailable", "this control plane keeps no settings at run time", un},
    {v(errc::login_failed), "login_failed", "admin password does not match", ua},
    {v(errc::session_invalid), "session_invalid", "session is unknown, expired or ended; sign in again", ua},
    {v(errc::logins_unavailable), "logins_unavailable", "this login method is not set up on this control plane", un},
    {v(errc::oauth_state_invalid), "oauth_state_invalid", "OAuth state is unknown, expired, already used or another browser's; start the sign-in again", fb},
    {v(errc::oauth_failed), "oauth_failed", "GitHub sign-in failed", uf},
    {v(errc::cross_site_request), "cross_site_request", "a request authenticated by cookie came from another site", fb},
    {v(errc::agent_answer_malformed), "agent_answer_malformed", "agent answered with a body its API does not define", uf},
    {v(errc::bad_api_key), "bad_api_key", "API key is malformed, unknown, rotated or deleted", ua},
};

}  // namespace

error_code make_error_code(errc e) noexcept {
  static detail::TableCategory const category("cp", kCpCodes);
  return {static_cast<int>(e), category};
}

}  // namespace ee::cp
