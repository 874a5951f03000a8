// Certificate and CRL parsing details (src/tdx/x509.hpp) that the public API reaches only
// through verification.
#include "tdx/x509.hpp"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
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

// verify_p256 writes the DER signature from r||s itself: every length of r and s must come out
// as OpenSSL's own encoding would, so signatures whose r or s has leading zero bytes or the top
// bit set verify, and anything else does not.
TEST(VerifyP256, AcceptsEverySignatureOpenSslMakesAndNothingElse) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"),
                                                          &EVP_PKEY_free);
  ASSERT_TRUE(key);
  int short_values = 0;
  int high_bit_values = 0;
  for (int i = 0; i < 1500; ++i) {
    std::string const message = "message " + std::to_string(i);
    std::vector<unsigned char> der(80);
    std::size_t der_len = der.size();
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    ASSERT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()), 1);
    ASSERT_EQ(EVP_DigestSign(ctx.get(), der.data(), &der_len, reinterpret_cast<unsigned char const*>(message.data()),
                             message.size()),
              1);
    unsigned char const* p = der.data();
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)),
                                                              &ECDSA_SIG_free);
    ASSERT_TRUE(sig);
    ee::tdx::P256Raw raw{};
    ASSERT_EQ(BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw.data(), 32), 32);
    ASSERT_EQ(BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw.data() + 32, 32), 32);
    for (std::size_t half : {std::size_t{0}, std::size_t{32}}) {
      short_values += raw[half] == 0 ? 1 : 0;
      high_bit_values += (raw[half] & 0x80) != 0 ? 1 : 0;
    }
    d::ByteView const bytes(reinterpret_cast<std::uint8_t const*>(message.data()), message.size());
    ASSERT_TRUE(d::verify_p256(key.get(), bytes, raw)) << "signature " << i;
    auto flipped = raw;
    flipped[static_cast<std::size_t>(i % 64)] ^= 0x01;
    EXPECT_FALSE(d::verify_p256(key.get(), bytes, flipped)) << "signature " << i;
  }
  // Both shapes the encoding treats specially were met (each about 1/256 and 1/2 of values).
  EXPECT_GT(short_values, 0);
  EXPECT_GT(high_bit_values, 0);

  ee::tdx::P256Raw zero{};
  ee::tdx::P256Raw ones{};
  ones.fill(0xff);  // r and s above the group order
  d::ByteView const any(reinterpret_cast<std::uint8_t const*>("x"), 1);
  EXPECT_FALSE(d::verify_p256(key.get(), any, zero));
  EXPECT_FALSE(d::verify_p256(key.get(), any, ones));
}

}  // namespace
