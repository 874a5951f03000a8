// The agent's settings registry (api/agent_config.hpp): the table itself, its defaults against
// AgentConfig's, precedence and aliases through load_agent_config, messages, and docs/
// operations.md's ee-agent tables, which must list exactly its keys.
#include <easyenclave/agent/config.hpp>
#include <easyenclave/api/agent_config.hpp>
#include <easyenclave/api/error.hpp>

#include "support/settings_docs.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace {

using ee::api::AgentConfig;
using ee::settings::Source;

ee::settings::Environment env(std::map<std::string, std::string, std::less<>> variables) {
  return ee::settings::fixed_environment(std::move(variables));
}

// Sources with no file and no command line, and enough flags for agent mode to validate.
ee::agent::ConfigSources no_base(ee::test::TempDir const& dir) {
  ee::agent::ConfigSources s;
  s.file_path = (dir.path() / "missing.json").string();
  s.cmdline_path = "";
  s.flags = {{"cp_url", "https://cp.example.com"}, {"owner", "github:org/o"}, {"datacenter", "a:b"},
             {"vm_name", "v"}};
  return s;
}

TEST(AgentSettings, TheRegistryHoldsEveryKeyWithATitledGroup) {
  auto const& registry = ee::api::agent_setting_registry();
  for (auto name : {"mode", "cp_url", "owner", "ita_api_key", "listen", "log_level", "log_format",
                    "reattestation_interval", "cp_env", "process_command"}) {
    EXPECT_NE(registry.find(name), nullptr) << name;
  }
  for (auto const& spec : registry.specs()) {
    EXPECT_NE(ee::api::agent_setting_group_title(spec.group), spec.group) << spec.name;
    EXPECT_FALSE(spec.help.empty()) << spec.name;
    EXPECT_FALSE(spec.flag.empty()) << spec.name;
  }
  for (auto name : {"ita_api_key", "tunnel_token", "bootstrap_token", "cp_env"}) {
    EXPECT_TRUE(registry.find(name)->secret) << name;
  }
  std::size_t secrets = 0;
  for (auto const& spec : registry.specs()) secrets += spec.secret ? 1 : 0;
  EXPECT_EQ(secrets, 4u);
}

// One definition: applying each registry default to AgentConfig{} changes nothing, so the
// member initialisers and the registry agree (agent_config_json lists what differs).
TEST(AgentSettings, RegistryDefaultsAreAgentConfigsDefaults) {
  AgentConfig c;
  for (auto const& spec : ee::api::agent_setting_registry().specs()) {
    ASSERT_TRUE(ee::api::apply_agent_config_value(spec.name, spec.default_value, c)) << spec.name;
  }
  EXPECT_EQ(ee::api::agent_config_json(c), "{}");
  EXPECT_EQ(c, AgentConfig{});
}

// Names ee-cp has for the same thing are the agent's too.
TEST(AgentSettings, VariablesSharedWithEeCpHaveEeCpsNames) {
  auto const& registry = ee::api::agent_setting_registry();
  auto const vars = [&](std::string_view name) { return ee::settings::variables(*registry.find(name)); };
  EXPECT_EQ(vars("reattestation_interval"),
            (std::vector<std::string_view>{"EE_REATTESTATION_INTERVAL", "EE_REATTESTATION_INTERVAL_SECONDS"}));
  EXPECT_EQ(vars("log_level"), std::vector<std::string_view>{"EE_LOG_LEVEL"});
  EXPECT_EQ(vars("log_format"), std::vector<std::string_view>{"EE_LOG_FORMAT"});
  EXPECT_EQ(registry.find("log_level")->choices, "trace|debug|info|warn|error");
}

TEST(AgentSettings, FlagWinsOverEnvironmentOverBaseOverDefault) {
  ee::test::TempDir dir;
  auto sources = no_base(dir);
  sources.file_path = dir.write("agent.json", R"({"refused_retry":10,"log_level":"warn","node_size":"file"})").string();
  // Base over default.
  auto base = ee::agent::load_agent_config(sources);
  ASSERT_TRUE(base) << base.error().message();
  EXPECT_EQ(base->config.refused_retry, 10);
  EXPECT_EQ(base->config.log_level, "warn");
  EXPECT_EQ(base->config.register_retry_max, 60);  // the default
  // Environment over base; flag over environment.
  sources.env = env({{"EE_REFUSED_RETRY", "2m"}, {"EE_LOG_LEVEL", "debug"}, {"EE_NODE_SIZE", "env"}});
  sources.flags["log_level"] = "error";
  auto both = ee::agent::load_agent_config(sources);
  ASSERT_TRUE(both) << both.error().message();
  EXPECT_EQ(both->config.refused_retry, 120);  // durations take a unit from a variable
  EXPECT_EQ(both->config.log_level, "error");
  EXPECT_EQ(both->config.node_size, "env");
}

TEST(AgentSettings, EarlierVariableNamesAreReadAfterTheCurrentOne) {
  ee::test::TempDir dir;
  auto sources = no_base(dir);
  sources.env = env({{"EE_REATTESTATION_INTERVAL_SECONDS", "600"}});
  EXPECT_EQ(ee::agent::load_agent_config(sources).value().config.reattestation_interval, 600);
  sources.env = env({{"EE_REATTESTATION_INTERVAL_SECONDS", "600"}, {"EE_REATTESTATION_INTERVAL", "2h"}});
  EXPECT_EQ(ee::agent::load_agent_config(sources).value().config.reattestation_interval, 7200);
  // Resolved directly, the value says where it came from.
  auto resolved = ee::settings::Settings::resolve(ee::api::agent_setting_registry(), {},
                                                  env({{"EE_REATTESTATION_INTERVAL_SECONDS", "600"}}));
  ASSERT_TRUE(resolved);
  EXPECT_EQ(resolved->value("reattestation_interval").source, Source::environment);
  EXPECT_EQ(resolved->value("reattestation_interval").origin, "EE_REATTESTATION_INTERVAL_SECONDS");
  EXPECT_EQ(resolved->value("listen").source, Source::default_value);
}

