#pragma once
// What the launcher's VM tests share: plans made by hand (so these tests do not depend on
// plan_launch), and small process helpers.
#include "detail/child_process.hpp"

#include <easyenclave/api/boot_config.hpp>
#include <easyenclave/launcher/launcher.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/types.h>

namespace ee::test {

/// A plan for VM `name` under `root` with plan_launch's file names, an agent configuration and
/// its kernel command-line parameter; the QEMU command line is left to the test.
inline launcher::LaunchPlan vm_plan(std::filesystem::path const& root, std::string const& name) {
  launcher::LaunchPlan p;
  p.name = name;
  p.size = {.name = "tiny", .memory_gib = 4, .vcpus = 4};
  p.agent_config = R"({"mode":"agent","owner":"github:org/acme","node_size":"tiny",)"
                   R"("cp_url":"https://cp.example.com","vm_name":")" + name + R"("})";
  p.config_param = api::encode_boot_config(p.agent_config).value();
  p.vm_dir = root / name;
  p.serial_log = p.vm_dir / "serial.log";
  p.qmp_socket = p.vm_dir / "qmp.sock";
  p.pid_file = p.vm_dir / "qemu.pid";
  p.config_file = p.vm_dir / "agent.json";
  return p;
}

/// The options that make QEMU (or the stand-in) a daemon the launcher can manage.
inline std::vector<std::string> vm_plumbing(launcher::LaunchPlan const& p) {
  return {"-serial", "file:" + p.serial_log.string(),
          "-qmp",    "unix:" + p.qmp_socket.string() + ",server=on,wait=off",
          "-daemonize", "-pidfile", p.pid_file.string()};
}

/// Polls `predicate` until it holds or `timeout` passes.
template <class Predicate>
bool eventually(Predicate predicate,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
  auto const deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return predicate();
}

/// True while `pid` runs (a zombie does not).
inline bool process_alive(pid_t pid) {
  if (pid <= 1 || ::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto const close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'Z';
}

/// The pid in a pid file; -1 when there is none.
inline pid_t read_pid_file(std::filesystem::path const& path) {
  std::ifstream in(path);
  long pid = -1;
  if (!(in >> pid)) return -1;
  return static_cast<pid_t>(pid);
}

/// Runs a tool to completion: "" when it exits 0, else what went wrong.
inline std::string run_tool(std::vector<std::string> argv,
                            std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  auto const program = argv.empty() ? std::string() : argv.front();
  auto done = ::ee::detail::run_command(std::move(argv), timeout);
  if (!done) return program + ": " + done.error().message();
  if (done->exit_status != 0) {
    return program + " exited with " + std::to_string(done->exit_status) + ": " + done->err;
  }
  return {};
}

}  // namespace ee::test
