// The quote simulator: its quotes parse like real ones, its PKI and collateral have Intel's
// structure (checked here independently with OpenSSL), they verify with the simulator's root and
// only with it, revocation works, and a persisted simulator is the same across loads.
#include <easyenclave/tdx/simulator.hpp>

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "detail/json.hpp"
#include "detail/time.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ee::tdx::errc;
using ee::tdx::Simulator;
using ee::tdx::SimulatorOptions;
using Bytes = std::vector<std::uint8_t>;

// 2025-06-15T14:13:20Z: a fixed start keeps the validity arithmetic of these tests exact.
ee::tdx::TimePoint const kStart = ee::detail::from_unix_seconds(1750000000);

ee::tdx::Measurement filled(std::uint8_t value) {
  ee::tdx::Measurement m;
  m.fill(value);
  return m;
}

SimulatorOptions test_options() {
  SimulatorOptions options;
  options.mr_td = filled(0x11);
  for (std::size_t i = 0; i < 4; ++i) options.rtmr[i] = filled(static_cast<std::uint8_t>(0x20 + i));
  options.now = kStart;
  options.validity = std::chrono::days(30);
  return options;
}

ee::tdx::ReportData nonce(std::uint8_t seed) {
  ee::tdx::ReportData data{};
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(seed ^ i);
  return data;
}

std::shared_ptr<Simulator> make_simulator(SimulatorOptions options = test_options()) {
  auto sim = Simulator::create(std::move(options));
  EXPECT_TRUE(sim) << sim.error().message();
  return sim ? *sim : nullptr;
}

ee::tdx::Quote parse(Bytes const& bytes) {
  auto quote = ee::tdx::parse_quote(bytes);
  EXPECT_TRUE(quote) << quote.error().message();
  return quote ? std::move(*quote) : ee::tdx::Quote{};
}

// --- independent OpenSSL checks ------------------------------------------------------------------

struct X509Free {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::vector<X509Ptr> read_chain(std::string_view pem) {
  std::vector<X509Ptr> certs;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) certs.emplace_back(cert);
  BIO_free(bio);
  return certs;
}

bool signed_by(X509* cert, X509* issuer) {
  PkeyPtr key(X509_get_pubkey(issuer));
  return key && X509_verify(cert, key.get()) == 1;
}

std::string common_name(X509_NAME* name) {
  char buffer[256] = {};
  X509_NAME_get_text_by_NID(name, NID_commonName, buffer, sizeof buffer);
  return buffer;
}

