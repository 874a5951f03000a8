// The agent's configuration: where it comes from (file, kernel command line, environment, flags),
// what each source may hold, and what validation refuses.
#include <easyenclave/agent/config.hpp>

#include <easyenclave/agent/error.hpp>
#include <easyenclave/api/boot_config.hpp>
#include <easyenclave/api/error.hpp>

#include <easyenclave/tdx/simulator.hpp>

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cctype>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

namespace {

using ee::agent::AgentConfig;
using ee::agent::ConfigSources;
using ee::agent::load_agent_config;
using ee::agent::parse_agent_config;

// An environment of exactly these variables.
ee::settings::Environment env(std::map<std::string, std::string, std::less<>> variables) {
  return ee::settings::fixed_environment(std::move(variables));
}

constexpr char kFile[] =
    R"({"cp_url":"https://cp.example.com/","owner":"github:org/octo-org","node_size":"tiny",)"
    R"("datacenter":"gcp:us-central1-a","vm_name":"from-file","workload_runtime":"process",)"
    R"("process_command":["/bin/sh","-c","serve"],"listen":"127.0.0.1:9000"})";

constexpr char kCmdline[] =
    R"({"cp_url":"https://cmdline.example.com","owner":"github:user/someone",)"
    R"("datacenter":"baremetal:lab1","vm_name":"from-cmdline"})";

struct Fixture {
  ee::test::TempDir dir;
  ConfigSources sources() const {
    ConfigSources s;
    s.file_path = (dir.path() / "agent.json").string();
    s.cmdline_path = (dir.path() / "cmdline").string();
    return s;
  }
  void write_file(std::string const& text) const { dir.write("agent.json", text); }
  // A /proc/cmdline as a VM booted by `ee launch` shows it.
  void write_cmdline(std::string const& json) const {
    dir.write("cmdline", "console=ttyS0 root=/dev/vda1 " +
                             ee::api::encode_boot_config(json).value() + " quiet\n");
  }
};

// Refused as invalid input with a message that mentions `what`.
testing::AssertionResult refused(ee::result<ee::agent::LoadedConfig> const& r,
                                 std::string_view what) {
  if (r) return testing::AssertionFailure() << "accepted";
  if (r.error() != ee::condition::invalid_input) {
    return testing::AssertionFailure() << "not invalid_input: " << r.error().id();
  }
  if (r.error().message().find(what) == std::string::npos) {
    return testing::AssertionFailure() << "message: " << r.error().message();
  }
  return testing::AssertionSuccess();
}

std::string this_hostname() {
  std::array<char, 256> name{};
  EXPECT_EQ(::gethostname(name.data(), name.size() - 1), 0);
  return name.data();
}

// --- parse_agent_config ------------------------------------------------------------------------

TEST(AgentConfigParse, SetsTypedKeysOverTheDefaults) {
  std::vector<std::string> unknown;
  auto c = parse_agent_config(
      R"({"mode":"cp-bootstrap","cp_command":["/usr/bin/ee-cp","--dev"],"refused_retry":30,)"
      R"("ita_api_key":"k","log_buffer_bytes":65536})",
      unknown);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE(unknown.empty());
  EXPECT_EQ(c->mode, "cp-bootstrap");
  EXPECT_EQ(c->cp_command, (std::vector<std::string>{"/usr/bin/ee-cp", "--dev"}));
  EXPECT_EQ(c->refused_retry, 30);
  EXPECT_EQ(c->ita_api_key, "k");
  EXPECT_EQ(c->log_buffer_bytes, 65536);
  // Everything else keeps its default.
  AgentConfig const defaults;
  EXPECT_EQ(c->listen, defaults.listen);
  EXPECT_EQ(c->ita_url, "https://api.trustauthority.intel.com");
  EXPECT_EQ(c->appraisal, "quote");
  EXPECT_EQ(c->quote_provider, "tsm");
  EXPECT_EQ(c->state_dir, "/data/ee-agent");
  EXPECT_EQ(c->reattestation_interval, 3600);
}

TEST(AgentConfigParse, CollectsUnknownKeys) {
  std::vector<std::string> unknown{"already-there"};
  auto c =
      parse_agent_config(R"({"cp_ulr":"typo","vm_name":"v","extra":{"nested":true}})", unknown);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->vm_name, "v");
  EXPECT_EQ(unknown, (std::vector<std::string>{"already-there", "cp_ulr", "extra"}));
}

