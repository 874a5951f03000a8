#include "launcher/qmp.hpp"

#include <easyenclave/launcher/error.hpp>

#include "detail/json.hpp"

#include <boost/json/object.hpp>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <thread>
#include <utility>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace ee::launcher::detail {
namespace {

namespace bj = boost::json;
namespace json = ::ee::detail::json;
using Clock = std::chrono::steady_clock;

// QMP replies the launcher asks for are a few hundred bytes; events are small too. Anything
// longer than this is not a QEMU we want to keep reading from.
constexpr std::size_t kMaxMessage = 256 * 1024;

// Milliseconds left until `deadline`, rounded up so a poll never returns just before it, and
// clamped to what poll() takes.
int remaining_ms(Clock::time_point deadline) {
  auto const left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, INT_MAX));
}

std::chrono::milliseconds left_until(Clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
}

Error timeout_error(std::string_view what) {
  return Error(errc::qmp_timeout, "QMP: timed out " + std::string(what));
}

Error os_error(std::string_view what, int err) {
  return Error(errc::qmp_error, "QMP: " + std::string(what) + ": " + std::strerror(err));
}

}  // namespace

result<QmpClient> QmpClient::connect(std::filesystem::path const& socket,
                                     std::chrono::milliseconds timeout) {
  auto const deadline = Clock::now() + timeout;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  auto const& path = socket.native();
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return Error(errc::qmp_error, "QMP: socket path '" + path + "' is empty or longer than " +
                                      std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

  int const fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return os_error("socket", errno);
  QmpClient client(fd);
  for (;;) {
    if (::connect(fd, reinterpret_cast<sockaddr const*>(&addr), sizeof addr) == 0) break;
    int const err = errno;
    if (err == EINTR) continue;
    // A Unix socket whose backlog is full refuses with EAGAIN instead of queueing the connect;
    // QEMU accepts one QMP client at a time, so another client may be holding it.
    if (err != EAGAIN) return os_error("connect to " + path, err);
    if (Clock::now() >= deadline) return timeout_error("connecting");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  auto greeting = client.read_reply(deadline);
  if (!greeting) return greeting.error();
  auto const* object = greeting->if_object();
  if (object == nullptr || !object->contains("QMP")) {
    return Error(errc::qmp_error, "QMP: the greeting is not a QMP greeting");
  }
  auto const capabilities = client.execute("qmp_capabilities", left_until(deadline));
  if (!capabilities) return capabilities.error();
  return client;
}

QmpClient::QmpClient(QmpClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      buffer_(std::move(other.buffer_)),
      closed_(other.closed_) {}

QmpClient& QmpClient::operator=(QmpClient&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    buffer_ = std::move(other.buffer_);
    closed_ = other.closed_;
  }
  return *this;
}

QmpClient::~QmpClient() {
  if (fd_ >= 0) ::close(fd_);
}

result<bj::value> QmpClient::execute(std::string_view command, std::chrono::milliseconds timeout) {
  auto const deadline = Clock::now() + timeout;
  bj::object request;
  request["execute"] = command;
  auto const text = json::serialize(request) + "\r\n";
  std::size_t sent = 0;
  while (sent < text.size()) {
    ssize_t const n = ::send(fd_, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return os_error("send", errno);
    pollfd p{.fd = fd_, .events = POLLOUT, .revents = 0};
    int const ready = ::poll(&p, 1, remaining_ms(deadline));
    if (ready == 0) return timeout_error("sending " + std::string(command));
    if (ready < 0 && errno != EINTR) return os_error("poll", errno);
  }

  auto reply = read_reply(deadline);
  if (!reply) return reply.error().with_context(command);
  auto const* object = reply->if_object();
  if (object != nullptr) {
    if (auto const* value = object->if_contains("return")) return *value;
    if (auto const* error = object->if_contains("error"); error != nullptr && error->is_object()) {
      auto text_of = [&](std::string_view key) {
        auto const* v = error->as_object().if_contains(key);
        return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string("?");
      };
      return Error(errc::qmp_error, "QMP: " + std::string(command) + ": " + text_of("class") +
                                        ": " + text_of("desc"));
    }
  }
  return Error(errc::qmp_error, "QMP: " + std::string(command) + ": unexpected reply");
}

result<bj::value> QmpClient::read_reply(Clock::time_point deadline) {
  for (;;) {
    auto line = read_line(deadline);
    if (!line) return line.error();
    if (line->find_first_not_of(" \t\r") == std::string::npos) continue;
    auto doc = json::parse(*line, {.max_bytes = kMaxMessage, .max_depth = 16});
    if (!doc || !doc->is_object()) {
      return Error(errc::qmp_error, "QMP: the server sent something that is not a JSON object");
    }
    if (doc->as_object().contains("event")) continue;  // asynchronous; not our answer
    return std::move(*doc);
  }
}

result<std::string> QmpClient::read_line(Clock::time_point deadline) {
  for (;;) {
    if (auto const nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    if (buffer_.size() > kMaxMessage) {
      return Error(errc::qmp_error,
                   "QMP: a message longer than " + std::to_string(kMaxMessage) + " bytes");
    }
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    int const ready = ::poll(&p, 1, remaining_ms(deadline));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return os_error("poll", errno);
    }
    if (ready == 0) return timeout_error("waiting for an answer");
    char chunk[4096];
    ssize_t const n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      if (errno == ECONNRESET) closed_ = true;
      return os_error("recv", errno);
    }
    if (n == 0) {
      closed_ = true;
      return Error(errc::qmp_error, "QMP: the server closed the connection");
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

result<std::string> qmp_query_status(std::filesystem::path const& socket,
                                     std::chrono::milliseconds timeout) {
  auto const deadline = Clock::now() + timeout;
  auto client = QmpClient::connect(socket, timeout);
  if (!client) return client.error();
  auto status = client->execute("query-status", left_until(deadline));
  if (!status) return status.error();
  auto const* object = status->if_object();
  auto const* state = object != nullptr ? object->if_contains("status") : nullptr;
  if (state == nullptr || !state->is_string()) {
    return Error(errc::qmp_error, "QMP: query-status: no status in the reply");
  }
  return std::string(state->as_string());
}

result<void> qmp_quit(std::filesystem::path const& socket, std::chrono::milliseconds timeout) {
  auto const deadline = Clock::now() + timeout;
  auto client = QmpClient::connect(socket, timeout);
  if (!client) return client.error();
  auto done = client->execute("quit", left_until(deadline));
  // QEMU may exit before its answer is read: a closed connection is what quit asked for.
  if (!done && !client->closed()) return done.error();
  return {};
}

}  // namespace ee::launcher::detail
