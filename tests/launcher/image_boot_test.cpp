// The guest image booted for real under QEMU TCG (no TDX, no KVM here): the test variant of
// image/build.sh (tests/launcher/build_test_image.sh builds it once per set of inputs and links
// it at build/ci/tests/test-image) started the way `ee launch` starts it, without --kernel: the
// image's own kernel, initrd and measured command line, the configuration on the config drive.
//  - a CP VM: cp-bootstrap mode runs the real ee-cp, which answers /health and
//    /api/v1/attestation (a simulator quote) through a forwarded port;
//  - an agent VM with a data disk registers with an ee-cp on the host (reached from the guest at
//    10.0.2.2 through QEMU's user network) that makes tunnels with the Cloudflare stand-in, and
//    runs the image's cloudflared (a stand-in the test image carries) with the token it got;
//    booted again on the same data disk it brings the tunnel up from what it saved on /data,
//    receives a deploy of a process workload and serves it, and the host's connect() verifies
//    the agent's quote, key and workload before talking to it;
//  - bad input ends in one clear line on the serial console and the VM powering off: a
//    configuration that does not decode, a root hash that does not match the root file system.
#include "fakes/fake_cloudflare.hpp"
#include "fakes/fake_github.hpp"
#include "launcher/vm_fixtures.hpp"
#include "support/containers.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <easyenclave/block_on.hpp>
#include <easyenclave/client/connect.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/tdx/collateral.hpp>
#include <easyenclave/tdx/simulator.hpp>
#include <easyenclave/tdx/verify.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/launcher/image.hpp>
#include <easyenclave/launcher/launcher.hpp>

#include <boost/json/parse.hpp>

#include <openssl/evp.h>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <csignal>
#include <optional>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace launcher = ee::launcher;
namespace bhttp = boost::beast::http;

fs::path test_image() {
  if (char const* dir = std::getenv("EE_TEST_IMAGE")) return dir;
  return fs::path(EE_PROGRAM_DIR).parent_path() / "tests" / "test-image";
}

class ImageVm : public ::testing::Test {
 protected:
  void SetUp() override {
    image_ = test_image();
    std::error_code ec;
    if (!fs::exists(image_ / "manifest.json", ec)) {
      GTEST_SKIP() << "no test image at " << image_
                   << " (the image_build test makes it: root, debootstrap, veritysetup, ...)";
    }
    qemu_ = ee::test::find_program("qemu-system-x86_64");
    if (qemu_.empty()) GTEST_SKIP() << "qemu-system-x86_64 is not installed";
  }

  void TearDown() override {
    for (auto const& name : started_) (void)launcher::stop_vm(root_, name, 5s);
  }

  // The request `ee launch <image> --no-tdx --accel tcg --memory 1 --vcpus 2` makes, resolved to
  // the image's own kernel as `ee launch` resolves it.
  launcher::LaunchRequest request(std::string const& name) {
    launcher::LaunchRequest r;
    r.image = (image_ / "disk.qcow2").string();
    r.name = name;
    r.tdx = false;
    r.memory_gib = 1;
    r.vcpus = 2;
    r.agent_settings = {{"quote_provider", "simulator"}, {"simulator_dir", "/data/simulator"}};
    return r;
  }

  launcher::LaunchPlan plan(launcher::LaunchRequest r) {
    auto own = launcher::use_image_kernel(r);
    EXPECT_TRUE(own) << own.error().message();
    EXPECT_TRUE(r.config_drive);
    launcher::HostPaths paths;
    paths.qemu = qemu_;
    paths.kvm = false;
    paths.state_root = root_;
    auto p = launcher::plan_launch(r, paths);
    EXPECT_TRUE(p) << p.error().message();
    return p ? *p : launcher::LaunchPlan{};
  }

  launcher::VmInfo start(launcher::LaunchPlan const& p) {
    auto vm = launcher::launch(p, {.qmp_timeout = 60s});
    EXPECT_TRUE(vm) << vm.error().message();
    started_.push_back(p.name);
    return vm ? *vm : launcher::VmInfo{};
  }

