#pragma once
// Releasing the GIL around library calls, safely at interpreter exit.
//
// Use without_gil(f) rather than pybind11's gil_scoped_release / call_guard:
//
// Before Python 3.14 a thread that takes the GIL back while the interpreter finalizes (a daemon
// thread still inside verify_quote or Collateral.from_pcs when the program ends) is ended with
// pthread_exit, which unwinds its stack ("forced unwinding"). pybind11's gil_scoped_release takes
// the GIL back in a noexcept destructor, so that unwinding calls std::terminate and the process
// aborts at exit. release_gil instead parks such a thread until the process exits (what Python
// 3.14 does itself), and its destructor lets a forced unwind that starts while it waits pass.
// That is only possible when no exception is in flight, so the function run without the GIL must
// not throw: library calls return result<T>, and the caller unwraps it with the GIL held.
#include <easyenclave/log.hpp>

#include <pybind11/pybind11.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ee::python {

/// True once the interpreter is gone or going; callable without the GIL.
inline bool interpreter_finalizing() noexcept {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsInitialized() == 0 || Py_IsFinalizing() != 0;
#else
  return Py_IsInitialized() == 0 || _Py_IsFinalizing() != 0;
#endif
}

/// Blocks the calling thread until the process exits. Never returns.
[[noreturn]] inline void park_thread_forever() noexcept {
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

/// Releases the GIL for its lifetime. Construct with the GIL held; nothing in its scope may throw
/// (see above). Not copyable.
class release_gil {
 public:
  release_gil() : state_(PyEval_SaveThread()) {}
  release_gil(release_gil const&) = delete;
  release_gil& operator=(release_gil const&) = delete;

  // noexcept(false): PyEval_RestoreThread may end the thread by forced unwinding (see above).
  ~release_gil() noexcept(false) {
    if (interpreter_finalizing()) park_thread_forever();
    PyEval_RestoreThread(state_);
  }

 private:
  PyThreadState* state_;
};

/// One library log event, kept until it can be handed to Python.
struct LogEvent {
  log::Level level{};
  std::string component{};
  std::string message{};
};

/// While alive, log events this thread emits are buffered instead of waiting for the GIL (the
/// thread released it); flush() hands them to Python's logging, in order, with the GIL held.
/// Defined in bind_log.cpp.
class LogCapture {
 public:
  LogCapture() noexcept;
  ~LogCapture();
  LogCapture(LogCapture const&) = delete;
  LogCapture& operator=(LogCapture const&) = delete;

  /// Called by the sink on this thread.
  void add(LogEvent event) { events_.push_back(std::move(event)); }
  /// Ends the capture and forwards the buffered events. Call with the GIL held.
  void flush();

 private:
  std::vector<LogEvent> events_{};
  LogCapture* previous_ = nullptr;
  bool active_ = true;
};

/// Native calls running without the GIL right now, and whether the process has begun exiting.
/// At exit, C atexit handlers (OpenSSL's cleanup among them) free global state that those calls
/// may be using; `wait_for_native_calls_at_exit` (registered by the module after OpenSSL's
/// handler, so it runs first) waits for them, and calls that start after it park instead.
struct NativeCalls {
  std::atomic<int> in_flight{0};
  std::atomic<bool> exiting{false};
};
inline NativeCalls& native_calls() {
  static auto* calls = new NativeCalls();  // never destroyed: used during exit
  return *calls;
}

/// Runs `f` with the GIL released and returns its result; log events `f` causes on this thread
/// reach Python's logging when it returns. `f` must not throw (except std::bad_alloc) and must
/// not touch Python objects.
template <class F>
auto without_gil(F&& f) {
  LogCapture capture;
  auto& calls = native_calls();
  auto out = [&] {
    release_gil nogil;
    calls.in_flight.fetch_add(1);
    // Checked after counting ourselves, so the exit handler either sees us or we see its flag.
    if (calls.exiting.load()) {
      calls.in_flight.fetch_sub(1);
      park_thread_forever();
    }
    auto value = std::forward<F>(f)();
    calls.in_flight.fetch_sub(1);
    return value;
  }();
  capture.flush();
  return out;
}

}  // namespace ee::python
