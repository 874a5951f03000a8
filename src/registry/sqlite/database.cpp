#include "registry/sqlite/database.hpp"

#include "detail/log.hpp"
#include "registry/sqlite/migrations.hpp"

#include <algorithm>
#include <climits>
#include <limits>
#include <new>
#include <utility>

namespace ee::registry::sqlite {
namespace {

// Every connection is used by one thread at a time (the writer under its mutex, readers leased
// from the pool), so SQLite's own per-connection mutex is redundant. A private cache keeps
// connections independent even if the application enabled shared-cache mode globally.
constexpr int kCommonFlags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE;
constexpr int kWriterFlags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | kCommonFlags;
// Readers are opened read-write because a WAL reader must be able to update the shared-memory
// index; `PRAGMA query_only` then refuses writes on them.
constexpr int kReaderFlags = SQLITE_OPEN_READWRITE | kCommonFlags;

constexpr char kBegin[] = "BEGIN";
constexpr char kBeginImmediate[] = "BEGIN IMMEDIATE";
constexpr char kCommit[] = "COMMIT";
constexpr char kRollback[] = "ROLLBACK";
constexpr char kJournalModeWal[] = "PRAGMA journal_mode = WAL";
constexpr char kUserVersion[] = "PRAGMA user_version";

// Per-connection settings. Foreign keys are off by default in SQLite and per connection.
// synchronous=NORMAL in WAL mode: a commit is durable against a crash of the process (the WAL is
// written before COMMIT returns) and fsynced at checkpoints; only an OS crash or power loss can
// roll back the newest commits. The registry is a cache that agents rebuild by re-registering,
// and FULL would cost an fsync per heartbeat.
constexpr char kWriterSetup[] = "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;";
constexpr char kReaderSetup[] = "PRAGMA foreign_keys = ON; PRAGMA query_only = ON;";

errc code_for(int rc) noexcept {
  switch (rc & 0xff) {  // the primary code of an extended result code
    case SQLITE_CONSTRAINT:
      return errc::conflict;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return errc::store_corrupt;
    default:
      return errc::store_unavailable;
  }
}

Error error_from(int rc, std::string_view what, std::string_view message) {
  std::string detail(what);
  detail += ": ";
  detail += message;
  detail += " (sqlite code ";
  detail += std::to_string(rc);
  detail += ')';
  return Error(code_for(rc), std::move(detail));
}

result<void> apply_migrations(Connection& connection) {
  Transaction tx(connection);
  if (auto begun = tx.begin(true); !begun) return begun.error();
  std::int64_t from = 0;
  {
    auto q = connection.query(kUserVersion);
    if (!q) return q.error();
    auto row = q->step();
    if (!row) return row.error();
    if (*row) from = q->integer(0);
  }
  auto const known = static_cast<std::int64_t>(kSchemaVersion);
  if (from > known || from < 0)
    return Error(errc::store_corrupt, "database schema version " + std::to_string(from) +
                                          " is newer than this build's " + std::to_string(known));
  if (from == known) return {};
  for (auto i = static_cast<std::size_t>(from); i < kMigrations.size(); ++i) {
    if (auto applied = connection.exec(kMigrations[i]); !applied)
      return applied.error().with_context("migration " + std::to_string(i + 1));
  }
  // PRAGMA takes no parameters; the value is our own constant.
  auto const set_version = "PRAGMA user_version = " + std::to_string(known);
  if (auto set = connection.exec(set_version.c_str()); !set) return set.error();
  if (auto committed = tx.commit(); !committed) return committed.error();
  detail::log::info("registry", "migrated the database schema from version ", from, " to ",
                    known);
  return {};
}

}  // namespace

Error make_error(int rc, sqlite3* db, std::string_view what) {
  // sqlite3_errmsg describes the connection's latest failure, which is the call that returned
  // rc: every connection is used by one thread at a time.
  return error_from(rc, what, db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

std::int64_t to_nanos(TimePoint t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

TimePoint from_nanos(std::int64_t nanos) noexcept {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(nanos)));
}

// --- Query ---------------------------------------------------------------------------------

Query::Query(Query&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      db_(other.db_),
      next_parameter_(other.next_parameter_),
      bind_rc_(other.bind_rc_),
      bad_column_(other.bad_column_) {}

Query::~Query() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Query& Query::bind_text(std::string_view value) {
  // A null pointer would bind SQL NULL; an empty view must bind ''.
  char const* data = value.data() != nullptr ? value.data() : "";
  // Destructor 0 is SQLITE_STATIC (spelled without the macro's C-style cast): the caller keeps
  // the text alive until the statement is reset.
  int const rc = sqlite3_bind_text64(stmt_, next_parameter_++, data, value.size(),
                                     sqlite3_destructor_type{}, SQLITE_UTF8);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Query& Query::bind_int(std::int64_t value) {
  int const rc = sqlite3_bind_int64(stmt_, next_parameter_++, value);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Query& Query::bind_optional_time(std::optional<TimePoint> const& value) {
  if (value) return bind_time(*value);
  int const rc = sqlite3_bind_null(stmt_, next_parameter_++);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

result<bool> Query::step() {
  if (bind_rc_ != SQLITE_OK) return make_error(bind_rc_, db_, "bind");
  int const rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return make_error(rc, db_, "step");
}

result<void> Query::run() {
  for (;;) {
    auto row = step();
    if (!row) return row.error();
    if (!*row) return {};
  }
}

std::int64_t Query::changes() const noexcept { return sqlite3_changes(db_); }

bool Query::expect_type(int column, int type) {
  if (sqlite3_column_type(stmt_, column) == type) return true;
  if (bad_column_ < 0) bad_column_ = column;
  return false;
}

std::string Query::text(int column) {
  if (!expect_type(column, SQLITE_TEXT)) return {};
  // column_text before column_bytes: the documented order that avoids a second conversion.
  auto const* data = sqlite3_column_text(stmt_, column);
  auto const size = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column));
  if (data == nullptr) return {};
  return std::string(reinterpret_cast<char const*>(data), size);
}

std::string_view Query::text_view(int column) {
  if (!expect_type(column, SQLITE_TEXT)) return {};
  auto const* data = sqlite3_column_text(stmt_, column);
  auto const size = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column));
  if (data == nullptr) return {};
  return {reinterpret_cast<char const*>(data), size};
}

std::int64_t Query::integer(int column) {
  if (!expect_type(column, SQLITE_INTEGER)) return 0;
  return sqlite3_column_int64(stmt_, column);
}

std::optional<TimePoint> Query::optional_time(int column) {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  return time(column);
}

result<void> Query::check_row() const {
  if (bad_column_ < 0) return {};
  char const* name = sqlite3_column_name(stmt_, bad_column_);
  return Error(errc::store_corrupt, std::string("column '") + (name != nullptr ? name : "?") +
                                        "' holds a value of the wrong type");
}

// --- Connection ----------------------------------------------------------------------------

result<std::unique_ptr<Connection>> Connection::open(std::string const& filename, int flags,
                                                     std::chrono::milliseconds busy_timeout) {
  sqlite3* db = nullptr;
  int const rc = sqlite3_open_v2(filename.c_str(), &db, flags, nullptr);
  if (db == nullptr) throw std::bad_alloc();  // SQLite could not allocate the handle
  // Owned from here: even a failed open returns a handle that must be closed.
  std::unique_ptr<Connection> connection(new Connection(db));
  if (rc != SQLITE_OK)
    return make_error(rc, db, "cannot open the registry database '" + filename + "'");
  sqlite3_extended_result_codes(db, 1);
  auto const ms = std::clamp<std::chrono::milliseconds::rep>(busy_timeout.count(), 0, INT_MAX);
  sqlite3_busy_timeout(db, static_cast<int>(ms));
  return connection;
}

Connection::~Connection() {
  statements_.clear();  // finalize every statement first, so the close below is not deferred
  sqlite3_close_v2(db_);
}

result<Query> Connection::query(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    if (sql.size() > static_cast<std::size_t>(INT_MAX))
      return Error(errc::store_unavailable, "SQL statement too long");
    sqlite3_stmt* raw = nullptr;
    char const* tail = nullptr;
    int const rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &raw, &tail);
    std::unique_ptr<sqlite3_stmt, StatementDeleter> stmt(raw);
    if (rc != SQLITE_OK) return make_error(rc, db_, "prepare");
    if (stmt == nullptr || tail != sql.data() + sql.size())
      return Error(errc::store_unavailable, "prepare: expected exactly one SQL statement");
    it = statements_.emplace(std::string(sql), std::move(stmt)).first;
  }
  return Query(it->second.get(), db_);
}

