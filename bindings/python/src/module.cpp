// easyenclave._core: only creates the module and registers each area's bindings.
#include <easyenclave/version.hpp>

#include "bind.hpp"
#include "errors.hpp"
#include "gil.hpp"

#include <openssl/crypto.h>
#include <pybind11/pybind11.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

// Runs at process exit before OpenSSL's own cleanup (atexit handlers run in reverse order of
// registration, and ours is registered after OpenSSL initialised): waits, bounded, until no
// daemon thread is inside the library, so the cleanup never frees state in use. Threads that
// finish meanwhile park when they try to take the GIL back.
void wait_for_native_calls_at_exit() {
  auto& calls = ee::python::native_calls();
  calls.exiting.store(true);
  auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (calls.in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  // Python may exit while daemon threads are still inside verification (they released the GIL).
  // Ask OpenSSL not to register its atexit cleanup (effective only if nothing initialised it yet;
  // Python's own _hashlib may have), then register our wait, which runs before that cleanup.
  OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
  std::atexit(wait_for_native_calls_at_exit);
  m.doc() = "Native core of easyenclave (libeasyenclave bindings).";
  m.attr("__version__") = std::string(ee::version());
  ee::python::register_errors(m);
  ee::python::register_log(m);
  ee::python::register_tdx(m);
  ee::python::register_jwt(m);
  ee::python::register_client(m);
  ee::python::register_control_plane(m);
}
