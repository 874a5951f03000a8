// ee's settings registry (launcher/settings.hpp): the table, the defaults that depend on the
// environment, the names shared with the agent, and docs/operations.md's ee tables.
#include <easyenclave/api/agent_config.hpp>
#include <easyenclave/launcher/settings.hpp>

#include "support/settings_docs.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <map>
#include <string>

namespace {

ee::settings::Environment env(std::map<std::string, std::string, std::less<>> variables) {
  return ee::settings::fixed_environment(std::move(variables));
}

ee::launcher::HostSettings host(ee::settings::FlagValues flags, std::map<std::string, std::string, std::less<>> vars) {
  auto resolved = ee::launcher::resolve_host_settings(flags, env(std::move(vars)));
  EXPECT_TRUE(resolved) << resolved.error().message();
  return resolved.value();
}

TEST(LauncherSettings, EveryKeyHasAFlagAVariableAndATitledGroup) {
  for (auto const& spec : ee::launcher::setting_registry().specs()) {
    EXPECT_FALSE(spec.flag.empty()) << spec.name;
    EXPECT_FALSE(spec.env.empty()) << spec.name;
    EXPECT_NE(ee::launcher::setting_group_title(spec.group), spec.group) << spec.name;
  }
  for (auto name : {"tunnel_token", "bootstrap_token"}) {
    EXPECT_TRUE(ee::launcher::setting_registry().find(name)->secret) << name;
  }
}

// The same thing has the same name and variable in ee as in the agent.
TEST(LauncherSettings, SharedKeysReadTheAgentsVariables) {
  auto const& agent = ee::api::agent_setting_registry();
  auto const& ee_keys = ee::launcher::setting_registry();
  for (auto name : {"cp_url", "tunnel_token", "bootstrap_token", "simulator_dir", "log_level"}) {
    ASSERT_NE(ee_keys.find(name), nullptr) << name;
    EXPECT_EQ(ee_keys.find(name)->env, agent.find(name)->env) << name;
    EXPECT_EQ(ee_keys.find(name)->choices, agent.find(name)->choices) << name;
  }
  EXPECT_EQ(ee_keys.find("cp_url")->flag, agent.find("cp_url")->flag);
}

TEST(LauncherSettings, DefaultsFollowTheHostsEnvironment) {
  auto const h = host({}, {{"HOME", "/home/u"}});
  EXPECT_EQ(h.log_level, "warn");
  EXPECT_EQ(h.paths.qemu, "qemu-system-x86_64");
  EXPECT_EQ(h.paths.tdx_firmware, "/usr/share/ovmf/OVMF.inteltdx.fd");
  EXPECT_EQ(h.simulator_dir, "/home/u/.local/share/easyenclave/simulator");
  if (::geteuid() != 0) {
    EXPECT_EQ(h.paths.state_root, "/home/u/.local/share/easyenclave/vms");
    EXPECT_EQ(host({}, {{"HOME", "/home/u"}, {"XDG_DATA_HOME", "/data"}}).paths.state_root, "/data/easyenclave/vms");
    // A relative XDG_DATA_HOME is ignored, as the XDG specification says.
    EXPECT_EQ(host({}, {{"HOME", "/home/u"}, {"XDG_DATA_HOME", "rel"}}).paths.state_root,
              "/home/u/.local/share/easyenclave/vms");
  }
}

TEST(LauncherSettings, FlagsWinOverVariablesAndEarlierNamesAreRead) {
  auto const h = host({{"vm_state_dir", "/flag"}, {"qemu", "/opt/qemu"}},
                      {{"EE_VM_STATE_DIR", "/env"}, {"EE_SIM_DIR", "/sim"}, {"EE_CF_TUNNEL_TOKEN", "t0k"},
                       {"EE_CP_URL", "https://cp.example.com"}, {"EE_QEMU", "/usr/bin/qemu"}});
  EXPECT_EQ(h.paths.state_root, "/flag");
  EXPECT_EQ(h.paths.qemu, "/opt/qemu");
  EXPECT_EQ(h.simulator_dir, "/sim");
  EXPECT_EQ(h.tunnel_token, "t0k");
  EXPECT_EQ(h.cp_url, "https://cp.example.com");
  EXPECT_EQ(host({}, {{"EE_SIM_DIR", "/old"}, {"EE_SIMULATOR_DIR", "/new"}}).simulator_dir, "/new");
}

TEST(LauncherSettings, AnEmptyVariableIsUnsetAndABadOneIsNamed) {
  auto const h = host({}, {{"EE_QEMU", ""}, {"EE_VM_STATE_DIR", ""}, {"HOME", "/home/u"}});
  EXPECT_EQ(h.paths.qemu, "qemu-system-x86_64");
  auto bad = ee::launcher::resolve_host_settings({}, env({{"EE_TUNNEL_TOKEN", "sekrit\x01"}}));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("EE_TUNNEL_TOKEN: tunnel_token"), std::string::npos) << bad.error().message();
  EXPECT_EQ(bad.error().message().find("sekrit"), std::string::npos) << bad.error().message();
}

TEST(LauncherSettings, OperationsGuideListsExactlyTheRegistrysKeys) {
  auto const doc = ee::test::read_source_file("docs/operations.md");
  auto const section = ee::test::markdown_section(doc, "### ee settings");
  ASSERT_FALSE(section.empty());
  EXPECT_EQ(ee::test::settings_table_problems(section, ee::launcher::setting_registry(),
                                              [](ee::settings::Spec const&) { return true; }),
            "");
}

}  // namespace
