#pragma once
// Shared bits of the fake-service programs: "--flag value" parsing, the listening line, the wait.
#include <easyenclave/http/address.hpp>
#include <easyenclave/http/server.hpp>
#include <easyenclave/log.hpp>

#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace ee::test {

/// Parses `--name value` pairs (and `--help`) against `known`; prints usage and returns nullopt
/// on anything else.
inline std::optional<std::map<std::string, std::string>> parse_flags(int argc, char** argv,
                                                                     std::set<std::string> const& known,
                                                                     std::string const& usage) {
  std::map<std::string, std::string> flags;
  for (int i = 1; i < argc; ++i) {
    std::string const name = argv[i];
    if (name == "--help" || name == "-h") {
      std::cout << usage;
      std::exit(0);
    }
    if (!known.contains(name) || i + 1 >= argc) {
      std::cerr << usage;
      return std::nullopt;
    }
    flags[name.substr(2)] = argv[++i];
  }
  return flags;
}

inline std::string flag_or_env(std::map<std::string, std::string> const& flags, std::string const& name,
                               char const* env, std::string fallback) {
  if (auto it = flags.find(name); it != flags.end()) return it->second;
  if (env != nullptr) {
    if (char const* value = std::getenv(env)) return value;
  }
  return fallback;
}

/// Logs to stderr, prints {"event":"listening","url":...,<extra>} on stdout, serves until
/// SIGINT/SIGTERM.
inline int serve(ee::http::Server& server, std::string const& url, std::string const& extra_json) {
  std::cout << R"({"event":"listening","url":")" << url << "\"" << extra_json << "}" << std::endl;
  server.wait_for_signal();
  return 0;
}

inline void install_stderr_log() {
  ee::log::set_level(ee::log::Level::info);
  ee::log::set_sink(ee::log::make_stderr_sink(ee::log::Format::text));
}

}  // namespace ee::test