TEST(AgentConfigParse, WrongTypesNameTheKeyAndNotTheValue) {
  for (auto const& [text, what] : std::vector<std::pair<std::string, std::string>>{
           {R"({"cp_url":5})", "cp_url: expected a string"},
           {R"({"ita_api_key":["sekrit-value"]})", "ita_api_key: expected a string"},
           {R"({"owner":null})", "owner: expected a string"},
           {R"({"process_command":"one string"})", "process_command: expected an array"},
           {R"({"cp_command":["ee-cp",1]})", "cp_command: expected an array of strings"},
           {R"({"refused_retry":"soon"})", "refused_retry: expected a whole number"},
           {R"({"refused_retry":1.5})", "refused_retry: expected a whole number"},
           {R"({"refused_retry":true})", "refused_retry: expected a whole number"},
           {R"({"log_buffer_bytes":18446744073709551615})", "log_buffer_bytes: out of range"},
           {R"([1,2])", "must be a JSON object"},
           {R"("text")", "must be a JSON object"},
           {R"({"a":1,"a":2})", "not JSON"},
           {R"({"a":1,})", "not JSON"},
           {"", "not JSON"}}) {
    std::vector<std::string> unknown;
    auto c = parse_agent_config(text, unknown);
    ASSERT_FALSE(c) << text;
    EXPECT_EQ(c.error(), ee::api::errc::invalid_agent_config) << text;
    EXPECT_NE(c.error().message().find(what), std::string::npos) << c.error().message();
    EXPECT_EQ(c.error().message().find("sekrit"), std::string::npos) << c.error().message();
  }
}

TEST(AgentConfigParse, EveryTruncationFailsCleanly) {
  std::string const text = kFile;
  for (std::size_t n = 0; n < text.size(); ++n) {
    std::vector<std::string> unknown;
    auto c = parse_agent_config(text.substr(0, n), unknown);
    ASSERT_FALSE(c) << n;
    EXPECT_EQ(c.error(), ee::api::errc::invalid_agent_config) << n;
  }
}

// --- sources and precedence --------------------------------------------------------------------

TEST(AgentConfig, TheFileWinsOverTheCommandLine) {
  Fixture f;
  f.write_file(kFile);
  f.write_cmdline(kCmdline);
  auto loaded = load_agent_config(f.sources());
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->base, "file");
  EXPECT_EQ(loaded->config.vm_name, "from-file");
  EXPECT_EQ(loaded->config.cp_url, "https://cp.example.com");  // trailing '/' dropped
  EXPECT_EQ(loaded->config.owner, "github:org/octo-org");      // nothing from the command line
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

TEST(AgentConfig, TheCommandLineMayCarryTheCompressedForm) {
  Fixture f;
  std::string json = R"({"cp_url":"https://cp.example.com","owner":"github:org/o",)"
                     R"("datacenter":"a:b","workload_runtime":"process","process_command":[)";
  for (int i = 0; i < 30; ++i) json += std::string(i == 0 ? "" : ",") + "\"--repeated-flag\"";
  json += "]}";
  ASSERT_TRUE(ee::api::encode_boot_config(json).value().starts_with("easyenclave.configz="));
  f.write_cmdline(json);
  auto loaded = load_agent_config(f.sources());
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->base, "cmdline");
  EXPECT_EQ(loaded->config.process_command.size(), 30u);
}

TEST(AgentConfig, NeitherFileNorBootConfigLeavesTheDefaults) {
  Fixture f;
  f.dir.write("cmdline", "console=ttyS0 root=/dev/vda1 quiet\n");
  auto sources = f.sources();
  sources.flags = {{"cp_url", "https://cp.example.com"},
                   {"owner", "github:org/o"},
                   {"datacenter", "a:b"},
                   {"vm_name", "v"}};
  auto loaded = load_agent_config(sources);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->base, "none");
  // No command line file at all, or reading it switched off: the same.
  sources.cmdline_path = (f.dir.path() / "missing").string();
  EXPECT_EQ(load_agent_config(sources).value().base, "none");
  f.write_cmdline(kCmdline);
  sources.cmdline_path = "";
  EXPECT_EQ(load_agent_config(sources).value().base, "none");
}

