// The process workload runtime: a local command stands in for the image (tests, make demo). It is
// supervised like cloudflared: restarted with backoff when it exits, its output in the log buffer.
#include <easyenclave/agent/error.hpp>
#include <easyenclave/agent/workload.hpp>
#include <easyenclave/api/image_reference.hpp>

#include "agent/supervisor.hpp"

#include <mutex>
#include <thread>

namespace ee::agent {
namespace {

// How long run() waits to see the command come up (or be missing) before it answers.
constexpr auto kStartCheck = std::chrono::milliseconds(2000);

class ProcessRuntime final : public WorkloadRuntime {
 public:
  explicit ProcessRuntime(ProcessRuntimeOptions options) : options_(std::move(options)) {}
  ~ProcessRuntime() override { (void)stop(); }

  result<void> run(WorkloadSpec const& spec) override {
    auto image = api::ImageReference::parse_pinned(spec.image);
    if (!image) return image.error();
    if (options_.command.empty())
      return Error(errc::invalid_config, "the process runtime has no command");
    detail::SupervisorOptions supervised;
    supervised.name = "workload";
    supervised.logs = options_.logs;
    supervised.min_delay = options_.restart_delay;
    supervised.max_delay = options_.max_restart_delay;
    supervised.spawn.argv = options_.command;
    supervised.spawn.env = spec.env;
    supervised.spawn.env["EE_IMAGE"] = spec.image;
    supervised.spawn.env["EE_APP_NAME"] = spec.app_name;
    supervised.spawn.env["EE_APP_VERSION"] = spec.version;
    supervised.spawn.env["EE_DEPLOYMENT_ID"] = spec.deployment_id;
    supervised.spawn.env["PORT"] = std::to_string(options_.port);
    auto next = std::make_unique<detail::Supervisor>(std::move(supervised));
    std::unique_ptr<detail::Supervisor> previous;
    {
      std::lock_guard lock(mutex_);
      previous = std::move(supervisor_);
      spec_ = spec;
      digest_ = image->digest();
      since_ = std::chrono::system_clock::now();
      stopped_ = false;
    }
    if (previous) previous->stop();  // outside the lock: it takes up to the stop grace
    next->start();
    auto* started = next.get();
    {
      std::lock_guard lock(mutex_);
      supervisor_ = std::move(next);
    }
    auto const deadline = std::chrono::steady_clock::now() + kStartCheck;
    for (;;) {
      auto const s = started->status();
      if (s.state == detail::SupervisedState::running) return {};
      if (s.state == detail::SupervisedState::missing_binary) {
        return Error(errc::program_not_found, "workload command: " + s.detail);
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return Error(errc::command_failed, "workload command did not stay up: " + s.detail);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  result<void> stop() override {
    std::unique_ptr<detail::Supervisor> current;
    {
      std::lock_guard lock(mutex_);
      current = std::move(supervisor_);
      if (current) {
        stopped_ = true;
        since_ = std::chrono::system_clock::now();
      }
    }
    if (current) current->stop();
    return {};
  }

  WorkloadStatus status() override {
    std::lock_guard lock(mutex_);
    WorkloadStatus out;
    out.since = since_;
    if (spec_.image.empty()) return out;  // idle: never deployed
    out.deployment_id = spec_.deployment_id;
    out.image = spec_.image;
    if (stopped_) {
      out.state = WorkloadState::stopped;
      return out;
    }
    if (!supervisor_) {  // run() is replacing the previous command
      out.state = WorkloadState::starting;
      return out;
    }
    auto const s = supervisor_->status();
    out.restarts = s.starts > 0 ? s.starts - 1 : 0;
    out.detail = s.detail;
    switch (s.state) {
      case detail::SupervisedState::running:
        out.state = WorkloadState::running;
        out.image_digest = digest_;
        break;
      case detail::SupervisedState::missing_binary:
        out.state = WorkloadState::failed;
        break;
      case detail::SupervisedState::stopped:
        out.state = WorkloadState::stopped;
        break;
      case detail::SupervisedState::not_started:
      case detail::SupervisedState::restarting:
        out.state = WorkloadState::starting;
        break;
    }
    return out;
  }

  std::string_view name() const noexcept override { return "process"; }

 private:
  ProcessRuntimeOptions const options_;
  std::mutex mutex_;
  WorkloadSpec spec_{};
  std::string digest_{};  ///< spec_.image's
  std::chrono::system_clock::time_point since_{};
  bool stopped_ = false;
  std::unique_ptr<detail::Supervisor> supervisor_;
};

}  // namespace

std::shared_ptr<WorkloadRuntime> make_process_runtime(ProcessRuntimeOptions options) {
  return std::make_shared<ProcessRuntime>(std::move(options));
}

}  // namespace ee::agent
