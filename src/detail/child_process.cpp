#include "detail/child_process.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace ee::detail {
namespace {

// A line longer than this is delivered in pieces: a child must not make its parent buffer without
// bound.
constexpr std::size_t kMaxLine = 16 * 1024;
// After the child has exited, how long its output may still take to drain. A grandchild that
// daemonised with our pipe as its stdout would otherwise keep a reader waiting for ever.
constexpr auto kDrainAfterExit = std::chrono::milliseconds(2000);
constexpr int kPollSliceMs = 100;

struct Pipe {
  int read = -1;
  int write = -1;
  ~Pipe() {
    if (read >= 0) ::close(read);
    if (write >= 0) ::close(write);
  }
  bool open() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    read = fds[0];
    write = fds[1];
    return true;
  }
  int release_read() { return std::exchange(read, -1); }
};

int status_of(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

Error spawn_error(int err, std::string const& program) {
  if (err == ENOENT || err == EACCES || err == ENOTDIR || err == ENOEXEC) {
    return Error(errc::program_not_found, program + ": " + std::strerror(err));
  }
  return Error(errc::spawn_failed, program + ": " + std::strerror(err));
}

// Everything the child needs, prepared before fork: after fork only async-signal-safe calls.
struct ExecImage {
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

ExecImage exec_image(SpawnOptions& options) {
  ExecImage image;
  std::map<std::string, std::string> env;
  if (options.inherit_env) {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string_view const entry(*e);
      auto const eq = entry.find('=');
      if (eq == std::string_view::npos) continue;
      env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
    }
  }
  for (auto const& [name, value] : options.env) env[name] = value;
  image.env_storage.reserve(env.size());
  for (auto const& [name, value] : env) image.env_storage.push_back(name + "=" + value);
  for (auto& s : image.env_storage) image.envp.push_back(s.data());
  image.envp.push_back(nullptr);
  for (auto& a : options.argv) image.argv.push_back(a.data());
  image.argv.push_back(nullptr);
  return image;
}

[[noreturn]] void exec_child(ExecImage& image, int out, int err, int report, pid_t parent) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::_exit(127);  // the parent died between fork and prctl
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) ::signal(sig, SIG_DFL);
  int const null = ::open("/dev/null", O_RDONLY);
  if (null >= 0) ::dup2(null, STDIN_FILENO);
  ::dup2(out, STDOUT_FILENO);
  ::dup2(err, STDERR_FILENO);
  ::execvpe(image.argv[0], image.argv.data(), image.envp.data());
  int const error = errno;
  [[maybe_unused]] auto n = ::write(report, &error, sizeof error);
  ::_exit(127);
}

// Reads `fd` until EOF (or until told to stop after the child exited), handing over lines.
void read_lines(int fd, bool from_stderr, LineHandler const& on_line,
                std::atomic<bool> const& closing) {
  std::string pending;
  char chunk[4096];
  auto deliver = [&](std::string_view line) {
    if (on_line) on_line(line, from_stderr);
  };
  for (;;) {
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    int const ready = ::poll(&p, 1, kPollSliceMs);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      if (closing.load()) break;
      continue;
    }
    ssize_t const n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(chunk, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (;;) {
      auto const nl = pending.find('\n', start);
      if (nl == std::string::npos) break;
      deliver(std::string_view(pending).substr(start, nl - start));
      start = nl + 1;
    }
    pending.erase(0, start);
    while (pending.size() >= kMaxLine) {
      deliver(std::string_view(pending).substr(0, kMaxLine));
      pending.erase(0, kMaxLine);
    }
  }
  if (!pending.empty()) deliver(pending);
  ::close(fd);
}

}  // namespace

