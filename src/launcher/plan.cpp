// Planning a launch: sizes, the agent's configuration and how it travels, the VM's paths and
// the QEMU command. Pure: nothing here reads or starts anything, so `ee launch --dry-run` and the
// snapshot tests see exactly what a launch would do.
#include <easyenclave/api/agent_config.hpp>
#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/boot_config.hpp>
#include <easyenclave/api/image_reference.hpp>
#include <easyenclave/launcher/image.hpp>
#include <easyenclave/launcher/launcher.hpp>
#include <easyenclave/launcher/settings.hpp>

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "detail/json.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cstdlib>

#include <unistd.h>

namespace ee::launcher {
namespace {

constexpr std::uint32_t kMaxMemoryGib = 1024;
constexpr std::uint32_t kMaxVcpus = 256;
// The agent API inside the guest (api/agent_config.hpp's default listen port).
constexpr std::uint16_t kAgentPort = 8081;
// ee-cp's default listen port (its `listen` setting, 127.0.0.1:8080).
constexpr std::uint16_t kCpPort = 8080;
// Where the image's mount-config-drive copies the config drive's simulator/ (a tmpfs).
constexpr std::string_view kGuestSimulatorDir = "/run/easyenclave/simulator";

// The presets of the issue: tiny and standard fixed, llm a starting point for GPU-less large
// models (override with --memory / --vcpus).
constexpr NodeSize kSizes[] = {
    {"tiny", 4, 4},
    {"standard", 16, 16},
    {"llm", 64, 32},
};

Error invalid(std::string text) { return Error(errc::invalid_request, std::move(text)); }

bool is_name(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool is_env_name(std::string_view s) {
  return !s.empty() && !(s.front() >= '0' && s.front() <= '9') &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_';
         });
}

bool is_http_url(std::string_view text) {
  auto url = boost::urls::parse_absolute_uri(text);
  return url && (url->scheme() == "http" || url->scheme() == "https") &&
         !url->encoded_host().empty() && !url->has_userinfo() && !url->has_query() &&
         !url->has_fragment() && !text.ends_with('/');
}

// QEMU's option syntax: a comma inside a value is written twice. Only options parsed as
// key=value lists take it (-drive file=, -qmp unix:); -bios, -kernel, -initrd, -serial file: and
// -pidfile take their path literally, so escaping those would name another file.
std::string qemu_escape(std::string_view value) {
  std::string out;
  for (char c : value) {
    out += c;
    if (c == ',') out += ',';
  }
  return out;
}

// A deterministic default name, "ee-<size>-<first 8 hex of SHA-256(owner|size|image)>" ("cp" for
// the owner and the size in cp-bootstrap mode): the same request gives the same name, so launching
// twice by accident is refused ("running") instead of starting a second VM, and tests can predict
// it.
std::string default_name(LaunchRequest const& r) {
  auto const digest = ::ee::detail::sha256(::ee::detail::as_bytes(
      (r.cp ? std::string("cp") : r.owner) + "|" + r.node_size + "|" + r.image));
  return "ee-" + std::string(r.cp ? "cp" : r.node_size) + "-" +
         ::ee::detail::hex_encode(std::span(digest).first(4));
}

// The settings that must not appear on a host's process list: any key the agent's registry marks
// secret that differs from its default (the written configuration holds only those).
bool carries_secrets(api::AgentConfig const& c) {
  auto doc = ::ee::detail::json::parse(api::agent_config_json(c));
  if (!doc || !doc->is_object()) return true;
  for (auto const& spec : api::agent_setting_registry().specs()) {
    if (spec.secret && doc->as_object().contains(spec.name)) return true;
  }
  return false;
}

// Keys the launcher sets from its own flags: a --set for one of them would make the agent's
// configuration disagree with the plan (a vm_name other than the VM's, which the CP is then
// polled for in vain), so it is refused, naming the flag to use.
constexpr std::pair<std::string_view, std::string_view> kFlagKeys[] = {
    {"mode", "--cp"},
    {"cp_url", "--cp-url"},
    {"owner", "--owner"},
    {"node_size", "--node-size"},
    {"datacenter", "--datacenter"},
    {"vm_name", "--name"},
    {"tunnel_token", "--cf-tunnel-token"},
    {"cp_env", "--cp-env"},
    {"bootstrap_token", "--bootstrap-token"},
};

result<api::AgentConfig> agent_config(LaunchRequest const& r, std::string const& name) {
  api::AgentConfig c;
  c.mode = r.cp ? "cp-bootstrap" : "agent";
  c.vm_name = name;
  c.owner = r.owner;
  c.node_size = r.node_size;
  c.datacenter = r.datacenter;
  c.cp_url = r.cp_url;
  c.tunnel_token = r.cf_tunnel_token;
  c.bootstrap_token = r.bootstrap_token;
  c.cp_env = r.cp_env;
  // QEMU's user network forwards the host port to the guest's address, not its loopback: an
  // agent API forwarded on request listens on every guest address (only the forward reaches
  // the guest's user network). A --set listen below still wins.
  if (r.forward_agent_port != 0) c.listen = "0.0.0.0:" + std::to_string(kAgentPort);
  // The same for ee-cp behind a forwarded port (its listen setting, EE_LISTEN).
  if (r.cp && r.forward_cp_port != 0 && !c.cp_env.contains("EE_LISTEN")) {
    c.cp_env["EE_LISTEN"] = "0.0.0.0:" + std::to_string(kCpPort);
  }
  if (!r.simulator_dir.empty()) {
    c.quote_provider = "simulator";
    c.simulator_dir = std::string(kGuestSimulatorDir);
  }
  for (auto const& [key, value] : r.agent_settings) {
    // Checked against the agent's registry before anything else, so a typo is named as one.
    if (api::agent_setting_registry().find(key) == nullptr) {
      return invalid("--set " + key + ": not a setting of the agent (ee-agent --help lists them)");
    }
    for (auto const& [flag_key, flag] : kFlagKeys) {
      if (key == flag_key) return invalid("--set " + key + ": use " + std::string(flag));
    }
    if (auto ok = api::apply_agent_config_value(key, value, c); !ok) {
      return invalid("--set " + key + ": " + ok.error().message());
    }
  }
  return c;
}

result<void> check_request(LaunchRequest const& r) {
  if (r.image.empty()) {
    return invalid("an image is required (a disk image path or an OCI reference)");
  }
  // The owner labels the agent for deployments; a CP's own VM may go without one.
  if (!r.cp || !r.owner.empty()) {
    if (r.owner.empty()) {
      return invalid("--owner is required (github:org/NAME or github:user/NAME)");
    }
    if (auto ok = api::check_owner(r.owner, "--owner"); !ok) return invalid(ok.error().message());
  }
  if (!r.cp) {
    if (r.cp_url.empty()) {
      return invalid("--cp-url is required (the control plane to register with)");
    }
    if (!is_http_url(r.cp_url)) {
      return invalid("--cp-url must be an absolute http(s) URL without a trailing '/'");
    }
  }
  if (auto ok = api::check_datacenter(r.datacenter, "--datacenter"); !ok) {
    return invalid(ok.error().message());
  }
  if (!r.name.empty() && !is_name(r.name)) {
    return invalid("--name must be 1-63 of [a-z0-9-], not starting or ending with '-'");
  }
  if (r.memory_gib && (*r.memory_gib == 0 || *r.memory_gib > kMaxMemoryGib)) {
    return invalid("--memory must be from 1 to " + std::to_string(kMaxMemoryGib) + " GiB");
  }
  if (r.vcpus && (*r.vcpus == 0 || *r.vcpus > kMaxVcpus)) {
    return invalid("--vcpus must be from 1 to " + std::to_string(kMaxVcpus));
  }
  if (!r.initrd.empty() && r.kernel.empty()) return invalid("--initrd needs --kernel");
  if (!r.simulator_dir.empty() && r.tdx) {
    return invalid("--simulator-dir is for --no-tdx (a TDX guest makes real quotes)");
  }
  for (auto const& [name, value] : r.cp_env) {
    if (!is_env_name(name)) return invalid("--cp-env: '" + name + "' is not a variable name");
  }
  if (!r.data_disk.empty() && r.data_disk == r.image) {
    return invalid("--data-disk must be another file than the image (which may be attached read-only)");
  }
  if (!r.cp && (!r.cf_tunnel_token.empty() || !r.cp_env.empty())) {
    return invalid(
        "--cf-tunnel-token and --cp-env are for --cp (agents get their tunnel from the CP)");
  }
  return {};
}

std::vector<std::string> qemu_argv(LaunchPlan const& p, LaunchRequest const& r,
                                   HostPaths const& paths) {
  std::vector<std::string> a{paths.qemu, "-name", p.name, "-nodefaults", "-nographic"};
  auto add = [&a](std::initializer_list<std::string> items) { a.insert(a.end(), items); };
  auto const memory = std::to_string(p.size.memory_gib) + "G";
  if (r.tdx) {
    // Upstream QEMU's TDX guest (QEMU 10.1+, host Linux 6.16+; QEMU's docs/system/i386/tdx.rst):
    // - `-accel kvm -cpu host`, the tdx-guest object named by the machine's
    //   confidential-guest-support, and a split irqchip (TDX emulates no in-kernel IOAPIC; QEMU
    //   splits it by itself when left on auto, written out here so the command says it);
    // - `-bios` with TDVF: TDX has no read-only private memory, so firmware cannot be pflash;
    // - memory: the tdx-guest object sets require_guest_memfd, so QEMU gives every RAM block a
    //   KVM guest_memfd for the private pages by itself; no "-private" backend is needed (that
    //   was the pre-upstream patch set). The shared side comes from a memfd backend, as
    //   Canonical's tdx tools give theirs an explicit backend: pages converted to private are
    //   punched out of it, so a guest does not hold its memory twice;
    // - hpet=off: TDX guests cannot use the emulated HPET (Canonical's boot scripts, Intel's).
    // Quotes: the guest's GetQuote (configfs-tsm) reaches QEMU, which forwards it to the host's
    // quote generation service; the JSON form of -object is the only way to give the nested
    // quote-generation-socket address. vsock CID 2 is the host, 4050 QGS's default port.
    std::string tdx = R"({"qom-type":"tdx-guest","id":"tdx0")";
    if (paths.vsock) {
      tdx += R"(,"quote-generation-socket":{"type":"vsock","cid":"2","port":")" +
             std::to_string(paths.qgs_vsock_port) + R"("})";
    }
    tdx += "}";
    add({"-accel", "kvm", "-cpu", "host", "-object", tdx, "-object",
         "memory-backend-memfd,id=ram0,size=" + memory, "-machine",
         "q35,kernel-irqchip=split,confidential-guest-support=tdx0,memory-backend=ram0,hpet=off",
         "-bios", paths.tdx_firmware});
  } else {
    // TCG: QEMU 7.2's (Debian 12's) emulation of CMPXCHG16B leaves EFLAGS corrupted, and Linux
    // 6.12's SLUB allocator, which uses it on every allocation, double-faults at its first
    // fork; without CX16 the kernel takes its lock-based path.
    add({"-accel", paths.kvm ? "kvm" : "tcg", "-cpu", paths.kvm ? "host" : "max,cx16=off",
         "-machine", "q35"});
    if (!paths.firmware.empty()) add({"-bios", paths.firmware});
  }
  add({"-m", memory, "-smp", std::to_string(p.size.vcpus)});
  // The format is stated, never probed: probing a raw image lets a guest that writes a qcow2
  // header into its own disk change what QEMU opens next time.
  auto format = [](std::string const& file) { return file.ends_with(".qcow2") ? "qcow2" : "raw"; };
  add({"-drive", "file=" + qemu_escape(r.image) + ",if=virtio,format=" + format(r.image) +
                     (r.read_only_image ? ",readonly=on" : "")});
  if (!r.kernel.empty()) {
    add({"-kernel", r.kernel});
    if (!r.initrd.empty()) add({"-initrd", r.initrd});
    std::string cmdline = r.append;
    if (!p.config_param.empty()) cmdline += (cmdline.empty() ? "" : " ") + p.config_param;
    add({"-append", cmdline});
  }
  if (!p.config_drive.empty()) {
    // A read-only virtio disk holding the ISO 9660 config drive; the guest finds it by its
    // volume id, EE_CONFIG.
    add({"-drive",
         "file=" + qemu_escape(p.config_drive.string()) +
             ",if=none,id=config,format=raw,readonly=on",
         "-device", "virtio-blk-pci,drive=config"});
  }
  if (!r.data_disk.empty()) {
    // Read-write, after the others: the guest finds its ee-data partition by name, not by order.
    add({"-drive",
         "file=" + qemu_escape(r.data_disk) + ",if=none,id=data,format=" + format(r.data_disk),
         "-device", "virtio-blk-pci,drive=data"});
  }
  std::string netdev = "user,id=net0";
  if (r.forward_agent_port != 0) {
    // Bound to the host's loopback only: the agent API is for the operator, not the network.
    netdev += ",hostfwd=tcp:127.0.0.1:" + std::to_string(r.forward_agent_port) +
              "-:" + std::to_string(kAgentPort);
  }
  if (r.cp && r.forward_cp_port != 0) {
    netdev += ",hostfwd=tcp:127.0.0.1:" + std::to_string(r.forward_cp_port) + "-:" +
              std::to_string(kCpPort);
  }
  add({"-netdev", netdev, "-device", "virtio-net-pci,netdev=net0"});
  // -daemonize: QEMU forks once the VM is set up, so `launch` returns with it running and the
  // pid file written; -nographic is allowed with it because -nodefaults leaves nothing on stdio.
  add({"-serial", "file:" + p.serial_log.string(), "-qmp",
       "unix:" + qemu_escape(p.qmp_socket.string()) + ",server=on,wait=off", "-daemonize",
       "-pidfile", p.pid_file.string()});
  return a;
}

}  // namespace

