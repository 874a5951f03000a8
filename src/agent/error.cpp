#include <easyenclave/agent/error.hpp>

#include "detail/error_category.hpp"

namespace ee::agent {
namespace {

using detail::CodeInfo;
constexpr auto ii = condition::invalid_input;
constexpr auto fb = condition::forbidden;
constexpr auto cf = condition::conflict;
constexpr auto uf = condition::upstream_failure;
constexpr auto un = condition::unavailable;
constexpr int v(errc e) { return static_cast<int>(e); }

constexpr CodeInfo kAgentCodes[] = {
    {v(errc::invalid_config), "invalid_config", "invalid agent configuration", ii},
    {v(errc::program_not_found), "program_not_found", "program not found or not executable", un},
    {v(errc::spawn_failed), "spawn_failed", "could not start a process", un},
    {v(errc::command_failed), "command_failed", "command failed", uf},
    {v(errc::command_timed_out), "command_timed_out", "command timed out", uf},
    {v(errc::digest_mismatch), "digest_mismatch", "image digest differs from the pinned one", fb},
    {v(errc::not_registered), "not_registered", "agent is not registered with a control plane", un},
    {v(errc::registration_refused), "registration_refused",
     "control plane refused the registration", fb},
    {v(errc::cp_unavailable), "cp_unavailable", "control plane unavailable", uf},
    {v(errc::deployment_conflict), "deployment_conflict", "another deployment holds the workload",
     cf},
    {v(errc::busy), "busy", "too many requests in flight; retry shortly", un},
    {v(errc::workload_unreachable), "workload_unreachable", "the workload did not answer", uf},
    {v(errc::key_file_refused), "key_file_refused", "the agent's key file is refused", ii},
    {v(errc::cp_not_attested), "cp_not_attested",
     "the control plane's attestation does not match what is expected", fb},
};

}  // namespace

error_code make_error_code(errc e) noexcept {
  static detail::TableCategory const category("agent", kAgentCodes);
  return {static_cast<int>(e), category};
}

}  // namespace ee::agent
