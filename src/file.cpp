#include <easyenclave/file.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ee {
namespace {

Error io_error(std::string_view what, std::filesystem::path const& path, int err) {
  return Error(errc::io_error, std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

// Closes on scope exit; close errors on the write path are checked explicitly before this runs.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

result<std::string> read_file(std::filesystem::path const& path, std::size_t max_bytes) {
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) return io_error("cannot open", path, errno);
  std::string out;
  char buffer[64 * 1024];
  for (;;) {
    auto const n = ::read(file.fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot read", path, errno);
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes)
      return Error(errc::out_of_range, path.string() + " is larger than " + std::to_string(max_bytes) + " bytes");
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

result<void> write_file_atomic(std::filesystem::path const& path, std::span<std::uint8_t const> content,
                               unsigned mode) {
  auto const dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::string temp = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  Fd file{::mkstemp(temp.data())};
  if (file.fd < 0) return io_error("cannot create a temporary file for", path, errno);
  auto fail = [&](std::string_view what, int err) {
    ::unlink(temp.c_str());
    return io_error(what, path, err);
  };
  if (::fchmod(file.fd, static_cast<mode_t>(mode)) != 0) return fail("cannot set the mode of", errno);
  std::size_t written = 0;
  while (written < content.size()) {
    auto const n = ::write(file.fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write", errno);
    }
    written += static_cast<std::size_t>(n);
  }
  // The data must be on disk before the rename publishes it, or a crash can leave an empty file
  // under the final name.
  if (::fsync(file.fd) != 0) return fail("cannot sync", errno);
  int const fd = file.fd;
  file.fd = -1;
  if (::close(fd) != 0) return fail("cannot close", errno);
  if (::rename(temp.c_str(), path.c_str()) != 0) return fail("cannot rename into", errno);
  // Make the rename itself durable.
  Fd parent{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (parent.fd >= 0) ::fsync(parent.fd);
  return {};
}

result<void> write_file_atomic(std::filesystem::path const& path, std::string_view content, unsigned mode) {
  return write_file_atomic(
      path, std::span<std::uint8_t const>(reinterpret_cast<std::uint8_t const*>(content.data()), content.size()),
      mode);
}

}  // namespace ee
