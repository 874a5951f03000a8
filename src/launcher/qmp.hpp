#pragma once
// A small client of QEMU's QMP protocol (docs/interop/qmp-spec.rst) over its Unix socket: just
// what the launcher needs to tell a VM is up, and to ask it to quit. Blocking, with a deadline on
// every call and a bound on every message read, because the peer may be a hung or hostile QEMU.
//
// The protocol: on connect the server sends a greeting ({"QMP": {...}}); the client must send
// {"execute": "qmp_capabilities"} before any other command; each command is answered by one
// {"return": ...} or {"error": {"class", "desc"}}; asynchronous {"event": ...} messages may come
// in between and are skipped. Messages are JSON objects, each ended by a newline.
#include <easyenclave/error.hpp>

#include <boost/json/value.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

namespace ee::launcher::detail {

class QmpClient {
 public:
  /// Connects to `socket`, reads the greeting and negotiates capabilities, all within `timeout`.
  /// @returns launcher::errc::qmp_timeout when the server did not answer in time, qmp_error when
  ///          it cannot be reached (no socket, refused, a path too long for sun_path) or answered
  ///          something that is not QMP. Never throws (except bad_alloc).
  static result<QmpClient> connect(std::filesystem::path const& socket,
                                   std::chrono::milliseconds timeout);

  QmpClient(QmpClient&& other) noexcept;
  QmpClient& operator=(QmpClient&& other) noexcept;
  QmpClient(QmpClient const&) = delete;
  QmpClient& operator=(QmpClient const&) = delete;
  ~QmpClient();

  /// Runs `command` (without arguments) and returns the value of its "return" member.
  /// @returns qmp_error with the server's class and description when it answers with an error
  ///          or something unreadable, or closes the connection; qmp_timeout after `timeout`.
  result<boost::json::value> execute(std::string_view command, std::chrono::milliseconds timeout);

  /// True once the server has closed the connection.
  bool closed() const noexcept { return closed_; }

 private:
  explicit QmpClient(int fd) noexcept : fd_(fd) {}
  // The next message that is not an event.
  result<boost::json::value> read_reply(std::chrono::steady_clock::time_point deadline);
  result<std::string> read_line(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buffer_{};  // bytes received past the last complete message
  bool closed_ = false;
};

/// The VM's run state ("running", "paused", "shutdown", ...) from `query-status`, connecting to
/// `socket` afresh; errors as QmpClient's.
result<std::string> qmp_query_status(std::filesystem::path const& socket,
                                     std::chrono::milliseconds timeout);

/// Asks QEMU to exit (`quit`). A connection closed right after the command counts as success.
result<void> qmp_quit(std::filesystem::path const& socket, std::chrono::milliseconds timeout);

}  // namespace ee::launcher::detail
