// The guest image's manifest and the TDX direct-boot measurements predicted from its files
// (image.hpp). The PE/COFF walk and the setup-header patch read only what they bounds-check.
#include <easyenclave/launcher/image.hpp>

#include <easyenclave/encoding.hpp>
#include <easyenclave/file.hpp>
#include <easyenclave/launcher/error.hpp>

#include "detail/crypto.hpp"
#include "detail/json.hpp"

#include <algorithm>
#include <fstream>
#include <limits>

namespace ee::launcher {
namespace {

namespace fs = std::filesystem;
namespace json = ::ee::detail::json;

using Bytes = std::span<std::uint8_t const>;

// A kernel or an initrd is tens of MiB; more is not one.
constexpr std::size_t kMaxBootFileBytes = 512ull * 1024 * 1024;
// The command line QEMU hands over holds 2047 bytes and its terminator.
constexpr std::size_t kMaxCmdline = 2047;

Error invalid(std::string text) { return Error(errc::invalid_request, std::move(text)); }
Error failed(std::string text) { return Error(errc::image_failed, std::move(text)); }

// Little-endian reads and writes at an offset the caller has checked.
std::uint32_t le16(Bytes b, std::size_t at) {
  return static_cast<std::uint32_t>(b[at]) | static_cast<std::uint32_t>(b[at + 1]) << 8;
}
std::uint32_t le32(Bytes b, std::size_t at) {
  return le16(b, at) | le16(b, at + 2) << 16;
}
void put16(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) {
  b[at] = static_cast<std::uint8_t>(v & 0xff);
  b[at + 1] = static_cast<std::uint8_t>((v >> 8) & 0xff);
}
void put32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) {
  put16(b, at, v & 0xffff);
  put16(b, at + 2, v >> 16);
}

Sha384Digest sha384_of(Bytes data) { return ::ee::detail::sha384(data); }
Sha384Digest sha384_of(std::string_view text) {
  return ::ee::detail::sha384(::ee::detail::as_bytes(text));
}

bool is_hex(std::string_view s) {
  return !s.empty() && s.size() % 2 == 0 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

result<std::vector<std::uint8_t>> read_bytes(fs::path const& path) {
  auto text = read_file(path, kMaxBootFileBytes);
  if (!text) return failed(path.string() + ": " + text.error().message());
  return std::vector<std::uint8_t>(text->begin(), text->end());
}

// SHA-256 and size of a file of any size, read in pieces.
result<ImageFile> digest_file(fs::path const& dir, std::string const& name) {
  ImageFile f;
  f.path = name;
  std::ifstream in(dir / name, std::ios::binary);
  if (!in) return failed("cannot read " + (dir / name).string());
  ::ee::detail::Sha256Hasher hasher;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    auto const n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    hasher.update({reinterpret_cast<std::uint8_t const*>(buffer.data()), n});
    f.size += n;
  }
  if (in.bad()) return failed("error reading " + (dir / name).string());
  f.sha256 = hex_encode(hasher.finish());
  return f;
}

result<std::vector<PredictedRtmrs>> predict_all(fs::path const& dir, std::string const& kernel,
                                                std::string const& initrd,
                                                std::string const& cmdline) {
  auto k = read_bytes(dir / kernel);
  if (!k) return k.error();
  auto i = read_bytes(dir / initrd);
  if (!i) return i.error();
  std::vector<PredictedRtmrs> out;
  for (auto const gib : kPredictedMemoryGib) {
    auto p = predict_direct_boot_rtmrs(*k, *i, cmdline, gib);
    if (!p) return p.error();
    out.push_back(std::move(*p));
  }
  return out;
}

}  // namespace

// --- measurements -------------------------------------------------------------------------------

