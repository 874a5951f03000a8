#include <easyenclave/api/error.hpp>

#include "detail/error_category.hpp"

namespace ee::api {
namespace {
using detail::CodeInfo;
constexpr auto ii = condition::invalid_input;
constexpr auto ua = condition::unauthenticated;
constexpr auto fb = condition::forbidden;
constexpr int v(errc e) { return static_cast<int>(e); }
constexpr CodeInfo kApiCodes[] = {
    {v(errc::signature_missing), "signature_missing", "request signature headers are missing", ua},
    {v(errc::signature_malformed), "signature_malformed",
     "request signature or timestamp is malformed", ua},
    {v(errc::signature_invalid), "signature_invalid", "request signature does not verify", ua},
    {v(errc::timestamp_out_of_window), "timestamp_out_of_window",
     "request timestamp is outside the accepted window", ua},
    {v(errc::replayed_request), "replayed_request", "request signature was already used", ua},
    {v(errc::invalid_public_key), "invalid_public_key", "not a P-256 public key", ii},
    {v(errc::invalid_private_key), "invalid_private_key", "not a P-256 private key", ii},
    {v(errc::invalid_field), "invalid_field", "a message field has a malformed value", ii},
    {v(errc::invalid_boot_config), "invalid_boot_config",
     "the boot configuration on the kernel command line is malformed", ii},
    {v(errc::invalid_agent_config), "invalid_agent_config", "invalid agent configuration", ii},
    {v(errc::console_token_malformed), "console_token_malformed", "the console token is malformed", ua},
    {v(errc::console_token_invalid), "console_token_invalid", "the console token's signature does not verify", ua},
    {v(errc::console_token_expired), "console_token_expired", "the console token is expired or not yet valid", ua},
    {v(errc::console_token_not_allowed), "console_token_not_allowed",
     "the console token does not cover this agent or route", fb},
};
}  // namespace

error_code make_error_code(errc e) noexcept {
  static detail::TableCategory const category("api", kApiCodes);
  return {static_cast<int>(e), category};
}

}  // namespace ee::api
