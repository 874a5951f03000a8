#pragma once
// A real PostgreSQL server for tests: Debian's server binaries (package `postgresql`, installed by
// scripts/install-deps.sh), a cluster made with initdb in a private temporary directory, listening
// on a free loopback port and on a unix socket in that directory, run as an unprivileged user
// (`nobody`) when the test runs as root, since the server refuses root. Stopped and removed with
// the object.
//
// One server serves a whole test binary (shared_postgres(), started on first use); each test takes
// a fresh database of its own (fresh_database_url(), created from template0) or, cheaper, a fresh
// schema (fresh_schema_url()).
#include <filesystem>
#include <memory>
#include <string>

#include <sys/types.h>

namespace ee::test {

class PostgresServer {
 public:
  /// Starts a server; null with `why` set when the binaries are missing or it does not start.
  static std::unique_ptr<PostgresServer> start(std::string& why);
  ~PostgresServer();
  PostgresServer(PostgresServer const&) = delete;
  PostgresServer& operator=(PostgresServer const&) = delete;

  int port() const noexcept { return port_; }
  /// The server accepts TLS too (ssl=on, plain connections still allowed), with a certificate
  /// for 127.0.0.1 and localhost issued by the root in ca_file(); other_ca_file() is an
  /// unrelated root, for a client that must refuse the server.
  std::filesystem::path ca_file() const { return dir_ / "ca.pem"; }
  std::filesystem::path other_ca_file() const { return dir_ / "other_ca.pem"; }
  /// A URL of `database` on this server for the superuser "ee" (trust authentication).
  std::string url(std::string const& database) const;
  /// Creates database `name` (from template0, UTF-8); false with `why` on failure.
  bool create_database(std::string const& name, std::string& why) const;
  /// Runs `sql` as the superuser on `database`; the first value of the first row ("" when
  /// none), or "error: ..." on failure.
  std::string admin(std::string const& sql, std::string const& database = "postgres") const;
  /// The database name of a URL of this server (its path, without the parameters).
  static std::string database_of(std::string const& url);

 private:
  PostgresServer() = default;

  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

/// The server of this test binary, started on first use and stopped at exit; null when it cannot
/// start (then postgres_unavailable() says why).
PostgresServer* shared_postgres();
/// Why the shared server is unavailable ("" when it runs). The message names
/// scripts/install-deps.sh when the server binaries are missing.
std::string postgres_unavailable();
/// Whether a missing server fails the tests rather than skips them: under CI=true.
bool postgres_required();
/// Stops the shared server (a gtest Environment's TearDown calls it; otherwise it stops at exit).
void stop_shared_postgres();
/// A URL of a new, empty database on the shared server, with sslmode=disable ("" when
/// unavailable).
std::string fresh_database_url();
/// A URL of a new, empty schema of one database of the shared server, first on the connections'
/// search_path (libpq's `options` parameter): as isolated from other tests as a database for
/// everything but database-wide objects (advisory locks, pg_stat_activity), and about ten times
/// cheaper to make than a database. "" when unavailable.
std::string fresh_schema_url();

}  // namespace ee::test
