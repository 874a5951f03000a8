// The real ee-agent program's flags: generated from the agent's settings registry, with defaults
// and environment variables in --help, and refusals naming the flag or variable.
#include <easyenclave/api/agent_config.hpp>

#include "support/process.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

std::string agent_bin() { return ee::test::program("ee-agent").string(); }

TEST(EeAgentCli, HelpShowsEveryKeysFlagDefaultAndVariable) {
  auto r = ee::test::run({agent_bin(), "--help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (auto const& spec : ee::api::agent_setting_registry().specs()) {
    EXPECT_NE(r.out.find("--" + std::string(spec.flag)), std::string::npos) << spec.name;
    EXPECT_NE(r.out.find("(Env:" + std::string(spec.env) + ")"), std::string::npos) << spec.name;
    EXPECT_NE(r.out.find(std::string(ee::api::agent_setting_group_title(spec.group)) + ":"), std::string::npos)
        << spec.group;
  }
  for (auto const* shown : {"--listen TEXT=127.0.0.1:8081", "--log-level TEXT=info", "--reattestation-interval DURATION=3600",
                            "--quote-provider,--provider TEXT=tsm", "--workload-runtime,--workload TEXT=podman",
                            "--config TEXT=/etc/easyenclave/agent.json"}) {
    EXPECT_NE(r.out.find(shown), std::string::npos) << shown << "\n" << r.out;
  }
}

TEST(EeAgentCli, ABadValueIsAUsageErrorNamingTheFlagOrVariable) {
  auto const base = std::vector<std::string>{agent_bin(), "--config", "/nonexistent/agent.json", "--cmdline", ""};
  auto flag = base;
  flag.insert(flag.end(), {"--provider", "sgx"});
  auto r = ee::test::run(flag);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--quote-provider: quote_provider 'sgx': must be one of tsm|simulator"), std::string::npos)
      << r.err;
  auto v = ee::test::run(base, {{"EE_LOG_FORMAT", "xml"}});
  EXPECT_EQ(v.exit_code, 2) << v.err;
  EXPECT_NE(v.err.find("EE_LOG_FORMAT: log_format 'xml'"), std::string::npos) << v.err;
  auto secret = ee::test::run(base, {{"ITA_API_KEY", "sekrit\x01"}});
  EXPECT_EQ(secret.exit_code, 2) << secret.err;
  EXPECT_EQ(secret.err.find("sekrit"), std::string::npos) << secret.err;
  auto unknown = ee::test::run({agent_bin(), "--no-such-flag", "1"});
  EXPECT_EQ(unknown.exit_code, 2);
}

}  // namespace
