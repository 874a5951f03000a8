// Fuzzes the TDX quote parser (Intel TDX DCAP quote layout) and, on inputs that parse, DCAP
// verification with the caching verifier the CP uses: offline, and against a fixed real
// collateral bundle at a time inside its window, which walks the PEM chain, the certificates,
// the PCK extension and the collateral checks on attacker-controlled bytes.
#include <easyenclave/tdx/collateral.hpp>
#include <easyenclave/tdx/quote.hpp>
#include <easyenclave/tdx/verify.hpp>

#include "fuzz_support.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace {

std::shared_ptr<ee::tdx::Collateral const> const& collateral() {
  // dcap-qvl's collateral for its tdx_quote (FMSPC b0c06f000000), see fuzz/corpus/README.md.
  static auto const c = std::make_shared<ee::tdx::Collateral const>(
      ee::tdx::parse_collateral_bundle(ee_fuzz::data_file("collateral_tdx_b0c06f000000.json"))
          .value());
  return c;
}

// The fixed collateral is checked once and PCK chains are cached by their bytes, so an input
// costs its two quote signatures unless it changes the chain, which is then checked afresh.
ee::tdx::Verifier const& verifier() {
  static ee::tdx::Verifier const v;
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)collateral();
  (void)verifier();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  ee_fuzz::OpenSslErrorsCleared const queue_check;
  auto quote = ee::tdx::parse_quote(std::span(data, size));
  if (!quote) return 0;
  // Every view the parser hands out must lie inside the input (ASan reports a read past it).
  unsigned sum = 0;
  for (auto view : {quote->signed_bytes(), quote->qe_report_bytes(), quote->qe_auth_data(),
                    quote->pck_chain_pem(), quote->trailing_bytes()})
    for (auto b : view) sum += b;
  (void)sum;
  // 2025-06-20T00:00:00Z: inside the collateral's window (2025-06-19T10:32:27Z..2025-07-19).
  auto const now = std::chrono::system_clock::time_point{std::chrono::seconds{1750377600}};
  auto const offline = verifier().verify(*quote, nullptr, now);
  auto const online = verifier().verify(*quote, collateral(), now);
  ee_fuzz::check(offline.has_value() && online.has_value(), "verify returned an error channel");
  // A quote the offline checks refuse must not be accepted with collateral.
  ee_fuzz::check(offline->accepted() || !online->accepted(),
                 "collateral turned a refusal into acceptance");
  return 0;
}
