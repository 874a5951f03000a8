// The agent's process layer (child processes, supervision), its log buffer and the process
// workload runtime, with real processes (/bin/sh).
#include "detail/child_process.hpp"
#include "agent/supervisor.hpp"
#include "support/temp_dir.hpp"

#include <easyenclave/agent/error.hpp>
#include <easyenclave/agent/log_buffer.hpp>
#include <easyenclave/agent/workload.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include <sys/stat.h>

namespace {

using namespace std::chrono_literals;
using ee::agent::LogBuffer;
using ee::detail::Child;
using ee::detail::run_command;
using ee::agent::detail::SupervisedState;
using ee::agent::detail::Supervisor;

// Polls `predicate` for up to `timeout`.
template <class Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout = 10s) {
  auto const deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return predicate();
}

std::string texts(LogBuffer const& logs, std::string_view source = {}) {
  std::string out;
  for (auto const& line : logs.read()) {
    if (source.empty() || line.source == source) out += line.text + "\n";
  }
  return out;
}

// --- LogBuffer --------------------------------------------------------------------------------

TEST(LogBuffer, KeepsLinesInOrderWithSequenceNumbers) {
  LogBuffer logs;
  logs.append("agent", "one");
  logs.append("tunnel", "two");
  auto const lines = logs.read();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].seq, 1u);
  EXPECT_EQ(lines[0].source, "agent");
  EXPECT_EQ(lines[1].text, "two");
  EXPECT_EQ(lines[1].seq, 2u);
}

TEST(LogBuffer, DropsTheOldestLinesToStayUnderItsCap) {
  LogBuffer logs(1000, 200);
  for (int i = 0; i < 100; ++i) logs.append("workload", "line " + std::to_string(i));
  EXPECT_LE(logs.bytes(), 1000u);
  EXPECT_GT(logs.dropped(), 0u);
  auto const lines = logs.read();
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back().text, "line 99");  // the newest is never dropped
  EXPECT_EQ(lines.size() + logs.dropped(), 100u);
}

TEST(LogBuffer, CutsLongLines) {
  LogBuffer logs(100'000, 16);
  logs.append("workload", std::string(1000, 'x'));
  auto const lines = logs.read();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].text, std::string(13, 'x') + "...");
}

TEST(LogBuffer, ReadsTheLastLinesSinceATime) {
  LogBuffer logs;
  auto const t0 = std::chrono::system_clock::time_point{} + 1000s;
  for (int i = 0; i < 10; ++i)
    logs.append("agent", std::to_string(i), t0 + std::chrono::seconds(i));
  auto since = logs.read(t0 + 5s);
  ASSERT_EQ(since.size(), 5u);
  EXPECT_EQ(since.front().text, "5");
  auto last = logs.read(std::nullopt, 3);
  ASSERT_EQ(last.size(), 3u);
  EXPECT_EQ(last.front().text, "7");
  auto both = logs.read(t0 + 5s, 2);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both.front().text, "8");
  EXPECT_TRUE(logs.read(t0 + 100s).empty());
  EXPECT_EQ(logs.read(std::nullopt, 100).size(), 10u);
}

// --- child processes ----------------------------------------------------------------------------

TEST(ChildProcess, RunsACommandAndCapturesBothStreams) {
  auto r = run_command({"/bin/sh", "-c", "echo out1; echo err1 >&2; echo out2; exit 3"}, 10s);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->exit_status, 3);
  EXPECT_EQ(r->out, "out1\nout2\n");
  EXPECT_EQ(r->err, "err1\n");
}

TEST(ChildProcess, PassesEnvironmentWithoutAShell) {
  auto r = run_command({"/bin/sh", "-c", "printf '%s' \"$EE_TEST_VALUE\""}, 10s,
                       {{"EE_TEST_VALUE", "a b; $(not run) `x`"}});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->out, "a b; $(not run) `x`\n");
}

TEST(ChildProcess, AMissingProgramIsProgramNotFound) {
  auto r = run_command({"/nonexistent/ee-no-such-program"}, 10s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::errc::program_not_found);
  auto by_name = run_command({"ee-no-such-program-in-path"}, 10s);
  ASSERT_FALSE(by_name);
  EXPECT_EQ(by_name.error(), ee::errc::program_not_found);
}

