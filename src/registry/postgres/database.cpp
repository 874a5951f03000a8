#include "registry/postgres/database.hpp"

#include "detail/log.hpp"
#include "registry/postgres/migrations.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <new>
#include <random>
#include <thread>
#include <utility>

#include <poll.h>

namespace ee::registry::postgres {
namespace {

constexpr std::string_view kPostgresScheme = "postgres://";
constexpr std::string_view kPostgresqlScheme = "postgresql://";

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 percent-decoding, as libpq applies it to URI components; a malformed escape is kept.
std::string percent_decoded(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int const hi = hex_value(text[i + 1]);
      int const lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

// Where the URL's parts are: [scheme][userinfo@]hostlist[/dbname][?params]. Offsets into `url`;
// npos when absent.
struct UrlParts {
  std::size_t password_begin = std::string_view::npos;
  std::size_t password_end = std::string_view::npos;
  std::size_t query_begin = std::string_view::npos;  // after '?'
};

UrlParts url_parts(std::string_view url) {
  UrlParts parts;
  std::size_t start = 0;
  if (url.starts_with(kPostgresqlScheme)) start = kPostgresqlScheme.size();
  else if (url.starts_with(kPostgresScheme)) start = kPostgresScheme.size();
  else return parts;
  auto const query = url.find('?', start);
  if (query != std::string_view::npos) parts.query_begin = query + 1;
  auto const authority_end = std::min(url.find('/', start), query);
  auto const authority = url.substr(start, authority_end == std::string_view::npos
                                               ? std::string_view::npos
                                               : authority_end - start);
  // The last '@' ends the userinfo: a password may hold an unescaped '@' that libpq tolerates.
  auto const at = authority.rfind('@');
  if (at == std::string_view::npos) return parts;
  auto const colon = authority.find(':');
  if (colon == std::string_view::npos || colon > at) return parts;
  parts.password_begin = start + colon + 1;
  parts.password_end = start + at;
  return parts;
}

// Calls `on_password(begin, end)` for each `password=` value of the query string.
template <class F>
void for_each_password_parameter(std::string_view url, std::size_t query_begin, F on_password) {
  if (query_begin == std::string_view::npos) return;
  std::size_t pos = query_begin;
  while (pos <= url.size()) {
    auto end = url.find('&', pos);
    if (end == std::string_view::npos) end = url.size();
    auto const pair = url.substr(pos, end - pos);
    if (pair.starts_with("password=")) on_password(pos + 9, end);
    pos = end + 1;
  }
}

Error unavailable(std::string detail) { return Error(errc::store_unavailable, std::move(detail)); }

// SQLSTATE classes (PostgreSQL documentation, appendix A).
bool is_integrity_violation(std::string_view state) noexcept { return state.starts_with("23"); }

}  // namespace

std::int64_t to_nanos(TimePoint t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

TimePoint from_nanos(std::int64_t nanos) noexcept {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(nanos)));
}

std::vector<std::string> url_secrets(std::string_view url) {
  std::vector<std::string> out;
  auto add = [&](std::string_view raw) {
    if (raw.empty()) return;
    out.emplace_back(raw);
    auto decoded = percent_decoded(raw);
    if (!decoded.empty() && decoded != raw) out.push_back(std::move(decoded));
  };
  auto const parts = url_parts(url);
  if (parts.password_begin != std::string_view::npos)
    add(url.substr(parts.password_begin, parts.password_end - parts.password_begin));
  for_each_password_parameter(url, parts.query_begin,
                              [&](std::size_t b, std::size_t e) { add(url.substr(b, e - b)); });
  // Longest first, so a password that contains another is replaced whole.
  std::sort(out.begin(), out.end(), [](auto const& a, auto const& b) { return a.size() > b.size(); });
  return out;
}

std::string scrub(std::string text, std::vector<std::string> const& secrets) {
  for (auto const& secret : secrets) {
    for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos + 3))
      text.replace(pos, secret.size(), "***");
  }
  return text;
}

// --- Params ----------------------------------------------------------------------------------

Params& Params::text(std::string_view value) {
  values_.emplace_back(std::string(value));
  return *this;
}

