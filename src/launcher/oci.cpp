// OCI images as VM disks: fetch the image, unpack its root filesystem, make a raw ext4 disk of it.
//
// With skopeo the image is copied into an OCI image layout (OCI image-spec, image-layout.md) and
// its layers are applied in order (layer.md): each layer is unpacked into a directory of its own
// and merged into the root filesystem by renames, applying its whiteouts (".wh.NAME" deletes
// NAME from the layers below, ".wh..wh..opq" empties the directory it is in) first. Merging
// ourselves, rather than unpacking layer after layer into one directory with tar, matters: a
// symlink from a lower layer ("etc -> /etc") would otherwise let a later layer's "etc/passwd"
// write through it onto the host. With podman the image is pulled and a container of it exported
// as one flat archive, which tar unpacks in one go.
#include <easyenclave/api/image_reference.hpp>
#include <easyenclave/file.hpp>
#include <easyenclave/launcher/launcher.hpp>

#include "detail/child_process.hpp"
#include "detail/json.hpp"
#include "detail/log.hpp"
#include "launcher/host_tools.hpp"


#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <sys/stat.h>
#include <unistd.h>

namespace ee::launcher {
namespace {

namespace fs = std::filesystem;
namespace bj = boost::json;
namespace json = ::ee::detail::json;
namespace log = ::ee::detail::log;
using namespace std::chrono_literals;
using ::ee::detail::run_command;

// Fetching a large image over a slow link takes a while; unpacking and mkfs are local.
constexpr auto kFetchTimeout = std::chrono::milliseconds(30min);
constexpr auto kLocalTimeout = std::chrono::milliseconds(10min);
constexpr std::string_view kWhiteout = ".wh.";
constexpr std::string_view kOpaque = ".wh..wh..opq";
// The tag an image has in an OCI layout (image-spec annotations.md).
constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";

Error io_error(std::string const& what, std::error_code const& ec) {
  return Error(ee::errc::io_error, what + ": " + ec.message());
}

// A file name for `reference`: readable, and distinct for distinct references (the readable
// part alone is not: '/' and ':' both become '_').
std::string image_stem(std::string_view reference) {
  std::string readable;
  for (char c : reference.substr(0, 64)) {
    bool const keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-';
    readable += keep ? c : '_';
  }
  std::uint64_t hash = 14695981039346656037ULL;  // FNV-1a, 64 bits
  for (char c : reference) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return readable + "-" + hex;
}

// Runs one step; its failure as image_failed with the end of what it wrote to stderr.
result<::ee::detail::CommandResult> step(std::string const& what, std::vector<std::string> argv,
                                          std::chrono::milliseconds timeout) {
  auto done = run_command(std::move(argv), timeout);
  if (!done) {
    if (done.error() == ::ee::errc::program_not_found) {
      return Error(errc::tool_missing, what + ": " + done.error().message());
    }
    return Error(errc::image_failed, what + ": " + done.error().message());
  }
  if (done->exit_status != 0) {
    return Error(errc::image_failed, what + " exited with " + std::to_string(done->exit_status) +
                                         ": " + detail::output_tail(done->err));
  }
  return done;
}

// Removes the scratch directory however preparing the image ends.
struct Scratch {
  fs::path path;
  ~Scratch() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

// --- skopeo: an OCI layout, layer by layer ----------------------------------------------------

// The blob a descriptor's digest names, inside `layout`. The digest comes from the registry, so
// it is checked to be "<algorithm>:<hex>" before it becomes a path.
result<fs::path> blob_path(fs::path const& layout, bj::value const& descriptor) {
  auto const* object = descriptor.if_object();
  auto const* digest = object != nullptr ? object->if_contains("digest") : nullptr;
  if (digest == nullptr || !digest->is_string()) {
    return Error(errc::image_failed, "OCI layout: a descriptor without a digest");
  }
  std::string_view const text = digest->as_string();
  auto const colon = text.find(':');
  auto const algorithm = text.substr(0, colon == std::string_view::npos ? 0 : colon);
  auto const hex = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  bool const ok = (algorithm == "sha256" || algorithm == "sha512") && !hex.empty() &&
                  std::all_of(hex.begin(), hex.end(), [](char c) {
                    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                  });
  if (!ok) return Error(errc::image_failed, "OCI layout: a malformed digest");
  return layout / "blobs" / std::string(algorithm) / std::string(hex);
}

result<bj::value> read_json(fs::path const& path) {
  auto text = read_file(path, 4 * 1024 * 1024);
  if (!text) return Error(errc::image_failed, "OCI layout: " + text.error().message());
  auto doc = json::parse(*text);
  if (!doc || !doc->is_object()) {
    return Error(errc::image_failed, "OCI layout: " + path.filename().string() +
                                         " is not a JSON object");
  }
  return std::move(*doc);
}

// The layers of the image tagged `tag` in `layout`, bottom first.
result<std::vector<fs::path>> layers_of(fs::path const& layout, std::string_view tag) {
  auto index = read_json(layout / "index.json");
  if (!index) return index.error();
  auto const* manifests = index->as_object().if_contains("manifests");
  if (manifests == nullptr || !manifests->is_array() || manifests->as_array().empty()) {
    return Error(errc::image_failed, "OCI layout: index.json lists no manifest");
  }
  bj::value const* chosen = &manifests->as_array().front();
  for (auto const& m : manifests->as_array()) {
    auto const* annotations = m.is_object() ? m.as_object().if_contains("annotations") : nullptr;
    auto const* name = annotations != nullptr && annotations->is_object()
                           ? annotations->as_object().if_contains(kRefNameAnnotation)
                           : nullptr;
    if (name != nullptr && name->is_string() && name->as_string() == tag) chosen = &m;
  }
  auto manifest_path = blob_path(layout, *chosen);
  if (!manifest_path) return manifest_path.error();
  auto manifest = read_json(*manifest_path);
  if (!manifest) return manifest.error();
  auto const* layers = manifest->as_object().if_contains("layers");
  if (layers == nullptr || !layers->is_array()) {
    return Error(errc::image_failed, "OCI layout: the manifest has no layers (an index?)");
  }
  std::vector<fs::path> out;
  for (auto const& layer : layers->as_array()) {
    auto path = blob_path(layout, layer);
    if (!path) return path.error();
    out.push_back(std::move(*path));
  }
  return out;
}

bool is_real_directory(fs::path const& p) {
  std::error_code ec;
  return fs::symlink_status(p, ec).type() == fs::file_type::directory;
}

// The upper layer's mode and owner win for a directory both layers have. Owners cannot be set
// without privileges; the image is then owned by whoever made it, as tar does.
void copy_directory_attributes(fs::path const& from, fs::path const& to) {
  struct stat st{};
  if (::lstat(from.c_str(), &st) != 0) return;
  [[maybe_unused]] int const owned = ::lchown(to.c_str(), st.st_uid, st.st_gid);
  ::chmod(to.c_str(), st.st_mode & 07777);
}

// Applies the unpacked layer `from` onto `to`. Every directory descended into on the `to` side
// is a real directory (never a symlink), so nothing is written outside `to`.
result<void> merge_layer(fs::path const& from, fs::path const& to) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(from, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (ec) return io_error("cannot read " + from.string(), ec);
  std::sort(names.begin(), names.end());

  // Whiteouts first: they delete what the lower layers have, not what this layer brings.
  for (auto const& name : names) {
    if (name == kOpaque) {
      for (fs::directory_iterator it(to, ec), end; !ec && it != end; it.increment(ec)) {
        fs::remove_all(it->path(), ec);
        if (ec) break;
      }
      if (ec) return io_error("cannot empty " + to.string(), ec);
    } else if (name.starts_with(kWhiteout) && !name.starts_with(".wh..wh.")) {
      auto const hidden = name.substr(kWhiteout.size());
      if (hidden.empty() || hidden == "." || hidden == "..") continue;
      fs::remove_all(to / hidden, ec);
      if (ec) return io_error("cannot remove " + (to / hidden).string(), ec);
    }
  }
  for (auto const& name : names) {
    if (name.starts_with(kWhiteout)) continue;
    auto const source = from / name;
    auto const target = to / name;
    if (is_real_directory(source) && is_real_directory(target)) {
      copy_directory_attributes(source, target);
      if (auto merged = merge_layer(source, target); !merged) return merged;
      continue;
    }
    fs::remove_all(target, ec);  // a symlink is removed, never followed
    if (!ec) fs::rename(source, target, ec);
    if (ec) return io_error("cannot move " + source.string() + " into the root filesystem", ec);
  }
  return {};
}

result<void> unpack_with_skopeo(fs::path const& skopeo, std::string const& reference,
                                fs::path const& scratch, fs::path const& rootfs) {
  auto const layout = scratch / "oci";
  std::vector<std::string> argv = {skopeo.string()};
  // podman reads CONTAINERS_REGISTRIES_CONF (mirrors, insecure registries); skopeo 1.9 does not
  // and must be told, or the two tools would fetch the same reference differently.
  if (char const* conf = std::getenv("CONTAINERS_REGISTRIES_CONF"); conf != nullptr && *conf) {
    argv.insert(argv.end(), {"--registries-conf", conf});
  }
  argv.insert(argv.end(), {"copy", "--quiet", "docker://" + reference,
                           "oci:" + layout.string() + ":image"});
  auto copied = step("skopeo copy", std::move(argv), kFetchTimeout);
  if (!copied) return copied.error();
  auto layers = layers_of(layout, "image");
  if (!layers) return layers.error();
  for (std::size_t i = 0; i < layers->size(); ++i) {
    auto const dir = scratch / ("layer-" + std::to_string(i));
    std::error_code ec;
    fs::create_directory(dir, ec);
    if (ec) return io_error("cannot create " + dir.string(), ec);
    // tar recognises gzip and zstd layers by their content.
    auto unpacked = step("tar (layer " + std::to_string(i) + ")",
                         {"tar", "-C", dir.string(), "--numeric-owner", "-xpf",
                          (*layers)[i].string()},
                         kLocalTimeout);
    if (!unpacked) return unpacked.error();
    if (auto merged = merge_layer(dir, rootfs); !merged) return merged;
    fs::remove_all(dir, ec);
  }
  return {};
}

// --- podman: pull, create, export ------------------------------------------------------------

result<void> unpack_with_podman(fs::path const& podman, std::string const& reference,
                                fs::path const& scratch, fs::path const& rootfs) {
  auto const p = podman.string();
  if (auto pulled = step("podman pull", {p, "pull", "--quiet", reference}, kFetchTimeout);
      !pulled) {
    return pulled.error();
  }
  // A container is never started: it only gives `export` the flattened file system. The
  // command is there because create refuses an image that has none.
  auto created = step("podman create", {p, "create", reference, "true"}, kLocalTimeout);
  if (!created) return created.error();
  auto const id = detail::output_tail(created->out, 200);
  auto const tarball = scratch / "rootfs.tar";
  auto exported = step("podman export", {p, "export", "-o", tarball.string(), id}, kLocalTimeout);
  (void)run_command({p, "rm", "--force", id}, kLocalTimeout);
  if (!exported) return exported.error();
  auto unpacked = step("tar", {"tar", "-C", rootfs.string(), "--numeric-owner", "-xpf",
                               tarball.string()},
                       kLocalTimeout);
  if (!unpacked) return unpacked.error();
  std::error_code ec;
  fs::remove(tarball, ec);
  return {};
}

}  // namespace

result<std::filesystem::path> prepare_oci_image(std::string const& reference,
                                                std::filesystem::path const& work_dir,
                                                OciOptions const& options) {
  // The reference becomes an argument of skopeo or podman: only the reference grammar (no
  // leading '-', no spaces or control characters) reaches them.
  if (auto ref = api::ImageReference::parse(reference, "OCI reference"); !ref)
    return Error(errc::invalid_request, ref.error().message());
  auto const skopeo = detail::find_program(options.skopeo);
  auto const podman = skopeo ? std::nullopt : detail::find_program(options.podman);
  if (!skopeo && !podman) {
    return Error(errc::tool_missing, "an OCI image needs skopeo or podman, and neither is "
                                     "installed (apt-get install skopeo)");
  }
  auto const mkfs = detail::find_program("mkfs.ext4");
  if (!mkfs) {
    return Error(errc::tool_missing, "making a disk of an OCI image needs mkfs.ext4 "
                                     "(apt-get install e2fsprogs)");
  }
  if (!detail::find_program("tar")) {
    return Error(errc::tool_missing, "unpacking an OCI image needs tar (apt-get install tar)");
  }

  std::error_code ec;
  fs::create_directories(work_dir, ec);
  if (ec) return io_error("cannot create " + work_dir.string(), ec);
  auto const stem = image_stem(reference);
  // Beside the result, so the finished disk is renamed into place, never copied; per process, so
  // two preparations of one image do not share it.
  Scratch scratch{work_dir / ("." + stem + ".tmp-" + std::to_string(::getpid()))};
  fs::remove_all(scratch.path, ec);
  auto const rootfs = scratch.path / "rootfs";
  fs::create_directories(rootfs, ec);
  if (ec) return io_error("cannot create " + rootfs.string(), ec);

  log::info("launcher", "preparing ", reference, " with ", (skopeo ? *skopeo : *podman).string());
  auto unpacked = skopeo ? unpack_with_skopeo(*skopeo, reference, scratch.path, rootfs)
                         : unpack_with_podman(*podman, reference, scratch.path, rootfs);
  if (!unpacked) return unpacked.error();

  auto const disk = scratch.path / "disk.img";
  auto made = step("mkfs.ext4", {mkfs->string(), "-q", "-F", "-L", "rootfs", "-d", rootfs.string(),
                                 disk.string(), std::to_string(options.disk_gib) + "G"},
                   kLocalTimeout);
  if (!made) return made.error();
  auto const image = work_dir / (stem + ".img");
  // A VM still running from an older disk of this name keeps that file: rename replaces the
  // name, not the inode it has open.
  fs::rename(disk, image, ec);
  if (ec) return io_error("cannot move the disk to " + image.string(), ec);
  return image;
}

}  // namespace ee::launcher
