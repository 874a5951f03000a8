#pragma once
/// @file The control plane as a library object. `ee-cp` is a thin main over it; third parties
/// build their own control plane the same way (and, as the CP grows, swap stores and policy).
#include <easyenclave/error.hpp>
#include <easyenclave/http/server.hpp>

#include <chrono>
#include <functional>
#include <memory>

namespace ee::cp {

struct Options {
  /// Where the API listens; port 0 lets the kernel pick (see `ControlPlane::endpoint`).
  http::ServerOptions server{};
  /// Development mode: relaxes the production start-up checks so local stand-ins work.
  bool dev = false;
  /// The clock; injected so tests control uptime and expiry.
  std::function<std::chrono::system_clock::time_point()> now = [] {
    return std::chrono::system_clock::now();
  };
};

/// A running control plane. Thread-safe; stops on destruction.
///
/// Routes served so far: `GET /health` → `{"status":"ok","version","uptime_seconds","started_at",
/// "attested":false,"dev"}`. `attested` is true only when the CP runs in a TDX VM and serves its
/// own quote, which this build does not do yet, so it reports false rather than guessing.
class ControlPlane {
 public:
  /// Builds the routes and starts serving.
  /// @returns the server's errors (http::errc::bind_failed, tls_setup_failed). Never throws.
  static result<std::unique_ptr<ControlPlane>> start(Options options);
  ~ControlPlane();

  boost::asio::ip::tcp::endpoint endpoint() const noexcept;
  /// Graceful stop; see `http::Server::stop`.
  void stop();
  /// Blocks until SIGINT/SIGTERM (then stops gracefully) or `stop()`.
  void wait_for_signal();

 private:
  struct Impl;
  explicit ControlPlane(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ee::cp
