#pragma once
/// @file Error codes of the Cloudflare client. Values are stable: new codes are appended, never
/// renumbered. The id of each is "cloudflare.<name>". Messages never contain the API token.
#include <easyenclave/error.hpp>

namespace ee::cloudflare {

enum class errc {
  not_configured = 1,  ///< token, account, zone or domain missing              -> invalid_input
  unauthorized,        ///< Cloudflare answered 401/403: bad token or scope       -> upstream_failure
  api_error,           ///< another 4xx, or success:false (codes in the detail)  -> upstream_failure
  unavailable,         ///< 5xx, transport failure or a body we cannot read      -> upstream_failure
  not_found,           ///< the tunnel or record does not exist                  -> not_found
  record_exists,       ///< the DNS record (or a tunnel of that name) already exists -> conflict
  invalid_label,       ///< a label that is not a DNS label                      -> invalid_input
  invalid_id,          ///< a tunnel/record id outside [A-Za-z0-9-] (never put in a URL) -> invalid_input
};

error_code make_error_code(errc e) noexcept;

}  // namespace ee::cloudflare

template <>
struct boost::system::is_error_code_enum<ee::cloudflare::errc> : std::true_type {};
