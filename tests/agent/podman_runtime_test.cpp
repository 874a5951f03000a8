// The podman workload runtime against real podman: a loopback docker-registry, images built from
// a busybox-static root filesystem with `podman import` and pushed with skopeo, then pull by
// digest, run, logs, HTTP through the published port, replacement and stop.
//
// What this sandbox (and CI: root, no systemd, no internet) needs, found by trying; all of it
// lives in the files below, written to a temporary directory and handed to podman through
// PodmanOptions::podman_env, so the product's defaults stay those of the host:
// - default_ulimits: podman asks for nofile=1048576, above the hard limit the sandbox grants
//   (20000) and may not raise, and runc then fails with "error setting rlimits".
// - runtime runc, cgroup_manager cgroupfs, events_logger file: there is no systemd or journald,
//   and crun is not installed (podman would pick these by itself; stated so nothing depends on
//   autodetection).
// - lock_type file and a private tmp_dir: with the default shm locks every podman using a fresh
//   tmp_dir "refreshes" and frees all locks in the shared /dev/shm/libpod_lock, which breaks any
//   other podman on the machine, including a parallel test.
// - storage driver vfs under the temporary directory: works on any file system (overlay works
//   here too, but leaves mounts to clean up) and is removed with the directory.
// - networking: the default CNI bridge (containernetworking-plugins, which apt picks for podman's
//   network stack; netavark is the other choice, so the backend is named) with
//   `-p 127.0.0.1:H:C` works as root here, so the HTTP check is real.
// - registries.conf marks the loopback registry insecure (plain HTTP).
#include "agent/child_process.hpp"
#include "agent/podman_runtime.hpp"
#include "support/temp_dir.hpp"

#include <easyenclave/agent/error.hpp>
#include <easyenclave/agent/log_buffer.hpp>
#include <easyenclave/agent/workload.hpp>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using ee::agent::LogBuffer;
using ee::agent::PodmanOptions;
using ee::agent::WorkloadSpec;
using ee::agent::WorkloadState;
using ee::agent::detail::Child;
using ee::agent::detail::CommandResult;
using ee::agent::detail::run_command;
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

// The program `name` as found in PATH; empty when absent.
std::string find_program(std::string const& name) {
  char const* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    auto const candidate = fs::path(dir.empty() ? "." : dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return {};
}

// A statically linked ELF has no PT_INTERP program header; a busybox that needs the host's
// dynamic loader cannot run in an image that has only busybox.
bool is_static_elf(std::string const& path) {
  std::ifstream in(path, std::ios::binary);
  std::array<unsigned char, 64> header{};
  if (!in.read(reinterpret_cast<char*>(header.data()), header.size())) return false;
  if (std::memcmp(header.data(), "\x7f"
                                 "ELF",
                  4) != 0 ||
      header[4] != 2) {
    return false;  // not a 64-bit ELF
  }
  auto read_le = [&](std::size_t at, std::size_t bytes) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < bytes; ++i) v |= std::uint64_t{header[at + i]} << (8 * i);
    return v;
  };
  auto const phoff = read_le(0x20, 8);
  auto const phentsize = read_le(0x36, 2);
  auto const phnum = read_le(0x38, 2);
  for (std::uint64_t i = 0; i < phnum; ++i) {
    in.seekg(static_cast<std::streamoff>(phoff + i * phentsize));
    std::array<unsigned char, 4> type{};
    if (!in.read(reinterpret_cast<char*>(type.data()), type.size())) return false;
    if (type[0] == 3 && type[1] == 0 && type[2] == 0 && type[3] == 0) return false;  // PT_INTERP
  }
  return true;
}

