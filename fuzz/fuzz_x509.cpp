// Fuzzes the certificate and CRL parsing of DCAP verification (src/tdx/x509.hpp): PEM chains as
// quotes and PCS headers carry them, single certificates and CRLs in PEM or DER, and the Intel
// SGX PCK extension walker (src/tdx/pck_extension.hpp), then everything the verifier reads from
// a parsed certificate or CRL, and the chain and CRL checks against the pinned Intel root.
// Input: one mode byte (0 PEM chain, 1 certificate, 2 CRL, 3 CRL to DER, 4 PCK extension DER),
// then the bytes.
#include "fuzz_support.hpp"
#include "tdx/pck_extension.hpp"
#include "tdx/x509.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace {

namespace d = ee::tdx::detail;

X509* intel_root() {
  static d::SharedX509 const root = d::parse_certificate(d::intel_sgx_root_ca_der(), "root").value();
  return root.get();
}

ee::tdx::TimePoint const kNow{std::chrono::seconds{1750377600}};  // 2025-06-20

void examine(X509* cert) {
  (void)d::certificate_der(cert);
  (void)d::common_name(cert);
  (void)d::serial_hex(cert);
  if (auto window = d::validity_of(cert, "cert")) (void)d::check_validity(*window, kNow, "cert");
  (void)d::p256_key_of(cert, "cert");
  (void)d::pck_extension_of(cert);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)intel_root();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  ee_fuzz::OpenSslErrorsCleared const queue_check;
  ee_fuzz::Selected in;
  if (!ee_fuzz::select(data, size, 5, in)) return 0;
  switch (in.mode) {
    case 0: {
      auto chain = d::parse_pem_chain(in.text(), "chain");
      // The verifier's own parse (CertificatePool: the pinned root by bytes, keys imported from
      // the SPKI point) accepts exactly the same chains, and trusts exactly the same ones.
      static d::SharedX509 const root = d::parse_certificate(d::intel_sgx_root_ca_der(), "root").value();
      d::CertificatePool pool(root, d::intel_sgx_root_ca_der());
      auto pooled = pool.parse_pem_chain(in.text(), "chain");
      ee_fuzz::check(chain.has_value() == pooled.has_value(), "pool and parse_pem_chain disagree");
      if (!chain) break;
      ee_fuzz::check(!chain->empty(), "an empty chain parsed");
      for (auto const& cert : *chain) examine(cert.get());
      bool const trusted =
          d::verify_chain(*chain, intel_root(), ee::tdx::errc::pck_chain_untrusted, "chain").has_value();
      if (trusted) (void)d::chain_window(*chain, "chain");
      for (auto const& cert : *pooled) (void)pool.p256_key(cert.get(), "cert");
      bool const pool_trusted =
          d::verify_chain(*pooled, root.get(), ee::tdx::errc::pck_chain_untrusted, "chain", &pool).has_value();
      ee_fuzz::check(trusted == pool_trusted, "pooled chain trusted differently");
      break;
    }
    case 1:
      if (auto cert = d::parse_certificate(in.rest, "cert")) examine(cert->get());
      break;
    case 2:
      if (auto crl = d::parse_crl(in.rest, "crl")) {
        if (auto window = d::crl_window(crl->get(), "crl"))
          (void)d::check_collateral_window(*window, kNow, "crl");
        (void)d::verify_crl(crl->get(), intel_root(), "crl");
        (void)d::is_revoked(crl->get(), intel_root());
      }
      break;
    case 3:
      if (auto der = d::crl_to_der(in.rest, "crl")) {
        // The DER it returns is a CRL that parses.
        ee_fuzz::check(d::parse_crl(*der, "crl").has_value(), "crl_to_der output does not parse");
      }
      break;
    default:
      (void)d::parse_pck_extension(in.rest);
      break;
  }
  return 0;
}
