// ee preflight: what this host can run, each check with what was found and what to do about it.
// A check is hard when a launch cannot work without it (with TDX: QEMU with tdx-guest, KVM,
// TDX in KVM, TDVF); soft when it only limits something (quotes, OCI images, KVM without TDX).
#include <easyenclave/launcher/launcher.hpp>

#include "detail/child_process.hpp"
#include "launcher/host_tools.hpp"

#include <fstream>
#include <regex>

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace ee::launcher {
namespace {

using std::chrono::seconds;

// The first line of `qemu --version`: "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-...)".
std::string qemu_version(std::string const& out) {
  std::smatch m;
  static std::regex const re(R"(QEMU emulator version ([0-9][0-9.]*))");
  return std::regex_search(out, m, re) ? m[1].str() : std::string();
}

Check qemu_check(HostPaths const& paths) {
  Check c{.name = "qemu", .hard = true};
  c.fix = "install QEMU (Debian: apt-get install qemu-system-x86; TDX guests need QEMU 10.1 or "
          "later built with TDX support)";
  auto r = ::ee::detail::run_command({paths.qemu, "--version"}, seconds(10));
  if (!r) {
    c.detail = paths.qemu + ": " + r.error().message();
    return c;
  }
  auto const version = qemu_version(r->out);
  c.ok = r->exit_status == 0 && !version.empty();
  c.detail = c.ok ? "QEMU " + version + " (" + paths.qemu + ")"
                  : paths.qemu + " --version said: " + detail::output_tail(r->out + r->err, 200);
  return c;
}

Check qemu_tdx_check(HostPaths const& paths) {
  Check c{.name = "qemu-tdx", .hard = true};
  c.fix = "use a QEMU with TDX support (upstream 10.1+, or your distribution's TDX build)";
  auto r = ::ee::detail::run_command({paths.qemu, "-object", "help"}, seconds(10));
  if (!r) {
    c.detail = "cannot ask QEMU for its objects: " + r.error().message();
    return c;
  }
  c.ok = r->out.find("tdx-guest") != std::string::npos;
  c.detail = c.ok ? "QEMU has the tdx-guest object" : "this QEMU has no tdx-guest object";
  return c;
}

// Whether KVM can create a VM here: /dev/kvm may exist where KVM does not work (nested
// virtualisation off, a sandbox without the ioctls).
Check kvm_check(PreflightOptions const& o) {
  Check c{.name = "kvm", .hard = o.tdx};
  c.fix = o.tdx ? "run on a host with KVM (Intel VT-x enabled, kvm_intel loaded)"
                : "without KVM the VM runs under TCG, which works but is slow";
  int const fd = ::open(o.kvm_device.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    c.detail = o.kvm_device.string() + " cannot be opened";
    return c;
  }
  int const api = ::ioctl(fd, KVM_GET_API_VERSION, 0);
  int const vm = api == KVM_API_VERSION ? ::ioctl(fd, KVM_CREATE_VM, 0) : -1;
  if (vm >= 0) ::close(vm);
  ::close(fd);
  c.ok = vm >= 0;
  // Creating a VM is as far as a check can go cheaply; where nested virtualisation is broken a
  // guest may still hang (`ee launch --no-tdx --accel tcg` then).
  c.detail = c.ok ? "KVM can create VMs (" + o.kvm_device.string() + ")"
                  : o.kvm_device.string() + " exists but KVM cannot create a VM";
  return c;
}

Check tdx_check(PreflightOptions const& o) {
  Check c{.name = "tdx", .hard = true};
  c.fix = "enable TDX in the BIOS and load kvm_intel with tdx=1 (a TDX-capable host kernel)";
  std::ifstream in(o.kvm_tdx_param);
  std::string value;
  if (!(in >> value)) {
    c.detail = o.kvm_tdx_param.string() + " is missing: this KVM has no TDX";
    return c;
  }
  c.ok = value == "Y" || value == "y" || value == "1";
  c.detail = "KVM's tdx parameter is " + value;
  return c;
}

Check firmware_check(PreflightOptions const& o) {
  std::string const& path = o.tdx ? o.paths.tdx_firmware : o.paths.firmware;
  Check c{.name = "firmware", .hard = true};
  if (!o.tdx && path.empty()) {
    c.ok = true;
    c.detail = "QEMU's default firmware (SeaBIOS)";
    return c;
  }
  std::error_code ec;
  c.ok = std::filesystem::is_regular_file(path, ec);
  c.detail = path + (c.ok ? " is present" : " is missing");
  c.fix = o.tdx ? "install TDVF (the TDX build of OVMF) and pass --tdx-firmware"
                : "install OVMF (apt-get install ovmf) or leave --firmware empty";
  return c;
}

Check qgs_check(PreflightOptions const& o) {
  Check c{.name = "qgs"};
  std::error_code ec;
  c.ok = std::filesystem::exists(o.vsock_device, ec);
  c.detail = c.ok ? "vsock is available for the quote generation service (port " +
                        std::to_string(o.paths.qgs_vsock_port) + ")"
                  : o.vsock_device.string() + " is missing: guests cannot get quotes";
  c.fix = "load vhost_vsock and run Intel's quote generation service (qgsd) on vsock port " +
          std::to_string(o.paths.qgs_vsock_port);
  return c;
}

Check oci_check() {
  Check c{.name = "oci-tools"};
  auto const skopeo = detail::find_program("skopeo");
  auto const podman = detail::find_program("podman");
  c.ok = skopeo || podman;
  c.detail = c.ok ? "OCI images can be fetched with " + std::string(skopeo ? "skopeo" : "podman")
                  : "neither skopeo nor podman is installed: only disk images can be launched";
  c.fix = "apt-get install skopeo (or podman)";
  return c;
}

}  // namespace

std::vector<Check> preflight(PreflightOptions const& options) {
  std::vector<Check> checks{qemu_check(options.paths)};
  if (options.tdx) checks.push_back(qemu_tdx_check(options.paths));
  checks.push_back(kvm_check(options));
  if (options.tdx) checks.push_back(tdx_check(options));
  checks.push_back(firmware_check(options));
  if (options.tdx) checks.push_back(qgs_check(options));
  checks.push_back(oci_check());
  return checks;
}

bool preflight_passed(std::vector<Check> const& checks) {
  return std::none_of(checks.begin(), checks.end(), [](Check const& c) { return c.hard && !c.ok; });
}

}  // namespace ee::launcher
