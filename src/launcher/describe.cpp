#include <easyenclave/launcher/describe.hpp>

#include <easyenclave/api/agent_config.hpp>

#include "detail/json.hpp"
#include "detail/time.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <sstream>

namespace ee::launcher {
namespace {

namespace bj = boost::json;
namespace json = ::ee::detail::json;

// Whether the agent's registry marks `key` secret (cp_env, the environment handed to ee-cp, is:
// its values may be).
bool secret_key(std::string_view key) {
  auto const* spec = api::agent_setting_registry().find(key);
  return spec != nullptr && spec->secret;
}

// The configuration with secret values replaced, for showing.
bj::value redacted_config(std::string const& text) {
  auto doc = json::parse(text);
  if (!doc || !doc->is_object()) return bj::value(nullptr);
  for (auto& [key, value] : doc->as_object()) {
    if (!secret_key(key)) continue;
    if (value.is_object()) {
      for (auto& [name, inner] : value.as_object()) inner = "***";
    } else {
      value = "***";
    }
  }
  return std::move(*doc);
}

// POSIX shell quoting: safe characters as they are, everything else in single quotes.
std::string shell_quote(std::string const& arg) {
  bool const plain = !arg.empty() && std::all_of(arg.begin(), arg.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("-_./=:,@%+").find(c) != std::string_view::npos;
  });
  if (plain) return arg;
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string uptime(VmInfo const& vm, std::chrono::system_clock::time_point now) {
  if (vm.state != VmState::running || vm.started_at == std::chrono::system_clock::time_point{})
    return "-";
  auto s = std::chrono::duration_cast<std::chrono::seconds>(now - vm.started_at).count();
  if (s < 0) s = 0;
  std::ostringstream out;
  if (s >= 86400) out << s / 86400 << "d";
  if (s >= 3600) out << (s / 3600) % 24 << "h";
  out << (s / 60) % 60 << "m" << s % 60 << "s";
  return out.str();
}

}  // namespace

std::string describe_plan_text(LaunchPlan const& plan) {
  std::ostringstream out;
  out << "VM " << plan.name << ": " << plan.size.memory_gib << " GiB, " << plan.size.vcpus
      << " vCPUs (" << plan.size.name << ")\n";
  out << "state: " << plan.vm_dir.string() << "\n";
  if (plan.config_param.empty()) {
    out << "configuration: on a config drive (" << plan.config_drive.string()
        << "): " << plan.config_drive_reason << "\n";
  } else {
    out << "configuration: on the kernel command line (" << plan.config_param.size() << " bytes)\n";
  }
  out << "  " << json::serialize(redacted_config(plan.agent_config)) << "\n";
  out << "command:\n ";
  for (auto const& arg : plan.qemu_argv) out << " " << shell_quote(arg);
  out << "\n";
  return out.str();
}

std::string describe_plan_json(LaunchPlan const& plan) {
  bj::object o;
  o["name"] = plan.name;
  o["node_size"] = plan.size.name;
  o["memory_gib"] = plan.size.memory_gib;
  o["vcpus"] = plan.size.vcpus;
  o["vm_dir"] = plan.vm_dir.string();
  o["config_via"] = plan.config_param.empty() ? "config_drive" : "kernel_command_line";
  if (plan.config_param.empty()) o["config_drive_reason"] = plan.config_drive_reason;
  o["config"] = redacted_config(plan.agent_config);
  bj::array argv;
  for (auto const& arg : plan.qemu_argv) argv.emplace_back(arg);
  o["qemu_argv"] = std::move(argv);
  return json::serialize(o);
}

std::string describe_vms_text(std::vector<VmInfo> const& vms,
                              std::chrono::system_clock::time_point now) {
  if (vms.empty()) return "no VMs\n";
  std::ostringstream out;
  auto column = [&out](std::string const& text, std::size_t width) {
    out << text << std::string(text.size() < width ? width - text.size() : 1, ' ');
  };
  column("NAME", 24);
  column("STATE", 10);
  column("OWNER", 28);
  column("SIZE", 10);
  out << "UPTIME\n";
  for (auto const& vm : vms) {
    column(vm.name, 24);
    column(std::string(to_string(vm.state)), 10);
    column(vm.cp ? "(control plane)" : vm.owner, 28);
    column(vm.node_size, 10);
    out << uptime(vm, now) << "\n";
  }
  return out.str();
}

std::string describe_vms_json(std::vector<VmInfo> const& vms,
                              std::chrono::system_clock::time_point now) {
  bj::array out;
  for (auto const& vm : vms) {
    bj::object o;
    o["name"] = vm.name;
    o["state"] = to_string(vm.state);
    o["owner"] = vm.owner;
    o["node_size"] = vm.node_size;
    o["cp"] = vm.cp;
    o["tdx"] = vm.tdx;
    o["pid"] = vm.pid;
    o["started_at"] = vm.started_at == std::chrono::system_clock::time_point{}
                          ? bj::value(nullptr)
                          : bj::value(detail::format_rfc3339(vm.started_at));
    auto const seconds =
        std::chrono::duration_cast<std::chrono::seconds>(now - vm.started_at).count();
    o["uptime_seconds"] = vm.state == VmState::running
                              ? bj::value(std::max<std::int64_t>(seconds, 0))
                              : bj::value(nullptr);
    out.push_back(std::move(o));
  }
  return json::serialize(out);
}

std::string describe_checks_text(std::vector<Check> const& checks) {
  std::ostringstream out;
  for (auto const& c : checks) {
    out << (c.ok ? "PASS " : c.hard ? "FAIL " : "WARN ") << c.name << ": " << c.detail << "\n";
    if (!c.ok && !c.fix.empty()) out << "     fix: " << c.fix << "\n";
  }
  out << (preflight_passed(checks) ? "preflight passed\n"
                                   : "preflight failed: a hard check failed\n");
  return out.str();
}

std::string describe_checks_json(std::vector<Check> const& checks) {
  bj::array items;
  for (auto const& c : checks) {
    bj::object o;
    o["name"] = c.name;
    o["ok"] = c.ok;
    o["hard"] = c.hard;
    o["detail"] = c.detail;
    if (!c.ok) o["fix"] = c.fix;
    items.push_back(std::move(o));
  }
  bj::object out;
  out["passed"] = preflight_passed(checks);
  out["checks"] = std::move(items);
  return json::serialize(out);
}

}  // namespace ee::launcher
