// The settings of `ee` (launcher/settings.hpp): the table, and what its values resolve to on
// this host.
#include <easyenclave/launcher/settings.hpp>

#include <easyenclave/api/agent_config.hpp>

#include <array>

#include <unistd.h>

namespace ee::launcher {
namespace {

using settings::Spec;
using settings::Type;

// The agent's cp_url in ee's "launch" group: one name, flag and variable for the same thing.
constexpr Spec kCpUrl = [] {
  Spec spec = api::kCpUrlSetting;
  spec.group = "launch";
  spec.help = "The control plane the agent registers with (required without --cp)";
  return spec;
}();

// Every key of ee. Secrets and URLs mean the same as the agent's keys of the same name and read
// the same variables (EE_CF_TUNNEL_TOKEN is ee's earlier name of the tunnel token, EE_SIM_DIR of
// the simulator's directory). A subcommand takes only the flags of the keys it uses (cli/ee.cpp).
constexpr std::array kSpecs{
    Spec{.name = "log_level", .env = "EE_LOG_LEVEL", .flag = "log-level", .default_value = "warn",
         .group = "general", .help = "Log level (logs go to stderr)", .choices = "trace|debug|info|warn|error"},
    kCpUrl,
    Spec{.name = "tunnel_token", .env = "EE_TUNNEL_TOKEN", .flag = "cf-tunnel-token", .group = "launch",
         .help = "--cp: the CP's tunnel token (written on the config drive only; prefer the environment)",
         .secret = true, .env_aliases = "EE_CF_TUNNEL_TOKEN"},
    Spec{.name = "bootstrap_token", .env = "EE_BOOTSTRAP_TOKEN", .flag = "bootstrap-token", .group = "launch",
         .help = "The owner's bootstrap token (POST /api/v1/owners/bootstrap-tokens; written on the config drive "
                 "only; prefer the environment)",
         .secret = true},
    Spec{.name = "qemu", .env = "EE_QEMU", .flag = "qemu", .default_value = "qemu-system-x86_64", .group = "host",
         .help = "QEMU binary"},
    Spec{.name = "tdx_firmware", .env = "EE_TDX_FIRMWARE", .flag = "tdx-firmware",
         .default_value = "/usr/share/ovmf/OVMF.inteltdx.fd", .group = "host", .help = "TDVF"},
    Spec{.name = "firmware", .env = "EE_FIRMWARE", .flag = "firmware", .group = "host",
         .help = "Firmware without TDX (empty: QEMU's)"},
    Spec{.name = "vm_state_dir", .env = "EE_VM_STATE_DIR", .flag = "state-dir", .group = "host",
         .help = "VMs' state (empty: /var/lib/easyenclave/vms as root, else $XDG_DATA_HOME/easyenclave/vms or "
                 "~/.local/share/easyenclave/vms)"},
    Spec{.name = "simulator_dir", .env = "EE_SIMULATOR_DIR", .flag = "simulator-dir", .group = "simulator",
         .help = "The quote simulator's state (empty: ~/.local/share/easyenclave/simulator)",
         .env_aliases = "EE_SIM_DIR"},
};

std::string variable(settings::Environment const& env, std::string_view name) {
  auto value = env ? env(name) : std::nullopt;
  return value ? *value : std::string();
}

}  // namespace

settings::Registry const& setting_registry() {
  // The table is checked by its tests; a mistake in it is a programming error found at once.
  static settings::Registry const registry = settings::Registry::create(kSpecs).value();
  return registry;
}

std::string_view setting_group_title(std::string_view group) noexcept {
  if (group == "general") return "General";
  if (group == "launch") return "Launch";
  if (group == "host") return "Host tools";
  if (group == "simulator") return "Quote simulator";
  return group;
}

std::filesystem::path default_state_root(settings::Environment const& env) {
  if (::geteuid() == 0) return "/var/lib/easyenclave/vms";
  if (auto const xdg = variable(env, "XDG_DATA_HOME"); xdg.starts_with('/')) {
    return std::filesystem::path(xdg) / "easyenclave/vms";
  }
  auto const home = variable(env, "HOME");
  return std::filesystem::path(home.empty() ? "." : home) / ".local/share/easyenclave/vms";
}

HostSettings host_settings(settings::Settings const& settings, settings::Environment const& env) {
  HostSettings out;
  out.log_level = settings.text("log_level");
  out.cp_url = settings.text("cp_url");
  out.tunnel_token = settings.text("tunnel_token");
  out.bootstrap_token = settings.text("bootstrap_token");
  out.paths.qemu = settings.text("qemu");
  out.paths.tdx_firmware = settings.text("tdx_firmware");
  out.paths.firmware = settings.text("firmware");
  auto const& state = settings.text("vm_state_dir");
  out.paths.state_root = state.empty() ? default_state_root(env) : std::filesystem::path(state);
  auto const& simulator = settings.text("simulator_dir");
  if (simulator.empty()) {
    auto const home = variable(env, "HOME");
    out.simulator_dir = std::filesystem::path(home.empty() ? "." : home) / ".local/share/easyenclave/simulator";
  } else {
    out.simulator_dir = simulator;
  }
  return out;
}

result<HostSettings> resolve_host_settings(settings::FlagValues const& flags, settings::Environment const& env) {
  auto const variables = settings::without_empty(env);
  auto resolved = settings::Settings::resolve(setting_registry(), flags, variables);
  if (!resolved) return resolved.error();
  return host_settings(*resolved, variables);
}

}  // namespace ee::launcher
