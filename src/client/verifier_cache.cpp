// The per-root verifier cache of connect(). A verifier's caches (chains, collateral, QE reports)
// are keyed by the bytes they vouch for and bound to the root it was made with, so sharing one
// verifier between connections to the same root changes no verdict, only its cost (one ECDSA
// verification for a quote of a platform seen before instead of a full chain and collateral
// verification, about 6 ms).
#include "client/verifier_cache.hpp"

#include <algorithm>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ee::client {
namespace {

struct Entry {
  std::string fingerprint;
  tdx::Verifier verifier;
};

struct Cache {
  std::mutex mutex;
  std::vector<Entry> entries;  // most recently used last; a handful, so a scan is cheapest
};

Cache& cache() {
  // Never destroyed: connections on other threads may still verify during static destruction.
  static auto* instance = new Cache();
  return *instance;
}

}  // namespace

tdx::Verifier verifier_for(tdx::TrustedRoot const& root) {
  auto const fingerprint = root.fingerprint();
  if (fingerprint.empty()) return tdx::Verifier(root);  // no certificate to key by: not cached
  auto& c = cache();
  std::lock_guard lock(c.mutex);
  auto it = std::find_if(c.entries.begin(), c.entries.end(),
                         [&](Entry const& e) { return e.fingerprint == fingerprint; });
  if (it != c.entries.end()) {
    std::rotate(it, it + 1, c.entries.end());
    return c.entries.back().verifier;
  }
  if (c.entries.size() >= kMaxCachedRoots) c.entries.erase(c.entries.begin());
  c.entries.push_back(Entry{fingerprint, tdx::Verifier(root)});
  return c.entries.back().verifier;
}

}  // namespace ee::client
