// Intel Trust Authority: token claims to tdx::Appraisal, and the appraisal REST client. Claim
// names follow the ITA attestation token reference (v1 flat "tdx_*" claims; v2 nests them under
// "tdx"); paths follow the ITA REST API (appraisal/v1/attest, appraisal/v2/nonce,
// appraisal/v2/attest).
#include <easyenclave/jwt/ita.hpp>
#include <easyenclave/time.hpp>

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "detail/json.hpp"
#include "jwt/internal.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/object.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <array>

namespace ee::jwt {
namespace {

namespace core = ::ee::detail;
namespace bj = boost::json;
namespace bhttp = boost::beast::http;

// Looks a claim up under "tdx" first (v2 tokens), then at the top level (v1).
class TdxClaims {
 public:
  explicit TdxClaims(bj::object const& top) : top_(top) {
    if (auto const* tdx = top.if_contains("tdx"); tdx && tdx->is_object()) nested_ = &tdx->as_object();
  }
  bj::value const* find(std::string_view name) const {
    if (nested_ != nullptr) {
      if (auto const* v = nested_->if_contains(name); v && !v->is_null()) return v;
    }
    auto const* v = top_.if_contains(name);
    return v && !v->is_null() ? v : nullptr;
  }

 private:
  bj::object const& top_;
  bj::object const* nested_ = nullptr;
};

template <std::size_t N>
result<void> hex_claim(TdxClaims const& c, std::string_view name, bool required, std::array<std::uint8_t, N>& out) {
  auto const* v = c.find(name);
  if (v == nullptr) {
    if (required) return Error(errc::missing_claim, "claim " + std::string(name) + " is missing");
    return {};
  }
  if (!v->is_string() || !core::hex_decode_into(v->as_string(), out))
    return Error(errc::invalid_claim, "claim " + std::string(name) + " is not " + std::to_string(N) +
                                          " bytes of hex");
  return {};
}

result<std::vector<std::uint8_t>> base64_claim(bj::value const& v, std::string_view name) {
  if (!v.is_string()) return Error(errc::invalid_claim, "claim " + std::string(name) + " is not a string");
  auto bytes = core::base64_decode(v.as_string());
  if (!bytes) return Error(errc::invalid_claim, "claim " + std::string(name) + " is not base64");
  return std::move(*bytes);
}

result<std::vector<std::string>> string_list(TdxClaims const& c, std::string_view name) {
  std::vector<std::string> out;
  auto const* v = c.find(name);
  if (v == nullptr) return out;
  if (!v->is_array()) return Error(errc::invalid_claim, "claim " + std::string(name) + " is not an array");
  for (auto const& item : v->as_array()) {
    if (item.is_string()) {
      out.emplace_back(item.as_string());
    } else if (item.is_object() && item.as_object().contains("id") && item.as_object().at("id").is_string()) {
      out.emplace_back(item.as_object().at("id").as_string());  // policy_ids_matched: [{"id":...}]
    } else {
      return Error(errc::invalid_claim, "claim " + std::string(name) + " has an element of the wrong type");
    }
  }
  return out;
}

result<void> read_appraisal(Token const& token, TdxClaims const& c, ItaToken& out) {
  auto& a = out.appraisal;
  a.appraised_by = tdx::Appraiser::intel_trust_authority;
  a.appraised_at = token.issued_at().value_or(TimePoint{});
  a.valid_until = token.expires_at();
  if (auto const* type = c.find("attester_type")) {
    if (!type->is_string() || type->as_string() != "TDX")
      return Error(errc::invalid_claim, "claim attester_type is not \"TDX\"");
  }
  for (auto r : {hex_claim(c, "tdx_mrtd", true, a.mr_td), hex_claim(c, "tdx_rtmr0", true, a.rtmr[0]),
                 hex_claim(c, "tdx_rtmr1", true, a.rtmr[1]), hex_claim(c, "tdx_rtmr2", true, a.rtmr[2]),
                 hex_claim(c, "tdx_rtmr3", true, a.rtmr[3]), hex_claim(c, "tdx_report_data", true, a.report_data),
                 hex_claim(c, "tdx_td_attributes", false, a.td_attributes), hex_claim(c, "tdx_xfam", false, a.xfam),
                 hex_claim(c, "tdx_tee_tcb_svn", false, a.tee_tcb_svn), hex_claim(c, "tdx_mrseam", false, a.mr_seam),
                 hex_claim(c, "tdx_mrsignerseam", false, a.mr_signer_seam),
                 hex_claim(c, "tdx_mrconfigid", false, a.mr_config_id), hex_claim(c, "tdx_mrowner", false, a.mr_owner),
                 hex_claim(c, "tdx_mrownerconfig", false, a.mr_owner_config)})
    if (!r) return r.error();
  auto const* status = c.find("attester_tcb_status");
  if (status == nullptr) return Error(errc::missing_claim, "claim attester_tcb_status is missing");
  auto const parsed = status->is_string() ? tdx::parse_tcb_status(status->as_string()) : std::nullopt;
  if (!parsed) return Error(errc::invalid_claim, "claim attester_tcb_status is not an Intel TCB status");
  a.tcb_status = *parsed;
  if (auto const* date = c.find("attester_tcb_date")) {
    auto t = date->is_string() ? parse_time(date->as_string()) : result<TimePoint>(ee::errc::bad_time);
    if (!t) return Error(errc::invalid_claim, "claim attester_tcb_date is not an RFC 3339 time");
    a.tcb_date = *t;
  }
  auto advisories = string_list(c, "attester_advisory_ids");
  if (!advisories) return advisories.error();
  a.advisory_ids = std::move(*advisories);
  auto policies = string_list(c, "policy_ids_matched");
  if (!policies) return policies.error();
  out.policy_ids_matched = std::move(*policies);

  if (auto const* nonce = c.find("verifier_nonce")) {
    auto const* obj = nonce->if_object();
    ItaNonce n;
    for (auto [field, slot] : {std::pair{"val", &n.val}, {"iat", &n.iat}, {"signature", &n.signature}}) {
      auto const* v = obj ? obj->if_contains(field) : nullptr;
      if (v == nullptr || !v->is_string() || !core::base64_decode(v->as_string()))
        return Error(errc::invalid_claim, "claim verifier_nonce." + std::string(field) + " is not base64");
      *slot = std::string(v->as_string());
    }
    out.verifier_nonce = std::move(n);
  }
  if (auto const* held = c.find("attester_held_data")) {
    auto bytes = base64_claim(*held, "attester_held_data");
    if (!bytes) return bytes.error();
    out.user_data = std::move(*bytes);
  } else if (auto const* runtime = c.find("attester_runtime_data"); runtime && runtime->is_string()) {
    // v2 runtime data is base64 when given as bytes; a JSON object (user claims) is kept in the
    // token only.
    auto bytes = base64_claim(*runtime, "attester_runtime_data");
    if (!bytes) return bytes.error();
    out.user_data = std::move(*bytes);
  }
  return {};
}

bool is_http_url(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return false;
  return (parsed->scheme() == "https" || parsed->scheme() == "http") && !parsed->encoded_host().empty() &&
         !parsed->has_query() && !parsed->has_fragment();
}

// Turns an ITA response into the caller's value, mapping statuses to codes. Bodies of error
// responses are not echoed: they may quote the request.
result<bj::value> read_response(result<http::Response> const& response, std::string_view what) {
  if (!response) return response.error();
  auto const status = response->result_int();
  if (status == 401 || status == 403)
    return Error(errc::ita_failed, std::string(what) + ": ITA refused the API key (HTTP " +
                                       std::to_string(status) + ")");
  if (status >= 400 && status < 500)
    return Error(errc::ita_rejected_request, std::string(what) + ": ITA refused the request (HTTP " +
                                                 std::to_string(status) + ")");
  if (status != 200)
    return Error(errc::ita_failed, std::string(what) + ": ITA answered HTTP " + std::to_string(status));
  auto doc = core::json::parse(response->body());
  if (!doc || !doc->is_object())
    return Error(errc::ita_failed, std::string(what) + ": ITA answered a body that is not a JSON object");
  return std::move(*doc);
}

result<std::string> token_of(result<bj::value> const& doc, std::string_view what) {
  if (!doc) return doc.error();
  auto const* token = doc->as_object().if_contains("token");
  if (token == nullptr || !token->is_string())
    return Error(errc::ita_failed, std::string(what) + ": ITA answer has no string \"token\"");
  return std::string(token->as_string());
}

}  // namespace

bool ItaToken::nonce_binding_holds() const {
  if (!verifier_nonce) return false;
  auto val = core::base64_decode(verifier_nonce->val);
  auto iat = core::base64_decode(verifier_nonce->iat);
  if (!val || !iat) return false;
  auto const expected = ita_report_data(*val, *iat, user_data);
  return core::constant_time_equal(expected, appraisal.report_data);
}

tdx::ReportData ita_report_data(std::span<std::uint8_t const> nonce_val, std::span<std::uint8_t const> nonce_iat,
                                std::span<std::uint8_t const> user_data) {
  std::vector<std::uint8_t> input;
  input.reserve(nonce_val.size() + nonce_iat.size() + user_data.size());
  input.insert(input.end(), nonce_val.begin(), nonce_val.end());
  input.insert(input.end(), nonce_iat.begin(), nonce_iat.end());
  input.insert(input.end(), user_data.begin(), user_data.end());
  return core::sha512(input);
}

result<ItaToken> verify_ita_token(std::string_view compact, KeySet const& keys, ItaVerifyOptions const& options,
                                  TimePoint now) {
  VerifyOptions v;
  v.algorithms = options.algorithms;
  v.issuers = options.issuers;
  v.audience = options.audience;
  v.leeway = options.leeway;
  v.x5c_root = options.x5c_root;
  auto token = verify(compact, keys, v, now);
  if (!token) return token.error();
  ItaToken out;
  out.token = *token;
  if (auto ok = read_appraisal(*token, TdxClaims(token->impl()->claims.as_object()), out); !ok) return ok.error();
  if (options.require_nonce_binding && !out.nonce_binding_holds())
    return Error(errc::report_data_mismatch,
                 "claim tdx_report_data is not SHA-512 of verifier_nonce.val, verifier_nonce.iat and the held data");
  return out;
}

result<std::string> normalize_ita_base_url(std::string_view url) {
  std::string base(url);
  while (!base.empty() && base.back() == '/') base.pop_back();
  for (std::string_view suffix : {"/appraisal/v1/attest", "/appraisal/v2/attest", "/appraisal/v2/nonce",
                                  "/appraisal/v1", "/appraisal/v2"}) {
    if (std::string_view(base).ends_with(suffix)) {
      base.resize(base.size() - suffix.size());
      break;
    }
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (!is_http_url(base)) return Error(errc::bad_url, "ITA base URL is not an absolute http(s) URL");
  return base;
}

ItaClient::ItaClient(std::shared_ptr<http::Client> http, ItaClientOptions options)
    : http_(std::move(http)), options_(std::move(options)) {
  if (auto base = normalize_ita_base_url(options_.base_url)) base_ = std::move(*base);
}

namespace {

http::Request ita_request(bhttp::verb method, std::string url, std::string const& api_key, std::string body) {
  http::Request req{method, url, 11};
  req.set("x-api-key", api_key);
  req.set(bhttp::field::accept, "application/json");
  if (method == bhttp::verb::post) {
    req.set(bhttp::field::content_type, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
  }
  return req;
}

}  // namespace

boost::asio::awaitable<result<std::string>> ItaClient::attest(std::vector<std::uint8_t> quote) const {
  if (base_.empty()) co_return Error(errc::bad_url, "ITA base URL is not an absolute http(s) URL");
  bj::object body;
  body["quote"] = core::base64_encode(quote);
  auto response = co_await http_->send(
      ita_request(bhttp::verb::post, base_ + "/appraisal/v1/attest", options_.api_key, core::json::serialize(body)),
      options_.request);
  co_return token_of(read_response(response, "appraisal/v1/attest"), "appraisal/v1/attest");
}

boost::asio::awaitable<result<ItaNonce>> ItaClient::nonce() const {
  if (base_.empty()) co_return Error(errc::bad_url, "ITA base URL is not an absolute http(s) URL");
  auto response = co_await http_->send(
      ita_request(bhttp::verb::get, base_ + "/appraisal/v2/nonce", options_.api_key, {}), options_.request);
  auto doc = read_response(response, "appraisal/v2/nonce");
  if (!doc) co_return doc.error();
  ItaNonce n;
  for (auto [field, slot] : {std::pair{"val", &n.val}, {"iat", &n.iat}, {"signature", &n.signature}}) {
    auto const* v = doc->as_object().if_contains(field);
    if (v == nullptr || !v->is_string() || !core::base64_decode(v->as_string()))
      co_return Error(errc::ita_failed, "appraisal/v2/nonce: answer field " + std::string(field) + " is not base64");
    *slot = std::string(v->as_string());
  }
  co_return n;
}

boost::asio::awaitable<result<std::string>> ItaClient::attest(std::vector<std::uint8_t> quote, ItaNonce nonce,
                                                              std::vector<std::uint8_t> runtime_data) const {
  if (base_.empty()) co_return Error(errc::bad_url, "ITA base URL is not an absolute http(s) URL");
  // The v2 API takes composite evidence: each TEE's evidence under its identifier ("tdx"), with
  // request-wide options (policy_ids, token_signing_alg) beside it, as Intel's own client builds it.
  bj::object tdx;
  tdx["quote"] = core::base64_encode(quote);
  tdx["verifier_nonce"] = bj::object{{"val", nonce.val}, {"iat", nonce.iat}, {"signature", nonce.signature}};
  tdx["runtime_data"] = core::base64_encode(runtime_data);
  bj::object body;
  body["tdx"] = std::move(tdx);
  body["token_signing_alg"] = "PS384";
  auto response = co_await http_->send(
      ita_request(bhttp::verb::post, base_ + "/appraisal/v2/attest", options_.api_key, core::json::serialize(body)),
      options_.request);
  co_return token_of(read_response(response, "appraisal/v2/attest"), "appraisal/v2/attest");
}

}  // namespace ee::jwt
