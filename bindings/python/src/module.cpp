// easyenclave._core: only creates the module and registers each area's bindings.
#include <easyenclave/version.hpp>

#include "bind.hpp"
#include "errors.hpp"

#include <pybind11/pybind11.h>

#include <string>

PYBIND11_MODULE(_core, m) {
  m.doc() = "Native core of easyenclave (libeasyenclave bindings).";
  m.attr("__version__") = std::string(ee::version());
  ee::python::register_errors(m);
  ee::python::register_log(m);
  ee::python::register_tdx(m);
}
