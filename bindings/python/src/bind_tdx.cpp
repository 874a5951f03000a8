// TDX bindings: parse_quote, verify_quote, Quote, Collateral, Policy, Verdict, Step, Simulator.
// Conversions only: parsing, verification and judging are the library's (tdx::parse_quote,
// tdx::verify, tdx::judge); the GIL is released around each of them with without_gil (gil.hpp),
// which returns the library's result<T>; it is unwrapped once the GIL is held again.
#include <easyenclave/block_on.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/tdx/collateral.hpp>
#include <easyenclave/tdx/describe.hpp>
#include <easyenclave/tdx/error.hpp>
#include <easyenclave/tdx/fetcher.hpp>
#include <easyenclave/tdx/policy.hpp>
#include <easyenclave/tdx/quote.hpp>
#include <easyenclave/tdx/simulator.hpp>
#include <easyenclave/tdx/verify.hpp>

#include "bind.hpp"
#include "convert.hpp"
#include "errors.hpp"
#include "gil.hpp"
#include "shared.hpp"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ee::python {
namespace py = pybind11;
using namespace pybind11::literals;

namespace {

using CollateralPtr = std::shared_ptr<tdx::Collateral>;
using SimulatorPtr = std::shared_ptr<tdx::Simulator>;

py::object json_loads(std::string const& text) {
  return py::module_::import("json").attr("loads")(text);
}

std::string type_name(py::handle value) {
  return py::str(py::type::handle_of(value).attr("__name__")).cast<std::string>();
}

std::span<std::uint8_t const> text_bytes(std::string const& text) {
  return {reinterpret_cast<std::uint8_t const*>(text.data()), text.size()};
}

/// A str or os.PathLike as a filesystem path.
std::filesystem::path to_path(py::handle value) {
  return std::filesystem::path(
      py::str(py::module_::import("os").attr("fspath")(value)).cast<std::string>());
}

bool is_path_like(py::handle value) {
  return py::isinstance(value, py::module_::import("os").attr("PathLike"));
}

ByteString to_byte_string(py::handle value, char const* what) {
  py::detail::make_caster<ByteString> caster;
  if (!caster.load(value, true)) {
    throw py::type_error(std::string(what) + ": expected bytes, got " + type_name(value));
  }
  return py::detail::cast_op<ByteString&&>(std::move(caster));
}

/// Text given as str (UTF-8) or bytes-like, as a byte string.
std::string to_text(py::handle value, char const* what) {
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  auto const b = to_byte_string(value, what);
  return std::string(b.view.begin(), b.view.end());
}

std::vector<std::uint8_t> to_vector(py::handle value, char const* what) {
  auto const b = to_byte_string(value, what);
  return std::vector<std::uint8_t>(b.view.begin(), b.view.end());
}

py::list rtmr_list(std::array<tdx::Measurement, 4> const& rtmr) {
  py::list out;
  for (auto const& r : rtmr) out.append(to_bytes(r));
  return out;
}

// --- policy conversions ----------------------------------------------------------------------

void set_allowed_statuses(tdx::Policy& policy, py::handle value) {
  if (py::isinstance<py::str>(value) || !py::isinstance<py::iterable>(value)) {
    throw py::type_error("allowed_tcb_statuses: expected a list of TCB status names, got " +
                         type_name(value));
  }
  std::vector<tdx::TcbStatus> statuses;
  for (auto item : value) {
    auto const name = py::cast<std::string>(item);
    // Every status a verdict can show, "Unknown" included.
    auto status = tdx::parse_tcb_status_name(name);
    if (!status) throw_error(status.error().with_context("allowed_tcb_statuses"));
    statuses.push_back(*status);
  }
  policy.allowed_tcb_statuses = std::move(statuses);
}

py::list allowed_statuses(tdx::Policy const& policy) {
  py::list out;
  for (auto s : policy.allowed_tcb_statuses) out.append(std::string(tdx::to_string(s)));
  return out;
}

void set_tcb_mode(tdx::Policy& policy, std::string const& mode) {
  if (mode == "strict")
    policy.tcb_mode = tdx::Policy::TcbMode::strict;
  else if (mode == "warn")
    policy.tcb_mode = tdx::Policy::TcbMode::warn;
  else if (mode == "disabled")
    policy.tcb_mode = tdx::Policy::TcbMode::disabled;
  else
    throw_error(Error(errc::invalid_value,
                      "tcb_mode: expected 'strict', 'warn' or 'disabled', got '" + mode + "'"));
}

std::string tcb_mode(tdx::Policy const& policy) {
  switch (policy.tcb_mode) {
    case tdx::Policy::TcbMode::warn:
      return "warn";
    case tdx::Policy::TcbMode::disabled:
      return "disabled";
    case tdx::Policy::TcbMode::strict:
      break;
  }
  return "strict";
}

void set_allowed_mrtds(tdx::Policy& policy, py::handle value) {
  if (value.is_none()) {
    policy.allowed_mrtds.clear();
    return;
  }
  if (py::isinstance<py::str>(value) || py::isinstance<py::bytes>(value) ||
      !py::isinstance<py::iterable>(value)) {
    throw py::type_error("allowed_mrtds: expected a list of MRTDs (bytes or hex), got " +
                         type_name(value));
  }
  std::vector<tdx::Measurement> mrtds;
  for (auto item : value) mrtds.push_back(to_array<48>(item, "allowed_mrtds"));
  policy.allowed_mrtds = std::move(mrtds);
}

py::list allowed_mrtds(tdx::Policy const& policy) {
  py::list out;
  for (auto const& m : policy.allowed_mrtds) out.append(to_bytes(m));
  return out;
}

void set_expected_rtmrs(tdx::Policy& policy, py::handle value) {
  std::array<std::optional<tdx::Measurement>, 4> rtmrs{};
  auto const set = [&rtmrs](py::handle index, py::handle item) {
    auto const i = py::cast<long long>(index);
    if (i < 0 || i > 3) {
      throw_error(
          Error(errc::out_of_range, "expected_rtmrs: index " + std::to_string(i) + " is not 0..3"));
    }
    if (!item.is_none()) {
      rtmrs[static_cast<std::size_t>(i)] =
          to_array<48>(item, "expected_rtmrs[" + std::to_string(i) + "]");
    }
  };
  if (value.is_none()) {
    // nothing expected
  } else if (py::isinstance<py::dict>(value)) {
    for (auto [index, item] : py::reinterpret_borrow<py::dict>(value)) set(index, item);
  } else if (!py::isinstance<py::str>(value) && !py::isinstance<py::bytes>(value) &&
             py::isinstance<py::sequence>(value)) {
    auto const seq = py::reinterpret_borrow<py::sequence>(value);
    if (seq.size() > 4) {
      throw_error(Error(errc::out_of_range,
                        "expected_rtmrs: at most 4 entries, got " + std::to_string(seq.size())));
    }
    for (std::size_t i = 0; i < seq.size(); ++i) set(py::int_(i), py::object(seq[i]));
  } else {
    throw py::type_error(
        "expected_rtmrs: expected a list of 4 (bytes, hex or None) or a dict "
        "{index: value}, got " +
        type_name(value));
  }
  policy.expected_rtmrs = rtmrs;
}

py::list expected_rtmrs(tdx::Policy const& policy) {
  py::list out;
  for (auto const& r : policy.expected_rtmrs) {
    if (r)
      out.append(to_bytes(*r));
    else
      out.append(py::none());
  }
  return out;
}

void set_max_collateral_age(tdx::Policy& policy, py::handle value) {
  if (value.is_none()) {
    policy.max_collateral_age.reset();
    return;
  }
  double seconds = 0;
  if (py::isinstance(value, py::module_::import("datetime").attr("timedelta"))) {
    seconds = value.attr("total_seconds")().cast<double>();
  } else if ((py::isinstance<py::int_>(value) || py::isinstance<py::float_>(value)) &&
             !py::isinstance<py::bool_>(value)) {
    seconds = value.cast<double>();
  } else {
    throw py::type_error("max_collateral_age: expected a timedelta or seconds, got " +
                         type_name(value));
  }
  if (!std::isfinite(seconds) || seconds < 0) {
    throw_error(Error(errc::out_of_range, "max_collateral_age: must be a non-negative duration"));
  }
  policy.max_collateral_age = std::chrono::seconds(std::llround(seconds));
}

py::object max_collateral_age(tdx::Policy const& policy) {
  if (!policy.max_collateral_age) return py::none();
  return py::module_::import("datetime")
      .attr("timedelta")("seconds"_a = policy.max_collateral_age->count());
}

tdx::Policy to_policy(py::handle value) {
  if (value.is_none()) return tdx::Policy{};
  if (py::isinstance<tdx::Policy>(value)) return value.cast<tdx::Policy>();
  if (py::isinstance<py::dict>(value)) {
    // Policy(**value): unknown keys fail with the constructor's own TypeError.
    auto const kwargs = py::reinterpret_borrow<py::dict>(value);
    return py::type::of<tdx::Policy>()(**kwargs).cast<tdx::Policy>();
  }
  throw py::type_error("policy: expected a Policy, a dict or None, got " + type_name(value));
}

// --- verification arguments ------------------------------------------------------------------

tdx::TrustedRoot to_root(py::handle root) {
  if (root.is_none()) return tdx::TrustedRoot::intel_sgx_root_ca();
  if (py::isinstance<py::str>(root)) {
    auto const text = root.cast<std::string>();
    if (text.starts_with("-----BEGIN")) {
      return unwrap(tdx::TrustedRoot::from_certificate(text_bytes(text)), "root");
    }
    return unwrap(tdx::TrustedRoot::from_file(text), "root");
  }
  if (is_path_like(root)) return unwrap(tdx::TrustedRoot::from_file(to_path(root)), "root");
  std::vector<std::uint8_t> der_or_pem;
  if (!copy_byte_buffer(root, der_or_pem)) {
    throw py::type_error("root: expected certificate bytes (PEM or DER), a path or None, got " +
                         type_name(root));
  }
  return unwrap(tdx::TrustedRoot::from_certificate(der_or_pem), "root");
}

CollateralPtr to_collateral(py::handle value) {
  if (value.is_none()) return nullptr;
  if (py::isinstance<tdx::Collateral>(value)) return value.cast<CollateralPtr>();
  throw py::type_error("collateral: expected a Collateral or None, got " + type_name(value) +
                       " (load one with Collateral.from_file or Collateral.from_json)");
}

/// The process-wide verifier for the Intel root: its caches make repeated verification of
/// quotes from the same platforms cheap. Other roots get a verifier per call. Never destroyed:
/// daemon threads may still be verifying while the interpreter exits.
tdx::Verifier const& intel_verifier() {
  static auto const* verifier = new tdx::Verifier(tdx::TrustedRoot::intel_sgx_root_ca());
  return *verifier;
}

std::string rejection_message(tdx::Verdict const& verdict) {
  std::string message = "quote rejected";
  if (auto const* failure = verdict.first_failure()) {
    message += " at step '" + failure->name + "': " + failure->detail;
  } else {
    message += ": " + verdict.error.message();
  }
  return message;
}

py::object verify_quote(py::object data, py::object collateral_arg, py::object root_arg,
                        py::object at, py::object policy_arg) {
  // Conversions with the GIL held.
  std::optional<tdx::Quote> parsed;
  ByteString bytes;
  if (py::isinstance<tdx::Quote>(data))
    parsed = data.cast<tdx::Quote>();
  else
    bytes = to_byte_string(data, "data");
  auto const collateral = to_collateral(collateral_arg);
  bool const intel_root = root_arg.is_none();
  auto const root = to_root(root_arg);
  auto const now = at.is_none() ? std::chrono::system_clock::now() : to_time_point(at, "at");
  auto const policy = to_policy(policy_arg);

  auto outcome = without_gil([&]() -> result<tdx::Verdict> {
    if (!parsed) {
      auto quote = tdx::parse_quote(bytes.view);
      if (!quote) return quote.error();
      parsed = std::move(*quote);
    }
    auto verdict = intel_root
                       ? intel_verifier().verify(*parsed, collateral, now)
                       : tdx::verify(*parsed, collateral.get(), tdx::VerifyOptions{root, now});
    // judge records its outcome in the verdict (a failed policy step and verdict.error).
    if (verdict && verdict->accepted()) (void)tdx::judge(policy, *verdict, now);
    return verdict;
  });
  auto verdict = unwrap(std::move(outcome));
  if (!verdict.accepted()) {
    auto message = rejection_message(verdict);
    auto code = verdict.error.failed() ? verdict.error.id() : std::string("tdx.rejected");
    raise_verification_error(message, code, py::cast(std::move(verdict)));
  }
  return py::cast(std::move(verdict));
}

// --- collateral from Intel PCS or a PCCS -----------------------------------------------------

tdx::PckCaType to_ca_type(std::string const& ca) {
  if (ca == "platform") return tdx::PckCaType::platform;
  if (ca == "processor") return tdx::PckCaType::processor;
  throw_error(
      Error(errc::invalid_value, "ca: expected 'platform' or 'processor', got '" + ca + "'"));
}

std::string to_base_url(py::handle pccs_url) {
  if (pccs_url.is_none()) return {};
  if (!py::isinstance<py::str>(pccs_url)) {
    throw py::type_error("pccs_url: expected a str or None, got " + type_name(pccs_url));
  }
  return pccs_url.cast<std::string>();
}

CollateralPtr collateral_from_pcs(py::handle fmspc, py::handle pccs_url, std::string const& ca) {
  auto const key = to_array<6>(fmspc, "fmspc");
  auto const ca_type = to_ca_type(ca);
  auto base = to_base_url(pccs_url);
  auto fetched = without_gil([&]() -> result<std::shared_ptr<tdx::Collateral const>> {
    auto fetcher = shared_collateral_fetcher(std::move(base));
    if (!fetcher) return fetcher.error();
    return block_on(fetcher->fetch(key, ca_type));
  });
  auto collateral = unwrap(std::move(fetched));
  // Python never mutates a Collateral (its properties are read-only); sharing the fetcher's
  // object keeps the verifier's cache keyed by it.
  return std::const_pointer_cast<tdx::Collateral>(std::move(collateral));
}

CollateralPtr collateral_from_pcs_responses(py::handle tcb_info, py::handle tcb_info_issuer_chain,
                                            py::handle qe_identity,
                                            py::handle qe_identity_issuer_chain, py::handle pck_crl,
                                            py::handle pck_crl_issuer_chain,
                                            py::handle root_ca_crl) {
  tdx::PcsResponses responses;
  responses.tcb_info_body = to_text(tcb_info, "tcb_info");
  responses.tcb_info_issuer_chain_pem = to_text(tcb_info_issuer_chain, "tcb_info_issuer_chain");
  responses.qe_identity_body = to_text(qe_identity, "qe_identity");
  responses.qe_identity_issuer_chain_pem =
      qe_identity_issuer_chain.is_none()
          ? responses.tcb_info_issuer_chain_pem
          : to_text(qe_identity_issuer_chain, "qe_identity_issuer_chain");
  responses.pck_crl = to_vector(pck_crl, "pck_crl");
  responses.pck_crl_issuer_chain_pem = to_text(pck_crl_issuer_chain, "pck_crl_issuer_chain");
  responses.root_ca_crl = to_vector(root_ca_crl, "root_ca_crl");
  auto collateral = without_gil([&] { return tdx::collateral_from_pcs(responses); });
  return std::make_shared<tdx::Collateral>(unwrap(std::move(collateral)));
}

CollateralPtr collateral_for_quote(py::handle data, py::handle pccs_url) {
  std::optional<tdx::Quote> parsed;
  ByteString bytes;
  if (py::isinstance<tdx::Quote>(data))
    parsed = data.cast<tdx::Quote>();
  else
    bytes = to_byte_string(data, "quote");
  auto base = to_base_url(pccs_url);
  auto fetched = without_gil([&]() -> result<std::shared_ptr<tdx::Collateral const>> {
    if (!parsed) {
      auto quote = tdx::parse_quote(bytes.view);
      if (!quote) return quote.error();
      parsed = std::move(*quote);
    }
    auto fetcher = shared_collateral_fetcher(std::move(base));
    if (!fetcher) return fetcher.error();
    return block_on(fetcher->fetch_for_quote(*parsed));
  });
  auto collateral = unwrap(std::move(fetched));
  return std::const_pointer_cast<tdx::Collateral>(std::move(collateral));
}

// --- simulator -------------------------------------------------------------------------------

SimulatorPtr create_simulator(py::object dir, py::object mr_td, py::object rtmr) {
  tdx::SimulatorOptions options;
  if (!mr_td.is_none()) options.mr_td = to_array<48>(mr_td, "mr_td");
  if (!rtmr.is_none()) {
    if (!py::isinstance<py::sequence>(rtmr) || py::isinstance<py::str>(rtmr) ||
        py::len(rtmr) != 4) {
      throw py::type_error("rtmr: expected a list of 4 values (bytes or hex)");
    }
    auto const seq = py::reinterpret_borrow<py::sequence>(rtmr);
    for (std::size_t i = 0; i < 4; ++i)
      options.rtmr[i] = to_array<48>(py::object(seq[i]), "rtmr[" + std::to_string(i) + "]");
  }
  std::optional<std::filesystem::path> path;
  if (!dir.is_none()) path = to_path(dir);
  auto simulator = without_gil([&] {
    return path ? tdx::Simulator::load_or_create(*path, options) : tdx::Simulator::create(options);
  });
  return unwrap(std::move(simulator));
}

tdx::ReportData to_report_data(ByteString const& data) {
  if (data.view.size() > 64) {
    throw_error(Error(errc::out_of_range,
                      "report_data: at most 64 bytes, got " + std::to_string(data.view.size())));
  }
  tdx::ReportData out{};
  std::copy(data.view.begin(), data.view.end(), out.begin());
  return out;
}

// --- docstrings ------------------------------------------------------------------------------

constexpr char const* kParseQuoteDoc = R"(Parse a TDX quote (version 4 or 5) without verifying it.

Args:
    data: the quote bytes (bytes, bytearray or memoryview).

Returns:
    The parsed Quote. It keeps a copy of the bytes.

Raises:
    InvalidInput: the bytes are not a well-formed TDX quote. ``.code`` says why, for example
        ``"tdx.quote_truncated"`` or ``"tdx.not_a_td_quote"`` for an SGX quote.
)";