result<Sha384Digest> pe_authenticode_sha384(Bytes image) {
  auto const size = image.size();
  auto need = [size](std::size_t end, char const* what) -> result<void> {
    if (end > size) return invalid(std::string("not a PE/COFF image: truncated ") + what);
    return {};
  };
  if (auto ok = need(0x40, "DOS header"); !ok) return ok.error();
  if (image[0] != 'M' || image[1] != 'Z') return invalid("not a PE/COFF image: no MZ signature");
  std::size_t const pe = le32(image, 0x3c);
  if (auto ok = need(pe + 24, "PE header"); !ok) return ok.error();
  if (image[pe] != 'P' || image[pe + 1] != 'E' || image[pe + 2] != 0 || image[pe + 3] != 0) {
    return invalid("not a PE/COFF image: no PE signature");
  }
  std::size_t const coff = pe + 4;
  std::size_t const sections = le16(image, coff + 2);
  std::size_t const optional_size = le16(image, coff + 16);
  std::size_t const opt = coff + 20;
  if (auto ok = need(opt + optional_size, "optional header"); !ok) return ok.error();
  auto const magic = le16(image, opt);
  if (magic != 0x10b && magic != 0x20b) return invalid("not a PE/COFF image: unknown magic");
  bool const plus = magic == 0x20b;
  std::size_t const rva_count_at = opt + (plus ? 108 : 92);
  std::size_t const dirs = opt + (plus ? 112 : 96);
  if (optional_size < (plus ? 112u : 96u)) return invalid("PE optional header too short");
  std::size_t const checksum = opt + 64;
  std::size_t const headers_size = le32(image, opt + 60);
  if (auto ok = need(headers_size, "headers"); !ok) return ok.error();
  // The certificate table's entry (data directory 4), when the image has five or more.
  bool const has_cert_dir = le32(image, rva_count_at) > 4 && opt + optional_size >= dirs + 40;
  std::size_t const cert_dir = dirs + 4 * 8;
  if (checksum + 4 > headers_size || (has_cert_dir && cert_dir + 8 > headers_size)) {
    return invalid("PE headers smaller than the optional header");
  }

  std::string buffer;  // the bytes hashed, in order (a kernel is a few MiB)
  auto add = [&](std::size_t from, std::size_t to) {
    buffer.append(reinterpret_cast<char const*>(image.data()) + from, to - from);
  };
  add(0, checksum);
  if (has_cert_dir) {
    add(checksum + 4, cert_dir);
    add(cert_dir + 8, headers_size);
  } else {
    add(checksum + 4, headers_size);
  }
  std::size_t const table = opt + optional_size;
  if (auto ok = need(table + sections * 40, "section table"); !ok) return ok.error();
  std::vector<std::pair<std::size_t, std::size_t>> raw;  // (offset, size) with data in the file
  for (std::size_t s = 0; s < sections; ++s) {
    std::size_t const at = table + s * 40;
    std::size_t const raw_size = le32(image, at + 16);
    std::size_t const raw_offset = le32(image, at + 20);
    if (raw_size == 0) continue;
    if (raw_offset > size || raw_size > size - raw_offset) {
      return invalid("not a PE/COFF image: a section lies past the end of the file");
    }
    raw.emplace_back(raw_offset, raw_size);
  }
  std::sort(raw.begin(), raw.end());
  std::size_t hashed = headers_size;
  for (auto const& [offset, length] : raw) {
    add(offset, offset + length);
    hashed += length;
  }
  std::size_t const cert_size = has_cert_dir ? le32(image, cert_dir + 4) : 0;
  if (size > hashed && size - hashed > cert_size) add(hashed, size - cert_size);
  if (size % 8 != 0) buffer.append(8 - size % 8, '\0');
  return sha384_of(std::string_view(buffer));
}

