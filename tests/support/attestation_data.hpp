#pragma once
// The real attestation vectors of tests/data/attestation, as the tests load them.
#include <easyenclave/tdx/collateral.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ee::test {

/// `attestation/quotes/<name>`, as bytes (fails the test and returns empty when unreadable).
std::vector<std::uint8_t> quote_bytes(std::string const& name);
/// `attestation/collateral/<name>`, as text or bytes.
std::string collateral_text(std::string const& name);
std::vector<std::uint8_t> collateral_bytes(std::string const& name);
/// The go-tdx-guest collateral as Intel PCS v4 serves it: `tcb_info_file` (one of the
/// gtg_tcbinfo_*.json bodies), the TD_QE identity, the TCB signing and PCK CRL issuer chains, the
/// Platform CA's PCK CRL and the root CA CRL.
tdx::PcsResponses gtg_pcs_responses(std::string const& tcb_info_file);

}  // namespace ee::test