TEST(AgentConfig, EnvironmentOverridesTheBaseAndFlagsOverrideTheEnvironment) {
  Fixture f;
  f.write_file(kFile);
  auto sources = f.sources();
  sources.env = env({{"EE_VM_NAME", "from-env"},
                 {"EE_NODE_SIZE", "standard"},
                 {"ITA_API_KEY", "secret"},
                 {"EE_REFUSED_RETRY", "42"},
                 {"EE_PROCESS_COMMAND", "/usr/bin/serve --port 8080"},
                 {"EE_DATACENTER", ""},  // empty: unset, the file's value stays
                 {"VM_NAME", "not ours"},
                 {"vm_name", "not ours either"}});
  sources.flags = {{"vm_name", "from-flag"}};
  auto loaded = load_agent_config(sources);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->config.vm_name, "from-flag");
  EXPECT_EQ(loaded->config.node_size, "standard");
  EXPECT_EQ(loaded->config.ita_api_key, "secret");
  EXPECT_EQ(loaded->config.refused_retry, 42);
  EXPECT_EQ(loaded->config.datacenter, "gcp:us-central1-a");
  EXPECT_EQ(loaded->config.process_command,
            (std::vector<std::string>{"/usr/bin/serve", "--port", "8080"}));
  // The environment over the command line too.
  Fixture g;
  g.write_cmdline(kCmdline);
  auto from_cmdline = g.sources();
  from_cmdline.env = env({{"EE_CP_URL", "https://env.example.com"}});
  auto c = load_agent_config(from_cmdline);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->base, "cmdline");
  EXPECT_EQ(c->config.cp_url, "https://env.example.com");
  EXPECT_EQ(c->config.vm_name, "from-cmdline");
}

TEST(AgentConfig, EveryKeyReadsTheSameFromItsVariableAndItsFlag) {
  Fixture f;
  f.write_file(kFile);
  auto const base = load_agent_config(f.sources()).value().config;
  for (auto const& key : ee::agent::agent_setting_registry().specs()) {
    auto by_env = f.sources();
    by_env.env = env({{std::string(key.env), "12345"}});
    auto by_flag = f.sources();
    by_flag.flags = {{std::string(key.name), "12345"}};
    auto const a = load_agent_config(by_env);
    auto const b = load_agent_config(by_flag);
    ASSERT_EQ(a.has_value(), b.has_value()) << key.name;
    if (a) {
      EXPECT_EQ(a->config, b->config) << key.name;
      EXPECT_NE(a->config, base) << key.name;  // the value arrived
    } else {
      // Refused by validation, naming the key: the value arrived there as well.
      EXPECT_NE(a.error().message().find(std::string(key.name)), std::string::npos)
          << key.env << ": " << a.error().message();
      EXPECT_NE(b.error().message().find(std::string(key.name)), std::string::npos)
          << key.name << ": " << b.error().message();
    }
  }
}

TEST(AgentConfig, ListsTakeAJsonArrayFromTheEnvironment) {
  Fixture f;
  f.write_file(kFile);
  auto sources = f.sources();
  sources.env = env({{"EE_PROCESS_COMMAND", R"(["/bin/sh","-c","echo a b"])"}});
  auto loaded = load_agent_config(sources);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->config.process_command,
            (std::vector<std::string>{"/bin/sh", "-c", "echo a b"}));
  sources.env = env({{"EE_PROCESS_COMMAND", R"(["/bin/sh",1])"}});
  EXPECT_TRUE(refused(load_agent_config(sources), "EE_PROCESS_COMMAND: process_command"));
  sources.env = env({{"EE_PROCESS_COMMAND", R"([unclosed)"}});
  EXPECT_TRUE(refused(load_agent_config(sources), "process_command"));
  sources.env = env({{"EE_REFUSED_RETRY", "12x"}});
  EXPECT_TRUE(refused(load_agent_config(sources), "EE_REFUSED_RETRY: refused_retry"));
}

