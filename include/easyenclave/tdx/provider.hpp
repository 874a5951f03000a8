#pragma once
/// @file Where quotes come from: the Linux configfs-tsm interface inside a TDX guest (here), or the
/// simulator (dev, CI; simulator.hpp) whose quotes only a verifier configured with the simulator's
/// root accepts.
#include <easyenclave/error.hpp>
#include <easyenclave/tdx/quote.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ee::tdx {

/// Produces a quote binding 64 bytes of report data. Implementations are thread-safe.
class QuoteProvider {
 public:
  virtual ~QuoteProvider() = default;
  /// A fresh quote (raw bytes, as `parse_quote` takes them) whose TD report carries
  /// `report_data`. `report_data` is only read during the call. Blocking: the configfs-tsm
  /// provider waits for the host's quoting service, which can take a second or more.
  /// @returns the quote, or tdx::errc::tsm_unavailable / tsm_failed / simulator_failed.
  ///          Never throws (except bad_alloc).
  virtual result<std::vector<std::uint8_t>> get_quote(ReportData const& report_data) = 0;
  /// "tsm" or "simulator", for logs and health.
  virtual std::string_view name() const noexcept = 0;
};

/// The file operations the configfs-tsm provider performs, and nothing else. The production
/// implementation (`real_tsm_filesystem()`) makes the plain system calls; tests substitute one
/// that plays the kernel's part (configfs creates the attribute files of a new entry itself and
/// produces `outblob` when `inblob` is written, which an ordinary directory cannot imitate).
///
/// Every method returns a system error code carrying the `errno` of the failed call (success:
/// empty code). Implementations must be safe to call from several threads.
class TsmFilesystem {
 public:
  virtual ~TsmFilesystem() = default;
  /// True when `path` names an existing directory.
  virtual bool is_directory(std::filesystem::path const& path) const = 0;
  /// mkdir(2): creates one directory (EEXIST when it exists).
  virtual error_code make_directory(std::filesystem::path const& path) = 0;
  /// rmdir(2): configfs removes an entry's attribute files with the directory.
  virtual error_code remove_directory(std::filesystem::path const& path) = 0;
  /// Opens an existing file for writing and writes all of `data` (configfs attributes cannot be
  /// created, only written). `data` is only read during the call.
  virtual error_code write_file(std::filesystem::path const& path,
                                std::span<std::uint8_t const> data) = 0;
  /// Reads a whole file into `out` (replacing its content); fails with EFBIG beyond `max_bytes`.
  virtual error_code read_file(std::filesystem::path const& path, std::size_t max_bytes,
                               std::vector<std::uint8_t>& out) = 0;
};

/// The production TsmFilesystem: mkdir/rmdir/open/read/write on the real filesystem. Stateless
/// and thread-safe; the same instance may be shared.
std::shared_ptr<TsmFilesystem> real_tsm_filesystem();

/// Options of the configfs-tsm provider (Linux `Documentation/ABI/testing/configfs-tsm`).
struct TsmOptions {
  /// The configfs-tsm report directory: needs Linux 6.7+ with CONFIG_TSM_REPORTS and
  /// CONFIG_TDX_GUEST_DRIVER, configfs mounted at /sys/kernel/config, and root privileges.
  std::filesystem::path root = "/sys/kernel/config/tsm/report";
  /// How often to start over when the entry's `generation` shows another writer raced with us.
  int max_attempts = 3;
  /// Upper bound on a quote's size (real TDX quotes with their PEM chain are about 5 KiB).
  std::size_t max_quote_bytes = 1024 * 1024;
  /// The expected content of the entry's `provider` attribute; another TSM (e.g. "sev_guest")
  /// would return evidence this library cannot parse. Empty: not checked.
  std::string expected_provider = "tdx_guest";
  /// The file operations; null means `real_tsm_filesystem()`. Tests inject a fake kernel here.
  std::shared_ptr<TsmFilesystem> filesystem{};
};

/// A QuoteProvider on configfs-tsm. Per quote it creates a uniquely named entry under
/// `options.root`, writes the 64 bytes of report data to `inblob`, reads the quote from `outblob`,
/// checks through `generation` that nobody else wrote to the entry in between (and starts over,
/// up to `max_attempts`, when someone did), and removes the entry again, also on failure. Calls
/// are serialised with a mutex, so the provider is thread-safe; other processes are detected by
/// the generation check.
/// @returns the provider, or tdx::errc::tsm_unavailable when `options.root` is not a directory
///          (configfs-tsm is not available: not a TDX guest, kernel too old, configfs not
///          mounted). Quotes then fail with tsm_unavailable (the root vanished), or tsm_failed
///          for permission errors, an empty or oversized `outblob` (the host's quote generation
///          service did not answer), an unexpected `provider`, or a writer race that persisted
///          through every attempt; the detail names the path and the errno. Never throws (except
///          bad_alloc).
result<std::unique_ptr<QuoteProvider>> make_tsm_provider(TsmOptions options = {});

}  // namespace ee::tdx