std::uint16_t free_port() {
  int const fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// GET `path` from 127.0.0.1:`port` over HTTP/1.0; the whole response, or nullopt when nothing
// answers.
std::optional<std::string> http_get(std::uint16_t port, std::string const& path) {
  int const fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::nullopt;
  timeval timeout{.tv_sec = 2, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::optional<std::string> response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string const request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      std::string got;
      char chunk[4096];
      for (ssize_t n; (n = ::recv(fd, chunk, sizeof chunk, 0)) > 0;) {
        got.append(chunk, static_cast<std::size_t>(n));
      }
      if (!got.empty()) response = std::move(got);
    }
  }
  ::close(fd);
  return response;
}

// Everything one test process shares: configuration, a registry, three pushed images.
struct Machine {
  std::string skip;   // why podman cannot work here
  std::string error;  // why setting up failed where it should have worked
  std::unique_ptr<ee::test::TempDir> dir;
  std::map<std::string, std::string> podman_env;
  std::unique_ptr<Child> registry;
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
    if (machine_->registry) machine_->registry->stop(2s);
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
    if (!is_static_elf(fs::canonical(busybox).string())) {
      m.skip = busybox + " is not statically linked (install busybox-static)";
      return;
    }

    m.dir = std::make_unique<ee::test::TempDir>();
    auto const root = m.dir->path();
    auto const registry_port = free_port();
    m.repo = "127.0.0.1:" + std::to_string(registry_port) + "/ee-podman-test";
    m.podman_env = {
        {"CONTAINERS_CONF", m.dir->write("containers.conf", containers_conf(root)).string()},
        {"CONTAINERS_STORAGE_CONF", m.dir->write("storage.conf", storage_conf(root)).string()},
        {"CONTAINERS_REGISTRIES_CONF",
         m.dir->write("registries.conf", registries_conf(registry_port)).string()},
    };
    if (auto info = podman({"info", "--format", "{{.Host.OCIRuntime.Name}}"}); info.exit_status) {
      m.skip = "podman cannot work on this machine: " +
               ee::agent::detail::redacted_tail(info.err, {});
      return;
    }

    auto registry = Child::spawn(
        {.argv = {"docker-registry", "serve",
                  m.dir->write("registry.yml", registry_config(root, registry_port)).string()}});
    if (!registry) {
      m.error = "docker-registry: " + registry.error().message();
      return;
    }
    m.registry = std::move(*registry);
    if (!eventually([&] { return http_get(registry_port, "/v2/").has_value(); })) {
      m.error = "docker-registry did not answer on port " + std::to_string(registry_port);
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

  static std::string containers_conf(fs::path const& root) {
    return "[containers]\n"
           "default_ulimits = [\"nofile=20000:20000\", \"nproc=4096:4096\"]\n"
           "[engine]\n"
           "runtime = \"runc\"\n"
           "cgroup_manager = \"cgroupfs\"\n"
           "events_logger = \"file\"\n"
           "lock_type = \"file\"\n"
           "tmp_dir = \"" +
           (root / "tmp").string() +
           "\"\n"
           "[network]\n"
           "network_backend = \"cni\"\n"
           "network_config_dir = \"" +
           (root / "net").string() + "\"\n";
  }

  static std::string storage_conf(fs::path const& root) {
    return "[storage]\n"
           "driver = \"vfs\"\n"
           "runroot = \"" +
           (root / "run").string() +
           "\"\n"
           "graphroot = \"" +
           (root / "storage").string() + "\"\n";
  }

  static std::string registries_conf(std::uint16_t port) {
    return "unqualified-search-registries = []\n"
           "[[registry]]\n"
           "location = \"127.0.0.1:" +
           std::to_string(port) +
           "\"\n"
           "insecure = true\n";
  }

  static std::string registry_config(fs::path const& root, std::uint16_t port) {
    return "version: 0.1\n"
           "log:\n"
           "  level: error\n"
           "storage:\n"
           "  filesystem:\n"
           "    rootdirectory: " +
           (root / "registry").string() +
           "\n"
           "http:\n"
           "  addr: 127.0.0.1:" +
           std::to_string(port) + "\n";
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
