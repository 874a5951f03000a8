// The control plane object on a real loopback socket.
#include <easyenclave/block_on.hpp>
#include <easyenclave/cp/control_plane.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/version.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

namespace {

namespace bhttp = boost::beast::http;

TEST(ControlPlane, HealthReportsVersionUptimeAndMode) {
  auto now = std::chrono::system_clock::time_point{std::chrono::seconds{1'700'000'000}};
  ee::cp::Options options;
  options.dev = true;
  options.now = [&now] { return now; };
  auto cp = ee::cp::ControlPlane::start(std::move(options));
  ASSERT_TRUE(cp) << cp.error().message();
  now += std::chrono::seconds(42);

  auto client = ee::http::make_https_client().value();
  ee::http::Request request{bhttp::verb::get, "http://127.0.0.1:" + std::to_string((*cp)->endpoint().port()) + "/health", 11};
  auto response = ee::block_on(client->send(std::move(request)));
  ASSERT_TRUE(response) << response.error().message();
  EXPECT_EQ(response->result(), bhttp::status::ok);
  auto body = boost::json::parse(response->body());
  EXPECT_EQ(body.at("status").as_string(), "ok");
  EXPECT_EQ(body.at("version").as_string(), std::string(ee::version()));
  EXPECT_EQ(body.at("uptime_seconds").as_int64(), 42);
  EXPECT_EQ(body.at("started_at").as_string(), "2023-11-14T22:13:20Z");
  EXPECT_FALSE(body.at("attested").as_bool());
  EXPECT_TRUE(body.at("dev").as_bool());
  (*cp)->stop();
}

TEST(ControlPlane, StartFailsWhenThePortIsTaken) {
  ee::cp::Options dev;
  dev.dev = true;
  auto first = ee::cp::ControlPlane::start(std::move(dev));
  ASSERT_TRUE(first);
  ee::cp::Options options;
  options.dev = true;
  options.server.port = (*first)->endpoint().port();
  auto second = ee::cp::ControlPlane::start(std::move(options));
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), ee::http::errc::bind_failed);
}

}  // namespace
