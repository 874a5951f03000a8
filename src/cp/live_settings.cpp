#include "cp/live_settings.hpp"

#include "detail/log.hpp"

#include <array>

namespace ee::cp {
namespace {

constexpr std::array<std::string_view, 6> kReloaded{"heartbeat_interval", "reattestation_interval",
                                                    "signature_window",   "agent_stale_hours",
                                                    "deploy_timeout",     "reregistration_grace"};

Timings with_reloaded(Timings t, settings::Settings const& s) {
  t.heartbeat_interval = s.seconds("heartbeat_interval");
  t.reattestation_interval = s.seconds("reattestation_interval");
  t.signature_window = s.seconds("signature_window");
  t.agent_stale_after = std::chrono::hours(s.integer("agent_stale_hours"));
  t.deploy_timeout = s.seconds("deploy_timeout");
  t.reregistration_grace = s.seconds("reregistration_grace");
  return t;
}

}  // namespace

std::span<std::string_view const> reloaded_keys() noexcept { return kReloaded; }

LiveSettings::LiveSettings(settings::Settings base, Timings start_timings,
                           std::shared_ptr<registry::SettingStore> store)
    : base_(std::move(base)), start_timings_(start_timings), store_(std::move(store)) {
  current_ = std::make_shared<Snapshot const>(
      Snapshot{.settings = base_, .timings = with_reloaded(start_timings_, base_), .stored = {}});
  started_ = current_;
}

result<void> LiveSettings::refresh() {
  std::uint64_t refresh = 0;
  {
    std::lock_guard lock(mutex_);
    refresh = ++started_refreshes_;
  }
  auto rows = store_->list();
  if (!rows) return rows.error();
  std::map<std::string, std::string, std::less<>> values;
  std::map<std::string, registry::SettingRow, std::less<>> stored;
  for (auto& row : *rows) {
    values[row.name] = row.value;
    stored[row.name] = std::move(row);
  }
  std::vector<std::string> skipped;
  auto merged = base_.with_database(values, &skipped);
  auto snapshot = std::make_shared<Snapshot const>(
      Snapshot{.settings = merged, .timings = with_reloaded(start_timings_, merged), .stored = std::move(stored)});
  std::lock_guard lock(mutex_);
  for (auto const& why : skipped) {
    if (reported_.insert(why).second) detail::log::warn("cp", "stored setting not applied: ", why);
  }
  if (!refreshed_) {
    started_ = snapshot;
    refreshed_ = true;
  }
  if (refresh > current_refresh_) {
    current_ = std::move(snapshot);
    current_refresh_ = refresh;
  }
  return {};
}

std::shared_ptr<LiveSettings::Snapshot const> LiveSettings::started() const {
  std::lock_guard lock(mutex_);
  return started_;
}

std::shared_ptr<LiveSettings::Snapshot const> LiveSettings::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

}  // namespace ee::cp
