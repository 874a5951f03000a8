#include "support/postgres_server.hpp"

#include "support/test_pki.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ee::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The server refuses to run as root; tests running as root start it as `nobody`.
constexpr uid_t kUnprivilegedUid = 65534;
constexpr gid_t kUnprivilegedGid = 65534;
constexpr char kSuperuser[] = "ee";

std::string install_hint() {
  return "PostgreSQL's server binaries (initdb, postgres under /usr/lib/postgresql/<version>/bin) "
         "were not found: run scripts/install-deps.sh (group test installs Debian's postgresql), "
         "or set EE_POSTGRES_BIN to their directory";
}

// The newest /usr/lib/postgresql/<version>/bin holding initdb and postgres, or EE_POSTGRES_BIN.
fs::path server_bin_dir() {
  auto usable = [](fs::path const& dir) {
    std::error_code ec;
    return fs::exists(dir / "initdb", ec) && fs::exists(dir / "postgres", ec);
  };
  if (char const* env = std::getenv("EE_POSTGRES_BIN"); env != nullptr && *env != '\0')
    return usable(env) ? fs::path(env) : fs::path();
  std::error_code ec;
  fs::path best;
  long best_version = -1;
  for (auto const& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    auto const version = std::strtol(entry.path().filename().c_str(), nullptr, 10);
    if (version > best_version && usable(entry.path() / "bin")) {
      best_version = version;
      best = entry.path() / "bin";
    }
  }
  return best;
}

int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

// Forks and runs `argv` with stdout and stderr appended to `log`, as `nobody` when root; the child
// gets SIGQUIT (the server's immediate shutdown) if this thread dies, so a crashed test leaves no
// server behind.
pid_t spawn(std::vector<std::string> const& argv, fs::path const& log) {
  std::vector<char*> args;
  for (auto const& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t const parent = ::getpid();
  pid_t const pid = ::fork();
  if (pid != 0) return pid;
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd >= 0) {
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
  }
  int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
  if (::geteuid() == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(kUnprivilegedGid) != 0 || ::setuid(kUnprivilegedUid) != 0)
      ::_exit(126);
  }
  // After the change of user, which clears it.
  ::prctl(PR_SET_PDEATHSIG, SIGQUIT);
  if (::getppid() != parent) ::_exit(125);
  ::execv(args[0], args.data());
  ::_exit(127);
}

std::string tail_of(fs::path const& file) {
  std::FILE* f = std::fopen(file.c_str(), "r");
  if (f == nullptr) return {};
  std::string text;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, f)) > 0;) text.append(buffer, n);
  std::fclose(f);
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

std::string conninfo(int port, std::string const& database) {
  return "host=127.0.0.1 port=" + std::to_string(port) + " user=" + kSuperuser + " dbname=" + database +
         " connect_timeout=5";
}

}  // namespace

std::unique_ptr<PostgresServer> PostgresServer::start(std::string& why) {
  auto const bin = server_bin_dir();
  if (bin.empty()) {
    why = install_hint();
    return nullptr;
  }
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  std::string pattern = (fs::temp_directory_path() / "ee-postgres-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    why = "cannot make a temporary directory: " + std::string(std::strerror(errno));
    return nullptr;
  }
  server->dir_ = pattern;
  if (::geteuid() == 0 && ::chown(pattern.c_str(), kUnprivilegedUid, kUnprivilegedGid) != 0) {
    why = "cannot hand the temporary directory to nobody: " + std::string(std::strerror(errno));
    return nullptr;
  }
  auto const data = server->dir_ / "data";
  auto const initdb_log = server->dir_ / "initdb.log";
  pid_t const initdb = spawn({(bin / "initdb").string(), "-D", data.string(), "-U", kSuperuser, "-A", "trust",
                              "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"},
                             initdb_log);
  int status = 0;
  if (initdb < 0 || ::waitpid(initdb, &status, 0) != initdb || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    why = "initdb failed: " + tail_of(initdb_log);
    return nullptr;
  }
  // TLS: a server certificate from a root of the test's own, and an unrelated root.
  auto const ca = CertificateAuthority::create_root("easyenclave test PostgreSQL CA");
  auto const tls = write_pem_files(
      ca.issue({.common_name = "localhost", .dns_names = {"localhost"}, .ip_addresses = {"127.0.0.1"}}),
      server->dir_, "server");
  std::ofstream(server->dir_ / "ca.pem") << ca.credential().certificate_pem();
  std::ofstream(server->dir_ / "other_ca.pem")
      << CertificateAuthority::create_root("unrelated CA").credential().certificate_pem();
  if (::geteuid() == 0) {
    // The server reads its key as itself and refuses one others may read (write_pem_files: 0600).
    for (auto const& file : {tls.certificate, tls.private_key}) {
      if (::chown(file.c_str(), kUnprivilegedUid, kUnprivilegedGid) != 0) {
        why = "cannot hand the TLS files to nobody: " + std::string(std::strerror(errno));
        return nullptr;
      }
    }
  }
  // A port taken between the probe and the bind makes the server exit at once: try again.
  for (int attempt = 0; attempt < 5; ++attempt) {
    int const port = free_loopback_port();
    auto const log = server->dir_ / "server.log";
    // Durability off (a test cluster); a small footprint; unix socket in the private directory;
    // deadlocks found within 100 ms (a test makes one).
    pid_t const pid = spawn({(bin / "postgres").string(), "-D", data.string(), "-p", std::to_string(port), "-k",
                             server->dir_.string(), "-h", "127.0.0.1", "-c", "fsync=off", "-c",
                             "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200",
                             "-c", "shared_buffers=16MB", "-c", "log_min_messages=warning", "-c", "deadlock_timeout=100ms",
                             "-c", "ssl=on", "-c",
                             "ssl_cert_file=" + tls.certificate.string(), "-c",
                             "ssl_key_file=" + tls.private_key.string()},
                            log);
    if (pid < 0) break;
    auto const deadline = std::chrono::steady_clock::now() + 30s;
    bool exited = false;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        break;
      }
      if (PQping(conninfo(port, "postgres").c_str()) == PQPING_OK) {
        server->pid_ = pid;
        server->port_ = port;
        return server;
      }
      std::this_thread::sleep_for(20ms);
    }
    if (!exited) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
    }
    why = "the PostgreSQL server did not start: " + tail_of(log);
  }
  return nullptr;
}

