// DCAP verification against the real quotes and collateral in tests/data/attestation:
// every row of its README's verification matrix at the listed clocks, offline windows, the
// byte-flip negatives, a self-made root, TCB matching units and the caching Verifier.
#include <easyenclave/tdx/verify.hpp>

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "detail/time.hpp"
#include "support/attestation_data.hpp"
#include "support/temp_dir.hpp"
#include "support/test_pki.hpp"
#include "tdx/collateral_json.hpp"
#include "tdx/tcb.hpp"
#include "tdx/x509.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace {

namespace tdx = ee::tdx;
using Bytes = std::vector<std::uint8_t>;
using ee::detail::format_rfc3339;
using ee::detail::hex_encode;

using ee::test::collateral_text;
using ee::test::quote_bytes;

tdx::Quote quote(std::string const& name) {
  auto q = tdx::parse_quote(quote_bytes(name));
  EXPECT_TRUE(q) << name << ": " << (q ? "" : q.error().message());
  return q ? std::move(*q) : tdx::Quote{};
}

tdx::Collateral bundle(std::string const& name) {
  auto c = tdx::load_collateral_file(ee::test::testdata("attestation/collateral/" + name));
  EXPECT_TRUE(c) << name << ": " << (c ? "" : c.error().message());
  return c ? std::move(*c) : tdx::Collateral{};
}

tdx::Collateral gtg(std::string const& tcb_info_file = "gtg_tcbinfo_tdx_50806f000000.json") {
  auto c = tdx::collateral_from_pcs(ee::test::gtg_pcs_responses(tcb_info_file));
  EXPECT_TRUE(c) << (c ? "" : c.error().message());
  return c ? std::move(*c) : tdx::Collateral{};
}

tdx::TimePoint at(std::int64_t unix_seconds) {
  return ee::detail::from_unix_seconds(unix_seconds);
}

tdx::Verdict run(tdx::Quote const& q, tdx::Collateral const* c, std::int64_t unix_seconds,
                 tdx::TrustedRoot root = tdx::TrustedRoot::intel_sgx_root_ca()) {
  auto v = tdx::verify(q, c, {.root = std::move(root), .now = at(unix_seconds)});
  EXPECT_TRUE(v) << (v ? "" : v.error().message());
  return v ? std::move(*v) : tdx::Verdict{};
}

std::string describe(tdx::Verdict const& v) {
  std::string out;
  for (auto const& s : v.steps)
    out += (s.passed ? "  ok   " : "  FAIL ") + s.name + ": " + s.detail + "\n";
  return out;
}

void expect_accepted(tdx::Verdict const& v) {
  EXPECT_TRUE(v.accepted()) << describe(v);
  EXPECT_EQ(v.first_failure(), nullptr);
  EXPECT_FALSE(v.error.failed());
}

void expect_failure(tdx::Verdict const& v, std::string const& step, ee::Error const& code) {
  EXPECT_FALSE(v.accepted()) << describe(v);
  auto const* failed = v.first_failure();
  ASSERT_NE(failed, nullptr) << describe(v);
  EXPECT_EQ(failed->name, step) << describe(v);
  EXPECT_EQ(v.error, code) << v.error.message();
  EXPECT_EQ(&v.steps.back(), failed) << "verification continued after a failure";
  EXPECT_FALSE(failed->detail.empty());
}

constexpr std::int64_t kGtgClock = 1688173200;      // 2023-07-01T01:00:00Z
constexpr std::int64_t kV5Clock = 1770080400;       // 2026-02-03T01:00:00Z
constexpr std::int64_t kDcapQvlClock = 1752919234;  // 2025-07-19T10:00:34Z
constexpr std::int64_t kV5CollateralClock = 1774003274;  // 2026-03-20T10:41:14Z

// --- trusted root ----------------------------------------------------------------------------

TEST(TrustedRoot, EmbeddedIntelRootIsThePinnedCertificate) {
  auto const root = tdx::TrustedRoot::intel_sgx_root_ca();
  EXPECT_EQ(root.fingerprint(),
            "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3");
  EXPECT_EQ(hex_encode(ee::detail::sha256(tdx::detail::intel_sgx_root_ca_der())),
            root.fingerprint());
  for (auto const* file : {"intel_sgx_root_ca.pem", "intel_sgx_root_ca.der"}) {
    auto loaded =
        tdx::TrustedRoot::from_file(ee::test::testdata(std::string("attestation/roots/") + file));
    ASSERT_TRUE(loaded) << loaded.error().message();
    EXPECT_EQ(loaded->fingerprint(), root.fingerprint());
  }
}

TEST(TrustedRoot, RejectsWhatIsNotOneCertificate) {
  std::string const text = "not a certificate";
  auto r = tdx::TrustedRoot::from_certificate(ee::detail::as_bytes(text));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), tdx::errc::bad_certificate);
  auto const two = collateral_text("gtg_tcb_signing_chain.pem");
  auto chain = tdx::TrustedRoot::from_certificate(ee::detail::as_bytes(two));
  ASSERT_FALSE(chain);
  EXPECT_EQ(chain.error(), tdx::errc::bad_certificate);
  ee::test::TempDir dir;
  auto missing = tdx::TrustedRoot::from_file(dir.path() / "none.pem");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), ee::errc::io_error);
}

