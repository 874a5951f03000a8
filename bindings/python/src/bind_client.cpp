// connect() bindings: easyenclave.connect, Connection, Response. Conversions only: resolving,
// fetching evidence and verifying are the library's (client::attempt); the GIL is released around
// every network and crypto call with without_gil (gil.hpp) and results are unwrapped with it held.
#include <easyenclave/client/connect.hpp>
#include <easyenclave/client/settings.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/tdx/collateral.hpp>
#include <easyenclave/tdx/fetcher.hpp>
#include <easyenclave/tdx/policy.hpp>

#include "bind.hpp"
#include "convert.hpp"
#include "errors.hpp"
#include "gil.hpp"
#include "shared.hpp"
#include "thread_context.hpp"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace ee::python {
namespace py = pybind11;
using namespace pybind11::literals;
namespace bhttp = boost::beast::http;

namespace {

std::string type_name(py::handle value) {
  return py::str(py::type::handle_of(value).attr("__name__")).cast<std::string>();
}

std::string fspath(py::handle value) {
  return py::str(py::module_::import("os").attr("fspath")(value)).cast<std::string>();
}

bool is_path_like(py::handle value) {
  return py::isinstance<py::str>(value) ||
         py::isinstance(value, py::module_::import("os").attr("PathLike"));
}

tdx::TrustedRoot to_root(py::handle root) {
  if (root.is_none()) return tdx::TrustedRoot::intel_sgx_root_ca();
  if (py::isinstance<py::str>(root)) {
    auto const text = root.cast<std::string>();
    if (text.starts_with("-----BEGIN")) {
      std::vector<std::uint8_t> bytes(text.begin(), text.end());
      return unwrap(tdx::TrustedRoot::from_certificate(bytes), "root");
    }
  }
  if (is_path_like(root)) return unwrap(tdx::TrustedRoot::from_file(fspath(root)), "root");
  std::vector<std::uint8_t> der_or_pem;
  if (!copy_byte_buffer(root, der_or_pem))
    throw py::type_error("root: expected a PEM string, certificate bytes, a path or None, got " +
                         type_name(root));
  return unwrap(tdx::TrustedRoot::from_certificate(der_or_pem), "root");
}

tdx::Policy to_policy(py::handle value) {
  if (value.is_none()) return tdx::Policy{};
  if (py::isinstance<tdx::Policy>(value)) return value.cast<tdx::Policy>();
  if (py::isinstance<py::dict>(value)) {
    auto kwargs = py::reinterpret_borrow<py::dict>(value);
    return py::type::of<tdx::Policy>()(**kwargs).cast<tdx::Policy>();
  }
  throw py::type_error("policy: expected a Policy, a dict or None, got " + type_name(value));
}

std::chrono::milliseconds to_duration(py::handle value, char const* what) {
  double seconds = 0;
  if (py::isinstance(value, py::module_::import("datetime").attr("timedelta"))) {
    seconds = value.attr("total_seconds")().cast<double>();
  } else if ((py::isinstance<py::int_>(value) || py::isinstance<py::float_>(value)) &&
             !py::isinstance<py::bool_>(value)) {
    seconds = value.cast<double>();
  } else {
    throw py::type_error(std::string(what) +
                         ": expected seconds (int or float) or a timedelta, got " +
                         type_name(value));
  }
  if (!std::isfinite(seconds) || seconds <= 0 || seconds > 1e9)
    throw_error(
        Error(errc::out_of_range, std::string(what) + ": expected a positive number of seconds"));
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

std::string optional_text(py::handle value, char const* what) {
  if (value.is_none()) return {};
  if (!py::isinstance<py::str>(value))
    throw py::type_error(std::string(what) + ": expected a str or None, got " + type_name(value));
  return value.cast<std::string>();
}

py::list checks_list(client::Report const& report) {
  py::list out;
  for (auto const& c : report.checks) {
    out.append(py::dict("name"_a = c.name, "passed"_a = c.passed, "skipped"_a = c.skipped,
                        "expected"_a = c.expected, "actual"_a = c.actual, "detail"_a = c.detail));
  }
  return out;
}

char const* class_for(condition c) {
  switch (c) {
    case condition::unauthenticated:
    case condition::forbidden:
      return "VerificationError";
    case condition::invalid_input:
      return "InvalidInput";
    case condition::not_found:
      return "NotFound";
    case condition::conflict:
      return "Conflict";
    case condition::upstream_failure:
      return "UpstreamFailure";
    case condition::unavailable:
      return "Unavailable";
  }
  return "Error";
}

/// Raises the error of a failed connect or re-verification: VerificationError when a check
/// refused the evidence, the condition's class otherwise; `.check`, `.checks` and `.report` tell
/// which check failed and everything that ran before it.
[[noreturn]] void raise_connect_error(Error const& error, client::Report const& report) {
  auto module = py::module_::import("easyenclave._core");
  auto cls = module.attr(class_for(error.cond()));
  py::object instance = cls(error.message());
  instance.attr("code") = error.id();
  auto const* failed = report.failure();
  instance.attr("check") =
      failed != nullptr ? py::object(py::str(failed->name)) : py::object(py::none());
  instance.attr("checks") = checks_list(report);
  instance.attr("report") = report.text();
  if (error.cond() == condition::unauthenticated || error.cond() == condition::forbidden)
    instance.attr("verdict") = py::none();
  PyErr_SetObject(cls.ptr(), instance.ptr());
  throw py::error_already_set();
}

/// A response of the verified service.
struct ServiceResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};
};

