// Certificate and CRL parsing details (src/tdx/x509.hpp) that the public API reaches only
// through verification.
#include "tdx/x509.hpp"

#include <easyenclave/tdx/collateral.hpp>
#include <easyenclave/tdx/quote.hpp>

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
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

// --- CertificatePool: each certificate of a call parsed once, without the generic key decoder --

namespace {

namespace tdx = ee::tdx;

struct Chains {
  std::string pck;      // from the quote: PCK, Platform CA, root
  std::string pck_crl;  // Platform CA, root
  std::string tcb;      // TCB signing, root
  std::string qe;       // the same text as tcb
};

Chains const& chains() {
  static Chains const c = [] {
    std::string const dir = std::string(EE_TESTDATA_DIR) + "/attestation/";
    std::ifstream in(dir + "quotes/tdx_v4_dcapqvl.dat", std::ios::binary);
    std::vector<std::uint8_t> const bytes((std::istreambuf_iterator<char>(in)),
                                          std::istreambuf_iterator<char>());
    auto quote = tdx::parse_quote(bytes);
    auto collateral = tdx::load_collateral_file(dir + "collateral/dcapqvl_tdx_b0c06f000000.json");
    if (!quote || !collateral) return Chains{};
    auto const pem = quote->pck_chain_pem();
    std::string pck(reinterpret_cast<char const*>(pem.data()), pem.size());
    while (!pck.empty() && pck.back() == '\0') pck.pop_back();
    return Chains{pck, collateral->pck_crl_issuer_chain_pem, collateral->tcb_info_issuer_chain_pem,
                  collateral->qe_identity_issuer_chain_pem};
  }();
  return c;
}

d::SharedX509 intel_root() {
  static d::SharedX509 const root = d::parse_certificate(d::intel_sgx_root_ca_der(), "root").value();
  return root;
}

d::CertificatePool pinned_pool() { return d::CertificatePool(intel_root(), d::intel_sgx_root_ca_der()); }

std::string pem_of(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long const n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string pem_of_der(std::vector<std::uint8_t> const& der) {
  auto const* p = der.data();
  std::unique_ptr<X509, decltype(&X509_free)> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())),
                                                   &X509_free);
  return cert ? pem_of(cert.get()) : std::string();
}

// The DER of certificate `index` of a PEM chain, parsed the usual way.
std::vector<std::uint8_t> der_of(std::string const& pem, std::size_t index) {
  auto chain = d::parse_pem_chain(pem, "chain");
  return chain && index < chain->size() ? d::certificate_der((*chain)[index].get())
                                        : std::vector<std::uint8_t>{};
}

TEST(CertificatePool, ParsesEachCertificateOnceAndThePinnedRootNotAtAll) {
  ASSERT_FALSE(chains().pck.empty());
  EXPECT_EQ(chains().tcb, chains().qe);
  auto pool = pinned_pool();
  auto pck = pool.parse_pem_chain(chains().pck, "PCK chain");
  ASSERT_TRUE(pck.has_value()) << pck.error().message();
  ASSERT_EQ(pck->size(), 3u);
  EXPECT_EQ(pck->back(), intel_root());  // the pinned object itself, compared by bytes
  auto crl = pool.parse_pem_chain(chains().pck_crl, "PCK CRL issuer chain");
  ASSERT_TRUE(crl.has_value()) << crl.error().message();
  ASSERT_EQ(crl->size(), 2u);
  EXPECT_EQ((*crl)[0], (*pck)[1]);  // the Platform CA, parsed once
  EXPECT_EQ((*crl)[1], intel_root());
  auto tcb = pool.parse_pem_chain(chains().tcb, "TCB chain");
  auto qe = pool.parse_pem_chain(chains().qe, "QE chain");
  ASSERT_TRUE(tcb.has_value() && qe.has_value());
  EXPECT_EQ((*tcb)[0], (*qe)[0]);

  // Pooled certificates carry no key of their own (the generic decoder never ran on them);
  // the pool's key is the same key as the one OpenSSL decodes the usual way.
  for (auto const* list : {&*pck, &*tcb}) {
    for (std::size_t i = 0; i + 1 < list->size(); ++i) {
      X509* cert = (*list)[i].get();
      EXPECT_EQ(X509_get0_pubkey(cert), nullptr);
      ERR_clear_error();
      auto usual = d::parse_certificate(d::certificate_der(cert), "usual");
      ASSERT_TRUE(usual.has_value());
      ASSERT_NE(pool.key_of(cert), nullptr);
      EXPECT_EQ(EVP_PKEY_eq(pool.key_of(cert), X509_get0_pubkey(usual->get())), 1);
      EXPECT_TRUE(pool.p256_key(cert, "cert").has_value());
    }
  }
  EXPECT_EQ(pool.key_of(intel_root().get()), X509_get0_pubkey(intel_root().get()));

  // Chains verify; again (the pairs remembered) and for the chains sharing the CAs.
  for (int round = 0; round < 2; ++round) {
    EXPECT_TRUE(d::verify_chain(*pck, intel_root().get(), tdx::errc::pck_chain_untrusted, "pck", &pool));
    EXPECT_TRUE(d::verify_chain(*crl, intel_root().get(), tdx::errc::collateral_chain_untrusted, "crl", &pool));
    EXPECT_TRUE(d::verify_chain(*tcb, intel_root().get(), tdx::errc::collateral_chain_untrusted, "tcb", &pool));
  }
}

