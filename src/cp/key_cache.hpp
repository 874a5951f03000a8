#pragma once
// Agents' public keys, parsed once. Parsing a P-256 SubjectPublicKeyInfo through OpenSSL 3's
// decoders costs about two and a half ECDSA verifications (bench_cp_load), and every heartbeat
// would pay it again for the key stored with the agent. A key's wire form is its identity, so an
// entry never goes stale; the cache only bounds how many it keeps. Thread-safe.
#include <easyenclave/api/signing.hpp>
#include <easyenclave/error.hpp>

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace ee::cp {

class KeyCache {
 public:
  explicit KeyCache(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  /// The parsed form of `encoded` (as api::PublicKey::parse takes it), from the cache or parsed
  /// now; parse errors are not cached.
  result<api::PublicKey> get(std::string const& encoded) {
    {
      std::lock_guard lock(mutex_);
      if (auto it = keys_.find(encoded); it != keys_.end()) return it->second;
    }
    auto parsed = api::PublicKey::parse(encoded);  // outside the lock: it is the slow part
    if (!parsed) return parsed.error();
    std::lock_guard lock(mutex_);
    // Full: drop an arbitrary entry. Agents whose keys fall out are parsed again on their next
    // heartbeat; nothing is lost but time.
    if (keys_.size() >= capacity_) keys_.erase(keys_.begin());
    keys_.insert_or_assign(encoded, *parsed);
    return parsed;
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return keys_.size();
  }

 private:
  std::size_t const capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, api::PublicKey> keys_;
};

}  // namespace ee::cp