Params& Params::integer(std::int64_t value) {
  values_.emplace_back(std::to_string(value));
  return *this;
}

Params& Params::optional_time(std::optional<TimePoint> const& value) {
  if (value) return time(*value);
  return null();
}

Params& Params::null() {
  values_.emplace_back(std::nullopt);
  return *this;
}

char const* const* Params::pointers() const {
  pointers_.clear();
  for (auto const& v : values_) pointers_.push_back(v ? v->c_str() : nullptr);
  return pointers_.data();
}

// --- Row, Rows -----------------------------------------------------------------------------

bool Row::present(int column) {
  if (column >= PQnfields(result_) || PQgetisnull(result_, row_, column) != 0) {
    mark_bad(column);
    return false;
  }
  return true;
}

std::string Row::text(int column) {
  if (!present(column)) return {};
  auto const length = PQgetlength(result_, row_, column);
  return std::string(PQgetvalue(result_, row_, column), static_cast<std::size_t>(length));
}

std::int64_t Row::integer(int column) {
  if (!present(column)) return 0;
  char const* begin = PQgetvalue(result_, row_, column);
  char const* end = begin + PQgetlength(result_, row_, column);
  std::int64_t value = 0;
  auto const [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr != end) {
    mark_bad(column);
    return 0;
  }
  return value;
}

bool Row::boolean(int column) {
  if (!present(column)) return false;
  std::string_view const v(PQgetvalue(result_, row_, column));
  if (v == "t") return true;
  if (v != "f") mark_bad(column);
  return false;
}

std::optional<TimePoint> Row::optional_time(int column) {
  if (column < PQnfields(result_) && PQgetisnull(result_, row_, column) != 0) return std::nullopt;
  return time(column);
}

result<void> Row::check() const {
  if (bad_column_ < 0) return {};
  char const* name = bad_column_ < PQnfields(result_) ? PQfname(result_, bad_column_) : nullptr;
  return Error(errc::store_corrupt, std::string("column '") + (name != nullptr ? name : "?") +
                                        "' holds a value of the wrong type");
}

std::int64_t Rows::changed() const noexcept {
  char const* text = PQcmdTuples(result_.get());
  std::int64_t n = 0;
  if (text != nullptr) std::from_chars(text, text + std::char_traits<char>::length(text), n);
  return n;
}

// --- Session -------------------------------------------------------------------------------

Session::~Session() { PQfinish(conn_); }

bool Session::alive() const noexcept {
  if (broken()) return false;
  pollfd p{.fd = PQsocket(conn_), .events = POLLIN, .revents = 0};
  // An idle connection receives nothing (no LISTEN here): readable means an error, EOF or reset.
  return p.fd >= 0 && ::poll(&p, 1, 0) == 0;
}

void Session::begin_call(Kind kind) noexcept {
  kind_ = kind;
  in_transaction_ = false;
  failed_ = false;
  outcome_unknown_ = false;
  failed_state_.clear();
}

Error Session::failure(PGresult const* result, std::string_view what, bool is_commit) {
  failed_ = true;
  char const* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  failed_state_ = state != nullptr ? state : "";
  // The server's primary message names the constraint or object, never a bound value (those are
  // in the DETAIL field, which is left out); libpq's own messages may quote the connection string,
  // hence the scrub.
  char const* primary = result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string message = primary != nullptr ? primary : PQerrorMessage(conn_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (broken()) {
    // An error the server sent ends its statement (and any transaction) without a commit. With no
    // SQLSTATE the link dropped on our side, and a write sent outside a transaction, or a COMMIT,
    // may or may not have committed.
    bool const server_said = !failed_state_.empty();
    outcome_unknown_ = !server_said && (is_commit || (!in_transaction_ && kind_ != Kind::read));
  }
  std::string detail(what);
  detail += ": ";
  detail += scrub(std::move(message), *secrets_);
  if (!failed_state_.empty()) detail += " (SQLSTATE " + failed_state_ + ")";
  auto const code = is_integrity_violation(failed_state_) ? errc::conflict : errc::store_unavailable;
  return Error(code, std::move(detail));
}

result<Rows> Session::exec(std::string_view sql, Params const& params) {
  std::string text(sql);
  auto it = prepared_.find(text);
  if (it == prepared_.end()) {
    auto name = "ee" + std::to_string(prepared_.size() + 1);
    Rows prepared(PQprepare(conn_, name.c_str(), text.c_str(), 0, nullptr));
    if (prepared.status() != PGRES_COMMAND_OK) {
      auto error = failure(prepared.get(), "prepare", false);
      outcome_unknown_ = false;  // preparing runs nothing: the call may be run again whatever happened
      return error;
    }
    it = prepared_.emplace(std::move(text), std::move(name)).first;
  }
  Rows rows(PQexecPrepared(conn_, it->second.c_str(), params.size(), params.pointers(), nullptr,
                           nullptr, 0));
  auto const status = rows.status();
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) return failure(rows.get(), "statement", false);
  return rows;
}

