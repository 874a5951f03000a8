#include "support/attestation_data.hpp"

#include "support/temp_dir.hpp"

namespace ee::test {

std::vector<std::uint8_t> quote_bytes(std::string const& name) {
  auto const text = read_file(testdata("attestation/quotes/" + name));
  return {text.begin(), text.end()};
}

std::string collateral_text(std::string const& name) {
  return read_file(testdata("attestation/collateral/" + name));
}

std::vector<std::uint8_t> collateral_bytes(std::string const& name) {
  auto const text = collateral_text(name);
  return {text.begin(), text.end()};
}

tdx::PcsResponses gtg_pcs_responses(std::string const& tcb_info_file) {
  tdx::PcsResponses p;
  p.tcb_info_body = collateral_text(tcb_info_file);
  p.tcb_info_issuer_chain_pem = collateral_text("gtg_tcb_signing_chain.pem");
  p.qe_identity_body = collateral_text("gtg_qe_identity_td_qe.json");
  p.qe_identity_issuer_chain_pem = collateral_text("gtg_tcb_signing_chain.pem");
  p.pck_crl = collateral_bytes("gtg_pck_crl_platform.der");
  p.pck_crl_issuer_chain_pem = collateral_text("gtg_pck_crl_issuer_chain.pem");
  p.root_ca_crl = collateral_bytes("gtg_root_ca_crl.der");
  return p;
}

}  // namespace ee::test
