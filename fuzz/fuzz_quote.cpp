// Fuzzes the TDX quote parser and, on inputs that parse, offline verification (which walks the
// PEM chain, certificates and the PCK extension of attacker-controlled bytes).
#include <easyenclave/tdx/quote.hpp>
#include <easyenclave/tdx/verify.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  auto quote = ee::tdx::parse_quote(std::span(data, size));
  if (!quote) return 0;
  ee::tdx::VerifyOptions options;
  options.now = std::chrono::system_clock::time_point{std::chrono::seconds{1752919234}};
  (void)ee::tdx::verify(*quote, nullptr, options);
  return 0;
}