TEST(CertificatePool, RefusesWhatParsePemChainRefusesWithTheSameMessage) {
  auto const leaf = der_of(chains().pck, 0);
  ASSERT_FALSE(leaf.empty());
  auto const good = pem_of_der(leaf);
  auto trailing = leaf;
  trailing.push_back(0x00);
  auto truncated = leaf;
  truncated.resize(truncated.size() - 1);
  auto const block = [](std::vector<std::uint8_t> const& der) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string b64;
    for (std::size_t i = 0; i < der.size(); i += 3) {
      std::uint32_t v = std::uint32_t{der[i]} << 16;
      if (i + 1 < der.size()) v |= std::uint32_t{der[i + 1]} << 8;
      if (i + 2 < der.size()) v |= der[i + 2];
      b64 += kAlphabet[(v >> 18) & 63];
      b64 += kAlphabet[(v >> 12) & 63];
      b64 += i + 1 < der.size() ? kAlphabet[(v >> 6) & 63] : '=';
      b64 += i + 2 < der.size() ? kAlphabet[v & 63] : '=';
    }
    return "-----BEGIN CERTIFICATE-----\n" + b64 + "\n-----END CERTIFICATE-----\n";
  };
  std::vector<std::string> const bad = {
      "",
      "not PEM",
      good + "garbage",
      "-----BEGIN CERTIFICATE-----\nMIIB!!!!\n-----END CERTIFICATE-----\n",
      good.substr(0, good.find("-----END")),  // no end marker
      block(trailing),
      block(truncated),
      good + block(std::vector<std::uint8_t>{0x30, 0x03, 0x02, 0x01, 0x01}),
  };
  for (auto const& text : bad) {
    auto pool = pinned_pool();
    auto pooled = pool.parse_pem_chain(text, "chain");
    auto plain = d::parse_pem_chain(text, "chain");
    ASSERT_FALSE(pooled.has_value()) << text;
    ASSERT_FALSE(plain.has_value()) << text;
    EXPECT_EQ(pooled.error().code(), plain.error().code()) << text;
    EXPECT_EQ(pooled.error().message(), plain.error().message()) << text;
  }
  auto pool = pinned_pool();
  EXPECT_TRUE(pool.parse_pem_chain(block(leaf), "chain").has_value());
}

TEST(CertificatePool, AWrongCertificateInAChainIsStillRefused) {
  auto pool = pinned_pool();
  auto const leaf = pem_of_der(der_of(chains().pck, 0));
  auto const platform_ca = pem_of_der(der_of(chains().pck, 1));
  auto const tcb_signer = pem_of_der(der_of(chains().tcb, 0));
  auto const root = pem_of_der(der_of(chains().pck, 2));
  // The real chains first, so every genuine pair is remembered.
  for (auto const& text : {chains().pck, chains().tcb}) {
    auto chain = pool.parse_pem_chain(text, "chain");
    ASSERT_TRUE(chain.has_value());
    ASSERT_TRUE(d::verify_chain(*chain, intel_root().get(), tdx::errc::pck_chain_untrusted, "chain", &pool));
  }
  for (auto const& text : {leaf + tcb_signer + root,    // the TCB signer did not issue the PCK
                           leaf + root,                  // the CA left out
                           platform_ca + leaf + root,    // reversed
                           leaf + platform_ca + tcb_signer,  // does not end in the root
                           tcb_signer + tcb_signer + root}) {
    auto chain = pool.parse_pem_chain(text, "chain");
    ASSERT_TRUE(chain.has_value());
    auto ok = d::verify_chain(*chain, intel_root().get(), tdx::errc::pck_chain_untrusted, "chain", &pool);
    ASSERT_FALSE(ok.has_value()) << text;
    EXPECT_EQ(ok.error().code(), tdx::errc::pck_chain_untrusted);
  }
}

