// OCI images made into VM disks for real: a two-layer image written here as an OCI image layout
// (a plain and a gzip layer, a whiteout, an opaque directory, and a symlink out of the root
// filesystem that the upper layer writes through) is pushed to a loopback docker-registry, then
// prepare_oci_image fetches it with skopeo (or podman) and the ext4 disk it makes is read back
// with debugfs. Skipped where the tools are missing (scripts/install-deps.sh installs them).
#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "launcher/vm_fixtures.hpp"
#include "support/containers.hpp"
#include "support/temp_dir.hpp"

#include <easyenclave/launcher/launcher.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace launcher = ee::launcher;
using launcher::errc;

struct Registry {
  std::string skip;
  std::string error;
  std::unique_ptr<ee::test::TempDir> dir;
  std::unique_ptr<ee::test::LoopbackRegistry> registry;
  std::map<std::string, std::string> env;
  std::string repo;       // 127.0.0.1:<port>/ee-oci-test
  std::string hostile;    // its image with a symlink out of the root file system
  std::string benign;     // the same without
  fs::path host_target;  // where the image's symlink points, outside its root filesystem
};

// "sha256:<hex>" of `content`, stored as a blob of `layout`; the descriptor's digest and size.
std::string put_blob(fs::path const& layout, std::string const& content) {
  auto const hex = ee::detail::hex_encode(ee::detail::sha256(ee::detail::as_bytes(content)));
  fs::create_directories(layout / "blobs" / "sha256");
  std::ofstream(layout / "blobs" / "sha256" / hex, std::ios::binary) << content;
  return "sha256:" + hex;
}

std::string descriptor(std::string const& media_type, std::string const& digest,
                       std::size_t size, std::string const& extra = "") {
  return R"({"mediaType":")" + media_type + R"(","digest":")" + digest + R"(","size":)" +
         std::to_string(size) + extra + "}";
}

std::vector<std::string> with(std::vector<std::string> argv,
                              std::vector<std::string> const& more) {
  argv.insert(argv.end(), more.begin(), more.end());
  return argv;
}