// --- verification matrix (README rows 1-13) --------------------------------------------------

TEST(VerifyMatrix, Row01OfflineSprQuoteVerifies) {
  auto const v = run(quote("tdx_v4_gtg_spr_e4.dat"), nullptr, kGtgClock);
  expect_accepted(v);
  EXPECT_TRUE(v.offline);
  EXPECT_EQ(v.tcb_status, tdx::TcbStatus::unknown);
  ASSERT_EQ(v.steps.size(), 5u);
  EXPECT_EQ(v.steps[0].name, "quote_signature");
  EXPECT_EQ(v.steps[1].name, "pck_chain");
  EXPECT_EQ(v.steps[2].name, "qe_report_signature");
  EXPECT_EQ(v.steps[3].name, "qe_report_binding");
  EXPECT_EQ(v.steps[4].name, "pck_extension");
  EXPECT_EQ(hex_encode(v.fmspc), "50806f000000");
  EXPECT_EQ(v.pck.pce_svn, 11);
  EXPECT_EQ(hex_encode(v.td_report.mr_td),
            "6363b8043668a3ad953278e10389574d326c6749fb78aa81"
            "0ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb");
}

TEST(VerifyMatrix, Row02OfflineSprQuoteFailsIn2053) {
  auto const v = run(quote("tdx_v4_gtg_spr_e4.dat"), nullptr, 2634940800);
  expect_failure(v, "pck_chain", tdx::errc::certificate_expired);
  EXPECT_NE(v.error.message().find("Intel SGX PCK Certificate"), std::string::npos)
      << v.error.message();
  EXPECT_EQ(v.error, ee::condition::unauthenticated);
}

TEST(VerifyMatrix, Row03GtgCollateralHasNoMatchingTcbLevel) {
  auto const c = gtg();
  auto const v = run(quote("tdx_v4_gtg_spr_e4.dat"), &c, kGtgClock);
  expect_failure(v, "tcb_level", tdx::errc::tcb_level_not_supported);
  EXPECT_EQ(v.error, ee::condition::forbidden);
  // Everything before the TCB level passed: collateral signatures, CRLs, QE, module.
  std::vector<std::string> names;
  for (auto const& s : v.steps) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"quote_signature", "pck_chain", "qe_report_signature",
                                             "qe_report_binding", "pck_extension", "root_ca_crl",
                                             "tcb_info", "qe_identity", "pck_crl",
                                             "pck_revocation", "fmspc", "qe_tcb", "tdx_module",
                                             "tcb_level"}));
  EXPECT_EQ(v.steps[11].detail, "QE ISVSVN 4: UpToDate");
  EXPECT_EQ(v.tcb_status, tdx::TcbStatus::unknown);
}

TEST(VerifyMatrix, Row04GtgCollateralExpiredOn20230719) {
  auto const c = gtg();
  auto const v = run(quote("tdx_v4_gtg_spr_e4.dat"), &c, 1689724800);
  expect_failure(v, "tcb_info", tdx::errc::collateral_expired);
  EXPECT_EQ(v.error, ee::condition::upstream_failure);
  EXPECT_NE(v.error.message().find("TCB info expired at 2023-07-18T08:42:58Z"), std::string::npos)
      << v.error.message();
}

TEST(VerifyMatrix, Row05OfflineV5QuoteVerifies) {
  auto const v = run(quote("tdx_v5_td15_gtg_sample.dat"), nullptr, kV5Clock);
  expect_accepted(v);
  EXPECT_EQ(hex_encode(v.fmspc), "90c06f000000");
}

TEST(VerifyMatrix, Row06V5QuoteIsUpToDate) {
  auto const c = bundle("dcapqvl_tdx_90c06f000000.json");
  auto const v = run(quote("tdx_v5_td15_gtg_sample.dat"), &c, kV5CollateralClock);
  expect_accepted(v);
  EXPECT_FALSE(v.offline);
  EXPECT_EQ(v.tcb_status, tdx::TcbStatus::up_to_date);
  EXPECT_TRUE(v.advisory_ids.empty());
  EXPECT_EQ(format_rfc3339(v.tcb_date), "2024-11-13T00:00:00Z");
  EXPECT_EQ(v.steps.back().name, "tcb_status");
  EXPECT_EQ(v.steps.back().detail, "UpToDate");
  auto const module = std::find_if(v.steps.begin(), v.steps.end(),
                                   [](auto const& s) { return s.name == "tdx_module"; });
  ASSERT_NE(module, v.steps.end());
  EXPECT_EQ(module->detail, "TDX_01 SVN 11: UpToDate");
  EXPECT_EQ(format_rfc3339(v.collateral_issued_at), "2026-02-18T10:58:51Z");
  EXPECT_EQ(format_rfc3339(v.collateral_expires_at), "2026-03-20T10:41:15Z");
}