TEST(ChildProcess, AFileThatIsNotExecutableIsProgramNotFound) {
  ee::test::TempDir dir;
  auto const path = dir.write("not-executable", "#!/bin/sh\necho hi\n");
  auto r = run_command({path.string()}, 10s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::errc::program_not_found);
}

TEST(ChildProcess, ACommandThatOutlivesItsTimeoutIsKilled) {
  auto const start = std::chrono::steady_clock::now();
  auto r = run_command({"/bin/sh", "-c", "sleep 30"}, 300ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::errc::command_timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST(ChildProcess, CapsCapturedOutput) {
  auto r = run_command(
      {"/bin/sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo 0123456789; i=$((i+1)); done"}, 10s,
      {}, 1000);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->exit_status, 0);
  EXPECT_EQ(r->out.size(), 1000u);
}

TEST(ChildProcess, StopEndsTheWholeProcessGroup) {
  ee::test::TempDir dir;
  auto const marker = dir.path() / "grandchild-alive";
  // The grandchild keeps touching a file; after stop() it must be gone too.
  ee::detail::SpawnOptions options;
  options.argv = {"/bin/sh", "-c",
                  "(while true; do touch '" + marker.string() + "'; sleep 0.05; done) & wait"};
  auto child = Child::spawn(options);
  ASSERT_TRUE(child) << child.error().message();
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(marker); }));
  int const status = (*child)->stop(2s);
  EXPECT_EQ(status, 128 + SIGTERM);
  std::filesystem::remove(marker);
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(std::filesystem::exists(marker)) << "the grandchild survived";
}

TEST(ChildProcess, AChildIgnoringSigtermIsKilledAfterTheGrace) {
  ee::detail::SpawnOptions options;
  options.argv = {"/bin/sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.05; done"};
  std::atomic<bool> ready{false};
  options.on_line = [&](std::string_view line, bool) { ready = ready || line == "ready"; };
  auto child = Child::spawn(options);
  ASSERT_TRUE(child) << child.error().message();
  ASSERT_TRUE(eventually([&] { return ready.load(); }));
  EXPECT_EQ((*child)->stop(200ms), 128 + SIGKILL);
}

// --- supervision ---------------------------------------------------------------------------------

TEST(Supervisor, RestartsAChildThatExitsAndCapturesItsOutput) {
  auto logs = std::make_shared<LogBuffer>();
  ee::agent::detail::SupervisorOptions options;
  options.name = "tunnel";
  options.logs = logs;
  options.min_delay = 20ms;
  options.max_delay = 100ms;
  options.spawn.argv = {"/bin/sh", "-c", "echo started; exit 7"};
  Supervisor supervisor(options);
  supervisor.start();
  ASSERT_TRUE(eventually([&] { return supervisor.status().starts >= 3; }));
  auto const status = supervisor.status();
  EXPECT_EQ(status.last_exit, 7);
  EXPECT_NE(texts(*logs, "tunnel").find("started\n"), std::string::npos);
  EXPECT_NE(texts(*logs, "tunnel").find("exited with status 7"), std::string::npos);
  supervisor.stop();
  EXPECT_EQ(supervisor.status().state, SupervisedState::stopped);
}

