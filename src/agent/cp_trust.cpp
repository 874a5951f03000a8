// Attesting the control plane (cp_trust.hpp). The CP's quote binds REPORTDATA = nonce (zero-padded
// to 32 bytes) ‖ SHA-256(CP public key DER) (docs/architecture.md, "CP bootstrap"); every check
// is made on the *appraised* report data and measurements, never on what the CP says of itself.
#include "agent/cp_trust.hpp"

#include <easyenclave/agent/error.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/tdx/appraisal.hpp>
#include <easyenclave/tdx/policy.hpp>
#include <easyenclave/tdx/quote.hpp>

#include "detail/crypto.hpp"
#include "detail/json.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include <algorithm>

namespace ee::agent::detail {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace core = ::ee::detail;

// The CP's answer is a quote (a few KiB) and a key; the cap only bounds a wrong endpoint.
constexpr std::size_t kMaxAnswer = 256 * 1024;

Error not_attested(std::string_view check, std::string const& detail) {
  return Error(errc::cp_not_attested, std::string(check) + ": " + detail);
}

// An ITA appraisal as a verdict, so one judge (tdx::judge) decides for both appraisers. ITA has
// checked the quote's signatures and collateral; its token, verified here, vouches for that.
tdx::Verdict verdict_of(tdx::Appraisal const& a) {
  tdx::Verdict v;
  v.steps.push_back({"ita_token", true, "token verified against Intel Trust Authority's key set"});
  v.tcb_status = a.tcb_status;
  v.advisory_ids = a.advisory_ids;
  if (a.tcb_date) v.tcb_date = *a.tcb_date;
  v.checked_at = a.appraised_at;
  // Collateral age is ITA's business; judged from the token's time.
  v.collateral_issued_at = a.appraised_at;
  auto& r = v.td_report;
  r.mr_td = a.mr_td;
  r.rtmr = a.rtmr;
  r.report_data = a.report_data;
  r.td_attributes = a.td_attributes;
  r.xfam = a.xfam;
  r.tee_tcb_svn = a.tee_tcb_svn;
  r.mr_seam = a.mr_seam;
  r.mr_signer_seam = a.mr_signer_seam;
  r.mr_config_id = a.mr_config_id;
  r.mr_owner = a.mr_owner;
  r.mr_owner_config = a.mr_owner_config;
  return v;
}

}  // namespace

CpVerifier::CpVerifier(std::shared_ptr<http::Client> http, CpAttestationPolicy policy,
                       std::string cp_url, std::chrono::milliseconds call_timeout,
                       std::function<std::chrono::system_clock::time_point()> now)
    : http_(std::move(http)),
      policy_(std::move(policy)),
      cp_url_(std::move(cp_url)),
      call_timeout_(call_timeout),
      now_(std::move(now)),
      verifier_(policy_.root),
      fetcher_(policy_.collateral_fetcher) {
  if (policy_.appraiser == CpAttestationPolicy::Appraiser::dcap) {
    if (!policy_.collateral && !fetcher_) {
      tdx::FetcherOptions o;
      o.now = now_;
      fetcher_ = std::make_shared<tdx::CollateralFetcher>(http_, o);
    }
  } else {
    ita_.emplace(http_, policy_.ita);
    jwt::JwksCacheOptions keys;
    keys.url = policy_.ita_jwks_url;
    ita_keys_ = std::make_unique<jwt::JwksCache>(http_, keys, now_);
  }
}

