// Fuzzes the collateral loaders: the bundle format (strict JSON, then TCB info / QE identity /
// CRL / PEM parsing of every field, and the round trip through serialize_collateral_bundle), and
// the assembly from Intel PCS responses (the TCB info and QE identity response bodies as PCS or a
// PCCS sends them, with the fixed real chains and CRLs of fuzz/data/).
// Input: one mode byte (0 bundle, 1 TCB info body, 2 QE identity body), then the text.
#include <easyenclave/tdx/collateral.hpp>

#include "fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace {

ee::tdx::PcsResponses const& pcs() {
  static ee::tdx::PcsResponses const r = [] {
    ee::tdx::PcsResponses p;
    p.tcb_info_body = ee_fuzz::data_file("pcs_tcbinfo_tdx_90c06f000000.json");
    p.tcb_info_issuer_chain_pem = ee_fuzz::data_file("pcs_tcb_signing_chain.pem");
    p.qe_identity_body = ee_fuzz::data_file("pcs_qe_identity_td_qe.json");
    p.qe_identity_issuer_chain_pem = p.tcb_info_issuer_chain_pem;
    auto const pck_crl = ee_fuzz::data_file("pcs_pck_crl_platform.der");
    p.pck_crl.assign(pck_crl.begin(), pck_crl.end());
    p.pck_crl_issuer_chain_pem = ee_fuzz::data_file("pcs_pck_crl_issuer_chain.pem");
    auto const root_crl = ee_fuzz::data_file("pcs_root_ca_crl.der");
    p.root_ca_crl.assign(root_crl.begin(), root_crl.end());
    return p;
  }();
  return r;
}

void check_collateral(ee::tdx::Collateral const& c) {
  (void)ee::tdx::collateral_window(c);
  // The writer's output must load again, to the same bundle.
  auto const text = ee::tdx::serialize_collateral_bundle(c);
  auto again = ee::tdx::parse_collateral_bundle(text);
  ee_fuzz::check(again.has_value(), "a serialised collateral bundle does not parse");
  ee_fuzz::check(ee::tdx::serialize_collateral_bundle(*again) == text,
                 "a collateral bundle does not round-trip");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ee_fuzz::check(ee::tdx::collateral_from_pcs(pcs()).has_value(), "fixed PCS responses load");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  ee_fuzz::OpenSslErrorsCleared const queue_check;
  ee_fuzz::Selected in;
  if (!ee_fuzz::select(data, size, 3, in)) return 0;
  if (in.mode == 0) {
    if (auto c = ee::tdx::parse_collateral_bundle(in.text())) check_collateral(*c);
    return 0;
  }
  auto responses = pcs();
  if (in.mode == 1)
    responses.tcb_info_body = std::string(in.text());
  else
    responses.qe_identity_body = std::string(in.text());
  if (auto c = ee::tdx::collateral_from_pcs(responses)) check_collateral(*c);
  return 0;
}
