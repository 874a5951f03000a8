#pragma once
/// @file Error codes of the control plane's own checks (registration, heartbeats, deploys,
/// admin). Values are stable: new codes are appended, never renumbered. The id of each is
/// "cp.<name>". Messages say what was wrong and what was expected, never a secret.
#include <easyenclave/error.hpp>

namespace ee::cp {

enum class errc {
  unknown_nonce = 1,       ///< the nonce was never issued, or was already used            -> unauthenticated
  nonce_expired,           ///< the nonce's TTL has passed                                  -> unauthenticated
  nonce_not_bound,         ///< the verified report data does not begin with the nonce      -> forbidden
  key_not_bound,           ///< report data [32..64) is not SHA-256 of the sent public key   -> forbidden
  nonce_for_other_vm,      ///< the challenge was issued for another vm_name                 -> forbidden
  too_many_challenges,     ///< the challenge table is full of unexpired nonces               -> unavailable
  evidence_missing,        ///< neither an ITA token nor a quote the policy accepts          -> invalid_input
  appraiser_not_allowed,   ///< evidence of a kind this CP's policy does not accept          -> forbidden
  attestation_failed,      ///< the evidence did not verify (signature, chain, collateral)   -> unauthenticated
  mrtd_changed,            ///< a registered agent came back with another MRTD               -> forbidden
  agent_unverified,        ///< the agent's attestation is not current                        -> conflict
  agent_busy,              ///< the agent already holds a deployment                          -> conflict
  agent_mrtd_mismatch,     ///< the agent's MRTD is not the one the version was built for     -> forbidden
  no_eligible_agent,       ///< no verified, idle agent of this owner matches                 -> conflict
  owner_mismatch,          ///< the token's repository_owner does not own this resource        -> forbidden
  missing_credentials,     ///< no bearer token, or not the kind this route takes              -> unauthenticated
  bad_admin_token,         ///< the admin token does not match                                -> unauthenticated
  admin_disabled,          ///< this CP has no admin token configured                          -> forbidden
  agent_unreachable,       ///< the agent's API could not be reached or answered an error      -> upstream_failure
  no_quote_provider,       ///< this CP cannot produce its own quote                           -> unavailable
  unsafe_configuration,    ///< a production CP was configured with a test root, no nonce check or no trusted MRTD -> invalid_input
  deployment_not_active,   ///< the deployment is not pending, deploying or running            -> conflict
  digest_mismatch,         ///< the agent runs an image digest other than the catalog's       -> forbidden
  admission_refused,       ///< the embedder's admission hook (`Options::admit`) refused it  -> forbidden
  vm_name_taken,           ///< the vm_name is registered to another owner or key, and continuity was not proven -> conflict
  owner_proof_required,    ///< this CP admits agents only with an owner's bootstrap token     -> forbidden
  bootstrap_token_invalid, ///< unknown, expired, revoked or used up                            -> unauthenticated
  bootstrap_token_mismatch,///< the token is another owner's, or for another vm_name, datacenter or node size -> forbidden
  agent_answer_malformed,  ///< an agent's answer to the CP is not the shape its API defines   -> upstream_failure
  bootstrap_token_limit,   ///< the owner holds the most live bootstrap tokens allowed          -> conflict
  principal_not_allowed,   ///< a valid credential of a kind the route does not admit          -> forbidden
  unknown_setting,         ///< no setting of this name                                        -> not_found
  setting_not_storable,    ///< the setting is given only by flag or environment               -> invalid_input
  settings_unavailable,    ///< this CP keeps no settings at run time                          -> unavailable
  bad_api_key,             ///< an API key that is malformed, unknown, rotated or deleted      -> unauthenticated
  login_failed,            ///< the admin password does not match                              -> unauthenticated
  session_invalid,         ///< the session token is unknown, expired or ended                 -> unauthenticated
  logins_unavailable,      ///< this CP has no session store, or the login method is not set up -> unavailable
  oauth_state_invalid,     ///< the OAuth state is unknown, expired, used or another browser's  -> forbidden
  oauth_failed,            ///< GitHub refused the code or could not be read                    -> upstream_failure
  cross_site_request,      ///< a cookie-authenticated change sent from another site            -> forbidden
};

error_code make_error_code(errc e) noexcept;

}  // namespace ee::cp

template <>
struct boost::system::is_error_code_enum<ee::cp::errc> : std::true_type {};