TEST(AgentConfig, UnknownKeysAreReportedNotIgnored) {
  Fixture f;
  f.write_file(R"({"cp_url":"https://cp.example.com","owner":"github:org/o","datacenter":"a:b",)"
               R"("vm_name":"v","cp_ulr":"typo","extra":{"nested":true}})");
  auto loaded = load_agent_config(f.sources());
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->unknown_keys, (std::vector<std::string>{"cp_ulr", "extra"}));
  // From the command line as well.
  Fixture g;
  g.write_cmdline(R"({"cp_url":"https://cp.example.com","owner":"github:org/o",)"
                  R"("datacenter":"a:b","vm_name":"v","future_key":1})");
  auto c = load_agent_config(g.sources());
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->unknown_keys, std::vector<std::string>{"future_key"});
  // A flag is the program's own doing: an unknown one is an error.
  auto sources = f.sources();
  sources.flags = {{"no_such_key", "1"}};
  EXPECT_TRUE(refused(load_agent_config(sources), "unknown setting 'no_such_key'"));
}

TEST(AgentConfig, AMalformedCommandLineValueIsAClearError) {
  Fixture f;
  f.dir.write("cmdline", "console=ttyS0 easyenclave.configz=bm90LXpsaWI= quiet\n");
  auto r = load_agent_config(f.sources());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::api::errc::invalid_boot_config);
  EXPECT_EQ(r.error(), ee::condition::invalid_input);
  EXPECT_NE(r.error().message().find("kernel command line"), std::string::npos);
  EXPECT_NE(r.error().message().find("easyenclave.configz is not zlib"), std::string::npos)
      << r.error().message();
  f.dir.write("cmdline", "easyenclave.config=!!!\n");
  EXPECT_TRUE(refused(load_agent_config(f.sources()), "easyenclave.config is not base64"));
  f.dir.write("cmdline", "easyenclave.config=e30= easyenclave.config=e30=\n");
  EXPECT_TRUE(refused(load_agent_config(f.sources()), "more than once"));
  // Well-formed, but a key has the wrong type.
  f.write_cmdline(R"({"cp_url":["x"]})");
  auto typed = load_agent_config(f.sources());
  EXPECT_TRUE(refused(typed, "cp_url: expected a string"));
  EXPECT_EQ(typed.error(), ee::api::errc::invalid_agent_config);
  // A malformed boot config does not matter when a file exists: the file is the base.
  f.dir.write("cmdline", "easyenclave.config=!!!\n");
  f.write_file(kFile);
  EXPECT_TRUE(load_agent_config(f.sources()));
}

TEST(AgentConfig, AnUnreadableOrOversizedFileIsAnError) {
  Fixture f;
  std::filesystem::create_directory(f.dir.path() / "agent.json");  // exists, but not a file
  auto r = load_agent_config(f.sources());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::errc::io_error);
  Fixture g;
  g.write_file("{" + std::string(300 * 1024, ' ') + "}");
  auto big = load_agent_config(g.sources());
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error(), ee::errc::out_of_range);
  Fixture h;
  h.write_file(R"({"cp_url":1})");
  EXPECT_TRUE(refused(load_agent_config(h.sources()), "config file"));
}

// --- validation --------------------------------------------------------------------------------

