#pragma once
/// @file Readable and JSON forms of the launcher's results, for `ee` and other front ends. The
/// JSON forms are compact, one object (or array) per call; the text forms end with a newline.
#include <easyenclave/launcher/launcher.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace ee::launcher {

/// The plan as `ee launch --dry-run` shows it: the VM, its size, how the configuration travels
/// (command line or config drive, and why), the configuration, and the QEMU command with each
/// argument shell-quoted. Secrets in the configuration are shown as "***".
std::string describe_plan_text(LaunchPlan const& plan);
std::string describe_plan_json(LaunchPlan const& plan);

/// A table of VMs (name, state, owner, size, uptime at `now`), or "no VMs".
std::string describe_vms_text(std::vector<VmInfo> const& vms,
                              std::chrono::system_clock::time_point now);
std::string describe_vms_json(std::vector<VmInfo> const& vms,
                              std::chrono::system_clock::time_point now);

/// One line per check: PASS/FAIL (hard or not), what was found and, for failures, what to do.
std::string describe_checks_text(std::vector<Check> const& checks);
std::string describe_checks_json(std::vector<Check> const& checks);

}  // namespace ee::launcher
