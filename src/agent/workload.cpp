#include <easyenclave/agent/workload.hpp>

namespace ee::agent {

std::string_view to_string(WorkloadState state) noexcept {
  switch (state) {
    case WorkloadState::idle:
      return "idle";
    case WorkloadState::pulling:
      return "pulling";
    case WorkloadState::starting:
      return "starting";
    case WorkloadState::running:
      return "running";
    case WorkloadState::stopped:
      return "stopped";
    case WorkloadState::failed:
      return "failed";
  }
  return "unknown";
}

}  // namespace ee::agent