TEST(AgentConfig, ValidationNamesWhatIsWrong) {
  struct Case {
    std::string key, value, mentions;
  };
  Fixture f;
  f.write_file(kFile);
  for (auto const& c : std::vector<Case>{
           {"mode", "server", "mode 'server': must be one of agent|cp-bootstrap"},
           {"cp_url", "cp.example.com", "cp_url: must be an absolute http(s) URL"},
           {"cp_url", "ftp://cp.example.com", "cp_url"},
           {"cp_url", "https://user@cp.example.com", "cp_url"},
           {"cp_url", "", "cp_url (EE_CP_URL, --cp-url): required"},
           {"owner", "", "owner (EE_OWNER, --owner): required"},
           {"owner", "octo-org", "owner"},
           {"owner", "github:org/-bad", "owner"},
           {"datacenter", "", "datacenter (EE_DATACENTER, --datacenter): required"},
           {"datacenter", "gcp", "datacenter"},
           {"node_size", "Tiny", "node_size"},
           {"vm_name", "bad name", "vm_name"},
           {"vm_name", std::string(64, 'a'), "vm_name"},
           {"listen", "nowhere", "listen"},
           {"listen", "127.0.0.1:8080", "listen: port 8080 is the workload's"},
           {"listen", "0.0.0.0:8080", "port 8080"},
           {"workload_port", "0", "workload_port '0': must be a whole number from 1 to 65535"},
           {"workload_port", "65536", "workload_port"},
           {"workload_port", "9000", "listen: port 9000 is the workload's (workload_port)"},
           {"appraisal", "both", "appraisal 'both': must be one of quote|ita"},
           {"appraisal", "ita", "ita_api_key (ITA_API_KEY): required"},
           {"quote_provider", "sgx", "quote_provider 'sgx': must be one of tsm|simulator"},
           {"quote_provider", "simulator", "simulator_dir: required"},
           {"workload_runtime", "docker", "workload_runtime 'docker': must be one of podman|process"},
           {"process_command", "", "process_command: required"},
           {"agent_url", "ftp://x", "agent_url"},
           {"state_dir", "", "state_dir"},
           {"cloudflared", "", "cloudflared"},
           {"reattestation_interval", "59", "reattestation_interval '59': must be a duration from 60"},
           {"reattestation_interval", "604801", "reattestation_interval"},
           {"register_retry_min", "0", "register_retry_min"},
           {"register_retry_min", "-5", "register_retry_min"},
           {"register_retry_min", "61", "register_retry_max: must not be less"},
           {"register_retry_max", "9999999999", "register_retry_max"},
           {"refused_retry", "0", "refused_retry"},
           {"refused_retry", "12x", "refused_retry '12x': must be a duration in seconds"},
           {"refused_retry", "99999999999999999999", "refused_retry '99999999999999999999': must be a duration"},
           {"log_buffer_bytes", "10", "log_buffer_bytes '10': must be a whole number from 65536 to 1073741824"},
           {"log_buffer_bytes", "2147483648", "log_buffer_bytes"},
           {"key_file", "agent-key.pem", "key_file: must be an absolute path"},
           {"key_file_allow_disk", "maybe", "key_file_allow_disk 'maybe': must be true or false"},
           {"cp_mrtd", "abc", "cp_mrtd: must be 96 hex characters"},
           {"cp_mrtd", std::string(96, 'g'), "cp_mrtd: must be 96 hex characters"},
           {"cp_rtmr2", std::string(96, 'a'), "cp_rtmr2: needs cp_mrtd (EE_CP_MRTD)"},
           {"cp_appraisal", "quote", "cp_appraisal 'quote': must be one of dcap|ita"},
       }) {
    auto sources = f.sources();
    sources.flags = {{c.key, c.value}};
    auto r = load_agent_config(sources);
    EXPECT_TRUE(refused(r, c.mentions)) << c.key << "=" << c.value;
    if (!r) {
      EXPECT_EQ(r.error(), ee::api::errc::invalid_agent_config) << c.key << "=" << c.value;
    }
  }
}

TEST(AgentConfig, ValidationAcceptsWhatTheRulesAllow) {
  Fixture f;
  f.write_file(kFile);
  for (auto const& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"cp_url", "http://127.0.0.1:8000"},
           {"listen", "0.0.0.0:8081"},
           {"listen", "[::1]:0"},
           {"agent_url", "http://10.0.0.5:8081"},
           {"vm_name", "vm-1.example"},
           {"reattestation_interval", "60"},
           {"register_retry_min", "60"},
           {"log_buffer_bytes", "65536"},
           {"workload_port", "18080"},
       }) {
    auto sources = f.sources();
    sources.flags = {{key, value}};
    auto r = load_agent_config(sources);
    EXPECT_TRUE(r) << key << "=" << value << ": " << (r ? "" : r.error().message());
  }
  auto sources = f.sources();
  sources.flags = {{"appraisal", "ita"}, {"ita_api_key", "k"}, {"ita_url", "not a url"}};
  EXPECT_TRUE(refused(load_agent_config(sources), "ita_url"));
  sources.flags["ita_url"] = "https://ita.example.com";
  EXPECT_TRUE(load_agent_config(sources));
}

