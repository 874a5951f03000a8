// The image manifest and the predicted TDX measurements (launcher/image.hpp): the Authenticode
// digest of a PE/COFF image laid out here byte by byte, QEMU's setup-header patch, the RTMR
// replay, the command line's UTF-16 digest, the manifest's JSON both ways and its verification
// against the files, and the errors of each for malformed input.
#include <easyenclave/launcher/image.hpp>

#include <easyenclave/encoding.hpp>
#include <easyenclave/launcher/error.hpp>
#include <easyenclave/launcher/launcher.hpp>

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <openssl/sha.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace launcher = ee::launcher;
using Bytes = std::vector<std::uint8_t>;

void put16(Bytes& b, std::size_t at, std::uint32_t v) {
  b[at] = static_cast<std::uint8_t>(v);
  b[at + 1] = static_cast<std::uint8_t>(v >> 8);
}
void put32(Bytes& b, std::size_t at, std::uint32_t v) {
  put16(b, at, v & 0xffff);
  put16(b, at + 2, v >> 16);
}
std::uint32_t get32(Bytes const& b, std::size_t at) {
  return static_cast<std::uint32_t>(b[at] | b[at + 1] << 8 | b[at + 2] << 16) |
         static_cast<std::uint32_t>(b[at + 3]) << 24;
}

launcher::Sha384Digest sha384(Bytes const& data) {
  launcher::Sha384Digest d{};
  SHA384(data.data(), data.size(), d.data());
  return d;
}

// The offsets of the image `pe_image` lays out (PE32+, 16 data directories, like a bzImage: the
// PE header at 0x40, the Linux setup header at 0x1f1, headers 0x200 bytes).
constexpr std::size_t kPe = 0x40, kOpt = kPe + 24, kChecksum = kOpt + 64,
                      kCertDir = kOpt + 112 + 4 * 8, kTable = kOpt + 240, kHeaders = 0x200;

// A PE/COFF image with the Linux boot protocol's setup header, two sections (.text at 0x400 of
// 0xc00 bytes listed first, .setup at 0x200 of 0x200 bytes), `trailer` bytes after them of which
// the last `cert` are the certificate table.
Bytes pe_image(std::size_t trailer = 0, std::size_t cert = 0) {
  Bytes b(0x1000 + trailer, 0);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(i * 7 + 3);
  b[0] = 'M', b[1] = 'Z';
  put32(b, 0x3c, kPe);
  std::memcpy(&b[kPe], "PE\0\0", 4);
  put16(b, kPe + 4 + 2, 2);    // sections
  put16(b, kPe + 4 + 16, 240);  // optional header size
  put16(b, kOpt, 0x20b);
  put32(b, kOpt + 60, kHeaders);
  put32(b, kOpt + 108, 16);  // data directories
  put32(b, kCertDir, cert ? static_cast<std::uint32_t>(b.size() - cert) : 0);
  put32(b, kCertDir + 4, static_cast<std::uint32_t>(cert));
  put32(b, kTable + 16, 0xc00);
  put32(b, kTable + 20, 0x400);
  put32(b, kTable + 40 + 16, 0x200);
  put32(b, kTable + 40 + 20, 0x200);
  // The setup header: "HdrS", protocol 2.15, LOADED_HIGH, initrd_addr_max 0x7fffffff.
  put32(b, 0x202, 0x53726448);
  put16(b, 0x206, 0x020f);
  b[0x211] = 0x01;
  put32(b, 0x22c, 0x7fffffff);
  put16(b, 0x236, 0);
  return b;
}

// What Authenticode hashes for pe_image(trailer, cert), written out range by range.
Bytes authenticode_bytes(Bytes const& b, std::size_t cert) {
  Bytes out(b.begin(), b.begin() + kChecksum);
  out.insert(out.end(), b.begin() + kChecksum + 4, b.begin() + kCertDir);
  out.insert(out.end(), b.begin() + kCertDir + 8, b.begin() + kHeaders);
  out.insert(out.end(), b.begin() + 0x200, b.begin() + 0x400);  // .setup (lower offset first)
  out.insert(out.end(), b.begin() + 0x400, b.begin() + 0x1000);  // .text
  out.insert(out.end(), b.begin() + 0x1000, b.end() - static_cast<std::ptrdiff_t>(cert));
  if (b.size() % 8 != 0) out.insert(out.end(), 8 - b.size() % 8, 0);
  return out;
}

