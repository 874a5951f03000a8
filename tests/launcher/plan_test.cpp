// Planning a launch: sizes, validation, how the configuration travels, and the exact QEMU
// command (snapshots) for a TDX guest and the same VM without TDX.
#include "support/process.hpp"

#include <easyenclave/api/agent_config.hpp>
#include <easyenclave/api/boot_config.hpp>
#include <easyenclave/launcher/describe.hpp>
#include <easyenclave/launcher/launcher.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

namespace {

namespace bj = boost::json;
using namespace ee::launcher;
using Argv = std::vector<std::string>;

LaunchRequest agent_request() {
  LaunchRequest r;
  r.image = "/images/ee.qcow2";
  r.kernel = "/images/vmlinuz";
  r.initrd = "/images/initrd.img";
  r.name = "web-1";
  r.owner = "github:org/octo-org";
  r.cp_url = "https://cp.example.com";
  r.datacenter = "gcp:us-central1-a";
  return r;
}

HostPaths host(bool vsock = true) {
  HostPaths p;
  p.state_root = "/var/lib/easyenclave/vms";
  p.vsock = vsock;
  return p;
}

TEST(NodeSize, PresetsAndUnknownNames) {
  EXPECT_EQ(node_size("tiny")->memory_gib, 4u);
  EXPECT_EQ(node_size("tiny")->vcpus, 4u);
  EXPECT_EQ(node_size("standard")->memory_gib, 16u);
  EXPECT_EQ(node_size("standard")->vcpus, 16u);
  EXPECT_EQ(node_size("llm")->memory_gib, 64u);
  auto unknown = node_size("huge");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error(), errc::invalid_request);
  EXPECT_NE(unknown.error().message().find("tiny, standard, llm"), std::string::npos);
}

TEST(PlanLaunch, MemoryAndVcpusOverrideTheSize) {
  auto r = agent_request();
  r.node_size = "llm";
  r.memory_gib = 96;
  auto p = plan_launch(r, host());
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->size.memory_gib, 96u);
  EXPECT_EQ(p->size.vcpus, 32u);  // the preset's
  r.vcpus = 8;
  EXPECT_EQ(plan_launch(r, host())->size.vcpus, 8u);
}

TEST(PlanLaunch, TdxGuestCommandSnapshot) {
  auto p = plan_launch(agent_request(), host());
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_FALSE(p->config_param.empty());
  auto const dir = std::string("/var/lib/easyenclave/vms/web-1");
  Argv const expected{
      "qemu-system-x86_64",
      "-name",
      "web-1",
      "-nodefaults",
      "-nographic",
      "-accel",
      "kvm",
      "-cpu",
      "host",
      "-object",
      R"({"qom-type":"tdx-guest","id":"tdx0","quote-generation-socket":{"type":"vsock","cid":"2","port":"4050"}})",
      "-object",
      "memory-backend-memfd,id=ram0,size=4G",
      "-machine",
      "q35,kernel-irqchip=split,confidential-guest-support=tdx0,memory-backend=ram0,hpet=off",
      "-bios",
      "/usr/share/ovmf/OVMF.inteltdx.fd",
      "-m",
      "4G",
      "-smp",
      "4",
      "-drive",
      "file=/images/ee.qcow2,if=virtio,format=qcow2",
      "-kernel",
      "/images/vmlinuz",
      "-initrd",
      "/images/initrd.img",
      "-append",
      "console=ttyS0 " + p->config_param,
      "-netdev",
      "user,id=net0",
      "-device",
      "virtio-net-pci,netdev=net0",
      "-serial",
      "file:" + dir + "/serial.log",
      "-qmp",
      "unix:" + dir + "/qmp.sock,server=on,wait=off",
      "-daemonize",
      "-pidfile",
      dir + "/qemu.pid"};
  EXPECT_EQ(p->qemu_argv, expected);
  EXPECT_EQ(p->vm_dir, dir);
  EXPECT_TRUE(p->config_drive.empty());
}