TEST(VerifyMatrix, Row07V5CollateralNotYetValid) {
  auto const c = bundle("dcapqvl_tdx_90c06f000000.json");
  auto const v = run(quote("tdx_v5_td15_gtg_sample.dat"), &c, 1770940800);
  expect_failure(v, "tcb_info", tdx::errc::collateral_not_yet_valid);
  EXPECT_EQ(v.error, ee::condition::upstream_failure);
}

TEST(VerifyMatrix, Row08DcapQvlQuoteIsUpToDate) {
  auto const c = bundle("dcapqvl_tdx_b0c06f000000.json");
  auto const v = run(quote("tdx_v4_dcapqvl.dat"), &c, kDcapQvlClock);
  expect_accepted(v);
  EXPECT_EQ(v.tcb_status, tdx::TcbStatus::up_to_date);
  EXPECT_TRUE(v.advisory_ids.empty());
  EXPECT_EQ(format_rfc3339(v.tcb_date), "2024-03-13T00:00:00Z");
  EXPECT_EQ(hex_encode(v.pck.fmspc), "b0c06f000000");
  EXPECT_EQ(hex_encode(v.pck.ppid), "811dca2a26b952e85bb6448b097ba4fd");
  EXPECT_EQ(format_rfc3339(v.collateral_issued_at), "2025-06-19T10:32:27Z");
  EXPECT_EQ(format_rfc3339(v.collateral_expires_at), "2025-07-19T10:00:35Z");
  EXPECT_EQ(v.checked_at, at(kDcapQvlClock));
  // Two seconds later the PCK CRL is past its nextUpdate.
  auto const late = run(quote("tdx_v4_dcapqvl.dat"), &c, kDcapQvlClock + 2);
  expect_failure(late, "pck_crl", tdx::errc::collateral_expired);
}

TEST(VerifyMatrix, Row09FmspcMismatch) {
  auto const c = bundle("dcapqvl_tdx_90c06f000000.json");
  auto const v = run(quote("tdx_v4_dcapqvl.dat"), &c, kV5CollateralClock);
  expect_failure(v, "fmspc", tdx::errc::fmspc_mismatch);
  EXPECT_NE(v.error.message().find("90c06f000000"), std::string::npos);
  EXPECT_NE(v.error.message().find("b0c06f000000"), std::string::npos);
}

TEST(VerifyMatrix, Row10OutdatedQuoteHasNoMatchingTcbLevel) {
  auto const c = bundle("dcapqvl_tdx_90c06f000000.json");
  auto const v = run(quote("tdx_v5_td15_dcapqvl_outdated.dat"), &c, kV5CollateralClock);
  expect_failure(v, "tcb_level", tdx::errc::tcb_level_not_supported);
  auto const module = std::find_if(v.steps.begin(), v.steps.end(),
                                   [](auto const& s) { return s.name == "tdx_module"; });
  ASSERT_NE(module, v.steps.end());
  EXPECT_EQ(module->detail, "TDX_01 SVN 7: UpToDate");
}

TEST(VerifyMatrix, Row11SgxQuoteIsRefused) {
  auto q = tdx::parse_quote(quote_bytes("sgx_v3_dcapqvl.dat"));
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error(), tdx::errc::not_a_td_quote);
}

TEST(VerifyMatrix, Row12TamperedTcbInfoFailsItsSignature) {
  auto p = ee::test::gtg_pcs_responses("gtg_tcbinfo_tdx_50806f000000.json");
  auto const at_pos = p.tcb_info_body.find("\"tcbEvaluationDataNumber\":15");
  ASSERT_NE(at_pos, std::string::npos);
  p.tcb_info_body[at_pos + 27] = '6';  // 15 -> 16: still valid JSON, one byte changed
  auto c = tdx::collateral_from_pcs(p);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->tcb_info.tcb_evaluation_data_number, 16);
  auto const v = run(quote("tdx_v4_gtg_spr_e4.dat"), &*c, kGtgClock);
  expect_failure(v, "tcb_info", tdx::errc::bad_collateral_signature);
  EXPECT_EQ(v.error, ee::condition::unauthenticated);

  // The same in the bundle format: one byte of the signed QE identity text.
  auto b = bundle("dcapqvl_tdx_b0c06f000000.json");
  auto const qe_at = b.qe_identity_json.find("\"isvprodid\":2");
  ASSERT_NE(qe_at, std::string::npos);
  b.qe_identity_json[qe_at + 12] = '3';
  auto const v2 = run(quote("tdx_v4_dcapqvl.dat"), &b, kDcapQvlClock);
  expect_failure(v2, "qe_identity", tdx::errc::bad_collateral_signature);
}

TEST(VerifyMatrix, Row13CrlOfTheOtherCaIsRefused) {
  auto const sgx = bundle("dcapqvl_sgx_00a067110000.json");
  // The Processor-CA CRL with its own (valid, Intel-rooted) issuer chain: a Platform-CA PCK.
  auto c = bundle("dcapqvl_tdx_b0c06f000000.json");
  c.pck_crl_der = sgx.pck_crl_der;
  c.pck_crl_issuer_chain_pem = sgx.pck_crl_issuer_chain_pem;
  auto const v = run(quote("tdx_v4_dcapqvl.dat"), &c, kDcapQvlClock);
  expect_failure(v, "pck_revocation", tdx::errc::crl_issuer_mismatch);
  // The Processor-CA CRL presented with the Platform-CA issuer chain.
  auto d = bundle("dcapqvl_tdx_b0c06f000000.json");
  d.pck_crl_der = sgx.pck_crl_der;
  auto const v2 = run(quote("tdx_v4_dcapqvl.dat"), &d, kDcapQvlClock);
  expect_failure(v2, "pck_crl", tdx::errc::crl_issuer_mismatch);
}