result<std::vector<std::uint8_t>> qemu_patched_kernel(Bytes kernel, std::uint32_t initrd_size,
                                                      std::uint64_t memory_bytes,
                                                      std::uint32_t acpi_data_size) {
  if (kernel.size() < 0x1000) return invalid("the kernel is too short for a bzImage");
  std::vector<std::uint8_t> k(kernel.begin(), kernel.end());
  // The boot protocol's version, when the setup header carries its "HdrS" magic.
  std::uint32_t const protocol = le32(kernel, 0x202) == 0x53726448 ? le16(kernel, 0x206) : 0;
  bool const high = protocol >= 0x200 && (kernel[0x211] & 0x01) != 0;
  std::uint32_t const real_addr = high ? 0x10000 : 0x90000;
  std::uint32_t const cmdline_addr = high ? 0x20000 : 0x9a000;
  if (protocol >= 0x200) k[0x210] = 0xb0;  // type_of_loader: QEMU
  if (protocol >= 0x201) {
    k[0x211] = static_cast<std::uint8_t>(k[0x211] | 0x80);  // CAN_USE_HEAP
    put16(k, 0x224, cmdline_addr - real_addr - 0x200);     // heap_end_ptr
  }
  if (protocol >= 0x202) {
    put32(k, 0x228, cmdline_addr);
  } else {
    put16(k, 0x20, 0xa33f);
    put16(k, 0x22, cmdline_addr - real_addr);
  }
  if (initrd_size > 0) {
    if (protocol < 0x200) return invalid("the kernel is too old to take an initrd");
    std::uint32_t initrd_max = 0x37ffffff;
    if (protocol >= 0x20c && (le16(kernel, 0x236) & 0x2) != 0) {  // XLF_CAN_BE_LOADED_ABOVE_4G
      initrd_max = std::numeric_limits<std::uint32_t>::max();
    } else if (protocol >= 0x203) {
      initrd_max = le32(kernel, 0x22c);
    }
    // q35: RAM below 4 GiB ends at 2 GiB from 2.75 GiB of RAM on, else at 2.75 GiB or the RAM.
    std::uint64_t const lowmem = memory_bytes >= 0xb0000000ull ? 0x80000000ull : 0xb0000000ull;
    auto const below_4g = static_cast<std::uint32_t>(std::min(memory_bytes, lowmem));
    if (below_4g <= acpi_data_size + 1) return invalid("the VM's memory is too small");
    if (initrd_max >= below_4g - acpi_data_size) initrd_max = below_4g - acpi_data_size - 1;
    if (initrd_size >= initrd_max) return invalid("the initrd is too large for the VM's memory");
    put32(k, 0x218, (initrd_max - initrd_size) & ~std::uint32_t{4095});
    put32(k, 0x21c, initrd_size);
  }
  return k;
}

Sha384Digest rtmr_replay(std::span<Sha384Digest const> events) noexcept {
  Sha384Digest r{};
  for (auto const& e : events) {
    std::array<std::uint8_t, 96> both{};
    std::copy(r.begin(), r.end(), both.begin());
    std::copy(e.begin(), e.end(), both.begin() + 48);
    r = ::ee::detail::sha384(both);
  }
  return r;
}

Sha384Digest cmdline_event_digest(std::string_view cmdline) {
  // ASCII to UTF-16LE is a zero after each byte; other UTF-8 is decoded to code points.
  std::string utf16;
  for (std::size_t i = 0; i < cmdline.size();) {
    auto const c = static_cast<unsigned char>(cmdline[i]);
    std::uint32_t cp = c;
    std::size_t len = 1;
    if (c >= 0xf0) {
      cp = c & 0x07u, len = 4;
    } else if (c >= 0xe0) {
      cp = c & 0x0fu, len = 3;
    } else if (c >= 0xc0) {
      cp = c & 0x1fu, len = 2;
    }
    for (std::size_t j = 1; j < len && i + j < cmdline.size(); ++j) {
      cp = cp << 6 | (static_cast<unsigned char>(cmdline[i + j]) & 0x3fu);
    }
    i += len;
    auto unit = [&utf16](std::uint32_t u) {
      utf16 += static_cast<char>(u & 0xff);
      utf16 += static_cast<char>((u >> 8) & 0xff);
    };
    if (cp >= 0x10000) {
      cp -= 0x10000;
      unit(0xd800 + (cp >> 10));
      unit(0xdc00 + (cp & 0x3ff));
    } else {
      unit(cp);
    }
  }
  utf16.append(2, '\0');
  return sha384_of(std::string_view(utf16));
}