constexpr char const* kVerifyQuoteDoc =
    R"(Verify a TDX quote with Intel DCAP and judge it by a policy.

Args:
    data: the quote bytes, or a Quote from parse_quote.
    collateral: Collateral for the quote's platform (FMSPC). None verifies offline: signatures,
        QE binding and the PCK chain only, TCB status unknown. The default policy refuses
        offline verdicts; pass ``policy={"allow_offline": True}`` to accept them.
    root: the trusted root certificate: None for the Intel SGX Root CA (pinned in the library),
        bytes (PEM or DER), a str holding PEM text (starting with "-----BEGIN"), or a path (str or
        os.PathLike) to a certificate file. The root inside the quote is never trusted.
    at: the time at which certificates, CRLs and collateral must be valid: an aware datetime or a
        Unix timestamp in seconds; None for now. A naive datetime raises TypeError.
    policy: a Policy, a dict of Policy's keyword arguments, or None for ``Policy()`` (TCB status
        UpToDate, no debug TDs, no offline verdicts).

Returns:
    The accepted Verdict: status "accepted", TCB status, advisories, FMSPC and every step.

Raises:
    VerificationError: verification failed or the policy refused the quote; ``.verdict`` holds
        the steps and ``.code`` the first failure's code.
    InvalidInput: the quote, root or policy values are malformed.
    TypeError: an argument has the wrong type (a naive datetime included).
)";

}  // namespace

