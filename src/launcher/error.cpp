#include <easyenclave/launcher/error.hpp>

#include "detail/error_category.hpp"

namespace ee::launcher {
namespace {

using detail::CodeInfo;
constexpr auto ii = condition::invalid_input;
constexpr auto nf = condition::not_found;
constexpr auto cf = condition::conflict;
constexpr auto uf = condition::upstream_failure;
constexpr auto un = condition::unavailable;
constexpr int v(errc e) { return static_cast<int>(e); }

constexpr CodeInfo kLauncherCodes[] = {
    {v(errc::invalid_request), "invalid_request", "invalid launch request", ii},
    {v(errc::tool_missing), "tool_missing", "a required program is not installed", un},
    {v(errc::qemu_failed), "qemu_failed", "QEMU failed", uf},
    {v(errc::qmp_timeout), "qmp_timeout", "QEMU's QMP socket did not answer in time", uf},
    {v(errc::qmp_error), "qmp_error", "QMP answered with an error", uf},
    {v(errc::vm_not_found), "vm_not_found", "no such VM", nf},
    {v(errc::vm_running), "vm_running", "a VM of that name is running", cf},
    {v(errc::image_failed), "image_failed", "the image could not be prepared", uf},
    {v(errc::preflight_failed), "preflight_failed", "a hard preflight check failed", un},
    {v(errc::registration_timeout), "registration_timeout", "the agent did not register in time",
     uf},
    {v(errc::guest_failed), "guest_failed", "the guest reported a fatal error", uf},
};

}  // namespace

error_code make_error_code(errc e) noexcept {
  static detail::TableCategory const category("launcher", kLauncherCodes);
  return {static_cast<int>(e), category};
}

}  // namespace ee::launcher
