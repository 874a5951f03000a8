// `ee launch --wait-registered` follows the boot on the serial console: the stages a console
// shows, the guest's own fatal line ending the wait at once, and the CP's answer ending it well.
// The console texts are shaped like the test image's (tests/launcher/image_boot_test.cpp).
#include <easyenclave/http/router.hpp>
#include <easyenclave/launcher/launcher.hpp>

#include "support/loopback_server.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace launcher = ee::launcher;
using launcher::BootStage;
using namespace std::chrono_literals;
namespace bhttp = boost::beast::http;

constexpr char kFirmware[] = "BdsDxe: loading Boot0001 \"UEFI QEMU HARDDISK\"\r\n";
constexpr char kKernel[] = "[    0.000000] Linux version 6.1.0-28-amd64 (debian-kernel@lists.debian.org)\r\n";
constexpr char kSystem[] = "[    4.120000] systemd[1]: Detected virtualization kvm.\r\nWelcome to Debian GNU/Linux 12 (bookworm)!\r\n";
constexpr char kAgent[] = "ee-agent[312]: 2026-12-07T19:00:00Z info agent created the agent key file=/data/agent.key\r\n";
constexpr char kRegistered[] = "ee-agent[312]: 2026-12-07T19:00:03Z info agent registered agent_id=a-1 vm_name=vm-1\r\n";

TEST(BootProgress, EachStageIsTheFurthestMarkSeen) {
  EXPECT_EQ(launcher::read_boot_progress("").stage, BootStage::not_started);
  EXPECT_EQ(launcher::read_boot_progress(" \r\n\t").stage, BootStage::not_started);
  std::string console = kFirmware;
  EXPECT_EQ(launcher::read_boot_progress(console).stage, BootStage::firmware);
  console += kKernel;
  EXPECT_EQ(launcher::read_boot_progress(console).stage, BootStage::kernel);
  console += kSystem;
  EXPECT_EQ(launcher::read_boot_progress(console).stage, BootStage::system);
  console += kAgent;
  EXPECT_EQ(launcher::read_boot_progress(console).stage, BootStage::agent);
  console += kRegistered;
  auto const done = launcher::read_boot_progress(console);
  EXPECT_EQ(done.stage, BootStage::registered);
  EXPECT_EQ(done.failure, "");
  // A later stage alone (the start of the console scrolled away) still counts.
  EXPECT_EQ(launcher::read_boot_progress(kRegistered).stage, BootStage::registered);
  for (auto stage : {BootStage::not_started, BootStage::firmware, BootStage::kernel, BootStage::system,
                     BootStage::agent, BootStage::registered}) {
    EXPECT_FALSE(launcher::to_string(stage).empty());
  }
}

TEST(BootProgress, TheGuestsFatalLineIsTheFailureCleanedForATerminal) {
  std::string console = std::string(kFirmware) + kKernel +
                        "easyenclave-init: FATAL: dm-verity: the root file system does not match the root hash "
                        "(exit 1, powering off)\r\n[    9.000000] reboot: Power down\r\n";
  auto progress = launcher::read_boot_progress(console);
  EXPECT_EQ(progress.stage, BootStage::kernel);
  EXPECT_EQ(progress.failure,
            "easyenclave-init: FATAL: dm-verity: the root file system does not match the root hash "
            "(exit 1, powering off)");
  progress = launcher::read_boot_progress(std::string(kSystem) +
                                          "easyenclave: ee-agent stopped (exit-code, status 2); powering off\n");
  EXPECT_EQ(progress.failure, "easyenclave: ee-agent stopped (exit-code, status 2); powering off");
  // Escape sequences and other bytes of the guest's never reach the host's terminal, and the
  // line is cut.
  progress = launcher::read_boot_progress("easyenclave-init: FATAL: \x1b[2J\x07" + std::string(2000, 'x'));
  EXPECT_EQ(progress.failure.size(), 512u);
  EXPECT_EQ(progress.failure.find('\x1b'), std::string::npos);
  EXPECT_EQ(progress.failure.substr(0, 30), "easyenclave-init: FATAL: ?[2J?");
  // A fatal line at the very start of the text, and one that is the whole text.
  EXPECT_EQ(launcher::read_boot_progress("easyenclave-init: FATAL: x").failure, "easyenclave-init: FATAL: x");
}

