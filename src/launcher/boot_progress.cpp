// What a VM's serial console says of its boot (ee launch --wait-registered): pure text reading,
// no I/O, so the fuzz build runs it on any bytes (fuzz/fuzz_boot_config.cpp).
#include <easyenclave/launcher/launcher.hpp>

#include <algorithm>
#include <array>

namespace ee::launcher {
namespace {

// What each stage prints on the console, furthest first. The kernel's banner; systemd's own
// lines (it runs only after the init verified the root with dm-verity and switched to it);
// ee-agent's log lines (src/agent/runtime.cpp) for its key and its registration.
struct StageMark {
  BootStage stage;
  std::string_view text;
};
constexpr std::array<StageMark, 6> kStageMarks = {{
    {BootStage::registered, "registered agent_id="},
    {BootStage::agent, " the agent key file="},
    {BootStage::system, "systemd[1]: "},
    {BootStage::system, "Welcome to "},
    {BootStage::kernel, "Linux version "},
    {BootStage::kernel, "Booting Linux"},
}};

// Lines the guest writes when it gives up: image/files/init and ee-agent.service's ExecStopPost.
constexpr std::array<std::string_view, 2> kFailureMarks = {
    "easyenclave-init: FATAL: ",
    "easyenclave: ee-agent stopped",
};

constexpr std::size_t kMaxFailureLine = 512;

// The guest's line from its mark on: whatever the console interleaved before the mark is not the
// guest's message, and must not push the message past the bound.
std::string line_from(std::string_view text, std::size_t at) {
  auto end = text.find('\n', at);
  if (end == std::string_view::npos) end = text.size();
  auto line = text.substr(at, std::min(end - at, kMaxFailureLine));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  std::string out;
  out.reserve(line.size());
  // The console is the guest's: only printable ASCII reaches the host's terminal.
  for (char c : line) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return out;
}

}  // namespace

std::string_view to_string(BootStage stage) noexcept {
  switch (stage) {
    case BootStage::not_started: return "waiting for the console";
    case BootStage::firmware: return "firmware running";
    case BootStage::kernel: return "kernel booting";
    case BootStage::system: return "root verified, system starting";
    case BootStage::agent: return "ee-agent running, attesting and registering";
    case BootStage::registered: return "registered with the CP";
  }
  return "unknown";
}

BootProgress read_boot_progress(std::string_view text) {
  BootProgress progress;
  if (text.find_first_not_of(" \t\r\n") != std::string_view::npos) progress.stage = BootStage::firmware;
  for (auto const& mark : kStageMarks) {
    if (mark.stage > progress.stage && text.find(mark.text) != std::string_view::npos) progress.stage = mark.stage;
  }
  for (auto mark : kFailureMarks) {
    if (auto at = text.find(mark); at != std::string_view::npos) {
      progress.failure = line_from(text, at);
      break;
    }
  }
  return progress;
}

}  // namespace ee::launcher
