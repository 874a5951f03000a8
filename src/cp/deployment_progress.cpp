// How what an agent reports about its workload moves a deployment along. One rule, used by the
// heartbeat (routes/agents.cpp) and by the recovery pass at start (recovery.cpp), so the two
// cannot disagree about when a deployment is running or failed.
#include "cp/services.hpp"

#include "detail/log.hpp"

namespace ee::cp {

namespace {

// "name@sha256:<hex>" -> "sha256:<hex>"
std::string digest_of(std::string const& image) {
  auto const at = image.rfind('@');
  return at == std::string::npos ? std::string() : image.substr(at + 1);
}

}  // namespace

result<bool> fail_deployment(Services& s, registry::Deployment const& d, std::string const& detail, TimePoint now) {
  auto failed = s.stores.deployments->set_status_if(d.id, d.status, registry::DeploymentStatus::failed, detail, now);
  if (!failed) {
    // Another request or pass moved it first (a heartbeat, an undeploy): what it decided stands.
    if (failed.error() == registry::errc::conflict || failed.error() == registry::errc::not_found) return false;
    return failed.error();
  }
  if (auto r = s.stores.agents->release_deployment(d.agent_id, d.id); !r) {
    // The agent is gone or already holds something else: nothing of this deployment to free.
    if (r.error() != registry::errc::conflict && r.error() != registry::errc::not_found) return r.error();
  }
  return true;
}

result<Progress> apply_workload_report(Services& s, registry::AgentRecord const& agent, registry::Deployment const& d,
                                       std::string_view state, std::string_view image_digest, TimePoint now) {
  using registry::DeploymentStatus;
  if (d.status == DeploymentStatus::failed || d.status == DeploymentStatus::stopped) return Progress::unchanged;
  if (state == "failed") {
    auto failed = fail_deployment(s, d, "the agent reported the workload failed", now);
    if (!failed) return failed.error();
    return *failed ? Progress::failed : Progress::unchanged;
  }
  if (state != "running" || image_digest.empty()) return Progress::unchanged;
  auto const expected = digest_of(d.image);
  if (image_digest != expected) {
    auto const detail = "agent runs " + std::string(image_digest) + ", the catalog has " + expected;
    detail::log::warn("cp", "digest mismatch agent=", agent.id, " deployment=", d.id, " ", detail);
    auto failed = fail_deployment(s, d, detail, now);
    if (!failed) return failed.error();
    if (auto r = s.stores.agents->set_verification(agent.id, false, std::string(kDigestReason) + detail, std::nullopt); !r) {
      return r.error();
    }
    return *failed ? Progress::failed : Progress::unchanged;
  }
  if (d.status == DeploymentStatus::running) return Progress::unchanged;
  auto running = s.stores.deployments->set_status_if(d.id, d.status, DeploymentStatus::running, "", now);
  if (!running) {
    if (running.error() == registry::errc::conflict || running.error() == registry::errc::not_found) {
      return Progress::unchanged;
    }
    return running.error();
  }
  return Progress::running;
}

}  // namespace ee::cp