TEST(VerifyCollateral, SgxCollateralIsRefusedForTdxQuotes) {
  auto c = bundle("dcapqvl_tdx_b0c06f000000.json");
  auto const sgx = bundle("dcapqvl_sgx_00a067110000.json");
  c.tcb_info = sgx.tcb_info;
  c.tcb_info_json = sgx.tcb_info_json;
  c.tcb_info_signature = sgx.tcb_info_signature;
  c.tcb_info_issuer_chain_pem = sgx.tcb_info_issuer_chain_pem;
  auto const v = run(quote("tdx_v4_dcapqvl.dat"), &c, 1752919200);
  expect_failure(v, "tcb_info", tdx::errc::collateral_mismatch);
}

TEST(VerifyCollateral, ExpiredTcbSigningCertificateIsRefused) {
  // The gtg TCB Signing certificate (2018..2025) signed the 2026 TCB info with the key Intel kept
  // when it re-issued the certificate; at a 2026 clock the old certificate has expired.
  auto c = bundle("dcapqvl_tdx_90c06f000000.json");
  c.tcb_info_issuer_chain_pem = collateral_text("gtg_tcb_signing_chain.pem");
  auto const v = run(quote("tdx_v5_td15_gtg_sample.dat"), &c, kV5CollateralClock);
  expect_failure(v, "tcb_info", tdx::errc::certificate_expired);
  EXPECT_NE(v.error.message().find("Intel SGX TCB Signing"), std::string::npos);
}

// --- offline windows -------------------------------------------------------------------------

TEST(VerifyOffline, EachQuoteVerifiesInsideItsPckWindowOnly) {
  struct Case {
    char const* file;
    std::int64_t inside;
    std::int64_t before;
    std::int64_t after;
  };
  Case const cases[] = {
      // 2022-09-20T13:20:31Z .. 2029-09-20T13:20:31Z
      {"tdx_v4_gtg_spr_e4.dat", kGtgClock, 1663680030, 1884604832},
      // 2026-01-27T14:36:27Z .. 2033-01-27T14:36:27Z
      {"tdx_v5_td15_gtg_sample.dat", kV5Clock, 1769524586, 1990449388},
      // 2025-02-06T23:25:51Z .. 2032-02-06T23:25:51Z
      {"tdx_v4_dcapqvl.dat", kDcapQvlClock, 1738884350, 1959722752},
      // 2026-01-23T18:09:41Z .. 2033-01-23T18:09:41Z
      {"tdx_v5_td15_dcapqvl_outdated.dat", kV5CollateralClock, 1769191780, 1990116582},
  };
  for (auto const& c : cases) {
    SCOPED_TRACE(c.file);
    auto const q = quote(c.file);
    expect_accepted(run(q, nullptr, c.inside));
    expect_accepted(run(q, nullptr, c.before + 1));
    expect_accepted(run(q, nullptr, c.after - 1));
    expect_failure(run(q, nullptr, c.before), "pck_chain", tdx::errc::certificate_not_yet_valid);
    expect_failure(run(q, nullptr, c.after), "pck_chain", tdx::errc::certificate_expired);
  }
}

// --- byte-flip negatives (go-tdx-guest offsets on tdx_v4_gtg_spr_e4.dat) ---------------------

tdx::Verdict run_flipped(std::size_t offset, std::uint8_t value) {
  auto bytes = quote_bytes("tdx_v4_gtg_spr_e4.dat");
  EXPECT_NE(bytes.at(offset), value);
  bytes.at(offset) = value;
  auto q = tdx::parse_quote(bytes);
  EXPECT_TRUE(q) << (q ? "" : q.error().message());
  if (!q) return {};
  return run(*q, nullptr, kGtgClock);
}

TEST(VerifyNegative, FlippedSignedBytesFailTheQuoteSignature) {
  expect_failure(run_flipped(0x1E, 0x00), "quote_signature", tdx::errc::bad_quote_signature);
  expect_failure(run_flipped(0x3C, 0x01), "quote_signature", tdx::errc::bad_quote_signature);
}

TEST(VerifyNegative, FlippedCertificateBytesBreakTheChain) {
  // One base64 character changed inside the PCK leaf, the Platform CA and the root: each still
  // decodes, but a signature (or the pinned root) no longer matches.
  expect_failure(run_flipped(0xB77, 'G'), "pck_chain", tdx::errc::pck_chain_untrusted);
  expect_failure(run_flipped(0xF5F, 'V'), "pck_chain", tdx::errc::pck_chain_untrusted);
  expect_failure(run_flipped(0x1329, 'r'), "pck_chain", tdx::errc::pck_chain_untrusted);
}