PostgresServer::~PostgresServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGINT);  // fast shutdown: disconnects clients, no checkpoint wait worth noting
    int status = 0;
    auto const deadline = std::chrono::steady_clock::now() + 10s;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(10ms);
    }
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string PostgresServer::url(std::string const& database) const {
  return "postgresql://" + std::string(kSuperuser) + "@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::string PostgresServer::database_of(std::string const& url) {
  auto const path = url.substr(0, url.find('?'));
  return path.substr(path.rfind('/') + 1);
}

std::string PostgresServer::admin(std::string const& sql, std::string const& database) const {
  PGconn* conn = PQconnectdb(conninfo(port_, database).c_str());
  std::string out;
  if (PQstatus(conn) != CONNECTION_OK) {
    out = "error: " + std::string(PQerrorMessage(conn));
  } else {
    PGresult* r = PQexec(conn, sql.c_str());
    auto const status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
      out = "error: " + std::string(PQresultErrorMessage(r));
    else if (status == PGRES_TUPLES_OK && PQntuples(r) > 0 && PQnfields(r) > 0)
      out = PQgetvalue(r, 0, 0);
    PQclear(r);
  }
  PQfinish(conn);
  return out;
}

bool PostgresServer::create_database(std::string const& name, std::string& why) const {
  // FILE_COPY copies the template's files and checkpoints, cheaper than logging every block
  // (WAL_LOG, the default since 15) for a small template on a server that does not fsync.
  auto const out = admin("CREATE DATABASE \"" + name + "\" TEMPLATE template0 ENCODING 'UTF8' STRATEGY FILE_COPY");
  if (out.rfind("error: ", 0) == 0) {
    why = out;
    return false;
  }
  return true;
}

namespace {

struct Shared {
  std::once_flag started;
  std::unique_ptr<PostgresServer> server;
  std::string why;
};

Shared& shared() {
  static Shared s;
  return s;
}

}  // namespace

PostgresServer* shared_postgres() {
  auto& s = shared();
  std::call_once(s.started, [&] { s.server = PostgresServer::start(s.why); });
  return s.server.get();
}

void stop_shared_postgres() {
  // Marks the server as started, so that a later call starts none.
  std::call_once(shared().started, [] {});
  shared().server.reset();
  if (shared().why.empty()) shared().why = "the test PostgreSQL server was stopped";
}

std::string postgres_unavailable() {
  if (shared_postgres() != nullptr) return {};
  return shared().why;
}

bool postgres_required() {
  char const* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

std::string fresh_database_url() {
  auto* server = shared_postgres();
  if (server == nullptr) return {};
  static std::atomic<int> counter{0};
  auto const name = "t" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
  std::string why;
  if (!server->create_database(name, why)) return {};
  // Plain connections: the server offers TLS, which libpq's default (prefer) would take, and
  // handshakes cost the tests time without testing anything but TLS.
  return server->url(name) + "?sslmode=disable";
}

std::string fresh_schema_url() {
  auto* server = shared_postgres();
  if (server == nullptr) return {};
  static std::once_flag created;
  static std::string database_why;
  std::call_once(created, [&] { server->create_database("schemas", database_why); });
  if (!database_why.empty()) return {};
  static std::atomic<int> counter{0};
  auto const schema = "s" + std::to_string(++counter);
  if (server->admin("CREATE SCHEMA " + schema, "schemas").rfind("error: ", 0) == 0) return {};
  // options=-c search_path=<schema>, percent-encoded for the URI.
  return server->url("schemas") + "?sslmode=disable&options=-c%20search_path%3D" + schema;
}

}  // namespace ee::test