TEST(PlanLaunch, WithoutTdxCommandSnapshot) {
  auto r = agent_request();
  r.tdx = false;
  r.image = "/images/disk.raw";
  r.initrd.clear();
  r.forward_agent_port = 18081;
  auto paths = host(false);
  paths.firmware = "/usr/share/ovmf/OVMF.fd";
  auto p = plan_launch(r, paths);
  ASSERT_TRUE(p) << p.error().message();
  auto const dir = std::string("/var/lib/easyenclave/vms/web-1");
  Argv const expected{"qemu-system-x86_64",
                      "-name",
                      "web-1",
                      "-nodefaults",
                      "-nographic",
                      "-accel",
                      "tcg",
                      "-cpu",
                      "max,cx16=off",
                      "-machine",
                      "q35",
                      "-bios",
                      "/usr/share/ovmf/OVMF.fd",
                      "-m",
                      "4G",
                      "-smp",
                      "4",
                      "-drive",
                      "file=/images/disk.raw,if=virtio,format=raw",
                      "-kernel",
                      "/images/vmlinuz",
                      "-append",
                      "console=ttyS0 " + p->config_param,
                      "-netdev",
                      "user,id=net0,hostfwd=tcp:127.0.0.1:18081-:8081",
                      "-device",
                      "virtio-net-pci,netdev=net0",
                      "-serial",
                      "file:" + dir + "/serial.log",
                      "-qmp",
                      "unix:" + dir + "/qmp.sock,server=on,wait=off",
                      "-daemonize",
                      "-pidfile",
                      dir + "/qemu.pid"};
  EXPECT_EQ(p->qemu_argv, expected);
  // The forward reaches the guest's address, so the agent API listens there too.
  auto const config = ee::api::decode_boot_config("console=ttyS0 " + p->config_param);
  ASSERT_TRUE(config && *config);
  EXPECT_NE((*config)->find(R"("listen":"0.0.0.0:8081")"), std::string::npos) << **config;
  paths.kvm = true;
  auto with_kvm = plan_launch(r, paths);
  ASSERT_TRUE(with_kvm);
  EXPECT_EQ(with_kvm->qemu_argv[6], "kvm");
  EXPECT_EQ(with_kvm->qemu_argv[8], "host");
}

TEST(PlanLaunch, TheConfigurationOnTheCommandLineDecodesToWhatTheAgentReads) {
  auto r = agent_request();
  r.agent_settings = {{"workload_runtime", "process"},
                      {"process_command", "/usr/bin/serve --port 8080"}};
  auto p = plan_launch(r, host());
  ASSERT_TRUE(p) << p.error().message();
  auto decoded = ee::api::decode_boot_config("console=ttyS0 " + p->config_param);
  ASSERT_TRUE(decoded && *decoded);
  EXPECT_EQ(**decoded, p->agent_config);
  std::vector<std::string> unknown;
  auto config = ee::api::parse_agent_config(**decoded, unknown);
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_TRUE(unknown.empty());
  EXPECT_EQ(config->mode, "agent");
  EXPECT_EQ(config->vm_name, "web-1");
  EXPECT_EQ(config->owner, "github:org/octo-org");
  EXPECT_EQ(config->cp_url, "https://cp.example.com");
  EXPECT_EQ(config->process_command,
            (std::vector<std::string>{"/usr/bin/serve", "--port", "8080"}));
  ASSERT_TRUE(ee::api::validate_agent_config(*config));
}

TEST(PlanLaunch, OverTheCommandLinesLimitTheConfigGoesOnADrive) {
  auto r = agent_request();
  // Incompressible enough: 600 pseudo-random hex words (zlib halves hex at best).
  std::string words;
  std::uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 600; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    char word[12];
    std::snprintf(word, sizeof word, " %08llx", static_cast<unsigned long long>(x & 0xffffffffULL));
    words += word;
  }
  r.agent_settings = {{"workload_runtime", "process"}, {"process_command", words}};
  auto p = plan_launch(r, host());
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_TRUE(p->config_param.empty());
  EXPECT_EQ(p->config_drive, "/var/lib/easyenclave/vms/web-1/config.iso");
  EXPECT_NE(p->config_drive_reason.find("2047"), std::string::npos) << p->config_drive_reason;
  auto const& argv = p->qemu_argv;
  auto const append = std::find(argv.begin(), argv.end(), "-append");
  ASSERT_NE(append, argv.end());
  EXPECT_EQ(*(append + 1), "console=ttyS0");  // nothing of the configuration on it
  EXPECT_NE(std::find(argv.begin(), argv.end(),
                      "file=/var/lib/easyenclave/vms/web-1/"
                      "config.iso,if=none,id=config,format=raw,readonly=on"),
            argv.end());
}