TEST(ImageMeasure, AuthenticodeHashesTheDocumentedRanges) {
  for (auto [trailer, cert] : {std::pair<std::size_t, std::size_t>{0, 0}, {0x100, 0x100}, {0x105, 0x80}}) {
    auto const image = pe_image(trailer, cert);
    auto digest = launcher::pe_authenticode_sha384(image);
    ASSERT_TRUE(digest) << digest.error().message();
    EXPECT_EQ(*digest, sha384(authenticode_bytes(image, cert))) << trailer << " " << cert;
  }
}

TEST(ImageMeasure, AuthenticodeIgnoresTheChecksumAndTheSignature) {
  auto image = pe_image(0x100, 0x100);
  auto const before = launcher::pe_authenticode_sha384(image).value();
  put32(image, kChecksum, 0xdeadbeef);
  image[image.size() - 1] ^= 0xff;  // inside the certificate table
  EXPECT_EQ(launcher::pe_authenticode_sha384(image).value(), before);
  image[0x500] ^= 0xff;  // inside .text
  EXPECT_NE(launcher::pe_authenticode_sha384(image).value(), before);
}

TEST(ImageMeasure, AuthenticodeRefusesWhatIsNotPe) {
  auto const good = pe_image();
  for (std::size_t n = 0; n < kTable + 80; n += 7) {  // every truncation of the headers
    Bytes cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    auto digest = launcher::pe_authenticode_sha384(cut);
    ASSERT_FALSE(digest) << n;
    EXPECT_EQ(digest.error(), launcher::errc::invalid_request);
  }
  auto bad = good;
  bad[0] = 'X';
  EXPECT_FALSE(launcher::pe_authenticode_sha384(bad));
  bad = good;
  put32(bad, kTable + 20, 0xfffff000);  // a section past the end
  EXPECT_NE(launcher::pe_authenticode_sha384(bad).error().message().find("past the end"),
            std::string::npos);
  bad = good;
  put32(bad, 0x3c, 0x7fffffff);
  EXPECT_FALSE(launcher::pe_authenticode_sha384(bad));
}

TEST(ImageMeasure, QemuPatchesTheSetupHeaderAsItsLinuxLoaderDoes) {
  auto const kernel = pe_image();
  auto patched = launcher::qemu_patched_kernel(kernel, 0x123456, 4ull << 30);
  ASSERT_TRUE(patched) << patched.error().message();
  EXPECT_EQ((*patched)[0x210], 0xb0);                    // loader: QEMU
  EXPECT_EQ((*patched)[0x211], 0x81);                    // LOADED_HIGH | CAN_USE_HEAP
  EXPECT_EQ(get32(*patched, 0x224) & 0xffff, 0xfe00u);   // heap end: 0x20000 - 0x10000 - 0x200
  EXPECT_EQ(get32(*patched, 0x228), 0x20000u);           // command line address
  // 4 GiB: low memory ends at 2 GiB; the initrd sits below it and the ACPI tables, page aligned.
  EXPECT_EQ(get32(*patched, 0x218), (0x80000000u - 0x28000u - 1u - 0x123456u) & ~4095u);
  EXPECT_EQ(get32(*patched, 0x21c), 0x123456u);
  // From 2.75 GiB up, the placement is the same; below, it follows the memory.
  EXPECT_EQ(launcher::qemu_patched_kernel(kernel, 0x123456, 64ull << 30).value(), *patched);
  EXPECT_NE(launcher::qemu_patched_kernel(kernel, 0x123456, 1ull << 30).value(), *patched);
  // Nothing else changes.
  Bytes masked = *patched;
  for (std::size_t at : std::initializer_list<std::size_t>{0x210, 0x211, 0x224, 0x225, 0x228, 0x229, 0x22a, 0x22b, 0x218, 0x219,
                         0x21a, 0x21b, 0x21c, 0x21d, 0x21e, 0x21f}) {
    masked[at] = kernel[at];
  }
  EXPECT_EQ(masked, kernel);
}

TEST(ImageMeasure, QemuPatchRefusesImpossibleInputs) {
  EXPECT_FALSE(launcher::qemu_patched_kernel(Bytes(100, 0), 0, 4ull << 30));
  EXPECT_FALSE(launcher::qemu_patched_kernel(pe_image(), 0x7ffff000, 4ull << 30));  // initrd too big
  EXPECT_FALSE(launcher::qemu_patched_kernel(pe_image(), 10, 0x1000));               // no memory
  auto old = pe_image();
  put32(old, 0x202, 0);  // no "HdrS": protocol 0, which cannot take an initrd
  EXPECT_FALSE(launcher::qemu_patched_kernel(old, 10, 4ull << 30));
  EXPECT_TRUE(launcher::qemu_patched_kernel(old, 0, 4ull << 30));
}

