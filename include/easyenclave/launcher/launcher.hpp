#pragma once
/// @file The host side of easyenclave: boot a TDX VM that carries everything (agent, cloudflared,
/// workload) with QEMU/KVM, and manage the VMs it started. `ee launch | stop | list | logs |
/// preflight` are thin verbs over this.
///
/// Planning is pure: `plan_launch` turns a request and the host's paths into the QEMU command, the
/// agent's configuration and where the VM's state lives, without touching anything, so `--dry-run`
/// and the snapshot tests see exactly what a launch would run. `launch` then makes the state
/// directory, writes the config (and the config drive when the command line is too small), starts
/// QEMU daemonised and waits for its QMP socket to answer.
#include <easyenclave/error.hpp>
#include <easyenclave/launcher/error.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ee::launcher {

// --- sizes --------------------------------------------------------------------------------------

struct NodeSize {
  std::string name{};
  std::uint32_t memory_gib = 0;
  std::uint32_t vcpus = 0;
};

/// The presets: tiny 4 GiB / 4 vCPU, standard 16 GiB / 16 vCPU, llm 64 GiB / 32 vCPU (its
/// defaults; `--memory` / `--vcpus` override any preset).
/// @returns launcher::errc::invalid_request naming the known sizes for another name.
result<NodeSize> node_size(std::string_view name);

// --- the request and the plan
// ---------------------------------------------------------------------

/// What `ee launch` was asked for.
struct LaunchRequest {
  /// A VM disk image (qcow2 or raw, by extension or content), or an OCI reference
  /// (`registry/name@sha256:...` or `...:tag`) that `prepare_image` turns into a disk image.
  std::string image{};
  /// Direct kernel boot: the kernel (and initrd) the VM starts; the agent's configuration then
  /// rides on the kernel command line. Empty: the image boots itself and the configuration goes
  /// on a config drive.
  std::string kernel{};
  std::string initrd{};
  /// Extra kernel command line (before the configuration).
  std::string append = "console=ttyS0";

  std::string name{};   ///< VM name: [a-z0-9-], default derived from owner and size
  bool cp = false;      ///< cp-bootstrap: the agent runs ee-cp instead of registering
  std::string owner{};  ///< "github:org/NAME" or "github:user/NAME"
  std::string node_size = "tiny";
  std::optional<std::uint32_t> memory_gib{};
  std::optional<std::uint32_t> vcpus{};
  std::string cp_url{};
  std::string datacenter = "local:qemu";
  /// cp-bootstrap: the pre-configured tunnel token for the CP's own tunnel (secret).
  std::string cf_tunnel_token{};
  /// The owner's bootstrap token for the agent (secret: written on the config drive only).
  std::string bootstrap_token{};
  /// cp-bootstrap: settings handed to ee-cp through the agent's environment (its variables:
  /// CLOUDFLARE_*, EE_*); secrets among them, so they never go on a command line.
  std::map<std::string, std::string> cp_env{};
  /// Further agent settings (api/agent_config.hpp keys) merged into the configuration.
  std::map<std::string, std::string> agent_settings{};

  /// Build the VM without TDX (KVM when it works, else TCG) for local testing.
  bool tdx = true;
  /// Forward this host port (on 127.0.0.1) to the agent API (guest port 8081); 0: none.
  std::uint16_t forward_agent_port = 0;
  /// --cp: forward this host port (on 127.0.0.1) to ee-cp (guest port 8080, where ee-cp then
  /// listens on every guest address unless --cp-env EE_LISTEN says otherwise); 0: none.
  std::uint16_t forward_cp_port = 0;
  /// Put the configuration on the config drive even with --kernel: the image's own command line
  /// is measured (RTMR2) and must stay as its manifest says (set by `use_image_kernel`).
  bool config_drive = false;
  /// Attach the image read-only (an image build's disk: its root is dm-verity, and several VMs
  /// may boot the same file); set by `use_image_kernel`.
  bool read_only_image = false;
  /// --no-tdx only: a quote simulator's directory (`ee sim`, tdx/simulator.hpp) copied onto the
  /// config drive, where the image's agent uses it (quote_provider simulator), so the guest's
  /// quotes verify against the same test PKI as a host's `ee-cp --dev --simulator-dir`.
  std::filesystem::path simulator_dir{};
  /// A second disk, attached read-write (qcow2 by extension, else raw), for what the guest keeps
  /// across boots: an image build's initrd mounts its GPT partition named `ee-data` (ext4) on
  /// /data, where the agent keeps its registration and ee-cp its database. Empty: /data is a
  /// tmpfs. One VM at a time: QEMU locks the file.
  std::string data_disk{};
};