// Verifies a raw r||s ECDSA P-256 signature over SHA-256(message).
bool verify_raw(EVP_PKEY* key, ee::detail::ByteView message, ee::tdx::P256Raw const& raw) {
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(raw.data(), 32, nullptr), BN_bin2bn(raw.data() + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int const der_len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool const ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
                  EVP_DigestVerify(ctx, der, static_cast<std::size_t>(der_len), message.data(),
                                   message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  return ok;
}

// A P-256 public key from raw x||y, through its SubjectPublicKeyInfo (RFC 5480).
PkeyPtr key_from_raw(ee::tdx::P256Raw const& raw) {
  auto spki = *ee::detail::hex_decode("3059301306072a8648ce3d020106082a8648ce3d03010703420004");
  spki.insert(spki.end(), raw.begin(), raw.end());
  unsigned char const* cursor = spki.data();
  return PkeyPtr(d2i_PUBKEY(nullptr, &cursor, static_cast<long>(spki.size())));
}

// --- quotes --------------------------------------------------------------------------------------

TEST(Simulator, QuoteParsesWithTheRequestedMeasurementsAndReportData) {
  auto const sim = make_simulator();
  ASSERT_TRUE(sim);
  auto const data = nonce(0x5a);
  auto const bytes = sim->quote(data);
  ASSERT_TRUE(bytes) << bytes.error().message();
  auto const quote = parse(*bytes);
  EXPECT_EQ(quote.version(), 4);
  EXPECT_EQ(quote.body_type(), 2);
  EXPECT_EQ(quote.header().tee_type, ee::tdx::kTeeTypeTdx);
  EXPECT_EQ(quote.header().attestation_key_type, ee::tdx::kAttestationKeyEcdsaP256);
  auto const& report = quote.td_report();
  EXPECT_EQ(report.mr_td, filled(0x11));
  for (std::size_t i = 0; i < 4; ++i)
    EXPECT_EQ(report.rtmr[i], filled(static_cast<std::uint8_t>(0x20 + i))) << "rtmr" << i;
  EXPECT_EQ(report.report_data, data);
  EXPECT_TRUE(report.sept_ve_disable());
  EXPECT_FALSE(report.debug());
  EXPECT_EQ(report.tee_tcb_svn, sim->options().tee_tcb_svn);
  EXPECT_TRUE(quote.trailing_bytes().empty());
  EXPECT_EQ(quote.qe_auth_data().size(), 32u);
}

TEST(Simulator, QuoteSignatureQeReportAndBindingCheckOut) {
  auto const sim = make_simulator();
  ASSERT_TRUE(sim);
  auto const bytes = sim->quote(nonce(1));
  ASSERT_TRUE(bytes);
  auto const quote = parse(*bytes);

  auto const attestation_key = key_from_raw(quote.attestation_key());
  EXPECT_TRUE(verify_raw(attestation_key.get(), quote.signed_bytes(), quote.signature()));

  // QE report data = SHA-256(attestation key || auth data) || zeros (A.3.11).
  Bytes bound(quote.attestation_key().begin(), quote.attestation_key().end());
  bound.insert(bound.end(), quote.qe_auth_data().begin(), quote.qe_auth_data().end());
  auto const digest = ee::detail::sha256(bound);
  auto const& qe_data = quote.qe_report().report_data;
  EXPECT_TRUE(std::equal(digest.begin(), digest.end(), qe_data.begin()));
  EXPECT_TRUE(std::all_of(qe_data.begin() + 32, qe_data.end(), [](auto b) { return b == 0; }));

  // The PEM chain: PCK leaf, PCK Platform CA, the simulator root; NUL-terminated like Intel's.
  auto const pem = ee::detail::as_chars(quote.pck_chain_pem());
  ASSERT_FALSE(pem.empty());
  EXPECT_EQ(pem.back(), '\0');
  auto const chain = read_chain(pem);
  ASSERT_EQ(chain.size(), 3u);
  EXPECT_EQ(common_name(X509_get_subject_name(chain[0].get())), "EE Simulator PCK Certificate");
  EXPECT_EQ(common_name(X509_get_subject_name(chain[1].get())), "EE Simulator PCK Platform CA");
  EXPECT_EQ(common_name(X509_get_subject_name(chain[2].get())), "EE Simulator Root CA");
  EXPECT_TRUE(signed_by(chain[0].get(), chain[1].get()));
  EXPECT_TRUE(signed_by(chain[1].get(), chain[2].get()));
  EXPECT_TRUE(signed_by(chain[2].get(), chain[2].get()));
  EXPECT_NE(pem.find(sim->root_pem()), std::string_view::npos);

  PkeyPtr pck_key(X509_get_pubkey(chain[0].get()));
  EXPECT_TRUE(verify_raw(pck_key.get(), quote.qe_report_bytes(), quote.qe_report_signature()));
}

TEST(Simulator, PckCertificateCarriesTheSgxExtensionInIntelsLayout) {
  auto const sim = make_simulator();
  ASSERT_TRUE(sim);
  auto const bytes = sim->quote(nonce(2));
  ASSERT_TRUE(bytes);
  auto const quote = parse(*bytes);
  auto const chain = read_chain(ee::detail::as_chars(quote.pck_chain_pem()));
  ASSERT_FALSE(chain.empty());
  ASN1_OBJECT* oid = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
  int const index = X509_get_ext_by_OBJ(chain[0].get(), oid, -1);
  ASN1_OBJECT_free(oid);
  ASSERT_GE(index, 0);
  X509_EXTENSION* ext = X509_get_ext(chain[0].get(), index);
  EXPECT_EQ(X509_EXTENSION_get_critical(ext), 0);
  ASN1_OCTET_STRING const* value = X509_EXTENSION_get_data(ext);
  Bytes const der(ASN1_STRING_get0_data(value),
                  ASN1_STRING_get0_data(value) + ASN1_STRING_length(value));
  auto const hex = ee::detail::hex_encode(der);
  // SEQUENCE of (OID, value) pairs; spot-check the encodings Intel uses for each kind of field.
  EXPECT_EQ(der[0], 0x30);
  // PPID: OID .1, OCTET STRING of 16 bytes.
  EXPECT_NE(hex.find("060a2a864886f84d010d01010410"), std::string::npos);
  // TCB comp01 = 3 as INTEGER, PCESVN (.2.17) = 11, CPUSVN (.2.18) as a 16-byte OCTET STRING.
  EXPECT_NE(hex.find("060b2a864886f84d010d010201020103"), std::string::npos);
  EXPECT_NE(hex.find("060b2a864886f84d010d01021102010b"), std::string::npos);
  EXPECT_NE(hex.find("060b2a864886f84d010d0102120410"), std::string::npos);
  // PCE-ID (.3) 0000, FMSPC (.4) matching the TCB info, SGX type (.5) ENUMERATED 1 (Scalable).
  EXPECT_NE(hex.find("060a2a864886f84d010d010304020000"), std::string::npos);
  auto const fmspc = ee::detail::hex_encode(sim->collateral().tcb_info.fmspc);
  EXPECT_NE(hex.find("060a2a864886f84d010d01040406" + fmspc), std::string::npos);
  EXPECT_NE(hex.find("060a2a864886f84d010d01050a0101"), std::string::npos);
}

// --- collateral ----------------------------------------------------------------------------------

TEST(Simulator, CollateralIsASignedDcapQvlBundle) {
  auto const sim = make_simulator();
  ASSERT_TRUE(sim);
  auto const value = ee::detail::json::parse(sim->collateral_json());
  ASSERT_TRUE(value);
  auto const& object = value->as_object();
  for (char const* key : {"pck_crl_issuer_chain", "root_ca_crl", "pck_crl", "tcb_info_issuer_chain",
                          "tcb_info", "tcb_info_signature", "qe_identity_issuer_chain",
                          "qe_identity", "qe_identity_signature"})
    EXPECT_TRUE(object.contains(key)) << key;
  EXPECT_EQ(object.size(), 9u);

  auto const& c = sim->collateral();
  // TCB info and QE identity are signed over their exact text by the TCB signing certificate,
  // which the root issued.
  auto const signing = read_chain(c.tcb_info_issuer_chain_pem);
  ASSERT_EQ(signing.size(), 2u);
  EXPECT_EQ(common_name(X509_get_subject_name(signing[0].get())), "EE Simulator TCB Signing");
  EXPECT_TRUE(signed_by(signing[0].get(), signing[1].get()));
  PkeyPtr tcb_key(X509_get_pubkey(signing[0].get()));
  EXPECT_TRUE(
      verify_raw(tcb_key.get(), ee::detail::as_bytes(c.tcb_info_json), c.tcb_info_signature));
  EXPECT_TRUE(
      verify_raw(tcb_key.get(), ee::detail::as_bytes(c.qe_identity_json), c.qe_identity_signature));

  EXPECT_EQ(c.tcb_info.id, "TDX");
  EXPECT_EQ(c.tcb_info.version, 3);
  EXPECT_EQ(c.tcb_info.issue_date, kStart);
  EXPECT_EQ(c.tcb_info.next_update, kStart + std::chrono::days(30));
  EXPECT_FALSE(c.tcb_info.tdx_module_identities.empty());
  ASSERT_FALSE(c.tcb_info.levels.empty());
  EXPECT_EQ(c.tcb_info.levels[0].status, ee::tdx::TcbStatus::up_to_date);
  EXPECT_EQ(c.qe_identity.id, "TD_QE");
  EXPECT_EQ(c.qe_identity.version, 2);

  // The bundle round-trips through the public loader.
  auto const reparsed = ee::tdx::parse_collateral_bundle(sim->collateral_json());
  ASSERT_TRUE(reparsed) << reparsed.error().message();
  EXPECT_EQ(reparsed->tcb_info_json, c.tcb_info_json);
}

// --- verification round trips --------------------------------------------------------------------

ee::tdx::VerifyOptions trust(Simulator const& sim, ee::tdx::TimePoint now = kStart + 1h) {
  ee::tdx::VerifyOptions options;
  options.root = sim.root();
  options.now = now;
  return options;
}

TEST(Simulator, QuoteVerifiesUpToDateWithTheSimulatorRootAndCollateral) {
  auto const sim = make_simulator();
  ASSERT_TRUE(sim);
  auto const bytes = sim->quote(nonce(3));
  ASSERT_TRUE(bytes);
  auto const quote = parse(*bytes);
  auto const verdict = ee::tdx::verify(quote, &sim->collateral(), trust(*sim));
  ASSERT_TRUE(verdict) << verdict.error().message();
  auto const* failed = verdict->first_failure();
  EXPECT_TRUE(verdict->accepted()) << (failed ? failed->name + ": " + failed->detail : "");
  EXPECT_EQ(verdict->tcb_status, ee::tdx::TcbStatus::up_to_date);
  EXPECT_TRUE(verdict->advisory_ids.empty());
  EXPECT_EQ(verdict->td_report.mr_td, filled(0x11));
  EXPECT_EQ(verdict->td_report.report_data, nonce(3));
  EXPECT_EQ(verdict->pck.fmspc, sim->collateral().tcb_info.fmspc);

  // The last moment of the validity window still verifies; a day later everything has expired.
  auto const end = kStart + std::chrono::days(30);
  auto const last = ee::tdx::verify(quote, &sim->collateral(), trust(*sim, end - 1s));
  ASSERT_TRUE(last);
  EXPECT_TRUE(last->accepted());
  auto const late = ee::tdx::verify(quote, &sim->collateral(), trust(*sim, end + 24h));
  EXPECT_TRUE(!late || !late->accepted());
}

TEST(Simulator, NothingTrustsTheSimulatorByDefault) {
  auto const sim = make_simulator();
  ASSERT_TRUE(sim);
  auto const bytes = sim->quote(nonce(4));
  ASSERT_TRUE(bytes);
  auto const quote = parse(*bytes);
  ee::tdx::VerifyOptions intel;  // default root: the pinned Intel SGX Root CA
  intel.now = kStart + 1h;
  EXPECT_NE(intel.root.fingerprint(), sim->root().fingerprint());
  ee::tdx::Collateral const* const offline = nullptr;
  for (auto const* collateral : {&sim->collateral(), offline}) {
    auto const verdict = ee::tdx::verify(quote, collateral, intel);
    if (!verdict) {
      EXPECT_EQ(verdict.error(), errc::pck_chain_untrusted) << verdict.error().message();
      continue;
    }
    EXPECT_FALSE(verdict->accepted());
    EXPECT_EQ(verdict->error, errc::pck_chain_untrusted) << verdict->error.message();
  }
}

TEST(Simulator, AnotherSimulatorsRootDoesNotVerifyIt) {
  auto const a = make_simulator();
  auto const b = make_simulator();
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->root_pem(), b->root_pem());
  auto const bytes = a->quote(nonce(5));
  ASSERT_TRUE(bytes);
  auto const verdict = ee::tdx::verify(parse(*bytes), &b->collateral(), trust(*b));
  EXPECT_TRUE(!verdict || !verdict->accepted());
}

TEST(Simulator, RevokedPckFailsVerificationAsRevoked) {
  auto options = test_options();
  options.revoke_pck = true;
  auto const sim = make_simulator(options);
  ASSERT_TRUE(sim);
  auto const bytes = sim->quote(nonce(6));
  ASSERT_TRUE(bytes);
  auto const verdict = ee::tdx::verify(parse(*bytes), &sim->collateral(), trust(*sim));
  ASSERT_TRUE(verdict) << verdict.error().message();
  EXPECT_FALSE(verdict->accepted());
  EXPECT_EQ(verdict->error, errc::certificate_revoked) << verdict->error.message();
}

TEST(Simulator, ConfiguredTcbStatusAndAdvisoriesReachTheVerdict) {
  auto options = test_options();
  options.tcb_status = ee::tdx::TcbStatus::out_of_date;
  options.advisory_ids = {"INTEL-SA-00837"};
  auto const sim = make_simulator(options);
  ASSERT_TRUE(sim);
  auto const bytes = sim->quote(nonce(7));
  ASSERT_TRUE(bytes);
  auto const verdict = ee::tdx::verify(parse(*bytes), &sim->collateral(), trust(*sim));
  ASSERT_TRUE(verdict) << verdict.error().message();
  EXPECT_EQ(verdict->tcb_status, ee::tdx::TcbStatus::out_of_date);
  EXPECT_EQ(verdict->advisory_ids, std::vector<std::string>{"INTEL-SA-00837"});
}

TEST(Simulator, CustomTdReportIsQuotedAsGiven) {
  auto const sim = make_simulator();
  ASSERT_TRUE(sim);
  auto report = sim->td_report(nonce(8));
  report.td_attributes[0] |= 0x01;  // debug TD
  report.mr_owner = filled(0x77);
  auto const bytes = sim->quote(report);
  ASSERT_TRUE(bytes);
  auto const quote = parse(*bytes);
  EXPECT_TRUE(quote.td_report().debug());
  EXPECT_EQ(quote.td_report().mr_owner, filled(0x77));
  auto const verdict = ee::tdx::verify(quote, &sim->collateral(), trust(*sim));
  ASSERT_TRUE(verdict);
  EXPECT_TRUE(verdict->accepted());  // debug is a policy question, not a verification failure
}

TEST(Simulator, ProviderHandsOutSimulatorQuotes) {
  auto const sim = make_simulator();
  ASSERT_TRUE(sim);
  auto const provider = ee::tdx::make_simulator_provider(sim);
  EXPECT_EQ(provider->name(), "simulator");
  auto const bytes = provider->get_quote(nonce(9));
  ASSERT_TRUE(bytes) << bytes.error().message();
  EXPECT_EQ(parse(*bytes).td_report().report_data, nonce(9));
}

TEST(Simulator, QuotesConcurrentlyFromOneInstance) {
  auto const sim = make_simulator();
  ASSERT_TRUE(sim);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (std::uint8_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::uint8_t i = 0; i < 5; ++i) {
        auto const data = nonce(static_cast<std::uint8_t>(t * 8 + i));
        auto const bytes = sim->quote(data);
        if (!bytes) {
          ++bad;
          continue;
        }
        auto const quote = ee::tdx::parse_quote(*bytes);
        auto const key = quote ? key_from_raw(quote->attestation_key()) : nullptr;
        if (!quote || quote->td_report().report_data != data ||
            !verify_raw(key.get(), quote->signed_bytes(), quote->signature()))
          ++bad;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(bad.load(), 0);
}

// --- persistence ---------------------------------------------------------------------------------

TEST(Simulator, LoadOrCreateTwiceGivesTheSameRootAndCollateral) {
  ee::test::TempDir dir;
  auto const state = dir.path() / "sim";
  auto first = Simulator::load_or_create(state, test_options());
  ASSERT_TRUE(first) << first.error().message();

  auto other = test_options();
  other.mr_td = filled(0x99);              // measurement fields apply per load
  other.now = kStart + std::chrono::days(400);  // platform fields do not: fixed at creation
  auto second = Simulator::load_or_create(state, other);
  ASSERT_TRUE(second) << second.error().message();

  EXPECT_EQ((*first)->root_pem(), (*second)->root_pem());
  EXPECT_EQ((*first)->collateral_json(), (*second)->collateral_json());
  EXPECT_EQ((*second)->options().now, kStart);
  EXPECT_EQ((*second)->options().validity, std::chrono::days(30));

  // A quote from the second process verifies against what the first one published.
  auto const bytes = (*second)->quote(nonce(10));
  ASSERT_TRUE(bytes);
  auto const quote = parse(*bytes);
  EXPECT_EQ(quote.td_report().mr_td, filled(0x99));
  auto const verdict = ee::tdx::verify(quote, &(*first)->collateral(), trust(**first));
  ASSERT_TRUE(verdict) << verdict.error().message();
  EXPECT_TRUE(verdict->accepted());

  struct stat st {};
  ASSERT_EQ(::stat((state / "attestation_key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((state / "pck.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(fs::exists(state / "root_ca.pem"));
  EXPECT_TRUE(fs::exists(state / "collateral.json"));
}

TEST(Simulator, LoadRejectsACorruptKeyFile) {
  ee::test::TempDir dir;
  ASSERT_TRUE(Simulator::load_or_create(dir.path(), test_options()));
  dir.write("pck.key", "not a key");
  auto const loaded = Simulator::load_or_create(dir.path(), test_options());
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error(), errc::simulator_failed);
  EXPECT_NE(loaded.error().message().find("PCK key"), std::string::npos)
      << loaded.error().message();
}

TEST(Simulator, LoadRejectsAMissingFile) {
  ee::test::TempDir dir;
  ASSERT_TRUE(Simulator::load_or_create(dir.path(), test_options()));
  fs::remove(dir.path() / "collateral.json");
  auto const loaded = Simulator::load_or_create(dir.path(), test_options());
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error(), errc::simulator_failed);
  EXPECT_NE(loaded.error().message().find("collateral.json"), std::string::npos);
}

TEST(Simulator, RejectsAnEmptyValidity) {
  auto options = test_options();
  options.validity = std::chrono::days(0);
  auto const sim = Simulator::create(options);
  ASSERT_FALSE(sim);
  EXPECT_EQ(sim.error(), errc::simulator_failed);
}

}  // namespace
