// Fuzzes the CP/agent wire messages (src/api/agents.cpp): every parse_* of a JSON body the CP or
// an agent receives, each followed by the round trip (what to_json writes must parse again to the
// same message), and the parsing of the P-256 public keys agents and the CP exchange
// (api::PublicKey::parse: base64 DER or PEM).
// Input: one mode byte (0 challenge, 1 register request, 2 register response, 3 heartbeat
// request, 4 heartbeat response, 5 agent deploy request, 6 agent undeploy request, 7 agent deploy
// response, 8 public key), then the text.
#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/signing.hpp>

#include "fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

template <class Parse>
void round_trip(std::string_view text, Parse parse) {
  auto message = parse(text);
  if (!message) return;
  auto const json = ee::api::to_json(*message);
  auto again = parse(json);
  ee_fuzz::check(again.has_value(), "to_json wrote a message its parser refuses");
  ee_fuzz::check(ee::api::to_json(*again) == json, "a message does not round-trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  ee_fuzz::OpenSslErrorsCleared const queue_check;
  ee_fuzz::Selected in;
  if (!ee_fuzz::select(data, size, 9, in)) return 0;
  auto const text = in.text();
  namespace api = ee::api;
  switch (in.mode) {
    case 0: round_trip(text, [](std::string_view t) { return api::parse_challenge(t); }); break;
    case 1: round_trip(text, [](std::string_view t) { return api::parse_register_request(t); }); break;
    case 2: round_trip(text, [](std::string_view t) { return api::parse_register_response(t); }); break;
    case 3: round_trip(text, [](std::string_view t) { return api::parse_heartbeat_request(t); }); break;
    case 4: round_trip(text, [](std::string_view t) { return api::parse_heartbeat_response(t); }); break;
    case 5: round_trip(text, [](std::string_view t) { return api::parse_agent_deploy_request(t); }); break;
    case 6: round_trip(text, [](std::string_view t) { return api::parse_agent_undeploy_request(t); }); break;
    case 7: round_trip(text, [](std::string_view t) { return api::parse_agent_deploy_response(t); }); break;
    default:
      if (auto key = api::PublicKey::parse(text)) {
        auto again = api::PublicKey::parse(key->base64());
        ee_fuzz::check(again.has_value() && again->der() == key->der(),
                       "a public key does not round-trip through base64");
      }
      break;
  }
  return 0;
}
