// The one reader of the agent's base configuration (agent/config.hpp read_boot_config): config
// file, config drive, kernel command line, GCE metadata, Azure IMDS, in that order, the first that
// holds one winning. The metadata servers are stand-ins on loopback that insist on their headers,
// as the real ones do.
#include <easyenclave/agent/config.hpp>

#include <easyenclave/api/boot_config.hpp>
#include <easyenclave/api/error.hpp>
#include <easyenclave/agent/error.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/http/router.hpp>

#include "support/loopback_server.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

namespace {

namespace bhttp = boost::beast::http;
using ee::agent::ConfigSources;
using ee::agent::load_agent_config;
using ee::agent::read_boot_config;

std::string config(std::string const& vm_name) {
  return R"({"cp_url":"https://cp.example.com","owner":"github:org/o","datacenter":"gcp:z",)"
         R"("workload_runtime":"process","process_command":["/bin/true"],"vm_name":")" +
         vm_name + R"("})";
}

// A metadata server: answers `path` with `status` and `body` when the request carries
// `header: value`, 403 otherwise (GCE refuses a request without Metadata-Flavor), and counts calls.
struct MetadataServer {
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
  std::unique_ptr<ee::test::LoopbackServer> server;
  std::string url;
  MetadataServer(std::string path, std::string header, std::string value, bhttp::status status,
                 std::string body) {
    ee::http::Router router;
    router.get(path, [=, calls = calls](ee::http::RequestContext& ctx)
                   -> boost::asio::awaitable<ee::result<ee::http::Response>> {
      ++*calls;
      if (ctx.request[header] != value) {
        co_return ee::http::json_response(bhttp::status::forbidden, "{}");
      }
      auto r = ee::http::json_response(status, body);
      co_return r;
    });
    server = std::make_unique<ee::test::LoopbackServer>(std::move(router));
    url = server->url() + path;
  }
};

std::string b64(std::string const& text) {
  return ee::base64_encode(
      std::span(reinterpret_cast<std::uint8_t const*>(text.data()), text.size()));
}

MetadataServer gce(bhttp::status status, std::string body) {
  return MetadataServer("/computeMetadata/v1/instance/attributes/ee-config", "Metadata-Flavor",
                        "Google", status, std::move(body));
}
MetadataServer azure(bhttp::status status, std::string body) {
  return MetadataServer("/metadata/instance/compute/userData", "Metadata", "true", status,
                        std::move(body));
}

struct Fixture {
  ee::test::TempDir dir;
  ConfigSources sources;
  Fixture() {
    sources.file_path = (dir.path() / "agent.json").string();
    sources.cmdline_path = (dir.path() / "cmdline").string();
    sources.config_drive_path = (dir.path() / "drive").string();
    sources.metadata_timeout = std::chrono::milliseconds(2000);
    dir.write("cmdline", "console=ttyS0 quiet\n");
  }
  void drive(std::string const& text) {
    std::filesystem::create_directories(dir.path() / "drive");
    dir.write("drive/config.json", text);
  }
  void cmdline(std::string const& json) {
    dir.write("cmdline", "console=ttyS0 " + ee::api::encode_boot_config(json).value() + "\n");
  }
};

TEST(AgentConfigSources, ThePrecedenceIsFileDriveCmdlineGceAzure) {
  auto g = gce(bhttp::status::ok, config("from-gce"));
  auto a = azure(bhttp::status::ok, b64(config("from-azure")));
  Fixture f;
  f.sources.gce_metadata_url = g.url;
  f.sources.azure_imds_url = a.url;

  auto found = read_boot_config(f.sources).value();
  ASSERT_TRUE(found);
  EXPECT_EQ(found->source, "gce");
  EXPECT_NE(found->json.find("from-gce"), std::string::npos);

  f.cmdline(config("from-cmdline"));
  EXPECT_EQ(read_boot_config(f.sources).value()->source, "cmdline");
  f.drive(config("from-drive"));
  EXPECT_EQ(read_boot_config(f.sources).value()->source, "config-drive");
  f.dir.write("agent.json", config("from-file"));
  auto loaded = load_agent_config(f.sources);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->base, "file");
  EXPECT_EQ(loaded->config.vm_name, "from-file");
  // The metadata servers were asked only while nothing local held a configuration.
  EXPECT_EQ(*g.calls, 1);
  EXPECT_EQ(*a.calls, 0);
}

