// check_token and the JSON/text views of tokens and appraisals (for `ee token verify`).
#include <easyenclave/jwt/describe.hpp>
#include <easyenclave/file.hpp>
#include <easyenclave/time.hpp>

#include "detail/encoding.hpp"
#include "detail/json.hpp"
#include "jwt/internal.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <sstream>

namespace ee::jwt {
namespace {

namespace core = ::ee::detail;
namespace bj = boost::json;

bj::object appraisal_object(tdx::Appraisal const& a) {
  bj::object o;
  o["appraised_by"] = std::string(tdx::to_string(a.appraised_by));
  o["attester_type"] = a.attester_type;
  o["mr_td"] = core::hex_encode(a.mr_td);
  bj::array rtmr;
  for (auto const& r : a.rtmr) rtmr.emplace_back(core::hex_encode(r));
  o["rtmr"] = std::move(rtmr);
  o["report_data"] = core::hex_encode(a.report_data);
  o["td_attributes"] = core::hex_encode(a.td_attributes);
  o["debug"] = a.debug();
  o["xfam"] = core::hex_encode(a.xfam);
  o["tee_tcb_svn"] = core::hex_encode(a.tee_tcb_svn);
  o["mr_seam"] = core::hex_encode(a.mr_seam);
  o["mr_signer_seam"] = core::hex_encode(a.mr_signer_seam);
  o["mr_config_id"] = core::hex_encode(a.mr_config_id);
  o["mr_owner"] = core::hex_encode(a.mr_owner);
  o["mr_owner_config"] = core::hex_encode(a.mr_owner_config);
  o["tcb_status"] = std::string(tdx::to_string(a.tcb_status));
  o["tcb_date"] = a.tcb_date ? bj::value(format_time(*a.tcb_date)) : bj::value(nullptr);
  bj::array advisories;
  for (auto const& id : a.advisory_ids) advisories.emplace_back(id);
  o["advisory_ids"] = std::move(advisories);
  o["appraised_at"] = format_time(a.appraised_at);
  o["valid_until"] = a.valid_until ? bj::value(format_time(*a.valid_until)) : bj::value(nullptr);
  return o;
}

bj::object github_object(GithubClaims const& c) {
  bj::object o;
  o["repository"] = c.repository;
  o["repository_id"] = c.repository_id;
  o["repository_owner"] = c.repository_owner;
  o["repository_owner_id"] = c.repository_owner_id;
  o["sub"] = c.sub;
  o["ref"] = c.ref;
  o["sha"] = c.sha;
  o["workflow"] = c.workflow;
  o["job_workflow_ref"] = c.job_workflow_ref;
  o["environment"] = c.environment ? bj::value(*c.environment) : bj::value(nullptr);
  o["run_id"] = c.run_id;
  o["actor"] = c.actor;
  return o;
}

bj::value parsed(std::string const& json) {
  auto v = core::json::parse(json);
  return v ? std::move(*v) : bj::value(nullptr);
}

// One "  name: value" line per member; strings unquoted, everything else as compact JSON.
void object_lines(std::ostringstream& out, bj::object const& o) {
  for (auto const& [key, value] : o) {
    out << "  " << std::string_view(key) << ": ";
    if (value.is_string()) out << std::string_view(value.as_string());
    else out << bj::serialize(value);
    out << "\n";
  }
}

}  // namespace

std::string_view to_string(TokenKind kind) noexcept {
  switch (kind) {
    case TokenKind::ita: return "ita";
    case TokenKind::github: return "github";
    case TokenKind::generic: break;
  }
  return "generic";
}

std::optional<TokenKind> parse_token_kind(std::string_view name) noexcept {
  if (name == "ita") return TokenKind::ita;
  if (name == "github") return TokenKind::github;
  if (name == "generic") return TokenKind::generic;
  return std::nullopt;
}

std::string describe_token_json(Token const& token) {
  bj::object o;
  o["header"] = parsed(token.header_json());
  o["claims"] = parsed(token.claims_json());
  return bj::serialize(o);
}

std::string describe_appraisal_json(tdx::Appraisal const& appraisal) {
  return bj::serialize(appraisal_object(appraisal));
}

CheckReport check_token(std::string_view compact, KeySet const& keys, CheckOptions const& options) {
  CheckReport report;
  std::optional<Token> token;
  std::optional<bj::object> typed;  // "appraisal" or "github"
  switch (options.kind) {
    case TokenKind::ita: {
      ItaVerifyOptions o;
      if (!options.issuers.empty()) o.issuers = options.issuers;
      o.audience = options.audience;
      auto r = verify_ita_token(compact, keys, o, options.now);
      if (r) {
        token = r->token;
        typed = appraisal_object(r->appraisal);
        (*typed)["nonce_binding_holds"] = r->nonce_binding_holds();
      } else {
        report.error = r.error();
      }
      break;
    }
    case TokenKind::github: {
      GithubOidcOptions o;
      o.audience = options.audience.value_or("");
      if (!options.issuers.empty()) o.issuer = options.issuers.front();
      if (options.issuers.size() > 1) {
        report.error = Error(errc::invalid_options, "GitHub OIDC verification takes one issuer");
        break;
      }
      auto r = verify_github_oidc(compact, keys, o, options.now);
      if (r) {
        typed = github_object(*r);
        // The typed layer verified the token; read its header and claims for the report.
        VerifyOptions v;
        v.algorithms = {Algorithm::rs256};
        v.issuers = {o.issuer};
        v.audience = o.audience;
        auto t = verify(compact, keys, v, options.now);
        if (t) token = *t;
        else report.error = t.error();
      } else {
        report.error = r.error();
      }
      break;
    }
    case TokenKind::generic: {
      VerifyOptions v;
      v.algorithms = {Algorithm::rs256, Algorithm::rs384, Algorithm::rs512, Algorithm::ps256,
                      Algorithm::ps384, Algorithm::ps512, Algorithm::es256, Algorithm::es384};
      v.issuers = options.issuers;
      v.audience = options.audience;
      auto t = verify(compact, keys, v, options.now);
      if (t) token = *t;
      else report.error = t.error();
      break;
    }
  }
  report.accepted = token.has_value() && !report.error.failed();

  bj::object json;
  json["accepted"] = report.accepted;
  json["kind"] = std::string(to_string(options.kind));
  std::ostringstream text;
  if (!report.accepted) {
    json["error"] = bj::object{{"code", report.error.id()}, {"message", report.error.message()}};
    text << "REJECTED  " << report.error.id() << ": " << report.error.message() << "\n";
  } else {
    json["header"] = parsed(token->header_json());
    auto claims = parsed(token->claims_json());
    json["claims"] = claims;
    text << "ACCEPTED  kind=" << to_string(options.kind) << " alg=" << to_string(token->algorithm())
         << " kid=" << token->kid() << "\n";
    if (typed) {
      json[options.kind == TokenKind::ita ? "appraisal" : "github"] = *typed;
      text << (options.kind == TokenKind::ita ? "appraisal:\n" : "github:\n");
      object_lines(text, *typed);
    }
    text << "claims:\n";
    if (claims.is_object()) object_lines(text, claims.as_object());
  }
  report.json = bj::serialize(json);
  report.text = text.str();
  return report;
}

result<CheckReport> check_token_files(std::filesystem::path const& token_file,
                                      std::filesystem::path const& jwks_file, CheckOptions const& options) {
  auto token = read_file(token_file, 1024 * 1024);
  if (!token) return token.error();
  auto jwks = read_file(jwks_file, 4 * 1024 * 1024);
  if (!jwks) return jwks.error();
  auto keys = KeySet::parse(*jwks);
  if (!keys) return keys.error().with_context(jwks_file.string());
  auto report = check_token(*token, *keys, options);
  if (report.error == errc::invalid_options) return report.error;
  return report;
}

}  // namespace ee::jwt
