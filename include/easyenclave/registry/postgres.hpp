#pragma once
/// @file The PostgreSQL implementation of the registry stores, on libpq: a pool of connections,
/// prepared statements, numbered migrations applied at open under an advisory lock, and the
/// shared state of control-plane replicas (spent nonces, accepted request signatures, settings,
/// leases of background passes) in the database.
///
/// Times are stored as BIGINT nanoseconds since the Unix epoch, as the SQLite engine stores them,
/// so a record round-trips exactly (TIMESTAMPTZ keeps microseconds only).
#include <easyenclave/error.hpp>
#include <easyenclave/registry/store.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace ee::registry {

struct PostgresOptions {
  /// Connections kept at most; a call waits for a free one when all are busy. At least 1.
  std::size_t pool_size = 4;
  /// How long a call waits for a free connection before it fails with store_unavailable.
  std::chrono::milliseconds acquire_timeout{10'000};
  /// Seconds libpq waits for a connection to the server (its `connect_timeout`), unless the URL
  /// sets one itself.
  std::chrono::seconds connect_timeout{5};
  /// Attempts of one call in all when the server reports a serialization failure or a deadlock
  /// (SQLSTATE 40001, 40P01), or when its connection was lost before anything could commit.
  int max_attempts = 5;
};

/// True when `db` names a PostgreSQL database: it begins with "postgres://" or "postgresql://".
/// Anything else is a SQLite path to the control plane.
bool is_postgres_url(std::string_view db) noexcept;

/// `url` with its password (the userinfo's and a `password=` parameter's) replaced by "***": what
/// a log line or an error message may show of it.
std::string redact_postgres_url(std::string_view url);

/// Connects to the database at `url` (a libpq connection URI; `sslmode=` and the other libpq
/// parameters pass through, so `?sslmode=verify-full` asks for TLS with a verified server), applies
/// pending migrations under `pg_advisory_lock` (processes starting together migrate once) and
/// returns every store, including `nonces`, `replays`, `settings` and `leases`, so control-plane
/// processes on one database share them. The stores share the pool and are thread-safe; a lost
/// connection is replaced on the next call.
/// @returns registry::errc::store_unavailable when the server cannot be reached, refuses the
///          login or the migrations fail; store_corrupt when the schema is newer than this build
///          knows. Messages never contain the URL's password. Never throws (except bad_alloc).
result<Stores> open_postgres_stores(std::string const& url, PostgresOptions const& options = {});

}  // namespace ee::registry
