// What `ee launch --dry-run`, `ee list` and `ee preflight` print.
#include <easyenclave/launcher/describe.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
namespace bj = boost::json;
using namespace ee::launcher;

LaunchPlan plan(bool on_drive) {
  LaunchPlan p;
  p.name = "ee-tiny-1";
  p.size = {.name = "tiny", .memory_gib = 4, .vcpus = 4};
  p.vm_dir = "/var/lib/easyenclave/vms/ee-tiny-1";
  p.agent_config = R"({"mode":"cp-bootstrap","tunnel_token":"t0k3n","ita_api_key":"k3y",)"
                   R"("cp_env":{"CLOUDFLARE_API_TOKEN":"cf-s3cret"},"owner":"github:org/o"})";
  if (on_drive) {
    p.config_drive = p.vm_dir / "config.iso";
    p.config_drive_reason = "it carries secrets, which must not show on the host's process list";
  } else {
    p.config_param = "easyenclave.config=e30=";
  }
  p.qemu_argv = {"qemu-system-x86_64", "-name", "ee-tiny-1", "-append",
                 "console=ttyS0 easyenclave.config=e30="};
  return p;
}

TEST(DescribePlan, ShowsTheCommandQuotedAndNoSecret) {
  auto const text = describe_plan_text(plan(true));
  EXPECT_NE(text.find("4 GiB, 4 vCPUs (tiny)"), std::string::npos) << text;
  EXPECT_NE(text.find("config drive"), std::string::npos);
  EXPECT_NE(text.find("carries secrets"), std::string::npos);
  EXPECT_NE(
      text.find(
          "qemu-system-x86_64 -name ee-tiny-1 -append 'console=ttyS0 easyenclave.config=e30='"),
      std::string::npos)
      << text;
  for (auto const* secret : {"t0k3n", "k3y", "cf-s3cret"})
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
  EXPECT_NE(text.find("\"owner\":\"github:org/o\""), std::string::npos);
}

TEST(DescribePlan, JsonCarriesTheArgvAsAList) {
  auto const doc = bj::parse(describe_plan_json(plan(false)));
  EXPECT_EQ(doc.at("config_via").as_string(), "kernel_command_line");
  EXPECT_EQ(doc.at("qemu_argv").as_array().size(), 5u);
  EXPECT_EQ(doc.at("config").at("tunnel_token").as_string(), "***");
  EXPECT_EQ(doc.at("config").at("cp_env").at("CLOUDFLARE_API_TOKEN").as_string(), "***");
  EXPECT_EQ(doc.at("memory_gib").as_int64(), 4);
}

TEST(DescribeVms, ListsStateOwnerSizeAndUptime) {
  auto const start = std::chrono::system_clock::time_point{} + 1000h;
  std::vector<VmInfo> vms{
      {.name = "ee-a",
       .state = VmState::running,
       .owner = "github:org/a",
       .node_size = "tiny",
       .started_at = start},
      {.name = "ee-cp", .state = VmState::stopped, .node_size = "standard", .cp = true}};
  auto const text = describe_vms_text(vms, start + 3725s);
  EXPECT_NE(text.find("ee-a"), std::string::npos);
  EXPECT_NE(text.find("running"), std::string::npos);
  EXPECT_NE(text.find("1h2m5s"), std::string::npos) << text;
  EXPECT_NE(text.find("(control plane)"), std::string::npos);
  EXPECT_EQ(describe_vms_text({}, start), "no VMs\n");
  auto const doc = bj::parse(describe_vms_json(vms, start + 10s));
  EXPECT_EQ(doc.as_array()[0].at("uptime_seconds").as_int64(), 10);
  EXPECT_TRUE(doc.as_array()[1].at("uptime_seconds").is_null());
  EXPECT_EQ(doc.as_array()[1].at("state").as_string(), "stopped");
}

TEST(DescribeChecks, SaysWhatFailedAndWhatToDo) {
  std::vector<Check> checks{
      {.name = "qemu", .ok = true, .hard = true, .detail = "QEMU 7.2.0"},
      {.name = "tdx", .ok = false, .hard = true, .detail = "KVM has TDX off", .fix = "enable TDX"},
      {.name = "qgs", .ok = false, .hard = false, .detail = "no vsock", .fix = "run QGS"}};
  auto const text = describe_checks_text(checks);
  EXPECT_NE(text.find("PASS qemu: QEMU 7.2.0"), std::string::npos) << text;
  EXPECT_NE(text.find("FAIL tdx: KVM has TDX off"), std::string::npos);
  EXPECT_NE(text.find("fix: enable TDX"), std::string::npos);
  EXPECT_NE(text.find("WARN qgs"), std::string::npos);
  EXPECT_NE(text.find("preflight failed"), std::string::npos);
  auto const doc = bj::parse(describe_checks_json(checks));
  EXPECT_FALSE(doc.at("passed").as_bool());
  EXPECT_EQ(doc.at("checks").as_array().size(), 3u);
  EXPECT_FALSE(doc.at("checks").as_array()[0].as_object().contains("fix"));
}

}  // namespace