void register_tdx(py::module_& m) {
  py::class_<tdx::EnclaveReport>(
      m, "EnclaveReport", "The Quoting Enclave's SGX report inside a quote, signed by the PCK key.")
      .def_property_readonly("cpu_svn",
                             [](tdx::EnclaveReport const& r) { return to_bytes(r.cpu_svn); })
      .def_property_readonly("misc_select",
                             [](tdx::EnclaveReport const& r) { return r.misc_select; })
      .def_property_readonly("attributes",
                             [](tdx::EnclaveReport const& r) { return to_bytes(r.attributes); })
      .def_property_readonly("mr_enclave",
                             [](tdx::EnclaveReport const& r) { return to_bytes(r.mr_enclave); })
      .def_property_readonly("mr_signer",
                             [](tdx::EnclaveReport const& r) { return to_bytes(r.mr_signer); })
      .def_property_readonly("isv_prod_id",
                             [](tdx::EnclaveReport const& r) { return r.isv_prod_id; })
      .def_property_readonly("isv_svn", [](tdx::EnclaveReport const& r) { return r.isv_svn; })
      .def_property_readonly("report_data",
                             [](tdx::EnclaveReport const& r) { return to_bytes(r.report_data); })
      .def("__repr__", [](tdx::EnclaveReport const& r) {
        return "EnclaveReport(mr_enclave=" + hex_encode(r.mr_enclave) +
               ", isv_prod_id=" + std::to_string(r.isv_prod_id) +
               ", isv_svn=" + std::to_string(r.isv_svn) + ")";
      });

  using Q = tdx::Quote;
  py::class_<Q>(m, "Quote",
                "A parsed TDX quote (v4 or v5). Immutable; byte fields are returned as bytes "
                "(use .hex() for hex). Made by parse_quote.")
      .def_property_readonly("version", &Q::version, "Quote format version: 4 or 5.")
      .def_property_readonly("body_type", &Q::body_type, "2 (TD report 1.0) or 3 (TD report 1.5).")
      .def_property_readonly("attestation_key_type",
                             [](Q const& q) { return q.header().attestation_key_type; })
      .def_property_readonly("tee_type", [](Q const& q) { return q.header().tee_type; })
      .def_property_readonly("qe_vendor_id",
                             [](Q const& q) { return to_bytes(q.header().qe_vendor_id); })
      .def_property_readonly(
          "user_data", [](Q const& q) { return to_bytes(q.header().user_data); },
          "The header's 20 bytes of user data.")
      .def_property_readonly("tee_tcb_svn",
                             [](Q const& q) { return to_bytes(q.td_report().tee_tcb_svn); })
      .def_property_readonly("mr_seam", [](Q const& q) { return to_bytes(q.td_report().mr_seam); })
      .def_property_readonly("mr_signer_seam",
                             [](Q const& q) { return to_bytes(q.td_report().mr_signer_seam); })
      .def_property_readonly("seam_attributes",
                             [](Q const& q) { return to_bytes(q.td_report().seam_attributes); })
      .def_property_readonly("td_attributes",
                             [](Q const& q) { return to_bytes(q.td_report().td_attributes); })
      .def_property_readonly("xfam", [](Q const& q) { return to_bytes(q.td_report().xfam); })
      .def_property_readonly(
          "mr_td", [](Q const& q) { return to_bytes(q.td_report().mr_td); },
          "MRTD: the measurement of the TD's initial memory (48 bytes).")
      .def_property_readonly("mr_config_id",
                             [](Q const& q) { return to_bytes(q.td_report().mr_config_id); })
      .def_property_readonly("mr_owner",
                             [](Q const& q) { return to_bytes(q.td_report().mr_owner); })
      .def_property_readonly("mr_owner_config",
                             [](Q const& q) { return to_bytes(q.td_report().mr_owner_config); })
      .def_property_readonly(
          "rtmr", [](Q const& q) { return rtmr_list(q.td_report().rtmr); },
          "RTMR0..3 as a list of 4 values of 48 bytes.")
      .def_property_readonly(
          "report_data", [](Q const& q) { return to_bytes(q.td_report().report_data); },
          "The 64 bytes of REPORTDATA the TD chose (nonces, key hashes).")
      .def_property_readonly(
          "tee_tcb_svn2", [](Q const& q) { return to_bytes(q.td_report().tee_tcb_svn2); },
          "TD 1.5 only; zero for TD 1.0.")
      .def_property_readonly(
          "mr_servicetd", [](Q const& q) { return to_bytes(q.td_report().mr_servicetd); },
          "TD 1.5 only; zero for TD 1.0.")
      .def_property_readonly("is_td15", [](Q const& q) { return q.td_report().is_td15; })
      .def_property_readonly(
          "debug", [](Q const& q) { return q.td_report().debug(); },
          "TDATTRIBUTES bit 0: the TD's memory is readable by the host.")
      .def_property_readonly("sept_ve_disable",
                             [](Q const& q) { return q.td_report().sept_ve_disable(); })
      .def_property_readonly("signed_bytes", [](Q const& q) { return to_bytes(q.signed_bytes()); })
      .def_property_readonly(
          "signature", [](Q const& q) { return to_bytes(q.signature()); },
          "ECDSA P-256 signature r||s over signed_bytes.")
      .def_property_readonly(
          "attestation_key", [](Q const& q) { return to_bytes(q.attestation_key()); },
          "The attestation key x||y (64 bytes).")
      .def_property_readonly("qe_report", [](Q const& q) { return q.qe_report(); })
      .def_property_readonly("qe_report_bytes",
                             [](Q const& q) { return to_bytes(q.qe_report_bytes()); })
      .def_property_readonly("qe_report_signature",
                             [](Q const& q) { return to_bytes(q.qe_report_signature()); })
      .def_property_readonly("qe_auth_data", [](Q const& q) { return to_bytes(q.qe_auth_data()); })
      .def_property_readonly(
          "pck_chain_pem", [](Q const& q) { return to_bytes(q.pck_chain_pem()); },
          "The PCK certificate chain as carried: PEM, leaf first, maybe NUL-terminated.")
      .def_property_readonly(
          "trailing_bytes", [](Q const& q) { return to_bytes(q.trailing_bytes()); },
          "Bytes after the signature data (kept, never interpreted).")
      .def_property_readonly(
          "raw", [](Q const& q) { return to_bytes(q.raw()); }, "The whole quote.")
      .def("__bytes__", [](Q const& q) { return to_bytes(q.raw()); })
      .def(
          "to_dict", [](Q const& q) { return json_loads(tdx::describe_quote_json(q)); },
          "Every parsed field as a dict (hex strings), as `ee quote inspect --json` prints it.")
      .def("__str__", [](Q const& q) { return tdx::describe_quote_text(q); })
      .def("__repr__", [](Q const& q) {
        return "Quote(version=" + std::to_string(q.version()) +
               ", body_type=" + std::to_string(q.body_type()) +
               ", mr_td=" + hex_encode(q.td_report().mr_td) + ")";
      });

  m.def(
      "parse_quote",
      [](ByteString const& data) {
        return unwrap(without_gil([&] { return tdx::parse_quote(data.view); }));
      },
      py::arg("data"), kParseQuoteDoc);

  py::class_<tdx::Collateral, CollateralPtr>(
      m, "Collateral",
      "Intel DCAP collateral for one platform (FMSPC): TCB info, QE identity, CRLs and their "
      "issuer chains, as loaded (verify_quote checks the signatures). Immutable.")
      .def_static(
          "from_file",
          [](py::object path) {
            auto const p = to_path(path);
            auto collateral = without_gil([&] { return tdx::load_collateral_file(p); });
            return std::make_shared<tdx::Collateral>(unwrap(std::move(collateral)));
          },
          py::arg("path"),
          "Load a collateral bundle file (dcap-qvl's QuoteCollateralV3 JSON, as `ee sim "
          "collateral` "
          "writes it). Raises InvalidInput for a malformed bundle, UpstreamFailure when "
          "unreadable.")
      .def_static(
          "from_json",
          [](py::object text) {
            std::string json;
            if (py::isinstance<py::str>(text)) {
              json = text.cast<std::string>();
            } else {
              auto const b = to_byte_string(text, "text");
              json.assign(b.view.begin(), b.view.end());
            }
            auto collateral = without_gil([&] { return tdx::parse_collateral_bundle(json); });
            return std::make_shared<tdx::Collateral>(unwrap(std::move(collateral)));
          },
          py::arg("text"), "Parse collateral bundle JSON (str or bytes). Raises InvalidInput.")
      .def_static("from_pcs", &collateral_from_pcs, py::arg("fmspc"),
                  py::arg("pccs_url") = py::none(), py::kw_only(), py::arg("ca") = "platform",
                  "Fetch the collateral of a platform from Intel PCS (API v4), or from a PCCS at "
                  "`pccs_url` (for example \"https://pccs.internal:8081\"; the root CA CRL then "
                  "comes from the PCCS too). `fmspc` is 6 bytes or 12 hex digits; `ca` selects the "
                  "PCK CRL (\"platform\" or \"processor\"). Results are cached per process "
                  "until shortly before their nextUpdate. The GIL is released while fetching. "
                  "Raises NotFound (tdx.collateral_not_found) for an FMSPC PCS does not know, "
                  "UpstreamFailure for network or server failures, InvalidInput for a malformed "
                  "answer.")
      .def_static("from_pcs_responses", &collateral_from_pcs_responses, py::kw_only(),
                  py::arg("tcb_info"), py::arg("tcb_info_issuer_chain"), py::arg("qe_identity"),
                  py::arg("qe_identity_issuer_chain") = py::none(), py::arg("pck_crl"),
                  py::arg("pck_crl_issuer_chain"), py::arg("root_ca_crl"),
                  "Assemble collateral from the pieces as Intel PCS v4 serves them: the TCB info "
                  "and QE identity response bodies (str or bytes, signed text kept exactly), the "
                  "issuer chains from the response headers (PEM; the QE identity's defaults to the "
                  "TCB info's, as PCS uses the same TCB Signing chain), the PCK CRL and the root "
                  "CA CRL (bytes, DER or PEM). Raises InvalidInput naming the malformed piece.")
      .def_static("for_quote", &collateral_for_quote, py::arg("quote"),
                  py::arg("pccs_url") = py::none(),
                  "from_pcs for the platform (FMSPC and PCK CA) named by the PCK certificate in "
                  "`quote` (bytes or a Quote). Raises as from_pcs, and InvalidInput when the "
                  "quote or its PCK certificate does not parse.")
      .def_property_readonly(
          "fmspc", [](tdx::Collateral const& c) { return hex_encode(c.tcb_info.fmspc); },
          "The platform's FMSPC, lower-case hex.")
      .def_property_readonly(
          "tcb_evaluation_data_number",
          [](tdx::Collateral const& c) { return c.tcb_info.tcb_evaluation_data_number; })
      .def_property_readonly(
          "issue_date", [](tdx::Collateral const& c) { return to_datetime(c.tcb_info.issue_date); },
          "The TCB info's issueDate (aware UTC datetime).")
      .def_property_readonly(
          "next_update",
          [](tdx::Collateral const& c) { return to_datetime(c.tcb_info.next_update); },
          "The TCB info's nextUpdate (aware UTC datetime).")
      .def(
          "to_json", [](tdx::Collateral const& c) { return tdx::serialize_collateral_bundle(c); },
          "The bundle JSON (round-trips through from_json).")
      .def("__repr__", [](tdx::Collateral const& c) {
        return "Collateral(fmspc=" + hex_encode(c.tcb_info.fmspc) +
               ", tcb_evaluation_data_number=" +
               std::to_string(c.tcb_info.tcb_evaluation_data_number) + ")";
      });

  py::class_<tdx::Policy>(
      m, "Policy",
      "What verify_quote accepts beyond a valid quote: TCB statuses, debug TDs, "
      "offline verdicts, MRTDs, RTMRs and collateral age.")
      .def(py::init([](py::object statuses, std::string const& mode, bool allow_offline,
                       bool allow_debug, py::object mrtds, py::object rtmrs, py::object max_age) {
             tdx::Policy policy;
             if (!statuses.is_none()) set_allowed_statuses(policy, statuses);
             set_tcb_mode(policy, mode);
             policy.allow_offline = allow_offline;
             policy.allow_debug = allow_debug;
             set_allowed_mrtds(policy, mrtds);
             set_expected_rtmrs(policy, rtmrs);
             set_max_collateral_age(policy, max_age);
             return policy;
           }),
           py::kw_only(), py::arg("allowed_tcb_statuses") = py::none(),
           py::arg("tcb_mode") = "strict", py::arg("allow_offline") = false,
           py::arg("allow_debug") = false, py::arg("allowed_mrtds") = py::none(),
           py::arg("expected_rtmrs") = py::none(), py::arg("max_collateral_age") = py::none(),
           "All arguments are keywords; see the class attributes for their meaning.")
      .def_property("allowed_tcb_statuses", &allowed_statuses, &set_allowed_statuses,
                    "TCB statuses accepted, Intel's spelling (default [\"UpToDate\"]).")
      .def_property("tcb_mode", &tcb_mode, &set_tcb_mode,
                    "\"strict\" refuses other statuses, \"warn\" tolerates them (recording it), "
                    "\"disabled\" skips the check.")
      .def_readwrite("allow_offline", &tdx::Policy::allow_offline,
                     "Accept verdicts made without collateral (TCB status unknown). Default False.")
      .def_readwrite("allow_debug", &tdx::Policy::allow_debug, "Accept debug TDs. Default False.")
      .def_property("allowed_mrtds", &allowed_mrtds, &set_allowed_mrtds,
                    "Accepted MRTDs (48 bytes each; hex accepted when setting); empty means any.")
      .def_property("expected_rtmrs", &expected_rtmrs, &set_expected_rtmrs,
                    "RTMR0..3 expected values; None entries are not checked.")
      .def_property("max_collateral_age", &max_collateral_age, &set_max_collateral_age,
                    "Refuse collateral issued longer ago than this (timedelta), or None.")
      .def("__repr__", [](tdx::Policy const& p) {
        return "Policy(allowed_tcb_statuses=" + py::repr(allowed_statuses(p)).cast<std::string>() +
               ", tcb_mode='" + tcb_mode(p) +
               "', allow_offline=" + (p.allow_offline ? "True" : "False") +
               ", allow_debug=" + (p.allow_debug ? "True" : "False") +
               ", allowed_mrtds=" + std::to_string(p.allowed_mrtds.size()) + " entries)";
      });

  py::class_<tdx::VerificationStep>(m, "Step",
                                    "One verification or policy step, in the order they ran.")
      .def_readonly("name", &tdx::VerificationStep::name,
                    "Stable name: \"quote_signature\", \"tcb_level\", ...")
      .def_readonly("passed", &tdx::VerificationStep::passed)
      .def_readonly("detail", &tdx::VerificationStep::detail,
                    "Why it failed, or what it established.")
      .def("__repr__", [](tdx::VerificationStep const& s) {
        return "Step(name=" + py::repr(py::str(s.name)).cast<std::string>() +
               ", passed=" + (s.passed ? "True" : "False") +
               ", detail=" + py::repr(py::str(s.detail)).cast<std::string>() + ")";
      });

  using V = tdx::Verdict;
  py::class_<V>(m, "Verdict", "The outcome of verify_quote: every step with pass/fail and detail.")
      .def_property_readonly("status",
                             [](V const& v) { return v.accepted() ? "accepted" : "rejected"; })
      .def_property_readonly("accepted", &V::accepted)
      .def_readonly("offline", &V::offline, "Verified without collateral (TCB status unknown).")
      .def_property_readonly(
          "tcb_status", [](V const& v) { return std::string(tdx::to_string(v.tcb_status)); },
          "Intel's spelling: \"UpToDate\", \"OutOfDate\", ...; \"Unknown\" offline.")
      .def_readonly("advisory_ids", &V::advisory_ids)
      .def_property_readonly("tcb_date", [](V const& v) { return to_datetime_or_none(v.tcb_date); })
      .def_property_readonly(
          "fmspc", [](V const& v) { return hex_encode(v.fmspc); }, "Lower-case hex.")
      .def_property_readonly("checked_at", [](V const& v) { return to_datetime(v.checked_at); })
      .def_property_readonly("collateral_issued_at",
                             [](V const& v) { return to_datetime_or_none(v.collateral_issued_at); })
      .def_property_readonly(
          "collateral_expires_at",
          [](V const& v) { return to_datetime_or_none(v.collateral_expires_at); })
      .def_property_readonly("mr_td", [](V const& v) { return to_bytes(v.td_report.mr_td); })
      .def_property_readonly("rtmr", [](V const& v) { return rtmr_list(v.td_report.rtmr); })
      .def_property_readonly("report_data",
                             [](V const& v) { return to_bytes(v.td_report.report_data); })
      .def_readonly("steps", &V::steps)
      .def_property_readonly("failed_step",
                             [](V const& v) -> py::object {
                               auto const* failure = v.first_failure();
                               if (!failure) return py::none();
                               return py::cast(*failure);
                             })
      .def_property_readonly(
          "error_code",
          [](V const& v) -> py::object {
            if (!v.error.failed()) return py::none();
            return py::str(v.error.id());
          },
          "Code of the first failure (\"tdx.tcb_level_not_supported\", ...), or None.")
      .def_property_readonly("error_message",
                             [](V const& v) -> py::object {
                               if (!v.error.failed()) return py::none();
                               return py::str(v.error.message());
                             })
      .def(
          "to_dict", [](V const& v) { return json_loads(tdx::describe_verdict_json(v)); },
          "The verdict as a dict, as `ee quote verify --json` prints it.")
      .def("__str__", [](V const& v) { return tdx::describe_verdict_text(v); })
      .def("__repr__", [](V const& v) {
        return std::string("Verdict(status='") + (v.accepted() ? "accepted" : "rejected") +
               "', tcb_status='" + std::string(tdx::to_string(v.tcb_status)) +
               "', steps=" + std::to_string(v.steps.size()) + ")";
      });

  m.def("verify_quote", &verify_quote, py::arg("data"), py::arg("collateral") = py::none(),
        py::arg("root") = py::none(), py::arg("at") = py::none(), py::arg("policy") = py::none(),
        kVerifyQuoteDoc);

  py::class_<tdx::Simulator, SimulatorPtr>(
      m, "Simulator",
      "A simulated TDX platform for development and tests: makes v4 quotes and DCAP collateral "
      "under its own test root. Nothing trusts it by default: verify its quotes with "
      "root=simulator.root_pem.")
      .def_static("create", &create_simulator, py::arg("dir") = py::none(),
                  py::arg("mr_td") = py::none(), py::arg("rtmr") = py::none(),
                  "Create a simulator (in memory, or loaded from / persisted to `dir` so separate "
                  "processes share one PKI). mr_td and rtmr (48 bytes or hex each) set the TD's "
                  "measurements. Raises UpstreamFailure (tdx.simulator_failed) on failure.")
      .def(
          "quote",
          [](tdx::Simulator const& s, ByteString const& report_data) {
            auto const data = to_report_data(report_data);
            auto quote = unwrap(without_gil([&] { return s.quote(data); }));
            return to_bytes(quote);
          },
          py::arg("report_data"),
          "A v4 quote with `report_data` (at most 64 bytes, zero-padded to 64) signed by the "
          "simulated platform. Returns bytes.")
      .def_property_readonly(
          "collateral_json", &tdx::Simulator::collateral_json,
          "The platform's collateral bundle JSON (Collateral.from_json reads it).")
      .def_property_readonly(
          "collateral",
          [](tdx::Simulator const& s) { return std::make_shared<tdx::Collateral>(s.collateral()); },
          "The platform's collateral as a Collateral.")
      .def_property_readonly("root_pem", &tdx::Simulator::root_pem,
                             "The simulator's root certificate, PEM.")
      .def_property_readonly("mr_td",
                             [](tdx::Simulator const& s) { return to_bytes(s.options().mr_td); });
}

}  // namespace ee::python