// A certificate whose SPKI point is not on the curve parses (its signature is another matter)
// but has no key: it signs nothing and is refused as a leaf.
TEST(CertificatePool, AKeyNotOnTheCurveIsNoKey) {
  auto der = der_of(chains().pck, 1);
  auto usual = d::parse_certificate(der, "ca");
  ASSERT_TRUE(usual.has_value());
  std::array<unsigned char, 65> point{};
  std::size_t point_size = 0;
  ASSERT_EQ(EVP_PKEY_get_octet_string_param(X509_get0_pubkey(usual->get()), "encoded-pub-key",
                                            point.data(), point.size(), &point_size),
            1);
  ASSERT_EQ(point_size, 65u);
  auto const at = std::search(der.begin(), der.end(), point.begin(), point.end());
  ASSERT_NE(at, der.end());
  *(at + 64) ^= 0x01;  // y changed: off the curve
  auto pool = pinned_pool();
  auto const leaf = pem_of_der(der_of(chains().pck, 0));
  auto chain = pool.parse_pem_chain(leaf + pem_of_der(der) + pem_of_der(der_of(chains().pck, 2)), "chain");
  ASSERT_TRUE(chain.has_value()) << chain.error().message();
  X509* bad_ca = (*chain)[1].get();
  EXPECT_EQ(pool.key_of(bad_ca), nullptr);
  auto key = pool.p256_key(bad_ca, "CA");
  ASSERT_FALSE(key.has_value());
  EXPECT_EQ(key.error().code(), tdx::errc::bad_certificate);
  EXPECT_EQ(d::check_issued(bad_ca, pool.key_of(bad_ca), (*chain)[0].get()), X509_V_ERR_NO_ISSUER_PUBLIC_KEY);
  EXPECT_FALSE(d::verify_chain(*chain, intel_root().get(), tdx::errc::pck_chain_untrusted, "chain", &pool));
  EXPECT_FALSE(d::p256_key_of_spki(bad_ca, "CA").has_value());
}

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

// A self-signed certificate with a key of `curve`, made here.
std::string self_signed_pem(char const* curve) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve), &EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
  if (!key || !cert) return {};
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<unsigned char const*>(curve), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return {};
  return pem_of(cert.get());
}

TEST(P256Key, FromSpkiTakesOnlyAP256Point) {
  for (char const* curve : {"P-384", "P-521", "secp256k1"}) {
    auto const pem = self_signed_pem(curve);
    ASSERT_FALSE(pem.empty()) << curve;
    auto pool = pinned_pool();
    auto chain = pool.parse_pem_chain(pem, "chain");
    ASSERT_TRUE(chain.has_value()) << curve;
    EXPECT_EQ(pool.key_of(chain->front().get()), nullptr) << curve;
    auto key = d::p256_key_of_spki(chain->front().get(), "cert");
    ASSERT_FALSE(key.has_value()) << curve;
    EXPECT_EQ(key.error().code(), tdx::errc::bad_certificate);
  }
  auto pool = pinned_pool();
  auto chain = pool.parse_pem_chain(self_signed_pem("P-256"), "chain");
  ASSERT_TRUE(chain.has_value());
  EXPECT_NE(pool.key_of(chain->front().get()), nullptr);
  // Its self-signature verifies with the imported key; the Intel root's does not.
  EXPECT_EQ(X509_verify(chain->front().get(), pool.key_of(chain->front().get())), 1);
  EXPECT_NE(X509_verify(chain->front().get(), X509_get0_pubkey(intel_root().get())), 1);
  ERR_clear_error();
}

