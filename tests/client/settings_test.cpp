// The client's settings (client/settings.hpp): the control plane's URL, the agent's key.
#include <easyenclave/api/agent_config.hpp>
#include <easyenclave/client/settings.hpp>

#include <gtest/gtest.h>

namespace {

TEST(ClientSettings, CpUrlIsTheArgumentElseTheAgentsVariable) {
  auto const env = ee::settings::fixed_environment({{"EE_CP_URL", "https://env.example.com"}});
  EXPECT_EQ(ee::client::resolve_cp_url("https://given.example.com", env).value(), "https://given.example.com");
  EXPECT_EQ(ee::client::resolve_cp_url("", env).value(), "https://env.example.com");
  EXPECT_EQ(ee::client::resolve_cp_url("", ee::settings::fixed_environment({})).value(), "");
  auto bad = ee::client::resolve_cp_url("", ee::settings::fixed_environment({{"EE_CP_URL", "https://x\n"}}));
  EXPECT_TRUE(bad);  // trailing whitespace is trimmed
  auto control = ee::client::resolve_cp_url("", ee::settings::fixed_environment({{"EE_CP_URL", "https://x\x01y"}}));
  ASSERT_FALSE(control);
  EXPECT_NE(control.error().message().find("EE_CP_URL: cp_url"), std::string::npos) << control.error().message();
  // One definition: the agent's key.
  auto const* mine = ee::client::setting_registry().find("cp_url");
  auto const* agents = ee::api::agent_setting_registry().find("cp_url");
  ASSERT_NE(mine, nullptr);
  EXPECT_EQ(mine->env, agents->env);
  EXPECT_EQ(mine->name, agents->name);
}

}  // namespace