class OciImage : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    registry_ = new Registry();
    prepare(*registry_);
  }

  static void TearDownTestSuite() {
    for (auto const& [name, value] : registry_->env) ::unsetenv(name.c_str());
    delete registry_;
    registry_ = nullptr;
  }

 protected:
  void SetUp() override {
    if (!registry_->skip.empty()) GTEST_SKIP() << registry_->skip;
    ASSERT_TRUE(registry_->error.empty()) << registry_->error;
  }

  // The names in directory `path` of the ext4 image (debugfs's `ls -p`: /inode/mode/uid/gid/
  // name/size/ per entry).
  static std::set<std::string> names_in(fs::path const& image, std::string const& path) {
    auto done = ee::detail::run_command(
        {"debugfs", "-R", "ls -p " + path, image.string()}, 30s);
    std::set<std::string> names;
    if (!done) return names;
    std::istringstream lines(done->out);
    for (std::string line; std::getline(lines, line);) {
      std::vector<std::string> fields;
      std::istringstream parts(line);
      for (std::string f; std::getline(parts, f, '/');) fields.push_back(f);
      if (fields.size() > 5 && fields[5] != "." && fields[5] != "..") names.insert(fields[5]);
    }
    return names;
  }

  static std::string cat(fs::path const& image, std::string const& path) {
    auto done = ee::detail::run_command({"debugfs", "-R", "cat " + path, image.string()},
                                               30s);
    return done ? done->out : std::string();
  }

  // What the two layers make, as the image's file system shows it.
  static void expect_merged(fs::path const& image, bool hostile) {
    EXPECT_EQ(cat(image, "/etc/os-release"), "layer 1\n");              // the upper file wins
    EXPECT_EQ(names_in(image, "/etc"), std::set<std::string>{"os-release"});  // whited out
    EXPECT_EQ(names_in(image, "/opt/old"), std::set<std::string>{"c"});   // opaque
    EXPECT_EQ(cat(image, "/keep/file"), "kept\n");                      // untouched
    if (hostile) {
      EXPECT_EQ(cat(image, "/escape/pwned"), "inside\n");  // the upper directory replaced the link
    }
    EXPECT_TRUE(fs::is_empty(registry_->host_target)) << "a layer wrote outside the image";
  }

  static Registry* registry_;
  ee::test::TempDir work_;

 private:
  static void prepare(Registry& r) {
    for (auto const* program : {"skopeo", "docker-registry", "tar", "gzip", "mkfs.ext4",
                                "debugfs"}) {
      if (ee::test::find_program(program).empty()) {
        r.skip = std::string(program) +
                 " is not installed (scripts/install-deps.sh installs what this test needs)";
        return;
      }
    }
    r.dir = std::make_unique<ee::test::TempDir>();
    auto const port = ee::test::free_port();
    r.env = ee::test::write_container_config(*r.dir, port);
    // prepare_oci_image's skopeo and podman inherit this process's environment.
    for (auto const& [name, value] : r.env) ::setenv(name.c_str(), value.c_str(), 1);
    r.registry = ee::test::LoopbackRegistry::start(*r.dir, port);
    if (!r.registry->error.empty()) {
      r.error = r.registry->error;
      return;
    }
    r.host_target = r.dir->path() / "host-target";
    fs::create_directories(r.host_target);
    r.repo = r.registry->host() + "/ee-oci-test";
    r.hostile = r.repo + ":hostile";
    r.benign = r.repo + ":benign";
    r.error = push_layered_image(r, "hostile", true);
    if (r.error.empty()) r.error = push_layered_image(r, "benign", false);
  }

  // Builds the two-layer image as an OCI layout and pushes it as `tag`; with `hostile`, the
  // lower layer has a symlink "escape" to a host directory and the upper one writes
  // "escape/pwned". Returns what went wrong, or "".
  static std::string push_layered_image(Registry& r, std::string const& tag, bool hostile) {
    auto const& d = *r.dir;
    auto const l0_dir = d.path() / (tag + "-l0");
    auto const l1_dir = d.path() / (tag + "-l1");
    d.write(tag + "-l0/etc/os-release", "layer 0\n");
    d.write(tag + "-l0/etc/removed", "doomed\n");
    d.write(tag + "-l0/opt/old/a", "a\n");
    d.write(tag + "-l0/opt/old/b", "b\n");
    d.write(tag + "-l0/keep/file", "kept\n");
    d.write(tag + "-l1/etc/os-release", "layer 1\n");
    d.write(tag + "-l1/etc/.wh.removed", "");
    d.write(tag + "-l1/opt/old/.wh..wh..opq", "");
    d.write(tag + "-l1/opt/old/c", "c\n");
    std::vector<std::string> upper = {"./etc/os-release", "./etc/.wh.removed",
                                      "./opt/old/.wh..wh..opq", "./opt/old/c"};
    if (hostile) {
      fs::create_directory_symlink(r.host_target, l0_dir / "escape");
      d.write(tag + "-l1/escape/pwned", "inside\n");
      upper.push_back("./escape/pwned");
    }
    auto const l0 = d.path() / (tag + "-l0.tar");
    auto const l1 = d.path() / (tag + "-l1.tar");
    std::vector<std::string> const tar = {"tar", "--owner=0", "--group=0", "--numeric-owner"};
    auto made = ee::test::run_tool(with(tar, {"-C", l0_dir.string(), "-cf", l0.string(), "."}));
    if (!made.empty()) return made;
    // The upper layer lists files only, no directory entries: "escape/pwned" without "escape/".
    // Unpacked with tar over the lower layer, it would go through the symlink onto the host.
    made = ee::test::run_tool(
        with(with(tar, {"-C", l1_dir.string(), "--no-recursion", "-cf", l1.string()}), upper));
    if (!made.empty()) return made;
    if (auto zipped = ee::test::run_tool({"gzip", "-n", "-k", l1.string()}); !zipped.empty()) {
      return zipped;
    }

    auto const layout = d.path() / (tag + "-layout");
    auto const l0_tar = ee::test::read_file(l0);
    auto const l1_tar = ee::test::read_file(l1);
    auto const l1_gz = ee::test::read_file(l1.string() + ".gz");
    auto const l0_digest = put_blob(layout, l0_tar);
    auto const l1_gz_digest = put_blob(layout, l1_gz);
    auto const l1_diff_id =
        "sha256:" + ee::detail::hex_encode(ee::detail::sha256(ee::detail::as_bytes(l1_tar)));
    auto const config = R"({"architecture":"amd64","os":"linux","config":{},)"
                        R"("rootfs":{"type":"layers","diff_ids":[")" +
                        l0_digest + R"(",")" + l1_diff_id + R"("]}})";
    auto const config_digest = put_blob(layout, config);
    auto const manifest =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
        R"("config":)" +
        descriptor("application/vnd.oci.image.config.v1+json", config_digest, config.size()) +
        R"(,"layers":[)" +
        descriptor("application/vnd.oci.image.layer.v1.tar", l0_digest, l0_tar.size()) + "," +
        descriptor("application/vnd.oci.image.layer.v1.tar+gzip", l1_gz_digest, l1_gz.size()) +
        "]}";
    auto const manifest_digest = put_blob(layout, manifest);
    d.write(tag + "-layout/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    d.write(tag + "-layout/index.json",
            R"({"schemaVersion":2,"manifests":[)" +
                descriptor("application/vnd.oci.image.manifest.v1+json", manifest_digest,
                           manifest.size(),
                           R"(,"annotations":{"org.opencontainers.image.ref.name":"v1"})") +
                "]}");
    return ee::test::run_tool({"skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                               "oci:" + layout.string() + ":v1", "docker://" + r.repo + ":" + tag});
  }
};

