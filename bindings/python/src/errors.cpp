#include "errors.hpp"

#include <easyenclave/client/control_plane.hpp>

#include <array>
#include <string>
#include <utility>

namespace ee::python {
namespace py = pybind11;

namespace {

struct ConditionClass {
  condition cond;
  char const* name;
  char const* doc;
};

constexpr std::array<ConditionClass, 7> kClasses = {{
    {condition::invalid_input, "InvalidInput", "The input was malformed or out of range."},
    {condition::unauthenticated, "Unauthenticated",
     "A signature, token or certificate chain did not verify."},
    {condition::forbidden, "Forbidden", "Authenticated, but policy or ownership refuses it."},
    {condition::not_found, "NotFound", "The named thing does not exist."},
    {condition::conflict, "Conflict", "The request contradicts the current state."},
    {condition::upstream_failure, "UpstreamFailure", "A dependency failed or answered badly."},
    {condition::unavailable, "Unavailable", "A resource is temporarily unavailable."},
}};

}  // namespace

void register_errors(py::module_& m) {
  // The module attributes own the classes; the translator looks them up there.
  py::exception<SystemError> base(m, "Error", PyExc_RuntimeError);
  base.doc() =
      "Base class of every easyenclave error. `.code` is the stable code string: for an error the "
      "control plane answered, the CP's own code (\"registry.not_found\"), with the client's "
      "(\"client.cp_not_found\") as `.client_code`.";
  for (auto const& c : kClasses) {
    auto cls = py::exception<SystemError>(m, c.name, base.ptr());
    cls.doc() = c.doc;
  }
  py::exception<SystemError> verification(m, "VerificationError", base.ptr());
  verification.doc() =
      "The quote did not verify, or the policy refused it. `.verdict` is the full Verdict (every "
      "step with pass/fail and detail); `.code` the code of the first failure, e.g. "
      "\"tdx.tcb_level_not_supported\" or \"tdx.tcb_status_not_allowed\".";
  verification.attr("verdict") = py::none();

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (SystemError const& e) {
      auto module = py::module_::import("easyenclave._core");
      auto const cond = e.error().cond();
      py::object cls = module.attr("Error");
      for (auto const& c : kClasses)
        if (c.cond == cond) cls = module.attr(c.name);
      py::object instance = cls(e.error().message());
      // An error the control plane answered carries the CP's own code ("registry.not_found");
      // the client's code for it ("client.cp_not_found") stays as .client_code.
      auto const cp_code = client::cp_error_code(e.error());
      instance.attr("code") = cp_code.empty() ? e.error().id() : cp_code;
      instance.attr("client_code") = e.error().id();
      PyErr_SetObject(cls.ptr(), instance.ptr());
    }
  });
}

void raise_verification_error(std::string const& message, std::string const& code,
                              py::object verdict) {
  auto cls = py::module_::import("easyenclave._core").attr("VerificationError");
  py::object instance = cls(message);
  instance.attr("code") = code;
  instance.attr("verdict") = std::move(verdict);
  PyErr_SetObject(cls.ptr(), instance.ptr());
  throw py::error_already_set();
}

}  // namespace ee::python
