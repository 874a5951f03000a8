#pragma once
// Python exceptions for ee::condition: easyenclave.Error and one subclass per condition. One
// translator maps ee::SystemError (thrown by result::value()) to the right class, keeping the
// library's stable code string as `.code`.
#include <easyenclave/error.hpp>

#include <pybind11/pybind11.h>

#include <string>
#include <string_view>
#include <utility>

namespace ee::python {

void register_errors(pybind11::module_& m);

/// Raises easyenclave.VerificationError(message) with `.code` and `.verdict` set, by throwing
/// pybind11::error_already_set. Call with the GIL held.
[[noreturn]] void raise_verification_error(std::string const& message, std::string const& code,
                                           pybind11::object verdict);

/// Returns the value or throws ee::SystemError, which the translator turns into a Python error.
/// The one place where result<T> is unwrapped.
template <class T>
T unwrap(result<T> r) {
  return std::move(r).value();
}

/// As above, with `context` prefixed to the message of an error ("root: ...").
template <class T>
T unwrap(result<T> r, std::string_view context) {
  if (!r) throw SystemError(r.error().with_context(context));
  return std::move(r).value();
}

}  // namespace ee::python
