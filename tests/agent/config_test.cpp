// The agent's configuration: where it comes from (file, kernel command line, environment, flags)
// and what it refuses.
#include "support/temp_dir.hpp"

#include <easyenclave/agent/config.hpp>
#include <easyenclave/agent/error.hpp>
#include <easyenclave/api/boot_config.hpp>

#include <gtest/gtest.h>

namespace {

using ee::agent::AgentConfig;
using ee::agent::ConfigSources;
using ee::agent::load_agent_config;

constexpr char kFile[] = R"({"cp_url":"https://cp.example.com/","owner":"github:org/octo-org","node_size":"tiny",
  "datacenter":"gcp:us-central1-a","vm_name":"from-file","workload_runtime":"process",
  "process_command":["/bin/sh","-c","serve"],"listen":"127.0.0.1:9000"})";

constexpr char kCmdline[] = R"({"cp_url":"https://cmdline.example.com","owner":"github:user/someone",
  "datacenter":"baremetal:lab1","vm_name":"from-cmdline"})";

struct Fixture {
  ee::test::TempDir dir;
  ConfigSources sources() const {
    ConfigSources s;
    s.file_path = (dir.path() / "agent.json").string();
    s.cmdline_path = (dir.path() / "cmdline").string();
    return s;
  }
  void write_file(std::string const& text) const { dir.write("agent.json", text); }
  void write_cmdline(std::string const& json) const {
    dir.write("cmdline", "console=ttyS0 root=/dev/vda1 " + ee::api::encode_boot_config(json).value() + " quiet\n");
  }
};

bool refused(ee::result<ee::agent::LoadedConfig> const& r, std::string_view mentions) {
  if (r) return false;
  EXPECT_EQ(r.error(), ee::condition::invalid_input) << r.error().message();
  return r.error().message().find(mentions) != std::string::npos;
}

TEST(AgentConfig, TheFileWinsOverTheCommandLine) {
  Fixture f;
  f.write_file(kFile);
  f.write_cmdline(kCmdline);
  auto loaded = load_agent_config(f.sources());
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->base, "file");
  EXPECT_EQ(loaded->config.vm_name, "from-file");
  EXPECT_EQ(loaded->config.cp_url, "https://cp.example.com");  // trailing '/' dropped
  EXPECT_EQ(loaded->config.process_command, (std::vector<std::string>{"/bin/sh", "-c", "serve"}));
}

TEST(AgentConfig, WithoutAFileTheCommandLineIsTheBase) {
  Fixture f;
  f.write_cmdline(kCmdline);
  auto loaded = load_agent_config(f.sources());
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->base, "cmdline");
  EXPECT_EQ(loaded->config.vm_name, "from-cmdline");
  EXPECT_EQ(loaded->config.owner, "github:user/someone");
  EXPECT_EQ(loaded->config.listen, "127.0.0.1:8081");  // defaults fill the rest
  EXPECT_EQ(loaded->config.workload_runtime, "podman");
}

TEST(AgentConfig, EnvironmentOverridesTheBaseAndFlagsOverrideTheEnvironment) {
  Fixture f;
  f.write_file(kFile);
  auto sources = f.sources();
  sources.env = {{"EE_VM_NAME", "from-env"}, {"EE_NODE_SIZE", "standard"}, {"ITA_API_KEY", "secret"},
                 {"EE_PROCESS_COMMAND", "/usr/bin/serve --port 8080"}, {"UNRELATED", "x"}};
  sources.flags = {{"vm_name", "from-flag"}};
  auto loaded = load_agent_config(sources);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->config.vm_name, "from-flag");
  EXPECT_EQ(loaded->config.node_size, "standard");
  EXPECT_EQ(loaded->config.ita_api_key, "secret");
  EXPECT_EQ(loaded->config.process_command, (std::vector<std::string>{"/usr/bin/serve", "--port", "8080"}));
}

TEST(AgentConfig, ListsTakeAJsonArrayFromTheEnvironment) {
  Fixture f;
  f.write_file(kFile);
  auto sources = f.sources();
  sources.env = {{"EE_PROCESS_COMMAND", R"(["/bin/sh","-c","echo a b"])"}};
  auto loaded = load_agent_config(sources);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->config.process_command, (std::vector<std::string>{"/bin/sh", "-c", "echo a b"}));
  sources.env = {{"EE_PROCESS_COMMAND", R"(["/bin/sh",1])"}};
  EXPECT_TRUE(refused(load_agent_config(sources), "process_command"));
}

TEST(AgentConfig, UnknownKeysAreReportedNotIgnored) {
  Fixture f;
  f.write_file(R"({"cp_url":"https://cp.example.com","owner":"github:org/o","datacenter":"a:b","vm_name":"v",
                  "cp_ulr":"typo","extra":{"nested":true}})");
  auto loaded = load_agent_config(f.sources());
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->unknown_keys, (std::vector<std::string>{"cp_ulr", "extra"}));
  auto sources = f.sources();
  sources.flags = {{"no_such_key", "1"}};
  EXPECT_TRUE(refused(load_agent_config(sources), "no_such_key"));
}

