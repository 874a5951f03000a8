// The configfs-tsm quote provider. The kernel ABI (Documentation/ABI/testing/configfs-tsm, Linux
// 6.7+): mkdir of a directory under /sys/kernel/config/tsm/report creates a report entry with
// attribute files; writing up to 64 bytes to `inblob` sets the TDREPORT's REPORTDATA; reading
// `outblob` makes the TDX guest driver ask the host's quote generation service (QGS) for a quote
// and returns it; `generation` counts writes to the entry, so a reader can tell whether the
// outblob it read belongs to its own inblob; rmdir releases the entry.
#include <easyenclave/tdx/provider.hpp>

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "detail/log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace ee::tdx {
namespace {

namespace fs = std::filesystem;

error_code last_errno() noexcept { return error_code(errno, boost::system::system_category()); }

// Closes a descriptor exactly once; close errors matter for configfs writes (see write_file).
class Fd {
 public:
  explicit Fd(int fd) noexcept : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd const&) = delete;
  Fd& operator=(Fd const&) = delete;
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

class RealTsmFilesystem final : public TsmFilesystem {
 public:
  bool is_directory(fs::path const& path) const override {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }

  error_code make_directory(fs::path const& path) override {
    if (::mkdir(path.c_str(), 0700) != 0) return last_errno();
    return {};
  }

  error_code remove_directory(fs::path const& path) override {
    if (::rmdir(path.c_str()) != 0) return last_errno();
    return {};
  }

  error_code write_file(fs::path const& path, std::span<std::uint8_t const> data) override {
    // No O_CREAT/O_TRUNC: configfs attributes exist already and cannot be truncated.
    Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (fd.get() < 0) return last_errno();
    std::size_t done = 0;
    while (done < data.size()) {
      auto const n = ::write(fd.get(), data.data() + done, data.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return last_errno();
      }
      done += static_cast<std::size_t>(n);
    }
    // configfs hands a binary attribute's buffer to the driver when the file is released, so a
    // rejected inblob surfaces as an error of close(2), not of write(2).
    if (::close(fd.release()) != 0) return last_errno();
    return {};
  }

  error_code read_file(fs::path const& path, std::size_t max_bytes,
                       std::vector<std::uint8_t>& out) override {
    out.clear();
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return last_errno();
    std::uint8_t buffer[4096];
    for (;;) {
      auto const n = ::read(fd.get(), buffer, sizeof buffer);
      if (n < 0) {
        if (errno == EINTR) continue;
        return last_errno();
      }
      if (n == 0) break;
      if (out.size() + static_cast<std::size_t>(n) > max_bytes)
        return error_code(EFBIG, boost::system::system_category());
      out.insert(out.end(), buffer, buffer + n);
    }
    return {};
  }
};

bool is_permission_error(error_code const& ec) noexcept {
  return ec == boost::system::errc::permission_denied ||
         ec == boost::system::errc::operation_not_permitted;
}

std::string describe(fs::path const& path, error_code const& ec) {
  return path.string() + ": " + ec.message();
}

Error unavailable_error(fs::path const& root) {
  return Error(errc::tsm_unavailable,
               "configfs-tsm is not available: " + root.string() +
                   " is not a directory (needs a TDX guest on Linux 6.7+ with CONFIG_TSM_REPORTS "
                   "and configfs mounted at /sys/kernel/config)");
}

Error io_failure(std::string_view action, fs::path const& path, error_code const& ec) {
  std::string detail = "configfs-tsm: " + std::string(action) + " " + describe(path, ec);
  if (is_permission_error(ec)) detail += " (configfs-tsm reports need root privileges)";
  return Error(errc::tsm_failed, std::move(detail));
}

std::string trim(std::vector<std::uint8_t> const& bytes) {
  std::string text(bytes.begin(), bytes.end());
  auto const end = text.find_last_not_of(" \t\r\n");
  text.erase(end == std::string::npos ? 0 : end + 1);
  return text;
}

class TsmProvider final : public QuoteProvider {
 public:
  explicit TsmProvider(TsmOptions options) : options_(std::move(options)) {}

  std::string_view name() const noexcept override { return "tsm"; }

  result<std::vector<std::uint8_t>> get_quote(ReportData const& report_data) override {
    std::lock_guard lock(mutex_);
    int const attempts = options_.max_attempts < 1 ? 1 : options_.max_attempts;
    for (int attempt = 1; attempt <= attempts; ++attempt) {
      auto entry = create_entry();
      if (!entry) return entry.error();
      auto quote = quote_in_entry(*entry, report_data);
      remove_entry(*entry);
      if (!quote) return quote.error();
      if (*quote) return std::move(**quote);
      detail::log::debug("tdx", "configfs-tsm generation changed during attempt ", attempt,
                         " (another writer used the entry); retrying");
    }
    return Error(errc::tsm_failed, "configfs-tsm: the report entry's generation changed during " +
                                       std::to_string(attempts) +
                                       " attempts (another process keeps writing to it)");
  }

