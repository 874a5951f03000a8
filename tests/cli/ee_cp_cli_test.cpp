// The real ee-cp program: flags, readiness line, /health, graceful stop on SIGTERM.
#include <easyenclave/block_on.hpp>
#include <easyenclave/http/https_client.hpp>

#include "support/process.hpp"

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

}  // namespace
