#pragma once
// Keeps one child process running: starts it, restarts it with exponential backoff and jitter
// when it exits, reports a missing binary instead of spinning on it, and captures its output into
// the log buffer. Used for cloudflared, the process workload runtime and, in cp-bootstrap mode,
// ee-cp.
#include "agent/processes.hpp"

#include <easyenclave/agent/log_buffer.hpp>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace ee::agent::detail {

enum class SupervisedState {
  not_started,
  running,
  restarting,      ///< exited; waiting out the backoff before the next start
  missing_binary,  ///< the program does not exist (retried slowly, in case it appears)
  stopped,
};
std::string_view to_string(SupervisedState state) noexcept;

struct SupervisorOptions {
  /// The log source of its output ("tunnel", "workload", "cp").
  std::string name{};
  /// argv, env and inherit_env; on_line is set by the supervisor.
  SpawnOptions spawn{};
  std::shared_ptr<LogBuffer> logs{};
  std::chrono::milliseconds min_delay{500};
  std::chrono::milliseconds max_delay{30'000};
  /// A run this long resets the backoff to `min_delay`.
  std::chrono::milliseconds stable_after{10'000};
  std::chrono::milliseconds stop_grace{5'000};
};

struct SupervisedStatus {
  SupervisedState state = SupervisedState::not_started;
  int starts = 0;  ///< successful starts; restarts = starts - 1
  std::optional<int> last_exit{};
  std::string detail{};
  pid_t pid = -1;
};

/// Thread-safe. The destructor stops the child.
class Supervisor {
 public:
  explicit Supervisor(SupervisorOptions options);
  ~Supervisor();
  Supervisor(Supervisor const&) = delete;
  Supervisor& operator=(Supervisor const&) = delete;

  /// Starts supervising (once; later calls do nothing).
  void start();
  /// Stops the child (SIGTERM, then SIGKILL after stop_grace) and the supervision; blocks until
  /// both are done. Idempotent.
  void stop();
  SupervisedStatus status() const;

 private:
  void run();
  void set_state(SupervisedState state, std::string detail = {});
  // Sleeps `delay`, or less when stop() is called; true when stopping.
  bool wait_or_stop(std::chrono::milliseconds delay);

  SupervisorOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool started_ = false;
  std::shared_ptr<Child> child_;
  SupervisedStatus status_;
  std::thread thread_;
};

}  // namespace ee::agent::detail
