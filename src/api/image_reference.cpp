// Image references (api/image_reference.hpp), after the OCI distribution specification's
// reference grammar (distribution/reference, reference.go):
//
//   reference        := name [ ":" tag ] [ "@" digest ]
//   name             := [ domain "/" ] path-component [ "/" path-component ]*
//   domain           := host [ ":" port-number ]
//   host             := domain-name | "[" IPv6address "]"
//   domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//   path-component   := /[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*/
//   tag              := /[\w][\w.-]{0,127}/
//
// with the name at most 255 characters (NameTotalLengthMax) and, here, only sha256 digests.
// Errors say which part is wrong and never quote the text: a reference may come from anyone.
#include <easyenclave/api/image_reference.hpp>

#include <algorithm>

namespace ee::api {
namespace {

bool is_lower(char c) noexcept { return c >= 'a' && c <= 'z'; }
bool is_upper(char c) noexcept { return c >= 'A' && c <= 'Z'; }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_alnum(char c) noexcept { return is_lower(c) || is_upper(c) || is_digit(c); }
bool is_lower_hex(char c) noexcept { return is_digit(c) || (c >= 'a' && c <= 'f'); }
bool is_hex(char c) noexcept { return is_lower_hex(c) || (c >= 'A' && c <= 'F'); }

Error invalid(std::string_view field, std::string_view rule) {
  return Error(errc::invalid_field, std::string(field) + ": " + std::string(rule));
}

// domain-component: alphanumerics, with '-' inside only.
bool is_domain_component(std::string_view s) {
  return !s.empty() && is_alnum(s.front()) && is_alnum(s.back()) &&
         std::all_of(s.begin(), s.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

bool is_domain_name(std::string_view s) {
  while (true) {
    auto const dot = s.find('.');
    if (!is_domain_component(s.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

// 1-65535, no sign, no leading zero.
bool is_port(std::string_view s) {
  if (s.empty() || s.size() > 5 || s.front() == '0' ||
      !std::all_of(s.begin(), s.end(), is_digit))
    return false;
  unsigned value = 0;
  for (char c : s) value = value * 10 + static_cast<unsigned>(c - '0');
  return value <= 65535;
}

// host[:port], the host a domain name or a bracketed IPv6 address (hex digits, ':' and '.' for
// an embedded IPv4 tail; the registry connects to it, so the exact address form is its concern).
bool is_registry(std::string_view s) {
  std::string_view host = s;
  std::string_view port;
  bool has_port = false;
  if (s.starts_with('[')) {
    auto const close = s.find(']');
    if (close == std::string_view::npos) return false;
    host = s.substr(0, close + 1);
    auto const rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      has_port = true;
      port = rest.substr(1);
    }
    auto const inside = host.substr(1, host.size() - 2);
    if (inside.size() < 2 || inside.find(':') == std::string_view::npos ||
        !std::all_of(inside.begin(), inside.end(),
                     [](char c) { return is_hex(c) || c == ':' || c == '.'; }))
      return false;
  } else {
    auto const colon = s.find(':');
    if (colon != std::string_view::npos) {
      host = s.substr(0, colon);
      has_port = true;
      port = s.substr(colon + 1);
    }
    if (!is_domain_name(host)) return false;
  }
  return !has_port || is_port(port);
}

// path-component: runs of [a-z0-9] joined by one separator: '.', '_', "__" or any run of '-'.
bool is_path_component(std::string_view s) {
  if (s.empty() || !(is_lower(s.front()) || is_digit(s.front()))) return false;
  std::size_t i = 0;
  while (i < s.size()) {
    if (is_lower(s[i]) || is_digit(s[i])) {
      ++i;
      continue;
    }
    // A separator, then an alphanumeric again.
    std::size_t end = i;
    if (s[i] == '.') {
      end = i + 1;
    } else if (s[i] == '_') {
      end = i + 1 < s.size() && s[i + 1] == '_' ? i + 2 : i + 1;
    } else if (s[i] == '-') {
      while (end < s.size() && s[end] == '-') ++end;
    } else {
      return false;
    }
    if (end >= s.size() || !(is_lower(s[end]) || is_digit(s[end]))) return false;
    i = end;
  }
  return true;
}

bool is_repository(std::string_view s) {
  while (true) {
    auto const slash = s.find('/');
    if (!is_path_component(s.substr(0, slash))) return false;
    if (slash == std::string_view::npos) return true;
    s.remove_prefix(slash + 1);
  }
}

bool is_tag(std::string_view s) {
  auto const word = [](char c) { return is_alnum(c) || c == '_'; };
  return !s.empty() && s.size() <= kMaxImageTag && word(s.front()) &&
         std::all_of(s.begin(), s.end(), [&](char c) { return word(c) || c == '.' || c == '-'; });
}

bool is_sha256_digest(std::string_view s) {
  return s.size() == 71 && s.starts_with("sha256:") &&
         std::all_of(s.begin() + 7, s.end(), is_lower_hex);
}

// Docker's rule (splitDockerDomain): the first component names a registry only when it cannot be
// a repository's: it has a '.' or a ':', is "localhost", or is an IPv6 literal.
bool names_registry(std::string_view first) {
  return first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
         first.starts_with('[');
}

}  // namespace

result<ImageReference> ImageReference::parse(std::string_view text, std::string_view field) {
  if (text.empty()) return invalid(field, "is empty; expected [REGISTRY/]REPOSITORY[:TAG][@DIGEST]");
  if (text.size() > kMaxImageReference)
    return invalid(field, "is " + std::to_string(text.size()) + " characters; at most " +
                              std::to_string(kMaxImageReference) + " are accepted");
  ImageReference out;
  std::string_view rest = text;
  // The digest is everything after the first '@' (a second '@' makes it malformed).
  if (auto const at = rest.find('@'); at != std::string_view::npos) {
    auto const digest = rest.substr(at + 1);
    if (!is_sha256_digest(digest))
      return invalid(field, "the digest after '@' must be sha256: followed by 64 lower-case hex "
                            "characters");
    out.digest_ = std::string(digest);
    rest = rest.substr(0, at);
  }
  // A ':' after the last '/' starts the tag; one before it is the registry's port.
  auto const last_slash = rest.rfind('/');
  if (auto const colon = rest.rfind(':');
      colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash)) {
    auto const tag = rest.substr(colon + 1);
    if (!is_tag(tag))
      return invalid(field, "the tag after ':' must be 1-128 characters of [A-Za-z0-9_.-] "
                            "starting with a letter, digit or '_'");
    out.tag_ = std::string(tag);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return invalid(field, "has no repository name");
  if (rest.size() > kMaxImageName)
    return invalid(field, "the name (registry and repository) is " + std::to_string(rest.size()) +
                              " characters; at most " + std::to_string(kMaxImageName) +
                              " are accepted");
  auto const first_slash = rest.find('/');
  if (first_slash != std::string_view::npos && names_registry(rest.substr(0, first_slash))) {
    auto const registry = rest.substr(0, first_slash);
    if (!is_registry(registry))
      return invalid(field, "the registry must be host[:port]: DNS labels of [A-Za-z0-9-] joined "
                            "by '.' (or a bracketed IPv6 address) and a port from 1 to 65535");
    out.registry_ = std::string(registry);
    rest = rest.substr(first_slash + 1);
  }
  if (!is_repository(rest)) {
    if (std::any_of(rest.begin(), rest.end(), is_upper))
      return invalid(field, "the repository must be lower case");
    return invalid(field, "the repository must be '/'-separated components, each runs of "
                          "[a-z0-9] joined by '.', '_', '__' or '-'");
  }
  out.repository_ = std::string(rest);
  return out;
}

result<ImageReference> ImageReference::parse_pinned(std::string_view text,
                                                    std::string_view field) {
  auto parsed = parse(text, field);
  if (!parsed) return parsed.error();
  if (!parsed->pinned())
    return invalid(field, "must be pinned by digest: NAME@sha256:<64 lower-case hex>");
  return parsed;
}

std::string ImageReference::name() const {
  return registry_.empty() ? repository_ : registry_ + "/" + repository_;
}

std::string ImageReference::to_string() const {
  auto out = name();
  if (!tag_.empty()) out += ":" + tag_;
  if (!digest_.empty()) out += "@" + digest_;
  return out;
}

}  // namespace ee::api
