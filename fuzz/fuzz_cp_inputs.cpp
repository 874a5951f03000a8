// Fuzzes what the control plane reads from agents and owners besides the wire messages of
// fuzz_api_messages: an agent's self-reported agent_url (cp::parse_agent_origin) and whether the
// CP may reach it (cp::AgentNetworks, whose entries are operator settings), the nonce an agent
// sends back (cp::NonceTable::take), an agent's whole health answer (api::parse_agent_health),
// and a quote file as `ee quote` reads it (tdx::decode_quote_file: binary, hex or base64 text).
// (cp::parse_bootstrap_token_request is not here: its file holds coroutines that clang 14 cannot
// compile with -ffunction-sections under the sanitizers, "Cannot represent a difference across
// sections"; it reads only through the fuzzed JSON layer and api's vm_name/datacenter checks.)
// It also reads the deploy route's body and answer (api::parse_deploy_request and
// parse_deploy_response, each with its round trip), and image references (api::ImageReference:
// what parses spells itself, and pinned exactly when it has a digest), and the CP's public views
// and the catalog's request bodies as clients and the CP read them (api/catalog.hpp), each with
// its round trip.
// Input: one mode byte (0 agent_url, 1 agent network entries one per line, 2 nonce, 3 agent
// health, 4 quote file, 5 deploy request, 6 deploy response, 7 image reference, 8 catalog), then
// the bytes. Mode 8 takes a second byte that picks the catalog parser: 0 agent view, 1 agent
// list, 2 agent attestation, 3 app version, 4 app, 5 app list, 6 deployment, 7 deployment list,
// 8 trusted MRTD, 9 trusted MRTD list, 10 version request, 11 publish request.
#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/catalog.hpp>
#include <easyenclave/api/deploy.hpp>
#include <easyenclave/api/image_reference.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/tdx/describe.hpp>
#include <easyenclave/tdx/quote.hpp>

#include "cp/agent_networks.hpp"
#include "cp/nonces.hpp"
#include "fuzz_support.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::chrono_literals;
using TimePoint = ee::cp::NonceTable::TimePoint;

TimePoint const kNow{std::chrono::seconds{1750377600}};

ee::cp::AgentNetworks const& networks() {
  static ee::cp::AgentNetworks const n =
      ee::cp::AgentNetworks::parse({"10.0.0.0/8", "fd00::/8", "agents.example", "*.tunnel.example"}).value();
  return n;
}

void agent_url(std::string_view text) {
  auto origin = ee::cp::parse_agent_origin(text);
  if (!origin) return;
  ee_fuzz::check(origin->scheme == "http" || origin->scheme == "https", "an origin with another scheme");
  ee_fuzz::check(!origin->host.empty(), "an origin without a host");
  // The origin text the CP calls parses again to the same origin.
  auto again = ee::cp::parse_agent_origin(origin->text());
  ee_fuzz::check(again.has_value(), "an origin's text does not parse");
  ee_fuzz::check(again->text() == origin->text(), "an origin does not round-trip");
  (void)networks().allows(*origin);
}

