#pragma once
/// @file The guest image's manifest and the TDX measurements that follow from its files.
///
/// `image/build.sh` (`make image TARGET=...`) writes a directory with the kernel, the initrd, the
/// dm-verity protected root file system, the disk for the target and `manifest.json`, which it
/// makes with `ee image manifest` (this module). The manifest holds the digests of every file, the
/// verity root hash, the kernel command line and the RTMR values a TDX direct boot of these files
/// is predicted to produce, so a publisher can put expected measurements into the catalog without
/// booting on TDX first. MRTD and RTMR0 depend on the host's TDVF and the VM's shape and are not
/// computed here: they are recorded from the target platform (docs/image.md).
///
/// The prediction follows TDVF's direct kernel boot as QEMU sets it up:
/// - RTMR1: the PE/COFF Authenticode SHA-384 of the bzImage as OVMF loads it (QEMU's x86 Linux
///   loader first writes a few setup-header fields: loader type, heap end, command line address,
///   initrd address and size, which depend on the initrd's size and the VM's memory below 4 GiB),
///   then the events "Calling EFI Application from Boot Option", the separator (four zero bytes),
///   "Exit Boot Services Invocation" and "Exit Boot Services Returned with Success".
/// - RTMR2: the command line as UTF-16LE with its terminator, then the initrd.
/// Each event is SHA-384 of its data and RTMR := SHA-384(RTMR || event), from 48 zero bytes.
/// These are predictions, not yet checked against a quote of a real TDX host; docs/image.md says
/// how to check them (`ee image measure` beside the quote's RTMRs).
#include <easyenclave/error.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ee::launcher {

using Sha384Digest = std::array<std::uint8_t, 48>;

/// The memory QEMU reserves for ACPI tables below the top of low memory on x86 machines
/// (`acpi_data_size`, 0x20000 + 0x8000 on every current machine type); it bounds where the initrd
/// is placed, which QEMU writes into the kernel's setup header.
inline constexpr std::uint32_t kQemuAcpiDataSize = 0x28000;

/// The Authenticode digest (SHA-384) of a PE/COFF image: headers without the checksum and the
/// certificate-table entry, the sections in file order, the bytes after them that are not the
/// certificate table, zero padding to a multiple of 8. What UEFI extends for an application.
/// @returns launcher::errc::invalid_request when the image is not PE/COFF or is truncated.
///          Never throws (except bad_alloc).
result<Sha384Digest> pe_authenticode_sha384(std::span<std::uint8_t const> image);

/// The bzImage as QEMU hands it to the firmware: the setup-header fields QEMU's x86 Linux loader
/// writes for `initrd_size` bytes of initrd in a VM of `memory_bytes`.
/// @returns launcher::errc::invalid_request for a kernel too short or too old for an initrd, or an
///          initrd too large for the memory. Never throws (except bad_alloc).
result<std::vector<std::uint8_t>> qemu_patched_kernel(std::span<std::uint8_t const> kernel,
                                                      std::uint32_t initrd_size,
                                                      std::uint64_t memory_bytes,
                                                      std::uint32_t acpi_data_size = kQemuAcpiDataSize);

/// RTMR := SHA-384(RTMR || event) over `events`, from zero.
Sha384Digest rtmr_replay(std::span<Sha384Digest const> events) noexcept;

/// The digest TDVF extends for a kernel command line: SHA-384 of its UTF-16LE form with the
/// terminator. The text must be UTF-8 (checked by the caller: a command line is ASCII).
Sha384Digest cmdline_event_digest(std::string_view cmdline);

struct PredictedRtmrs {
  std::uint32_t memory_gib = 0;
  std::string rtmr1{};  ///< 96 hex
  std::string rtmr2{};  ///< 96 hex
  friend bool operator==(PredictedRtmrs const&, PredictedRtmrs const&) = default;
};