result<std::unique_ptr<Child>> Child::spawn(SpawnOptions options) {
  if (options.argv.empty() || options.argv.front().empty()) {
    return Error(errc::spawn_failed, "no program to run");
  }
  auto image = exec_image(options);
  Pipe out, err, report;
  if (!out.open() || !err.open() || !report.open()) return spawn_error(errno, options.argv.front());
  pid_t const parent = ::getpid();
  pid_t const pid = ::fork();
  if (pid < 0) return spawn_error(errno, options.argv.front());
  if (pid == 0) exec_child(image, out.write, err.write, report.write, parent);

  ::setpgid(pid, pid);  // also here: whichever side runs first, the group exists before a signal
  ::close(std::exchange(out.write, -1));
  ::close(std::exchange(err.write, -1));
  ::close(std::exchange(report.write, -1));
  int exec_errno = 0;
  ssize_t got = 0;
  do {
    got = ::read(report.read, &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    int ignored = 0;
    while (::waitpid(pid, &ignored, 0) < 0 && errno == EINTR) {
    }
    return spawn_error(exec_errno, options.argv.front());
  }

  std::unique_ptr<Child> child(new Child());
  child->pid_ = pid;
  auto closing = std::make_shared<std::atomic<bool>>(false);
  child->closing_ = closing;
  auto handler = std::make_shared<LineHandler>(std::move(options.on_line));
  for (auto [fd, is_err] :
       {std::pair{out.release_read(), false}, std::pair{err.release_read(), true}}) {
    child->readers_.emplace_back(
        [fd, is_err, handler, closing] { read_lines(fd, is_err, *handler, *closing); });
  }
  child->waiter_ = std::thread([raw = child.get()] { raw->reap(); });
  return child;
}

void Child::reap() {
  int wait_status = 0;
  pid_t r = 0;
  do {
    r = ::waitpid(pid_, &wait_status, 0);
  } while (r < 0 && errno == EINTR);
  std::lock_guard lock(mutex_);
  status_ = r == pid_ ? status_of(wait_status) : -1;
  exited_.notify_all();
}

Child::~Child() {
  if (!exit_status()) stop(std::chrono::seconds(5));
  if (waiter_.joinable()) waiter_.join();
  finish_output();
}

std::optional<int> Child::exit_status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

int Child::wait() {
  {
    std::unique_lock lock(mutex_);
    exited_.wait(lock, [this] { return status_.has_value(); });
  }
  finish_output();
  return *exit_status();
}

std::optional<int> Child::wait_for(std::chrono::milliseconds timeout) {
  {
    std::unique_lock lock(mutex_);
    if (!exited_.wait_for(lock, timeout, [this] { return status_.has_value(); }))
      return std::nullopt;
  }
  finish_output();
  return exit_status();
}

void Child::finish_output() {
  std::lock_guard lock(readers_mutex_);
  if (readers_.empty()) return;
  // Let the readers drain what the child wrote; then stop waiting for writers that outlived it.
  // The stopper waits on a condition variable, not in sleep slices: joining a sleeping stopper
  // would add up to a slice to every command (run_command took ~100 ms for `true`).
  struct Drained {
    std::mutex mutex;
    std::condition_variable done;
    bool readers_done = false;
  };
  auto drained = std::make_shared<Drained>();
  auto const deadline = std::chrono::steady_clock::now() + kDrainAfterExit;
  std::thread stopper([closing = closing_, deadline, drained] {
    std::unique_lock wait_lock(drained->mutex);
    drained->done.wait_until(wait_lock, deadline, [&] { return drained->readers_done; });
    closing->store(true);
  });
  for (auto& reader : readers_) reader.join();
  readers_.clear();
  {
    std::lock_guard done_lock(drained->mutex);
    drained->readers_done = true;
  }
  drained->done.notify_all();
  closing_->store(true);
  stopper.join();
}

void Child::signal(int signal) const {
  if (exit_status()) return;  // reaped: the pid may belong to someone else now
  ::kill(-pid_, signal);
}

int Child::stop(std::chrono::milliseconds grace) {
  signal(SIGTERM);
  if (auto status = wait_for(grace)) return *status;
  signal(SIGKILL);
  return wait();
}

result<CommandResult> run_command(std::vector<std::string> argv, std::chrono::milliseconds timeout,
                                  std::map<std::string, std::string> env, std::size_t max_output) {
  auto result_text = std::make_shared<CommandResult>();
  auto text_mutex = std::make_shared<std::mutex>();
  std::string const program = argv.empty() ? std::string() : argv.front();
  SpawnOptions options{.argv = std::move(argv), .env = std::move(env)};
  options.on_line = [result_text, text_mutex, max_output](std::string_view line, bool from_stderr) {
    std::lock_guard lock(*text_mutex);
    auto& text = from_stderr ? result_text->err : result_text->out;
    if (text.size() >= max_output) return;
    text.append(line.substr(0, max_output - text.size()));
    if (text.size() < max_output) text.push_back('\n');
  };
  auto child = Child::spawn(std::move(options));
  if (!child) return child.error();
  auto status = (*child)->wait_for(timeout);
  if (!status) {
    (*child)->stop(std::chrono::seconds(2));
    return Error(errc::command_timed_out,
                 program + " did not finish within " + std::to_string(timeout.count()) + " ms");
  }
  std::lock_guard lock(*text_mutex);
  result_text->exit_status = *status;
  return std::move(*result_text);
}

}  // namespace ee::detail