ServiceResponse to_service_response(http::Response const& r) {
  ServiceResponse out;
  out.status = static_cast<int>(r.result_int());
  for (auto const& field : r)
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  out.body = r.body();
  return out;
}

std::string body_text(py::handle body) {
  if (body.is_none()) return {};
  if (py::isinstance<py::str>(body)) return body.cast<std::string>();
  std::vector<std::uint8_t> bytes;
  if (copy_byte_buffer(body, bytes)) return std::string(bytes.begin(), bytes.end());
  throw py::type_error("body: expected str, bytes or None, got " + type_name(body));
}

std::vector<std::pair<std::string, std::string>> to_headers(py::handle headers) {
  std::vector<std::pair<std::string, std::string>> out;
  if (headers.is_none()) return out;
  if (!py::isinstance<py::dict>(headers))
    throw py::type_error("headers: expected a dict of str to str, got " + type_name(headers));
  for (auto const& [name, value] : py::reinterpret_borrow<py::dict>(headers))
    out.emplace_back(py::str(name).cast<std::string>(), py::str(value).cast<std::string>());
  return out;
}

// A collateral bundle file as the caller names it, parsed once per content: the same bytes give
// the same Collateral object, which the client's cached verifier (it remembers verified
// collateral by object) then does not verify again on the next connect. Keyed by the file's
// exact text, at most 4 of them. Callable without the GIL.
result<std::shared_ptr<tdx::Collateral const>> collateral_from_file(std::string const& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(errc::io_error, "cannot open collateral file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Error(errc::io_error, "cannot read collateral file " + path);
  auto content = std::move(text).str();
  static std::mutex mutex;
  using Entry = std::pair<std::string, std::shared_ptr<tdx::Collateral const>>;
  static auto* cache = new std::vector<Entry>();  // never destroyed, as shared.hpp explains
  {
    std::lock_guard lock(mutex);
    for (auto const& [bytes, parsed] : *cache)
      if (bytes == content) return parsed;
  }
  auto parsed = tdx::parse_collateral_bundle(content);
  if (!parsed) return parsed.error();
  auto shared = std::make_shared<tdx::Collateral const>(std::move(*parsed));
  std::lock_guard lock(mutex);
  if (cache->size() >= 4) cache->erase(cache->begin());
  cache->emplace_back(std::move(content), shared);
  return shared;
}

ServiceResponse send(client::Connection const& connection, std::string const& method,
                     std::string path, std::string body,
                     std::vector<std::pair<std::string, std::string>> headers) {
  auto const verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown)
    throw_error(Error(errc::invalid_value, "method: unknown HTTP method '" + method + "'"));
  auto outcome = without_gil([&]() -> result<http::Response> {
    return run_on_thread_context(
        connection.request(verb, std::move(path), std::move(body), std::move(headers)));
  });
  if (!outcome) {
    auto const cond = outcome.error().cond();
    if (cond == condition::unauthenticated || cond == condition::forbidden)
      raise_connect_error(outcome.error(), connection.checks());
    throw SystemError(outcome.error());
  }
  return to_service_response(*outcome);
}