TEST(ImageMeasure, RtmrReplayExtendsFromZero) {
  EXPECT_EQ(launcher::rtmr_replay({}), launcher::Sha384Digest{});
  launcher::Sha384Digest const e1 = sha384(Bytes{'a'}), e2 = sha384(Bytes{'b'});
  Bytes first(48, 0);
  first.insert(first.end(), e1.begin(), e1.end());
  auto const r1 = sha384(first);
  Bytes second(r1.begin(), r1.end());
  second.insert(second.end(), e2.begin(), e2.end());
  launcher::Sha384Digest const events[] = {e1, e2};
  EXPECT_EQ(launcher::rtmr_replay(events), sha384(second));
}

TEST(ImageMeasure, CommandLineIsMeasuredAsUtf16WithItsTerminator) {
  Bytes utf16 = {'r', 0, 'o', 0, 0, 0};
  EXPECT_EQ(launcher::cmdline_event_digest("ro"), sha384(utf16));
  // U+00E9 and U+1F600 (a surrogate pair).
  Bytes wide = {0xe9, 0x00, 0x3d, 0xd8, 0x00, 0xde, 0, 0};
  EXPECT_EQ(launcher::cmdline_event_digest("\xc3\xa9\xf0\x9f\x98\x80"), sha384(wide));
}

TEST(ImageMeasure, PredictionFollowsKernelInitrdAndCommandLine) {
  auto const kernel = pe_image(0x100, 0x100);
  Bytes const initrd(5000, 0x42);
  auto p = launcher::predict_direct_boot_rtmrs(kernel, initrd, "console=ttyS0", 4).value();
  EXPECT_EQ(p.memory_gib, 4u);
  EXPECT_EQ(p.rtmr1.size(), 96u);
  // RTMR2 by hand: the command line's event, then the initrd's.
  launcher::Sha384Digest const events[] = {launcher::cmdline_event_digest("console=ttyS0"),
                                           sha384(initrd)};
  EXPECT_EQ(p.rtmr2, ee::hex_encode(launcher::rtmr_replay(events)));
  // RTMR1 by hand: the patched kernel's Authenticode digest and TDVF's four fixed events.
  auto const patched = launcher::qemu_patched_kernel(kernel, 5000, 4ull << 30).value();
  auto text = [](std::string_view s) { return sha384(Bytes(s.begin(), s.end())); };
  launcher::Sha384Digest const rtmr1[] = {
      launcher::pe_authenticode_sha384(patched).value(),
      text("Calling EFI Application from Boot Option"), sha384(Bytes(4, 0)),
      text("Exit Boot Services Invocation"), text("Exit Boot Services Returned with Success")};
  EXPECT_EQ(p.rtmr1, ee::hex_encode(launcher::rtmr_replay(rtmr1)));

  auto const other = launcher::predict_direct_boot_rtmrs(kernel, initrd, "console=ttyS1", 4).value();
  EXPECT_EQ(other.rtmr1, p.rtmr1);
  EXPECT_NE(other.rtmr2, p.rtmr2);
  auto const bigger = launcher::predict_direct_boot_rtmrs(kernel, Bytes(6000, 1), "console=ttyS0", 4).value();
  EXPECT_NE(bigger.rtmr1, p.rtmr1);  // the initrd's size is in the patched header
}

struct BuildDir {
  ee::test::TempDir dir;
  launcher::ManifestInputs inputs;
  BuildDir() {
    auto const kernel = pe_image(0x100, 0x100);
    dir.write("vmlinuz", std::string(kernel.begin(), kernel.end()));
    dir.write("initrd.img", std::string(4096, 'i'));
    dir.write("rootfs.squashfs", std::string(3 << 20, 'r'));
    dir.write("rootfs.verity", std::string(8192, 'v'));
    dir.write("disk.qcow2", "qcow");
    inputs = {.dir = dir.path(), .target = "local", .profile = "test", .source_date_epoch = 1700000000,
              .kernel = "vmlinuz", .initrd = "initrd.img", .rootfs = "rootfs.squashfs",
              .verity = "rootfs.verity", .disk = "disk.qcow2",
              .verity_root_hash = std::string(64, 'a'), .verity_salt = std::string(64, 'b'),
              .cmdline = "console=ttyS0 easyenclave.roothash=" + std::string(64, 'a')};
  }
};

