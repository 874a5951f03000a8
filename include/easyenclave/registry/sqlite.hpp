#pragma once
/// @file The SQLite implementation of the registry stores: one database file, WAL mode, prepared
/// statements, numbered migrations applied at open (tracked by `PRAGMA user_version`).
#include <easyenclave/error.hpp>
#include <easyenclave/registry/store.hpp>

#include <chrono>
#include <filesystem>

namespace ee::registry {

struct SqliteOptions {
  /// How long a writer waits for a lock held by another connection or process.
  std::chrono::milliseconds busy_timeout{5000};
  /// Read connections kept open (WAL lets readers run beside the single writer).
  std::size_t read_connections = 4;
};

/// Opens (creating if needed) the database at `path` and applies pending migrations. ":memory:"
/// gives a private in-memory database (tests). The returned stores share the database and are
/// thread-safe.
/// @returns registry::errc::store_unavailable when the file cannot be opened or migrated,
///          store_corrupt when its schema is newer than this build knows. Never throws
///          (except bad_alloc).
result<Stores> open_sqlite_stores(std::filesystem::path const& path, SqliteOptions const& options = {});

}  // namespace ee::registry
