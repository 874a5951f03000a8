// The real ee-cp program: flags, readiness line, /health, graceful stop on SIGTERM.
#include <easyenclave/block_on.hpp>
#include <easyenclave/http/https_client.hpp>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <csignal>
#include <optional>

namespace {

namespace bhttp = boost::beast::http;

// The real ee-cp program: prints where it listens, answers /health, stops on SIGTERM with exit 0.
TEST(EeCpProgram, ServesHealthAndStopsOnSigterm) {
  ee::test::Process cp({ee::test::program("ee-cp").string(), "--listen", "127.0.0.1:0", "--dev"});
  std::string url;
  ASSERT_TRUE(cp.wait_for_output(
      [&url](std::string const& out) {
        auto const at = out.find("\"url\":\"");
        if (at == std::string::npos) return false;
        auto const end = out.find('"', at + 7);
        if (end == std::string::npos) return false;
        url = out.substr(at + 7, end - at - 7);
        return true;
      },
      std::chrono::seconds(20)))
      << cp.err();
  auto client = ee::http::make_https_client().value();
  auto response = ee::block_on(client->send(ee::http::Request{bhttp::verb::get, url + "/health", 11}));
  ASSERT_TRUE(response) << response.error().message();
  EXPECT_EQ(response->result(), bhttp::status::ok);
  cp.signal(SIGTERM);
  EXPECT_EQ(cp.wait(std::chrono::seconds(20)), 0) << cp.err();
}

// The URL of the "listening" line ee-cp prints, once it has printed it.
std::string wait_for_url(ee::test::Process& cp) {
  std::string url;
  cp.wait_for_output(
      [&url](std::string const& out) {
        auto const at = out.find("\"url\":\"");
        if (at == std::string::npos) return false;
        auto const end = out.find('"', at + 7);
        if (end == std::string::npos) return false;
        url = out.substr(at + 7, end - at - 7);
        return true;
      },
      std::chrono::seconds(20));
  return url;
}

// A keep-alive HTTP/1.1 connection to 127.0.0.1:`port` from the loopback address `source`, with
// blocking calls bounded by a receive timeout.
class SourcedClient {
 public:
  SourcedClient(std::uint16_t port, char const* source) : socket_(ioc_) {
    namespace asio = boost::asio;
    socket_.open(asio::ip::tcp::v4());
    socket_.bind({asio::ip::make_address(source), 0});
    timeval const timeout{5, 0};
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    socket_.connect({asio::ip::address_v4::loopback(), port});
  }
  std::optional<ee::http::Response> get(std::string const& target) {
    ee::http::Request request{bhttp::verb::get, target, 11};
    request.set(bhttp::field::host, "127.0.0.1");
    boost::system::error_code ec;
    bhttp::write(socket_, request, ec);
    if (ec) return std::nullopt;
    ee::http::Response response;
    bhttp::read(socket_, buffer_, response, ec);
    if (ec) return std::nullopt;
    return response;
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

// A flood of challenges from one address is answered 429 once its burst is spent; a client at
// another address is still served, and so is /health, and the program stays up.
TEST(EeCpProgram, AChallengeFloodFromOneAddressIsRateLimitedAndOthersAreStillServed) {
  ee::test::Process cp({ee::test::program("ee-cp").string(), "--listen", "127.0.0.1:0", "--dev",
                        "--rate-limit-anonymous-per-minute", "60", "--rate-limit-anonymous-burst",
                        "5"});
  auto const url = wait_for_url(cp);
  ASSERT_FALSE(url.empty()) << cp.err();
  auto const port = static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));

  SourcedClient flood(port, "127.0.0.1");
  int ok = 0;
  int limited = 0;
  for (int i = 0; i < 40; ++i) {
    auto const response = flood.get("/api/v1/agents/challenge?vm_name=flood-" + std::to_string(i));
    ASSERT_TRUE(response) << i;
    if (response->result() == bhttp::status::ok) ++ok;
    if (response->result() == bhttp::status::too_many_requests) {
      ++limited;
      EXPECT_FALSE((*response)[bhttp::field::retry_after].empty());
      EXPECT_NE(response->body().find("http.rate_limited"), std::string::npos) << response->body();
    }
  }
  EXPECT_GE(ok, 5);
  EXPECT_LE(ok, 10);  // the burst, and at most a few refills of one a second
  EXPECT_EQ(ok + limited, 40);

