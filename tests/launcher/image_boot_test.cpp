// The guest image booted for real under QEMU TCG (no TDX, no KVM here): the test variant of
// image/build.sh (tests/launcher/build_test_image.sh builds it once per set of inputs and links
// it at build/ci/tests/test-image) started the way `ee launch` starts it, without --kernel: the
// image's own kernel, initrd and measured command line, the configuration on the config drive.
//  - a CP VM: cp-bootstrap mode runs the real ee-cp, which answers /health and
//    /api/v1/attestation (a simulator quote) through a forwarded port;
//  - bad input ends in one clear line on the serial console and the VM powering off: a
//    configuration that does not decode, a root hash that does not match the root file system.
#include "launcher/vm_fixtures.hpp"
#include "support/containers.hpp"
#include "support/temp_dir.hpp"

#include <easyenclave/block_on.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/launcher/image.hpp>
#include <easyenclave/launcher/launcher.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include <unistd.h>

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace launcher = ee::launcher;
namespace bhttp = boost::beast::http;

fs::path test_image() {
  if (char const* dir = std::getenv("EE_TEST_IMAGE")) return dir;
  return fs::path(EE_PROGRAM_DIR).parent_path() / "tests" / "test-image";
}

class ImageVm : public ::testing::Test {
 protected:
  void SetUp() override {
    image_ = test_image();
    std::error_code ec;
    if (!fs::exists(image_ / "manifest.json", ec)) {
      GTEST_SKIP() << "no test image at " << image_
                   << " (the image_build test makes it: root, debootstrap, veritysetup, ...)";
    }
    qemu_ = ee::test::find_program("qemu-system-x86_64");
    if (qemu_.empty()) GTEST_SKIP() << "qemu-system-x86_64 is not installed";
  }

  void TearDown() override {
    for (auto const& name : started_) (void)launcher::stop_vm(root_, name, 5s);
  }

  // The request `ee launch <image> --no-tdx --accel tcg --memory 1 --vcpus 2` makes, resolved to
  // the image's own kernel as `ee launch` resolves it.
  launcher::LaunchRequest request(std::string const& name) {
    launcher::LaunchRequest r;
    r.image = (image_ / "disk.qcow2").string();
    r.name = name;
    r.tdx = false;
    r.memory_gib = 1;
    r.vcpus = 2;
    r.agent_settings = {{"quote_provider", "simulator"}, {"simulator_dir", "/data/simulator"}};
    return r;
  }

  launcher::LaunchPlan plan(launcher::LaunchRequest r) {
    auto own = launcher::use_image_kernel(r);
    EXPECT_TRUE(own) << own.error().message();
    EXPECT_TRUE(r.config_drive);
    launcher::HostPaths paths;
    paths.qemu = qemu_;
    paths.kvm = false;
    paths.state_root = root_;
    auto p = launcher::plan_launch(r, paths);
    EXPECT_TRUE(p) << p.error().message();
    return p ? *p : launcher::LaunchPlan{};
  }

  launcher::VmInfo start(launcher::LaunchPlan const& p) {
    auto vm = launcher::launch(p, {.qmp_timeout = 60s});
    EXPECT_TRUE(vm) << vm.error().message();
    started_.push_back(p.name);
    return vm ? *vm : launcher::VmInfo{};
  }

  std::string log(std::string const& name) {
    auto text = launcher::read_serial_log(root_, name);
    return text ? *text : std::string();
  }

  // Waits until the serial log holds `needle`; the log's tail in the failure message.
  ::testing::AssertionResult logged(std::string const& name, std::string const& needle,
                                    std::chrono::seconds timeout) {
    if (ee::test::eventually([&] { return log(name).find(needle) != std::string::npos; },
                             timeout)) {
      return ::testing::AssertionSuccess();
    }
    auto const tail = launcher::read_serial_log(root_, name, 40);
    return ::testing::AssertionFailure()
           << "no \"" << needle << "\" on the serial console:\n" << (tail ? *tail : "(no log)");
  }

  fs::path image_;
  std::string qemu_;
  ee::test::TempDir dir_;
  fs::path root_ = dir_.path() / "vms";
  std::vector<std::string> started_;
};

// GET on the host's loopback; nullopt while nothing answers.
std::optional<ee::http::Response> get(std::string const& url) {
  static auto const client = ee::http::make_https_client().value();
  ee::http::Request request{bhttp::verb::get, url, 11};
  ee::http::RequestOptions options;
  options.timeout = 20s;
  auto response = ee::block_on(client->send(request, options));
  if (!response) return std::nullopt;
  return std::move(*response);
}