TEST(VerifyNegative, BrokenPemIsUnparsable) {
  auto const v = run_flipped(0x1343, 'x');
  expect_failure(v, "pck_chain", tdx::errc::bad_certificate);
  EXPECT_EQ(v.error, ee::condition::invalid_input);
}

TEST(VerifyNegative, FlippedQeReportFailsItsSignature) {
  // QE report starts at 0x27c + 64 + 64 + 6 = 0x302; byte 0x302 + 16 is MISCSELECT.
  expect_failure(run_flipped(0x302 + 16, 0x01), "qe_report_signature",
                 tdx::errc::bad_qe_report_signature);
}

TEST(VerifyNegative, FlippedAuthDataBreaksTheBinding) {
  // QE auth data (32 bytes) follows the QE report (384), its signature (64) and the u16 length.
  expect_failure(run_flipped(0x302 + 384 + 64 + 2, 0x55), "qe_report_binding",
                 tdx::errc::qe_report_binding_mismatch);
}

// Rebuilds a quote with another PEM chain in its certification data, fixing the three sizes that
// enclose it (TDX DCAP API A.3.8 signature data length, A.3.11 outer and nested sizes).
Bytes with_chain(Bytes raw, std::size_t signed_len, std::string const& pem) {
  auto get32 = [&](std::size_t at) {
    return std::uint32_t{raw[at]} | std::uint32_t{raw[at + 1]} << 8 |
           std::uint32_t{raw[at + 2]} << 16 | std::uint32_t{raw[at + 3]} << 24;
  };
  auto put32 = [&](std::size_t at, std::uint32_t v) {
    for (std::size_t i = 0; i < 4; ++i) raw[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
  };
  std::size_t const sig_len_at = signed_len;
  std::size_t const outer_at = sig_len_at + 4 + 128;
  std::size_t const auth_len_at = outer_at + 6 + 384 + 64;
  std::size_t const auth_len =
      std::size_t{raw[auth_len_at]} | std::size_t{raw[auth_len_at + 1]} << 8;
  std::size_t const inner_at = auth_len_at + 2 + auth_len;
  std::size_t const old_len = get32(inner_at + 2);
  std::size_t const pem_at = inner_at + 6;
  raw.erase(raw.begin() + static_cast<std::ptrdiff_t>(pem_at),
            raw.begin() + static_cast<std::ptrdiff_t>(pem_at + old_len));
  raw.insert(raw.begin() + static_cast<std::ptrdiff_t>(pem_at), pem.begin(), pem.end());
  auto const delta = static_cast<std::uint32_t>(pem.size()) - static_cast<std::uint32_t>(old_len);
  put32(inner_at + 2, static_cast<std::uint32_t>(pem.size()));
  put32(outer_at + 2, get32(outer_at + 2) + delta);
  put32(sig_len_at, get32(sig_len_at) + delta);
  return raw;
}

TEST(VerifyNegative, ChainEndingInASelfMadeRootIsRejected) {
  auto const original = quote("tdx_v4_gtg_spr_e4.dat");
  auto const pem = std::string(ee::detail::as_chars(original.pck_chain_pem()));
  auto const root_at = pem.rfind("-----BEGIN CERTIFICATE-----");
  // A self-made root that even copies the Intel root's name.
  auto const fake = ee::test::CertificateAuthority::create_root("Intel SGX Root CA");
  std::string const forged = pem.substr(0, root_at) + fake.credential().certificate_pem();
  auto raw = with_chain(quote_bytes("tdx_v4_gtg_spr_e4.dat"), 0x278, forged);
  auto q = tdx::parse_quote(raw);
  ASSERT_TRUE(q) << q.error().message();
  auto const v = run(*q, nullptr, kGtgClock);
  expect_failure(v, "pck_chain", tdx::errc::pck_chain_untrusted);
  EXPECT_NE(v.error.message().find("not the pinned root"), std::string::npos);

  // A whole self-made chain (root, CA, leaf) fails the same way.
  auto const ca = fake.issue_intermediate({.common_name = "Intel SGX PCK Platform CA"});
  auto const leaf = ca.issue({.common_name = "Intel SGX PCK Certificate"});
  auto raw2 = with_chain(quote_bytes("tdx_v4_gtg_spr_e4.dat"), 0x278,
                         leaf.certificate_pem() + ca.credential().certificate_pem() +
                             fake.credential().certificate_pem());
  auto q2 = tdx::parse_quote(raw2);
  ASSERT_TRUE(q2);
  expect_failure(run(*q2, nullptr, kGtgClock), "pck_chain", tdx::errc::pck_chain_untrusted);

  // Configuring the self-made root instead: Intel's real chain is then the untrusted one.
  auto const fake_root =
      tdx::TrustedRoot::from_certificate(ee::detail::as_bytes(fake.credential().certificate_pem()));
  ASSERT_TRUE(fake_root);
  expect_failure(run(original, nullptr, kGtgClock, *fake_root), "pck_chain",
                 tdx::errc::pck_chain_untrusted);
}

TEST(VerifyNegative, ReassembledGenuineChainStillVerifies) {
  // The helper above only moves bytes: with the original chain the quote still verifies.
  auto const original = quote("tdx_v4_gtg_spr_e4.dat");
  std::string const pem(ee::detail::as_chars(original.pck_chain_pem()));
  auto q = tdx::parse_quote(with_chain(quote_bytes("tdx_v4_gtg_spr_e4.dat"), 0x278, pem + "\n"));
  ASSERT_TRUE(q);
  expect_accepted(run(*q, nullptr, kGtgClock));
}

// --- TCB matching units ----------------------------------------------------------------------

TEST(TcbMatching, V5SampleIsUpToDateUnderGtgTcbInfo) {
  auto const c = gtg("gtg_tcbinfo_tdx_90c06f000000.json");
  auto const q = quote("tdx_v5_td15_gtg_sample.dat");
  auto const offline = run(q, nullptr, kV5Clock);
  ASSERT_TRUE(offline.accepted());
  auto module = tdx::detail::match_tdx_module(c.tcb_info, q.td_report());
  ASSERT_TRUE(module) << module.error().message();
  EXPECT_EQ(module->identity_id, "TDX_01");
  EXPECT_EQ(module->first_tdx_component, 2u);
  EXPECT_EQ(module->level->status, tdx::TcbStatus::up_to_date);
  EXPECT_EQ(module->level->isv_svn, 6);
  auto level = tdx::detail::match_platform_level(c.tcb_info, offline.pck, q.td_report(),
                                                 module->first_tdx_component);
  ASSERT_TRUE(level) << level.error().message();
  EXPECT_EQ(*level, &c.tcb_info.levels[0]);
  EXPECT_EQ((*level)->status, tdx::TcbStatus::up_to_date);
  auto qe = tdx::detail::match_qe_identity(c.qe_identity, q.qe_report());
  ASSERT_TRUE(qe) << qe.error().message();
  EXPECT_EQ((*qe)->status, tdx::TcbStatus::up_to_date);
}

TEST(TcbMatching, GoTdxGuestMutationMakesTheSprQuoteUpToDate) {
  auto c = gtg();
  auto const q = quote("tdx_v4_gtg_spr_e4.dat");
  auto const pck = run(q, nullptr, kGtgClock).pck;
  auto module = tdx::detail::match_tdx_module(c.tcb_info, q.td_report());
  ASSERT_TRUE(module) << module.error().message();
  EXPECT_TRUE(module->identity_id.empty());  // module version 0: tdxModule only
  EXPECT_EQ(module->first_tdx_component, 0u);
  auto none = tdx::detail::match_platform_level(c.tcb_info, pck, q.td_report(), 0);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), tdx::errc::tcb_level_not_supported);
  // go-tdx-guest TestVerifyUsingTcbInfoV4: every SVN of the first level set to zero.
  auto& first = c.tcb_info.levels[0];
  first.sgx_components = {};
  first.tdx_components = {};
  first.pce_svn = 0;
  auto level = tdx::detail::match_platform_level(c.tcb_info, pck, q.td_report(), 0);
  ASSERT_TRUE(level);
  EXPECT_EQ(*level, &c.tcb_info.levels[0]);
  EXPECT_EQ((*level)->status, tdx::TcbStatus::up_to_date);
}

