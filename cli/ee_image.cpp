// `ee image manifest DIR ...` writes the manifest of an image build (image/build.sh calls it);
// `ee image measure DIR|MANIFEST [--verify]` prints what a publisher puts into the catalog: the
// digests, the verity root hash, the command line and the predicted RTMRs, and with --verify
// recomputes them from the files. The logic is ee::launcher (launcher/image.hpp).
#include "ee_image.hpp"

#include <easyenclave/launcher/image.hpp>

#include <filesystem>
#include <iostream>
#include <string>

struct ImageCommands {
  CLI::App* manifest = nullptr;
  CLI::App* measure = nullptr;
  ee::launcher::ManifestInputs inputs{};
  std::string dir{}, path{};
  bool verify = false, json = false;
};

namespace {

// Exit codes shared by the programs (STYLE.md): 1 rejected (files differ), 2 usage, 3 I/O.
constexpr int kExitRejected = 1;

int fail(ee::Error const& e) {
  std::cerr << "ee: " << e.message() << " (" << e.id() << ")\n";
  return e == ee::condition::invalid_input ? 2 : 3;
}

void print_text(ee::launcher::ImageManifest const& m) {
  std::cout << "target          " << m.target << " (" << m.profile << ")\n";
  for (auto const& [name, f] : {std::pair{"kernel", &m.kernel}, std::pair{"initrd", &m.initrd},
                                std::pair{"rootfs", &m.rootfs}, std::pair{"verity", &m.verity},
                                std::pair{"disk", &m.disk}}) {
    std::cout << std::string(name) + std::string(16 - std::string(name).size(), ' ') << f->sha256
              << "  " << f->path << " (" << f->size << " bytes)\n";
  }
  std::cout << "verity root     " << m.verity_root_hash << "\n"
            << "cmdline         " << m.cmdline << "\n"
            << "MRTD, RTMR0     recorded from the target platform (TDVF and the VM's shape)\n";
  for (auto const& p : m.predicted) {
    std::cout << "RTMR1 " << p.memory_gib << " GiB" << std::string(p.memory_gib < 10 ? 5 : 4, ' ')
              << p.rtmr1 << "  (predicted: kernel)\n"
              << "RTMR2 " << p.memory_gib << " GiB" << std::string(p.memory_gib < 10 ? 5 : 4, ' ')
              << p.rtmr2 << "  (predicted: command line, initrd)\n";
  }
  std::cout << "RTMR3           all zero at boot (nothing in the image extends it)\n";
}

int measure(ImageCommands const& c) {
  auto m = ee::launcher::load_image_manifest(c.path);
  if (!m) return fail(m.error());
  std::error_code ec;
  auto const dir = std::filesystem::is_directory(c.path, ec)
                       ? std::filesystem::path(c.path)
                       : std::filesystem::path(c.path).parent_path();
  std::cout << (c.json ? ee::launcher::image_manifest_json(*m) : "");
  if (!c.json) print_text(*m);
  if (!c.verify) return 0;
  auto differences = ee::launcher::verify_image_manifest(dir.empty() ? "." : dir, *m);
  if (!differences) return fail(differences.error());
  for (auto const& d : *differences) std::cerr << "ee: mismatch: " << d << "\n";
  if (!c.json) {
    std::cout << (differences->empty() ? "verified        every digest and prediction matches the files\n"
                                       : "verified        NO: the files differ from the manifest\n");
  }
  return differences->empty() ? 0 : kExitRejected;
}

}  // namespace

std::shared_ptr<ImageCommands> add_image_commands(CLI::App& app) {
  auto c = std::make_shared<ImageCommands>();
  auto* image = app.add_subcommand("image", "Guest image manifests and TDX measurements (docs/image.md)")
                    ->require_subcommand(1);
  c->manifest = image->add_subcommand("manifest", "Write the manifest of an image build to stdout");
  auto& in = c->inputs;
  c->manifest->add_option("DIR", c->dir, "The build's output directory")->required();
  c->manifest->add_option("--target", in.target, "local|gcp|azure")->required();
  c->manifest->add_option("--profile", in.profile, "full|test")->required();
  c->manifest->add_option("--source-date-epoch", in.source_date_epoch, "The build's time")->required();
  c->manifest->add_option("--kernel", in.kernel, "Kernel file in DIR")->required();
  c->manifest->add_option("--initrd", in.initrd, "Initrd file in DIR")->required();
  c->manifest->add_option("--rootfs", in.rootfs, "Root file system in DIR")->required();
  c->manifest->add_option("--verity", in.verity, "dm-verity hash tree in DIR")->required();
  c->manifest->add_option("--disk", in.disk, "The target's disk in DIR");
  c->manifest->add_option("--root-hash", in.verity_root_hash, "dm-verity root hash (hex)")->required();
  c->manifest->add_option("--salt", in.verity_salt, "dm-verity salt (hex)")->required();
  c->manifest->add_option("--cmdline", in.cmdline, "The image's kernel command line")->required();
  c->measure = image->add_subcommand(
      "measure", "Print an image's digests and predicted RTMRs (exit 1 with --verify when files differ)");
  c->measure->add_option("PATH", c->path, "Image build directory or its manifest.json")->required();
  c->measure->add_flag("--verify", c->verify, "Recompute everything from the files");
  c->measure->add_flag("--json", c->json, "The manifest as JSON");
  return c;
}

std::optional<int> run_image_command(ImageCommands const& c) {
  if (*c.manifest) {
    auto inputs = c.inputs;
    inputs.dir = c.dir;
    auto m = ee::launcher::make_image_manifest(inputs);
    if (!m) return fail(m.error());
    std::cout << ee::launcher::image_manifest_json(*m);
    return 0;
  }
  if (*c.measure) return measure(c);
  return std::nullopt;
}
