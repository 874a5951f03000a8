#pragma once
/// @file Error codes of the wire contract: request signatures, keys and message validation.
/// Values are stable: new codes are appended, never renumbered. The id of each is "api.<name>".
#include <easyenclave/error.hpp>

namespace ee::api {

enum class errc {
  signature_missing = 1,    ///< X-EE-Timestamp or X-EE-Signature absent          -> unauthenticated
  signature_malformed,      ///< not base64url of 64 bytes, or a bad timestamp    -> unauthenticated
  signature_invalid,        ///< does not verify under the expected key           -> unauthenticated
  timestamp_out_of_window,  ///< timestamp too far from the verifier's clock      -> unauthenticated
  replayed_request,         ///< this signature was already accepted              -> unauthenticated
  invalid_public_key,       ///< not a P-256 SubjectPublicKeyInfo                 -> invalid_input
  invalid_private_key,      ///< not a P-256 private key                          -> invalid_input
  invalid_field,            ///< a message field has a malformed value            -> invalid_input
  invalid_boot_config,      ///< the kernel command line's boot config is malformed -> invalid_input
  invalid_agent_config,     ///< an agent setting is malformed, unknown or unusable -> invalid_input
  console_token_malformed,  ///< not a console token of the pinned form              -> unauthenticated
  console_token_invalid,    ///< its signature is not the CP's                        -> unauthenticated
  console_token_expired,    ///< past its exp, or issued in the future                -> unauthenticated
  console_token_not_allowed,  ///< for another agent, or a route outside its scope    -> forbidden
};

error_code make_error_code(errc e) noexcept;

}  // namespace ee::api

template <>
struct boost::system::is_error_code_enum<ee::api::errc> : std::true_type {};