TEST(TcbMatching, ModuleAndQeMismatches) {
  auto c = gtg("gtg_tcbinfo_tdx_90c06f000000.json");
  auto const q = quote("tdx_v5_td15_gtg_sample.dat");
  auto report = q.td_report();
  report.tee_tcb_svn[1] = 2;  // TDX_02 is not listed
  auto missing = tdx::detail::match_tdx_module(c.tcb_info, report);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), tdx::errc::tdx_module_mismatch);
  report = q.td_report();
  report.tee_tcb_svn[0] = 1;  // below TDX_01's lowest level (isvsvn 2)
  auto low = tdx::detail::match_tdx_module(c.tcb_info, report);
  ASSERT_FALSE(low);
  EXPECT_EQ(low.error(), tdx::errc::tcb_level_not_supported);
  report = q.td_report();
  report.tee_tcb_svn[0] = 5;  // between levels 6 and 4: OutOfDate
  auto outdated = tdx::detail::match_tdx_module(c.tcb_info, report);
  ASSERT_TRUE(outdated);
  EXPECT_EQ(outdated->level->status, tdx::TcbStatus::out_of_date);
  report = q.td_report();
  report.mr_signer_seam[0] = 1;
  auto signer = tdx::detail::match_tdx_module(c.tcb_info, report);
  ASSERT_FALSE(signer);
  EXPECT_EQ(signer.error(), tdx::errc::tdx_module_mismatch);

  auto qe = q.qe_report();
  qe.mr_signer[0] ^= 1;
  EXPECT_EQ(tdx::detail::match_qe_identity(c.qe_identity, qe).error(),
            tdx::errc::qe_identity_mismatch);
  qe = q.qe_report();
  qe.isv_prod_id = 1;
  EXPECT_EQ(tdx::detail::match_qe_identity(c.qe_identity, qe).error(),
            tdx::errc::qe_identity_mismatch);
  qe = q.qe_report();
  qe.attributes[0] = 0x13;  // bit 1 is inside the mask
  EXPECT_EQ(tdx::detail::match_qe_identity(c.qe_identity, qe).error(),
            tdx::errc::qe_identity_mismatch);
  qe = q.qe_report();
  qe.attributes[0] = 0x11;  // bit 2 is masked out: still matches
  EXPECT_TRUE(tdx::detail::match_qe_identity(c.qe_identity, qe));
  qe = q.qe_report();
  qe.isv_svn = 3;
  EXPECT_EQ(tdx::detail::match_qe_identity(c.qe_identity, qe).error(),
            tdx::errc::tcb_level_not_supported);
}

