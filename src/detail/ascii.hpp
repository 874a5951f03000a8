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

}  // namespace ee::detail
