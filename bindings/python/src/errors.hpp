#pragma once
// Python exceptions for ee::condition: easyenclave.Error and one subclass per condition. One
// translator maps ee::SystemError (thrown by result::value()) to the right class, keeping the
// library's stable code string as `.code`.
#include <easyenclave/error.hpp>

#include <pybind11/pybind11.h>

namespace ee::python {

void register_errors(pybind11::module_& m);

/// Returns the value or throws ee::SystemError, which the translator turns into a Python error.
template <class T>
T unwrap(result<T> r) {
  return std::move(r).value();
}

}  // namespace ee::python
