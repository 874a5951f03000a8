// Fuzzes the agent's configuration parser (src/agent/config.cpp): the JSON the agent reads from
// its config drive or file (written by the host, so outside input to the TD), then validation,
// and the round trip through agent_config_json; and single settings as environment variables or
// flags carry them, to the agent's table and to the control plane's settings registry (values an
// operator stores through the admin settings routes).
// Input: one mode byte (0: a config document; 1: "key=value" for apply_agent_config_value and the
// agent's settings registry; 2:
// "key=value" for settings::Registry::normalize of ee-cp's key), then the text.
#include <easyenclave/api/agent_config.hpp>
#include <easyenclave/cp/settings.hpp>

#include "fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  ee_fuzz::Selected in;
  if (!ee_fuzz::select(data, size, 3, in)) return 0;
  auto const text = in.text();
  if (in.mode == 2) {
    auto const eq = text.find('=');
    if (eq == std::string_view::npos) return 0;
    auto const* spec = ee::cp::setting_registry().find(text.substr(0, eq));
    if (spec == nullptr) return 0;
    auto shown = ee::settings::Registry::normalize(*spec, text.substr(eq + 1));
    if (!shown) return 0;
    // The shown form is a fixed point: what the routes store reads back as itself.
    auto again = ee::settings::Registry::normalize(*spec, *shown);
    ee_fuzz::check(again.has_value() && *again == *shown, "a setting's shown form does not normalize to itself");
    return 0;
  }
  if (in.mode == 1) {
    auto const eq = text.find('=');
    if (eq == std::string_view::npos) return 0;
    ee::api::AgentConfig config;
    if (ee::api::apply_agent_config_value(text.substr(0, eq), text.substr(eq + 1), config))
      (void)ee::api::validate_agent_config(config);
    // The agent's registry: a flag's or variable's shown form is a fixed point too.
    if (auto const* spec = ee::api::agent_setting_registry().find(text.substr(0, eq))) {
      if (auto shown = ee::settings::Registry::normalize(*spec, text.substr(eq + 1))) {
        auto again = ee::settings::Registry::normalize(*spec, *shown);
        ee_fuzz::check(again.has_value() && *again == *shown, "an agent setting's shown form does not normalize to itself");
      }
    }
    return 0;
  }
  std::vector<std::string> unknown;
  auto config = ee::api::parse_agent_config(text, unknown);
  if (!config) return 0;
  // What the launcher writes for a configuration reads back to it.
  auto const json = ee::api::agent_config_json(*config);
  std::vector<std::string> unknown_again;
  auto again = ee::api::parse_agent_config(json, unknown_again);
  ee_fuzz::check(again.has_value() && *again == *config, "agent config does not round-trip");
  (void)ee::api::validate_agent_config(*config);
  return 0;
}
