#pragma once
// A private temporary directory for one test, removed with everything in it at scope exit.
#include <filesystem>
#include <string>

namespace ee::test {

class TempDir {
 public:
  TempDir();
  /// A directory under `base` instead of the system's temporary directory (for example
  /// /dev/shm, a tmpfs).
  explicit TempDir(std::filesystem::path const& base);
  ~TempDir();
  TempDir(TempDir const&) = delete;
  TempDir& operator=(TempDir const&) = delete;

  std::filesystem::path const& path() const noexcept { return path_; }
  /// Writes `content` to `path() / name` and returns the full path.
  std::filesystem::path write(std::string const& name, std::string const& content) const;

 private:
  std::filesystem::path path_;
};

/// Reads a whole file; fails the current test (ADD_FAILURE) and returns "" when it cannot.
std::string read_file(std::filesystem::path const& path);
/// `tests/data/<relative>` of the source tree.
std::filesystem::path testdata(std::string const& relative);

}  // namespace ee::test
