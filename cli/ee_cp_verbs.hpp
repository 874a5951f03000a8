#pragma once
// The control-plane verbs of `ee` (agents, apps, deploy, undeploy, deployments, measurements,
// settings, verify, login, logout), kept in their own files so each part of the program stays
// short: ee_cp_verbs.cpp declares them, ee_cp_run.cpp and ee_cp_flows.cpp run them over
// client::ControlPlaneClient, ee_cp_output.cpp prints. ee.cpp registers them and runs the one chosen.
#include <CLI/CLI.hpp>

#include <memory>
#include <optional>

struct CpCommands;

/// Adds the verbs to `app` (and the exit codes and credential order to its --help footer); the
/// returned object holds their parsed arguments.
std::shared_ptr<CpCommands> add_cp_commands(CLI::App& app);

/// Runs the verb the command line chose, if it is one of these; its exit code.
std::optional<int> run_cp_command(CpCommands const& commands);
