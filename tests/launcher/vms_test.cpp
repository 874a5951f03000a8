// The VM lifecycle for real against a stand-in QEMU (fake_qemu.py beside this file): it
// daemonises, writes its pid file and serial log, and answers QMP on its socket as QEMU does,
// so launch, list, logs and stop run their real code paths without a hypervisor.
#include "launcher/vm_fixtures.hpp"
#include "support/containers.hpp"
#include "support/temp_dir.hpp"

#include <easyenclave/launcher/launcher.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace launcher = ee::launcher;
using ee::test::eventually;
using ee::test::process_alive;
using launcher::errc;
using launcher::VmState;

class VmLifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    python_ = ee::test::find_program("python3");
    if (python_.empty()) GTEST_SKIP() << "python3 is not installed (the stand-in QEMU needs it)";
  }

  void TearDown() override {
    // Whatever a failed test left running.
    if (auto vms = launcher::list_vms(root_)) {
      for (auto const& vm : *vms) (void)launcher::stop_vm(root_, vm.name, 1s);
    }
  }

  // A plan as plan_launch makes one, running the stand-in; `extra` goes on its command line.
  launcher::LaunchPlan plan(std::string const& name, std::vector<std::string> extra = {}) const {
    auto p = ee::test::vm_plan(root_, name);
    p.qemu_argv = {python_, (fs::path(EE_SOURCE_DIR) / "tests/launcher/fake_qemu.py").string(),
                   "-m", "4G", "-append", "console=ttyS0 " + p.config_param};
    for (auto const& a : ee::test::vm_plumbing(p)) p.qemu_argv.push_back(a);
    for (auto& a : extra) p.qemu_argv.push_back(std::move(a));
    return p;
  }

  std::string python_;
  ee::test::TempDir dir_;
  fs::path root_ = dir_.path() / "vms";
};

TEST_F(VmLifecycle, LaunchesListsReadsTheLogAndStops) {
  auto const p = plan("web-1", {"--fake-log-lines=5"});
  auto const before = std::chrono::system_clock::now();
  auto vm = launcher::launch(p, {.qmp_timeout = 10s});
  ASSERT_TRUE(vm) << vm.error().message();
  EXPECT_EQ(vm->name, "web-1");
  EXPECT_EQ(vm->state, VmState::running);
  EXPECT_EQ(vm->owner, "github:org/acme");
  EXPECT_EQ(vm->node_size, "tiny");
  EXPECT_FALSE(vm->cp);
  EXPECT_FALSE(vm->tdx);
  EXPECT_GT(vm->pid, 1);
  EXPECT_EQ(vm->vm_dir, p.vm_dir);
  EXPECT_GE(vm->started_at, std::chrono::time_point_cast<std::chrono::seconds>(before));
  EXPECT_TRUE(process_alive(vm->pid));

  // The state directory: private, with the configuration as planned.
  EXPECT_EQ(fs::status(p.vm_dir).permissions(), fs::perms::owner_all);
  EXPECT_EQ(fs::status(p.config_file).permissions(),
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(ee::test::read_file(p.config_file), p.agent_config);
  EXPECT_TRUE(fs::exists(p.vm_dir / "meta.json"));

  auto vms = launcher::list_vms(root_);
  ASSERT_TRUE(vms) << vms.error().message();
  ASSERT_EQ(vms->size(), 1u);
  EXPECT_EQ((*vms)[0].name, "web-1");
  EXPECT_EQ((*vms)[0].state, VmState::running);
  EXPECT_EQ((*vms)[0].pid, vm->pid);
  EXPECT_EQ((*vms)[0].owner, "github:org/acme");
  EXPECT_EQ((*vms)[0].node_size, "tiny");
  EXPECT_EQ((*vms)[0].started_at, vm->started_at);

  auto log = launcher::read_serial_log(root_, "web-1");
  ASSERT_TRUE(log) << log.error().message();
  EXPECT_NE(log->find("fake-qemu: cmdline: console=ttyS0 " + p.config_param), std::string::npos)
      << *log;
  auto tail = launcher::read_serial_log(root_, "web-1", 2);
  ASSERT_TRUE(tail) << tail.error().message();
  EXPECT_EQ(*tail, "line 4\r\nline 5\r\n");

  auto const stopped = launcher::stop_vm(root_, "web-1", 5s);
  ASSERT_TRUE(stopped) << stopped.error().message();
  EXPECT_FALSE(fs::exists(p.vm_dir));
  EXPECT_TRUE(eventually([&] { return !process_alive(vm->pid); }));
  vms = launcher::list_vms(root_);
  ASSERT_TRUE(vms);
  EXPECT_TRUE(vms->empty());
}

TEST_F(VmLifecycle, RefusesToLaunchANameThatIsRunning) {
  auto const p = plan("busy");
  auto first = launcher::launch(p, {.qmp_timeout = 10s});
  ASSERT_TRUE(first) << first.error().message();
  auto second = launcher::launch(p, {.qmp_timeout = 10s});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), errc::vm_running);
  EXPECT_EQ(second.error(), ee::condition::conflict);
  // The first is untouched.
  auto vms = launcher::list_vms(root_);
  ASSERT_TRUE(vms && vms->size() == 1u);
  EXPECT_EQ((*vms)[0].state, VmState::running);
  EXPECT_EQ((*vms)[0].pid, first->pid);
  EXPECT_TRUE(launcher::stop_vm(root_, "busy", 5s));
}

