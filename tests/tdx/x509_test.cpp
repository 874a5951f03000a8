// Certificate and CRL parsing details (src/tdx/x509.hpp) that the public API reaches only
// through verification.
#include "tdx/x509.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

namespace d = ee::tdx::detail;

std::vector<std::uint8_t> fuzz_input(std::string const& name) {
  std::ifstream in(std::string(EE_SOURCE_DIR) + "/fuzz/corpus/" + name, std::ios::binary);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  if (!bytes.empty()) bytes.erase(bytes.begin());  // the fuzz target's mode byte
  return bytes;
}

// Found by fuzz_x509: a nextUpdate after 2262 overflowed the nanosecond clock (undefined
// behaviour; in practice it wrapped to 1819, so the CRL looked expired before it was issued).
TEST(X509Time, FarFutureCrlNextUpdateSaturatesInsteadOfWrapping) {
  auto const pem = fuzz_input("fuzz_x509/crl-next-update-2404.pem");
  ASSERT_FALSE(pem.empty());
  auto crl = d::parse_crl(pem, "crl");
  ASSERT_TRUE(crl.has_value()) << crl.error().message();
  auto window = d::crl_window(crl->get(), "crl");
  ASSERT_TRUE(window.has_value()) << window.error().message();
  EXPECT_EQ(window->not_after, ee::tdx::TimePoint::max());
  EXPECT_LT(window->not_before, window->not_after);
  auto const in_2025 = ee::tdx::TimePoint{std::chrono::seconds{1750377600}};
  EXPECT_TRUE(window->contains(in_2025));
  EXPECT_TRUE(d::check_collateral_window(*window, in_2025, "crl").has_value());
}

}  // namespace