client::Connection connect(std::string const& target, py::object cp_url, py::object policy,
                           py::object timeout, py::object root, py::object collateral,
                           py::object pccs_url, py::object max_evidence_age,
                           std::string const& source, py::object github_api, py::object version,
                           py::object agent_id, bool allow_keyless_agents) {
  client::ConnectOptions options;
  if (source == "catalog") {
    options.source = client::Source::catalog;
  } else if (source == "github-release" || source == "github_release") {
    options.source = client::Source::github_release;
  } else {
    throw_error(Error(errc::invalid_value,
                      "source: expected 'catalog' or 'github-release', got '" + source + "'"));
  }
  // The argument, else EE_CP_URL: the client's settings registry, the same key as the agent's.
  auto resolved = client::resolve_cp_url(optional_text(cp_url, "cp_url"), settings::process_environment());
  if (!resolved) throw_error(resolved.error());
  options.cp_url = std::move(*resolved);
  if (options.source == client::Source::catalog && options.cp_url.empty())
    throw_error(Error(errc::missing_field, "cp_url: not given and EE_CP_URL is not set"));
  if (auto api = optional_text(github_api, "github_api"); !api.empty()) options.github_api = api;
  options.version = optional_text(version, "version");
  options.agent_id = optional_text(agent_id, "agent_id");
  options.policy = to_policy(policy);
  options.allow_keyless_agents = allow_keyless_agents;
  options.root = to_root(root);
  options.request.timeout = to_duration(timeout, "timeout");
  options.max_evidence_age = std::chrono::duration_cast<std::chrono::seconds>(
      to_duration(max_evidence_age, "max_evidence_age"));

  std::string collateral_file;
  if (!collateral.is_none()) {
    if (py::isinstance<tdx::Collateral>(collateral)) {
      options.collateral = collateral.cast<std::shared_ptr<tdx::Collateral>>();
    } else if (is_path_like(collateral)) {
      collateral_file = fspath(collateral);
    } else {
      throw py::type_error("collateral: expected a Collateral, a bundle file path or None, got " +
                           type_name(collateral));
    }
  }
  auto pccs = optional_text(pccs_url, "pccs_url");

  auto outcome = without_gil([&]() -> result<client::Attempt> {
    auto http_client = shared_http_client();
    if (!http_client) return http_client.error();
    options.http = *http_client;
    if (!collateral_file.empty()) {
      auto loaded = collateral_from_file(collateral_file);
      if (!loaded) return loaded.error().with_context("collateral");
      options.collateral = std::move(*loaded);
    } else if (!options.collateral) {
      auto fetcher = shared_collateral_fetcher(pccs);
      if (!fetcher) return fetcher.error();
      options.fetcher = std::move(*fetcher);
    }
    // On this thread's kept io_context: the connections to the CP and the agent stay open for
    // the Connection's requests and the next connect() (thread_context.hpp).
    return run_on_thread_context(client::attempt(target, std::move(options)));
  });
  auto attempt = unwrap(std::move(outcome));
  if (!attempt.connection) raise_connect_error(attempt.error, attempt.report);
  return std::move(*attempt.connection);
}

}  // namespace