TEST(PlanLaunch, SecretsNeverGoOnTheCommandLine) {
  LaunchRequest r;
  r.cp = true;
  r.image = "/images/cp.qcow2";
  r.kernel = "/images/vmlinuz";
  r.cf_tunnel_token = "tunnel-s3cret";
  r.cp_env = {{"CLOUDFLARE_API_TOKEN", "cf-s3cret"}, {"ITA_API_KEY", "ita-s3cret"}};
  auto p = plan_launch(r, host());
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_TRUE(p->config_param.empty());
  EXPECT_NE(p->config_drive_reason.find("secrets"), std::string::npos);
  for (auto const& arg : p->qemu_argv) {
    for (auto const* secret : {"tunnel-s3cret", "cf-s3cret", "ita-s3cret"}) {
      EXPECT_EQ(arg.find(secret), std::string::npos) << arg;
    }
  }
  auto const config = bj::parse(p->agent_config);
  EXPECT_EQ(config.at("mode").as_string(), "cp-bootstrap");
  EXPECT_EQ(config.at("tunnel_token").as_string(), "tunnel-s3cret");
  EXPECT_EQ(config.at("cp_env").at("ITA_API_KEY").as_string(), "ita-s3cret");
  EXPECT_EQ(p->name.rfind("ee-cp-", 0), 0u);
}

// A bootstrap token proves the owner to the CP: whoever reads it from a process list could
// register machines as that owner.
TEST(PlanLaunch, TheBootstrapTokenGoesOnlyOnTheConfigDrive) {
  auto r = agent_request();
  r.bootstrap_token = "ee_bt_" + std::string(43, 'Q');
  auto p = plan_launch(r, host());
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_TRUE(p->config_param.empty());
  EXPECT_FALSE(p->config_drive.empty());
  for (auto const& arg : p->qemu_argv) EXPECT_EQ(arg.find(r.bootstrap_token), std::string::npos) << arg;
  EXPECT_EQ(bj::parse(p->agent_config).at("bootstrap_token").as_string(), r.bootstrap_token);
  EXPECT_EQ(describe_plan_text(*p).find(r.bootstrap_token), std::string::npos) << "the shown plan redacts it";
  EXPECT_EQ(describe_plan_json(*p).find(r.bootstrap_token), std::string::npos) << "the shown plan redacts it";
  auto set = agent_request();
  set.agent_settings = {{"bootstrap_token", r.bootstrap_token}};
  auto refused = plan_launch(set, host());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("--bootstrap-token"), std::string::npos);
}

TEST(PlanLaunch, AnImageThatBootsItselfGetsTheConfigOnADrive) {
  auto r = agent_request();
  r.kernel.clear();
  r.initrd.clear();
  auto p = plan_launch(r, host());
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_TRUE(p->config_param.empty());
  EXPECT_NE(p->config_drive_reason.find("no --kernel"), std::string::npos);
  EXPECT_EQ(std::find(p->qemu_argv.begin(), p->qemu_argv.end(), "-append"), p->qemu_argv.end());
}

TEST(PlanLaunch, ADataDiskIsAttachedReadWriteInItsFormat) {
  auto r = agent_request();
  r.read_only_image = true;
  r.data_disk = "/vms/data,1.qcow2";
  auto p = plan_launch(r, host());
  ASSERT_TRUE(p) << p.error().message();
  auto const drive = std::find(p->qemu_argv.begin(), p->qemu_argv.end(),
                               "file=/vms/data,,1.qcow2,if=none,id=data,format=qcow2");
  ASSERT_NE(drive, p->qemu_argv.end());
  ASSERT_LT(drive + 2, p->qemu_argv.end());
  EXPECT_EQ(*(drive + 1), "-device");
  EXPECT_EQ(*(drive + 2), "virtio-blk-pci,drive=data");
  // The image stays read-only; the data disk is not.
  EXPECT_NE(std::find(p->qemu_argv.begin(), p->qemu_argv.end(),
                      "file=/images/ee.qcow2,if=virtio,format=qcow2,readonly=on"),
            p->qemu_argv.end());
  r.data_disk = "/vms/data.img";
  p = plan_launch(r, host());
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_NE(std::find(p->qemu_argv.begin(), p->qemu_argv.end(),
                      "file=/vms/data.img,if=none,id=data,format=raw"),
            p->qemu_argv.end());
  // Without one, no second read-write disk.
  r.data_disk.clear();
  p = plan_launch(r, host());
  ASSERT_TRUE(p);
  for (auto const& arg : p->qemu_argv) EXPECT_EQ(arg.find("id=data"), std::string::npos) << arg;
}

