// verify-quote: the smallest program on the installed libeasyenclave. It parses a TDX quote,
// verifies it with DCAP against a collateral bundle at a given time, and prints the verdict.
//
//   verify-quote QUOTE_FILE COLLATERAL_JSON UNIX_TIME
#include <easyenclave/tdx/describe.hpp>
#include <easyenclave/time.hpp>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: verify-quote QUOTE_FILE COLLATERAL_JSON UNIX_TIME\n";
    return 2;
  }
  auto now = ee::parse_time(argv[3]);
  if (!now) {
    std::cerr << now.error().message() << "\n";
    return 2;
  }
  auto verdict = ee::tdx::check_quote_file({.quote_file = argv[1], .collateral_file = argv[2], .root_file = {},
                                            .now = *now, .allowed_tcb_statuses = {ee::tdx::TcbStatus::up_to_date}});
  if (!verdict) {
    std::cerr << verdict.error().message() << " (" << verdict.error().id() << ")\n";
    return 3;
  }
  std::cout << ee::tdx::describe_verdict_text(*verdict);
  return verdict->accepted() ? 0 : 1;
}
