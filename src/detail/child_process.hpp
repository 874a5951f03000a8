#pragma once
// Child processes: the agent's (cloudflared, the workload through podman or a local command and,
// in cp-bootstrap mode, ee-cp) and the launcher's (QEMU, the disk tools). Each runs in a process group of its own (so stopping it stops what it
// started) and gets SIGTERM when the agent dies (PR_SET_PDEATHSIG), so a crashed agent leaves no
// orphans behind for the restarted one to trip over. Output is read line by line on threads of
// its own and handed to a callback, typically the log buffer.
//
// PR_SET_PDEATHSIG fires when the *thread* that spawned the child exits, not only the process:
// spawn long-running children from threads that outlive them (a supervisor's own thread, a
// pool's worker), never from a short-lived thread.
#include <easyenclave/error.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace ee::detail {

/// Receives each line a child writes (without its newline; longer lines arrive in pieces).
/// Called from the child's reader threads, so it must be thread-safe.
using LineHandler = std::function<void(std::string_view line, bool from_stderr)>;

struct SpawnOptions {
  /// argv[0] is the program: a path, or a name looked up in PATH.
  std::vector<std::string> argv{};
  /// Added to (and overriding) the caller's own environment.
  std::map<std::string, std::string> env{};
  /// When false the child sees only `env`.
  bool inherit_env = true;
  LineHandler on_line{};
};

/// A running child. Thread-safe. The destructor stops it (SIGTERM, then SIGKILL) if it runs.
class Child {
 public:
  /// Starts `options.argv`. errc::program_not_found when exec finds no such program (or
  /// may not run it), spawn_failed for any other failure. Never throws (except bad_alloc).
  static result<std::unique_ptr<Child>> spawn(SpawnOptions options);
  ~Child();
  Child(Child const&) = delete;
  Child& operator=(Child const&) = delete;

  pid_t pid() const noexcept { return pid_; }
  /// The exit status once it has exited: the exit code, or 128 + the signal number.
  std::optional<int> exit_status() const;
  /// Blocks until the child exits; returns its exit status.
  int wait();
  /// Waits at most `timeout`; nullopt while it still runs.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  /// Sends `signal` to the child's process group.
  void signal(int signal) const;
  /// SIGTERM to the group, `grace` to exit, then SIGKILL; returns the exit status. Output read
  /// until then has been delivered when it returns.
  int stop(std::chrono::milliseconds grace);

 private:
  Child() = default;
  void reap();
  // Joins the output readers once the child has exited (bounded: see kDrainAfterExit).
  void finish_output();

  pid_t pid_ = -1;
  mutable std::mutex mutex_;
  std::condition_variable exited_;
  std::optional<int> status_{};
  std::thread waiter_;
  std::mutex readers_mutex_;
  std::vector<std::thread> readers_;
  std::shared_ptr<std::atomic<bool>> closing_;  // tells the readers to stop waiting for output
};

struct CommandResult {
  int exit_status = -1;  ///< exit code, or 128 + signal
  std::string out{};
  std::string err{};
};

/// Runs `argv` to completion, capturing at most `max_output` bytes of each stream (the rest is
/// read and dropped). Blocking. errc::program_not_found / spawn_failed when it cannot
/// start, command_timed_out (the child killed) after `timeout`. A non-zero exit is a result, not
/// an error.
result<CommandResult> run_command(std::vector<std::string> argv, std::chrono::milliseconds timeout,
                                  std::map<std::string, std::string> env = {},
                                  std::size_t max_output = 1024 * 1024);

}  // namespace ee::detail