 private:
  // A fresh, uniquely named entry: configfs creates its attribute files on mkdir.
  result<fs::path> create_entry() {
    auto& fsys = *options_.filesystem;
    for (int tries = 0; tries < 4; ++tries) {
      std::array<std::uint8_t, 6> nonce{};
      if (auto r = detail::random_bytes(nonce); !r) return r.error();
      auto const path = options_.root / ("ee-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(counter_++) + "-" +
                                         detail::hex_encode(nonce));
      auto const ec = fsys.make_directory(path);
      if (!ec) return path;
      if (ec == boost::system::errc::file_exists) continue;
      if (ec == boost::system::errc::no_such_file_or_directory || !fsys.is_directory(options_.root))
        return unavailable_error(options_.root);
      return io_failure("cannot create report entry", path, ec);
    }
    return Error(errc::tsm_failed, "configfs-tsm: could not find an unused report entry name in " +
                                       options_.root.string());
  }

  void remove_entry(fs::path const& entry) {
    // A leaked entry only holds kernel memory until reboot; the quote (or error) already in hand
    // is what the caller needs, so this is logged, not returned.
    if (auto const ec = options_.filesystem->remove_directory(entry))
      detail::log::warn("tdx", "configfs-tsm: cannot remove report entry ", describe(entry, ec));
  }

  result<std::uint64_t> read_generation(fs::path const& entry) {
    auto const path = entry / "generation";
    std::vector<std::uint8_t> bytes;
    if (auto const ec = options_.filesystem->read_file(path, 64, bytes))
      return io_failure("cannot read", path, ec);
    auto const text = trim(bytes);
    std::uint64_t value = 0;
    auto const [end, err] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (err != std::errc{} || end != text.data() + text.size() || text.empty())
      return Error(errc::tsm_failed,
                   "configfs-tsm: " + path.string() + " does not hold a decimal counter");
    return value;
  }

  // The quote, or nullopt when another writer raced with us and the attempt must be repeated.
  result<std::optional<std::vector<std::uint8_t>>> quote_in_entry(fs::path const& entry,
                                                                  ReportData const& report_data) {
    auto& fsys = *options_.filesystem;
    if (!options_.expected_provider.empty()) {
      auto const path = entry / "provider";
      std::vector<std::uint8_t> bytes;
      if (auto const ec = fsys.read_file(path, 256, bytes))
        return io_failure("cannot read", path, ec);
      auto const provider = trim(bytes);
      if (provider != options_.expected_provider)
        return Error(errc::tsm_failed, "configfs-tsm provider is '" + provider + "', expected '" +
                                           options_.expected_provider + "'");
    }

    auto const before = read_generation(entry);
    if (!before) return before.error();

    auto const inblob = entry / "inblob";
    if (auto const ec = fsys.write_file(inblob, report_data))
      return io_failure("cannot write report data to", inblob, ec);

    auto const outblob = entry / "outblob";
    std::vector<std::uint8_t> quote;
    if (auto const ec = fsys.read_file(outblob, options_.max_quote_bytes, quote)) {
      if (ec == boost::system::errc::file_too_large)
        return Error(errc::tsm_failed, "configfs-tsm: " + outblob.string() + " exceeds " +
                                           std::to_string(options_.max_quote_bytes) + " bytes");
      auto error = io_failure("cannot read quote from", outblob, ec);
      return Error(error.code(), error.detail() +
                                     " (is the host's quote generation service reachable?)");
    }
    if (quote.empty())
      return Error(errc::tsm_failed,
                   "configfs-tsm returned an empty quote from " + outblob.string() +
                       " (the host's quote generation service did not provide one)");

    // Exactly our one inblob write may have happened since `before`; anything else means another
    // writer changed the entry and the outblob may answer their report data, not ours.
    auto const after = read_generation(entry);
    if (!after) return after.error();
    if (*after != *before + 1) return std::optional<std::vector<std::uint8_t>>{};
    return std::optional<std::vector<std::uint8_t>>(std::move(quote));
  }

  TsmOptions options_;
  std::mutex mutex_;
  std::uint64_t counter_ = 0;  // guarded by mutex_
};

}  // namespace

std::shared_ptr<TsmFilesystem> real_tsm_filesystem() {
  static auto const instance = std::make_shared<RealTsmFilesystem>();
  return instance;
}

result<std::unique_ptr<QuoteProvider>> make_tsm_provider(TsmOptions options) {
  if (!options.filesystem) options.filesystem = real_tsm_filesystem();
  if (!options.filesystem->is_directory(options.root)) return unavailable_error(options.root);
  return std::unique_ptr<QuoteProvider>(std::make_unique<TsmProvider>(std::move(options)));
}

}  // namespace ee::tdx
