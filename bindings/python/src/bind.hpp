#pragma once
// The registration function of each binding area; module.cpp calls them in order.
#include <pybind11/pybind11.h>

namespace ee::python {

/// Quote parsing and verification, collateral, policies, the simulator (bind_tdx.cpp).
void register_tdx(pybind11::module_& m);
/// verify_ita_token, verify_github_oidc and Appraisal (bind_jwt.cpp).
void register_jwt(pybind11::module_& m);
/// Forwards the library's log events to Python's `logging` (bind_log.cpp).
void register_log(pybind11::module_& m);
/// connect(), Connection and Response: verify-then-talk (bind_client.cpp).
void register_client(pybind11::module_& m);
/// ControlPlaneClient: the control plane's API (bind_control_plane.cpp).
void register_control_plane(pybind11::module_& m);

}  // namespace ee::python
