// The agent's key across restarts of its own process (key_file.hpp). The attested key signs as the
// agent until its next re-attestation, so a host that could read it could impersonate the agent:
// the file lives only in memory the host cannot read (a tmpfs or ramfs inside the TD), and is
// refused when anyone but the agent's user could read or replace it.
#include "agent/key_file.hpp"

#include <easyenclave/agent/error.hpp>

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "detail/log.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

namespace ee::agent::detail {
namespace {

namespace core = ::ee::detail;

// A PEM P-256 key is a few hundred bytes; the bound only stops a wrong path being read whole.
constexpr std::size_t kMaxKeyFile = 16 * 1024;

Error refused(std::filesystem::path const& path, std::string const& what) {
  return Error(errc::key_file_refused, "key_file " + path.string() + ": " + what);
}

std::string os_reason() { return std::strerror(errno); }

// Closes the descriptor on every path out.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd const&) = delete;
  Fd& operator=(Fd const&) = delete;
  int get() const { return fd_; }
  int release() {
    int const fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

result<void> check_memory_file_system(std::filesystem::path const& path,
                                      std::filesystem::path const& dir) {
  struct statfs fs{};
  if (::statfs(dir.c_str(), &fs) != 0) {
    return refused(path, "cannot examine its directory's file system: " + os_reason());
  }
  // f_type's type differs between C libraries; compare as unsigned 32-bit magic numbers.
  auto const type = static_cast<std::uint32_t>(fs.f_type);
  if (type == static_cast<std::uint32_t>(TMPFS_MAGIC) ||
      type == static_cast<std::uint32_t>(RAMFS_MAGIC)) {
    return {};
  }
  return refused(path,
                 "its directory is not on a tmpfs or ramfs, so the key would reach a disk the host "
                 "can read (choose a path under /run or /dev/shm, or set key_file_allow_disk "
                 "for development)");
}

result<api::SigningKey> read_key(std::filesystem::path const& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ELOOP) return refused(path, "is a symbolic link; it must be a regular file");
    return refused(path, "cannot be opened: " + os_reason());
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return refused(path, "cannot be examined: " + os_reason());
  if (!S_ISREG(st.st_mode)) return refused(path, "is not a regular file");
  if (st.st_uid != ::geteuid()) {
    return refused(path, "is owned by uid " + std::to_string(st.st_uid) +
                             ", not by the agent's user (uid " + std::to_string(::geteuid()) +
                             ")");
  }
  if ((st.st_mode & 0077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return refused(path, std::string("has mode ") + mode +
                             "; it must be 0600 (no access for group or others)");
  }
  if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) > kMaxKeyFile) {
    return refused(path, "is larger than a key file can be");
  }
  std::string pem(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < pem.size()) {
    auto const n = ::read(fd.get(), pem.data() + done, pem.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return refused(path, "cannot be read: " + os_reason());
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  pem.resize(done);
  auto key = api::SigningKey::from_pem(pem);
  if (!key) return refused(path, "does not hold a P-256 private key in PEM");
  return key;
}

result<void> write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    auto const n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error(errc::key_file_refused, os_reason());
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

// A new key, written beside `path` under a name no one else uses (O_EXCL, 0600 from the start,
// so the key is never readable by others even for a moment), then renamed over `path`.
result<api::SigningKey> create_key(std::filesystem::path const& path) {
  auto key = api::SigningKey::generate();
  if (!key) return key.error().with_context("agent key");
  auto suffix = core::random_bytes(8);
  if (!suffix) return suffix.error();
  auto const temp = path.string() + ".tmp-" + core::hex_encode(*suffix);
  Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) return refused(path, "cannot create " + temp + ": " + os_reason());
  // The umask can only take bits away, but make the mode exact whatever the umask.
  auto written = ::fchmod(fd.get(), 0600) == 0
                     ? write_all(fd.get(), key->private_key_pem())
                     : result<void>(Error(errc::key_file_refused, os_reason()));
  bool const closed = ::close(fd.release()) == 0;
  if (!written || !closed) {
    ::unlink(temp.c_str());
    return refused(path, "cannot write " + temp +
                             (written ? std::string() : ": " + written.error().message()));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    auto const reason = os_reason();
    ::unlink(temp.c_str());
    return refused(path, "cannot rename the new key into place: " + reason);
  }
  return key;
}

}  // namespace

result<api::SigningKey> load_or_create_key_file(std::filesystem::path const& path,
                                                bool allow_disk, bool& created) {
  created = false;
  if (path.empty() || !path.has_filename()) return refused(path, "must name a file");
  auto dir = path.parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return refused(path, "cannot create its directory: " + ec.message());
    // Ours: only the agent's user may list or change it.
    if (::chmod(dir.c_str(), 0700) != 0) {
      return refused(path, "cannot restrict its directory's mode: " + os_reason());
    }
  }
  if (!allow_disk) {
    if (auto ok = check_memory_file_system(path, dir); !ok) return ok.error();
  }
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) return read_key(path);
  if (errno != ENOENT) return refused(path, "cannot be examined: " + os_reason());
  auto key = create_key(path);
  if (key) created = true;
  return key;
}

}  // namespace ee::agent::detail
