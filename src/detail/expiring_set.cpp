#include "detail/expiring_set.hpp"

#include <algorithm>

namespace ee::detail {

ExpiringSet::ExpiringSet(std::size_t capacity, WhenFull when_full)
    : capacity_(std::max<std::size_t>(capacity, 1)), when_full_(when_full) {}

void ExpiringSet::erase_soonest() {
  auto const first = by_expiry_.begin();
  auto const it = by_key_.find(first->second);
  by_expiry_.erase(first);
  by_key_.erase(it);
}

std::size_t ExpiringSet::purge_locked(TimePoint now) {
  std::size_t purged = 0;
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
    erase_soonest();
    ++purged;
  }
  return purged;
}

ExpiringSet::Added ExpiringSet::add(std::string_view key, TimePoint expires_at, TimePoint now) {
  if (expires_at <= now) return Added::present;
  std::lock_guard lock(mutex_);
  purge_locked(now);
  if (by_key_.find(key) != by_key_.end()) return Added::present;
  if (by_key_.size() >= capacity_) {
    if (when_full_ == WhenFull::refuse) return Added::full;
    while (by_key_.size() >= capacity_) erase_soonest();
  }
  auto const [it, inserted] = by_key_.emplace(std::string(key), expires_at);
  by_expiry_.emplace(expires_at, std::string_view(it->first));
  return inserted ? Added::added : Added::present;
}

bool ExpiringSet::erase(std::string_view key) {
  std::lock_guard lock(mutex_);
  auto const it = by_key_.find(key);
  if (it == by_key_.end()) return false;
  by_expiry_.erase({it->second, std::string_view(it->first)});
  by_key_.erase(it);
  return true;
}

std::size_t ExpiringSet::purge(TimePoint now) {
  std::lock_guard lock(mutex_);
  return purge_locked(now);
}

std::size_t ExpiringSet::size() const {
  std::lock_guard lock(mutex_);
  return by_key_.size();
}

}  // namespace ee::detail
