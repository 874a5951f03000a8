#pragma once
/// @file Error codes of JWS/JWT verification, key sets, the JWKS cache, Intel Trust Authority and
/// GitHub Actions OIDC. Values are stable: new codes are appended, never renumbered. The id of
/// each is "jwt.<name>". Messages name the header field or claim at fault and never echo token
/// contents or key material.
#include <easyenclave/error.hpp>

namespace ee::jwt {

enum class errc {
  // Compact serialisation (RFC 7515 section 7.1).
  malformed_token = 1,      ///< not three dot-separated segments, or an empty one  -> invalid_input
  token_too_large,          ///< longer than the verifier's size cap                -> invalid_input
  malformed_encoding,       ///< a segment is not unpadded base64url (RFC 7515 s.2)  -> invalid_input
  malformed_header,         ///< header is not a JSON object or a field has a wrong type -> invalid_input
  malformed_claims,         ///< payload is not a JSON object                        -> invalid_input
  duplicate_key,            ///< header or payload repeats a member name (RFC 7515 s.5.2) -> invalid_input
  // Algorithms and keys (RFC 7515 section 4.1, RFC 7518 section 3, RFC 7517).
  insecure_algorithm,       ///< "none" or an HMAC algorithm: never accepted         -> unauthenticated
  unsupported_algorithm,    ///< an algorithm this library does not implement        -> unauthenticated
  algorithm_not_allowed,    ///< implemented, but not pinned by this verifier        -> unauthenticated
  unknown_critical_header,  ///< `crit` lists an extension we do not understand      -> unauthenticated
  missing_kid,              ///< the header has no `kid`                             -> unauthenticated
  unknown_kid,              ///< no key in the set has the token's `kid`             -> unauthenticated
  key_algorithm_mismatch,   ///< keys with this kid exist, none for this alg         -> unauthenticated
  key_type_mismatch,        ///< the key's `kty`/curve cannot do the token's alg     -> unauthenticated
  malformed_signature,      ///< wrong length (truncated, DER instead of raw r||s)  -> unauthenticated
  bad_signature,            ///< the signature does not verify                      -> unauthenticated
  // Claims (RFC 7519 section 4.1).
  token_expired,            ///< `exp` + leeway is not after the clock               -> unauthenticated
  token_not_yet_valid,      ///< `nbf` - leeway is after the clock                   -> unauthenticated
  issued_in_future,         ///< `iat` - leeway is after the clock                   -> unauthenticated
  issuer_not_allowed,       ///< `iss` absent or not in the configured list          -> unauthenticated
  audience_missing,         ///< an audience is configured and `aud` is absent       -> unauthenticated
  audience_mismatch,        ///< `aud` (string or array) does not contain ours       -> unauthenticated
  missing_claim,            ///< a required claim is absent                          -> unauthenticated
  invalid_claim,            ///< a claim has the wrong JSON type or a malformed value -> unauthenticated
  // Key sets (RFC 7517 section 5) and certificate chains (x5c, section 4.7).
  malformed_jwks,           ///< not a JSON object with a `keys` array               -> invalid_input
  malformed_key,            ///< the selected JWK's material or parameters are bad   -> unauthenticated
  x5c_missing,              ///< a root is configured and the key carries no x5c     -> unauthenticated
  x5c_untrusted,            ///< x5c does not chain to the root or not for this key  -> unauthenticated
  x5c_expired,              ///< a certificate of x5c is outside its validity at the token's time -> unauthenticated
  invalid_options,          ///< verifier misconfigured (no algorithms, bad root)    -> invalid_input
  // Fetching (JWKS cache, Intel Trust Authority).
  jwks_fetch_failed,        ///< key set URL answered non-2xx or an unusable body    -> upstream_failure
  ita_rejected_request,     ///< ITA answered 4xx (bad quote, bad key, bad nonce)    -> forbidden
  ita_failed,               ///< ITA answered 5xx/other, or a body we cannot read   -> upstream_failure
  bad_url,                  ///< a configured base URL is not absolute http(s)       -> invalid_input
  // Typed layers.
  report_data_mismatch,     ///< an ITA token's report data does not bind its nonce and data -> forbidden
};
error_code make_error_code(errc e) noexcept;

}  // namespace ee::jwt

template <>
struct boost::system::is_error_code_enum<ee::jwt::errc> : std::true_type {};