TEST_F(VmLifecycle, UnknownNamesAreNotFound) {
  auto stopped = launcher::stop_vm(root_, "nobody", 1s);
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error(), errc::vm_not_found);
  EXPECT_EQ(stopped.error(), ee::condition::not_found);
  auto log = launcher::read_serial_log(root_, "nobody");
  ASSERT_FALSE(log);
  EXPECT_EQ(log.error(), errc::vm_not_found);
}

TEST_F(VmLifecycle, RefusesNamesThatAreNotDnsLabels) {
  // A directory a bad name could reach, to see that nothing touches it.
  fs::create_directories(dir_.path() / "victim");
  std::vector<std::string> const bad = {"../victim", "..",  ".",   "",
                                        "Web",       "-web", "a/b", "a b",
                                        std::string(64, 'a')};
  for (auto const& name : bad) {
    auto stopped = launcher::stop_vm(root_, name, 1s);
    ASSERT_FALSE(stopped) << name;
    EXPECT_EQ(stopped.error(), errc::invalid_request) << name;
    auto log = launcher::read_serial_log(root_, name);
    ASSERT_FALSE(log) << name;
    EXPECT_EQ(log.error(), errc::invalid_request) << name;
    auto p = plan("x");
    p.name = name;
    auto vm = launcher::launch(p);
    ASSERT_FALSE(vm) << name;
    EXPECT_EQ(vm.error(), errc::invalid_request) << name;
  }
  EXPECT_TRUE(fs::exists(dir_.path() / "victim"));
  EXPECT_TRUE(launcher::list_vms(root_));
  // The longest name that is one.
  auto const longest = std::string(63, 'a');
  auto vm = launcher::launch(plan(longest), {.qmp_timeout = 10s});
  ASSERT_TRUE(vm) << vm.error().message();
  EXPECT_TRUE(launcher::stop_vm(root_, longest, 5s));
}

TEST_F(VmLifecycle, AQemuThatExitsAtOnceIsQemuFailedWithItsStderr) {
  auto vm = launcher::launch(plan("broken", {"--fake-mode=exit"}), {.qmp_timeout = 10s});
  ASSERT_FALSE(vm);
  EXPECT_EQ(vm.error(), errc::qemu_failed);
  EXPECT_NE(vm.error().message().find("invalid object type: tdx-guest"), std::string::npos)
      << vm.error().message();
  // It is left as a stopped VM, so `ee stop` can clear it away.
  auto vms = launcher::list_vms(root_);
  ASSERT_TRUE(vms && vms->size() == 1u);
  EXPECT_EQ((*vms)[0].state, VmState::stopped);
  EXPECT_EQ((*vms)[0].pid, -1);
  EXPECT_TRUE(launcher::stop_vm(root_, "broken", 1s));
  EXPECT_FALSE(fs::exists(root_ / "broken"));
}

TEST_F(VmLifecycle, AMissingQemuIsToolMissing) {
  auto p = plan("noqemu");
  p.qemu_argv.front() = (dir_.path() / "no-such-qemu-system-x86_64").string();
  auto vm = launcher::launch(p, {.qmp_timeout = 5s});
  ASSERT_FALSE(vm);
  EXPECT_EQ(vm.error(), errc::tool_missing);
}

TEST_F(VmLifecycle, AQmpThatNeverAnswersIsQmpTimeoutAndTheQemuIsKilled) {
  auto const p = plan("mute", {"--fake-mode=silent-qmp"});
  auto const start = std::chrono::steady_clock::now();
  auto vm = launcher::launch(p, {.qmp_timeout = 1500ms});
  auto const took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(vm);
  EXPECT_EQ(vm.error(), errc::qmp_timeout);
  EXPECT_GE(took, 1500ms);
  EXPECT_LT(took, 6s);
  auto const pid = ee::test::read_pid_file(p.pid_file);
  ASSERT_GT(pid, 1);
  EXPECT_TRUE(eventually([&] { return !process_alive(pid); }));
}

