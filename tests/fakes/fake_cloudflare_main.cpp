// ee-fake-cloudflare: the Cloudflare v4 API stand-in as a program (see fake_cloudflare.hpp). The
// listening line's "url" is the API base to hand the control plane (--cf-api-base).
#include "fakes/fake_cloudflare.hpp"
#include "fakes/fake_main_common.hpp"

#include <charconv>

int main(int argc, char** argv) {
  std::string const usage =
      "usage: ee-fake-cloudflare [--listen HOST:PORT] [--port N] [--api-token T] [--account-id A]\n"
      "                          [--zone-id Z]\n"
      "Serves Cloudflare Tunnel (cfd_tunnel) and DNS record routes of the v4 API under\n"
      "<url>/accounts/A and <url>/zones/Z, keeping state in memory. --port overrides the port of\n"
      "--listen. Test use only.\n";
  auto flags = ee::test::parse_flags(
      argc, argv, {"--listen", "--port", "--api-token", "--account-id", "--zone-id"}, usage);
  if (!flags) return 2;
  auto address = ee::http::parse_host_port(
      ee::test::flag_or_env(*flags, "listen", "EE_LISTEN", "127.0.0.1:0"));
  if (!address) {
    std::cerr << "ee-fake-cloudflare: --listen: " << address.error().message() << "\n";
    return 2;
  }
  ee::test::FakeCloudflareOptions options;
  options.host = address->host;
  options.port = address->port;
  if (auto it = flags->find("port"); it != flags->end()) {
    std::string const& text = it->second;
    std::uint16_t port = 0;
    auto const* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, port);
    if (text.empty() || ec != std::errc{} || ptr != end) {
      std::cerr << "ee-fake-cloudflare: --port: expected 0-65535\n";
      return 2;
    }
    options.port = port;
  }
  if (flags->contains("api-token")) options.api_token = flags->at("api-token");
  if (flags->contains("account-id")) options.account_id = flags->at("account-id");
  if (flags->contains("zone-id")) options.zone_id = flags->at("zone-id");
  ee::test::install_stderr_log();
  auto fake = ee::test::FakeCloudflare::start(std::move(options));
  if (!fake) {
    std::cerr << "ee-fake-cloudflare: " << fake.error().message() << " (" << fake.error().id()
              << ")\n";
    return fake.error() == ee::condition::invalid_input ? 2 : 3;
  }
  auto& cf = **fake;
  // The ids were checked to be [A-Za-z0-9-] by start(), so they need no JSON escaping.
  return ee::test::serve(cf.server(), cf.url(),
                         R"(,"account_id":")" + cf.account_id() + R"(","zone_id":")" +
                             cf.zone_id() + "\"");
}
