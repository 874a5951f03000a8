// The podman workload runtime against real podman: a loopback docker-registry, images built from
// a busybox-static root filesystem with `podman import` and pushed with skopeo, then pull by
// digest, run, logs, HTTP through the published port, replacement and stop.
//
// The podman configuration this sandbox (and CI) needs, and why, is in support/containers.hpp; it
// is handed to podman through PodmanOptions::podman_env, so the product's defaults stay those of
// the host.
#include "detail/child_process.hpp"
#include "agent/podman_runtime.hpp"
#include "support/containers.hpp"
#include "support/temp_dir.hpp"

#include <easyenclave/agent/error.hpp>
#include <easyenclave/agent/log_buffer.hpp>
#include <easyenclave/agent/workload.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using ee::agent::LogBuffer;
using ee::agent::PodmanOptions;
using ee::agent::WorkloadSpec;
using ee::agent::WorkloadState;
using ee::detail::CommandResult;
using ee::detail::run_command;
using ee::test::find_program;
using ee::test::free_port;
using ee::test::http_get;
namespace fs = std::filesystem;

template <class Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout = 10s) {
  auto const deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return predicate();
}

// Everything one test process shares: configuration, a registry, three pushed images.
struct Machine {
  std::string skip;   // why podman cannot work here
  std::string error;  // why setting up failed where it should have worked
  std::unique_ptr<ee::test::TempDir> dir;
  std::map<std::string, std::string> podman_env;
  std::unique_ptr<ee::test::LoopbackRegistry> registry;
  std::string repo;  // 127.0.0.1:<port>/ee-podman-test
  std::string serving_v1, serving_v2, crashing;  // pinned references
};