result<void> Connection::exec(char const* sql) {
  char* message = nullptr;
  int const rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return {};
  std::string const text = message != nullptr ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  return error_from(rc, "exec", text);
}

// --- Transaction ---------------------------------------------------------------------------

Transaction::~Transaction() {
  // SQLite rolls some failures back by itself (full disk, I/O errors); ROLLBACK is only valid
  // while a transaction is still open.
  if (!open_ || sqlite3_get_autocommit(connection_.handle()) != 0) return;
  if (auto q = connection_.query(kRollback)) (void)q->run();
}

result<void> Transaction::begin(bool write) {
  auto q = connection_.query(write ? kBeginImmediate : kBegin);
  if (!q) return q.error();
  if (auto done = q->run(); !done) return done.error();
  open_ = true;
  return {};
}

result<void> Transaction::commit() {
  auto q = connection_.query(kCommit);
  if (!q) return q.error();
  if (auto done = q->run(); !done) return done.error();
  open_ = false;
  return {};
}

// --- Database ------------------------------------------------------------------------------

Database::ReaderLease::ReaderLease(Database& db) : db_(db) {
  std::unique_lock lock(db_.readers_mutex_);
  db_.reader_returned_.wait(lock, [&] { return !db_.idle_readers_.empty(); });
  connection_ = db_.idle_readers_.back();
  db_.idle_readers_.pop_back();
}