result<PredictedRtmrs> predict_direct_boot_rtmrs(Bytes kernel, Bytes initrd,
                                                 std::string_view cmdline,
                                                 std::uint32_t memory_gib) {
  if (initrd.size() > std::numeric_limits<std::uint32_t>::max()) {
    return invalid("the initrd is larger than 4 GiB");
  }
  auto patched = qemu_patched_kernel(kernel, static_cast<std::uint32_t>(initrd.size()),
                                     std::uint64_t{memory_gib} << 30);
  if (!patched) return patched.error();
  auto kernel_digest = pe_authenticode_sha384(*patched);
  if (!kernel_digest) return kernel_digest.error();
  Sha384Digest const rtmr1_events[] = {
      *kernel_digest,
      sha384_of(std::string_view("Calling EFI Application from Boot Option")),
      sha384_of(Bytes(std::array<std::uint8_t, 4>{}.data(), 4)),
      sha384_of(std::string_view("Exit Boot Services Invocation")),
      sha384_of(std::string_view("Exit Boot Services Returned with Success")),
  };
  Sha384Digest const rtmr2_events[] = {cmdline_event_digest(cmdline), sha384_of(initrd)};
  PredictedRtmrs p;
  p.memory_gib = memory_gib;
  p.rtmr1 = hex_encode(rtmr_replay(rtmr1_events));
  p.rtmr2 = hex_encode(rtmr_replay(rtmr2_events));
  return p;
}

// --- the manifest -------------------------------------------------------------------------------

result<ImageManifest> make_image_manifest(ManifestInputs const& in) {
  if (in.target != "local" && in.target != "gcp" && in.target != "azure") {
    return invalid("target '" + in.target + "' is not one of local, gcp, azure");
  }
  if (!is_hex(in.verity_root_hash) || !is_hex(in.verity_salt)) {
    return invalid("the verity root hash and salt must be lower-case hex");
  }
  if (in.cmdline.empty() || in.cmdline.size() > kMaxCmdline ||
      !std::all_of(in.cmdline.begin(), in.cmdline.end(), [](char c) { return c >= 0x20 && c < 0x7f; })) {
    return invalid("the command line must be 1-2047 printable ASCII characters");
  }
  ImageManifest m;
  m.target = in.target;
  m.profile = in.profile;
  m.source_date_epoch = in.source_date_epoch;
  m.verity_root_hash = in.verity_root_hash;
  m.verity_salt = in.verity_salt;
  m.cmdline = in.cmdline;
  std::pair<std::string const*, ImageFile*> const files[] = {
      {&in.kernel, &m.kernel}, {&in.initrd, &m.initrd}, {&in.rootfs, &m.rootfs},
      {&in.verity, &m.verity}, {&in.disk, &m.disk}};
  for (auto const& [name, file] : files) {
    if (name->empty()) continue;  // a build without that output (no disk yet)
    auto f = digest_file(in.dir, *name);
    if (!f) return f.error();
    *file = std::move(*f);
  }
  auto predicted = predict_all(in.dir, in.kernel, in.initrd, in.cmdline);
  if (!predicted) return predicted.error();
  m.predicted = std::move(*predicted);
  return m;
}