TEST(TcbMatching, StatusConvergence) {
  using S = tdx::TcbStatus;
  using tdx::detail::converge;
  EXPECT_EQ(converge(S::up_to_date, S::up_to_date), S::up_to_date);
  EXPECT_EQ(converge(S::up_to_date, S::out_of_date), S::out_of_date);
  EXPECT_EQ(converge(S::sw_hardening_needed, S::out_of_date), S::out_of_date);
  EXPECT_EQ(converge(S::configuration_needed, S::out_of_date),
            S::out_of_date_configuration_needed);
  EXPECT_EQ(converge(S::configuration_and_sw_hardening_needed, S::out_of_date),
            S::out_of_date_configuration_needed);
  EXPECT_EQ(converge(S::out_of_date, S::up_to_date), S::out_of_date);
  EXPECT_EQ(converge(S::configuration_needed, S::up_to_date), S::configuration_needed);
  EXPECT_EQ(converge(S::up_to_date, S::revoked), S::revoked);
  std::vector<std::string> ids = {"INTEL-SA-1", "INTEL-SA-2"};
  tdx::detail::merge_advisories(ids, {"INTEL-SA-2", "INTEL-SA-3"});
  EXPECT_EQ(ids, (std::vector<std::string>{"INTEL-SA-1", "INTEL-SA-2", "INTEL-SA-3"}));
}

// --- the caching Verifier --------------------------------------------------------------------

void expect_same(tdx::Verdict const& a, tdx::Verdict const& b) {
  ASSERT_EQ(a.steps.size(), b.steps.size()) << describe(a) << "vs\n" << describe(b);
  for (std::size_t i = 0; i < a.steps.size(); ++i) {
    EXPECT_EQ(a.steps[i].name, b.steps[i].name);
    EXPECT_EQ(a.steps[i].passed, b.steps[i].passed);
    EXPECT_EQ(a.steps[i].detail, b.steps[i].detail);
  }
  EXPECT_EQ(a.accepted(), b.accepted());
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.tcb_status, b.tcb_status);
  EXPECT_EQ(a.advisory_ids, b.advisory_ids);
  EXPECT_EQ(a.fmspc, b.fmspc);
  EXPECT_EQ(a.collateral_issued_at, b.collateral_issued_at);
  EXPECT_EQ(a.collateral_expires_at, b.collateral_expires_at);
  EXPECT_EQ(a.checked_at, b.checked_at);
  EXPECT_EQ(a.offline, b.offline);
}

TEST(Verifier, GivesTheVerdictsOfVerify) {
  struct Case {
    char const* quote;
    std::shared_ptr<tdx::Collateral const> collateral;
    std::int64_t clock;
  };
  auto const b0 = std::make_shared<tdx::Collateral const>(bundle("dcapqvl_tdx_b0c06f000000.json"));
  auto const c90 =
      std::make_shared<tdx::Collateral const>(bundle("dcapqvl_tdx_90c06f000000.json"));
  auto const g = std::make_shared<tdx::Collateral const>(gtg());
  Case const cases[] = {
      {"tdx_v4_gtg_spr_e4.dat", nullptr, kGtgClock},
      {"tdx_v4_gtg_spr_e4.dat", nullptr, 2634940800},
      {"tdx_v4_gtg_spr_e4.dat", g, kGtgClock},
      {"tdx_v4_gtg_spr_e4.dat", g, 1689724800},
      {"tdx_v5_td15_gtg_sample.dat", c90, kV5CollateralClock},
      {"tdx_v5_td15_gtg_sample.dat", c90, 1770940800},
      {"tdx_v4_dcapqvl.dat", b0, kDcapQvlClock},
      {"tdx_v4_dcapqvl.dat", c90, kV5CollateralClock},
      {"tdx_v5_td15_dcapqvl_outdated.dat", c90, kV5CollateralClock},
  };
  tdx::Verifier const verifier;
  for (int round = 0; round < 2; ++round) {  // the second round hits the caches
    for (auto const& c : cases) {
      SCOPED_TRACE(std::string(c.quote) + " at " + std::to_string(c.clock));
      auto const q = quote(c.quote);
      auto cached = verifier.verify(q, c.collateral, at(c.clock));
      ASSERT_TRUE(cached);
      expect_same(*cached, run(q, c.collateral.get(), c.clock));
    }
  }
}

