#pragma once
// Helpers shared by the fuzz targets: fixed inputs from fuzz/data/ and invariant checks that
// abort (so libFuzzer records the input as a crash).
#include <openssl/err.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <string_view>

namespace ee_fuzz {

/// The text of fuzz/data/<name>; aborts when it cannot be read (a broken checkout, not a finding).
inline std::string data_file(std::string_view name) {
  std::string const path = std::string(EE_FUZZ_DATA_DIR) + "/" + std::string(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "fuzz: cannot read %s\n", path.c_str());
    std::abort();
  }
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Aborts with `what` when an invariant does not hold.
inline void check(bool ok, char const* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

/// The library leaves the thread's OpenSSL error queue empty: a failure's reason is in its Error,
/// and a stale entry would be read as the cause of the next caller's failure. (An entry left
/// behind is also a heap allocation that outlives the input, which makes libFuzzer run a full
/// leak scan after every such input.)
/// Declared first in a target's entry point, it checks the queue however the input returns.
struct OpenSslErrorsCleared {
  OpenSslErrorsCleared() = default;
  OpenSslErrorsCleared(OpenSslErrorsCleared const&) = delete;
  OpenSslErrorsCleared& operator=(OpenSslErrorsCleared const&) = delete;
  ~OpenSslErrorsCleared() {
    if (ERR_peek_error() == 0) return;
    ERR_print_errors_fp(stderr);
    check(false, "the OpenSSL error queue was left non-empty");
  }
};

inline std::string_view as_text(std::uint8_t const* data, std::size_t size) {
  return {reinterpret_cast<char const*>(data), size};
}

/// Splits off the first byte as a mode selector: multi-entry targets pick the parser with it.
struct Selected {
  unsigned mode = 0;
  std::span<std::uint8_t const> rest{};
  std::string_view text() const { return {reinterpret_cast<char const*>(rest.data()), rest.size()}; }
};
inline bool select(std::uint8_t const* data, std::size_t size, unsigned modes, Selected& out) {
  if (size == 0) return false;
  out.mode = data[0] % modes;
  out.rest = std::span<std::uint8_t const>(data + 1, size - 1);
  return true;
}

}  // namespace ee_fuzz