TEST(AgentConfig, SecretsStayOutOfErrors) {
  Fixture f;
  f.write_file(kFile);
  auto sources = f.sources();
  sources.env = env({{"ITA_API_KEY", "sekrit-key"}, {"EE_TUNNEL_TOKEN", "sekrit-token"}});
  sources.flags = {{"mode", "nonsense"}};
  auto r = load_agent_config(sources);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().find("sekrit"), std::string::npos);
  // A bad value of a secret key is never repeated (other keys' values are, as ee-cp's are, to
  // show what was read).
  for (auto const& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"ita_api_key", "sekrit\x01key"},
           {"tunnel_token", "sekrit\ttoken"},
           {"bootstrap_token", std::string(5000, 's') + "sekrit"},
           {"cp_env", "sekrit-not-json"},
           {"cp_env", R"({"A":"sekrit","B":1})"}}) {
    auto by_flag = f.sources();
    by_flag.flags = {{key, value}};
    auto by_env = f.sources();
    by_env.env = env({{std::string(ee::agent::agent_setting_registry().find(key)->env), value}});
    for (auto const& got : {load_agent_config(by_flag), load_agent_config(by_env)}) {
      ASSERT_FALSE(got) << key;
      EXPECT_NE(got.error().message().find(key), std::string::npos) << got.error().message();
      EXPECT_EQ(got.error().message().find("sekrit"), std::string::npos) << got.error().message();
    }
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
  EXPECT_TRUE(refused(load_agent_config(sources), "cp_command (EE_CP_COMMAND): required"));
  sources.flags["cp_command"] = R"([""])";
  EXPECT_TRUE(refused(load_agent_config(sources), "cp_command"));
  sources.flags["cp_command"] = "/usr/bin/ee-cp --listen 127.0.0.1:8080";
  sources.flags["owner"] = "nobody";
  EXPECT_TRUE(refused(load_agent_config(sources), "owner"));
  sources.flags.erase("owner");
  auto ok = load_agent_config(sources);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->config.cp_command,
            (std::vector<std::string>{"/usr/bin/ee-cp", "--listen", "127.0.0.1:8080"}));
}

TEST(AgentConfig, VmNameDefaultsToTheHostname) {
  Fixture f;
  auto sources = f.sources();
  sources.flags = {
      {"cp_url", "https://cp.example.com"}, {"owner", "github:org/o"}, {"datacenter", "a:b"}};
  auto loaded = load_agent_config(sources);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->config.vm_name, this_hostname());
  // A name that is set is kept.
  sources.env = env({{"EE_VM_NAME", "named"}});
  EXPECT_EQ(load_agent_config(sources).value().config.vm_name, "named");
}

// --- runtime options ---------------------------------------------------------------------------

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
  c.refused_retry = 17;
  c.workload_port = 18080;
  ASSERT_TRUE(ee::agent::validate_agent_config(c));
  auto o = ee::agent::make_agent_options(c);
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->quotes->name(), "simulator");
  EXPECT_EQ(o->workload->name(), "process");
  ASSERT_TRUE(o->ita);
  EXPECT_EQ(o->ita->api_key, "k");
  EXPECT_FALSE(o->send_quote);
  EXPECT_EQ(o->server.port, 0);
  EXPECT_EQ(o->timings.refused_retry, std::chrono::seconds(17));
  EXPECT_EQ(o->workload_url, "http://127.0.0.1:18080");
  EXPECT_TRUE(o->logs);
}

TEST(AgentConfig, TheCpAttestationSettingsAreCheckedWithCpMrtd) {
  struct Case {
    ee::settings::FlagValues flags;
    std::string mentions;
  };
  Fixture f;
  f.write_file(kFile);
  std::string const mrtd(96, 'a');
  for (auto const& c : std::vector<Case>{
           {{{"cp_mrtd", mrtd}, {"cp_rtmr1", "00"}}, "cp_rtmr1: must be 96 hex characters"},
           {{{"cp_mrtd", mrtd}, {"cp_allowed_tcb_statuses", "UpToDate Fine"}},
            "cp_allowed_tcb_statuses: unknown TCB status 'Fine'"},
           {{{"cp_mrtd", mrtd}, {"cp_allowed_tcb_statuses", "[]"}}, "cp_allowed_tcb_statuses"},
           {{{"cp_mrtd", mrtd}, {"cp_appraisal", "ita"}}, "ita_api_key (ITA_API_KEY): required"},
           {{{"cp_mrtd", mrtd}, {"cp_appraisal", "ita"}, {"ita_api_key", "k"},
             {"ita_jwks_url", "portal"}},
            "ita_jwks_url: must be an absolute http(s) URL"},
           {{{"cp_mrtd", mrtd}, {"cp_pccs_url", "pccs"}}, "cp_pccs_url"},
       }) {
    auto sources = f.sources();
    sources.flags = c.flags;
    EXPECT_TRUE(refused(load_agent_config(sources), c.mentions)) << c.mentions;
  }
  auto sources = f.sources();
  sources.flags = {{"cp_mrtd", mrtd},
                   {"cp_rtmr3", std::string(96, 'B')},
                   {"cp_allowed_tcb_statuses", "UpToDate SWHardeningNeeded"}};
  auto ok = load_agent_config(sources);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->config.cp_allowed_tcb_statuses.size(), 2u);
}

