#pragma once
// A DeploymentStore that counts each status a deployment is written into
// (ee_cp_deployment_status_changes_total{status}) and forwards everything to the store it wraps.
// Counting at the store, not at each call site, counts every move, including the consequences
// deployment_lifecycle.cpp writes (a replaced deployment stopped, queued steps halted).
#include <easyenclave/metrics.hpp>
#include <easyenclave/registry/store.hpp>

#include <memory>

namespace ee::cp {

std::shared_ptr<registry::DeploymentStore> count_status_changes(std::shared_ptr<registry::DeploymentStore> inner,
                                                                metrics::Family<metrics::Counter>& changes);

}  // namespace ee::cp