result<NodeSize> node_size(std::string_view name) {
  for (auto const& s : kSizes) {
    if (s.name == name) return s;
  }
  return invalid("--node-size '" + std::string(name) + "' is not one of tiny, standard, llm");
}

std::filesystem::path default_state_root() { return default_state_root(settings::process_environment()); }

result<LaunchPlan> plan_launch(LaunchRequest const& request, HostPaths const& paths) {
  if (auto ok = check_request(request); !ok) return ok.error();
  auto size = node_size(request.node_size);
  if (!size) return size.error();
  LaunchPlan p;
  p.name = request.name.empty() ? default_name(request) : request.name;
  p.size = *size;
  if (request.memory_gib) p.size.memory_gib = *request.memory_gib;
  if (request.vcpus) p.size.vcpus = *request.vcpus;

  auto config = agent_config(request, p.name);
  if (!config) return config.error();
  if (auto ok = api::validate_agent_config(*config); !ok) return invalid(ok.error().message());
  p.agent_config = api::agent_config_json(*config);

  p.vm_dir = paths.state_root / p.name;
  p.serial_log = p.vm_dir / "serial.log";
  p.qmp_socket = p.vm_dir / "qmp.sock";
  p.pid_file = p.vm_dir / "qemu.pid";
  p.config_file = p.vm_dir / "config.json";

  // The command line is measured by TDVF into an RTMR and is the simplest way in, but it is
  // visible in the host's process list and limited to 2048 bytes, and only a kernel QEMU boots
  // itself takes it: otherwise the configuration goes on a config drive.
  if (!request.simulator_dir.empty()) {
    p.config_drive_reason = "it carries the quote simulator (--simulator-dir)";
    p.config_drive_simulator = request.simulator_dir;
  } else if (request.config_drive) {
    p.config_drive_reason =
        "the image's own command line is measured (RTMR2) and stays as its manifest says";
  } else if (carries_secrets(*config)) {
    p.config_drive_reason =
        "it carries secrets (tunnel token, API keys), which must not show on "
        "the host's process list";
  } else if (request.kernel.empty()) {
    p.config_drive_reason =
        "the image boots its own kernel (no --kernel), so its command line is "
        "not the launcher's to set";
  } else {
    auto param = api::encode_boot_config(p.agent_config);
    if (!param) return param.error();
    if (api::fits_command_line(*param, request.append.size() + 1)) {
      p.config_param = std::move(*param);
    } else {
      p.config_drive_reason = "the configuration takes " + std::to_string(param->size()) +
                              " bytes on the kernel command line; it holds " +
                              std::to_string(api::kBootConfigMaxCmdline - 1) + " in all";
    }
  }
  if (p.config_param.empty()) p.config_drive = p.vm_dir / "config.iso";
  p.qemu_argv = qemu_argv(p, request, paths);
  return p;
}