TEST(P256Key, FromPointTakesOnlyAnUncompressedPointOnTheCurve) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), &EVP_PKEY_free);
  ASSERT_TRUE(key);
  std::vector<std::uint8_t> point(65);
  std::size_t size = 0;
  ASSERT_EQ(EVP_PKEY_get_octet_string_param(key.get(), "encoded-pub-key", point.data(), point.size(), &size), 1);
  ASSERT_EQ(size, 65u);
  auto imported = d::p256_key_from_point(point);
  ASSERT_TRUE(imported);
  EXPECT_EQ(EVP_PKEY_eq(imported.get(), key.get()), 1);

  auto off_curve = point;
  off_curve[64] ^= 0x01;
  auto compressed = point;
  compressed[0] = 0x02;
  std::vector<std::uint8_t> infinity{0x00};
  std::vector<std::uint8_t> short_point(point.begin(), point.end() - 1);
  auto long_point = point;
  long_point.push_back(0x00);
  std::vector<std::uint8_t> zero(65, 0x00);
  zero[0] = 0x04;
  for (auto const* bad : {&off_curve, &compressed, &infinity, &short_point, &long_point, &zero})
    EXPECT_FALSE(d::p256_key_from_point(*bad));
  EXPECT_EQ(ERR_peek_error(), 0u);
}

// check_issued is X509_check_issued with the key passed in: on every ordered pair of the Intel
// certificates (parsed the usual way, so OpenSSL has their keys) both give the same answer.
TEST(CheckIssued, AgreesWithOpenSslOnEveryPairOfTheIntelCertificates) {
  std::vector<d::SharedX509> certs;
  for (auto const& [text, index] : {std::pair{chains().pck, 0}, std::pair{chains().pck, 1},
                                    std::pair{chains().tcb, 0}, std::pair{chains().pck, 2}}) {
    auto cert = d::parse_certificate(der_of(text, static_cast<std::size_t>(index)), "cert");
    ASSERT_TRUE(cert.has_value());
    certs.push_back(*cert);
  }
  int accepted = 0;
  for (auto const& issuer : certs) {
    for (auto const& subject : certs) {
      int const ours = d::check_issued(issuer.get(), X509_get0_pubkey(issuer.get()), subject.get());
      EXPECT_EQ(ours, X509_check_issued(issuer.get(), subject.get()))
          << d::common_name(issuer.get()) << " -> " << d::common_name(subject.get());
      accepted += ours == X509_V_OK ? 1 : 0;
    }
  }
  EXPECT_EQ(accepted, 4);  // CA by root, TCB signer by root, PCK by CA, root by itself
  // Without a key nothing is issued.
  EXPECT_EQ(d::check_issued(certs[1].get(), nullptr, certs[0].get()), X509_V_ERR_NO_ISSUER_PUBLIC_KEY);
}

TEST(ParseCrl, PemAndDerGiveTheSameCrlAndTrailingBytesAreRefused) {
  std::string const dir = std::string(EE_TESTDATA_DIR) + "/attestation/";
  auto collateral = tdx::load_collateral_file(dir + "collateral/dcapqvl_tdx_b0c06f000000.json");
  ASSERT_TRUE(collateral.has_value());
  auto const& der = collateral->pck_crl_der;
  auto crl = d::parse_crl(der, "crl");
  ASSERT_TRUE(crl.has_value()) << crl.error().message();
  auto trailing = der;
  trailing.push_back(0x00);
  auto bad = d::parse_crl(trailing, "crl");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), tdx::errc::malformed_collateral);
  auto truncated = der;
  truncated.pop_back();
  EXPECT_FALSE(d::parse_crl(truncated, "crl").has_value());
  // The PEM form of the same CRL.
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  ASSERT_EQ(PEM_write_bio_X509_CRL(bio.get(), crl->get()), 1);
  char* data = nullptr;
  long const n = BIO_get_mem_data(bio.get(), &data);
  std::vector<std::uint8_t> const pem(data, data + n);
  auto from_pem = d::parse_crl(pem, "crl");
  ASSERT_TRUE(from_pem.has_value()) << from_pem.error().message();
  EXPECT_EQ(X509_CRL_cmp(from_pem->get(), crl->get()), 0);
  auto der_again = d::crl_to_der(pem, "crl");
  ASSERT_TRUE(der_again.has_value());
  EXPECT_EQ(*der_again, der);
}

}  // namespace
