// ee launch | stop | list | logs | preflight: flags and output over ee::launcher. Exit codes: 0 ok,
// 2 usage, 3 I/O or upstream (a failed preflight included).
#include "ee_vms.hpp"

#include <easyenclave/cp/settings.hpp>

#include <easyenclave/launcher/describe.hpp>
#include <easyenclave/launcher/launcher.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

struct VmCommands {
  CLI::App* launch = nullptr;
  CLI::App* stop = nullptr;
  CLI::App* list = nullptr;
  CLI::App* logs = nullptr;
  CLI::App* preflight = nullptr;
  ee::launcher::LaunchRequest request;  // cp_url and the tokens come from the settings
  std::vector<std::string> settings, cp_env;
  std::string name;
  std::size_t lines = 0;
  std::string accel = "auto";
  bool json = false, dry_run = false, follow = false, no_tdx = false, wait_registered = false;
  int wait_seconds = 300;
};

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitIo = 3;

int fail(ee::Error const& e) {
  std::cerr << "ee: " << e.message() << " (" << e.id() << ")\n";
  return e == ee::condition::invalid_input ? kExitUsage : kExitIo;
}

// "KEY=VALUE" pairs into `out`; false on one without '='.
bool pairs(std::vector<std::string> const& items, std::map<std::string, std::string>& out) {
  for (auto const& item : items) {
    auto const eq = item.find('=');
    if (eq == std::string::npos || eq == 0) return false;
    out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return true;
}

// ee-cp's settings from this environment (--cp): every variable ee-cp reads (its settings
// registry, earlier names included) whose value means the same inside the VM; paths, addresses
// and modes of this machine stay here. --cp-env wins.
void cp_environment(ee::settings::Environment const& env, std::map<std::string, std::string>& out) {
  for (auto const& spec : ee::cp::setting_registry().specs()) {
    if (!spec.portable) continue;
    for (auto variable : ee::settings::variables(spec)) {
      std::string const name(variable);
      if (auto value = env(name); value && !out.contains(name)) out[name] = *value;
    }
  }
}

int launch(VmCommands const& c, ee::launcher::HostSettings const& host) {
  auto request = c.request;
  request.tdx = !c.no_tdx;
  request.cp_url = host.cp_url;
  request.cf_tunnel_token = host.tunnel_token;
  request.bootstrap_token = host.bootstrap_token;
  if (!pairs(c.settings, request.agent_settings) || !pairs(c.cp_env, request.cp_env)) {
    return fail(ee::Error(ee::errc::invalid_value, "--set and --cp-env take KEY=VALUE"));
  }
  if (request.cp) cp_environment(ee::settings::process_environment(), request.cp_env);
  auto paths = host.paths;
  auto const& state_root = paths.state_root;
  auto checks = ee::launcher::preflight({.paths = paths, .tdx = request.tdx});
  for (auto const& check : checks) {
    if (check.name == "kvm") paths.kvm = check.ok;
    if (check.name == "qgs") paths.vsock = check.ok;
  }
  // KVM that creates VMs may still fail to run a guest (nested virtualisation): --accel tcg.
  if (c.accel != "auto") paths.kvm = c.accel == "kvm";
  if (!ee::launcher::preflight_passed(checks) && !c.dry_run) {
    std::cerr << ee::launcher::describe_checks_text(checks);
    return fail(ee::launcher::errc::preflight_failed);
  }
  std::error_code ec;
  bool const file = std::filesystem::exists(request.image, ec);
  if (!file && ee::launcher::is_oci_reference(request.image) && !c.dry_run) {
    std::cerr << "ee: pulling " << request.image << " and writing it to a disk\n";
    auto disk = ee::launcher::prepare_oci_image(request.image,
                                                state_root / ".images");
    if (!disk) return fail(disk.error());
    request.image = disk->string();
  }
  if (auto own = ee::launcher::use_image_kernel(request); !own) return fail(own.error());
  auto plan = ee::launcher::plan_launch(request, paths);
  if (!plan) return fail(plan.error());
  if (c.dry_run) {
    std::cout << (c.json ? ee::launcher::describe_plan_json(*plan) + "\n"
                         : ee::launcher::describe_plan_text(*plan));
    return 0;
  }
  if (!plan->config_param.empty() || !c.json)
    std::cerr << "ee: "
              << (plan->config_param.empty()
                      ? "configuration on a config drive: " + plan->config_drive_reason
                      : "configuration on the kernel command line")
              << "\n";
  std::cerr << "ee: " << plan->name << ": starting QEMU\n";
  auto vm = ee::launcher::launch(*plan);
  if (!vm) return fail(vm.error());
  std::cerr << "ee: " << plan->name << ": QEMU answers (pid " << vm->pid << "); serial log: ee logs " << plan->name
            << "\n";
  if (c.wait_registered) {
    // Each boot stage as the console shows it, so a slow boot says where it is.
    ee::launcher::RegistrationWait wait{
        .timeout = std::chrono::seconds(c.wait_seconds),
        .state_root = state_root,
        .on_stage = [&name = plan->name](ee::launcher::BootStage stage, std::chrono::seconds after) {
          std::cerr << "ee: " << name << ": " << ee::launcher::to_string(stage) << " (" << after.count() << "s)\n";
        }};
    auto seen = ee::launcher::wait_registered(request.cp_url, plan->name, wait);
    if (!seen) return fail(seen.error());
  }
  auto const now = std::chrono::system_clock::now();
  std::cout << (c.json ? ee::launcher::describe_vms_json({*vm}, now) + "\n"
                       : ee::launcher::describe_vms_text({*vm}, now));
  return 0;
}

int logs(VmCommands const& c, std::filesystem::path const& state_root) {
  std::optional<std::size_t> lines;
  if (c.lines > 0) lines = c.lines;
  auto text = ee::launcher::read_serial_log(state_root, c.name, lines);
  if (!text) return fail(text.error());
  std::cout << *text << std::flush;
  if (!c.follow) return 0;
  // --follow: what the VM writes from the end of the log on, until interrupted or the VM is gone.
  auto end = ee::launcher::read_serial_log_from(state_root, c.name, 0, 0);
  for (std::uint64_t offset = end ? end->next_offset : 0;;) {
    auto chunk = ee::launcher::read_serial_log_from(state_root, c.name, offset);
    if (!chunk) return 0;
    std::cout << chunk->text << std::flush;
    if (chunk->next_offset == offset) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    offset = chunk->next_offset;
  }
}

}  // namespace

