#pragma once
/// @file Error codes of the verify-then-talk client (`client/connect.hpp`). Values are stable:
/// new codes are appended, never renumbered. The id of each is "client.<name>". Each names the
/// check that failed; the message says what was expected and what was found.
#include <easyenclave/error.hpp>

namespace ee::client {

enum class errc {
  invalid_target = 1,   ///< not "org/repo" nor an app name, or bad options      -> invalid_input
  catalog_unavailable,  ///< the CP or GitHub failed or answered badly           -> upstream_failure
  app_not_found,        ///< no app of that name or source repository             -> not_found
  no_published_version,  ///< the app publishes no (matching) version              -> not_found
  no_running_agent,      ///< no running deployment on a verified agent            -> not_found
  agent_unreachable,   ///< the agent's endpoint failed or answered non-2xx      -> upstream_failure
  malformed_evidence,  ///< the health body or release asset is not as specified -> upstream_failure
  collateral_unavailable,  ///< no collateral could be loaded or fetched             ->
                           ///< upstream_failure
  quote_rejected,      ///< the quote did not verify (DCAP)                      -> unauthenticated
  nonce_mismatch,      ///< REPORTDATA[0..32) is not the nonce sent              -> unauthenticated
  key_not_bound,       ///< REPORTDATA[32..64) is not SHA-256 of the agent's key -> unauthenticated
  agent_key_mismatch,  ///< the agent's key is not the one the CP attested       -> unauthenticated
  mrtd_not_published,  ///< the MRTD is not one the catalog publishes            -> forbidden
  rtmr_mismatch,       ///< a pinned RTMR of the published version differs       -> forbidden
  image_digest_mismatch,  ///< the workload runs another image than published       -> forbidden
  workload_not_running,   ///< the workload on the agent is not running             -> forbidden
  policy_refused,         ///< TCB status, debug or collateral age refused          -> forbidden
  release_not_found,      ///< no GitHub release carries attestation.json           -> not_found
  // The control plane's API (client/control_plane.hpp): the CP answered with an error body. The
  // message starts with the CP's own code ("registry.not_found: ..."); cp_error_code() reads it.
  cp_refused_input,       ///< the CP answered 400 (or 405, 413, 431)                -> invalid_input
  cp_unauthenticated,     ///< the CP answered 401: no or a bad credential           -> unauthenticated
  cp_forbidden,           ///< the CP answered 403                                   -> forbidden
  cp_not_found,           ///< the CP answered 404                                   -> not_found
  cp_conflict,            ///< the CP answered 409                                   -> conflict
  cp_unavailable,         ///< the CP answered 429 or 503: retry later               -> unavailable
  cp_failed,              ///< the CP answered another non-2xx status                -> upstream_failure
  cp_answer_malformed,    ///< a 2xx answer is not the documented JSON               -> upstream_failure
  credentials_unavailable,  ///< no token could be read or minted (file, Actions)    -> unauthenticated
};

error_code make_error_code(errc e) noexcept;

}  // namespace ee::client

template <>
struct boost::system::is_error_code_enum<ee::client::errc> : std::true_type {};