void network_entries(std::string_view text) {
  std::vector<std::string> entries;
  while (!text.empty() && entries.size() < 16) {
    auto const end = text.find('\n');
    entries.emplace_back(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
  }
  auto parsed = ee::cp::AgentNetworks::parse(entries);
  if (!parsed) return;
  for (auto const& entry : entries)
    ee_fuzz::check(ee::cp::check_agent_network(entry).has_value(), "a set parsed with an entry its check refuses");
  for (std::string_view url : {"http://10.1.2.3:8081", "https://[fd00::1]", "http://a.tunnel.example",
                               "http://127.0.0.1:8081", "http://169.254.169.254"}) {
    (void)parsed->allows(ee::cp::parse_agent_origin(url).value());
  }
}

void nonce(std::string_view text) {
  // A fresh table with a fixed key: one nonce issued for "vm-1", then the input taken twice. The
  // input is "nonce|vm_name"; a '$' in the nonce stands for the issued nonce's hex, so mutations
  // of a genuine nonce (truncated, re-cased, for another vm_name) are reached too.
  ee::cp::NonceTable table(ee::cp::NonceTable::Key{1, 2, 3}, ee::registry::make_memory_once_store(8, true), 300s);
  auto const issued = table.issue("vm-1", kNow).value();
  auto const split = text.find('|');
  std::string hex(text.substr(0, split));
  if (auto const at = hex.find('$'); at != std::string::npos) hex.replace(at, 1, ee::hex_encode(issued.bytes));
  auto const vm = split == std::string_view::npos ? std::string_view("vm-1") : text.substr(split + 1);
  auto first = table.take(hex, vm, kNow);
  if (first) {
    // Only a nonce this table issued is ever accepted, and never twice.
    ee_fuzz::check(first->bytes == issued.bytes, "a nonce the table did not issue was accepted");
    ee_fuzz::check(!table.take(hex, vm, kNow).has_value(), "a nonce was accepted twice");
  }
  ee_fuzz::check(table.used().value() == (first ? 1u : 0u), "a refused nonce was recorded as used");
}

void agent_health(std::string_view text) {
  auto health = ee::api::parse_agent_health(text);
  if (!health) return;
  auto const json = ee::api::to_json(*health);
  auto again = ee::api::parse_agent_health(json);
  ee_fuzz::check(again.has_value(), "to_json wrote a health answer its parser refuses");
  ee_fuzz::check(ee::api::to_json(*again) == json, "a health answer does not round-trip");
}

void quote_file(std::span<std::uint8_t const> bytes) {
  auto decoded = ee::tdx::decode_quote_file(bytes);
  if (!decoded) return;
  ee_fuzz::check(!decoded->bytes.empty(), "a quote file decoded to nothing");
  (void)ee::tdx::parse_quote(decoded->bytes);
}

void image_reference(std::string_view text) {
  auto ref = ee::api::ImageReference::parse(text);
  auto const pinned = ee::api::ImageReference::parse_pinned(text);
  ee_fuzz::check(pinned.has_value() == (ref && ref->pinned()), "parse_pinned disagrees with parse");
  ee_fuzz::check(ee::api::check_pinned_image(text).has_value() == pinned.has_value(),
                 "check_pinned_image disagrees with parse_pinned");
  if (!ref) return;
  // Nothing is normalised: the reference spells itself, and that spelling parses to it again.
  ee_fuzz::check(ref->to_string() == text, "a reference does not spell itself");
  auto again = ee::api::ImageReference::parse(ref->to_string());
  ee_fuzz::check(again.has_value() && *again == *ref, "a reference does not round-trip");
  ee_fuzz::check(!ref->repository().empty(), "a reference without a repository");
  ee_fuzz::check(ref->name().size() <= ee::api::kMaxImageName, "a name over 255 characters");
}

template <class Parse>
void round_trip(std::string_view text, Parse parse, char const* what) {
  auto message = parse(text);
  if (!message) return;
  auto const json = ee::api::to_json(*message);
  auto again = parse(json);
  ee_fuzz::check(again.has_value(), what);
  ee_fuzz::check(ee::api::to_json(*again) == json, what);
}

template <auto Parse>
void stable(std::string_view text, char const* what) {
  round_trip(text, Parse, what);
}

namespace api = ee::api;

// The parsers of api/catalog.hpp, in the order of mode 8's second byte.
struct CatalogCase {
  void (*run)(std::string_view, char const*);
  char const* what;
};
CatalogCase const kCatalog[] = {
    {stable<&api::parse_agent_view>, "an agent view does not round-trip"},
    {stable<&api::parse_agent_views>, "an agent list does not round-trip"},
    {stable<&api::parse_agent_attestation_view>, "an attestation view does not round-trip"},
    {stable<&api::parse_app_version_view>, "a version view does not round-trip"},
    {stable<&api::parse_app_view>, "an app view does not round-trip"},
    {stable<&api::parse_app_views>, "an app list does not round-trip"},
    {stable<&api::parse_deployment_view>, "a deployment view does not round-trip"},
    {stable<&api::parse_deployment_views>, "a deployment list does not round-trip"},
    {stable<&api::parse_trusted_measurement_view>, "a trusted MRTD view does not round-trip"},
    {stable<&api::parse_trusted_measurement_views>, "a trusted MRTD list does not round-trip"},
    {stable<&api::parse_version_request>, "a version request does not round-trip"},
    {stable<&api::parse_publish_request>, "a publish request does not round-trip"},
};

void catalog(std::span<std::uint8_t const> in) {
  if (in.empty()) return;
  auto const& c = kCatalog[std::size_t{in[0]} % std::size(kCatalog)];
  c.run({reinterpret_cast<char const*>(in.data()) + 1, in.size() - 1}, c.what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  ee_fuzz::OpenSslErrorsCleared const queue_check;
  ee_fuzz::Selected in;
  if (!ee_fuzz::select(data, size, 9, in)) return 0;
  switch (in.mode) {
    case 0: agent_url(in.text()); break;
    case 1: network_entries(in.text()); break;
    case 2: nonce(in.text()); break;
    case 3: agent_health(in.text()); break;
    case 4: quote_file(in.rest); break;
    case 5:
      round_trip(in.text(), [](std::string_view t) { return ee::api::parse_deploy_request(t); },
                 "a deploy request does not round-trip");
      break;
    case 6:
      round_trip(in.text(), [](std::string_view t) { return ee::api::parse_deploy_response(t); },
                 "a deploy response does not round-trip");
      break;
    case 7: image_reference(in.text()); break;
    default: catalog(in.rest); break;
  }
  return 0;
}
