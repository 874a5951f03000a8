// GET /attestation?nonce=HEX: the CP's own quote, with the caller's nonce bound, so agents and
// clients can verify the control plane before trusting it. REPORTDATA = nonce (≤ 32 bytes,
// zero-padded) ‖ SHA-256 of the CP's public key, the same layout agents use.
#include "cp/routes/routes.hpp"

#include <easyenclave/cp/error.hpp>
#include <easyenclave/encoding.hpp>

#include "detail/json.hpp"

#include <boost/beast/http/verb.hpp>
#include <boost/json/object.hpp>

#include <algorithm>

namespace ee::cp {
namespace {

namespace bhttp = boost::beast::http;

boost::asio::awaitable<result<http::Response>> cp_attestation(http::RequestContext& ctx, Services& s, Caller const&) {
  auto nonce_hex = ctx.query("nonce");
  if (!nonce_hex || nonce_hex->empty()) co_return Error(ee::errc::missing_field, "query parameter nonce is required");
  auto nonce = hex_decode(*nonce_hex);
  if (!nonce) co_return nonce.error().with_context("nonce");
  if (nonce->size() > 32) co_return Error(ee::errc::out_of_range, "nonce must be at most 32 bytes (64 hex chars)");
  if (!s.quote_provider) co_return Error(errc::no_quote_provider);

  tdx::ReportData report_data{};
  std::copy(nonce->begin(), nonce->end(), report_data.begin());
  auto const key_digest = s.signing_key.public_key().sha256();
  std::copy(key_digest.begin(), key_digest.end(), report_data.begin() + 32);
  // A configfs-tsm quote blocks for as long as the quoting enclave takes: off the I/O threads.
  auto quote = co_await s.store([&s, &report_data]() -> result<std::vector<std::uint8_t>> {
    std::lock_guard lock(s.quote_provider_mutex);
    return s.quote_provider->get_quote(report_data);
  });
  if (!quote) co_return quote.error();

  boost::json::object body;
  body["quote_b64"] = base64_encode(*quote);
  body["report_data"] = hex_encode(report_data);
  body["cp_public_key"] = s.signing_key.public_key().base64();
  body["provider"] = std::string(s.quote_provider->name());
  co_return http::json_response(bhttp::status::ok, detail::json::serialize(body));
}

}  // namespace

void add_attestation_routes(Routes& routes) {
  routes.add(bhttp::verb::get, "/attestation", Access::anyone, cp_attestation);
}

}  // namespace ee::cp
