#pragma once
// Runs the project's real programs (ee, ee-cp, later ee-agent) from tests: spawn with arguments
// and extra environment, capture stdout and stderr to files, wait with a timeout, signal, kill.
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>
#include <string>
#include <vector>

#include <sys/types.h>

namespace ee::test {

/// Path of a program built by this project (`ee`, `ee-cp`, ...).
std::filesystem::path program(std::string const& name);

struct Completed {
  int exit_code = -1;  ///< -1 when killed by a signal or timed out
  std::string out;
  std::string err;
  bool timed_out = false;
};

/// Runs `argv` to completion (killed after `timeout`).
Completed run(std::vector<std::string> const& argv, std::map<std::string, std::string> const& env = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(30));

/// A running child. Killed (SIGKILL) and reaped on destruction if still running.
class Process {
 public:
  Process(std::vector<std::string> const& argv, std::map<std::string, std::string> const& env = {});
  ~Process();
  Process(Process const&) = delete;
  Process& operator=(Process const&) = delete;

  pid_t pid() const noexcept { return pid_; }
  /// Everything the child wrote so far.
  std::string out() const;
  std::string err() const;
  /// Waits until `predicate(out())` holds, polling; false on timeout or when the child exits.
  template <class Predicate>
  bool wait_for_output(Predicate predicate, std::chrono::milliseconds timeout);
  /// Sends `signal`.
  void signal(int signal) const;
  /// Waits for exit; the exit code, or nullopt on timeout. A signal death gives 128 + signo.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

/// The "url" of the `{"event":"listening","url":...}` line the project's programs print on
/// stdout once they serve; "" when none appears within `timeout` (or the program exits).
std::string listening_url(Process& process, std::chrono::milliseconds timeout = std::chrono::seconds(20));

template <class Predicate>
bool Process::wait_for_output(Predicate predicate, std::chrono::milliseconds timeout) {
  auto const deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate(out())) return true;
    if (!running()) return predicate(out());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace ee::test
