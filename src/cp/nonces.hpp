#pragma once
// The CP's outstanding challenges: single-use nonces with a TTL, bounded in number.
//
// A nonce is 32 random bytes. Agents of the earlier control plane put only 16 bytes at the front
// of their report data (zero-padded), so entries are keyed by the first 16 bytes and a 32-hex-char
// nonce matches by prefix (DESIGN.md, attestation model). Thread-safe.
#include <easyenclave/error.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ee::cp {

class NonceTable {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  struct Entry {
    std::array<std::uint8_t, 32> bytes{};
    std::string vm_name{};  // empty: any
    TimePoint issued_at{};
    TimePoint expires_at{};
  };

  NonceTable(std::size_t capacity, std::chrono::seconds ttl);

  /// A new nonce, optionally reserved for `vm_name`. errc::too_many_challenges when full of
  /// unexpired entries.
  result<Entry> issue(std::string vm_name, TimePoint now);

  /// Removes the entry matching `nonce_hex` (64 hex chars, or the 32-char legacy prefix) and
  /// returns it: errc::unknown_nonce when absent or malformed, nonce_expired when past its TTL,
  /// nonce_for_other_vm when reserved for another vm_name (the entry is kept in those last cases
  /// only when it is still valid for its rightful owner).
  result<Entry> take(std::string_view nonce_hex, std::string_view vm_name, TimePoint now);

  /// Returns an entry taken by `take` whose use failed later, unless it has expired since.
  void put_back(Entry entry, TimePoint now);

  /// Drops expired entries; returns how many.
  std::size_t purge(TimePoint now);
  std::size_t size() const;
  std::chrono::seconds ttl() const noexcept { return ttl_; }

 private:
  std::size_t purge_locked(TimePoint now);

  std::size_t const capacity_;
  std::chrono::seconds const ttl_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;  // key: hex of the first 16 bytes
  std::deque<std::pair<TimePoint, std::string>> expiry_order_;  // issue order = expiry order
};

}  // namespace ee::cp
