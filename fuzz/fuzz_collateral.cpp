// Fuzzes the collateral bundle loader: strict JSON, then TCB info / QE identity / CRL / PEM
// parsing of every field.
#include <easyenclave/tdx/collateral.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  (void)ee::tdx::parse_collateral_bundle(std::string_view(reinterpret_cast<char const*>(data), size));
  return 0;
}