  std::string log(std::string const& name) {
    auto text = launcher::read_serial_log(root_, name);
    return text ? *text : std::string();
  }

  // Waits until the serial log holds `needle`; the log's tail in the failure message.
  ::testing::AssertionResult logged(std::string const& name, std::string const& needle,
                                    std::chrono::seconds timeout) {
    if (ee::test::eventually([&] { return log(name).find(needle) != std::string::npos; },
                             timeout)) {
      return ::testing::AssertionSuccess();
    }
    auto const tail = launcher::read_serial_log(root_, name, 40);
    return ::testing::AssertionFailure()
           << "no \"" << needle << "\" on the serial console:\n" << (tail ? *tail : "(no log)");
  }

  fs::path image_;
  std::string qemu_;
  ee::test::TempDir dir_;
  fs::path root_ = dir_.path() / "vms";
  std::vector<std::string> started_;
};

// A request on the host's loopback; nullopt while nothing answers.
std::optional<ee::http::Response> send(bhttp::verb method, std::string const& url,
                                       std::string body = "", std::string const& bearer = "") {
  static auto const client = ee::http::make_https_client().value();
  ee::http::Request request{method, url, 11};
  if (!bearer.empty()) request.set(bhttp::field::authorization, "Bearer " + bearer);
  if (!body.empty()) request.set(bhttp::field::content_type, "application/json");
  request.body() = std::move(body);
  request.prepare_payload();
  ee::http::RequestOptions options;
  options.timeout = 20s;
  auto response = ee::block_on(client->send(request, options));
  if (!response) return std::nullopt;
  return std::move(*response);
}

std::optional<ee::http::Response> get(std::string const& url) { return send(bhttp::verb::get, url); }

// Polls every second: a VM under TCG takes tens of seconds, and a tighter loop only loads the
// CP and the host's two cores.
template <class Predicate>
bool slowly(Predicate predicate, std::chrono::seconds timeout) {
  auto const deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(1s);
  }
  return predicate();
}

std::int64_t seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t).count();
}

TEST_F(ImageVm, TheCpVmRunsTheRealEeCpBehindAForwardedPort) {
  auto r = request("ee-cp-vm");
  r.cp = true;
  r.forward_cp_port = ee::test::free_port();
  r.cp_env = {{"EE_DEV", "true"},
              {"EE_DB", "/data/cp.db"},
              {"EE_QUOTE_PROVIDER", "simulator"},
              {"EE_SIMULATOR_DIR", "/data/cp-simulator"}};
  auto const p = plan(r);
  ASSERT_FALSE(p.name.empty());
  // The secrets and settings of ee-cp travel on the config drive, never on the command line.
  ASSERT_FALSE(p.config_drive.empty());
  for (auto const& arg : p.qemu_argv) {
    EXPECT_EQ(arg.find("EE_DB"), std::string::npos) << arg;
    EXPECT_EQ(arg.find("cp-bootstrap"), std::string::npos) << arg;
  }
  auto const manifest = launcher::load_image_manifest(image_).value();
  auto const append = std::find(p.qemu_argv.begin(), p.qemu_argv.end(), "-append");
  ASSERT_NE(append, p.qemu_argv.end());
  EXPECT_EQ(*(append + 1), manifest.cmdline);  // exactly what the manifest's RTMR2 measures

  auto const started = std::chrono::steady_clock::now();
  start(p);
  auto const base = "http://127.0.0.1:" + std::to_string(r.forward_cp_port);
  bool const up = slowly(
      [&] {
        auto health = get(base + "/health");
        return health && health->result() == bhttp::status::ok;
      },
      240s);
  auto const boot = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(up) << "ee-cp did not answer /health:\n" << *launcher::read_serial_log(root_, p.name, 60);
  std::cout << "[ image boot ] CP VM answered /health "
            << std::chrono::duration_cast<std::chrono::seconds>(boot).count()
            << " s after launch (TCG)\n";
  EXPECT_NE(log(p.name).find("\"config\":\"config-drive\""), std::string::npos);
  EXPECT_NE(log(p.name).find("cp started"), std::string::npos);

  auto health = get(base + "/health");
  ASSERT_TRUE(health);
  auto const h = boost::json::parse(health->body());
  EXPECT_EQ(h.at("status").as_string(), "ok");
  EXPECT_TRUE(h.at("dev").as_bool());

  auto attestation = get(base + "/api/v1/attestation?nonce=" + std::string(64, 'a'));
  ASSERT_TRUE(attestation);
  ASSERT_EQ(attestation->result(), bhttp::status::ok) << attestation->body();
  EXPECT_FALSE(boost::json::parse(attestation->body()).at("quote_b64").as_string().empty());
}

