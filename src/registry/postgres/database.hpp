#pragma once
// The libpq layer under the PostgreSQL stores: text-format parameters, an owned PGresult with
// row readers, a Session (one connection with its cache of prepared statements), a pool of
// sessions that replaces lost connections, and Database::run, which runs one store call as a
// unit, retrying it when the server asks for that (serialization failure, deadlock) or when the
// connection was lost before anything could have been committed.
//
// Nothing here is public: include/easyenclave/registry/postgres.hpp exposes only the factory.
#include <easyenclave/error.hpp>
#include <easyenclave/registry/error.hpp>
#include <easyenclave/registry/postgres.hpp>
#include <easyenclave/registry/types.hpp>

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace ee::registry::postgres {

/// Nanoseconds since the Unix epoch (the stored form of every time).
std::int64_t to_nanos(TimePoint t) noexcept;
TimePoint from_nanos(std::int64_t nanos) noexcept;

/// The substrings of a connection URL that must never appear in a message: its password, raw and
/// percent-decoded, from the userinfo and from a `password=` parameter.
std::vector<std::string> url_secrets(std::string_view url);
/// `text` with every secret replaced by "***".
std::string scrub(std::string text, std::vector<std::string> const& secrets);

/// Parameters of one statement, in text format ($1, $2, ... in the order added). Values are
/// copied, so temporaries may be passed.
class Params {
 public:
  Params& text(std::string_view value);
  Params& integer(std::int64_t value);
  Params& boolean(bool value) { return text(value ? "t" : "f"); }
  Params& time(TimePoint value) { return integer(to_nanos(value)); }
  Params& optional_time(std::optional<TimePoint> const& value);
  Params& null();

  int size() const noexcept { return static_cast<int>(values_.size()); }
  /// libpq's array of value pointers (null for SQL NULL); valid until the next change.
  char const* const* pointers() const;

 private:
  std::vector<std::optional<std::string>> values_;
  mutable std::vector<char const*> pointers_;
};

/// A row of a Rows, read by column. A value that is not of the expected form (an integer column
/// that does not parse, a NULL where none may be) yields an empty value and marks the row bad;
/// check() then names the column.
class Row {
 public:
  Row(PGresult const* result, int row) noexcept : result_(result), row_(row) {}
  std::string text(int column);
  std::int64_t integer(int column);
  bool boolean(int column);
  TimePoint time(int column) { return from_nanos(integer(column)); }
  std::optional<TimePoint> optional_time(int column);
  result<void> check() const;

 private:
  bool present(int column);
  void mark_bad(int column) noexcept {
    if (bad_column_ < 0) bad_column_ = column;
  }

  PGresult const* result_;
  int row_;
  int bad_column_ = -1;
};

/// The owned result of one statement that succeeded.
class Rows {
 public:
  explicit Rows(PGresult* result) noexcept : result_(result) {}
  int size() const noexcept { return PQntuples(result_.get()); }
  Row row(int index) const noexcept { return Row(result_.get(), index); }
  /// Rows an INSERT, UPDATE or DELETE changed.
  std::int64_t changed() const noexcept;
  ExecStatusType status() const noexcept { return PQresultStatus(result_.get()); }
  PGresult const* get() const noexcept { return result_.get(); }

 private:
  struct Clear {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
  };
  std::unique_ptr<PGresult, Clear> result_;
};

/// What a store call may do, which decides whether a lost connection makes it safe to retry.
enum class Kind {
  read,         ///< reads only (autocommit): always safe to run again
  write,        ///< one writing statement (autocommit): unknown outcome when the link drops mid-way
  transaction,  ///< BEGIN ... COMMIT: safe to run again unless the link dropped during COMMIT
};

/// One connection and its prepared statements. Used by one thread at a time (the pool leases it).
class Session {
 public:
  Session(PGconn* conn, std::shared_ptr<std::vector<std::string> const> secrets) noexcept
      : conn_(conn), secrets_(std::move(secrets)) {}
  Session(Session const&) = delete;
  Session& operator=(Session const&) = delete;
  ~Session();

  /// Runs `sql` (one statement, $n parameters) as a prepared statement, prepared on first use on
  /// this connection. Errors map SQLSTATE onto registry::errc (unique and other constraint
  /// violations: conflict; everything else: store_unavailable).
  result<Rows> exec(std::string_view sql, Params const& params = {});
  /// Runs parameterless SQL (BEGIN, COMMIT, migration scripts) with the simple protocol.
  result<void> simple(char const* sql);

  /// Whether the connection is gone (the pool then replaces it).
  bool broken() const noexcept { return PQstatus(conn_) != CONNECTION_OK; }
  /// Whether an idle session may be used, without a round trip: nothing may be waiting on its
  /// socket. A backend that was terminated, or a server that shut down or failed over, has sent
  /// an error and closed the connection, which leaves the socket readable; such a session is
  /// replaced before a statement is sent on it (where a write's outcome would be unknown).
  bool alive() const noexcept;

  // --- for Database::run: what the latest failure says about trying again ---
  void begin_call(Kind kind) noexcept;
  /// The SQLSTATE of the latest failed statement of this call ("" for none or a client-side
  /// failure).
  std::string const& failed_state() const noexcept { return failed_state_; }
  /// The latest failure lost the connection at a point where a write may have committed.
  bool outcome_unknown() const noexcept { return outcome_unknown_; }
  bool failed() const noexcept { return failed_; }
  void set_in_transaction(bool open) noexcept { in_transaction_ = open; }

 private:
  Error failure(PGresult const* result, std::string_view what, bool is_commit);

  PGconn* conn_;
  std::shared_ptr<std::vector<std::string> const> secrets_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
  Kind kind_ = Kind::read;
  bool in_transaction_ = false;
  bool failed_ = false;
  bool outcome_unknown_ = false;
  std::string failed_state_;
};

/// The pool of sessions and the runner of store calls. Thread-safe.
class Database {
 public:
  /// Connects once (to check the URL and the login) and applies the migrations.
  static result<std::shared_ptr<Database>> open(std::string const& url, PostgresOptions const& options);
  Database(Database const&) = delete;
  Database& operator=(Database const&) = delete;
  ~Database();

  /// Runs `f(Session&) -> result<T>` as one unit of `kind` (a transaction is BEGIN ... COMMIT,
  /// committed only when `f` succeeds). Retries up to options.max_attempts when the server
  /// reports 40001/40P01 or the connection was lost before anything could commit, on a fresh
  /// connection. Errors are prefixed with `what`.
  template <class F>
  std::invoke_result_t<F&, Session&> run(std::string_view what, Kind kind, F&& f) {
    using Result = std::invoke_result_t<F&, Session&>;
    std::optional<Result> out;
    for (int attempt = 1;; ++attempt) {
      auto lease = acquire();
      if (!lease) return lease.error().with_context(what);
      Session& s = **lease;
      s.begin_call(kind);
      out.emplace(attempt_once(s, kind, f));
      bool const again = s.failed() && retryable(s) && attempt < options_.max_attempts;
      release(std::move(*lease));
      if (*out || !again) break;
      back_off(attempt);
    }
    if (!*out) return out->error().with_context(what);
    return std::move(*out);
  }

 private:
  Database(std::string url, PostgresOptions const& options);

  template <class F>
  static std::invoke_result_t<F&, Session&> attempt_once(Session& s, Kind kind, F& f) {
    if (kind != Kind::transaction) return f(s);
    s.set_in_transaction(true);  // a BEGIN that fails commits nothing either
    if (auto begun = s.simple("BEGIN"); !begun) return begun.error();
    auto out = f(s);
    if (out) {
      auto committed = s.simple("COMMIT");
      s.set_in_transaction(false);
      if (!committed) return committed.error();
      return out;
    }
    if (!s.broken()) (void)s.simple("ROLLBACK");
    s.set_in_transaction(false);
    return out;
  }

  result<std::unique_ptr<Session>> connect();
  result<std::unique_ptr<Session>> acquire();
  void release(std::unique_ptr<Session> session);
  static bool retryable(Session const& s) noexcept;
  static void back_off(int attempt);
  result<void> migrate(Session& s);

  std::string url_;
  PostgresOptions options_;
  std::shared_ptr<std::vector<std::string> const> secrets_;

  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Session>> idle_;
  std::size_t open_ = 0;  // sessions in existence or being connected (idle + leased)
};

}  // namespace ee::registry::postgres
