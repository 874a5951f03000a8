// bench_http_server: requests per second and latency of ee::http::Server on loopback, beside two
// servers answering the same small JSON in the same run:
//   - nginx (Debian's, when installed), the yardstick the server is held to: >= 0.7 of it;
//   - a raw Asio server answering a canned response without parsing anything, the physical
//     limit of this machine's loopback TCP and of the client.
//
// Usage: bench_http_server [server_threads (default 1)]
//
// All three are driven by the same client (ee::bench::keep_alive_load): 64 keep-alive
// connections from coroutines on one io_context thread, each sending a fixed GET and parsing the
// response with Beast; every response must be 200 with the expected body or the run fails. A run
// stops at 300 000 requests or 4 s, whichever comes first. Beside the rate, each row gives the
// server's CPU time per request (in this process: its CPU minus the client thread's; nginx: its
// workers' /proc/PID/stat), which a shared, loaded machine disturbs less than the rate, where the
// client thread and the server compete for the same cores.
//
// nginx runs with as many worker processes as the server has threads (one by default), so each
// side has the same number of cores' worth of serving; the master process only supervises. It is
// started by this program from a generated nginx.conf in a temporary directory (daemon off, pid
// file, error log and temp paths there, access_log off, keepalive_requests high enough that no
// connection is closed during the run) on a free loopback port, and stopped at the end. Without
// nginx on the PATH or in /usr/sbin, its row is skipped.
#include <easyenclave/http/router.hpp>
#include <easyenclave/http/server.hpp>

#include "support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kBody = R"({"ok":true,"n":42})";

double clock_seconds(clockid_t clock) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// User plus system CPU seconds of the processes whose parent is `parent` (nginx's workers).
double children_cpu_seconds(pid_t parent) {
  double ticks = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    auto const name = it->path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    std::ifstream in(it->path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto const after_name = stat.rfind(')');  // the command name may hold spaces
    if (after_name == std::string::npos) continue;
    std::istringstream fields(stat.substr(after_name + 2));
    std::string field;
    double cpu = 0;
    long ppid = -1;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i == 4) ppid = std::stol(field);
      if (i >= 14) cpu += std::stod(field);
    }
    if (ppid == parent) ticks += cpu;
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct Measured {
  ee::bench::KeepAliveLoad load{};
  double server_cpu_us = 0;  // the server's CPU time per request
};

// Drives the load; `server_cpu` reads the server's CPU seconds so far (null: a server in this
// process, whose CPU is the process's minus the client thread's).
Measured run_load(tcp::endpoint endpoint, std::function<double()> const& server_cpu = {}) {
  auto const cpu = [&server_cpu] {
    return server_cpu ? server_cpu()
                      : clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - clock_seconds(CLOCK_THREAD_CPUTIME_ID);
  };
  double const before = cpu();
  Measured out;
  out.load = ee::bench::keep_alive_load(endpoint, ee::bench::get_request("/json"),
                                        {.connections = 64, .max_requests = 300'000, .max_time = std::chrono::milliseconds(4000)},
                                        [](ee::bench::KeepAliveResponse const& r) {
                                          return r.result() == bhttp::status::ok && r.body() == kBody;
                                        });
  out.server_cpu_us = (cpu() - before) * 1e6 / static_cast<double>(std::max<std::size_t>(out.load.requests, 1));
  return out;
}

// The physical limit: read whatever arrives, answer one canned response per complete request
// header ("\r\n\r\n"), no parsing. A thin layer over the kernel's loopback TCP.
asio::awaitable<void> raw_connection(tcp::socket socket, std::string const& canned) {
  std::array<char, 16 * 1024> buffer{};
  std::string_view constexpr kEnd = "\r\n\r\n";
  std::size_t matched = 0;  // how much of kEnd the previous read ended with
  while (true) {
    auto [read_ec, n] = co_await socket.async_read_some(asio::buffer(buffer), kUseTuple);
    if (read_ec) co_return;
    std::size_t complete = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (buffer[i] == kEnd[matched]) {
        if (++matched == kEnd.size()) {
          ++complete;
          matched = 0;
        }
      } else {
        matched = buffer[i] == kEnd[0] ? 1 : 0;
      }
    }
    for (std::size_t i = 0; i < complete; ++i) {
      auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(canned), kUseTuple);
      if (write_ec) co_return;
    }
  }
}