std::string image_manifest_json(ImageManifest const& m) {
  std::string out = "{\n";
  auto str = [](std::string_view s) {
    std::string q;
    json::append_string(q, s);
    return q;
  };
  auto file = [&](char const* name, ImageFile const& f, bool last) {
    out += "    " + str(name) + ": {\"path\": " + str(f.path) + ", \"sha256\": " + str(f.sha256) +
           ", \"size\": " + std::to_string(f.size) + "}" + (last ? "\n" : ",\n");
  };
  out += "  \"schema\": " + std::to_string(m.schema) + ",\n";
  out += "  \"target\": " + str(m.target) + ",\n";
  out += "  \"profile\": " + str(m.profile) + ",\n";
  out += "  \"source_date_epoch\": " + std::to_string(m.source_date_epoch) + ",\n";
  out += "  \"files\": {\n";
  file("kernel", m.kernel, false);
  file("initrd", m.initrd, false);
  file("rootfs", m.rootfs, false);
  file("verity", m.verity, false);
  file("disk", m.disk, true);
  out += "  },\n";
  out += "  \"verity\": {\"root_hash\": " + str(m.verity_root_hash) +
         ", \"salt\": " + str(m.verity_salt) + "},\n";
  out += "  \"cmdline\": " + str(m.cmdline) + ",\n";
  out += "  \"tdx\": {\n";
  out += "    \"boot\": \"direct (QEMU -kernel/-initrd/-append with TDVF)\",\n";
  out += "    \"recorded_from_platform\": [\"mrtd\", \"rtmr0\"],\n";
  out += "    \"predicted\": [\n";
  for (std::size_t i = 0; i < m.predicted.size(); ++i) {
    auto const& p = m.predicted[i];
    out += "      {\"memory_gib\": " + std::to_string(p.memory_gib) + ", \"rtmr1\": " +
           str(p.rtmr1) + ", \"rtmr2\": " + str(p.rtmr2) + "}" +
           (i + 1 < m.predicted.size() ? ",\n" : "\n");
  }
  out += "    ]\n  }\n}\n";
  return out;
}

result<ImageManifest> parse_image_manifest(std::string_view text) {
  auto doc = json::parse(text);
  if (!doc) return invalid("manifest: " + doc.error().message());
  auto bad = [](Error const& e) { return invalid("manifest: " + e.message()); };
  auto root = json::ObjectReader::from(*doc, "manifest");
  if (!root) return bad(root.error());
  ImageManifest m;
  auto schema = root->integer("schema", 1, 1);
  if (!schema) return bad(schema.error());
  m.schema = *schema;
  for (auto [key, field] : {std::pair{"target", &m.target}, std::pair{"profile", &m.profile},
                            std::pair{"cmdline", &m.cmdline}}) {
    auto v = root->string(key);
    if (!v) return bad(v.error());
    *field = std::move(*v);
  }
  auto epoch = root->integer("source_date_epoch", 0);
  if (!epoch) return bad(epoch.error());
  m.source_date_epoch = *epoch;
  auto files = root->child("files");
  if (!files) return bad(files.error());
  for (auto [key, f] : {std::pair{"kernel", &m.kernel}, std::pair{"initrd", &m.initrd},
                        std::pair{"rootfs", &m.rootfs}, std::pair{"verity", &m.verity},
                        std::pair{"disk", &m.disk}}) {
    auto entry = files->child(key);
    if (!entry) return bad(entry.error());
    auto path = entry->string("path");
    auto sha = entry->string("sha256");
    auto size = entry->integer("size", 0);
    if (!path) return bad(path.error());
    if (!sha) return bad(sha.error());
    if (!size) return bad(size.error());
    // A path stays inside the manifest's directory.
    if (path->find('/') != std::string::npos || *path == "..") {
      return invalid(std::string("manifest.files.") + key + ".path must be a file name");
    }
    f->path = std::move(*path);
    f->sha256 = std::move(*sha);
    f->size = static_cast<std::uint64_t>(*size);
  }
  auto verity = root->child("verity");
  if (!verity) return bad(verity.error());
  auto hash = verity->string("root_hash");
  auto salt = verity->string("salt");
  if (!hash) return bad(hash.error());
  if (!salt) return bad(salt.error());
  m.verity_root_hash = std::move(*hash);
  m.verity_salt = std::move(*salt);
  if (auto tdx = root->optional_child("tdx"); !tdx) {
    return bad(tdx.error());
  } else if (*tdx) {
    auto list = (*tdx)->array("predicted");
    if (!list) return bad(list.error());
    for (auto const& v : **list) {
      auto p = json::ObjectReader::from(v, "manifest.tdx.predicted[]");
      if (!p) return bad(p.error());
      auto gib = p->integer("memory_gib", 1, 1 << 20);
      auto r1 = p->string("rtmr1");
      auto r2 = p->string("rtmr2");
      if (!gib) return bad(gib.error());
      if (!r1) return bad(r1.error());
      if (!r2) return bad(r2.error());
      m.predicted.push_back(
          {static_cast<std::uint32_t>(*gib), std::move(*r1), std::move(*r2)});
    }
  }
  return m;
}

