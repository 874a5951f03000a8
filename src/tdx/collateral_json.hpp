#pragma once
// Parsers for the signed JSON documents of Intel PCS v4: TCB info v3 ("tcbInfo", Intel PCS API
// v4, "TCB Info V3 for TDX") and enclave identity v2 ("enclaveIdentity", "QE Identity V2"), and
// the raw-text extraction their signatures need.
#include <easyenclave/error.hpp>
#include <easyenclave/tdx/collateral.hpp>

#include <string_view>

namespace ee::tdx::detail {

/// Parses the text of a tcbInfo object (id "TDX" or "SGX", version 3). Unknown keys are ignored
/// (Intel adds fields); missing or mistyped ones give errc::malformed_collateral naming the path.
result<TcbInfo> parse_tcb_info(std::string_view json);
/// Parses the text of an enclaveIdentity object (version 2). errc::malformed_collateral.
result<QeIdentity> parse_qe_identity(std::string_view json);

/// The exact source text of the value of top-level member `key` of the JSON object `body`,
/// a view into `body`. The whole body is first parsed strictly (duplicate keys refused), so the
/// span found by the string-aware scanner is the one a JSON parser would see. Never
/// re-serialises: Intel's signature covers these bytes as sent.
/// errc::malformed_collateral when `body` is not an object or lacks `key`.
result<std::string_view> raw_json_member(std::string_view body, std::string_view key);

}  // namespace ee::tdx::detail