TEST(ImageManifest, RoundTripsAndVerifiesAgainstTheFiles) {
  BuildDir b;
  auto m = launcher::make_image_manifest(b.inputs);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->rootfs.size, 3u << 20);
  EXPECT_EQ(m->predicted.size(), std::size(launcher::kPredictedMemoryGib));
  // RTMR1 is the same for every size from 2.75 GiB up.
  EXPECT_EQ(m->predicted[1].rtmr1, m->predicted[3].rtmr1);
  auto const json = launcher::image_manifest_json(*m);
  auto parsed = launcher::parse_image_manifest(json);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(*parsed, *m);
  EXPECT_EQ(launcher::image_manifest_json(*parsed), json);  // stable bytes
  EXPECT_EQ(launcher::make_image_manifest(b.inputs).value(), *m);  // the same inputs, the same manifest

  b.dir.write("manifest.json", json);
  auto loaded = launcher::load_image_manifest(b.dir.path());
  ASSERT_TRUE(loaded);
  EXPECT_TRUE(launcher::verify_image_manifest(b.dir.path(), *loaded).value().empty());
  b.dir.write("initrd.img", std::string(4096, 'j'));
  auto differences = launcher::verify_image_manifest(b.dir.path(), *loaded).value();
  ASSERT_EQ(differences.size(), 2u);  // the digest and the predictions
  EXPECT_NE(differences[0].find("initrd"), std::string::npos);
}

TEST(ImageManifest, RefusesBadInputs) {
  BuildDir b;
  auto in = b.inputs;
  in.target = "aws";
  EXPECT_EQ(launcher::make_image_manifest(in).error(), launcher::errc::invalid_request);
  in = b.inputs;
  in.verity_root_hash = "XYZ";
  EXPECT_EQ(launcher::make_image_manifest(in).error(), launcher::errc::invalid_request);
  in = b.inputs;
  in.cmdline = std::string(2048, 'x');
  EXPECT_EQ(launcher::make_image_manifest(in).error(), launcher::errc::invalid_request);
  in = b.inputs;
  in.cmdline = "a\nb";
  EXPECT_EQ(launcher::make_image_manifest(in).error(), launcher::errc::invalid_request);
  in = b.inputs;
  in.kernel = "missing";
  auto missing = launcher::make_image_manifest(in);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), launcher::errc::image_failed);
  EXPECT_NE(missing.error().message().find("missing"), std::string::npos);
}

TEST(ImageManifest, EveryTruncationAndBadFieldIsRefused) {
  BuildDir b;
  auto const json = launcher::image_manifest_json(launcher::make_image_manifest(b.inputs).value());
  for (std::size_t n = 0; n + 1 < json.size(); n += 13) {
    EXPECT_FALSE(launcher::parse_image_manifest(json.substr(0, n))) << n;
  }
  auto replaced = [&json](std::string const& from, std::string const& to) {
    auto copy = json;
    copy.replace(copy.find(from), from.size(), to);
    return copy;
  };
  auto traversal = launcher::parse_image_manifest(replaced("\"vmlinuz\"", "\"../etc/passwd\""));
  ASSERT_FALSE(traversal);
  EXPECT_NE(traversal.error().message().find("kernel.path"), std::string::npos);
  EXPECT_FALSE(launcher::parse_image_manifest(replaced("\"schema\": 1", "\"schema\": 2")));
  EXPECT_FALSE(launcher::parse_image_manifest(replaced("\"size\": 4096", "\"size\": -1")));
  EXPECT_FALSE(launcher::parse_image_manifest("[]"));
}

TEST(ImageBoot, FindsTheImagesOwnKernelOrSaysWhatIsMissing) {
  BuildDir b;
  auto m = launcher::make_image_manifest(b.inputs).value();
  b.dir.write("manifest.json", launcher::image_manifest_json(m));
  for (auto const& path : {b.dir.path() / "disk.qcow2", b.dir.path(), b.dir.path() / "manifest.json"}) {
    auto boot = launcher::image_boot_files(path);
    ASSERT_TRUE(boot) << boot.error().message();
    EXPECT_EQ(boot->disk, b.dir.path() / "disk.qcow2");
    EXPECT_EQ(boot->kernel, b.dir.path() / "vmlinuz");
    EXPECT_EQ(boot->initrd, b.dir.path() / "initrd.img");
    EXPECT_EQ(boot->cmdline, m.cmdline);
  }
  fs::remove(b.dir.path() / "vmlinuz");
  auto missing = launcher::image_boot_files(b.dir.path() / "disk.qcow2");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), launcher::errc::image_failed);
  EXPECT_NE(missing.error().message().find("kernel"), std::string::npos);

  ee::test::TempDir bare;
  bare.write("disk.qcow2", "qcow");
  auto none = launcher::image_boot_files(bare.path() / "disk.qcow2");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message().find("no --kernel"), std::string::npos);
}

}  // namespace