TEST_F(ImageVm, AConfigurationThatDoesNotDecodeEndsWithOneLineAndPowersOff) {
  auto r = request("ee-bad-config");
  r.owner = "github:org/acme";
  r.cp_url = "http://10.0.2.2:9";
  auto p = plan(r);
  ASSERT_FALSE(p.name.empty());
  p.agent_config = "{\"owner\": 7";  // what launch writes onto the config drive
  auto const vm = start(p);
  EXPECT_TRUE(logged(p.name, "ee-agent: configuration: ", 240s));
  EXPECT_NE(log(p.name).find("config drive"), std::string::npos);
  EXPECT_TRUE(logged(p.name, "easyenclave: ee-agent stopped (exit-code, status 2); powering off", 30s));
  // The VM powers itself off: QEMU exits, `ee logs` still reads the log.
  EXPECT_TRUE(ee::test::eventually([&] { return !ee::test::process_alive(vm.pid); }, 60s));
}

TEST_F(ImageVm, ARootHashThatDoesNotMatchStopsTheBootInTheInitrd) {
  auto r = request("ee-bad-verity");
  r.owner = "github:org/acme";
  r.cp_url = "http://10.0.2.2:9";
  auto p = plan(r);
  ASSERT_FALSE(p.name.empty());
  auto const append = std::find(p.qemu_argv.begin(), p.qemu_argv.end(), "-append");
  ASSERT_NE(append, p.qemu_argv.end());
  auto& cmdline = *(append + 1);
  auto const at = cmdline.find("easyenclave.roothash=") + std::string("easyenclave.roothash=").size();
  cmdline[at] = cmdline[at] == '0' ? '1' : '0';  // one digit of the root hash
  auto const vm = start(p);
  EXPECT_TRUE(logged(p.name,
                     "easyenclave-init: FATAL: dm-verity: the root file system does not match the "
                     "root hash on the kernel command line (exit 1, powering off)",
                     120s));
  EXPECT_EQ(log(p.name).find("systemd[1]"), std::string::npos);  // nothing of the root ran
  EXPECT_TRUE(ee::test::eventually([&] { return !ee::test::process_alive(vm.pid); }, 60s));
}

// A GPT disk image with one ext4 partition named ee-data, as docs/launcher.md makes one; empty
// when sfdisk or mkfs.ext4 is missing or fails (the error in `why`).
fs::path make_data_disk(fs::path const& file, std::string& why) {
  for (auto const* tool : {"sfdisk", "mkfs.ext4", "truncate"}) {
    if (ee::test::find_program(tool).empty()) {
      why = std::string(tool) + " is not installed";
      return {};
    }
  }
  auto const made = ee::test::run(
      {"/bin/sh", "-c",
       "set -e; truncate -s 64M \"$1\"; printf 'label: gpt\\nstart=1MiB, "
       "type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=ee-data\\n' | sfdisk -q \"$1\"; "
       "mkfs.ext4 -q -F -E offset=1048576 \"$1\" 62M",
       "sh", file.string()});
  if (made.exit_code != 0) {
    why = "making the data disk failed: " + made.err;
    return {};
  }
  return file;
}

std::string sha256_hex(std::string const& text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EXPECT_EQ(EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr), 1);
  return ee::hex_encode(std::span<unsigned char const>(digest.data(), size));
}