std::shared_ptr<VmCommands> add_vm_commands(CLI::App& app, ee::cli::SettingFlagSet& settings) {
  auto c = std::make_shared<VmCommands>();
  auto& r = c->request;
  c->launch =
      app.add_subcommand("launch", "Boot a TDX VM with the agent (and its workload) inside");
  auto* l = c->launch;
  l->add_option("IMAGE", r.image, "VM disk image (qcow2/raw) or OCI reference")->required();
  l->add_flag("--cp", r.cp, "Boot the control plane (cp-bootstrap mode)");
  l->add_option("--owner", r.owner, "github:org/NAME or github:user/NAME");
  l->add_option("--node-size", r.node_size, "tiny | standard | llm")->capture_default_str();
  l->add_option("--memory", r.memory_gib, "Memory, GiB (overrides the size)");
  l->add_option("--vcpus", r.vcpus, "vCPUs (overrides the size)");
  l->add_option("--datacenter", r.datacenter, "CLOUD:ZONE")->capture_default_str();
  l->add_option("--name", r.name, "VM name (default derived from owner and size)");
  l->add_option("--cp-env", c->cp_env,
                "--cp: KEY=VALUE for ee-cp (also every portable ee-cp variable set here, see ee-cp --help)");
  l->add_option("--set", c->settings, "KEY=VALUE agent setting (see ee-agent --help)");
  l->add_option("--kernel", r.kernel,
                "Boot this kernel (the configuration rides on its command line); without it, an image build's own kernel");
  l->add_option("--initrd", r.initrd, "Its initrd");
  l->add_option("--append", r.append, "Kernel command line before the configuration")
      ->capture_default_str();
  l->add_option("--forward-agent-port", r.forward_agent_port,
                "Forward 127.0.0.1:PORT to the agent API");
  l->add_option("--forward-cp-port", r.forward_cp_port, "--cp: forward 127.0.0.1:PORT to ee-cp");
  l->add_option("--simulator-dir", r.simulator_dir,
                "--no-tdx: this quote simulator (ee sim) on the config drive, for a host's ee-cp --dev");
  l->add_option("--data-disk", r.data_disk,
                "A disk for the guest's /data, kept across boots (its GPT partition named ee-data, ext4)");
  l->add_flag("--no-tdx", c->no_tdx, "The same VM without TDX (KVM, else TCG), for local testing");
  l->add_option("--accel", c->accel, "--no-tdx: auto | kvm | tcg")
      ->check(CLI::IsMember({"auto", "kvm", "tcg"}))
      ->capture_default_str();
  l->add_flag("--dry-run", c->dry_run,
              "Print the QEMU command and the configuration; start nothing");
  l->add_flag("--wait-registered", c->wait_registered, "Wait until the agent appears at the CP");
  l->add_option("--wait-seconds", c->wait_seconds, "How long --wait-registered waits")
      ->capture_default_str();
  settings.add(*l, {.only = {"cp_url", "tunnel_token", "bootstrap_token", "qemu", "tdx_firmware", "firmware",
                             "vm_state_dir"},
                    .aliases = {}});
  c->stop = app.add_subcommand(
      "stop", "Stop a VM (QMP quit, then SIGTERM, then SIGKILL) and remove its state");
  c->stop->add_option("NAME", c->name, "VM name")->required();
  c->list = app.add_subcommand("list", "The VMs this user launched");
  c->logs = app.add_subcommand("logs", "A VM's serial console");
  c->logs->add_option("NAME", c->name, "VM name")->required();
  c->logs->add_option("--lines", c->lines, "Only the last N lines");
  c->logs->add_flag("--follow", c->follow, "Keep printing what the VM writes");
  c->preflight = app.add_subcommand("preflight", "Check this host for TDX VMs");
  c->preflight->add_flag("--no-tdx", c->no_tdx, "Check for VMs without TDX");
  settings.add(*c->preflight, {.only = {"qemu"}, .aliases = {}});
  for (auto* verb : {c->launch, c->list, c->preflight})
    verb->add_flag("--json", c->json, "JSON output");
  for (auto* verb : {c->stop, c->list, c->logs}) settings.add(*verb, {.only = {"vm_state_dir"}, .aliases = {}});
  return c;
}

std::optional<int> run_vm_command(VmCommands const& c, ee::launcher::HostSettings const& host) {
  auto const& state_root = host.paths.state_root;
  if (*c.launch) return launch(c, host);
  if (*c.stop) {
    auto stopped = ee::launcher::stop_vm(state_root, c.name);
    return stopped ? 0 : fail(stopped.error());
  }
  if (*c.list) {
    auto vms = ee::launcher::list_vms(state_root);
    if (!vms) return fail(vms.error());
    auto const now = std::chrono::system_clock::now();
    std::cout << (c.json ? ee::launcher::describe_vms_json(*vms, now) + "\n"
                         : ee::launcher::describe_vms_text(*vms, now));
    return 0;
  }
  if (*c.logs) return logs(c, state_root);
  if (*c.preflight) {
    auto checks = ee::launcher::preflight({.paths = host.paths, .tdx = !c.no_tdx});
    std::cout << (c.json ? ee::launcher::describe_checks_json(checks) + "\n"
                         : ee::launcher::describe_checks_text(checks));
    return ee::launcher::preflight_passed(checks) ? 0 : kExitIo;
  }
  return std::nullopt;
}
