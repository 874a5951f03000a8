#pragma once
/// @file Listen and connect addresses as written in flags and config ("HOST:PORT").
#include <easyenclave/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace ee::http {

struct HostPort {
  std::string host{};  ///< a name, an IPv4 address, or an IPv6 address without brackets
  std::uint16_t port = 0;
};

/// Parses "127.0.0.1:8080", "localhost:0", "[::1]:443" or ":8080" (host defaults to
/// `default_host`). Port 0 is allowed (the kernel picks one).
/// @returns core errc::invalid_value naming what is wrong (missing port, port above 65535,
///          unbalanced brackets, empty host with no default). Never throws.
result<HostPort> parse_host_port(std::string_view text, std::string_view default_host = "");

/// "host:port", with brackets around IPv6 hosts.
std::string to_string(HostPort const& address);

}  // namespace ee::http
