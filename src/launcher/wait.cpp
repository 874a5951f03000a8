// ee launch --wait-registered: the VM is up when QEMU answers; the agent is there when the CP
// lists it verified.
#include <easyenclave/block_on.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/launcher/launcher.hpp>

#include "detail/json.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <thread>

namespace ee::launcher {

result<void> wait_registered(std::string const& cp_url, std::string const& vm_name,
                             std::chrono::seconds timeout) {
  if (cp_url.empty()) return Error(errc::invalid_request, "--wait-registered needs --cp-url");
  auto client = http::make_https_client();
  if (!client) return client.error();
  auto const url = cp_url + "/api/v1/agents?vm_name=" +
                   boost::urls::encode(vm_name, boost::urls::unreserved_chars);
  auto const deadline = std::chrono::steady_clock::now() + timeout;
  std::string last = "no answer yet";
  for (;;) {
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
      return Error(errc::registration_timeout,
                   vm_name + " did not register with " + cp_url + " (" + last + ")");
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
}

}  // namespace ee::launcher
