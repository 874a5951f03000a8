#include <easyenclave/cp/control_plane.hpp>

#include "cp/routes/routes.hpp"
#include "detail/log.hpp"

namespace ee::cp {

struct ControlPlane::Impl {
  Services services;
  std::unique_ptr<http::Server> server;
};

ControlPlane::ControlPlane(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ControlPlane::~ControlPlane() = default;

result<std::unique_ptr<ControlPlane>> ControlPlane::start(Options options) {
  auto impl = std::make_unique<Impl>();
  impl->services.now = std::move(options.now);
  impl->services.started_at = impl->services.now();
  impl->services.dev = options.dev;

  http::Router router;
  add_health_routes(router, impl->services);

  auto server = http::Server::start(std::move(router), options.server);
  if (!server) return server.error().with_context("control plane");
  impl->server = std::move(*server);
  auto const ep = impl->server->endpoint();
  detail::log::info("cp", "listening address=", ep.address().to_string(), " port=", ep.port(),
                    " dev=", options.dev);
  return std::unique_ptr<ControlPlane>(new ControlPlane(std::move(impl)));
}

boost::asio::ip::tcp::endpoint ControlPlane::endpoint() const noexcept { return impl_->server->endpoint(); }
void ControlPlane::stop() { impl_->server->stop(); }
void ControlPlane::wait_for_signal() { impl_->server->wait_for_signal(); }

}  // namespace ee::cp
