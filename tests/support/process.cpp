#include "support/process.hpp"

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace ee::test {
namespace {

std::string slurp(std::filesystem::path const& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

std::filesystem::path program(std::string const& name) {
  return std::filesystem::path(EE_PROGRAM_DIR) / name;
}

Process::Process(std::vector<std::string> const& argv, std::map<std::string, std::string> const& env) {
  auto pattern = (std::filesystem::temp_directory_path() / "ee-proc-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;

  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    auto const key = entry.substr(0, entry.find('='));
    if (!env.count(key)) env_storage.push_back(std::move(entry));
  }
  for (auto const& [k, v] : env) env_storage.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_storage) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& s : args) argp.push_back(s.data());
  argp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  auto const out_path = (dir_ / "stdout").string();
  auto const err_path = (dir_ / "stderr").string();
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int const rc = ::posix_spawn(&pid_, argp[0], &actions, nullptr, argp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("posix_spawn " + args.at(0) + " failed: " + std::to_string(rc));
}

Process::~Process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(10));
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string Process::out() const { return slurp(dir_ / "stdout"); }
std::string Process::err() const { return slurp(dir_ / "stderr"); }

void Process::signal(int signo) const {
  if (pid_ > 0) ::kill(pid_, signo);
}

bool Process::running() {
  if (exit_code_) return false;
  int status = 0;
  pid_t const r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  exit_code_ = (r == pid_ && WIFEXITED(status)) ? WEXITSTATUS(status)
               : (r == pid_ && WIFSIGNALED(status)) ? 128 + WTERMSIG(status)
                                                    : -1;
  return false;
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  auto const deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_code_;
}

Completed run(std::vector<std::string> const& argv, std::map<std::string, std::string> const& env,
              std::chrono::milliseconds timeout) {
  Process p(argv, env);
  Completed c;
  auto const code = p.wait(timeout);
  if (!code) {
    c.timed_out = true;
    p.signal(SIGKILL);
    p.wait(std::chrono::seconds(10));
  } else {
    c.exit_code = *code;
  }
  c.out = p.out();
  c.err = p.err();
  return c;
}

std::string listening_url(Process& process, std::chrono::milliseconds timeout) {
  static std::regex const re(R"re("event":"listening","url":"([^"]+)")re");
  std::string url;
  process.wait_for_output(
      [&url](std::string const& out) {
        std::smatch m;
        if (!std::regex_search(out, m, re)) return false;
        url = m[1];
        return true;
      },
      timeout);
  return url;
}

}  // namespace ee::test
