#pragma once
// The SQLite layer under the registry stores: RAII owners of sqlite3* and sqlite3_stmt*, a
// per-connection cache of prepared statements, transactions that roll back unless committed, and
// a Database that serialises writers on one connection while readers use a small pool (WAL lets
// readers run beside the writer and never see a half-committed transaction).
//
// Nothing here is public: include/easyenclave/registry/sqlite.hpp exposes only the factory.
#include <easyenclave/error.hpp>
#include <easyenclave/registry/error.hpp>
#include <easyenclave/registry/sqlite.hpp>
#include <easyenclave/registry/types.hpp>

#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace ee::registry::sqlite {

/// Maps an SQLite result code onto registry::errc: constraint violations are conflicts, a file
/// that is not a database (or is damaged) is store_corrupt, and everything else (busy, I/O, full
/// disk, cannot open, out of memory) is store_unavailable. The detail is `what` plus SQLite's
/// message for `db` (or for `rc` when `db` is null); SQLite's messages name tables and columns,
/// never bound values.
Error make_error(int rc, sqlite3* db, std::string_view what);

/// Nanoseconds since the Unix epoch: exact for system_clock on Linux, whose tick is 1 ns, and
/// good until the year 2262.
std::int64_t to_nanos(TimePoint t) noexcept;
TimePoint from_nanos(std::int64_t nanos) noexcept;

/// A cached prepared statement in use. Parameters are bound left to right (`?` placeholders, in
/// the order of the SQL text). The destructor resets the statement, so a SELECT never holds its
/// read snapshot past the Query's scope, and clears the bindings, so no bound view outlives the
/// data it points at. Text is bound without copying: bound strings must outlive the last step().
class Query {
 public:
  Query(sqlite3_stmt* stmt, sqlite3* db) noexcept : stmt_(stmt), db_(db) {}
  Query(Query&& other) noexcept;
  Query& operator=(Query&&) = delete;
  Query(Query const&) = delete;
  Query& operator=(Query const&) = delete;
  ~Query();

  Query& bind_text(std::string_view value);
  Query& bind_int(std::int64_t value);
  Query& bind_bool(bool value) { return bind_int(value ? 1 : 0); }
  Query& bind_time(TimePoint value) { return bind_int(to_nanos(value)); }
  Query& bind_optional_time(std::optional<TimePoint> const& value);

  /// true: a row is available; false: the statement is done. A failed bind is reported here.
  result<bool> step();
  /// Steps to the end, ignoring rows (INSERT, UPDATE, DELETE).
  result<void> run();
  /// Rows changed by the last run() of this connection.
  std::int64_t changes() const noexcept;

  // Column readers for the current row. A column whose stored type is not the expected one (text,
  // integer; NULL only for the optional reader) yields an empty value and marks the row bad;
  // check_row() then names the column.
  std::string text(int column);
  /// text() without the copy: valid until the next step() or the Query's end.
  std::string_view text_view(int column);
  std::int64_t integer(int column);
  bool boolean(int column) { return integer(column) != 0; }
  TimePoint time(int column) { return from_nanos(integer(column)); }
  std::optional<TimePoint> optional_time(int column);
  /// store_corrupt naming the first column read with an unexpected type; success otherwise.
  result<void> check_row() const;

 private:
  bool expect_type(int column, int type);

  sqlite3_stmt* stmt_;
  sqlite3* db_;
  int next_parameter_ = 1;
  int bind_rc_ = SQLITE_OK;
  int bad_column_ = -1;
};

/// One sqlite3 connection and its prepared statements. Not thread-safe: the Database gives each
/// connection to one thread at a time.
class Connection {
 public:
  /// Opens `filename` with `flags` (SQLITE_OPEN_*), extended result codes and `busy_timeout`.
  static result<std::unique_ptr<Connection>> open(std::string const& filename, int flags,
                                                  std::chrono::milliseconds busy_timeout);
  Connection(Connection const&) = delete;
  Connection& operator=(Connection const&) = delete;
  ~Connection();

