#pragma once
// The Intel SGX PCK certificate extension (OID 1.2.840.113741.1.13.1), decoded with a strict,
// bounds-checked DER walker. Layout: "Intel SGX PCK Certificate and Certificate Revocation List
// Profile Specification", section 1.5 (SGX Extensions).
#include <easyenclave/error.hpp>
#include <easyenclave/tdx/verify.hpp>

#include <openssl/x509.h>

#include <cstdint>
#include <span>

namespace ee::tdx::detail {

/// Decodes the extension value (the contents of extnValue: the DER `SGXExtensions` SEQUENCE).
/// Requires PPID (.1), TCB (.2 with components .2.1-.2.16, PCESVN .2.17 and CPUSVN .2.18),
/// PCE-ID (.3), FMSPC (.4) and SGX type (.5) exactly once each, with their exact sizes and
/// ranges; accepts the Platform CA's optional PlatformInstanceID (.6) and Configuration (.7) and
/// skips other well-formed entries under the SGX arc. Non-minimal lengths, indefinite lengths,
/// negative or oversized integers, duplicates and trailing bytes are refused.
/// errc::pck_extension_malformed with the path of the offending element otherwise.
result<PckExtension> parse_pck_extension(std::span<std::uint8_t const> der);

/// Finds the extension in `cert` (exactly one) and decodes it.
result<PckExtension> pck_extension_of(X509* cert);

}  // namespace ee::tdx::detail
