#include "cp/agent_networks.hpp"

#include <easyenclave/cp/error.hpp>

#include "detail/ascii.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace ee::cp {
namespace {

namespace ip = boost::asio::ip;

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.';
}

// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are the IPv4 address they carry.
ip::address unmapped(ip::address a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}

std::array<std::uint8_t, 16> bytes_of(ip::address const& a) {
  std::array<std::uint8_t, 16> out{};
  if (a.is_v4()) {
    auto const b = a.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), out.begin());
  } else {
    out = a.to_v6().to_bytes();
  }
  return out;
}

bool in_prefix(ip::address const& address, ip::address const& network, unsigned prefix) {
  if (address.is_v4() != network.is_v4()) return false;
  auto const a = bytes_of(address);
  auto const n = bytes_of(network);
  for (unsigned bit = 0; bit < prefix; ++bit) {
    auto const mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
    if ((a[bit / 8] & mask) != (n[bit / 8] & mask)) return false;
  }
  return true;
}

// Addresses no agent should be reached at unless the operator names them explicitly.
bool is_special(ip::address const& a) {
  if (a.is_loopback() || a.is_unspecified() || a.is_multicast()) return true;
  if (a.is_v4()) return in_prefix(a, ip::make_address_v4("169.254.0.0"), 16);
  return a.to_v6().is_link_local();
}

result<std::pair<ip::address, unsigned>> parse_cidr(std::string_view entry) {
  auto const slash = entry.find('/');
  auto bad = [&] {
    return Error(ee::errc::invalid_value, "'" + std::string(entry) + "' is not a CIDR (address/prefix)");
  };
  if (slash == std::string_view::npos) return bad();
  boost::system::error_code ec;
  auto const address = ip::make_address(std::string(entry.substr(0, slash)), ec);
  if (ec) return bad();
  unsigned prefix = 0;
  auto const digits = entry.substr(slash + 1);
  auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
  if (digits.empty() || err != std::errc() || end != digits.data() + digits.size() ||
      prefix > (address.is_v4() ? 32u : 128u)) {
    return bad();
  }
  return std::pair{unmapped(address), prefix};
}

bool looks_like_cidr(std::string_view entry) { return entry.find('/') != std::string_view::npos; }

}  // namespace

std::string AgentOrigin::text() const {
  std::string out = scheme + "://";
  out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (!port.empty()) out += ":" + port;
  return out;
}

result<AgentOrigin> parse_agent_origin(std::string_view url) {
  auto bad = [] { return Error(ee::errc::invalid_value, "agent_url is not an http(s) URL with a host"); };
  AgentOrigin o;
  if (url.starts_with("http://")) {
    o.scheme = "http";
    url.remove_prefix(7);
  } else if (url.starts_with("https://")) {
    o.scheme = "https";
    url.remove_prefix(8);
  } else {
    return bad();
  }
  auto authority = url.substr(0, url.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) return bad();
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    auto const close = authority.find(']');
    if (close == std::string_view::npos) return bad();
    host = authority.substr(1, close - 1);
    auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad();
      port = rest.substr(1);
    }
    boost::system::error_code ec;
    (void)ip::make_address_v6(std::string(host), ec);
    if (ec) return bad();
  } else {
    if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), is_name_char)) return bad();
  }
  unsigned number = 0;
  if (!port.empty()) {
    auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (err != std::errc() || end != port.data() + port.size() || number == 0 || number > 65535) return bad();
  }
  o.host = detail::ascii_lowercase(host);
  o.port = std::string(port);
  return o;
}

result<void> check_agent_network(std::string_view entry) {
  if (looks_like_cidr(entry)) {
    if (auto c = parse_cidr(entry); !c) return c.error();
    return {};
  }
  auto const name = entry.starts_with("*.") ? entry.substr(2) : entry;
  boost::system::error_code ec;
  (void)ip::make_address(std::string(name), ec);
  if (name.empty() || name.size() > 253 || !std::all_of(name.begin(), name.end(), is_name_char) ||
      name.front() == '.' || name.back() == '.' || !ec) {
    return Error(ee::errc::invalid_value, "'" + std::string(entry) +
                                              "' is neither a CIDR (an address is written a.b.c.d/32) nor a host "
                                              "name (name or *.suffix)");
  }
  return {};
}

result<AgentNetworks> AgentNetworks::parse(std::vector<std::string> const& entries) {
  AgentNetworks out;
  for (auto const& entry : entries) {
    if (auto r = check_agent_network(entry); !r) return r.error();
    if (looks_like_cidr(entry)) {
      auto c = parse_cidr(entry).value();
      out.cidrs_.push_back({c.first, c.second});
    } else {
      out.names_.push_back(detail::ascii_lowercase(entry));
    }
  }
  return out;
}

result<void> AgentNetworks::allows(AgentOrigin const& origin) const {
  boost::system::error_code ec;
  auto const literal = ip::make_address(origin.host, ec);
  if (!ec) {
    auto const address = unmapped(literal);
    for (auto const& c : cidrs_) {
      if (in_prefix(address, c.network, c.prefix)) return {};
    }
    return Error(errc::agent_unreachable,
                 std::string(is_special(address) ? "loopback, link-local and other special addresses are"
                                                 : "this address is") +
                     " not in the CP's agent networks (--agent-network); agents are reached through their tunnels");
  }
  for (auto const& name : names_) {
    if (name.starts_with("*.")) {
      auto const suffix = std::string_view(name).substr(1);  // ".internal.example"
      if (origin.host.size() > suffix.size() && origin.host.ends_with(suffix)) return {};
    } else if (origin.host == name) {
      return {};
    }
  }
  return Error(errc::agent_unreachable,
               "host '" + origin.host + "' is not in the CP's agent networks (--agent-network); agents are reached through their tunnels");
}

}  // namespace ee::cp