TEST(AgentSettings, BadValuesNameTheFlagOrVariableAndTheKey) {
  ee::test::TempDir dir;
  auto sources = no_base(dir);
  sources.flags["log_format"] = "xml";
  auto flag = ee::agent::load_agent_config(sources);
  ASSERT_FALSE(flag);
  EXPECT_EQ(flag.error(), ee::api::errc::invalid_agent_config);
  EXPECT_NE(flag.error().message().find("--log-format: log_format 'xml': must be one of text|json"),
            std::string::npos)
      << flag.error().message();
  sources = no_base(dir);
  sources.env = env({{"EE_WORKLOAD_PORT", "70000"}});
  auto variable = ee::agent::load_agent_config(sources);
  ASSERT_FALSE(variable);
  EXPECT_NE(variable.error().message().find("EE_WORKLOAD_PORT: workload_port '70000'"), std::string::npos)
      << variable.error().message();
  // The same rule from the boot configuration, where validation applies the registry.
  sources = no_base(dir);
  sources.file_path = dir.write("agent.json", R"({"log_format":"xml"})").string();
  auto file = ee::agent::load_agent_config(sources);
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message().find("log_format 'xml': must be one of text|json"), std::string::npos)
      << file.error().message();
}

TEST(AgentSettings, SecretsAreNeverRepeated) {
  ee::test::TempDir dir;
  for (auto const* name : {"ita_api_key", "tunnel_token", "bootstrap_token"}) {
    auto sources = no_base(dir);
    sources.env = env({{std::string(ee::api::agent_setting_registry().find(name)->env), "sekrit\x7f"}});
    auto r = ee::agent::load_agent_config(sources);
    ASSERT_FALSE(r) << name;
    EXPECT_NE(r.error().message().find(name), std::string::npos) << r.error().message();
    EXPECT_EQ(r.error().message().find("sekrit"), std::string::npos) << r.error().message();
  }
  AgentConfig c;
  auto json = ee::api::apply_agent_config_value("cp_env", R"({"TOKEN":"sekrit"} trailing)", c);
  ASSERT_FALSE(json);
  EXPECT_EQ(json.error().message().find("sekrit"), std::string::npos) << json.error().message();
}

TEST(AgentSettings, UnknownBootConfigKeysAreReportedAndUnknownFlagsRefused) {
  ee::test::TempDir dir;
  auto sources = no_base(dir);
  sources.file_path = dir.write("agent.json", R"({"log_levle":"debug","future":1})").string();
  auto loaded = ee::agent::load_agent_config(sources);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->unknown_keys, (std::vector<std::string>{"log_levle", "future"}));
  sources.flags["log_levle"] = "debug";
  auto flag = ee::agent::load_agent_config(sources);
  ASSERT_FALSE(flag);
  EXPECT_NE(flag.error().message().find("unknown setting 'log_levle'"), std::string::npos);
}

TEST(AgentSettings, ListsAndArgvKeepTheirEarlierForms) {
  AgentConfig c;
  ASSERT_TRUE(ee::api::apply_agent_config_value("cp_allowed_tcb_statuses", "UpToDate, OutOfDate", c));
  EXPECT_EQ(c.cp_allowed_tcb_statuses, (std::vector<std::string>{"UpToDate", "OutOfDate"}));
  ASSERT_TRUE(ee::api::apply_agent_config_value("cp_allowed_tcb_statuses", "UpToDate SWHardeningNeeded", c));
  EXPECT_EQ(c.cp_allowed_tcb_statuses, (std::vector<std::string>{"UpToDate", "SWHardeningNeeded"}));
  ASSERT_TRUE(ee::api::apply_agent_config_value("cp_allowed_tcb_statuses", R"(["OutOfDate"])", c));
  EXPECT_EQ(c.cp_allowed_tcb_statuses, std::vector<std::string>{"OutOfDate"});
  // argv: words, or a JSON array for words with spaces or commas.
  ASSERT_TRUE(ee::api::apply_agent_config_value("process_command", "/bin/sh -c serve,now", c));
  EXPECT_EQ(c.process_command, (std::vector<std::string>{"/bin/sh", "-c", "serve,now"}));
  ASSERT_TRUE(ee::api::apply_agent_config_value("process_command", R"(["/bin/sh","-c","a b"])", c));
  EXPECT_EQ(c.process_command, (std::vector<std::string>{"/bin/sh", "-c", "a b"}));
}

TEST(AgentSettings, OperationsGuideListsExactlyTheRegistrysKeys) {
  auto const doc = ee::test::read_source_file("docs/operations.md");
  auto const section = ee::test::markdown_section(doc, "## ee-agent");
  ASSERT_FALSE(section.empty());
  EXPECT_EQ(ee::test::settings_table_problems(section, ee::api::agent_setting_registry(),
                                              [](ee::settings::Spec const&) { return true; }),
            "");
}

}  // namespace
