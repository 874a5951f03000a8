#pragma once
// A real ee::http::Server on 127.0.0.1 with a kernel-chosen port, for tests that talk to it over
// a loopback socket. Starting fails the test loudly (SystemError from .value()); the destructor
// stops the server gracefully.
#include <easyenclave/http/router.hpp>
#include <easyenclave/http/server.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace ee::test {

class LoopbackServer {
 public:
  /// Starts `router` on 127.0.0.1 port 0 with `options` (whose host and port are overridden).
  /// Throws ee::SystemError when the server cannot start.
  explicit LoopbackServer(http::Router router, http::ServerOptions options = {})
      : tls_(!options.tls_certificate_file.empty()) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = http::Server::start(std::move(router), std::move(options)).value();
  }
  ~LoopbackServer() { server_->stop(); }
  LoopbackServer(LoopbackServer const&) = delete;
  LoopbackServer& operator=(LoopbackServer const&) = delete;

  std::uint16_t port() const noexcept { return server_->port(); }
  /// "http://127.0.0.1:<port>" (https when TLS files were given), without a trailing slash.
  std::string url() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port());
  }
  http::Server& server() noexcept { return *server_; }

 private:
  bool tls_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace ee::test
