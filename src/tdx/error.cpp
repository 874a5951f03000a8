#include <easyenclave/tdx/error.hpp>

#include "detail/error_category.hpp"

namespace ee::tdx {
namespace {
using detail::CodeInfo;
constexpr auto ii = condition::invalid_input;
constexpr CodeInfo kTdxCodes[] = {
    {static_cast<int>(errc::quote_truncated), "quote_truncated", "quote is shorter than its declared lengths", ii},
    {static_cast<int>(errc::unsupported_version), "unsupported_version", "quote version is not 4 or 5", ii},
    {static_cast<int>(errc::not_a_td_quote), "not_a_td_quote", "not a TDX quote", ii},
    {static_cast<int>(errc::unsupported_attestation_key_type), "unsupported_attestation_key_type",
     "attestation key type is not ECDSA P-256", ii},
    {static_cast<int>(errc::unsupported_body_type), "unsupported_body_type", "quote body type is not a TD report", ii},
    {static_cast<int>(errc::body_size_mismatch), "body_size_mismatch", "quote body size does not match its type", ii},
    {static_cast<int>(errc::unsupported_certification_data), "unsupported_certification_data",
     "certification data type is not supported", ii},
    {static_cast<int>(errc::malformed_signature_data), "malformed_signature_data",
     "sizes inside the quote signature data disagree", ii},
};
}  // namespace

error_code make_error_code(errc e) noexcept {
  static detail::TableCategory const category("tdx", kTdxCodes);
  return {static_cast<int>(e), category};
}

}  // namespace ee::tdx