TEST_F(VmLifecycle, StalePidFilesListAsStopped) {
  auto const p = plan("stale");
  auto vm = launcher::launch(p, {.qmp_timeout = 10s});
  ASSERT_TRUE(vm) << vm.error().message();
  // QEMU dies without cleaning up (a crash, the host's OOM killer).
  ::kill(vm->pid, SIGKILL);
  ASSERT_TRUE(eventually([&] { return !process_alive(vm->pid); }));
  auto vms = launcher::list_vms(root_);
  ASSERT_TRUE(vms && vms->size() == 1u);
  EXPECT_EQ((*vms)[0].state, VmState::stopped);
  EXPECT_EQ((*vms)[0].pid, -1);

  // A recycled pid: a live process, but not this VM's QEMU.
  std::ofstream(p.pid_file) << ::getpid() << "\n";
  vms = launcher::list_vms(root_);
  ASSERT_TRUE(vms && vms->size() == 1u);
  EXPECT_EQ((*vms)[0].state, VmState::stopped);

  // Neither keeps the name from being launched again, nor does stopping signal the stranger.
  auto again = launcher::launch(p, {.qmp_timeout = 10s});
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_NE(again->pid, vm->pid);
  std::ofstream(p.pid_file) << ::getpid() << "\n";
  EXPECT_TRUE(launcher::stop_vm(root_, "stale", 1s));
  EXPECT_FALSE(fs::exists(p.vm_dir));
  ::kill(again->pid, SIGKILL);  // it was not stopped: its pid file no longer named it
}

TEST_F(VmLifecycle, StopFallsBackToSigtermWhenQuitIsIgnored) {
  auto vm = launcher::launch(plan("deaf", {"--fake-mode=ignore-quit"}), {.qmp_timeout = 10s});
  ASSERT_TRUE(vm) << vm.error().message();
  auto const stopped = launcher::stop_vm(root_, "deaf", 1s);
  ASSERT_TRUE(stopped) << stopped.error().message();
  EXPECT_TRUE(eventually([&] { return !process_alive(vm->pid); }));
  EXPECT_FALSE(fs::exists(root_ / "deaf"));
}

TEST_F(VmLifecycle, StopFallsBackToSigkillWhenSigtermIsIgnored) {
  auto vm = launcher::launch(plan("stubborn", {"--fake-mode=ignore-term"}), {.qmp_timeout = 10s});
  ASSERT_TRUE(vm) << vm.error().message();
  auto const start = std::chrono::steady_clock::now();
  auto const stopped = launcher::stop_vm(root_, "stubborn", 1s);
  auto const took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(stopped) << stopped.error().message();
  EXPECT_GE(took, 1s);  // quit and SIGTERM each had their half
  EXPECT_LT(took, 5s);
  EXPECT_TRUE(eventually([&] { return !process_alive(vm->pid); }));
  EXPECT_FALSE(fs::exists(root_ / "stubborn"));
}

