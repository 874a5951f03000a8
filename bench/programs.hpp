#pragma once
// What the benchmarks that run the project's programs share: where a program listens, and how
// much memory a process holds. Header-only, like support.hpp.
#include "support/process.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace ee::bench {

/// The URL `process` prints when it serves, or exit(1) with its stderr: a benchmark without its
/// server has nothing to measure.
inline std::string url_or_exit(ee::test::Process& process, char const* what) {
  auto url = ee::test::listening_url(process, std::chrono::seconds(30));
  if (url.empty()) {
    std::fprintf(stderr, "%s did not start: %s\n", what, process.err().c_str());
    std::exit(1);
  }
  return url;
}

/// VmRSS of `pid` in KiB (/proc/PID/status), -1 when unreadable.
inline long resident_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace ee::bench
