#pragma once
/// @file Error codes of the agent runtime: its configuration, the processes it runs (cloudflared,
/// the workload, ee-cp in cp-bootstrap mode) and its dealings with the control plane. Values are
/// stable: new codes are appended, never renumbered. The id of each is "agent.<name>".
#include <easyenclave/error.hpp>

namespace ee::agent {

// Each code's condition follows the arrow.
enum class errc {
  invalid_config = 1,    ///< a configuration value is malformed or unknown     -> invalid_input
  program_not_found,     ///< the program to run is missing or not executable   -> unavailable
  spawn_failed,          ///< fork/exec or its pipes failed                     -> unavailable
  command_failed,        ///< a command (podman pull, run, ...) failed          -> upstream_failure
  command_timed_out,     ///< a command did not finish in time; it was killed   -> upstream_failure
  digest_mismatch,       ///< the image has another digest than the pinned one  -> forbidden
  not_registered,        ///< no registration with a control plane yet          -> unavailable
  registration_refused,  ///< the control plane refused the registration (4xx)  -> forbidden
  cp_unavailable,        ///< the CP could not be reached or answered 5xx       -> upstream_failure
  deployment_conflict,   ///< another deployment holds the workload slot        -> conflict
  busy,                  ///< too many requests of this kind; retry shortly     -> unavailable
  workload_unreachable,  ///< the workload did not answer a proxied request      -> upstream_failure
  key_file_refused,      ///< the key file is unsafe (mode, owner, file system) -> invalid_input
  cp_not_attested,       ///< the CP's attestation failed a check (cp_mrtd ...)  -> forbidden
};

error_code make_error_code(errc e) noexcept;

}  // namespace ee::agent

template <>
struct boost::system::is_error_code_enum<ee::agent::errc> : std::true_type {};