result<void> use_image_kernel(LaunchRequest& r) {
  if (!r.kernel.empty()) return {};
  std::error_code ec;
  std::filesystem::path const image(r.image);
  if (!std::filesystem::exists(image, ec)) return {};  // an OCI reference, or a typo plan names
  auto const dir = std::filesystem::is_directory(image, ec) ? image : image.parent_path();
  if (!std::filesystem::exists((dir.empty() ? "." : dir) / "manifest.json", ec)) return {};
  auto boot = image_boot_files(image);
  if (!boot) return boot.error();
  r.image = boot->disk.string();
  r.kernel = boot->kernel.string();
  r.initrd = boot->initrd.string();
  r.append = boot->cmdline;
  r.config_drive = true;
  r.read_only_image = true;
  return {};
}

bool is_oci_reference(std::string_view image) noexcept {
  // Paths like "/images/disk.qcow2", "./vm.img" or "~/x.img" do not parse as references.
  auto ref = api::ImageReference::parse(image);
  if (!ref) return false;
  if (ref->pinned()) return true;
  // "disk.qcow2" and "images/vm.img" do: a name without a '/' is a file in this directory, and
  // one ending like a disk image, with no tag, is a file too.
  if (ref->name().find('/') == std::string::npos) return false;
  if (ref->tag().empty()) {
    for (auto const* ext : {".qcow2", ".img", ".raw"}) {
      if (ref->repository().ends_with(ext)) return false;
    }
  }
  return true;
}

std::string_view to_string(VmState state) noexcept {
  return state == VmState::running ? "running" : "stopped";
}

}  // namespace ee::launcher
