#pragma once
// The agent's view of the child-process helper (detail/child_process.hpp, shared with the
// launcher): its names in the agent's namespace, and the agent's error codes for its failures.
#include <easyenclave/agent/error.hpp>
#include <easyenclave/error.hpp>

#include "detail/child_process.hpp"

namespace ee::agent::detail {

using ::ee::detail::Child;
using ::ee::detail::CommandResult;
using ::ee::detail::run_command;
using ::ee::detail::SpawnOptions;

/// The agent's code for a child-process failure (program_not_found, spawn_failed,
/// command_timed_out: what workload.hpp promises its callers) in place of the helper's core
/// code; any other error as it is.
inline Error as_agent_error(Error error) {
  if (error == ::ee::errc::program_not_found) return Error(errc::program_not_found, error.detail());
  if (error == ::ee::errc::spawn_failed) return Error(errc::spawn_failed, error.detail());
  if (error == ::ee::errc::command_timed_out) return Error(errc::command_timed_out, error.detail());
  return error;
}

}  // namespace ee::agent::detail