namespace {

launcher::HostPaths host(fs::path const& root) {
  launcher::HostPaths paths;
  paths.state_root = root;
  return paths;
}

bool argv_contains(std::vector<std::string> const& argv, std::string const& needle) {
  return std::any_of(argv.begin(), argv.end(),
                     [&](auto const& a) { return a.find(needle) != std::string::npos; });
}

TEST(ImageLaunch, WithoutAKernelTheImagesOwnBootsWithTheManifestsCommandLine) {
  BuildDir b;
  auto const m = launcher::make_image_manifest(b.inputs).value();
  b.dir.write("manifest.json", launcher::image_manifest_json(m));
  launcher::LaunchRequest r;
  r.image = (b.dir.path() / "disk.qcow2").string();
  r.owner = "github:org/acme";
  r.cp_url = "https://cp.example.com";
  r.tdx = false;
  ASSERT_TRUE(launcher::use_image_kernel(r));
  EXPECT_EQ(r.kernel, (b.dir.path() / "vmlinuz").string());
  auto p = launcher::plan_launch(r, host(b.dir.path() / "vms"));
  ASSERT_TRUE(p) << p.error().message();
  auto const& argv = p->qemu_argv;
  auto const append = std::find(argv.begin(), argv.end(), "-append");
  ASSERT_NE(append, argv.end());
  EXPECT_EQ(*(append + 1), m.cmdline);  // no configuration added: RTMR2 stays as predicted
  EXPECT_FALSE(p->config_drive.empty());
  EXPECT_TRUE(argv_contains(argv, "disk.qcow2,if=virtio,format=qcow2,readonly=on"));
  EXPECT_TRUE(argv_contains(argv, (b.dir.path() / "initrd.img").string()));

  // A request with its own kernel, or a disk without a manifest, is left as it is.
  launcher::LaunchRequest own;
  own.image = (b.dir.path() / "disk.qcow2").string();
  own.kernel = "/boot/vmlinuz";
  own.append = "console=ttyS0";
  auto const before = own;
  ASSERT_TRUE(launcher::use_image_kernel(own));
  EXPECT_EQ(own.append, before.append);
  EXPECT_FALSE(own.config_drive);
  ee::test::TempDir bare;
  launcher::LaunchRequest plain;
  plain.image = bare.write("disk.img", "raw").string();
  ASSERT_TRUE(launcher::use_image_kernel(plain));
  EXPECT_TRUE(plain.kernel.empty());
}

TEST(ImageLaunch, TheCpVmsSecretsGoOnTheConfigDriveNeverTheCommandLine) {
  BuildDir b;
  b.dir.write("manifest.json",
              launcher::image_manifest_json(launcher::make_image_manifest(b.inputs).value()));
  launcher::LaunchRequest r;
  r.image = b.dir.path().string();  // the build's directory works as well as its disk
  r.cp = true;
  r.tdx = false;
  r.forward_cp_port = 18080;
  r.cf_tunnel_token = "tunnel-secret-1";
  r.cp_env = {{"EE_ADMIN_TOKEN", "admin-secret-2"}, {"CLOUDFLARE_API_TOKEN", "cf-secret-3"}};
  ASSERT_TRUE(launcher::use_image_kernel(r));
  auto p = launcher::plan_launch(r, host(b.dir.path() / "vms"));
  ASSERT_TRUE(p) << p.error().message();
  for (auto const* secret : {"tunnel-secret-1", "admin-secret-2", "cf-secret-3"}) {
    EXPECT_FALSE(argv_contains(p->qemu_argv, secret)) << secret;
    EXPECT_NE(p->agent_config.find(secret), std::string::npos) << secret;  // on the drive
  }
  EXPECT_TRUE(argv_contains(p->qemu_argv, "hostfwd=tcp:127.0.0.1:18080-:8080"));
  // ee-cp listens where the forward arrives.
  EXPECT_NE(p->agent_config.find(R"("EE_LISTEN":"0.0.0.0:8080")"), std::string::npos);
}

TEST(ImageLaunch, AMissingKernelIsNamed) {
  BuildDir b;
  b.dir.write("manifest.json",
              launcher::image_manifest_json(launcher::make_image_manifest(b.inputs).value()));
  fs::remove(b.dir.path() / "vmlinuz");
  launcher::LaunchRequest r;
  r.image = (b.dir.path() / "disk.qcow2").string();
  auto own = launcher::use_image_kernel(r);
  ASSERT_FALSE(own);
  EXPECT_EQ(own.error(), launcher::errc::image_failed);
  EXPECT_NE(own.error().message().find("kernel"), std::string::npos);
  EXPECT_NE(own.error().message().find("missing"), std::string::npos);
}

}  // namespace