result<void> Session::simple(char const* sql) {
  bool const is_commit = std::string_view(sql) == "COMMIT";
  Rows rows(PQexec(conn_, sql));
  auto const status = rows.status();
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) return failure(rows.get(), sql, is_commit);
  return {};
}

// --- Database ------------------------------------------------------------------------------

Database::Database(std::string url, PostgresOptions const& options)
    : url_(std::move(url)),
      options_(options),
      secrets_(std::make_shared<std::vector<std::string> const>(url_secrets(url_))) {
  options_.pool_size = std::max<std::size_t>(options_.pool_size, 1);
  options_.max_attempts = std::max(options_.max_attempts, 1);
}

Database::~Database() = default;

result<std::unique_ptr<Session>> Database::connect() {
  // Keywords before "dbname" are defaults the URL may override; those after it win over the URL.
  auto const timeout = std::to_string(std::max<std::int64_t>(options_.connect_timeout.count(), 1));
  char const* keywords[] = {"connect_timeout", "application_name", "dbname", "client_encoding", nullptr};
  char const* values[] = {timeout.c_str(), "ee-cp", url_.c_str(), "UTF8", nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, 1);
  if (conn == nullptr) throw std::bad_alloc();  // libpq could not allocate the connection object
  auto session = std::make_unique<Session>(conn, secrets_);
  // Notices (CREATE TABLE IF NOT EXISTS ... skipping) would go to stderr by default.
  PQsetNoticeProcessor(conn, [](void*, char const*) {}, nullptr);
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    return unavailable("cannot connect to the registry database " + redact_postgres_url(url_) + ": " +
                       scrub(std::move(message), *secrets_));
  }
  return session;
}

result<std::unique_ptr<Session>> Database::acquire() {
  std::unique_lock lock(mutex_);
  for (;;) {
    bool const ready = returned_.wait_for(lock, options_.acquire_timeout, [&] {
      return !idle_.empty() || open_ < options_.pool_size;
    });
    if (!ready)
      return unavailable("no free database connection within " +
                         std::to_string(options_.acquire_timeout.count()) + " ms (pool of " +
                         std::to_string(options_.pool_size) + ")");
    if (!idle_.empty()) {
      auto session = std::move(idle_.back());
      idle_.pop_back();
      if (session->alive()) return session;
      --open_;  // lost while idle (the server restarted, or it was terminated): replace it
      lock.unlock();
      session.reset();
      lock.lock();
      continue;
    }
    ++open_;
    lock.unlock();
    auto session = connect();
    lock.lock();
    if (!session) {
      --open_;
      returned_.notify_one();
    }
    return session;
  }
}

void Database::release(std::unique_ptr<Session> session) {
  {
    std::lock_guard lock(mutex_);
    if (session->broken()) {
      --open_;
    } else {
      idle_.push_back(std::move(session));
    }
  }
  returned_.notify_one();
  // A broken session is closed here, outside the lock.
}

bool Database::retryable(Session const& s) noexcept {
  auto const& state = s.failed_state();
  if (state == "40001" || state == "40P01") return true;  // serialization failure, deadlock
  // A lost connection: the call runs again on a new one unless a write may have committed.
  return s.broken() && !s.outcome_unknown();
}