TEST(AgentConfig, CpMrtdMakesTheCpAttestationPolicy) {
  Fixture f;
  auto const sim = (f.dir.path() / "sim").string();
  auto simulator = ee::tdx::Simulator::load_or_create(sim).value();
  AgentConfig c;
  c.cp_url = "https://cp.example.com";
  c.owner = "github:org/o";
  c.datacenter = "a:b";
  c.vm_name = "v";
  c.workload_runtime = "process";
  c.process_command = {"/bin/true"};
  c.listen = "127.0.0.1:0";
  c.cp_mrtd = std::string(96, 'a');
  c.cp_rtmr1 = std::string(96, 'b');
  c.cp_allowed_tcb_statuses = {"UpToDate", "OutOfDate"};
  c.cp_quote_root_file = sim + "/root_ca.pem";
  c.cp_collateral_file = sim + "/collateral.json";
  c.quote_provider = "simulator";
  c.simulator_dir = sim;
  ASSERT_TRUE(ee::agent::validate_agent_config(c));
  auto o = ee::agent::make_agent_options(c);
  ASSERT_TRUE(o) << o.error().message();
  ASSERT_TRUE(o->cp_attestation);
  auto const& p = *o->cp_attestation;
  EXPECT_EQ(p.appraiser, ee::agent::CpAttestationPolicy::Appraiser::dcap);
  ASSERT_EQ(p.policy.allowed_mrtds.size(), 1u);
  ee::tdx::Measurement all_aa{};
  all_aa.fill(0xaa);
  EXPECT_EQ(p.policy.allowed_mrtds[0], all_aa);
  EXPECT_FALSE(p.policy.expected_rtmrs[0]);
  ASSERT_TRUE(p.policy.expected_rtmrs[1]);
  EXPECT_EQ((*p.policy.expected_rtmrs[1])[47], 0xbb);
  EXPECT_EQ(p.policy.allowed_tcb_statuses.size(), 2u);
  EXPECT_EQ(p.root.fingerprint(), simulator->root().fingerprint());
  EXPECT_TRUE(p.collateral);

  // The simulator's test root only for an agent that is a simulation itself.
  c.quote_provider = "tsm";
  auto refused_root = ee::agent::make_agent_options(c);
  ASSERT_FALSE(refused_root);
  EXPECT_NE(refused_root.error().message().find("cp_quote_root_file: the simulator's test root"),
            std::string::npos)
      << refused_root.error().message();

  // Without cp_mrtd: trust on first use, no policy.
  c.quote_provider = "simulator";
  c.cp_mrtd.clear();
  c.cp_rtmr1.clear();
  ASSERT_TRUE(ee::agent::validate_agent_config(c));
  o = ee::agent::make_agent_options(c);
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_FALSE(o->cp_attestation);
  EXPECT_EQ(o->key_file, "/run/easyenclave/agent-key.pem");
  EXPECT_FALSE(o->key_file_allow_disk);
}

