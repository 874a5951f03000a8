// ee-consumer QUOTE_FILE: prints the library version, then parses the quote and prints its
// version and MRTD. Exit 1 when the quote does not parse.
#include <easyenclave/encoding.hpp>
#include <easyenclave/file.hpp>
#include <easyenclave/tdx/quote.hpp>
#include <easyenclave/version.hpp>

#include <cstdint>
#include <iostream>
#include <vector>

int main(int argc, char** argv) {
  std::cout << "easyenclave " << ee::version() << "\n";
  if (argc != 2) return 2;
  auto bytes = ee::read_file(argv[1]);
  if (!bytes) return 2;
  std::vector<std::uint8_t> const data(bytes->begin(), bytes->end());
  auto quote = ee::tdx::parse_quote(data);
  if (!quote) {
    std::cerr << quote.error().message() << "\n";
    return 1;
  }
  std::cout << "quote v" << quote->version() << " mr_td " << ee::hex_encode(quote->td_report().mr_td)
            << "\n";
  return 0;
}
