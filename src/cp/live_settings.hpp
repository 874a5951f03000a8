#pragma once
// Settings changed while the CP runs. The settings ee-cp started from (flags, environment,
// defaults: Options::settings) with the database's rows over them, read again by the background
// tasks every few seconds and at once after a change on this replica, so a change reaches every
// thread and every replica within seconds. Only the keys marked reloadable are applied while
// running (`reloaded_keys`); a stored change of any other key takes effect at the next start,
// where make_options reads the stored rows. Thread-safe.
#include <easyenclave/cp/control_plane.hpp>
#include <easyenclave/registry/store.hpp>
#include <easyenclave/settings.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>

namespace ee::cp {

class LiveSettings {
 public:
  /// One consistent view: readers keep the pointer as long as they need it.
  struct Snapshot {
    settings::Settings settings;
    /// Options::timings with the reloadable keys taken from `settings`.
    Timings timings;
    /// The stored rows by name (who set each, and when).
    std::map<std::string, registry::SettingRow, std::less<>> stored;
  };

  /// `start_timings`: the Options::timings the CP started with (the keys that are not reloadable
  /// keep their values).
  LiveSettings(settings::Settings base, Timings start_timings, std::shared_ptr<registry::SettingStore> store);

  /// Reads the stored rows and makes them current. Blocking (a store read). Rows that cannot
  /// apply (an unknown key, a value the key no longer takes) are logged once each. Of refreshes
  /// that overlap, the one that started last wins: a background read begun before a change
  /// cannot replace what the change's own refresh read.
  result<void> refresh();
  std::shared_ptr<Snapshot const> current() const;
  /// What the CP started with (after the first `refresh`): a stored change of a key that is not
  /// reloadable differs from it until the next start.
  std::shared_ptr<Snapshot const> started() const;

  registry::SettingStore& store() noexcept { return *store_; }
  settings::Settings const& base() const noexcept { return base_; }

 private:
  settings::Settings const base_;
  Timings const start_timings_;
  std::shared_ptr<registry::SettingStore> const store_;
  mutable std::mutex mutex_;
  std::shared_ptr<Snapshot const> current_;
  std::shared_ptr<Snapshot const> started_;
  bool refreshed_ = false;
  std::uint64_t started_refreshes_ = 0;  // under mutex_
  std::uint64_t current_refresh_ = 0;    // the refresh `current_` came from
  std::set<std::string> reported_;  // skipped rows already logged
};

/// The keys applied while the CP runs; `setting_registry()` marks exactly these reloadable.
std::span<std::string_view const> reloaded_keys() noexcept;

}  // namespace ee::cp
