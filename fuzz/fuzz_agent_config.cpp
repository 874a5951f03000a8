// Fuzzes the agent's configuration parser (src/agent/config.cpp): the JSON the agent reads from
// its config drive or file (written by the host, so outside input to the TD), then validation,
// and the round trip through agent_config_json; and single settings as environment variables or
// flags carry them.
// Input: one mode byte (0: a config document; 1: "key=value" for apply_agent_config_value), then
// the text.
#include <easyenclave/api/agent_config.hpp>

#include "fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  ee_fuzz::Selected in;
  if (!ee_fuzz::select(data, size, 2, in)) return 0;
  auto const text = in.text();
  if (in.mode == 1) {
    auto const eq = text.find('=');
    if (eq == std::string_view::npos) return 0;
    ee::api::AgentConfig config;
    if (ee::api::apply_agent_config_value(text.substr(0, eq), text.substr(eq + 1), config))
      (void)ee::api::validate_agent_config(config);
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
