#pragma once
// The VM verbs of `ee` (launch, stop, list, logs, preflight), kept in their own file so each part
// of the program stays short. ee.cpp registers them and runs the one chosen.
#include "setting_flags.hpp"

#include <easyenclave/launcher/settings.hpp>

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>

struct VmCommands;

/// Adds the verbs to `app`, their setting flags to `settings`; the returned object holds their
/// other parsed arguments.
std::shared_ptr<VmCommands> add_vm_commands(CLI::App& app, ee::cli::SettingFlagSet& settings);

/// Runs the verb the command line chose, if it is one of these, with `host` (ee's settings,
/// resolved); its exit code.
std::optional<int> run_vm_command(VmCommands const& commands, ee::launcher::HostSettings const& host);
