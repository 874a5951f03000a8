#pragma once
// ASCII case folding for protocol tokens (GitHub logins, host names, hex): locale-free, and
// leaving every non-ASCII byte as it is.
#include <string>
#include <string_view>

namespace ee::detail {

inline std::string ascii_lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

/// [A-Za-z0-9], whatever the locale.
inline bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace ee::detail
