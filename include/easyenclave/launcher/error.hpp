#pragma once
/// @file Error codes of the launcher. Values are stable: new codes are appended, never
/// renumbered. The id of each is "launcher.<name>".
#include <easyenclave/error.hpp>

namespace ee::launcher {

// Each code's condition follows the arrow.
enum class errc {
  invalid_request = 1,   ///< an argument of the launch is missing or malformed  -> invalid_input
  tool_missing,          ///< qemu, xorriso, skopeo/podman is not installed      -> unavailable
  qemu_failed,           ///< QEMU exited or refused the command (its stderr)    -> upstream_failure
  qmp_timeout,           ///< QEMU's QMP socket did not answer in time           -> upstream_failure
  qmp_error,             ///< QMP answered an error or something unreadable      -> upstream_failure
  vm_not_found,          ///< no VM of that name under the state root            -> not_found
  vm_running,            ///< a VM of that name is already running               -> conflict
  image_failed,          ///< the image could not be fetched or made a disk      -> upstream_failure
  preflight_failed,      ///< a hard preflight check failed                      -> unavailable
  registration_timeout,  ///< the VM's agent did not register in time            -> upstream_failure
  guest_failed,          ///< the guest wrote a fatal error on its console        -> upstream_failure
};

error_code make_error_code(errc e) noexcept;

}  // namespace ee::launcher

template <>
struct boost::system::is_error_code_enum<ee::launcher::errc> : std::true_type {};
