#include <easyenclave/http/address.hpp>

#include <gtest/gtest.h>

namespace {

using ee::http::parse_host_port;

TEST(HostPort, ParsesNamesIpv4AndBracketedIpv6) {
  auto a = parse_host_port("127.0.0.1:8080").value();
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 8080);
  auto b = parse_host_port("localhost:0").value();
  EXPECT_EQ(b.host, "localhost");
  EXPECT_EQ(b.port, 0);
  auto c = parse_host_port("[::1]:443").value();
  EXPECT_EQ(c.host, "::1");
  EXPECT_EQ(c.port, 443);
  EXPECT_EQ(ee::http::to_string(c), "[::1]:443");
  EXPECT_EQ(ee::http::to_string(a), "127.0.0.1:8080");
  EXPECT_EQ(parse_host_port(":9000", "0.0.0.0").value().host, "0.0.0.0");
}

TEST(HostPort, RejectsMalformedAddresses) {
  for (auto bad : {"", "localhost", "127.0.0.1:", ":80", "host:port", "host:65536", "host:-1", "host:80x",
                   "::1:80", "[::1]", "[::1]80", "[:80", "[]:80"}) {
    auto r = parse_host_port(bad);
    EXPECT_FALSE(r) << "accepted: " << bad;
    if (!r) {
      EXPECT_EQ(r.error(), ee::condition::invalid_input) << bad;
    }
  }
}

}  // namespace
