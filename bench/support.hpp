#pragma once
// What every benchmark program shares: reading its inputs and measuring a rate. Header-only, so
// each bench stays one translation unit.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

namespace ee::bench {

/// The whole file, or exit(2) with a message: a benchmark without its inputs has nothing to say.
inline std::string read_file_or_exit(std::string const& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(2);
  }
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct RateOptions {
  double seconds = 1.0;          ///< run at least this long
  long max_iterations = 2'000'000;
  int batch = 16;                ///< operations between clock reads
};

/// Runs `op` in batches until `options.seconds` have passed (or max_iterations), prints
/// "name  N /s  (us per op)" and returns operations per second. `op` returning false means an
/// unexpected result, which aborts the benchmark: a figure for a wrong answer is worthless.
inline double rate(char const* name, std::function<bool()> const& op, RateOptions options = {}) {
  using Clock = std::chrono::steady_clock;
  long done = 0;
  auto const start = Clock::now();
  double elapsed = 0;
  while (elapsed < options.seconds && done < options.max_iterations) {
    for (int i = 0; i < options.batch; ++i) {
      if (!op()) {
        std::fprintf(stderr, "%s: unexpected result\n", name);
        std::exit(1);
      }
    }
    done += options.batch;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  double const per_second = static_cast<double>(done) / elapsed;
  std::printf("  %-46s %10.0f /s  %8.1f us\n", name, per_second, 1e6 / per_second);
  return per_second;
}

}  // namespace ee::bench
