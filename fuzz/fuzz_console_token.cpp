// Fuzzes what an agent reads from an Authorization header and what the CP reads from an agent's
// workload reports: the console token (api::parse_console_token, then verify_console_token under
// the key of fuzz/data/signing_key.pem at a fixed time), and the bodies of POST /agents/{id}/status
// and /deployed, each followed by its round trip.
// Input: one mode byte (0 console token, 1 status report, 2 deployed report), then the text.
#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/console_token.hpp>

#include "fuzz_support.hpp"

#include <cmath>

#include <chrono>
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

void console_token(std::string_view text) {
  namespace api = ee::api;
  // The corpus's tokens were signed with fuzz/data/signing_key.pem for agent "a-1", iat
  // 2026-12-01T00:00:00Z (1796083200).
  static auto const key = api::PublicKey::parse(ee_fuzz::data_file("signing_key.pub.pem")).value();
  static auto const signer = api::SigningKey::from_pem(ee_fuzz::data_file("signing_key.pem")).value();
  auto parsed = api::parse_console_token(text);
  auto const at = std::chrono::system_clock::time_point(std::chrono::seconds(1796083200 + 60));
  auto verified = api::verify_console_token(text, key, "a-1", api::kConsoleScopeLogs, at);
  ee_fuzz::check(!verified || parsed, "a token that does not parse verified");
  if (!parsed) return;
  auto const& c = parsed->claims;
  ee_fuzz::check(!c.scope.empty() && c.scope.size() <= 2, "a parsed token has a scope out of bounds");
  ee_fuzz::check(c.expires_at > c.issued_at && c.expires_at - c.issued_at <= api::kMaxConsoleTokenSeconds,
                 "a parsed token has a lifetime out of bounds");
  // What parses can be minted again, and the minted token parses to the same claims.
  auto minted = api::mint_console_token(c, signer);
  ee_fuzz::check(minted.has_value(), "claims that parse cannot be minted");
  auto again = api::parse_console_token(*minted);
  ee_fuzz::check(again.has_value() && again->claims.agent_id == c.agent_id && again->claims.scope == c.scope &&
                     again->claims.issued_at == c.issued_at && again->claims.expires_at == c.expires_at &&
                     again->claims.jti == c.jti,
                 "a minted token does not parse to its claims");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  ee_fuzz::OpenSslErrorsCleared const queue_check;
  ee_fuzz::Selected in;
  if (!ee_fuzz::select(data, size, 5, in)) return 0;
  auto const text = in.text();
  namespace api = ee::api;
  switch (in.mode) {
    case 0: console_token(text); break;
    case 1: round_trip(text, [](std::string_view t) { return api::parse_agent_status_report(t); }); break;
    case 2: round_trip(text, [](std::string_view t) { return api::parse_deployed_report(t); }); break;
    case 3:
      if (auto r = api::parse_console_access_request(text)) {
        ee_fuzz::check(r->ttl_seconds >= api::kMinConsoleTtlSeconds && r->ttl_seconds <= api::kMaxConsoleTokenSeconds,
                       "a console-access body outside the bounds parsed");
      }
      break;
    default:
      // Doubles may move by an ulp through a parse/serialise cycle (docs/fuzzing.md), so the
      // round trip asks only that what is written parses again, with the same counts.
      if (auto stats = api::parse_agent_stats(text)) {
        ee_fuzz::check(std::isfinite(stats->load1) && stats->load1 >= 0, "a load out of bounds parsed");
        auto again = api::parse_agent_stats(api::to_json(*stats));
        ee_fuzz::check(again.has_value() && again->memory_total_bytes == stats->memory_total_bytes &&
                           again->disk_path == stats->disk_path,
                       "agent stats do not round-trip");
      }
      break;
  }
  return 0;
}