TEST_F(VmLifecycle, MakesAConfigDriveLabelledEeConfig) {
  auto const xorriso = ee::test::find_program("xorriso");
  if (xorriso.empty()) GTEST_SKIP() << "xorriso is not installed";
  auto p = plan("drive");
  p.config_drive = p.vm_dir / "config.iso";
  auto vm = launcher::launch(p, {.qmp_timeout = 10s});
  ASSERT_TRUE(vm) << vm.error().message();
  ASSERT_TRUE(fs::exists(p.config_drive));
  EXPECT_EQ(fs::status(p.config_drive).permissions(),
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_FALSE(fs::exists(p.vm_dir / "config.iso.d"));
  // ISO 9660 (ECMA-119 section 8.4): the primary volume descriptor is sector 16 of 2048 bytes,
  // its volume identifier 32 bytes at offset 40, padded with spaces.
  auto const iso = ee::test::read_file(p.config_drive);
  ASSERT_GT(iso.size(), 16u * 2048 + 72);
  EXPECT_EQ(iso.substr(16 * 2048 + 40, 32), "EE_CONFIG" + std::string(23, ' '));
  auto const out = dir_.path() / "extracted.json";
  auto const extracted = ee::test::run_tool({xorriso, "-osirrox", "on", "-indev",
                                             p.config_drive.string(), "-extract", "/config.json",
                                             out.string()});
  ASSERT_EQ(extracted, "") << extracted;
  EXPECT_EQ(ee::test::read_file(out), p.agent_config);
  EXPECT_TRUE(launcher::stop_vm(root_, "drive", 5s));
}

class SerialLog : public ::testing::Test {
 protected:
  // A VM directory with only a serial log, as one whose meta.json is gone.
  fs::path log_of(std::string const& name, std::string const& content) {
    fs::create_directories(root_ / name);
    dir_.write("vms/" + name + "/serial.log", content);
    return root_ / name / "serial.log";
  }

  ee::test::TempDir dir_;
  fs::path root_ = dir_.path() / "vms";
};

TEST_F(SerialLog, ReturnsTheLastLines) {
  log_of("a", "one\ntwo\nthree\nfour\n");
  EXPECT_EQ(launcher::read_serial_log(root_, "a", 2).value(), "three\nfour\n");
  EXPECT_EQ(launcher::read_serial_log(root_, "a", 4).value(), "one\ntwo\nthree\nfour\n");
  EXPECT_EQ(launcher::read_serial_log(root_, "a", 10).value(), "one\ntwo\nthree\nfour\n");
  EXPECT_EQ(launcher::read_serial_log(root_, "a", 0).value(), "");
  EXPECT_EQ(launcher::read_serial_log(root_, "a").value(), "one\ntwo\nthree\nfour\n");
  // A last line still being written counts as a line.
  log_of("b", "one\ntwo\nthr");
  EXPECT_EQ(launcher::read_serial_log(root_, "b", 2).value(), "two\nthr");
  log_of("c", "");
  EXPECT_EQ(launcher::read_serial_log(root_, "c", 3).value(), "");
}

TEST_F(SerialLog, AVmWithoutALogYetHasAnEmptyOne) {
  fs::create_directories(root_ / "new");
  EXPECT_EQ(launcher::read_serial_log(root_, "new").value(), "");
}

TEST_F(SerialLog, ReadsOnlyTheTailOfAHugeLog) {
  // 24 MiB of numbered lines: more than `ee logs` ever reads.
  std::string content;
  content.reserve(25 * 1024 * 1024);
  int n = 0;
  while (content.size() < 24 * 1024 * 1024) content += "line " + std::to_string(++n) + "\n";
  log_of("big", content);

  auto tail = launcher::read_serial_log(root_, "big", 3);
  ASSERT_TRUE(tail);
  EXPECT_EQ(*tail, "line " + std::to_string(n - 2) + "\nline " + std::to_string(n - 1) +
                       "\nline " + std::to_string(n) + "\n");
  // 100000 lines do not fit in the window the first read takes: it widens.
  auto many = launcher::read_serial_log(root_, "big", 100000);
  ASSERT_TRUE(many);
  EXPECT_EQ(many->rfind("line " + std::to_string(n - 99999) + "\n", 0), 0u);
  EXPECT_EQ(std::count(many->begin(), many->end(), '\n'), 100000);

  auto all = launcher::read_serial_log(root_, "big");
  ASSERT_TRUE(all);
  EXPECT_LE(all->size(), 8u * 1024 * 1024);
  EXPECT_GT(all->size(), 7u * 1024 * 1024);
  EXPECT_EQ(all->rfind("line ", 0), 0u);  // starts with a whole line
  EXPECT_TRUE(content.ends_with(*all));
}

}  // namespace

namespace {

TEST_F(SerialLog, FollowsFromAnOffsetPastAnySize) {
  auto const path = log_of("f", "boot 1\n");
  auto end = launcher::read_serial_log_from(root_, "f", 0, 0);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->next_offset, 7u);
  EXPECT_TRUE(end->text.empty());
  // What the VM writes next arrives, in pieces of at most max_bytes.
  std::ofstream(path, std::ios::app) << "boot 2\nboot 3\n";
  auto first = launcher::read_serial_log_from(root_, "f", end->next_offset, 4);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->text, "boot");
  auto rest = launcher::read_serial_log_from(root_, "f", first->next_offset);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->text, " 2\nboot 3\n");
  EXPECT_EQ(rest->next_offset, 21u);
  auto idle = launcher::read_serial_log_from(root_, "f", rest->next_offset);
  ASSERT_TRUE(idle);
  EXPECT_TRUE(idle->text.empty());
  EXPECT_EQ(idle->next_offset, 21u);
  // A new VM of the same name starts a new log: read from its start.
  log_of("f", "again\n");
  EXPECT_EQ(launcher::read_serial_log_from(root_, "f", 21).value().text, "again\n");
  EXPECT_EQ(launcher::read_serial_log_from(root_, "nobody", 0).error(),
            launcher::errc::vm_not_found);
}

}  // namespace