class PodmanRuntimeReal : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    machine_ = new Machine();
    prepare(*machine_);
  }

  static void TearDownTestSuite() {
    if (machine_->dir && !machine_->podman_env.empty()) {
      podman({"rm", "--all", "--force", "--time", "0"});
      podman({"rmi", "--all", "--force"});
    }
    machine_->registry.reset();
    delete machine_;
    machine_ = nullptr;
  }

 protected:
  void SetUp() override {
    if (!machine_->skip.empty()) GTEST_SKIP() << machine_->skip;
    ASSERT_TRUE(machine_->error.empty()) << machine_->error;
    static int counter = 0;
    options_.container_name = "ee-test-" + std::to_string(::getpid()) + "-" +
                              std::to_string(++counter);
    options_.host_port = free_port();
    options_.container_port = 8080;
    options_.podman_env = machine_->podman_env;
    options_.stop_timeout = 1s;
    options_.pull_timeout = 60s;
    options_.command_timeout = 30s;
    options_.logs = logs_;
  }

  void TearDown() override {
    if (machine_->skip.empty() && machine_->error.empty()) {
      podman({"rm", "--force", "--time", "0", options_.container_name});
    }
  }

  static CommandResult podman(std::vector<std::string> args,
                              std::chrono::milliseconds timeout = 60s) {
    args.insert(args.begin(), "podman");
    auto done = run_command(std::move(args), timeout, machine_->podman_env);
    if (!done) return CommandResult{.exit_status = -1, .err = done.error().message()};
    return std::move(*done);
  }

  bool container_exists() const {
    return podman({"container", "exists", options_.container_name}).exit_status == 0;
  }

  std::string container_id() const {
    return podman({"container", "inspect", "--format", "{{.Id}}", options_.container_name}).out;
  }

  bool logged(std::string const& text) const {
    for (auto const& line : logs_->read()) {
      if (line.source == "workload" && line.text.find(text) != std::string::npos) return true;
    }
    return false;
  }

  std::optional<std::string> get_index() const { return http_get(options_.host_port, "/"); }

  static Machine* machine_;
  std::shared_ptr<LogBuffer> logs_ = std::make_shared<LogBuffer>();
  PodmanOptions options_;

 private:
  static void prepare(Machine& m) {
    if (::geteuid() != 0) {
      m.skip = "needs root: rootless podman needs subordinate ids this test does not set up";
      return;
    }
    for (auto const* program : {"podman", "runc", "skopeo", "docker-registry", "busybox", "tar"}) {
      if (find_program(program).empty()) {
        m.skip = std::string(program) +
                 " is not installed (scripts/install-deps.sh installs what this test needs)";
        return;
      }
    }
    auto const busybox = find_program("busybox");
    if (!ee::test::is_static_elf(fs::canonical(busybox).string())) {
      m.skip = busybox + " is not statically linked (install busybox-static)";
      return;
    }

    m.dir = std::make_unique<ee::test::TempDir>();
    auto const registry_port = free_port();
    m.repo = "127.0.0.1:" + std::to_string(registry_port) + "/ee-podman-test";
    m.podman_env = ee::test::write_container_config(*m.dir, registry_port);
    if (auto info = podman({"info", "--format", "{{.Host.OCIRuntime.Name}}"}); info.exit_status) {
      m.skip = "podman cannot work on this machine: " +
               ee::agent::detail::redacted_tail(info.err, {});
      return;
    }

    m.registry = ee::test::LoopbackRegistry::start(*m.dir, registry_port);
    if (!m.registry->error.empty()) {
      m.error = m.registry->error;
      return;
    }

    std::string const serve = "exec /bin/httpd -f -v -p 8080 -h /www";
    m.serving_v1 = build_and_push(
        m, busybox, "v1", "echo started v1 greeting=$GREETING; echo to stderr >&2; " + serve);
    m.serving_v2 = build_and_push(m, busybox, "v2", "echo started v2; " + serve);
    m.crashing = build_and_push(m, busybox, "crash", "echo crashing; exit 3");
    if (!m.error.empty()) return;
    // The runtime must fetch them from the registry, not find them already here.
    if (auto removed = podman({"rmi", "--all", "--force"}); removed.exit_status != 0) {
      m.error = "podman rmi: " + removed.err;
    }
  }

  // Builds an image whose root file system is busybox (sh, httpd) and /www/index.html holding
  // `tag`, with `command` as its CMD; pushes it and returns "<repo>@<digest>".
  static std::string build_and_push(Machine& m, std::string const& busybox, std::string const& tag,
                                    std::string const& command) {
    if (!m.error.empty()) return {};
    auto const rootfs = m.dir->path() / ("rootfs-" + tag);
    fs::create_directories(rootfs / "bin");
    fs::copy_file(busybox, rootfs / "bin" / "busybox");
    for (auto const* applet : {"sh", "httpd"}) {
      fs::create_symlink("busybox", rootfs / "bin" / applet);
    }
    m.dir->write("rootfs-" + tag + "/www/index.html", "served by " + tag + "\n");
    auto const tarball = (m.dir->path() / ("rootfs-" + tag + ".tar")).string();
    auto step = [&](std::string what, std::vector<std::string> argv) {
      auto done = run_command(std::move(argv), 60s, m.podman_env);
      if (!done) {
        m.error = what + ": " + done.error().message();
      } else if (done->exit_status != 0) {
        m.error = what + " exited with " + std::to_string(done->exit_status) + ": " + done->err;
      }
      return m.error.empty();
    };
    std::string const local = "localhost/ee-podman-test:" + tag;
    auto const digest_file = (m.dir->path() / ("digest-" + tag)).string();
    bool const ok =
        step("tar", {"tar", "-C", rootfs.string(), "-cf", tarball, "."}) &&
        step("podman import", {"podman", "import", "--change",
                               R"(CMD ["/bin/sh", "-c", ")" + command + "\"]", tarball, local}) &&
        step("skopeo copy", {"skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                             "--digestfile", digest_file, "containers-storage:" + local,
                             "docker://" + m.repo + ":" + tag});
    if (!ok) return {};
    auto const digest = ee::test::read_file(digest_file);
    if (digest.rfind("sha256:", 0) != 0) {
      m.error = "skopeo wrote no digest for " + tag;
      return {};
    }
    return m.repo + "@" + digest;
  }
};

Machine* PodmanRuntimeReal::machine_ = nullptr;