  /// The prepared statement for `sql` (one statement), prepared on first use and kept for the
  /// connection's lifetime. Only one Query per statement may be live at a time.
  result<Query> query(std::string_view sql);
  /// Runs parameterless SQL (pragmas, migration scripts) with sqlite3_exec.
  result<void> exec(char const* sql);
  sqlite3* handle() const noexcept { return db_; }

 private:
  explicit Connection(sqlite3* db) noexcept : db_(db) {}

  struct StatementDeleter {
    void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
  };
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view sql) const noexcept {
      return std::hash<std::string_view>{}(sql);
    }
  };

  sqlite3* db_;
  std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, StatementDeleter>, SqlHash,
                     std::equal_to<>>
      statements_;
};

/// A transaction on a connection: rolled back by the destructor unless commit() succeeded, so an
/// error return (or an exception) in the middle of a method leaves the database unchanged.
class Transaction {
 public:
  explicit Transaction(Connection& connection) noexcept : connection_(connection) {}
  Transaction(Transaction const&) = delete;
  Transaction& operator=(Transaction const&) = delete;
  ~Transaction();

  /// BEGIN IMMEDIATE when `write` (takes the write lock now, so the busy timeout applies at the
  /// start and never mid-transaction), else BEGIN (a read snapshot from the first read).
  result<void> begin(bool write);
  result<void> commit();

 private:
  Connection& connection_;
  bool open_ = false;
};

/// The database behind the four stores. Thread-safe.
class Database {
 public:
  /// Opens or creates the database, enables WAL (files) and foreign keys, applies migrations and
  /// opens the read pool. ":memory:" (and a file where WAL cannot be enabled, or
  /// read_connections == 0) uses the single writer connection for reads too.
  static result<std::shared_ptr<Database>> open(std::filesystem::path const& path,
                                                SqliteOptions const& options);
  Database(Database const&) = delete;
  Database& operator=(Database const&) = delete;
  ~Database();

  /// Runs `f(Connection&) -> result<T>` in a write transaction (BEGIN IMMEDIATE ... COMMIT) on
  /// the writer connection; commits only when `f` succeeds. Errors are prefixed with `what`.
  template <class F>
  std::invoke_result_t<F&, Connection&> write(std::string_view what, F&& f) {
    std::lock_guard lock(writer_mutex_);
    return in_transaction(*writer_, true, what, f);
  }

  /// Runs `f(Connection&) -> result<T>` in a read transaction on a pooled read connection (the
  /// writer when there is no pool), so every statement of `f` sees one snapshot.
  template <class F>
  std::invoke_result_t<F&, Connection&> read(std::string_view what, F&& f) {
    if (idle_readers_capacity_ == 0) {
      std::lock_guard lock(writer_mutex_);
      return in_transaction(*writer_, false, what, f);
    }
    ReaderLease lease(*this);
    return in_transaction(lease.connection(), false, what, f);
  }

 private:
  Database() = default;

  class ReaderLease {
   public:
    explicit ReaderLease(Database& db);
    ~ReaderLease();
    ReaderLease(ReaderLease const&) = delete;
    ReaderLease& operator=(ReaderLease const&) = delete;
    Connection& connection() const noexcept { return *connection_; }

   private:
    Database& db_;
    Connection* connection_;
  };

  template <class F>
  static std::invoke_result_t<F&, Connection&> in_transaction(Connection& connection, bool write,
                                                              std::string_view what, F& f) {
    Transaction tx(connection);
    if (auto begun = tx.begin(write); !begun) return begun.error().with_context(what);
    auto out = f(connection);
    if (!out) return out.error().with_context(what);
    if (auto committed = tx.commit(); !committed) return committed.error().with_context(what);
    return out;
  }

  std::mutex writer_mutex_;
  std::unique_ptr<Connection> writer_;

  std::mutex readers_mutex_;
  std::condition_variable reader_returned_;
  std::vector<std::unique_ptr<Connection>> readers_;  // owns the pool
  std::vector<Connection*> idle_readers_;             // the pool's free list
  std::size_t idle_readers_capacity_ = 0;             // readers_.size(), read without the lock
};

}  // namespace ee::registry::sqlite