/// Where things are on the host.
struct HostPaths {
  std::string qemu = "qemu-system-x86_64";
  /// TDVF for TDX guests; plain OVMF (or none: SeaBIOS) without TDX.
  std::string tdx_firmware = "/usr/share/ovmf/OVMF.inteltdx.fd";
  std::string firmware{};
  /// The host's quote generation service (QGS) for guests' quotes: a vsock port (Intel's
  /// default 4050), used when `/dev/vhost-vsock` exists.
  std::uint32_t qgs_vsock_port = 4050;
  bool vsock = false;
  /// Whether KVM works (without TDX: KVM, else TCG).
  bool kvm = false;
  /// VMs' state: `<state_root>/<name>/`.
  std::filesystem::path state_root{};
};

/// The state root for this user: `/var/lib/easyenclave/vms` as root, else
/// `$XDG_DATA_HOME/easyenclave/vms` (`~/.local/share/easyenclave/vms`).
std::filesystem::path default_state_root();

/// Everything a launch would do.
struct LaunchPlan {
  std::string name{};
  NodeSize size{};
  /// The agent's configuration (compact JSON; api/agent_config.hpp keys). Secrets (cp_env, the
  /// tunnel token) are in it only when it goes on the config drive.
  std::string agent_config{};
  /// "easyenclave.configz=..." / "easyenclave.config=..." on the kernel command line, or empty
  /// when the configuration goes on the config drive.
  std::string config_param{};
  /// Why the config drive is used, for the user ("the configuration is 3120 bytes ...").
  std::string config_drive_reason{};
  std::filesystem::path vm_dir{}, serial_log{}, qmp_socket{}, pid_file{}, config_file{},
      config_drive{};
  /// A simulator directory to copy onto the config drive as simulator/ (LaunchRequest's).
  std::filesystem::path config_drive_simulator{};
  /// The QEMU command line, ready for exec.
  std::vector<std::string> qemu_argv{};
};

/// The plan for `request` on a host with `paths`. Pure: reads nothing, starts nothing.
/// @returns launcher::errc::invalid_request naming the argument: no image, an owner that is
///          not `github:org/NAME` / `github:user/NAME` (agent mode), an unknown size, a bad name,
///          memory or vCPUs out of range, a datacenter or CP URL of the wrong form; the codec's
///          errors. Never throws (except bad_alloc).
result<LaunchPlan> plan_launch(LaunchRequest const& request, HostPaths const& paths);

/// `ee launch IMAGE` without --kernel, where IMAGE is the disk of an image build (manifest.json
/// beside it) or the build's directory: boots the image's own kernel, initrd and command line
/// (image.hpp's image_boot_files) with the configuration on the config drive, so the command line
/// TDVF measures is the manifest's. Leaves a request with a kernel, an OCI reference or a disk
/// without a manifest as it is. Reads the manifest.
/// @returns launcher::errc::image_failed naming what is missing (the kernel, the initrd, the
///          disk) or what is wrong in the manifest.
result<void> use_image_kernel(LaunchRequest& request);

// --- OCI images
// -----------------------------------------------------------------------------------

/// True when `image` reads as an OCI reference rather than a file path: it parses as an
/// `api::ImageReference` and either carries a digest, or has a '/' in its name and does not end
/// in ".qcow2", ".img" or ".raw" without a tag. E.g. "ghcr.io/org/app@sha256:..." and
/// "ghcr.io/org/app:1" are references; "disk.qcow2", "images/vm.img" and "./x" are files.
bool is_oci_reference(std::string_view image) noexcept;

struct OciOptions {
  std::string skopeo = "skopeo";
  std::string podman = "podman";
  /// Size of the raw ext4 disk made from the image's root filesystem.
  std::uint32_t disk_gib = 4;
};

/// Fetches `reference` (skopeo copy, or podman pull and export, whichever exists), unpacks its
/// root filesystem and makes a raw ext4 disk image of it in `work_dir`; returns its path. Such a
/// disk has no bootloader: it is booted with `LaunchRequest::kernel` and `root=/dev/vda`.
/// @returns launcher::errc::tool_missing when neither tool exists; image_failed with the tool's
///          message otherwise.
result<std::filesystem::path> prepare_oci_image(std::string const& reference,
                                                std::filesystem::path const& work_dir,
                                                OciOptions const& options = {});

// --- preflight ----------------------------------------------------------------------------------

struct Check {
  std::string name{};  ///< "qemu", "kvm", "tdx", "firmware", "qgs", "oci-tools", ...
  bool ok = false;
  bool hard = false;     ///< a failed hard check stops `launch`
  std::string detail{};  ///< what was found
  std::string fix{};     ///< what to do when it failed
};

struct PreflightOptions {
  HostPaths paths{};
  bool tdx = true;
  /// Where the kernel exposes KVM's TDX switch (a test may point it elsewhere).
  std::filesystem::path kvm_tdx_param = "/sys/module/kvm_intel/parameters/tdx";
  std::filesystem::path kvm_device = "/dev/kvm";
  std::filesystem::path vsock_device = "/dev/vhost-vsock";
};

