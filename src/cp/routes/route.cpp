#include "cp/routes/routes.hpp"

namespace ee::cp {

void route(http::Router& router, boost::beast::http::verb method, std::string const& path_after_api,
           ServiceHandler handler, Services& services) {
  // Plain lambdas returning the coroutine: the coroutine gets `services` by reference (it lives in
  // ControlPlane::Impl) and never refers to the lambda object itself.
  for (char const* prefix : {"/api/v1", "/api"}) {
    router.add(method, prefix + path_after_api,
               [handler, &services](http::RequestContext& ctx) { return handler(ctx, services); });
  }
}

}  // namespace ee::cp
