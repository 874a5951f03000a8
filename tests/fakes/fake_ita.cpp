#include "fakes/fake_ita.hpp"

#include <easyenclave/http/router.hpp>
#include <easyenclave/jwt/ita.hpp>
#include <easyenclave/tdx/quote.hpp>

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "detail/json.hpp"
#include "detail/time.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <map>
#include <mutex>

namespace ee::test {

namespace bj = boost::json;
namespace bhttp = boost::beast::http;
using Awaitable = boost::asio::awaitable<ee::result<ee::http::Response>>;
using ee::detail::hex_encode;

struct FakeIta::State {
  FakeItaOptions options;
  std::optional<SigningKey> key;
  std::string url;
  std::unique_ptr<ee::http::Server> server;
  std::atomic<std::size_t> attests{0};
  std::mutex mutex;
  std::map<std::string, std::chrono::system_clock::time_point> nonces;  // val -> expiry

  // The claims ITA puts in a TDX token (ITA attestation token reference, TDX section).
  static bj::object tdx_claims(ee::tdx::Appraisal const& a) {
    bj::object c;
    auto attr = [&](std::size_t byte, std::uint8_t bit) { return (a.td_attributes[byte] & bit) != 0; };
    c["tdx_tee_tcb_svn"] = hex_encode(a.tee_tcb_svn);
    c["tdx_mrseam"] = hex_encode(a.mr_seam);
    c["tdx_mrsignerseam"] = hex_encode(a.mr_signer_seam);
    c["tdx_seam_attributes"] = "0000000000000000";
    c["tdx_td_attributes"] = hex_encode(a.td_attributes);
    c["tdx_xfam"] = hex_encode(a.xfam);
    c["tdx_mrtd"] = hex_encode(a.mr_td);
    c["tdx_mrconfigid"] = hex_encode(a.mr_config_id);
    c["tdx_mrowner"] = hex_encode(a.mr_owner);
    c["tdx_mrownerconfig"] = hex_encode(a.mr_owner_config);
    for (std::size_t i = 0; i < 4; ++i) c["tdx_rtmr" + std::to_string(i)] = hex_encode(a.rtmr[i]);
    c["tdx_report_data"] = hex_encode(a.report_data);
    c["tdx_seamsvn"] = a.tee_tcb_svn[0];
    c["tdx_td_attributes_debug"] = attr(0, 0x01);
    c["tdx_td_attributes_septve_disable"] = attr(3, 0x10);
    c["tdx_td_attributes_protection_keys"] = attr(3, 0x40);
    c["tdx_td_attributes_key_locker"] = attr(3, 0x80);
    c["tdx_td_attributes_perfmon"] = attr(7, 0x80);
    c["tdx_is_debuggable"] = attr(0, 0x01);
    c["attester_type"] = "TDX";
    c["attester_tcb_status"] = std::string(ee::tdx::to_string(a.tcb_status));
    if (a.tcb_date) c["attester_tcb_date"] = ee::detail::format_rfc3339(*a.tcb_date);
    if (!a.advisory_ids.empty()) {
      bj::array ids;
      for (auto const& id : a.advisory_ids) ids.emplace_back(id);
      c["attester_advisory_ids"] = std::move(ids);
    }
    return c;
  }

