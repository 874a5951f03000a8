// ee launch --wait-registered: the VM is up when QEMU answers; the agent is there when the CP
// lists it verified. Meanwhile the serial console says how far the boot got, and whether the
// guest gave up, so the wait reports stages and ends at a guest's fatal line instead of running
// into its timeout.
#include <easyenclave/block_on.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/launcher/launcher.hpp>

#include "detail/json.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <algorithm>
#include <thread>

namespace ee::launcher {
namespace {

// Bytes of the previous read kept in front of the next one, so that a mark cut by a read's
// boundary is still seen (longer than any mark, shorter than a failure line's useful part).
constexpr std::size_t kCarry = 128;

}  // namespace

result<void> wait_registered(std::string const& cp_url, std::string const& vm_name, std::chrono::seconds timeout) {
  return wait_registered(cp_url, vm_name, RegistrationWait{.timeout = timeout});
}

result<void> wait_registered(std::string const& cp_url, std::string const& vm_name, RegistrationWait const& wait) {
  if (cp_url.empty()) return Error(errc::invalid_request, "--wait-registered needs --cp-url");
  auto client = http::make_https_client();
  if (!client) return client.error();
  auto const url = cp_url + "/api/v1/agents?vm_name=" +
                   boost::urls::encode(vm_name, boost::urls::unreserved_chars);
  auto const started = std::chrono::steady_clock::now();
  auto const deadline = started + wait.timeout;
  std::string last = "no answer yet";
  BootStage stage = BootStage::not_started;
  std::uint64_t log_offset = 0;
  std::string carried;
  for (;;) {
    if (!wait.state_root.empty()) {
      // Only what the console wrote since the last look (and a little before it).
      if (auto chunk = read_serial_log_from(wait.state_root, vm_name, log_offset); chunk) {
        auto const window = carried + chunk->text;
        auto const progress = read_boot_progress(window);
        carried = window.substr(window.size() - std::min(window.size(), kCarry));
        log_offset = chunk->next_offset;
        if (progress.stage > stage) {
          stage = progress.stage;
          if (wait.on_stage) {
            wait.on_stage(stage, std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started));
          }
        }
        if (!progress.failure.empty()) {
          return Error(errc::guest_failed, vm_name + " gave up during its boot: " + progress.failure);
        }
      }
    }
    auto response =
        block_on((*client)->send(http::Request{boost::beast::http::verb::get, url, 11}));
    if (!response) {
      last = response.error().message();
    } else if (response->result_int() != 200) {
      last = "HTTP " + std::to_string(response->result_int());
    } else if (auto doc = detail::json::parse(response->body());
               doc && doc->is_array() && !doc->as_array().empty()) {
      auto const* agent = doc->as_array()[0].if_object();
      auto const* verified = agent ? agent->if_contains("verified") : nullptr;
      if (verified != nullptr && verified->is_bool() && verified->as_bool()) return {};
      last = "registered, not verified";
    } else {
      last = "not registered yet";
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      auto const how_far = wait.state_root.empty() ? std::string() : std::string(to_string(stage)) + "; ";
      return Error(errc::registration_timeout,
                   vm_name + " did not register with " + cp_url + " (" + how_far + "the CP: " + last + ")");
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
}

}  // namespace ee::launcher