TEST(AgentConfigSources, TheConfigDriveIsReadAsTheLauncherWritesIt) {
  Fixture f;
  f.drive(config("from-drive"));
  auto loaded = load_agent_config(f.sources);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->base, "config-drive");
  EXPECT_EQ(loaded->config.vm_name, "from-drive");
}

TEST(AgentConfigSources, AzureUserDataIsBase64) {
  auto g = gce(bhttp::status::not_found, "{}");
  auto a = azure(bhttp::status::ok, b64(config("from-azure")) + "\n");
  Fixture f;
  f.sources.gce_metadata_url = g.url;
  f.sources.azure_imds_url = a.url;
  auto loaded = load_agent_config(f.sources);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->base, "azure");
  EXPECT_EQ(loaded->config.vm_name, "from-azure");
  EXPECT_EQ(*g.calls, 1);  // GCE first, 404: none there
}

TEST(AgentConfigSources, AbsentServersAndEmptyValuesHoldNone) {
  auto g = gce(bhttp::status::ok, "  \n");
  Fixture f;
  f.sources.gce_metadata_url = g.url;
  // Nothing listens on port 9 of loopback: refused at once, as on a machine of another cloud.
  f.sources.azure_imds_url = "http://127.0.0.1:9/metadata/instance/compute/userData";
  auto found = read_boot_config(f.sources);
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_FALSE(*found);
  f.sources.flags = {{"cp_url", "https://cp.example.com"}, {"owner", "github:org/o"},
                     {"datacenter", "a:b"}, {"vm_name", "v"}};
  auto loaded = load_agent_config(f.sources);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->base, "none");
}

TEST(AgentConfigSources, AnotherCloudsServerAtTheSameAddressHoldsNone) {
  // GCE's metadata server also answers 169.254.169.254, with 403 to a request without its
  // header: on GCE without ee-config, the Azure request must not stop the agent.
  auto g = gce(bhttp::status::not_found, "{}");
  auto a = azure(bhttp::status::forbidden, "{}");
  Fixture f;
  f.sources.gce_metadata_url = g.url;
  f.sources.azure_imds_url = a.url;
  auto found = read_boot_config(f.sources);
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_FALSE(*found);
  auto failing = gce(bhttp::status::internal_server_error, "{}");
  f.sources.gce_metadata_url = failing.url;
  EXPECT_FALSE(read_boot_config(f.sources).value());
}

TEST(AgentConfigSources, WhatDoesNotDecodeIsAnErrorNamingTheSource) {
  {
    Fixture f;
    f.drive("{not json");
    auto loaded = load_agent_config(f.sources);
    ASSERT_FALSE(loaded);
    EXPECT_NE(loaded.error().message().find("config drive"), std::string::npos)
        << loaded.error().message();
  }
  {
    auto a = azure(bhttp::status::ok, "%%% not base64 %%%");
    Fixture f;
    f.sources.azure_imds_url = a.url;
    auto loaded = load_agent_config(f.sources);
    ASSERT_FALSE(loaded);
    EXPECT_EQ(loaded.error(), ee::api::errc::invalid_boot_config);
    EXPECT_NE(loaded.error().message().find("Azure IMDS"), std::string::npos);
  }
  {
    auto g = gce(bhttp::status::ok, R"({"owner": 7})");
    Fixture f;
    f.sources.gce_metadata_url = g.url;
    auto loaded = load_agent_config(f.sources);
    ASSERT_FALSE(loaded);
    EXPECT_NE(loaded.error().message().find("GCE metadata"), std::string::npos);
  }
  {
    Fixture f;
    f.dir.write("cmdline", "easyenclave.config=!!!\n");
    EXPECT_EQ(read_boot_config(f.sources).error(), ee::api::errc::invalid_boot_config);
  }
}

}  // namespace