result<ImageManifest> load_image_manifest(fs::path const& path) {
  std::error_code ec;
  auto const file = fs::is_directory(path, ec) ? path / "manifest.json" : path;
  if (!fs::exists(file, ec)) return failed("no manifest at " + file.string());
  auto text = read_file(file, 1024 * 1024);
  if (!text) return failed(text.error().message());
  return parse_image_manifest(*text);
}

result<std::vector<std::string>> verify_image_manifest(fs::path const& dir,
                                                        ImageManifest const& m) {
  std::vector<std::string> differences;
  std::pair<char const*, ImageFile const*> const files[] = {{"kernel", &m.kernel},
                                                            {"initrd", &m.initrd},
                                                            {"rootfs", &m.rootfs},
                                                            {"verity", &m.verity},
                                                            {"disk", &m.disk}};
  for (auto const& [name, f] : files) {
    if (f->path.empty()) continue;
    auto actual = digest_file(dir, f->path);
    if (!actual) return actual.error();
    if (actual->sha256 != f->sha256 || actual->size != f->size) {
      differences.push_back(std::string(name) + ": " + f->path + " has sha256 " + actual->sha256 +
                            ", the manifest says " + f->sha256);
    }
  }
  auto predicted = predict_all(dir, m.kernel.path, m.initrd.path, m.cmdline);
  if (!predicted) return predicted.error();
  std::string sizes;
  for (auto const& p : *predicted) {
    auto const listed = std::find_if(m.predicted.begin(), m.predicted.end(),
                                     [&p](auto const& q) { return q.memory_gib == p.memory_gib; });
    if (listed == m.predicted.end()) continue;
    if (listed->rtmr1 != p.rtmr1 || listed->rtmr2 != p.rtmr2) {
      sizes += (sizes.empty() ? "" : ", ") + std::to_string(p.memory_gib);
    }
  }
  if (!sizes.empty()) {
    differences.push_back("the predicted RTMRs for " + sizes + " GiB differ from the manifest's");
  }
  return differences;
}

result<ImageBoot> image_boot_files(fs::path const& image) {
  std::error_code ec;
  fs::path dir = image;
  if (!fs::is_directory(image, ec)) dir = image.parent_path().empty() ? "." : image.parent_path();
  auto m = load_image_manifest(dir);
  if (!m) {
    return failed("no --kernel, and " + image.string() +
                  " is not a disk of an image build (" + m.error().message() + ")");
  }
  ImageBoot b;
  b.disk = fs::is_directory(image, ec) || image.filename() == "manifest.json"
               ? dir / m->disk.path
               : image;
  b.kernel = dir / m->kernel.path;
  b.initrd = dir / m->initrd.path;
  b.cmdline = m->cmdline;
  for (auto const& [what, path] : {std::pair{"kernel", b.kernel}, std::pair{"initrd", b.initrd},
                                   std::pair{"disk", b.disk}}) {
    if (!fs::exists(path, ec)) {
      return failed(std::string("the image's ") + what + " " + path.string() + " is missing");
    }
  }
  return b;
}

}  // namespace ee::launcher