Database::ReaderLease::~ReaderLease() {
  {
    std::lock_guard lock(db_.readers_mutex_);
    db_.idle_readers_.push_back(connection_);
  }
  db_.reader_returned_.notify_one();
}

Database::~Database() {
  // Readers first: the last connection to close checkpoints the WAL and removes it.
  idle_readers_.clear();
  readers_.clear();
  writer_.reset();
}

result<std::shared_ptr<Database>> Database::open(std::filesystem::path const& path,
                                                 SqliteOptions const& options) {
  if (path.empty()) return Error(errc::store_unavailable, "the registry database path is empty");
  // No SQLITE_OPEN_URI: the path is a file name, never parsed as a URI.
  std::string const filename = path.string();
  bool const in_memory = filename == ":memory:";

  std::shared_ptr<Database> db(new Database());
  auto writer = Connection::open(filename, kWriterFlags, options.busy_timeout);
  if (!writer) return writer.error();
  db->writer_ = std::move(*writer);
  Connection& w = *db->writer_;

  bool wal = false;
  if (!in_memory) {
    // journal_mode answers with the mode now in force; it stays "delete" where WAL is impossible
    // (a file system without shared memory), and then readers would only queue behind the
    // writer's locks, so the pool is not opened.
    auto q = w.query(kJournalModeWal);
    if (!q) return q.error();
    auto row = q->step();
    if (!row) return row.error();
    wal = *row && q->text(0) == "wal";
    if (!wal) detail::log::warn("registry", "WAL mode unavailable for ", filename,
                                "; using a single connection");
  }
  if (auto setup = w.exec(kWriterSetup); !setup) return setup.error();
  if (auto migrated = apply_migrations(w); !migrated) return migrated.error();

  if (wal) {
    for (std::size_t i = 0; i < options.read_connections; ++i) {
      auto reader = Connection::open(filename, kReaderFlags, options.busy_timeout);
      if (!reader) return reader.error();
      if (auto setup = (*reader)->exec(kReaderSetup); !setup) return setup.error();
      db->idle_readers_.push_back(reader->get());
      db->readers_.push_back(std::move(*reader));
    }
  }
  db->idle_readers_capacity_ = db->readers_.size();
  detail::log::debug("registry", "opened ", filename, " with ", db->readers_.size(),
                     " read connections");
  return db;
}

}  // namespace ee::registry::sqlite