Registry* OciImage::registry_ = nullptr;

TEST_F(OciImage, SkopeoAppliesTheLayersInOrderWithTheirWhiteouts) {
  auto const work_dir = work_.path() / "images";
  auto image = launcher::prepare_oci_image(registry_->hostile, work_dir, {.disk_gib = 1});
  ASSERT_TRUE(image) << image.error().message();
  EXPECT_EQ(image->parent_path(), work_dir);
  EXPECT_EQ(image->extension(), ".img");
  EXPECT_EQ(fs::file_size(*image), 1024u * 1024 * 1024);
  expect_merged(*image, true);
  // Only the disk is left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(work_dir), fs::directory_iterator()), 1);

  // Again: the disk is made afresh under the same name; another image gets another name.
  auto again = launcher::prepare_oci_image(registry_->hostile, work_dir, {.disk_gib = 1});
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, *image);
  auto other = launcher::prepare_oci_image(registry_->benign, work_dir, {.disk_gib = 1});
  ASSERT_TRUE(other) << other.error().message();
  EXPECT_NE(*other, *image);
  expect_merged(*other, false);
}

TEST_F(OciImage, PodmanIsUsedWhenSkopeoIsMissing) {
  if (::geteuid() != 0) GTEST_SKIP() << "rootless podman needs subordinate ids";
  if (ee::test::find_program("podman").empty()) GTEST_SKIP() << "podman is not installed";
  launcher::OciOptions const options{.skopeo = (work_.path() / "no-such-skopeo").string(),
                                     .disk_gib = 1};
  auto image = launcher::prepare_oci_image(registry_->benign, work_.path() / "images", options);
  ASSERT_TRUE(image) << image.error().message();
  expect_merged(*image, false);
  // podman refuses the layer that writes through a symlink (it unpacks in a chroot, where the
  // link leads nowhere); whatever it does, nothing may land on the host.
  (void)launcher::prepare_oci_image(registry_->hostile, work_.path() / "images", options);
  EXPECT_TRUE(fs::is_empty(registry_->host_target));
  (void)ee::test::run_tool({"podman", "rmi", "--all", "--force"});
}

TEST_F(OciImage, AnImageTheRegistryLacksIsImageFailedWithTheToolsMessage) {
  auto image = launcher::prepare_oci_image(
      registry_->registry->host() + "/ee-oci-test:no-such-tag", work_.path(), {.disk_gib = 1});
  ASSERT_FALSE(image);
  EXPECT_EQ(image.error(), errc::image_failed);
  EXPECT_EQ(image.error(), ee::condition::upstream_failure);
  EXPECT_NE(image.error().message().find("manifest unknown"), std::string::npos)
      << image.error().message();
  EXPECT_TRUE(fs::is_empty(work_.path()));  // no scratch left behind
}

TEST(OciImageTools, NeitherSkopeoNorPodmanIsToolMissing) {
  ee::test::TempDir work;
  auto image = launcher::prepare_oci_image(
      "ghcr.io/org/app:1", work.path(),
      {.skopeo = (work.path() / "no-skopeo").string(),
       .podman = (work.path() / "no-podman").string()});
  ASSERT_FALSE(image);
  EXPECT_EQ(image.error(), errc::tool_missing);
  EXPECT_EQ(image.error(), ee::condition::unavailable);
}

TEST(OciImageTools, RefusesAReferenceThatIsNotOne) {
  ee::test::TempDir work;
  for (std::string const reference : {"", "--help", "ghcr.io/org/app:1 --rm", "a\nb"}) {
    auto image = launcher::prepare_oci_image(reference, work.path());
    ASSERT_FALSE(image) << reference;
    EXPECT_EQ(image.error(), errc::invalid_request) << reference;
  }
}

}  // namespace
