// The QMP client against a scripted server on a Unix socket: events skipped, errors reported,
// garbage refused, reads bounded, silence timed out.
#include "launcher/qmp.hpp"
#include "support/temp_dir.hpp"

#include <easyenclave/launcher/error.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using ee::launcher::errc;
using ee::launcher::detail::qmp_query_status;
using ee::launcher::detail::qmp_quit;

// One client, one script: sends `greeting` on connect (nothing when empty), then for each reply
// reads one command line and answers with the reply; an empty reply closes the connection
// instead. Afterwards it waits for the client to hang up. Every wait is bounded, so a test that
// goes wrong fails instead of hanging.
class ScriptedQmp {
 public:
  ScriptedQmp(fs::path const& path, std::string greeting, std::vector<std::string> replies)
      : greeting_(std::move(greeting)), replies_(std::move(replies)) {
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_, 1) != 0) {
      ADD_FAILURE() << "cannot listen on " << path;
      return;
    }
    thread_ = std::thread([this] { serve(); });
  }

  ~ScriptedQmp() {
    if (thread_.joinable()) thread_.join();
    ::close(listener_);
  }

  std::vector<std::string> received() {
    if (thread_.joinable()) thread_.join();
    return received_;
  }

 private:
  static bool readable(int fd) {
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    return ::poll(&p, 1, 5000) == 1;
  }

  static void send_all(int fd, std::string const& text) {
    for (std::size_t sent = 0; sent < text.size();) {
      auto const n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  }

  void serve() {
    if (!readable(listener_)) return;
    int const fd = ::accept(listener_, nullptr, nullptr);
    if (fd < 0) return;
    if (!greeting_.empty()) send_all(fd, greeting_);
    std::string pending;
    char chunk[4096];
    for (auto const& reply : replies_) {
      while (pending.find('\n') == std::string::npos) {
        if (!readable(fd)) break;
        auto const n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) break;
        pending.append(chunk, static_cast<std::size_t>(n));
      }
      auto const nl = pending.find('\n');
      if (nl == std::string::npos) break;
      received_.push_back(pending.substr(0, nl));
      pending.erase(0, nl + 1);
      if (reply.empty()) {  // hang up without answering
        ::close(fd);
        return;
      }
      send_all(fd, reply);
    }
    // Until the client hangs up (or gives up).
    while (readable(fd) && ::recv(fd, chunk, sizeof chunk, 0) > 0) {
    }
    ::close(fd);
  }

  int listener_ = -1;
  std::string greeting_;
  std::vector<std::string> replies_;
  std::vector<std::string> received_;
  std::thread thread_;
};

constexpr char kGreeting[] =
    R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}})"
    "\r\n";
constexpr char kOk[] = "{\"return\": {}}\r\n";

class QmpClientTest : public ::testing::Test {
 protected:
  ee::test::TempDir dir_;
  fs::path socket_ = dir_.path() / "qmp.sock";
};

TEST_F(QmpClientTest, NegotiatesSkipsEventsAndReadsTheStatus) {
  ScriptedQmp server(socket_, kGreeting,
                     {kOk,
                      "{\"event\": \"RESUME\", \"timestamp\": {}}\r\n"
                      "{\"return\": {\"status\": \"paused\", \"running\": false}}\r\n"});
  auto status = qmp_query_status(socket_, 5s);
  ASSERT_TRUE(status) << status.error().message();
  EXPECT_EQ(*status, "paused");
  auto const got = server.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_NE(got[0].find("\"qmp_capabilities\""), std::string::npos) << got[0];
  EXPECT_NE(got[1].find("\"query-status\""), std::string::npos) << got[1];
}

TEST_F(QmpClientTest, ReportsTheServersErrorWithItsClass) {
  ScriptedQmp server(socket_, kGreeting,
                     {kOk, R"({"error": {"class": "GenericError", "desc": "boom"}})" "\n"});
  auto status = qmp_query_status(socket_, 5s);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error(), errc::qmp_error);
  EXPECT_EQ(status.error(), ee::condition::upstream_failure);
  EXPECT_NE(status.error().message().find("GenericError: boom"), std::string::npos)
      << status.error().message();
}

TEST_F(QmpClientTest, RefusesAGreetingThatIsNotQmp) {
  ScriptedQmp server(socket_, "SSH-2.0-OpenSSH_9.2\r\n", {});
  auto status = qmp_query_status(socket_, 5s);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error(), errc::qmp_error);
}

TEST_F(QmpClientTest, RefusesAJsonGreetingWithoutQmp) {
  ScriptedQmp server(socket_, "{\"hello\": 1}\n", {});
  auto status = qmp_query_status(socket_, 5s);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error(), errc::qmp_error);
}

TEST_F(QmpClientTest, StopsReadingAMessageThatNeverEnds) {
  // Far more than any QMP message, and no newline: the client must give up on size, not wait
  // for the deadline or keep buffering.
  ScriptedQmp server(socket_, std::string(600 * 1024, 'x'), {});
  auto const start = std::chrono::steady_clock::now();
  auto status = qmp_query_status(socket_, 20s);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error(), errc::qmp_error);
  EXPECT_NE(status.error().message().find("longer than"), std::string::npos)
      << status.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST_F(QmpClientTest, TimesOutOnASilentServer) {
  ScriptedQmp server(socket_, "", {});
  auto const start = std::chrono::steady_clock::now();
  auto status = qmp_query_status(socket_, 300ms);
  auto const took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error(), errc::qmp_timeout);
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 3s);
}

TEST_F(QmpClientTest, NoSocketIsAQmpError) {
  auto status = qmp_query_status(socket_, 1s);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error(), errc::qmp_error);
}

TEST_F(QmpClientTest, APathTooLongForAUnixSocketIsAQmpError) {
  auto status = qmp_query_status(dir_.path() / std::string(200, 'a'), 1s);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error(), errc::qmp_error);
  EXPECT_NE(status.error().message().find("longer than"), std::string::npos);
}

TEST_F(QmpClientTest, QuitSucceedsWhenQemuHangsUpBeforeAnswering) {
  ScriptedQmp server(socket_, kGreeting, {kOk, ""});
  auto done = qmp_quit(socket_, 5s);
  EXPECT_TRUE(done) << done.error().message();
  auto const got = server.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_NE(got[1].find("\"quit\""), std::string::npos) << got[1];
}

TEST_F(QmpClientTest, QuitReportsARefusal) {
  ScriptedQmp server(socket_, kGreeting,
                     {kOk, R"({"error": {"class": "GenericError", "desc": "no"}})" "\n"});
  auto done = qmp_quit(socket_, 5s);
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error(), errc::qmp_error);
}

}  // namespace