/// RTMR1 and RTMR2 of a TDX direct boot of `kernel`, `initrd` and `cmdline` in a VM of
/// `memory_gib` GiB. @returns the errors of qemu_patched_kernel and pe_authenticode_sha384.
result<PredictedRtmrs> predict_direct_boot_rtmrs(std::span<std::uint8_t const> kernel,
                                                 std::span<std::uint8_t const> initrd,
                                                 std::string_view cmdline, std::uint32_t memory_gib);

// --- the manifest -------------------------------------------------------------------------------

struct ImageFile {
  std::string path{};  ///< relative to the manifest's directory
  std::string sha256{};
  std::uint64_t size = 0;
  friend bool operator==(ImageFile const&, ImageFile const&) = default;
};

struct ImageManifest {
  std::int64_t schema = 1;
  std::string target{};   ///< local | gcp | azure
  std::string profile{};  ///< full | test
  std::int64_t source_date_epoch = 0;
  ImageFile kernel{}, initrd{}, rootfs{}, verity{}, disk{};
  std::string verity_root_hash{};  ///< hex, what the initrd checks the root file system against
  std::string verity_salt{};
  std::string cmdline{};           ///< the image's kernel command line (root hash included)
  std::vector<PredictedRtmrs> predicted{};
  friend bool operator==(ImageManifest const&, ImageManifest const&) = default;
};

/// The memory sizes the manifest predicts for: the node sizes' presets (4, 16, 64 GiB) and 2 GiB.
/// Above 2.75 GiB QEMU places the initrd below 2 GiB whatever the size, so RTMR1 is the same.
inline constexpr std::uint32_t kPredictedMemoryGib[] = {2, 4, 16, 64};

/// What `make_image_manifest` reads: the files (paths relative to `dir`) and the build's facts.
struct ManifestInputs {
  std::filesystem::path dir{};
  std::string target{}, profile{};
  std::int64_t source_date_epoch = 0;
  std::string kernel{}, initrd{}, rootfs{}, verity{}, disk{};
  std::string verity_root_hash{}, verity_salt{};
  std::string cmdline{};
};

/// Digests every file, predicts the RTMRs for kPredictedMemoryGib.
/// @returns launcher::errc::image_failed naming a file that cannot be read; invalid_request for
///          a root hash or salt that is not hex, a command line that is not printable ASCII or
///          longer than 2047 bytes, an unknown target. Never throws (except bad_alloc).
result<ImageManifest> make_image_manifest(ManifestInputs const& inputs);

/// The manifest as JSON: two-space indented, keys in a fixed order, one trailing newline, so two
/// builds of the same inputs write the same bytes.
std::string image_manifest_json(ImageManifest const& manifest);

/// Reads a manifest written by image_manifest_json (any JSON layout).
/// @returns launcher::errc::invalid_request naming the field. Never throws (except bad_alloc).
result<ImageManifest> parse_image_manifest(std::string_view json);

/// `path` is a manifest file or a directory holding manifest.json: reads it.
/// @returns image_failed when there is none; parse_image_manifest's errors.
result<ImageManifest> load_image_manifest(std::filesystem::path const& path);

/// Recomputes every digest and prediction from the files beside the manifest and lists what
/// differs ("kernel: sha256 ..."); empty when everything matches.
/// @returns image_failed when a file cannot be read. Never throws (except bad_alloc).
result<std::vector<std::string>> verify_image_manifest(std::filesystem::path const& dir,
                                                        ImageManifest const& manifest);

/// What `ee launch IMAGE` boots when no --kernel is given: the image's own kernel, initrd and
/// command line, found through the manifest beside the disk (IMAGE is the disk of a build
/// directory, the directory or its manifest).
struct ImageBoot {
  std::filesystem::path disk{}, kernel{}, initrd{};
  std::string cmdline{};
};

/// @returns image_failed saying what is missing ("no manifest.json beside ...", "the image's
///          kernel vmlinuz is missing"); parse errors of the manifest.
result<ImageBoot> image_boot_files(std::filesystem::path const& image);

}  // namespace ee::launcher
