#include <easyenclave/jwt/error.hpp>

#include "detail/error_category.hpp"

namespace ee::jwt {
namespace {
using detail::CodeInfo;
constexpr auto ii = condition::invalid_input;
constexpr auto ua = condition::unauthenticated;
constexpr auto fb = condition::forbidden;
constexpr auto uf = condition::upstream_failure;
constexpr int v(errc e) { return static_cast<int>(e); }
constexpr CodeInfo kJwtCodes[] = {
    {v(errc::malformed_token), "malformed_token", "not a compact JWS (three base64url segments)", ii},
    {v(errc::token_too_large), "token_too_large", "token exceeds the size limit", ii},
    {v(errc::malformed_encoding), "malformed_encoding", "token segment is not unpadded base64url", ii},
    {v(errc::malformed_header), "malformed_header", "JOSE header is malformed", ii},
    {v(errc::malformed_claims), "malformed_claims", "token payload is not a JSON object", ii},
    {v(errc::duplicate_key), "duplicate_key", "token header or payload repeats a member name", ii},
    {v(errc::insecure_algorithm), "insecure_algorithm", "algorithm is never accepted (none or HMAC)", ua},
    {v(errc::unsupported_algorithm), "unsupported_algorithm", "algorithm is not supported", ua},
    {v(errc::algorithm_not_allowed), "algorithm_not_allowed", "algorithm is not allowed for this issuer", ua},
    {v(errc::unknown_critical_header), "unknown_critical_header", "crit names an unsupported extension", ua},
    {v(errc::missing_kid), "missing_kid", "token header has no kid", ua},
    {v(errc::unknown_kid), "unknown_kid", "unknown kid", ua},
    {v(errc::key_algorithm_mismatch), "key_algorithm_mismatch", "no key with this kid for this algorithm", ua},
    {v(errc::key_type_mismatch), "key_type_mismatch", "key type does not match the algorithm", ua},
    {v(errc::malformed_signature), "malformed_signature", "signature has the wrong length or form", ua},
    {v(errc::bad_signature), "bad_signature", "signature does not verify", ua},
    {v(errc::token_expired), "token_expired", "token has expired (exp)", ua},
    {v(errc::token_not_yet_valid), "token_not_yet_valid", "token is not yet valid (nbf)", ua},
    {v(errc::issued_in_future), "issued_in_future", "token issued in the future (iat)", ua},
    {v(errc::issuer_not_allowed), "issuer_not_allowed", "issuer (iss) not allowed", ua},
    {v(errc::audience_missing), "audience_missing", "token has no audience (aud)", ua},
    {v(errc::audience_mismatch), "audience_mismatch", "token audience (aud) does not include ours", ua},
    {v(errc::missing_claim), "missing_claim", "required claim missing", ua},
    {v(errc::invalid_claim), "invalid_claim", "claim has the wrong type or value", ua},
    {v(errc::malformed_jwks), "malformed_jwks", "key set is not a JWKS document", ii},
    {v(errc::malformed_key), "malformed_key", "key in the key set is malformed", ua},
    {v(errc::x5c_missing), "x5c_missing", "key has no certificate chain (x5c)", ua},
    {v(errc::x5c_untrusted), "x5c_untrusted", "key certificate chain (x5c) is not trusted", ua},
    {v(errc::x5c_expired), "x5c_expired", "key certificate (x5c) not valid at the token's time", ua},
    {v(errc::invalid_options), "invalid_options", "verifier options are invalid", ii},
    {v(errc::jwks_fetch_failed), "jwks_fetch_failed", "key set could not be fetched", uf},
    {v(errc::ita_rejected_request), "ita_rejected_request", "Intel Trust Authority refused the request", fb},
    {v(errc::ita_failed), "ita_failed", "Intel Trust Authority failed or answered badly", uf},
    {v(errc::bad_url), "bad_url", "base URL is not an absolute http(s) URL", ii},
    {v(errc::report_data_mismatch), "report_data_mismatch",
     "report data does not bind the verifier nonce and held data", fb},
};
}  // namespace

error_code make_error_code(errc e) noexcept {
  static detail::TableCategory const category("jwt", kJwtCodes);
  return {static_cast<int>(e), category};
}

}  // namespace ee::jwt
