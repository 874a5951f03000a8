#include "http/redact.hpp"

#include <algorithm>
#include <array>
#include <cstddef>

namespace ee::http {
namespace {

constexpr std::size_t kMaxValueChars = 200;

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return lower(x) == lower(y);
         });
}

bool icontains(std::string_view haystack, std::string_view needle) noexcept {
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (iequals(haystack.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

// Exact names that carry credentials without saying so in their name.
constexpr std::array<std::string_view, 4> kSensitiveNames = {
    "authorization", "proxy-authorization", "cookie", "set-cookie"};
// Fragments that mark a credential-bearing header by convention (x-api-key, X-Auth-Token,
// X-Client-Secret, ...).
constexpr std::array<std::string_view, 3> kSensitiveFragments = {"token", "secret", "key"};

// Printable single-line form: control characters (a CR/LF smuggled into a value) become '?'.
void append_sanitized(std::string& out, std::string_view value) {
  std::size_t const n = std::min(value.size(), kMaxValueChars);
  for (std::size_t i = 0; i < n; ++i) {
    char const c = value[i];
    out.push_back((c < 0x20 || c == 0x7f) ? '?' : c);
  }
  if (value.size() > n) out.append("...");
}

}  // namespace

bool is_sensitive_header(std::string_view name) noexcept {
  for (auto sensitive : kSensitiveNames) {
    if (iequals(name, sensitive)) return true;
  }
  // Cloudflare's Cf-Access-Client-Id/-Secret and friends: the whole Cf-* family is redacted,
  // since Cloudflare keeps adding credential headers under that prefix.
  if (name.size() >= 3 && iequals(name.substr(0, 3), "cf-")) return true;
  for (auto fragment : kSensitiveFragments) {
    if (icontains(name, fragment)) return true;
  }
  return false;
}

std::string format_headers(boost::beast::http::fields const& fields) {
  std::string out;
  for (auto const& field : fields) {
    if (!out.empty()) out.append("; ");
    append_sanitized(out, field.name_string());
    out.append(": ");
    if (is_sensitive_header(field.name_string())) {
      out.append(kRedacted);
    } else {
      append_sanitized(out, field.value());
    }
  }
  return out;
}

std::string redact_url(std::string_view url) {
  // RFC 3986 section 3: the query starts at the first '?' and the fragment at the first '#';
  // neither character can appear earlier, in the scheme, authority or path.
  url = url.substr(0, std::min(url.find('?'), url.find('#')));
  std::size_t const scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  std::size_t const authority_begin = scheme_end + 3;
  std::size_t const authority_end = std::min(url.find('/', authority_begin), url.size());
  std::string_view const authority = url.substr(authority_begin, authority_end - authority_begin);
  // Userinfo ends at the last '@' of the authority (section 3.2.1); it is deprecated for
  // credentials but still seen in configuration strings.
  std::size_t const at = authority.rfind('@');
  std::string out(url.substr(0, authority_begin));
  out.append(at == std::string_view::npos ? authority : authority.substr(at + 1));
  out.append(url.substr(authority_end));
  return out;
}

}  // namespace ee::http
