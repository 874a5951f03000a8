// Token bindings: verify_ita_token (an Intel Trust Authority attestation token into an Appraisal)
// and verify_github_oidc (a GitHub Actions OIDC token into its claims). Conversions only: the
// key set is parsed and the token verified by the library (jwt::KeySet::parse,
// jwt::verify_ita_token, jwt::verify_github_oidc) without the GIL; errors come back as the
// library's codes (jwt.bad_signature, jwt.token_expired, ...) in the matching Error subclass.
#include <easyenclave/encoding.hpp>
#include <easyenclave/jwt/github_oidc.hpp>
#include <easyenclave/jwt/ita.hpp>
#include <easyenclave/jwt/token.hpp>
#include <easyenclave/tdx/appraisal.hpp>

#include "bind.hpp"
#include "convert.hpp"
#include "errors.hpp"
#include "gil.hpp"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ee::python {
namespace py = pybind11;
using namespace pybind11::literals;

namespace {

/// A token or a key set given as str or bytes-like (UTF-8 text either way); a key set may also
/// be a dict (a parsed JWKS), which is serialised back to JSON.
std::string text_argument(py::handle value, std::string_view what, bool allow_dict) {
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  if (allow_dict && py::isinstance<py::dict>(value)) {
    return py::module_::import("json").attr("dumps")(value).cast<std::string>();
  }
  std::vector<std::uint8_t> bytes;
  if (copy_byte_buffer(value, bytes)) return {bytes.begin(), bytes.end()};
  throw py::type_error(std::string(what) + ": expected str or bytes" +
                       (allow_dict ? " (or a dict)" : "") + ", got " +
                       py::str(py::type::handle_of(value).attr("__name__")).cast<std::string>());
}

std::vector<std::string> string_list(py::handle value, std::string_view what) {
  if (py::isinstance<py::str>(value) || !py::isinstance<py::sequence>(value)) {
    throw py::type_error(std::string(what) + ": expected a list of str");
  }
  std::vector<std::string> out;
  for (auto item : value) {
    if (!py::isinstance<py::str>(item))
      throw py::type_error(std::string(what) + ": expected str items");
    out.push_back(item.cast<std::string>());
  }
  return out;
}

std::chrono::system_clock::time_point clock_at(py::handle at) {
  return at.is_none() ? std::chrono::system_clock::now() : to_time_point(at, "at");
}

/// The parsed key set for `json`. Parsing imports every key into OpenSSL and checks its x5c chain
/// (the ITA set: two RSA-3072 keys and six certificates), which costs more than verifying a
/// token, and callers pass the same pinned set again and again; so the last few sets parsed are
/// kept, keyed by their exact text. Callable without the GIL.
result<jwt::KeySet> key_set(std::string const& json) {
  constexpr std::size_t kKept = 8;
  static std::mutex mutex;
  static std::deque<std::pair<std::string, jwt::KeySet>> kept;
  {
    std::lock_guard lock(mutex);
    for (auto const& [text, keys] : kept) {
      if (text == json) return keys;
    }
  }
  auto keys = jwt::KeySet::parse(json);
  if (!keys) return keys.error().with_context("jwks");
  std::lock_guard lock(mutex);
  kept.emplace_front(json, *keys);
  if (kept.size() > kKept) kept.pop_back();
  return keys;
}

py::list measurements(std::array<tdx::Measurement, 4> const& rtmr) {
  py::list out;
  for (auto const& r : rtmr) out.append(to_bytes(r));
  return out;
}

py::dict appraisal_to_dict(tdx::Appraisal const& a) {
  py::list rtmr;
  for (auto const& r : a.rtmr) rtmr.append(hex_encode(r));
  return py::dict(
      "appraised_by"_a = std::string(tdx::to_string(a.appraised_by)),
      "attester_type"_a = a.attester_type, "mr_td"_a = hex_encode(a.mr_td), "rtmr"_a = rtmr,
      "report_data"_a = hex_encode(a.report_data), "td_attributes"_a = hex_encode(a.td_attributes),
      "xfam"_a = hex_encode(a.xfam), "tee_tcb_svn"_a = hex_encode(a.tee_tcb_svn),
      "mr_seam"_a = hex_encode(a.mr_seam), "debug"_a = a.debug(),
      "tcb_status"_a = std::string(tdx::to_string(a.tcb_status)),
      "tcb_date"_a = a.tcb_date ? to_datetime(*a.tcb_date) : py::object(py::none()),
      "advisory_ids"_a = a.advisory_ids, "appraised_at"_a = to_datetime(a.appraised_at),
      "valid_until"_a = a.valid_until ? to_datetime(*a.valid_until) : py::object(py::none()));
}

py::object verify_ita(py::object token_arg, py::object jwks_arg, py::object at,
                      py::object issuers) {
  auto const token = text_argument(token_arg, "token", false);
  auto const jwks = text_argument(jwks_arg, "jwks", true);
  auto const now = clock_at(at);
  jwt::ItaVerifyOptions options;
  if (!issuers.is_none()) options.issuers = string_list(issuers, "issuers");
  auto verified = without_gil([&]() -> result<jwt::ItaToken> {
    auto keys = key_set(jwks);
    if (!keys) return keys.error();
    return jwt::verify_ita_token(token, *keys, options, now);
  });
  return py::cast(unwrap(std::move(verified)).appraisal);
}

py::dict verify_github(py::object token_arg, py::object jwks_arg, std::string const& audience,
                       py::object at, py::object issuer) {
  auto const token = text_argument(token_arg, "token", false);
  auto const jwks = text_argument(jwks_arg, "jwks", true);
  auto const now = clock_at(at);
  jwt::GithubOidcOptions options;
  options.audience = audience;
  if (!issuer.is_none()) options.issuer = issuer.cast<std::string>();
  auto verified = without_gil([&]() -> result<jwt::GithubClaims> {
    auto keys = key_set(jwks);
    if (!keys) return keys.error();
    return jwt::verify_github_oidc(token, *keys, options, now);
  });
  auto const c = unwrap(std::move(verified));
  return py::dict(
      "repository"_a = c.repository, "repository_id"_a = c.repository_id,
      "repository_owner"_a = c.repository_owner, "repository_owner_id"_a = c.repository_owner_id,
      "sub"_a = c.sub, "ref"_a = c.ref, "sha"_a = c.sha, "workflow"_a = c.workflow,
      "job_workflow_ref"_a = c.job_workflow_ref,
      "environment"_a =
          c.environment ? py::object(py::str(*c.environment)) : py::object(py::none()),
      "run_id"_a = c.run_id, "actor"_a = c.actor, "issued_at"_a = to_datetime(c.issued_at),
      "expires_at"_a = to_datetime(c.expires_at), "audience"_a = c.audience);
}

}  // namespace