TEST(Verifier, DoesNotReuseACachedChainOrCollateralOutsideItsWindow) {
  auto const c = std::make_shared<tdx::Collateral const>(bundle("dcapqvl_tdx_b0c06f000000.json"));
  auto const q = quote("tdx_v4_dcapqvl.dat");
  tdx::Verifier const verifier;
  auto inside = verifier.verify(q, c, at(kDcapQvlClock));
  ASSERT_TRUE(inside);
  expect_accepted(*inside);
  // Same quote and collateral objects, later: the cached collateral must not be reused.
  auto later = verifier.verify(q, c, at(kDcapQvlClock + 2));
  ASSERT_TRUE(later);
  expect_failure(*later, "pck_crl", tdx::errc::collateral_expired);
  // Before the window (QE identity issued 2025-06-19T10:32:27Z).
  auto earlier = verifier.verify(q, c, at(1750328400));
  ASSERT_TRUE(earlier);
  expect_failure(*earlier, "qe_identity", tdx::errc::collateral_not_yet_valid);
  // The cached chain, outside the PCK window.
  auto offline = verifier.verify(q, nullptr, at(kDcapQvlClock));
  ASSERT_TRUE(offline);
  expect_accepted(*offline);
  auto expired = verifier.verify(q, nullptr, at(1959722752));
  ASSERT_TRUE(expired);
  expect_failure(*expired, "pck_chain", tdx::errc::certificate_expired);
  // And back inside: still accepted.
  auto again = verifier.verify(q, c, at(kDcapQvlClock));
  ASSERT_TRUE(again);
  expect_accepted(*again);
}

// A platform's attestation key and its PCK-signed QE report are remembered by their exact bytes:
// any changed byte of the report, its signature or the key is verified in full and fails, and
// the failures do not poison what was remembered.
TEST(Verifier, AChangedQeReportSignatureOrKeyIsNeverServedFromTheCache) {
  auto flipped = [](std::size_t offset, std::uint8_t value) {
    auto bytes = quote_bytes("tdx_v4_gtg_spr_e4.dat");
    bytes.at(offset) ^= value;
    return tdx::parse_quote(bytes).value();
  };
  constexpr std::size_t kSignatureData = 0x27c;  // quote signature (64), attestation key (64)
  constexpr std::size_t kQeReport = kSignatureData + 64 + 64 + 6;
  auto const original = quote("tdx_v4_gtg_spr_e4.dat");
  for (bool cache_qe_reports : {true, false}) {
    SCOPED_TRACE(cache_qe_reports ? "QE reports cached" : "QE reports not cached");
    tdx::Verifier const verifier(tdx::TrustedRoot::intel_sgx_root_ca(), {.cache_qe_reports = cache_qe_reports});
    for (int round = 0; round < 2; ++round) {  // the second round with everything remembered
      expect_accepted(*verifier.verify(original, nullptr, at(kGtgClock)));
      expect_failure(*verifier.verify(flipped(kQeReport + 16, 0x01), nullptr, at(kGtgClock)),
                     "qe_report_signature", tdx::errc::bad_qe_report_signature);
      expect_failure(*verifier.verify(flipped(kQeReport + 64, 0x80), nullptr, at(kGtgClock)),
                     "qe_report_signature", tdx::errc::bad_qe_report_signature);
      expect_failure(*verifier.verify(flipped(kQeReport + 384 + 5, 0x01), nullptr, at(kGtgClock)),
                     "qe_report_signature", tdx::errc::bad_qe_report_signature);
      expect_failure(*verifier.verify(flipped(kQeReport + 384 + 63, 0x01), nullptr, at(kGtgClock)),
                     "qe_report_signature", tdx::errc::bad_qe_report_signature);
      // Another attestation key: the quote's signature no longer verifies (or the point is off
      // the curve), whatever key was remembered before.
      expect_failure(*verifier.verify(flipped(kSignatureData + 64 + 10, 0x01), nullptr, at(kGtgClock)),
                     "quote_signature", tdx::errc::bad_quote_signature);
      expect_failure(*verifier.verify(flipped(kSignatureData + 7, 0x01), nullptr, at(kGtgClock)),
                     "quote_signature", tdx::errc::bad_quote_signature);
    }
    expect_same(*verifier.verify(original, nullptr, at(kGtgClock)), run(original, nullptr, kGtgClock));
  }
}

TEST(Verifier, CopiesShareCachesAndAnotherRootIsRespected) {
  auto const q = quote("tdx_v4_dcapqvl.dat");
  tdx::Verifier const a;
  tdx::Verifier const b = a;
  expect_accepted(*a.verify(q, nullptr, at(kDcapQvlClock)));
  expect_accepted(*b.verify(q, nullptr, at(kDcapQvlClock)));
  auto const fake = ee::test::CertificateAuthority::create_root("Intel SGX Root CA");
  auto root =
      tdx::TrustedRoot::from_certificate(ee::detail::as_bytes(fake.credential().certificate_pem()));
  ASSERT_TRUE(root);
  tdx::Verifier const other(*root);
  expect_failure(*other.verify(q, nullptr, at(kDcapQvlClock)), "pck_chain",
                 tdx::errc::pck_chain_untrusted);
}

}  // namespace