asio::awaitable<result<tdx::Verdict>> CpVerifier::appraise(std::vector<std::uint8_t> raw) const {
  auto quote = tdx::parse_quote(raw);
  if (!quote) co_return not_attested("quote", quote.error().message());
  if (policy_.appraiser == CpAttestationPolicy::Appraiser::ita) {
    auto token = co_await ita_->attest(std::move(raw));
    if (!token) co_return not_attested("Intel Trust Authority", token.error().message());
    auto header = jwt::peek_header(*token);
    if (!header) co_return not_attested("Intel Trust Authority token", header.error().message());
    auto keys = co_await ita_keys_->get_for(header->kid);
    if (!keys) co_return not_attested("Intel Trust Authority key set", keys.error().message());
    auto verified = jwt::verify_ita_token(*token, *keys, policy_.ita_verify, now_());
    if (!verified) {
      co_return not_attested("Intel Trust Authority token", verified.error().message());
    }
    co_return verdict_of(verified->appraisal);
  }
  std::shared_ptr<tdx::Collateral const> collateral = policy_.collateral;
  if (!collateral) {
    auto fetched = co_await fetcher_->fetch_for_quote(*quote);
    if (!fetched) co_return not_attested("collateral", fetched.error().message());
    collateral = std::move(*fetched);
  }
  auto verdict = verifier_.verify(*quote, collateral, now_());
  if (!verdict) co_return not_attested("quote", verdict.error().message());
  if (!verdict->accepted()) {
    auto const* step = verdict->first_failure();
    co_return not_attested("quote", step ? step->name + " failed: " + step->detail
                                         : std::string("not accepted"));
  }
  co_return std::move(*verdict);
}

asio::awaitable<result<AttestedCp>> CpVerifier::attest() const {
  std::array<std::uint8_t, 32> nonce{};
  if (auto ok = core::random_bytes(nonce); !ok) co_return ok.error();
  http::Request request{bhttp::verb::get, cp_url_ + "/api/v1/attestation?nonce=" + hex_encode(nonce),
                        11};
  request.set(bhttp::field::user_agent, "ee-agent");
  request.set(bhttp::field::accept, "application/json");
  http::RequestOptions options;
  options.timeout = call_timeout_;
  options.max_response_bytes = kMaxAnswer;
  auto response = co_await http_->send(std::move(request), options);
  if (!response) {
    co_return Error(errc::cp_unavailable, "GET /api/v1/attestation: " + response.error().message());
  }
  if (response->result_int() != 200) {
    co_return Error(errc::cp_unavailable,
                    "GET /api/v1/attestation: HTTP " + std::to_string(response->result_int()));
  }
  auto doc = core::json::parse(response->body());
  if (!doc) co_return not_attested("evidence", "the answer is not JSON");
  auto body = core::json::ObjectReader::from(*doc, "attestation");
  if (!body) co_return not_attested("evidence", body.error().message());
  auto quote_b64 = body->string("quote_b64");
  if (!quote_b64) co_return not_attested("evidence", quote_b64.error().message());
  auto key_text = body->string("cp_public_key");
  if (!key_text) co_return not_attested("evidence", key_text.error().message());
  auto key = api::PublicKey::parse(*key_text);
  if (!key) co_return not_attested("evidence", "cp_public_key: " + key.error().message());
  auto raw = base64_decode(*quote_b64);
  if (!raw) co_return not_attested("evidence", "quote_b64 is not base64");

  auto verdict = co_await appraise(std::move(*raw));
  if (!verdict) co_return verdict.error();

  auto const& report_data = verdict->td_report.report_data;
  if (!std::equal(nonce.begin(), nonce.end(), report_data.begin())) {
    co_return not_attested("nonce_binding",
                           "REPORTDATA[0..32) is not the nonce this agent sent (a replayed quote)");
  }
  auto const digest = key->sha256();
  if (!std::equal(digest.begin(), digest.end(), report_data.begin() + 32)) {
    co_return not_attested("key_binding",
                           "REPORTDATA[32..64) is not SHA-256 of the cp_public_key returned");
  }
  if (auto judged = tdx::judge(policy_.policy, *verdict, now_()); !judged) {
    auto const& step = verdict->steps.back();
    co_return not_attested(step.name, step.detail);
  }
  co_return AttestedCp{.key = std::move(*key), .mrtd = verdict->td_report.mr_td};
}

}  // namespace ee::agent::detail