TEST(AgentConfig, AMalformedCommandLineValueIsAClearError) {
  Fixture f;
  f.dir.write("cmdline", "console=ttyS0 easyenclave.configz=bm90LXpsaWI= quiet\n");
  auto r = load_agent_config(f.sources());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::api::errc::invalid_boot_config);
  EXPECT_NE(r.error().message().find("zlib"), std::string::npos) << r.error().message();
  f.dir.write("cmdline", "easyenclave.config=!!!\n");
  auto b = load_agent_config(f.sources());
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message().find("not base64"), std::string::npos);
}

TEST(AgentConfig, WrongTypesNameTheKey) {
  Fixture f;
  for (auto const& [text, key] : std::vector<std::pair<std::string, std::string>>{
           {R"({"cp_url":5})", "cp_url"},
           {R"({"process_command":"one string"})", "process_command"},
           {R"({"refused_retry":"soon"})", "refused_retry"},
           {R"([1,2])", "JSON object"},
           {R"({"a":1,"a":2})", "not JSON"}}) {
    f.write_file(text);
    EXPECT_TRUE(refused(load_agent_config(f.sources()), key)) << text;
  }
}

TEST(AgentConfig, ValidationNamesWhatIsWrong) {
  struct Case {
    std::string flag, value, mentions;
  };
  Fixture f;
  f.write_file(kFile);
  for (auto const& c : std::vector<Case>{
           {"mode", "server", "mode"},
           {"cp_url", "cp.example.com", "cp_url"},
           {"cp_url", "", "cp_url"},
           {"owner", "octo-org", "owner"},
           {"datacenter", "gcp", "datacenter"},
           {"node_size", "Tiny", "node_size"},
           {"vm_name", "bad name", "vm_name"},
           {"listen", "nowhere", "listen"},
           {"appraisal", "both", "appraisal"},
           {"appraisal", "ita", "ita_api_key"},
           {"quote_provider", "simulator", "simulator_dir"},
           {"workload_runtime", "docker", "workload_runtime"},
           {"process_command", "", "process_command"},
           {"agent_url", "ftp://x", "agent_url"},
           {"reattestation_interval", "5", "reattestation_interval"},
           {"register_retry_min", "0", "register_retry"},
           {"log_buffer_bytes", "10", "log_buffer_bytes"},
           {"refused_retry", "12x", "refused_retry"},
       }) {
    auto sources = f.sources();
    sources.flags = {{c.flag, c.value}};
    EXPECT_TRUE(refused(load_agent_config(sources), c.mentions)) << c.flag << "=" << c.value;
  }
}

TEST(AgentConfig, CpBootstrapNeedsNoControlPlaneUrl) {
  Fixture f;
  auto sources = f.sources();
  sources.flags = {{"mode", "cp-bootstrap"}, {"vm_name", "cp-vm"}, {"tunnel_token", "t"}};
  auto loaded = load_agent_config(sources);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->base, "none");
  EXPECT_EQ(loaded->config.cp_command, std::vector<std::string>{"ee-cp"});
  sources.flags["cp_command"] = "";
  EXPECT_TRUE(refused(load_agent_config(sources), "cp_command"));
}

TEST(AgentConfig, VmNameDefaultsToTheHostname) {
  Fixture f;
  auto sources = f.sources();
  sources.flags = {{"cp_url", "https://cp.example.com"}, {"owner", "github:org/o"}, {"datacenter", "a:b"}};
  auto loaded = load_agent_config(sources);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_FALSE(loaded->config.vm_name.empty());
}

TEST(AgentConfig, OptionsFollowTheConfiguration) {
  Fixture f;
  AgentConfig c;
  c.cp_url = "https://cp.example.com";
  c.owner = "github:org/o";
  c.datacenter = "a:b";
  c.vm_name = "v";
  c.quote_provider = "simulator";
  c.simulator_dir = (f.dir.path() / "sim").string();
  c.workload_runtime = "process";
  c.process_command = {"/bin/true"};
  c.appraisal = "ita";
  c.ita_api_key = "k";
  c.listen = "127.0.0.1:0";
  ASSERT_TRUE(ee::agent::validate_agent_config(c));
  auto o = ee::agent::make_agent_options(c);
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->quotes->name(), "simulator");
  EXPECT_EQ(o->workload->name(), "process");
  ASSERT_TRUE(o->ita);
  EXPECT_EQ(o->ita->api_key, "k");
  EXPECT_FALSE(o->send_quote);
  EXPECT_EQ(o->server.port, 0);
  EXPECT_TRUE(o->logs);
}

TEST(AgentConfig, EveryKeyHasAnEnvironmentVariableAndHelp) {
  auto const keys = ee::agent::agent_config_keys();
  EXPECT_GE(keys.size(), 20u);
  for (auto const& k : keys) {
    EXPECT_FALSE(k.env.empty()) << k.name;
    EXPECT_FALSE(k.help.empty()) << k.name;
  }
}

}  // namespace
