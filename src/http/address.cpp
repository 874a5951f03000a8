#include <easyenclave/http/address.hpp>

#include <charconv>

namespace ee::http {
namespace {
Error bad_address(std::string_view text, std::string_view why) {
  return Error(errc::invalid_value, "address '" + std::string(text) + "': " + std::string(why));
}
}  // namespace

result<HostPort> parse_host_port(std::string_view text, std::string_view default_host) {
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto const close = text.find(']');
    if (close == std::string_view::npos) return bad_address(text, "unbalanced '['");
    host = text.substr(1, close - 1);
    if (host.empty()) return bad_address(text, "empty IPv6 address");
    if (close + 1 >= text.size() || text[close + 1] != ':') return bad_address(text, "expected ':PORT' after ']'");
    port_text = text.substr(close + 2);
  } else {
    auto const colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad_address(text, "expected HOST:PORT");
    host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return bad_address(text, "IPv6 addresses need brackets: [::1]:PORT");
    port_text = text.substr(colon + 1);
  }
  if (host.empty()) host = default_host;
  if (host.empty()) return bad_address(text, "missing host");
  if (port_text.empty()) return bad_address(text, "missing port");
  unsigned port = 0;
  auto const [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size())
    return bad_address(text, "port is not a number");
  if (port > 65535) return bad_address(text, "port above 65535");
  return HostPort{std::string(host), static_cast<std::uint16_t>(port)};
}

std::string to_string(HostPort const& address) {
  bool const v6 = address.host.find(':') != std::string::npos;
  return (v6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(address.port);
}

}  // namespace ee::http