void Database::back_off(int attempt) {
  // A few milliseconds, growing and jittered, so that two transactions that collided do not
  // collide again in step.
  thread_local std::minstd_rand random{std::random_device{}()};
  auto const ceiling = static_cast<unsigned>(std::min(attempt, 6)) * 4U;
  std::uniform_int_distribution<unsigned> jitter(1, ceiling);
  std::this_thread::sleep_for(std::chrono::milliseconds(jitter(random)));
}

result<void> Database::migrate(Session& s) {
  // A session-level advisory lock: a second process starting now waits here until the first has
  // migrated, then finds nothing left to do.
  auto lock_key = Params().integer(kMigrationLock);
  if (auto locked = s.exec("SELECT pg_advisory_lock($1::bigint)", lock_key); !locked)
    return locked.error().with_context("migration lock");
  auto unlock = [&] { (void)s.exec("SELECT pg_advisory_unlock($1::bigint)", lock_key); };
  auto out = [&]() -> result<void> {
    if (auto created = s.simple(kCreateMigrationTable); !created) return created.error();
    auto current = s.exec("SELECT coalesce(max(version), 0) FROM ee_schema_migrations");
    if (!current) return current.error();
    auto row = current->row(0);
    auto const from = row.integer(0);
    if (auto checked = row.check(); !checked) return checked.error();
    auto const known = static_cast<std::int64_t>(kSchemaVersion);
    if (from > known || from < 0)
      return Error(errc::store_corrupt, "database schema version " + std::to_string(from) +
                                            " is newer than this build's " + std::to_string(known));
    for (auto version = from + 1; version <= known; ++version) {
      s.set_in_transaction(true);
      if (auto begun = s.simple("BEGIN"); !begun) return begun.error();
      auto applied = [&]() -> result<void> {
        if (auto r = s.simple(kMigrations[static_cast<std::size_t>(version - 1)]); !r) return r.error();
        auto recorded = s.exec("INSERT INTO ee_schema_migrations (version, applied_at) VALUES ($1, $2)",
                               Params().integer(version).time(std::chrono::system_clock::now()));
        if (!recorded) return recorded.error();
        return s.simple("COMMIT");
      }();
      s.set_in_transaction(false);
      if (!applied) {
        if (!s.broken()) (void)s.simple("ROLLBACK");
        return applied.error().with_context("migration " + std::to_string(version));
      }
    }
    if (from < known)
      detail::log::info("registry", "migrated the PostgreSQL schema from version ", from, " to ", known);
    return {};
  }();
  unlock();
  return out;
}

result<std::shared_ptr<Database>> Database::open(std::string const& url, PostgresOptions const& options) {
  if (!is_postgres_url(url))
    return unavailable("not a PostgreSQL URL (postgres://... or postgresql://...)");
  std::shared_ptr<Database> db(new Database(url, options));
  auto session = db->connect();
  if (!session) return session.error();
  (*session)->begin_call(Kind::transaction);
  if (auto migrated = db->migrate(**session); !migrated) return migrated.error();
  {
    std::lock_guard lock(db->mutex_);
    ++db->open_;
  }
  db->release(std::move(*session));
  detail::log::debug("registry", "opened ", redact_postgres_url(url), " with a pool of ",
                     db->options_.pool_size, " connections");
  return db;
}

}  // namespace ee::registry::postgres

namespace ee::registry {

bool is_postgres_url(std::string_view db) noexcept {
  return db.starts_with(postgres::kPostgresScheme) || db.starts_with(postgres::kPostgresqlScheme);
}

std::string redact_postgres_url(std::string_view url) {
  std::string out(url);
  auto const parts = postgres::url_parts(url);
  // Replace from the back, so earlier offsets stay valid.
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  if (parts.password_begin != std::string_view::npos) spans.emplace_back(parts.password_begin, parts.password_end);
  postgres::for_each_password_parameter(url, parts.query_begin,
                                        [&](std::size_t b, std::size_t e) { spans.emplace_back(b, e); });
  std::sort(spans.begin(), spans.end(), [](auto const& a, auto const& b) { return a.first > b.first; });
  for (auto const& [b, e] : spans) out.replace(b, e - b, "***");
  return out;
}

}  // namespace ee::registry
