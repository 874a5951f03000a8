// One real VM: QEMU without TDX under software emulation (TCG; KVM does not work in this
// sandbox), Debian's cloud kernel, and an initrd made here whose /init (busybox-static) prints
// the kernel command line to the serial console. The launcher starts it, the configuration is
// read back from the guest's /proc/cmdline through the serial log, `list` sees it running and
// `stop` ends it. A few seconds: the cloud kernel boots quickly with 256 MiB and no devices.
#include "launcher/vm_fixtures.hpp"
#include "support/containers.hpp"
#include "support/temp_dir.hpp"

#include <easyenclave/api/boot_config.hpp>
#include <easyenclave/launcher/launcher.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace launcher = ee::launcher;

constexpr std::string_view kMarker = "ee-test-initrd: cmdline: ";

// Debian's cloud kernel (linux-image-cloud-amd64); the newest when there are several.
fs::path cloud_kernel() {
  std::vector<fs::path> kernels;
  std::error_code ec;
  for (fs::directory_iterator it("/boot", ec), end; !ec && it != end; it.increment(ec)) {
    auto const name = it->path().filename().string();
    if (name.starts_with("vmlinuz-") && name.ends_with("-cloud-amd64")) {
      kernels.push_back(it->path());
    }
  }
  std::sort(kernels.begin(), kernels.end());
  return kernels.empty() ? fs::path() : kernels.back();
}

// A newc cpio initrd whose /init prints the command line and then idles (init must not exit).
std::string make_initrd(ee::test::TempDir const& dir, std::string const& busybox,
                        fs::path const& out) {
  auto const root = dir.path() / "initrd";
  for (auto const* sub : {"bin", "proc", "dev"}) fs::create_directories(root / sub);
  fs::copy_file(busybox, root / "bin" / "busybox");
  auto const init = dir.write("initrd/init",
                              "#!/bin/busybox sh\n"
                              "/bin/busybox mount -t proc proc /proc\n"
                              "echo \"" + std::string(kMarker) +
                                  "$(/bin/busybox cat /proc/cmdline)\"\n"
                              "while :; do /bin/busybox sleep 3600; done\n");
  fs::permissions(init, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
  return ee::test::run_tool({"sh", "-c", "cd \"$1\" && find . | cpio -o -H newc --quiet > \"$2\"",
                             "sh", root.string(), out.string()});
}

TEST(VmBoot, BootsARealVmUnderTcgAndSeesItsConfiguration) {
  auto const qemu = ee::test::find_program("qemu-system-x86_64");
  if (qemu.empty()) GTEST_SKIP() << "qemu-system-x86_64 is not installed (qemu-system-x86)";
  auto const kernel = cloud_kernel();
  if (kernel.empty()) GTEST_SKIP() << "no /boot/vmlinuz-*-cloud-amd64 (linux-image-cloud-amd64)";
  if (::access(kernel.c_str(), R_OK) != 0) {
    GTEST_SKIP() << kernel << " is not readable (Debian's kernels are readable by root only)";
  }
  auto const busybox = ee::test::find_program("busybox");
  if (busybox.empty() || !ee::test::is_static_elf(fs::canonical(busybox).string())) {
    GTEST_SKIP() << "no statically linked busybox (busybox-static)";
  }
  if (ee::test::find_program("cpio").empty()) GTEST_SKIP() << "cpio is not installed";

  ee::test::TempDir dir;
  auto const initrd = dir.path() / "initrd.cpio";
  ASSERT_EQ(make_initrd(dir, busybox, initrd), "");

  auto const root = dir.path() / "vms";
  auto p = ee::test::vm_plan(root, "tcg-boot");
  // What plan_launch makes for --no-tdx without KVM, trimmed to what this guest needs.
  p.qemu_argv = {qemu,        "-accel",  "tcg",
                 "-m",        "256M",    "-smp",
                 "1",         "-kernel", kernel.string(),
                 "-initrd",   initrd.string(),
                 "-append",   "console=ttyS0 quiet panic=-1 " + p.config_param,
                 "-nodefaults", "-nographic"};
  for (auto const& a : ee::test::vm_plumbing(p)) p.qemu_argv.push_back(a);

  // However the test ends, no VM is left running.
  struct StopAtExit {
    fs::path root;
    ~StopAtExit() { (void)launcher::stop_vm(root, "tcg-boot", 2s); }
  } const stop_at_exit{root};

  auto const start = std::chrono::steady_clock::now();
  auto vm = launcher::launch(p, {.qmp_timeout = 30s});
  ASSERT_TRUE(vm) << vm.error().message();
  EXPECT_EQ(vm->state, launcher::VmState::running);
  EXPECT_FALSE(vm->tdx);

  // The guest prints its /proc/cmdline; the configuration on it decodes to what was planned.
  std::string line;
  bool const booted = ee::test::eventually(
      [&] {
        auto log = launcher::read_serial_log(root, "tcg-boot");
        if (!log) return false;
        auto const at = log->find(kMarker);
        if (at == std::string::npos) return false;
        auto const end = log->find('\n', at);
        if (end == std::string::npos) return false;
        line = log->substr(at + kMarker.size(), end - at - kMarker.size());
        return true;
      },
      60s);
  if (!booted) {
    auto const log = launcher::read_serial_log(root, "tcg-boot", 30);
    FAIL() << "the guest did not print its command line:\n" << (log ? *log : "(no log)");
  }
  auto decoded = ee::api::decode_boot_config(line);
  ASSERT_TRUE(decoded) << decoded.error().message() << "\n" << line;
  ASSERT_TRUE(decoded->has_value()) << line;
  EXPECT_EQ(**decoded, p.agent_config);

  auto vms = launcher::list_vms(root);
  ASSERT_TRUE(vms) << vms.error().message();
  ASSERT_EQ(vms->size(), 1u);
  EXPECT_EQ((*vms)[0].state, launcher::VmState::running);
  EXPECT_EQ((*vms)[0].pid, vm->pid);
  EXPECT_EQ((*vms)[0].owner, "github:org/acme");

  auto const stopped = launcher::stop_vm(root, "tcg-boot", 10s);
  ASSERT_TRUE(stopped) << stopped.error().message();
  EXPECT_TRUE(ee::test::eventually([&] { return !ee::test::process_alive(vm->pid); }));
  EXPECT_FALSE(fs::exists(p.vm_dir));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 60s);
}

}  // namespace
