#pragma once
// Where the CP may send requests to an agent's self-reported agent_url (outside dev). An agent
// writes its agent_url itself, so without this an outsider with a trusted TD could make the CP
// request any address it can reach (loopback services, cloud metadata) and, through the logs
// route, read the answer. Only the origin of an agent_url is ever used; paths are the CP's.
#include <easyenclave/error.hpp>

#include <boost/asio/ip/address.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace ee::cp {

/// The scheme, host and port of an agent_url, and its origin text ("http://host:port").
struct AgentOrigin {
  std::string scheme{};
  std::string host{};  ///< lowercase; an IPv6 literal without its brackets
  std::string port{};  ///< empty: the scheme's default
  std::string text() const;
};

/// Parses the origin of `agent_url` (anything after it is ignored, never used).
/// ee::errc::invalid_value when it is not an http(s) URL with a host.
result<AgentOrigin> parse_agent_origin(std::string_view agent_url);

/// One entry of Options::agent_networks: a CIDR or a host name ("name", "*.suffix").
/// ee::errc::invalid_value naming the entry when it is neither.
result<void> check_agent_network(std::string_view entry);

class AgentNetworks {
 public:
  /// Entries as check_agent_network accepts them.
  static result<AgentNetworks> parse(std::vector<std::string> const& entries);

  /// Whether `origin` may be reached: an IP literal inside a listed CIDR (loopback, link-local,
  /// unspecified and multicast addresses only when a CIDR names them, never by default), or a
  /// host name that a listed name matches. cp::errc::agent_unreachable saying why not.
  result<void> allows(AgentOrigin const& origin) const;
  bool empty() const noexcept { return cidrs_.empty() && names_.empty(); }

 private:
  struct Cidr {
    boost::asio::ip::address network{};
    unsigned prefix = 0;
  };
  std::vector<Cidr> cidrs_{};
  std::vector<std::string> names_{};  ///< lowercase; "*.x" matches subdomains of x
};

}  // namespace ee::cp