  SourcedClient other(port, "127.0.0.2");
  auto const challenge = other.get("/api/v1/agents/challenge?vm_name=other");
  ASSERT_TRUE(challenge);
  EXPECT_EQ(challenge->result(), bhttp::status::ok) << challenge->body();
  auto const health = other.get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->result(), bhttp::status::ok);

  cp.signal(SIGTERM);
  EXPECT_EQ(cp.wait(std::chrono::seconds(20)), 0) << cp.err();
}

TEST(EeCpProgram, RefusesMalformedLimitSettings) {
  auto const cp = ee::test::program("ee-cp").string();
  auto proxies = ee::test::run({cp, "--listen", "127.0.0.1:0", "--dev", "--trusted-proxy", "cloudflared"});
  EXPECT_EQ(proxies.exit_code, 2);
  EXPECT_NE(proxies.err.find("trusted_proxies"), std::string::npos) << proxies.err;
  auto burst = ee::test::run({cp, "--listen", "127.0.0.1:0", "--dev", "--rate-limit-anonymous-burst", "0"});
  EXPECT_EQ(burst.exit_code, 2);
  EXPECT_NE(burst.err.find("rate_limit_anonymous_burst"), std::string::npos) << burst.err;
}

TEST(EeCpProgram, BadFlagsAreUsageErrors) {
  EXPECT_EQ(ee::test::run({ee::test::program("ee-cp").string(), "--listen", "nowhere"}).exit_code, 2);
  EXPECT_EQ(ee::test::run({ee::test::program("ee-cp").string(), "--log-format", "xml"}).exit_code, 2);
  EXPECT_EQ(ee::test::run({ee::test::program("ee-cp").string(), "--bogus"}).exit_code, 2);
}

TEST(EeCpProgram, ProductionRefusesUnsafeSettingsAndNamesThem) {
  ee::test::TempDir dir;
  auto const cp = ee::test::program("ee-cp").string();
  auto const db = (dir.path() / "cp.db").string();
  auto const mrtd = std::string(96, 'a');
  // No database outside --dev.
  auto no_db = ee::test::run({cp, "--listen", "127.0.0.1:0", "--trusted-mrtd", mrtd});
  EXPECT_EQ(no_db.exit_code, 2);
  EXPECT_NE(no_db.err.find("db"), std::string::npos) << no_db.err;
  // No trusted MRTD.
  auto untrusted = ee::test::run({cp, "--listen", "127.0.0.1:0", "--db", db});
  EXPECT_EQ(untrusted.exit_code, 2);
  EXPECT_NE(untrusted.err.find("cp.unsafe_configuration"), std::string::npos) << untrusted.err;
  // The simulator's root.
  auto simulator = ee::test::run({cp, "--listen", "127.0.0.1:0", "--db", db, "--trusted-mrtd", mrtd,
                                  "--simulator-dir", (dir.path() / "sim").string()});
  EXPECT_EQ(simulator.exit_code, 2);
  EXPECT_NE(simulator.err.find("simulator root"), std::string::npos) << simulator.err;
  // Nonce checking off.
  auto nonce_off = ee::test::run({cp, "--listen", "127.0.0.1:0", "--db", db, "--trusted-mrtd", mrtd,
                                  "--nonce-mode", "disabled"});
  EXPECT_EQ(nonce_off.exit_code, 2);
  EXPECT_NE(nonce_off.err.find("nonce"), std::string::npos) << nonce_off.err;
  // Partial Cloudflare settings.
  auto partial = ee::test::run({cp, "--listen", "127.0.0.1:0", "--dev", "--cf-api-token", "t"});
  EXPECT_EQ(partial.exit_code, 2);
  EXPECT_NE(partial.err.find("CLOUDFLARE_ACCOUNT_ID"), std::string::npos) << partial.err;
}

TEST(EeCpProgram, HelpListsEverySettingWithItsEnvironmentVariable) {
  auto help = ee::test::run({ee::test::program("ee-cp").string(), "--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (auto const* name : {"--db", "--admin-token", "--dev", "--listen", "--trusted-mrtd", "EE_AGENT_STALE_HOURS",
                           "EE_MAX_CONNECTIONS", "EE_RATE_LIMIT_ANONYMOUS_PER_MINUTE", "EE_RATE_LIMIT_ANONYMOUS_BURST",
                           "EE_TRUSTED_PROXIES",
                           "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_ZONE_ID", "EE_DOMAIN"}) {
    EXPECT_NE(help.out.find(name), std::string::npos) << name;
  }
}

}  // namespace