// The token the Cloudflare stand-in gives for its only live tunnel, asked the way the CP asks.
std::string issued_tunnel_token(ee::test::FakeCloudflare const& cloudflare) {
  auto const tunnels = cloudflare.tunnels();
  std::string id;
  for (auto const& t : tunnels) {
    if (!t.deleted_at) id = t.id;
  }
  if (id.empty()) return {};
  auto answer = send(bhttp::verb::get,
                     cloudflare.url() + "/accounts/" + cloudflare.account_id() + "/cfd_tunnel/" +
                         id + "/token",
                     "", cloudflare.api_token());
  if (!answer || answer->result() != bhttp::status::ok) return {};
  auto const doc = boost::json::parse(answer->body());
  return std::string(doc.at("result").as_string());
}

// Two boots of one agent VM with one data disk:
//  1. with an ee-cp that makes tunnels (the Cloudflare stand-in): the agent registers, gets its
//     tunnel token and runs the image's cloudflared (a stand-in that prints the token's
//     SHA-256 on the console) with it; the registration is saved on /data, the data disk.
//  2. the VM stopped, the same disk in a new VM, the CP restarted on its database without
//     Cloudflare: the agent brings the tunnel up from the registration it finds on /data before
//     registering (this CP gives no token), registers again under the same agent id, is
//     deployed to (the CP reaches it at its agent_url, having no tunnel) and serves a process
//     workload (busybox httpd; the test image has no podman: podman under TCG is left to the
//     full image) that the host's connect() verifies.
TEST_F(ImageVm, AnAgentVmRunsItsTunnelKeepsItsStateOnItsDataDiskAndServesAVerifiedWorkload) {
  std::string why;
  auto const data_disk = make_data_disk(dir_.path() / "data.img", why);
  if (data_disk.empty()) GTEST_SKIP() << why;
  // The host's side: one simulated TDX platform shared with the guest (on its config drive), a
  // GitHub OIDC stand-in for the owner's token, the Cloudflare stand-in, ee-cp --dev on loopback.
  auto const sim_dir = dir_.path() / "simulator";
  auto const simulator = ee::tdx::Simulator::load_or_create(sim_dir).value();
  auto const github = ee::test::FakeGithubIssuer::start().value();
  auto const cloudflare = ee::test::FakeCloudflare::start({}).value();
  auto start_cp = [&](std::uint16_t port, bool tunnels) {
    std::vector<std::string> argv{
        ee::test::program("ee-cp").string(), "--dev", "--listen",
        "127.0.0.1:" + std::to_string(port), "--db", (dir_.path() / "cp.db").string(),
        "--simulator-dir", sim_dir.string(), "--appraisal", "local", "--github-jwks-url",
        github->jwks_url(), "--heartbeat-interval", "2", "--health-scrape-interval", "0",
        "--quote-provider", "simulator",
        // The test's polling and the guest (NATed to 127.0.0.1) share one address.
        "--rate-limit-anonymous-per-minute", "0"};
    if (tunnels) {
      argv.insert(argv.end(), {"--cf-api-base", cloudflare->url(), "--cf-api-token",
                               cloudflare->api_token(), "--cf-account-id", cloudflare->account_id(),
                               "--cf-zone-id", cloudflare->zone_id(), "--domain",
                               "agents.example.com"});
    }
    return std::make_unique<ee::test::Process>(argv);
  };
  auto cp_port = ee::test::free_port();
  auto cp_url = "http://127.0.0.1:" + std::to_string(cp_port);
  auto cp = start_cp(cp_port, /*tunnels=*/true);
  ASSERT_EQ(ee::test::listening_url(*cp), cp_url) << cp->err();

  ee::test::GithubTokenRequest token_request;
  token_request.repository = "octo-org/hello";
  auto const owner_token = github->mint(token_request);
  auto const mrtd = ee::hex_encode(simulator->td_report(ee::tdx::ReportData{}).mr_td);
  std::string const image = "registry.example/octo-org/hello@sha256:" + std::string(64, 'c');
  auto published = send(bhttp::verb::post, cp_url + "/api/v1/apps",
                        R"({"name":"hello","description":"image test","source_repo":"octo-org/hello",)"
                        R"("version":"1.0.0","image":")" + image + R"(","mrtd":")" + mrtd + R"("})",
                        owner_token);
  ASSERT_TRUE(published);
  ASSERT_EQ(published->result(), bhttp::status::created) << published->body();

  // The agent VM: `ee launch disk.qcow2 --no-tdx --owner ... --cp-url http://10.0.2.2:PORT
  // --forward-agent-port P --simulator-dir DIR --data-disk data.img --set workload_runtime=process ...`.
  auto const agent_port = ee::test::free_port();
  auto const agent_url = "http://127.0.0.1:" + std::to_string(agent_port);
  auto agent_vm = [&] {
    auto r = request("ee-agent-vm");
    r.agent_settings.clear();
    r.owner = "github:org/octo-org";
    r.cp_url = "http://10.0.2.2:" + std::to_string(cp_port);
    r.datacenter = "gcp:us-central1-a";
    r.forward_agent_port = agent_port;
    r.simulator_dir = sim_dir;
    r.data_disk = data_disk.string();
    r.agent_settings = {
        {"workload_runtime", "process"},
        {"process_command",
         R"(["/bin/sh","-c","mkdir -p /tmp/www && echo hello from $EE_APP_NAME > /tmp/www/index.html && exec /bin/busybox httpd -f -p 127.0.0.1:8080 -h /tmp/www"])"},
        {"agent_url", agent_url},
        {"register_retry_max", "2"}};
    return plan(r);
  };
  auto health = [&]() -> std::optional<boost::json::value> {
    auto h = get(agent_url + "/api/health");
    if (!h || h->result() != bhttp::status::ok) return std::nullopt;
    return boost::json::parse(h->body());
  };
  auto p = agent_vm();
  ASSERT_FALSE(p.name.empty());
  auto started = std::chrono::steady_clock::now();
  start(p);

  // What `ee launch --wait-registered` does: follow the real console's boot stages until the CP
  // lists the agent verified.
  std::vector<launcher::BootStage> stages;
  auto waited = launcher::wait_registered(
      cp_url, p.name,
      {.timeout = 300s, .state_root = root_, .on_stage = [&stages](launcher::BootStage stage, std::chrono::seconds after) {
         stages.push_back(stage);
         std::cout << "[ image boot ] " << launcher::to_string(stage) << " after " << after.count() << " s\n";
       }});
  ASSERT_TRUE(waited) << waited.error().message() << "\n" << *launcher::read_serial_log(root_, p.name, 60) << cp->err();
  ASSERT_FALSE(stages.empty());
  EXPECT_GE(stages.back(), launcher::BootStage::kernel) << "the kernel's banner is on the console";
  for (std::size_t i = 1; i < stages.size(); ++i) EXPECT_LT(stages[i - 1], stages[i]);
  std::cout << "[ image boot ] agent VM registered " << seconds_since(started)
            << " s after launch (TCG)\n";
  EXPECT_NE(log(p.name).find("easyenclave-init: /data is the ee-data partition /dev/vd"),
            std::string::npos)
      << *launcher::read_serial_log(root_, p.name, 60);

  auto listed = get(cp_url + "/api/v1/agents?vm_name=ee-agent-vm");
  ASSERT_TRUE(listed && listed->result() == bhttp::status::ok);
  auto const first = boost::json::parse(listed->body()).as_array().at(0);
  auto const agent_id = std::string(first.at("agent_id").as_string());
  EXPECT_EQ(first.at("hostname").as_string(), "ee-agent-vm.agents.example.com");
  // The agent runs the image's cloudflared with the token the CP got from Cloudflare, and it
  // stays up.
  auto const token = issued_tunnel_token(*cloudflare);
  ASSERT_FALSE(token.empty()) << "the CP made no tunnel";
  auto const tunnel_line =
      "ee-test-cloudflared: tunnel --no-autoupdate run token-sha256=" + sha256_hex(token);
  EXPECT_TRUE(logged(p.name, tunnel_line, 60s));
  EXPECT_TRUE(slowly(
      [&] {
        auto h = health();
        return h && h->at("registered").as_bool() && h->at("tunnel").at("state").as_string() == "running";
      },
      60s))
      << *launcher::read_serial_log(root_, p.name, 40);

  // Boot 2: the same disk in a new VM; a CP on the same database without Cloudflare.
  ASSERT_TRUE(launcher::stop_vm(root_, p.name, 10s));
  started_.clear();
  cp->signal(SIGTERM);
  ASSERT_EQ(cp->wait(20s), 0) << cp->err();
  cp_port = ee::test::free_port();
  cp_url = "http://127.0.0.1:" + std::to_string(cp_port);
  cp = start_cp(cp_port, /*tunnels=*/false);
  ASSERT_EQ(ee::test::listening_url(*cp), cp_url) << cp->err();
  p = agent_vm();
  ASSERT_FALSE(p.name.empty());
  started = std::chrono::steady_clock::now();
  start(p);
  // The CP lists the agent from boot 1 already: the agent's own answer says when it registered.
  ASSERT_TRUE(slowly(
      [&] {
        auto h = health();
        return h && h->at("registered").as_bool();
      },
      300s))
      << "the agent VM did not register again:\n" << *launcher::read_serial_log(root_, p.name, 60) << cp->err();
  std::cout << "[ image boot ] agent VM with its data disk registered again "
            << seconds_since(started) << " s after launch (TCG)\n";
  EXPECT_NE(log(p.name).find("easyenclave-init: /data is the ee-data partition /dev/vd"),
            std::string::npos);
  // This CP gives no tunnel token: the tunnel runs from the registration saved on /data.
  EXPECT_TRUE(logged(p.name, tunnel_line, 60s));
  auto const again = health();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->at("agent_id").as_string(), agent_id);
  EXPECT_EQ(again->at("tunnel").at("state").as_string(), "running");
  ASSERT_TRUE(slowly(
      [&] {
        auto list = get(cp_url + "/api/v1/agents?vm_name=ee-agent-vm");
        if (!list || list->result() != bhttp::status::ok) return false;
        auto const agents = boost::json::parse(list->body());
        return !agents.as_array().empty() && agents.as_array()[0].at("verified").as_bool() &&
               agents.as_array()[0].at("hostname").as_string().empty();
      },
      60s));

  auto deployed = send(bhttp::verb::post, cp_url + "/api/v1/deploy",
                       R"({"app_name":"hello","version":"1.0.0","agent_id":")" + agent_id + R"("})",
                       owner_token);
  ASSERT_TRUE(deployed);
  ASSERT_EQ(deployed->result(), bhttp::status::ok) << deployed->body();
  auto const deployment_id =
      std::string(boost::json::parse(deployed->body()).at("deployment_id").as_string());
  ASSERT_TRUE(slowly(
      [&] {
        auto d = get(cp_url + "/api/v1/deployments/" + deployment_id);
        return d && d->result() == bhttp::status::ok &&
               boost::json::parse(d->body()).at("status").as_string() == "running";
      },
      120s))
      << *launcher::read_serial_log(root_, p.name, 40);

  // connect(): the catalog, the agent's fresh quote (simulator PKI), its key, the workload.
  ee::client::ConnectOptions options;
  options.cp_url = cp_url;
  options.root = ee::tdx::TrustedRoot::from_file(sim_dir / "root_ca.pem").value();
  options.collateral = std::make_shared<ee::tdx::Collateral const>(
      ee::tdx::load_collateral_file(sim_dir / "collateral.json").value());
  options.http = ee::http::make_https_client().value();
  options.request.timeout = 30s;
  auto connection = ee::block_on(ee::client::connect("hello", options));
  ASSERT_TRUE(connection) << connection.error().message();
  EXPECT_EQ(connection->agent_id(), agent_id);
  std::optional<ee::http::Response> page;
  ASSERT_TRUE(slowly(
      [&] {
        auto answer = ee::block_on(connection->request(bhttp::verb::get, "/index.html"));
        if (!answer || answer->result() != bhttp::status::ok) return false;
        page = std::move(*answer);
        return true;
      },
      60s));
  EXPECT_NE(page->body().find("hello from hello"), std::string::npos) << page->body();
  std::cout << "[ image boot ] agent VM served the verified workload " << seconds_since(started)
            << " s after its second launch (TCG)\n";
  cp->signal(SIGTERM);
  EXPECT_EQ(cp->wait(20s), 0) << cp->err();
}

}  // namespace