asio::awaitable<void> raw_accept(tcp::acceptor& acceptor, std::string const& canned) {
  while (true) {
    auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
    if (ec) co_return;
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor.get_executor(), raw_connection(std::move(socket), canned), asio::detached);
  }
}

// ---- nginx -----------------------------------------------------------------------------------

std::string find_nginx() {
  for (char const* dir : {"/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"}) {
    auto const path = std::filesystem::path(dir) / "nginx";
    if (access(path.c_str(), X_OK) == 0) return path.string();
  }
  return {};
}

// A loopback port nobody listens on right now (the kernel's pick, released for nginx to bind).
std::uint16_t free_port() {
  asio::io_context ioc;
  tcp::acceptor probe(ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  return probe.local_endpoint().port();
}

bool accepts(tcp::endpoint endpoint) {
  asio::io_context ioc;
  tcp::socket socket(ioc);
  boost::system::error_code ec;
  socket.connect(endpoint, ec);
  return !ec;
}

// nginx on a loopback port, from a configuration of its own in a temporary directory; stopped
// (SIGTERM to the master, which stops its worker) and the directory removed when destroyed.
class Nginx {
 public:
  static std::optional<Nginx> start(std::size_t workers, std::string& why) {
    auto const binary = find_nginx();
    if (binary.empty()) {
      why = "nginx not installed (scripts/install-deps.sh bench)";
      return std::nullopt;
    }
    char dir_template[] = "/tmp/ee-bench-nginx-XXXXXX";
    if (mkdtemp(dir_template) == nullptr) {
      why = "mkdtemp failed";
      return std::nullopt;
    }
    Nginx nginx;
    nginx.dir_ = dir_template;
    auto const port = free_port();
    auto const dir = nginx.dir_.string();
    std::ofstream conf(nginx.dir_ / "nginx.conf");
    conf << "daemon off;\n"
         << "worker_processes " << workers << ";\n"
         << "pid " << dir << "/nginx.pid;\n"
         << "error_log " << dir << "/error.log warn;\n"
         << "events { worker_connections 1024; }\n"
         << "http {\n"
         << "  access_log off;\n"
         << "  client_body_temp_path " << dir << "/body;\n"
         << "  proxy_temp_path " << dir << "/proxy;\n"
         << "  fastcgi_temp_path " << dir << "/fastcgi;\n"
         << "  uwsgi_temp_path " << dir << "/uwsgi;\n"
         << "  scgi_temp_path " << dir << "/scgi;\n"
         << "  keepalive_requests 10000000;\n"
         << "  keepalive_timeout 60s;\n"
         << "  server {\n"
         << "    listen 127.0.0.1:" << port << ";\n"
         << "    location = /json { default_type application/json; return 200 '" << kBody << "'; }\n"
         << "  }\n"
         << "}\n";
    conf.close();
    auto const conf_path = (nginx.dir_ / "nginx.conf").string();
    auto const error_log = (nginx.dir_ / "error.log").string();
    pid_t const pid = fork();
    if (pid < 0) {
      why = "fork failed";
      return std::nullopt;
    }
    if (pid == 0) {
      // Ends with this program, however it ends; and holds none of its output pipes.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      int const null = open("/dev/null", O_RDWR);
      if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
      }
      // -e: the error log before the configuration is read (else /var/log/nginx), -p: the prefix.
      execl(binary.c_str(), "nginx", "-p", dir.c_str(), "-e", error_log.c_str(), "-c", conf_path.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    nginx.pid_ = pid;
    nginx.endpoint_ = tcp::endpoint(asio::ip::address_v4::loopback(), port);
    auto const deadline = Clock::now() + std::chrono::seconds(10);
    while (!accepts(nginx.endpoint_)) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        nginx.pid_ = -1;
        why = "nginx exited at start; see " + error_log;
        return std::nullopt;
      }
      if (Clock::now() > deadline) {
        why = "nginx did not listen within 10 s";
        return std::nullopt;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return nginx;
  }

  Nginx(Nginx&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)), dir_(std::move(other.dir_)), endpoint_(other.endpoint_) {
    other.dir_.clear();
  }
  Nginx& operator=(Nginx&&) = delete;
  ~Nginx() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  tcp::endpoint endpoint() const { return endpoint_; }
  /// CPU seconds of the workers so far.
  double workers_cpu_seconds() const { return children_cpu_seconds(pid_); }

 private:
  Nginx() = default;
  pid_t pid_ = -1;
  std::filesystem::path dir_{};
  tcp::endpoint endpoint_{};
};

double rate(Measured const& m) { return static_cast<double>(m.load.requests) / m.load.seconds; }

void print(char const* name, Measured& m) {
  auto& load = m.load;
  double const p50 = ee::bench::percentile(load.latencies_us, 0.50);
  double const p99 = ee::bench::percentile(load.latencies_us, 0.99);
  std::printf("%-26s %7zu req in %4.2f s %8.0f req/s  p50 %6.0f us  p99 %6.0f us  CPU %5.1f us/req  failures %zu\n",
              name, load.requests, load.seconds, rate(m), p50, p99, m.server_cpu_us, load.failures);
  if (load.failures != 0) std::printf("  first failure: %s\n", load.first_failure.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t threads = 1;
  if (argc > 1) threads = static_cast<std::size_t>(std::max(1, std::atoi(argv[1])));
  // nginx's master is this program's child; a failed write to a closed peer must not kill us.
  signal(SIGPIPE, SIG_IGN);

  std::printf("bench_http_server: 64 keep-alive connections, one client thread, stop at 300000 requests or "
              "4.0 s; server threads and nginx workers: %zu; hardware threads: %u\n",
              threads, std::thread::hardware_concurrency());

  // 1. ee::http::Server with one small JSON route.
  ee::http::Router router;
  router.get("/json", [](ee::http::RequestContext&) -> asio::awaitable<ee::result<ee::http::Response>> {
    co_return ee::http::json_response(bhttp::status::ok, std::string(kBody));
  });
  auto server = ee::http::Server::start(std::move(router),
                                        ee::http::ServerOptions{.host = "127.0.0.1", .port = 0, .threads = threads});
  if (!server) {
    std::fprintf(stderr, "server start failed: %s\n", server.error().message().c_str());
    return 1;
  }
  auto served = run_load((*server)->endpoint());
  (*server)->stop();

  // 2. nginx, the same body with keep-alive.
  std::string why;
  std::optional<Measured> by_nginx;
  if (auto nginx = Nginx::start(threads, why)) {
    by_nginx = run_load(nginx->endpoint(), [&nginx] { return nginx->workers_cpu_seconds(); });
  }

  // 3. The physical limit: raw Asio, canned response, same client, same machine, same run.
  std::string const canned = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                             std::to_string(kBody.size()) + "\r\n\r\n" + std::string(kBody);
  asio::io_context raw_ioc(1);
  tcp::acceptor acceptor(raw_ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  asio::co_spawn(raw_ioc, raw_accept(acceptor, canned), asio::detached);
  std::thread raw_thread([&raw_ioc] { raw_ioc.run(); });
  auto raw = run_load(acceptor.local_endpoint());
  raw_ioc.stop();
  raw_thread.join();

  char label[64];
  std::snprintf(label, sizeof label, "ee::http::Server (%zu thr)", threads);
  print(label, served);
  std::snprintf(label, sizeof label, "nginx (%zu worker)", threads);
  if (by_nginx) {
    print(label, *by_nginx);
  } else {
    std::printf("%-28s skipped: %s\n", label, why.c_str());
  }
  print("raw asio canned (1 thr)", raw);
  if (by_nginx) {
    std::printf("server / nginx: %.2f req/s, %.2f by CPU per request (nginx's / the server's)\n",
                rate(served) / rate(*by_nginx), by_nginx->server_cpu_us / served.server_cpu_us);
  }
  std::printf("server / physical limit: %.2f req/s, %.2f by CPU per request\n", rate(served) / rate(raw),
              raw.server_cpu_us / served.server_cpu_us);
  bool const failed =
      served.load.failures != 0 || raw.load.failures != 0 || (by_nginx && by_nginx->load.failures != 0);
  return failed ? 1 : 0;
}
