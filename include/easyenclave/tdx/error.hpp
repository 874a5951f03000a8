#pragma once
/// @file Error codes of TDX quote parsing and verification. Values are stable: new codes are
/// appended, never renumbered. The id of each is "tdx.<name>".
#include <easyenclave/error.hpp>

namespace ee::tdx {

enum class errc {
  quote_truncated = 1,              ///< fewer bytes than a declared length requires      -> invalid_input
  unsupported_version,              ///< header version not 4 or 5                        -> invalid_input
  not_a_td_quote,                   ///< an SGX quote (version 3, or tee_type != 0x81)    -> invalid_input
  unsupported_attestation_key_type, ///< not ECDSA-256-with-P-256 (type 2)                -> invalid_input
  unsupported_body_type,            ///< v5 body type other than 2 (TD 1.0) or 3 (TD 1.5) -> invalid_input
  body_size_mismatch,               ///< v5 body size does not match its type             -> invalid_input
  unsupported_certification_data,   ///< outer type not 6 or nested type not 5 (PEM chain) -> invalid_input
  malformed_signature_data,         ///< declared sizes inside the signature data disagree -> invalid_input
};
error_code make_error_code(errc e) noexcept;

}  // namespace ee::tdx

template <>
struct boost::system::is_error_code_enum<ee::tdx::errc> : std::true_type {};
