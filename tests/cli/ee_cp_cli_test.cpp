// The real ee-cp program: flags, readiness line, /health, graceful stop on SIGTERM.
#include <easyenclave/block_on.hpp>
#include <easyenclave/http/https_client.hpp>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <csignal>

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
                           "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_ZONE_ID", "EE_DOMAIN"}) {
    EXPECT_NE(help.out.find(name), std::string::npos) << name;
  }
}

}  // namespace
