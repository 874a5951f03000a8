#pragma once
// The CP's route groups. Each add_*_routes registers free-function handlers that reach the CP's
// state only through `Services`, built once by ControlPlane.
#include <easyenclave/http/router.hpp>

#include <chrono>
#include <functional>

namespace ee::cp {

/// What handlers may use. Lives as long as the ControlPlane that owns the server.
struct Services {
  std::function<std::chrono::system_clock::time_point()> now{};
  std::chrono::system_clock::time_point started_at{};
  bool dev = false;
};

void add_health_routes(http::Router& router, Services const& services);

}  // namespace ee::cp
