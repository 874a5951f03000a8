#include <easyenclave/cloudflare/error.hpp>

#include "detail/error_category.hpp"

namespace ee::cloudflare {
namespace {
using detail::CodeInfo;
constexpr auto ii = condition::invalid_input;
constexpr auto nf = condition::not_found;
constexpr auto cf = condition::conflict;
constexpr auto uf = condition::upstream_failure;
constexpr int v(errc e) { return static_cast<int>(e); }
constexpr CodeInfo kCloudflareCodes[] = {
    {v(errc::not_configured), "not_configured", "Cloudflare API token, account, zone or domain is not configured", ii},
    {v(errc::unauthorized), "unauthorized", "Cloudflare refused the API token (missing permission or invalid)", uf},
    {v(errc::api_error), "api_error", "Cloudflare refused the request", uf},
    {v(errc::unavailable), "unavailable", "Cloudflare is unreachable or answered badly", uf},
    {v(errc::not_found), "not_found", "the tunnel or DNS record does not exist", nf},
    {v(errc::record_exists), "record_exists", "the DNS record or tunnel already exists", cf},
    {v(errc::invalid_label), "invalid_label", "not a DNS label (1-63 of [a-z0-9-], no leading or trailing '-')", ii},
    {v(errc::invalid_id), "invalid_id", "a Cloudflare id must be 1-64 of [A-Za-z0-9-]", ii},
};
}  // namespace

error_code make_error_code(errc e) noexcept {
  static detail::TableCategory const category("cloudflare", kCloudflareCodes);
  return {static_cast<int>(e), category};
}

}  // namespace ee::cloudflare
