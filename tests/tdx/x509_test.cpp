// Certificate and CRL parsing details (src/tdx/x509.hpp) that the public API reaches only
// through verification.
#include "tdx/x509.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>

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

namespace {

// A failure's reason is in its Error; OpenSSL's queue is left as the caller had it.
TEST(X509Errors, AFailureLeavesTheOpenSslErrorQueueAsTheCallerHadIt) {
  ERR_clear_error();
  ERR_raise(ERR_LIB_USER, 42);  // the caller's own pending entry
  ee::tdx::P256Raw off_curve{};
  off_curve[63] = 1;  // (0, 1) is not on P-256
  EXPECT_FALSE(d::p256_key_from_raw(off_curve).has_value());
  std::vector<std::uint8_t> const not_der{0x30, 0x82, 0xff, 0xff, 0x01};
  EXPECT_FALSE(d::parse_certificate(not_der, "cert").has_value());
  EXPECT_FALSE(d::parse_crl(not_der, "crl").has_value());
  EXPECT_EQ(ERR_GET_REASON(ERR_get_error()), 42);
  EXPECT_EQ(ERR_get_error(), 0u);
}

}  // namespace