  std::string mint(ee::tdx::Appraisal const& a, bool v2, bj::object const* nonce,
                   std::vector<std::uint8_t> const* user_data) const {
    auto const now = ee::detail::to_unix_seconds(options.clock());
    bj::object claims;
    auto tdx = tdx_claims(a);
    if (user_data) tdx[v2 ? "attester_runtime_data" : "attester_held_data"] = ee::detail::base64_encode(*user_data);
    if (v2) {
      claims["tdx"] = std::move(tdx);
    } else {
      claims = std::move(tdx);
    }
    if (nonce) claims["verifier_nonce"] = *nonce;
    claims["iss"] = options.issuer;
    claims["iat"] = now;
    claims["nbf"] = now;
    claims["exp"] = now + options.lifetime.count();
    claims["jti"] = ee::detail::uuid_v4().value();
    claims["ver"] = v2 ? "2.0.0" : "1.0.0";
    claims["eat_profile"] = "https://portal.trustauthority.intel.com/eat_profile";
    claims["intuse"] = "generic";
    claims["dbgstat"] = "disabled";
    claims["verifier_instance_ids"] = bj::array{ee::detail::uuid_v4().value()};
    std::string header = R"({"alg":"PS384","jku":")" + url + R"(/certs","kid":")" + key->kid() + R"(","typ":"JWT"})";
    return key->sign_raw("PS384", header, bj::serialize(claims));
  }
};

namespace {

using StatePtr = std::shared_ptr<FakeIta::State>;

ee::http::Response token_response(std::string token) {
  bj::object body;
  body["token"] = std::move(token);
  return ee::http::json_response(bhttp::status::ok, bj::serialize(body));
}

bool authorized(StatePtr const& s, ee::http::RequestContext const& ctx) {
  auto const it = ctx.request.find("x-api-key");
  return it != ctx.request.end() && it->value() == s->options.api_key;
}

ee::http::Response unauthorized() {
  return ee::http::json_response(bhttp::status::unauthorized, R"({"error":"invalid or missing x-api-key"})");
}

ee::result<bj::object> body_object(ee::http::RequestContext const& ctx) {
  auto doc = ee::detail::json::parse(ctx.request.body());
  if (!doc) return doc.error();
  if (!doc->is_object()) return ee::Error(ee::errc::wrong_type, "body: expected a JSON object");
  return std::move(doc->as_object());
}

ee::result<std::vector<std::uint8_t>> b64_field(bj::object const& o, std::string_view name) {
  auto const* v = o.if_contains(name);
  if (v == nullptr || !v->is_string()) return ee::Error(ee::errc::missing_field, "body." + std::string(name) + ": expected a base64 string");
  auto bytes = ee::detail::base64_decode(v->as_string());
  if (!bytes) return ee::Error(ee::errc::bad_base64, "body." + std::string(name) + ": not base64");
  return std::move(*bytes);
}

// The appraisal proper: DCAP verification against the configured root and collateral.
ee::result<ee::tdx::Appraisal> appraise(StatePtr const& s, std::vector<std::uint8_t> const& bytes) {
  ++s->attests;
  auto quote = ee::tdx::parse_quote(bytes);
  if (!quote) return ee::Error(ee::errc::invalid_value, "quote: " + quote.error().message());
  ee::tdx::VerifyOptions options;
  options.root = s->options.root;
  options.now = s->options.clock();
  auto verdict = ee::tdx::verify(*quote, s->options.collateral.get(), options);
  if (!verdict) return ee::Error(ee::errc::invalid_value, "quote: " + verdict.error().message());
  if (!verdict->accepted()) {
    auto const* step = verdict->first_failure();
    return ee::Error(ee::errc::invalid_value,
                     "quote did not verify: " + (step ? step->name + ": " + step->detail : verdict->error.message()));
  }
  return ee::tdx::appraisal_from_verdict(*verdict);
}

Awaitable attest_v1(StatePtr s, ee::http::RequestContext& ctx) {
  if (!authorized(s, ctx)) co_return unauthorized();
  auto body = body_object(ctx);
  if (!body) co_return body.error();
  auto quote = b64_field(*body, "quote");
  if (!quote) co_return quote.error();
  std::optional<std::vector<std::uint8_t>> user_data;
  if (body->contains("user_data")) {
    auto data = b64_field(*body, "user_data");
    if (!data) co_return data.error();
    user_data = std::move(*data);
  }
  auto appraisal = appraise(s, *quote);
  if (!appraisal) co_return appraisal.error();
  co_return token_response(s->mint(*appraisal, false, nullptr, user_data ? &*user_data : nullptr));
}

std::string nonce_iat_text(std::chrono::system_clock::time_point t) {
  // ITA's nonce iat is Go's time.String() of UTC: "2023-12-05 00:09:10 +0000 UTC".
  auto text = ee::detail::format_rfc3339(t);
  text[10] = ' ';
  text.pop_back();
  return text + " +0000 UTC";
}

Awaitable nonce_v2(StatePtr s, ee::http::RequestContext& ctx) {
  if (!authorized(s, ctx)) co_return unauthorized();
  auto random = ee::detail::random_bytes(48);
  if (!random) co_return random.error();
  auto const val = ee::detail::base64_encode(*random);
  auto const now = s->options.clock();
  auto const iat = nonce_iat_text(now);
  auto const val_bytes = ee::detail::base64_decode(val).value();
  std::string signed_input(val_bytes.begin(), val_bytes.end());
  signed_input += iat;
  auto const signature = s->key->signature("PS384", signed_input);
  {
    std::lock_guard lock(s->mutex);
    s->nonces[val] = now + std::chrono::minutes(5);
  }
  bj::object body;
  body["val"] = val;
  body["iat"] = ee::detail::base64_encode(ee::detail::as_bytes(iat));
  body["signature"] = ee::detail::base64_encode(signature);
  co_return ee::http::json_response(bhttp::status::ok, bj::serialize(body));
}

Awaitable attest_v2(StatePtr s, ee::http::RequestContext& ctx) {
  if (!authorized(s, ctx)) co_return unauthorized();
  auto outer = body_object(ctx);
  if (!outer) co_return outer.error();
  // Accept the request flat or nested under "tdx".
  bj::object body = *outer;
  if (auto const* tdx = outer->if_contains("tdx"); tdx && tdx->is_object()) body = tdx->as_object();
  auto quote = b64_field(body, "quote");
  if (!quote) co_return quote.error();
  std::vector<std::uint8_t> runtime_data;
  if (body.contains("runtime_data")) {
    auto data = b64_field(body, "runtime_data");
    if (!data) co_return data.error();
    runtime_data = std::move(*data);
  }
  bj::object const* nonce = nullptr;
  if (auto const* n = body.if_contains("verifier_nonce")) {
    if (!n->is_object()) co_return ee::Error(ee::errc::wrong_type, "body.verifier_nonce: expected an object");
    nonce = &n->as_object();
  }
  auto appraisal = appraise(s, *quote);
  if (!appraisal) co_return appraisal.error();
  if (nonce) {
    auto val = b64_field(*nonce, "val");
    auto iat = b64_field(*nonce, "iat");
    if (!val || !iat) co_return ee::Error(ee::errc::invalid_value, "body.verifier_nonce: val and iat must be base64");
    {
      std::lock_guard lock(s->mutex);
      auto const it = s->nonces.find(std::string(nonce->at("val").as_string()));
      if (it == s->nonces.end() || it->second < s->options.clock())
        co_return ee::Error(ee::errc::invalid_value, "body.verifier_nonce: not issued here, or expired");
    }
    if (ee::jwt::ita_report_data(*val, *iat, runtime_data) != appraisal->report_data)
      co_return ee::Error(ee::errc::invalid_value,
                          "quote report data is not SHA-512(nonce.val || nonce.iat || runtime_data)");
  }
  co_return token_response(s->mint(*appraisal, true, nonce, &runtime_data));
}

Awaitable certs(StatePtr s) {
  // The real set lists one RSA key twice under one kid, for PS384 and RS256.
  co_return ee::http::json_response(bhttp::status::ok,
                                    jwks_json({s->key->jwk_json("PS384"), s->key->jwk_json("RS256")}));
}

}  // namespace

ee::result<std::unique_ptr<FakeIta>> FakeIta::start(FakeItaOptions options) {
  if (!options.collateral) return ee::Error(ee::errc::invalid_value, "fake ITA needs collateral to appraise against");
  auto s = std::make_shared<State>();
  s->options = std::move(options);
  s->key = s->options.private_key_pem.empty() ? SigningKey::rsa(3072, s->options.kid)
                                               : SigningKey::from_pem(s->options.private_key_pem, s->options.kid);
  ee::http::Router router;
  router.post("/appraisal/v1/attest", [s](ee::http::RequestContext& ctx) { return attest_v1(s, ctx); });
  router.get("/appraisal/v2/nonce", [s](ee::http::RequestContext& ctx) { return nonce_v2(s, ctx); });
  router.post("/appraisal/v2/attest", [s](ee::http::RequestContext& ctx) { return attest_v2(s, ctx); });
  router.get("/certs", [s](ee::http::RequestContext&) { return certs(s); });
  ee::http::ServerOptions server_options;
  server_options.host = s->options.host;
  server_options.port = s->options.port;
  server_options.body_limit = 256 * 1024;
  auto server = ee::http::Server::start(std::move(router), server_options);
  if (!server) return server.error();
  s->server = std::move(*server);
  s->url = "http://" + s->options.host + ":" + std::to_string(s->server->port());
  return std::unique_ptr<FakeIta>(new FakeIta(std::move(s)));
}

FakeIta::~FakeIta() {
  // The routes hold the state; dropping the server breaks that cycle.
  if (state_ && state_->server) {
    state_->server->stop();
    state_->server.reset();
  }
}

std::string FakeIta::url() const { return state_->url; }
std::string FakeIta::jwks_json() const {
  return ee::test::jwks_json({state_->key->jwk_json("PS384"), state_->key->jwk_json("RS256")});
}
std::string const& FakeIta::api_key() const { return state_->options.api_key; }
std::size_t FakeIta::attest_count() const { return state_->attests.load(); }
std::string FakeIta::mint(ee::tdx::Appraisal const& appraisal, bool v2) const {
  return state_->mint(appraisal, v2, nullptr, nullptr);
}
SigningKey const& FakeIta::key() const { return *state_->key; }
ee::http::Server& FakeIta::server() { return *state_->server; }

}  // namespace ee::test
