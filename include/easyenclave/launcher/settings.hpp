#pragma once
/// @file The settings of `ee`, the host-side tool: every value it reads from a flag or the
/// environment is a key of `setting_registry()` (settings.hpp), resolved flag > environment >
/// default; `ee`'s setting flags and their --help are generated from it, and the `ee` tables of
/// docs/operations.md are checked against it. Defaults that depend on the host (the state root
/// under $XDG_DATA_HOME or $HOME, the simulator's directory under $HOME) are empty in the table
/// and filled by `host_settings` from the environment it is given.
#include <easyenclave/error.hpp>
#include <easyenclave/launcher/launcher.hpp>
#include <easyenclave/settings.hpp>

#include <filesystem>
#include <string>
#include <string_view>

namespace ee::launcher {

/// Every key of `ee`, checked once: constant data. `cp_url` is the agent's key
/// (api::kCpUrlSetting), `tunnel_token` and `bootstrap_token` read the agent's variable names.
/// Never throws. Thread-safe.
settings::Registry const& setting_registry();

/// The title of a group of `setting_registry()` for help and docs ("Host tools").
std::string_view setting_group_title(std::string_view group) noexcept;

/// What `ee`'s settings resolve to.
struct HostSettings {
  std::string log_level = "warn";
  std::string cp_url{};
  std::string tunnel_token{};     ///< secret
  std::string bootstrap_token{};  ///< secret
  /// qemu, tdx_firmware, firmware and state_root set; the rest as HostPaths has them.
  HostPaths paths{};
  std::filesystem::path simulator_dir{};
};

/// `settings` (resolved over `setting_registry()`) as HostSettings, with an empty state
/// directory made `default_state_root(env)` and an empty simulator directory
/// `$HOME/.local/share/easyenclave/simulator` (HOME read through `env`; "." when unset).
/// Never throws (except bad_alloc). Thread-safe.
HostSettings host_settings(settings::Settings const& settings, settings::Environment const& env);

/// `ee`'s settings from its command line's `flags` (by key) and `env` (a variable set to the empty
/// string counts as unset), resolved flag > environment > default, as `host_settings` makes them.
/// @returns ee::errc::invalid_value or out_of_range naming the flag or variable and the key (a
///          secret's value never repeated). Never throws (except bad_alloc).
result<HostSettings> resolve_host_settings(settings::FlagValues const& flags, settings::Environment const& env);

/// The VMs' state root: `/var/lib/easyenclave/vms` as root, else `$XDG_DATA_HOME/easyenclave/vms`
/// when that is absolute, else `$HOME/.local/share/easyenclave/vms`, the variables read
/// through `env`. Never throws (except bad_alloc).
std::filesystem::path default_state_root(settings::Environment const& env);

}  // namespace ee::launcher
