#pragma once
// Keys remembered until they expire, with a bounded size: the memory behind single-use records
// (the agent's and the CP's replay guards, the CP's spent nonces in one process). Thread-safe.
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace ee::detail {

class ExpiringSet {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  /// What a full set does with one more key: forget the key that expires soonest (a replay
  /// guard, where the oldest signatures are the nearest to leaving their window), or refuse it
  /// (spent nonces, where forgetting one would let it be spent again).
  enum class WhenFull { evict_soonest, refuse };
  enum class Added { added, present, full };

  ExpiringSet(std::size_t capacity, WhenFull when_full);

  /// Adds `key` until `expires_at`. Expired keys are forgotten first; a key that has already
  /// expired at `now` is `present` (it can no longer be used once).
  Added add(std::string_view key, TimePoint expires_at, TimePoint now);
  /// Forgets `key`; false when it was not there.
  bool erase(std::string_view key);
  /// Forgets the keys expired at `now`; returns how many.
  std::size_t purge(TimePoint now);
  std::size_t size() const;

 private:
  void erase_soonest();
  std::size_t purge_locked(TimePoint now);

  std::size_t const capacity_;
  WhenFull const when_full_;
  mutable std::mutex mutex_;
  // Two indexes over the same entries: by key for the lookup, by expiry for the purge and the
  // eviction. The expiry index refers to the map's keys, which stay put while the node lives.
  std::map<std::string, TimePoint, std::less<>> by_key_;
  std::set<std::pair<TimePoint, std::string_view>> by_expiry_;
};

}  // namespace ee::detail