TEST_F(ImageVm, TheCpVmRunsTheRealEeCpBehindAForwardedPort) {
  auto r = request("ee-cp-vm");
  r.cp = true;
  r.forward_cp_port = ee::test::free_port();
  r.cp_env = {{"EE_DEV", "true"},
              {"EE_DB", "/data/cp.db"},
              {"EE_QUOTE_PROVIDER", "simulator"},
              {"EE_SIMULATOR_DIR", "/data/cp-simulator"}};
  auto const p = plan(r);
  ASSERT_FALSE(p.name.empty());
  // The secrets and settings of ee-cp travel on the config drive, never on the command line.
  ASSERT_FALSE(p.config_drive.empty());
  for (auto const& arg : p.qemu_argv) {
    EXPECT_EQ(arg.find("EE_DB"), std::string::npos) << arg;
    EXPECT_EQ(arg.find("cp-bootstrap"), std::string::npos) << arg;
  }
  auto const manifest = launcher::load_image_manifest(image_).value();
  auto const append = std::find(p.qemu_argv.begin(), p.qemu_argv.end(), "-append");
  ASSERT_NE(append, p.qemu_argv.end());
  EXPECT_EQ(*(append + 1), manifest.cmdline);  // exactly what the manifest's RTMR2 measures

  auto const started = std::chrono::steady_clock::now();
  start(p);
  auto const base = "http://127.0.0.1:" + std::to_string(r.forward_cp_port);
  bool const up = ee::test::eventually(
      [&] {
        auto health = get(base + "/health");
        return health && health->result() == bhttp::status::ok;
      },
      240s);
  auto const boot = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(up) << "ee-cp did not answer /health:\n" << *launcher::read_serial_log(root_, p.name, 60);
  std::cout << "[ image boot ] CP VM answered /health "
            << std::chrono::duration_cast<std::chrono::seconds>(boot).count()
            << " s after launch (TCG)\n";
  EXPECT_NE(log(p.name).find("\"config\":\"config-drive\""), std::string::npos);
  EXPECT_NE(log(p.name).find("cp started"), std::string::npos);

  auto health = get(base + "/health");
  ASSERT_TRUE(health);
  auto const h = boost::json::parse(health->body());
  EXPECT_EQ(h.at("status").as_string(), "ok");
  EXPECT_TRUE(h.at("dev").as_bool());

  auto attestation = get(base + "/api/v1/attestation?nonce=" + std::string(64, 'a'));
  ASSERT_TRUE(attestation);
  ASSERT_EQ(attestation->result(), bhttp::status::ok) << attestation->body();
  EXPECT_FALSE(boost::json::parse(attestation->body()).at("quote_b64").as_string().empty());
}

TEST_F(ImageVm, AConfigurationThatDoesNotDecodeEndsWithOneLineAndPowersOff) {
  auto r = request("ee-bad-config");
  r.owner = "github:org/acme";
  r.cp_url = "http://10.0.2.2:9";
  auto p = plan(r);
  ASSERT_FALSE(p.name.empty());
  p.agent_config = "{\"owner\": 7";  // what launch writes onto the config drive
  auto const vm = start(p);
  EXPECT_TRUE(logged(p.name, "ee-agent: configuration: ", 240s));
  EXPECT_NE(log(p.name).find("config drive"), std::string::npos);
  EXPECT_TRUE(logged(p.name, "easyenclave: ee-agent stopped (exit-code, status 2); powering off", 30s));
  // The VM powers itself off: QEMU exits, `ee logs` still reads the log.
  EXPECT_TRUE(ee::test::eventually([&] { return !ee::test::process_alive(vm.pid); }, 60s));
}

TEST_F(ImageVm, ARootHashThatDoesNotMatchStopsTheBootInTheInitrd) {
  auto r = request("ee-bad-verity");
  r.owner = "github:org/acme";
  r.cp_url = "http://10.0.2.2:9";
  auto p = plan(r);
  ASSERT_FALSE(p.name.empty());
  auto const append = std::find(p.qemu_argv.begin(), p.qemu_argv.end(), "-append");
  ASSERT_NE(append, p.qemu_argv.end());
  auto& cmdline = *(append + 1);
  auto const at = cmdline.find("easyenclave.roothash=") + std::string("easyenclave.roothash=").size();
  cmdline[at] = cmdline[at] == '0' ? '1' : '0';  // one digit of the root hash
  auto const vm = start(p);
  EXPECT_TRUE(logged(p.name,
                     "easyenclave-init: FATAL: dm-verity: the root file system does not match the "
                     "root hash on the kernel command line (exit 1, powering off)",
                     120s));
  EXPECT_EQ(log(p.name).find("systemd[1]"), std::string::npos);  // nothing of the root ran
  EXPECT_TRUE(ee::test::eventually([&] { return !ee::test::process_alive(vm.pid); }, 60s));
}

}  // namespace