void register_client(py::module_& m) {
  py::class_<ServiceResponse>(m, "Response", "A response of the verified service.")
      .def_readonly("status", &ServiceResponse::status, "The HTTP status code.")
      .def_property_readonly(
          "headers",
          [](ServiceResponse const& r) {
            py::dict out;
            for (auto const& [name, value] : r.headers) out[py::str(name)] = value;
            return out;
          },
          "The response headers as a dict (a repeated header keeps its last value).")
      .def_property_readonly(
          "body", [](ServiceResponse const& r) { return py::bytes(r.body); }, "The body as bytes.")
      .def_property_readonly(
          "text",
          [](ServiceResponse const& r) {
            return py::reinterpret_steal<py::str>(PyUnicode_DecodeUTF8(
                r.body.data(), static_cast<Py_ssize_t>(r.body.size()), "replace"));
          },
          "The body decoded as UTF-8 (undecodable bytes replaced).")
      .def(
          "json",
          [](ServiceResponse const& r) {
            return py::module_::import("json").attr("loads")(r.body);
          },
          "The body parsed as JSON (raises ValueError when it is not JSON).")
      .def_property_readonly(
          "ok", [](ServiceResponse const& r) { return r.status >= 200 && r.status < 300; },
          "True for a 2xx status.")
      .def("__str__",
           [](ServiceResponse const& r) {
             return py::reinterpret_steal<py::str>(PyUnicode_DecodeUTF8(
                 r.body.data(), static_cast<Py_ssize_t>(r.body.size()), "replace"));
           })
      .def("__repr__", [](ServiceResponse const& r) {
        return "<Response " + std::to_string(r.status) + ", " + std::to_string(r.body.size()) +
               " bytes>";
      });

  py::class_<client::Connection>(
      m, "Connection",
      "A verified endpoint, made by connect(). Requests go only to the endpoint whose evidence "
      "passed every check; when the evidence is older than max_evidence_age it is verified "
      "again before the next request. Safe to share between threads.")
      .def_property_readonly("endpoint", &client::Connection::endpoint,
                             "Where requests go: https://<tunnel hostname> or the agent's URL.")
      .def_property_readonly("app", &client::Connection::app, "The app's name (or org/repo).")
      .def_property_readonly(
          "version", [](client::Connection const& c) { return c.version().version; },
          "The published version the evidence matched ('' for a release source).")
      .def_property_readonly(
          "image", [](client::Connection const& c) { return c.version().image; },
          "The published image (NAME@sha256:...) of that version ('' for a release source).")
      .def_property_readonly("agent_id", &client::Connection::agent_id,
                             "The agent's id at the control plane ('' for a release source).")
      .def_property_readonly(
          "source",
          [](client::Connection const& c) {
            return c.source() == client::Source::catalog ? "catalog" : "github-release";
          },
          "'catalog' or 'github-release'.")
      .def_property_readonly(
          "appraisal", [](client::Connection const& c) { return py::cast(c.appraisal()); },
          "The verified Appraisal: mr_td, rtmr, report_data, tcb_status, tcb_date, advisory_ids, "
          "debug, ... (Appraisal.to_dict() for a dict).")
      .def_property_readonly("agent_public_key", &client::Connection::agent_public_key,
                             "The agent's P-256 public key (base64 DER SubjectPublicKeyInfo) "
                             "bound into the quote.")
      .def_property_readonly(
          "checks", [](client::Connection const& c) { return checks_list(c.checks()); },
          "Every check of the last verification, as dicts (name, passed, skipped, expected, "
          "actual, detail).")
      .def_property_readonly(
          "verified_at", [](client::Connection const& c) { return to_datetime(c.verified_at()); },
          "When the evidence was last verified (aware UTC datetime).")
      .def("report", &client::Connection::report,
           "A readable multi-line account of every check, what it expected and what it found.")
      .def(
          "reverify",
          [](client::Connection const& c) {
            auto outcome = without_gil([&] { return run_on_thread_context(c.reverify()); });
            if (!outcome) raise_connect_error(outcome.error(), c.checks());
          },
          "Fetches fresh evidence and verifies it again now. Raises VerificationError (or the "
          "condition's error) when it no longer passes.")
      .def(
          "request",
          [](client::Connection const& c, std::string const& method, std::string path,
             py::object body, py::object headers) {
            return send(c, method, std::move(path), body_text(body), to_headers(headers));
          },
          "method"_a, "path"_a, "body"_a = py::none(), "headers"_a = py::none(),
          "Sends METHOD path (which starts with '/') with an optional str/bytes body and a dict "
          "of headers to the verified endpoint and returns a Response (any status). Verifies "
          "again first when the evidence is older than max_evidence_age.")
      .def(
          "get",
          [](client::Connection const& c, std::string path, py::object headers) {
            return send(c, "GET", std::move(path), {}, to_headers(headers));
          },
          "path"_a, py::kw_only(), "headers"_a = py::none(),
          "GET path on the verified endpoint; see request().")
      .def(
          "post",
          [](client::Connection const& c, std::string path, py::object body, py::object json,
             py::object headers) {
            auto header_list = to_headers(headers);
            std::string text;
            if (!json.is_none()) {
              text = py::module_::import("json").attr("dumps")(json).cast<std::string>();
              header_list.emplace_back("Content-Type", "application/json");
            } else {
              text = body_text(body);
            }
            return send(c, "POST", std::move(path), std::move(text), std::move(header_list));
          },
          "path"_a, "body"_a = py::none(), py::kw_only(), "json"_a = py::none(),
          "headers"_a = py::none(),
          "POST path with a str/bytes body (or json=, serialised) on the verified endpoint; see "
          "request().")
      .def("__enter__", [](py::object self) { return self; },
           "A Connection is its own context manager: `with easyenclave.connect(...) as conn:`.")
      .def(
          "__exit__",
          [](client::Connection const&, py::object, py::object, py::object) { return false; },
          "Leaves the block; exceptions propagate. A Connection holds no socket of its own (the "
          "process's HTTP client pools them), so there is nothing else to release.")
      .def("__repr__", [](client::Connection const& c) {
        return "<Connection " + c.app() + " at " + c.endpoint() + ">";
      });

  m.def("connect", &connect, "target"_a, "cp_url"_a = py::none(), py::kw_only(),
        "policy"_a = py::none(), "timeout"_a = 10, "root"_a = py::none(),
        "collateral"_a = py::none(), "pccs_url"_a = py::none(), "max_evidence_age"_a = 300,
        "source"_a = "catalog", "github_api"_a = py::none(), "version"_a = py::none(),
        "agent_id"_a = py::none(), "allow_keyless_agents"_a = false,
        R"(Verify a service, then return a Connection to it.

target: "org/repo" (an app's source repository) or an app name in the control plane's catalog.
cp_url: the control plane (default: the EE_CP_URL environment variable).
policy: a Policy, a dict of Policy's keyword arguments, or None (TCB status UpToDate only).
timeout: seconds per HTTP request.
root: the pinned root of the PCK chain: None for Intel's, or a PEM string, certificate bytes or
    a path (the simulator's root only for demos and tests).
collateral: a Collateral or a bundle file path; None fetches it from Intel PCS, or from
    pccs_url when given.
max_evidence_age: seconds (or a timedelta) after which requests verify again first.
source: "catalog" (fresh evidence from the agent, with a random nonce) or "github-release"
    (attestation.json of the newest release of org/repo at github_api; its freshness cannot
    be checked).
version, agent_id: accept only this published version / use only this agent.
allow_keyless_agents: accept evidence without a public key (legacy agents); off by default, and
    even when on, an agent the control plane lists with a key must present that key.

Checks, in order: target, catalog_app, catalog_versions, running_agent, evidence, collateral,
quote, nonce, key_binding, agent_key, mrtd, rtmrs, workload_running, image_digest, tcb_policy.
A failed check raises VerificationError (the evidence was refused) or NotFound /
UpstreamFailure / InvalidInput (the service could not be found or reached); every such error
has .code, .check (the failed check's name), .checks and .report (the account so far).
The GIL is released while connecting.)");
}

}  // namespace ee::python