/// Checks the host: the qemu binary and its version, /dev/kvm (and whether KVM works), TDX in
/// KVM, the firmware, the quote generation service, podman or skopeo for OCI images. Runs
/// `qemu --version`; reads files. Never throws (except bad_alloc).
std::vector<Check> preflight(PreflightOptions const& options);
/// True when no hard check failed.
bool preflight_passed(std::vector<Check> const& checks);

// --- the VMs ------------------------------------------------------------------------------------

enum class VmState { running, stopped };
std::string_view to_string(VmState state) noexcept;

struct VmInfo {
  std::string name{};
  VmState state = VmState::stopped;
  std::string owner{};
  std::string node_size{};
  bool cp = false;
  bool tdx = true;
  int pid = -1;
  std::chrono::system_clock::time_point started_at{};
  std::filesystem::path vm_dir{};
};

struct LaunchOptions {
  /// How long QEMU's QMP socket may take to answer.
  std::chrono::milliseconds qmp_timeout{30'000};
};

/// Carries out `plan`: makes the VM's directory (refusing a name that is running), writes the
/// configuration (0600) and the config drive (xorriso or genisoimage, volume id EE_CONFIG) when
/// the plan says so, starts QEMU daemonised, and returns once its QMP socket answers.
/// @returns launcher::errc::vm_running when a VM of that name runs; tool_missing, qemu_failed
///          (its stderr in the detail) or qmp_timeout.
result<VmInfo> launch(LaunchPlan const& plan, LaunchOptions const& options = {});

/// Every VM under `state_root`, running or stopped (from its pid and a QMP query), by name.
result<std::vector<VmInfo>> list_vms(std::filesystem::path const& state_root);

/// Asks QMP to quit, then SIGTERM, then SIGKILL after `timeout`, and removes the VM's directory.
/// @returns launcher::errc::vm_not_found when no such VM exists.
result<void> stop_vm(std::filesystem::path const& state_root, std::string const& name,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// How far a VM's boot got, as its serial console shows it; in boot order.
enum class BootStage {
  not_started,  ///< nothing on the console yet
  firmware,     ///< the console has output, no kernel yet
  kernel,       ///< the kernel is booting (its banner)
  system,       ///< the root file system passed dm-verity and systemd runs
  agent,        ///< ee-agent runs (it has its key)
  registered,   ///< ee-agent says the CP registered it
};
std::string_view to_string(BootStage stage) noexcept;  ///< "kernel booting", ...

/// What a serial console's text says of the boot: the furthest stage seen and, when the guest
/// gave up (the init's FATAL line, ee-agent stopping), that line. Reads only what it is given.
struct BootProgress {
  BootStage stage = BootStage::not_started;
  std::string failure{};  ///< the guest's own line, at most 512 bytes; empty while it goes on
};
BootProgress read_boot_progress(std::string_view serial_text);

struct RegistrationWait {
  std::chrono::seconds timeout{300};
  /// Where the VM's serial log is (its state root); empty: the console is not read, and neither
  /// stages nor a guest's failure are seen.
  std::filesystem::path state_root{};
  /// Called with each new boot stage and the time since the wait began.
  std::function<void(BootStage stage, std::chrono::seconds after)> on_stage{};
};

/// Polls the control plane at `cp_url` (`GET /api/v1/agents?vm_name=`) until the agent of
/// `vm_name` is registered and verified, or `wait.timeout` passes, following the boot on the
/// VM's serial console meanwhile. Blocking.
/// @returns launcher::errc::invalid_request without a CP URL; guest_failed as soon as the
///          console shows the guest gave up (its line in the detail); registration_timeout when
///          the agent did not appear in time (the boot stage reached and the last thing the CP
///          said in the detail).
result<void> wait_registered(std::string const& cp_url, std::string const& vm_name, RegistrationWait const& wait);
result<void> wait_registered(std::string const& cp_url, std::string const& vm_name,
                             std::chrono::seconds timeout);

/// The last `lines` lines of the VM's serial log; without `lines`, the log's last 8 MiB (cut to
/// whole lines). Reads only the tail of a long log.
/// @returns launcher::errc::vm_not_found or invalid_request (a malformed name).
result<std::string> read_serial_log(std::filesystem::path const& state_root,
                                    std::string const& name,
                                    std::optional<std::size_t> lines = std::nullopt);

struct LogChunk {
  std::string text{};
  std::uint64_t next_offset = 0;  ///< where the next read continues
};

/// At most `max_bytes` of the serial log from byte `offset` (for `ee logs --follow`); a log
/// shorter than `offset` (replaced by a new VM of the name) is read from its start. With
/// `max_bytes` 0 it reads nothing and says where the log ends now.
result<LogChunk> read_serial_log_from(std::filesystem::path const& state_root,
                                      std::string const& name, std::uint64_t offset,
                                      std::size_t max_bytes = 1024 * 1024);

}  // namespace ee::launcher