TEST(AgentConfig, BooleansAreTrueOrFalseInEverySource) {
  std::vector<std::string> unknown;
  auto c = parse_agent_config(R"({"key_file_allow_disk":true})", unknown);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE(c->key_file_allow_disk);
  auto wrong = parse_agent_config(R"({"key_file_allow_disk":"true"})", unknown);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message().find("key_file_allow_disk: expected true or false"),
            std::string::npos);
  AgentConfig from_flag;
  ASSERT_TRUE(ee::agent::apply_agent_config_value("key_file_allow_disk", "true", from_flag));
  EXPECT_TRUE(from_flag.key_file_allow_disk);
  ASSERT_TRUE(ee::agent::apply_agent_config_value("key_file_allow_disk", "false", from_flag));
  EXPECT_FALSE(from_flag.key_file_allow_disk);
  // The registry's spellings: 1|0, yes|no, on|off too; anything else is refused.
  ASSERT_TRUE(ee::agent::apply_agent_config_value("key_file_allow_disk", "1", from_flag));
  EXPECT_TRUE(from_flag.key_file_allow_disk);
  ASSERT_TRUE(ee::agent::apply_agent_config_value("key_file_allow_disk", "off", from_flag));
  EXPECT_FALSE(from_flag.key_file_allow_disk);
  EXPECT_FALSE(ee::agent::apply_agent_config_value("key_file_allow_disk", "maybe", from_flag));
  // An empty key_file from a flag or file keeps the key in memory only.
  ASSERT_TRUE(ee::agent::apply_agent_config_value("key_file", "", from_flag));
  EXPECT_TRUE(from_flag.key_file.empty());
  // And the launcher's JSON carries both.
  from_flag.key_file_allow_disk = true;
  auto back = parse_agent_config(ee::agent::agent_config_json(from_flag), unknown);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, from_flag);
}

TEST(AgentConfig, EveryKeyHasAnEnvironmentVariableAndHelp) {
  auto const keys = ee::agent::agent_setting_registry().specs();
  EXPECT_EQ(keys.size(), 44u);
  for (auto const& k : keys) {
    EXPECT_FALSE(k.help.empty()) << k.name;
    if (k.name == "ita_api_key") {
      EXPECT_EQ(k.env, "ITA_API_KEY");  // the deployment's existing secret name
    } else {
      std::string expected = "EE_";
      for (char ch : k.name) expected += static_cast<char>(std::toupper(ch));
      EXPECT_EQ(k.env, expected) << k.name;
    }
  }
}

TEST(AgentConfig, CpEnvIsAnObjectOfVariables) {
  std::vector<std::string> unknown;
  auto c = parse_agent_config(R"({"cp_env":{"CLOUDFLARE_API_TOKEN":"t","EE_DOMAIN":"x.example"}})",
                              unknown);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->cp_env.at("CLOUDFLARE_API_TOKEN"), "t");
  EXPECT_EQ(c->cp_env.size(), 2u);
  for (auto const* bad :
       {R"({"cp_env":["A=b"]})", R"({"cp_env":{"A":1}})", R"({"cp_env":{"1A":"x"}})",
        R"({"cp_env":{"A-B":"x"}})", R"({"cp_env":{"":"x"}})"}) {
    auto r = parse_agent_config(bad, unknown);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("cp_env"), std::string::npos) << bad;
  }
  AgentConfig from_flag;
  ASSERT_TRUE(ee::agent::apply_agent_config_value("cp_env", R"({"ITA_API_KEY":"k"})", from_flag));
  EXPECT_EQ(from_flag.cp_env.at("ITA_API_KEY"), "k");
  EXPECT_FALSE(ee::agent::apply_agent_config_value("cp_env", "ITA_API_KEY=k", from_flag));
}

TEST(AgentConfig, JsonOfAConfigHoldsWhatDiffersAndReadsBackTheSame) {
  AgentConfig defaults;
  EXPECT_EQ(ee::agent::agent_config_json(defaults), "{}");
  AgentConfig c;
  c.mode = "cp-bootstrap";
  c.vm_name = "cp-1";
  c.cp_command = {"/usr/bin/ee-cp", "--listen", "0.0.0.0:8080"};
  c.cp_env = {{"CLOUDFLARE_API_TOKEN", "t"}};
  c.refused_retry = 60;
  auto const text = ee::agent::agent_config_json(c);
  EXPECT_EQ(text.find("listen\":"), std::string::npos);  // defaults are left out
  std::vector<std::string> unknown;
  auto back = parse_agent_config(text, unknown);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_TRUE(unknown.empty());
  EXPECT_EQ(*back, c);
}

}  // namespace
