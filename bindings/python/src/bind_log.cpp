// Forwards libeasyenclave's log events to Python's `logging`: component "tdx" goes to the logger
// "easyenclave.tdx", a child of "easyenclave", so configuring "easyenclave" configures them all.
//
// A library thread never waits for the GIL here: before Python 3.14 a thread that takes the GIL
// while the interpreter finalizes is ended by forced unwinding, which library frames (coroutines,
// noexcept functions) cannot survive. So:
// - a thread inside without_gil (every binding call that releases the GIL) buffers its events in
//   its LogCapture, which forwards them, in order and on that thread, once it holds the GIL again;
// - a thread that holds the GIL forwards directly;
// - any other thread queues the event and asks the main thread to forward it
//   (Py_AddPendingCall, which needs no GIL).
// At interpreter exit an atexit hook stops forwarding and uninstalls the sink.
#include <easyenclave/log.hpp>

#include "bind.hpp"
#include "gil.hpp"

#include <pybind11/pybind11.h>

#include <cxxabi.h>

#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ee::python {
namespace py = pybind11;
using namespace pybind11::literals;

namespace {

std::atomic<bool> g_forwarding{false};
thread_local LogCapture* t_capture = nullptr;

// Events from threads that are not Python's, waiting for the main thread.
constexpr std::size_t kMaxPending = 10'000;
std::mutex g_pending_mutex;
std::vector<LogEvent> g_pending;
bool g_drain_scheduled = false;

/// Python's numeric levels; trace is below DEBUG, as 5 is in common use.
int python_level(log::Level level) {
  switch (level) {
    case log::Level::trace:
      return 5;
    case log::Level::debug:
      return 10;
    case log::Level::info:
      return 20;
    case log::Level::warn:
      return 30;
    case log::Level::error:
      return 40;
    case log::Level::off:
      break;
  }
  return 50;
}

py::str decode(std::string_view text) {
  // Library messages are UTF-8; "replace" keeps a stray byte from losing the whole event.
  auto* object = PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "replace");
  if (object == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(object);
}

/// Hands one event to `logging`. Call with the GIL held.
void deliver(LogEvent const& event) {
  if (!g_forwarding.load(std::memory_order_acquire)) return;
  try {
    auto logger =
        py::module_::import("logging").attr("getLogger")("easyenclave." + event.component);
    int const at = python_level(event.level);
    if (!logger.attr("isEnabledFor")(at).cast<bool>()) return;
    logger.attr("log")(at, decode(event.message),
                       "extra"_a = py::dict("component"_a = decode(event.component)));
  } catch (abi::__forced_unwind const&) {
    throw;  // the interpreter is ending this thread (see gil.hpp): never swallow that
  } catch (...) {
    // A failing handler must not reach library code; logging reports its own handler errors.
  }
}

/// Pending call: runs on the main thread with the GIL held.
int drain(void* /*unused*/) {
  std::vector<LogEvent> events;
  {
    std::lock_guard lock(g_pending_mutex);
    events.swap(g_pending);
    g_drain_scheduled = false;
  }
  for (auto const& event : events) deliver(event);
  return 0;
}

void sink(log::Level level, std::string_view component, std::string_view message) {
  if (!g_forwarding.load(std::memory_order_acquire)) return;
  LogEvent event{level, std::string(component), std::string(message)};
  if (t_capture != nullptr) {
    t_capture->add(std::move(event));
    return;
  }
  if (interpreter_finalizing()) return;
  if (PyGILState_Check() != 0) {
    deliver(event);
    return;
  }
  bool schedule = false;
  {
    std::lock_guard lock(g_pending_mutex);
    if (g_pending.size() < kMaxPending) g_pending.push_back(std::move(event));
    schedule = !g_drain_scheduled;
    g_drain_scheduled = true;
  }
  if (schedule && Py_AddPendingCall(&drain, nullptr) != 0) {
    std::lock_guard lock(g_pending_mutex);
    g_drain_scheduled = false;  // the queue of pending calls is full: the next event retries
  }
}

void stop_forwarding() {
  g_forwarding.store(false, std::memory_order_release);
  log::set_sink({});
}

}  // namespace

LogCapture::LogCapture() noexcept : previous_(t_capture) { t_capture = this; }

LogCapture::~LogCapture() {
  if (active_) t_capture = previous_;
}

void LogCapture::flush() {
  if (active_) {
    t_capture = previous_;
    active_ = false;
  }
  auto events = std::move(events_);
  for (auto const& event : events) deliver(event);
}

void register_log(py::module_& m) {
  // Every event down to debug reaches the sink; Python's logger levels decide what is kept.
  log::set_level(log::Level::debug);
  g_forwarding.store(true, std::memory_order_release);
  log::set_sink(&sink);
  py::module_::import("atexit").attr("register")(py::cpp_function(&stop_forwarding));
  m.def("_stop_log_forwarding", &stop_forwarding,
        "Uninstall the log sink (done automatically at interpreter exit).");
}

}  // namespace ee::python