TEST_F(PodmanRuntimeReal, PullsByDigestRunsServesLogsAndStops) {
  auto rt = ee::agent::make_podman_runtime(options_);
  WorkloadSpec const spec{.deployment_id = "dep-1",
                          .app_name = "hello",
                          .version = "1",
                          .image = machine_->serving_v1,
                          .env = {{"GREETING", "hi there"}}};
  auto const ran = rt->run(spec);
  ASSERT_TRUE(ran) << ran.error().message();

  auto status = rt->status();
  EXPECT_EQ(status.state, WorkloadState::running) << status.detail;
  EXPECT_EQ(status.deployment_id, "dep-1");
  EXPECT_EQ(status.image, spec.image);
  EXPECT_EQ(status.image_digest, spec.image.substr(spec.image.find('@') + 1));
  EXPECT_TRUE(container_exists());

  std::optional<std::string> response;
  EXPECT_TRUE(eventually([&] { return (response = get_index()).has_value(); }));
  ASSERT_TRUE(response.has_value());
  EXPECT_NE(response->find("200 OK"), std::string::npos) << *response;
  EXPECT_NE(response->find("served by v1"), std::string::npos) << *response;

  // Both streams, with the environment the spec gave.
  EXPECT_TRUE(eventually([&] { return logged("started v1 greeting=hi there"); }));
  EXPECT_TRUE(eventually([&] { return logged("to stderr"); }));

  ASSERT_TRUE(rt->stop());
  status = rt->status();
  EXPECT_EQ(status.state, WorkloadState::stopped);
  EXPECT_TRUE(status.image_digest.empty());
  EXPECT_FALSE(container_exists());
  EXPECT_FALSE(get_index().has_value());
  EXPECT_TRUE(rt->stop());  // idempotent
}

TEST_F(PodmanRuntimeReal, RefusesADigestThatIsNotThePushedImage) {
  auto rt = ee::agent::make_podman_runtime(options_);
  // Well formed, but no manifest in the registry has it: podman's pull by digest refuses.
  auto image = machine_->serving_v1;
  image.back() = image.back() == '0' ? '1' : '0';
  auto const ran = rt->run({.deployment_id = "dep-bad", .image = image});
  ASSERT_FALSE(ran);
  EXPECT_EQ(ran.error(), ee::agent::errc::command_failed);
  auto const status = rt->status();
  EXPECT_EQ(status.state, WorkloadState::failed);
  EXPECT_NE(status.detail.find("manifest unknown"), std::string::npos) << status.detail;
  EXPECT_TRUE(status.image_digest.empty());
  EXPECT_FALSE(container_exists());
}

TEST_F(PodmanRuntimeReal, DeployingAgainReplacesTheFirstContainer) {
  auto rt = ee::agent::make_podman_runtime(options_);
  ASSERT_TRUE(rt->run({.deployment_id = "dep-1", .image = machine_->serving_v1}));
  auto const first = container_id();
  ASSERT_TRUE(eventually([&] {
    auto r = get_index();
    return r && r->find("served by v1") != std::string::npos;
  }));

  auto const ran = rt->run({.deployment_id = "dep-2", .image = machine_->serving_v2});
  ASSERT_TRUE(ran) << ran.error().message();
  auto const status = rt->status();
  EXPECT_EQ(status.state, WorkloadState::running) << status.detail;
  EXPECT_EQ(status.deployment_id, "dep-2");
  EXPECT_EQ(status.image_digest, machine_->serving_v2.substr(machine_->serving_v2.find('@') + 1));
  EXPECT_NE(container_id(), first);
  auto const listed = podman({"ps", "--all", "--quiet", "--filter",
                              "name=^" + options_.container_name + "$"});
  EXPECT_EQ(std::count(listed.out.begin(), listed.out.end(), '\n'), 1) << listed.out;
  EXPECT_TRUE(eventually([&] {
    auto r = get_index();
    return r && r->find("served by v2") != std::string::npos;
  }));
  EXPECT_TRUE(eventually([&] { return logged("started v2"); }));
  ASSERT_TRUE(rt->stop());
  EXPECT_FALSE(container_exists());
}

TEST_F(PodmanRuntimeReal, ReportsAWorkloadThatExitsAsFailed) {
  options_.restart_policy = "no";
  auto rt = ee::agent::detail::make_podman_runtime(options_, 100ms);
  // run() may already see the exit, or not yet; either way the status must end up failed.
  (void)rt->run({.deployment_id = "dep-crash", .image = machine_->crashing});
  ASSERT_TRUE(eventually([&] { return rt->status().state == WorkloadState::failed; }));
  auto const status = rt->status();
  EXPECT_EQ(status.detail, "exited with code 3") << status.detail;
  EXPECT_TRUE(eventually([&] { return logged("crashing"); }));
  ASSERT_TRUE(rt->stop());
  EXPECT_EQ(rt->status().state, WorkloadState::stopped);
  EXPECT_FALSE(container_exists());
}

}  // namespace
