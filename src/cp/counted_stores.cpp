#include "cp/counted_stores.hpp"

namespace ee::cp {
namespace {

class CountedDeployments final : public registry::DeploymentStore {
 public:
  CountedDeployments(std::shared_ptr<registry::DeploymentStore> inner, metrics::Family<metrics::Counter>& changes)
      : inner_(std::move(inner)), changes_(changes) {}

  result<registry::Deployment> insert(registry::Deployment const& d) override { return counted(inner_->insert(d)); }
  result<registry::Deployment> insert_holding(registry::Deployment const& d, std::string const& held_now) override {
    return counted(inner_->insert_holding(d, held_now));
  }
  result<registry::Deployment> get(std::string const& id) override { return inner_->get(id); }
  result<std::vector<registry::DeploymentChange>> history(std::string const& id) override {
    return inner_->history(id);
  }
  result<std::vector<registry::Deployment>> list(registry::DeploymentFilter const& filter) override {
    return inner_->list(filter);
  }
  result<registry::Deployment> set_status(std::string const& id, registry::DeploymentStatus status,
                                          std::string const& detail, registry::TimePoint at) override {
    return counted(inner_->set_status(id, status, detail, at));
  }
  result<registry::Deployment> set_status_if(std::string const& id, registry::DeploymentStatus expected,
                                             registry::DeploymentStatus status, std::string const& detail,
                                             registry::TimePoint at, registry::AgentHold hold) override {
    return counted(inner_->set_status_if(id, expected, status, detail, at, hold));
  }
  result<registry::Deployment> start_queued(std::string const& id, std::string const& held_now,
                                            registry::TimePoint at) override {
    return counted(inner_->start_queued(id, held_now, at));
  }

 private:
  result<registry::Deployment> counted(result<registry::Deployment> written) {
    if (written) changes_.with({registry::to_string(written->status)}).inc();
    return written;
  }

  std::shared_ptr<registry::DeploymentStore> inner_;
  metrics::Family<metrics::Counter>& changes_;
};

}  // namespace

std::shared_ptr<registry::DeploymentStore> count_status_changes(std::shared_ptr<registry::DeploymentStore> inner,
                                                                metrics::Family<metrics::Counter>& changes) {
  return std::make_shared<CountedDeployments>(std::move(inner), changes);
}

}  // namespace ee::cp
