#include "agent/supervisor.hpp"

#include <easyenclave/agent/error.hpp>

#include "detail/log.hpp"

#include <algorithm>
#include <random>

namespace ee::agent::detail {
namespace {

namespace core = ::ee::detail;
constexpr char kComponent[] = "agent";
// A missing binary is retried this rarely: it may be installed later, but not in a loop.
constexpr auto kMissingBinaryDelay = std::chrono::seconds(30);

// Full jitter over the upper half (AWS architecture blog, "Exponential Backoff And Jitter"):
// restarts of many agents spread out, and no delay collapses to zero.
std::chrono::milliseconds jittered(std::chrono::milliseconds delay) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  auto const half = delay.count() / 2;
  std::uniform_int_distribution<long long> spread(0, std::max<long long>(half, 0));
  return std::chrono::milliseconds(delay.count() - half + spread(random));
}

}  // namespace

std::string_view to_string(SupervisedState state) noexcept {
  switch (state) {
    case SupervisedState::not_started:
      return "not_started";
    case SupervisedState::running:
      return "running";
    case SupervisedState::restarting:
      return "restarting";
    case SupervisedState::missing_binary:
      return "missing_binary";
    case SupervisedState::stopped:
      return "stopped";
  }
  return "unknown";
}

Supervisor::Supervisor(SupervisorOptions options) : options_(std::move(options)) {
  auto logs = options_.logs;
  auto source = options_.name;
  options_.spawn.on_line = [logs, source](std::string_view line, bool) {
    if (logs) logs->append(source, line);
  };
}

Supervisor::~Supervisor() { stop(); }

void Supervisor::start() {
  std::lock_guard lock(mutex_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] { run(); });
}

void Supervisor::stop() {
  std::shared_ptr<Child> child;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    child = child_;
  }
  wake_.notify_all();
  if (child) child->stop(options_.stop_grace);
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  if (status_.state != SupervisedState::not_started) status_.state = SupervisedState::stopped;
  status_.pid = -1;
}

SupervisedStatus Supervisor::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

void Supervisor::set_state(SupervisedState state, std::string detail) {
  std::lock_guard lock(mutex_);
  status_.state = state;
  status_.detail = std::move(detail);
}

bool Supervisor::wait_or_stop(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  return wake_.wait_for(lock, delay, [this] { return stopping_; });
}

void Supervisor::run() {
  auto delay = options_.min_delay;
  auto const program = options_.spawn.argv.empty() ? std::string() : options_.spawn.argv.front();
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    auto spawned = Child::spawn(options_.spawn);
    if (!spawned) {
      bool const missing = spawned.error() == ::ee::errc::program_not_found;
      core::log::warn(kComponent, options_.name, " could not start: ", spawned.error().message());
      if (options_.logs)
        options_.logs->append(options_.name, "could not start: " + spawned.error().message());
      set_state(missing ? SupervisedState::missing_binary : SupervisedState::restarting,
                spawned.error().message());
      if (wait_or_stop(missing ? std::chrono::milliseconds(kMissingBinaryDelay) : jittered(delay)))
        return;
      delay = std::min(delay * 2, options_.max_delay);
      continue;
    }
    std::shared_ptr<Child> child(std::move(*spawned));
    auto const started_at = std::chrono::steady_clock::now();
    bool abandoned = false;
    {
      std::lock_guard lock(mutex_);
      // stop() may have run between spawn and here without seeing this child: stop it ourselves.
      abandoned = stopping_;
      if (!abandoned) {
        child_ = child;
        ++status_.starts;
        status_.state = SupervisedState::running;
        status_.detail.clear();
        status_.pid = child->pid();
      }
    }
    if (abandoned) {
      child->stop(options_.stop_grace);
      return;
    }
    core::log::info(kComponent, options_.name, " started pid=", child->pid(), " program=", program);
    int const exit_status = child->wait();
    {
      std::lock_guard lock(mutex_);
      child_.reset();
      status_.last_exit = exit_status;
      status_.pid = -1;
      if (stopping_) return;
    }
    if (std::chrono::steady_clock::now() - started_at >= options_.stable_after)
      delay = options_.min_delay;
    auto const wait = jittered(delay);
    core::log::warn(kComponent, options_.name, " exited status=", exit_status, "; restarting in ",
                    wait.count(), " ms");
    if (options_.logs) {
      options_.logs->append(options_.name, "exited with status " + std::to_string(exit_status) +
                                               "; restarting in " + std::to_string(wait.count()) +
                                               " ms");
    }
    set_state(SupervisedState::restarting, "exited with status " + std::to_string(exit_status));
    if (wait_or_stop(wait)) return;
    delay = std::min(delay * 2, options_.max_delay);
  }
}

}  // namespace ee::agent::detail