void register_jwt(py::module_& m) {
  using A = tdx::Appraisal;
  py::class_<A>(
      m, "Appraisal",
      "What is known about an attested TD once its evidence verified: measurements, "
      "report data and the platform's TCB status. Made by verify_ita_token and connect; byte "
      "fields are bytes (use .hex()).")
      .def_property_readonly(
          "appraised_by", [](A const& a) { return std::string(tdx::to_string(a.appraised_by)); },
          "\"intel_trust_authority\" or \"local_dcap\".")
      .def_readonly("attester_type", &A::attester_type, "\"TDX\".")
      .def_property_readonly(
          "mr_td", [](A const& a) { return to_bytes(a.mr_td); },
          "MRTD: the measurement of the TD's initial memory (48 bytes).")
      .def_property_readonly(
          "rtmr", [](A const& a) { return measurements(a.rtmr); },
          "RTMR0..3 as a list of 4 values of 48 bytes.")
      .def_property_readonly(
          "report_data", [](A const& a) { return to_bytes(a.report_data); },
          "REPORTDATA (64 bytes): where the TD binds nonces and keys.")
      .def_property_readonly("td_attributes", [](A const& a) { return to_bytes(a.td_attributes); })
      .def_property_readonly("xfam", [](A const& a) { return to_bytes(a.xfam); })
      .def_property_readonly("tee_tcb_svn", [](A const& a) { return to_bytes(a.tee_tcb_svn); })
      .def_property_readonly("mr_seam", [](A const& a) { return to_bytes(a.mr_seam); })
      .def_property_readonly("debug", &A::debug, "TDATTRIBUTES bit 0: a debug TD.")
      .def_property_readonly(
          "tcb_status", [](A const& a) { return std::string(tdx::to_string(a.tcb_status)); },
          "Intel's spelling (\"UpToDate\", \"OutOfDate\", ...).")
      .def_property_readonly(
          "tcb_date",
          [](A const& a) { return a.tcb_date ? to_datetime(*a.tcb_date) : py::object(py::none()); })
      .def_readonly("advisory_ids", &A::advisory_ids, "Intel security advisories that apply.")
      .def_property_readonly(
          "appraised_at", [](A const& a) { return to_datetime(a.appraised_at); },
          "When it was appraised (a token's iat).")
      .def_property_readonly(
          "valid_until",
          [](A const& a) {
            return a.valid_until ? to_datetime(*a.valid_until) : py::object(py::none());
          },
          "Until when the appraiser vouches for it (a token's exp); None for local appraisals.")
      .def("to_dict", &appraisal_to_dict, "Every field, bytes as hex, times as datetimes.")
      .def("__repr__", [](A const& a) {
        return "Appraisal(appraised_by=" + std::string(tdx::to_string(a.appraised_by)) +
               ", mr_td=" + hex_encode(a.mr_td).substr(0, 16) +
               "..., tcb_status=" + std::string(tdx::to_string(a.tcb_status)) + ")";
      });

  m.def("verify_ita_token", &verify_ita, "token"_a, "jwks"_a, "at"_a = py::none(),
        "issuers"_a = py::none(),
        "Verify an Intel Trust Authority attestation token and return its Appraisal.\n\n"
        "``token`` is the compact JWT (str or bytes); ``jwks`` the key set as JSON (str, bytes or "
        "a dict), e.g. what https://portal.trustauthority.intel.com/certs serves: pin it, never "
        "fetch the token's ``jku``. Algorithms are pinned to PS384 and RS256; ``issuers`` "
        "replaces Intel's issuer names; ``at`` (aware datetime or Unix time, default now) is the "
        "clock for exp/nbf/iat. Raises Unauthenticated (bad signature, unknown kid, expired, "
        "issuer not allowed) or InvalidInput (malformed token or key set), with ``.code``.");
  m.def("verify_github_oidc", &verify_github, "token"_a, "jwks"_a, "audience"_a,
        "at"_a = py::none(), "issuer"_a = py::none(),
        "Verify a GitHub Actions OIDC token and return its claims as a dict.\n\n"
        "RS256 only; ``iss`` must be GitHub's (or ``issuer``, for GitHub Enterprise Server); "
        "``aud`` must contain ``audience`` (the one the workflow requested). Keys of the result: "
        "repository, repository_id, repository_owner, repository_owner_id, sub, ref, sha, "
        "workflow, job_workflow_ref, environment (None when the job names none), run_id, actor, "
        "issued_at, expires_at, audience. Raises Unauthenticated or InvalidInput with ``.code``.");
}

}  // namespace ee::python