TEST(PlanLaunch, TheDefaultNameIsStableForTheSameOwnerAndSize) {
  auto r = agent_request();
  r.name.clear();
  auto a = plan_launch(r, host());
  auto b = plan_launch(r, host());
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->name, b->name);
  EXPECT_EQ(a->name.rfind("ee-tiny-", 0), 0u);
  r.owner = "github:org/another";
  EXPECT_NE(plan_launch(r, host())->name, a->name);
}

TEST(PlanLaunch, ValidatesEveryArgumentNamingIt) {
  struct Case {
    std::string what;
    std::function<void(LaunchRequest&)> change;
    std::string mentions;
  };
  std::vector<Case> const cases{
      {"no image", [](LaunchRequest& r) { r.image.clear(); }, "image"},
      {"no owner", [](LaunchRequest& r) { r.owner.clear(); }, "--owner"},
      {"owner without prefix", [](LaunchRequest& r) { r.owner = "octo-org"; }, "--owner"},
      {"owner of another kind", [](LaunchRequest& r) { r.owner = "gitlab:org/x"; }, "--owner"},
      {"unknown size", [](LaunchRequest& r) { r.node_size = "huge"; }, "--node-size"},
      {"no cp url", [](LaunchRequest& r) { r.cp_url.clear(); }, "--cp-url"},
      {"cp url not http", [](LaunchRequest& r) { r.cp_url = "cp.example.com"; }, "--cp-url"},
      {"bad datacenter", [](LaunchRequest& r) { r.datacenter = "gcp"; }, "--datacenter"},
      {"bad name", [](LaunchRequest& r) { r.name = "Web_1"; }, "--name"},
      {"path in name", [](LaunchRequest& r) { r.name = "../x"; }, "--name"},
      {"no memory", [](LaunchRequest& r) { r.memory_gib = 0; }, "--memory"},
      {"too much memory", [](LaunchRequest& r) { r.memory_gib = 4096; }, "--memory"},
      {"no vcpus", [](LaunchRequest& r) { r.vcpus = 0; }, "--vcpus"},
      {"initrd without kernel", [](LaunchRequest& r) { r.kernel.clear(); }, "--initrd"},
      {"tunnel token for an agent", [](LaunchRequest& r) { r.cf_tunnel_token = "t"; }, "--cp"},
      {"the image as data disk", [](LaunchRequest& r) { r.data_disk = r.image; }, "--data-disk"},
      {"unknown setting", [](LaunchRequest& r) { r.agent_settings = {{"no_such", "1"}}; },
       "--set no_such: not a setting of the agent"},
      {"bad setting", [](LaunchRequest& r) { r.agent_settings = {{"appraisal", "x"}}; },
       "appraisal"},
      {"flag key in a setting", [](LaunchRequest& r) { r.agent_settings = {{"vm_name", "other"}}; },
       "--set vm_name: use --name"},
      {"mode in a setting", [](LaunchRequest& r) { r.agent_settings = {{"mode", "agent"}}; },
       "use --cp"},
  };
  for (auto const& c : cases) {
    auto r = agent_request();
    c.change(r);
    auto p = plan_launch(r, host());
    ASSERT_FALSE(p) << c.what;
    EXPECT_EQ(p.error(), errc::invalid_request) << c.what;
    EXPECT_EQ(p.error(), ee::condition::invalid_input) << c.what;
    EXPECT_NE(p.error().message().find(c.mentions), std::string::npos)
        << c.what << ": " << p.error().message();
  }
  LaunchRequest cp;
  cp.cp = true;
  cp.image = "/images/cp.qcow2";
  cp.cp_env = {{"1BAD", "x"}};
  auto bad_env = plan_launch(cp, host());
  ASSERT_FALSE(bad_env);
  EXPECT_NE(bad_env.error().message().find("--cp-env"), std::string::npos);
}