TEST(BootProgress, AnyBytesGiveABoundedPrintableFailureLine) {
  std::string text;
  for (int i = 0; i < 4096; ++i) text.push_back(static_cast<char>(i * 131 % 256));
  auto const printable = [](std::string const& line) {
    return std::all_of(line.begin(), line.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  };
  for (std::size_t cut = 0; cut < text.size(); cut += 97) {
    auto const progress = launcher::read_boot_progress(text.substr(cut) + "easyenclave-init: FATAL: " + text.substr(0, cut));
    EXPECT_LE(progress.failure.size(), 512u);
    EXPECT_TRUE(progress.failure.starts_with("easyenclave-init: FATAL:")) << cut;
    EXPECT_TRUE(printable(progress.failure)) << cut;
  }
  // A fatal mark with nothing after it, after many empty lines.
  EXPECT_EQ(launcher::read_boot_progress(std::string(100, '\n') + "easyenclave-init: FATAL: ").failure,
            "easyenclave-init: FATAL:");
}

// A CP stand-in that lists the VM's agent once `verified` is set, and a VM directory whose serial
// log the test writes as a guest would.
class WaitRegistered : public ::testing::Test {
 protected:
  WaitRegistered() {
    std::filesystem::create_directories(dir.path() / "vm-1");
    std::ofstream(log_path()).flush();
  }

  std::filesystem::path log_path() const { return dir.path() / "vm-1" / "serial.log"; }
  void console(std::string const& text) {
    std::ofstream out(log_path(), std::ios::app | std::ios::binary);
    out << text;
  }

  ee::http::Router cp_router() {
    ee::http::Router router;
    router.get("/api/v1/agents", [this](ee::http::RequestContext& ctx) -> boost::asio::awaitable<ee::result<ee::http::Response>> {
      ++calls;
      auto const target = std::string(ctx.request.target());
      if (target.find("vm_name=vm-1") == std::string::npos) {
        co_return ee::http::json_response(bhttp::status::bad_request, R"({"code":"wrong query"})");
      }
      co_return ee::http::json_response(bhttp::status::ok, verified ? R"([{"vm_name":"vm-1","verified":true}])" : "[]");
    });
    return router;
  }

  launcher::RegistrationWait wait_options(std::chrono::seconds timeout) {
    return {.timeout = timeout,
            .state_root = dir.path(),
            .on_stage = [this](BootStage stage, std::chrono::seconds) {
              std::lock_guard lock(mutex);
              stages.push_back(stage);
            }};
  }

  ee::test::TempDir dir;
  std::atomic<bool> verified{false};
  std::atomic<int> calls{0};
  std::mutex mutex;
  std::vector<BootStage> stages;
  ee::test::LoopbackServer cp{cp_router()};
};

TEST_F(WaitRegistered, ReportsEachStageOnceAndEndsWhenTheCpListsTheAgentVerified) {
  console(std::string(kFirmware) + kKernel);
  std::thread guest([this] {
    std::this_thread::sleep_for(2500ms);
    // A mark cut in two by the moment the host reads: still seen.
    console(std::string(kSystem) + "ee-agent[312]: info agent created the agent k");
    std::this_thread::sleep_for(2500ms);
    console("ey file=/data/agent.key\n");
    std::this_thread::sleep_for(2500ms);
    console(kRegistered);
    verified = true;
  });
  auto done = launcher::wait_registered(cp.url(), "vm-1", wait_options(30s));
  guest.join();
  ASSERT_TRUE(done) << done.error().message();
  std::lock_guard lock(mutex);
  ASSERT_GE(stages.size(), 3u);
  EXPECT_EQ(stages[0], BootStage::kernel);
  EXPECT_EQ(stages[1], BootStage::system);
  EXPECT_EQ(stages[2], BootStage::agent);
  for (std::size_t i = 1; i < stages.size(); ++i) EXPECT_LT(stages[i - 1], stages[i]) << "each stage once, in order";
}

TEST_F(WaitRegistered, TheGuestsFatalLineEndsTheWaitAtOnceWithThatLine) {
  console(std::string(kFirmware) + kKernel +
          "easyenclave-init: FATAL: no root file system disk found (exit 1, powering off)\r\n");
  auto const started = std::chrono::steady_clock::now();
  auto done = launcher::wait_registered(cp.url(), "vm-1", wait_options(120s));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error(), launcher::errc::guest_failed);
  EXPECT_NE(done.error().message().find("no root file system disk found"), std::string::npos) << done.error().message();
}

TEST_F(WaitRegistered, ATimeoutSaysHowFarTheBootGotAndWhatTheCpSaid) {
  console(std::string(kFirmware) + kKernel + kSystem);
  auto done = launcher::wait_registered(cp.url(), "vm-1", wait_options(1s));
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error(), launcher::errc::registration_timeout);
  auto const message = done.error().message();
  EXPECT_NE(message.find("root verified, system starting"), std::string::npos) << message;
  EXPECT_NE(message.find("not registered yet"), std::string::npos) << message;
  EXPECT_GE(calls.load(), 1);
}

TEST_F(WaitRegistered, WithoutAStateRootOnlyTheCpIsAsked) {
  console("easyenclave-init: FATAL: ignored, the console is not read\n");
  verified = true;
  auto done = launcher::wait_registered(cp.url(), "vm-1", 10s);
  EXPECT_TRUE(done) << done.error().message();
  EXPECT_TRUE(launcher::wait_registered("", "vm-1", 1s).error() == launcher::errc::invalid_request);
}

}  // namespace