TEST(Supervisor, ReportsAMissingBinaryWithoutSpinning) {
  auto logs = std::make_shared<LogBuffer>();
  ee::agent::detail::SupervisorOptions options;
  options.name = "tunnel";
  options.logs = logs;
  options.spawn.argv = {"/nonexistent/cloudflared", "tunnel", "run"};
  Supervisor supervisor(options);
  supervisor.start();
  ASSERT_TRUE(
      eventually([&] { return supervisor.status().state == SupervisedState::missing_binary; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(supervisor.status().starts, 0);
  EXPECT_NE(supervisor.status().detail.find("/nonexistent/cloudflared"), std::string::npos);
  auto const start = std::chrono::steady_clock::now();
  supervisor.stop();  // wakes the slow retry at once
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(Supervisor, StopEndsALongRunningChild) {
  ee::agent::detail::SupervisorOptions options;
  options.name = "cp";
  options.spawn.argv = {"/bin/sh", "-c", "exec sleep 60"};
  Supervisor supervisor(options);
  supervisor.start();
  ASSERT_TRUE(eventually([&] { return supervisor.status().state == SupervisedState::running; }));
  pid_t const pid = supervisor.status().pid;
  ASSERT_GT(pid, 0);
  supervisor.stop();
  EXPECT_EQ(supervisor.status().state, SupervisedState::stopped);
  EXPECT_NE(::kill(pid, 0), 0);  // reaped: no such process
}

// --- the process workload runtime ----------------------------------------------------------------

constexpr char kImage[] =
    "registry.example/octo/"
    "hello@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

TEST(ProcessRuntime, RunsTheCommandWithTheSpecsEnvironmentAndReportsThePinnedDigest) {
  auto logs = std::make_shared<LogBuffer>();
  auto runtime = ee::agent::make_process_runtime(
      {.command = {"/bin/sh", "-c",
                   "echo app=$EE_APP_NAME greeting=$GREETING port=$PORT; exec sleep 60"},
       .logs = logs});
  EXPECT_EQ(runtime->status().state, ee::agent::WorkloadState::idle);
  ee::agent::WorkloadSpec spec{.deployment_id = "dep-1",
                               .app_name = "hello",
                               .version = "1.0.0",
                               .image = kImage,
                               .env = {{"GREETING", "hi"}}};
  auto ran = runtime->run(spec);
  ASSERT_TRUE(ran) << ran.error().message();
  auto status = runtime->status();
  EXPECT_EQ(status.state, ee::agent::WorkloadState::running);
  EXPECT_EQ(status.deployment_id, "dep-1");
  EXPECT_EQ(status.image_digest, "sha256:" + std::string(64, 'a'));
  ASSERT_TRUE(eventually([&] {
    return texts(*logs, "workload").find("app=hello greeting=hi port=8080") != std::string::npos;
  }));
  ASSERT_TRUE(runtime->stop());
  EXPECT_EQ(runtime->status().state, ee::agent::WorkloadState::stopped);
  EXPECT_TRUE(runtime->stop());  // idempotent
}

TEST(ProcessRuntime, ANewDeploymentReplacesTheRunningOne) {
  auto logs = std::make_shared<LogBuffer>();
  auto runtime = ee::agent::make_process_runtime(
      {.command = {"/bin/sh", "-c", "echo serving $EE_DEPLOYMENT_ID; exec sleep 60"},
       .logs = logs});
  ASSERT_TRUE(runtime->run({.deployment_id = "dep-1", .app_name = "a", .image = kImage}));
  ASSERT_TRUE(runtime->run({.deployment_id = "dep-2", .app_name = "a", .image = kImage}));
  EXPECT_EQ(runtime->status().deployment_id, "dep-2");
  ASSERT_TRUE(eventually(
      [&] { return texts(*logs, "workload").find("serving dep-2") != std::string::npos; }));
}

TEST(ProcessRuntime, RefusesAnImageNotPinnedByDigestAndAMissingCommand) {
  auto runtime = ee::agent::make_process_runtime({.command = {"/bin/true"}});
  auto unpinned =
      runtime->run({.deployment_id = "d", .app_name = "a", .image = "registry.example/a:latest"});
  ASSERT_FALSE(unpinned);
  EXPECT_EQ(unpinned.error(), ee::condition::invalid_input);
  auto missing = ee::agent::make_process_runtime({.command = {"/nonexistent/server"}})
                     ->run({.deployment_id = "d", .app_name = "a", .image = kImage});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), ee::agent::errc::program_not_found);
}

TEST(ProcessRuntime, ACommandThatKeepsExitingIsNotReportedRunning) {
  auto runtime = ee::agent::make_process_runtime(
      {.command = {"/bin/sh", "-c", "exit 1"}, .restart_delay = 50ms, .max_restart_delay = 100ms});
  // run() may catch it running for an instant, or report that it did not stay up: either way,
  // what the runtime reports must never carry a digest while it is not running.
  (void)runtime->run({.deployment_id = "d", .app_name = "a", .image = kImage});
  auto const status = runtime->status();
  if (status.state != ee::agent::WorkloadState::running) {
    EXPECT_TRUE(status.image_digest.empty());
  }
  ASSERT_TRUE(eventually([&] { return runtime->status().restarts >= 2; }));
}

}  // namespace