TEST(OciReference, TellsReferencesFromFiles) {
  for (auto const* ref :
       {"ghcr.io/org/app:1.0", "docker.io/library/busybox",
        "registry.example/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "localhost:5000/a/b:c", "app@sha256:abababababababababababababababababababababababababababababababab",
        "images/disk.qcow2:v1"}) {
    EXPECT_TRUE(is_oci_reference(ref)) << ref;
  }
  for (auto const* file :
       {"/images/disk.qcow2", "./disk.img", "disk.raw", "images/vm.qcow2", "", "~/x.img", "app:1.0",
        // Malformed references: a short digest, an upper-case repository, a leading '-'.
        "registry.example/app@sha256:0123", "ghcr.io/Org/app:1", "-x/app:1"}) {
    EXPECT_FALSE(is_oci_reference(file)) << file;
  }
}

TEST(EeLaunch, DryRunPrintsThePlanAsJsonAndStartsNothing) {
  auto const r = ee::test::run({ee::test::program("ee").string(), "launch", "/images/ee.qcow2",
                                "--owner", "github:org/octo-org", "--cp-url",
                                "https://cp.example.com", "--kernel", "/images/vmlinuz", "--name",
                                "dry-1", "--state-dir", "/nonexistent/vms", "--dry-run", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto const doc = bj::parse(r.out);
  EXPECT_EQ(doc.at("name").as_string(), "dry-1");
  EXPECT_EQ(doc.at("config_via").as_string(), "kernel_command_line");
  EXPECT_EQ(doc.at("qemu_argv").as_array()[0].as_string(), "qemu-system-x86_64");
  EXPECT_FALSE(std::filesystem::exists("/nonexistent/vms"));
  auto const with_data =
      ee::test::run({ee::test::program("ee").string(), "launch", "/images/ee.qcow2", "--owner",
                     "github:org/octo-org", "--cp-url", "https://cp.example.com", "--kernel",
                     "/images/vmlinuz", "--name", "dry-2", "--state-dir", "/nonexistent/vms",
                     "--data-disk", "/images/data.raw", "--dry-run", "--json"});
  ASSERT_EQ(with_data.exit_code, 0) << with_data.err;
  EXPECT_NE(with_data.out.find("file=/images/data.raw,if=none,id=data,format=raw"), std::string::npos)
      << with_data.out;
  auto const bad =
      ee::test::run({ee::test::program("ee").string(), "launch", "/images/ee.qcow2", "--owner",
                     "octo-org", "--cp-url", "https://cp.example.com", "--dry-run"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--owner"), std::string::npos) << bad.err;
}

TEST(EeLaunch, TheCpGetsEveryPortableSettingOfThisShellByItsRegistryAndNothingElse) {
  std::string const mrtd(96, 'a');
  auto const r = ee::test::run(
      {ee::test::program("ee").string(), "launch", "/images/ee.qcow2", "--cp", "--owner", "github:org/octo-org",
       "--kernel", "/images/vmlinuz", "--name", "cp-1", "--state-dir", "/nonexistent/vms",
       "--cp-env", "EE_GITHUB_AUDIENCE=from-flag", "--dry-run", "--json"},
      {{"EE_TRUSTED_MRTDS", mrtd},
       {"EE_HEARTBEAT_INTERVAL_SECONDS", "10"},   // an earlier name ee-cp still reads
       {"EE_GITHUB_AUDIENCE", "from-shell"},      // also given by --cp-env
       {"EE_DB", "/home/me/cp.db"},               // a path on this machine
       {"EE_DEV", "1"},                           // a mode of this machine
       {"STRIPE_SECRET_KEY", "nobody-reads"}});  // not a setting of ee-cp
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto const doc = bj::parse(r.out);
  // The plan shows which variables go, never their values (secrets among them).
  auto const& env = doc.at("config").at("cp_env").as_object();
  EXPECT_TRUE(env.contains("EE_TRUSTED_MRTDS"));
  EXPECT_TRUE(env.contains("EE_HEARTBEAT_INTERVAL_SECONDS"));
  EXPECT_TRUE(env.contains("EE_GITHUB_AUDIENCE"));
  EXPECT_EQ(r.out.find(mrtd), std::string::npos);
  EXPECT_FALSE(env.contains("EE_DB"));
  EXPECT_FALSE(env.contains("EE_DEV"));
  EXPECT_FALSE(env.contains("STRIPE_SECRET_KEY"));
}

}  // namespace
