// The stores that live in one process's memory: single-use keys (spent nonces, accepted
// signatures) over the core's expiring set.
#include <easyenclave/registry/store.hpp>

#include "detail/expiring_set.hpp"

namespace ee::registry {
namespace {

class MemoryOnceStore final : public OnceStore {
 public:
  MemoryOnceStore(std::size_t capacity, bool refuse_when_full)
      : keys_(capacity, refuse_when_full ? detail::ExpiringSet::WhenFull::refuse
                                         : detail::ExpiringSet::WhenFull::evict_soonest) {}

  result<bool> first_use(std::string const& key, TimePoint expires_at, TimePoint now) override {
    switch (keys_.add(key, expires_at, now)) {
      case detail::ExpiringSet::Added::added:
        return true;
      case detail::ExpiringSet::Added::present:
        return false;
      case detail::ExpiringSet::Added::full:
        break;
    }
    return Error(errc::store_full, std::to_string(keys_.size()) + " keys are still within their lifetime");
  }

  result<void> forget(std::string const& key) override {
    keys_.erase(key);
    return {};
  }

  result<std::size_t> purge(TimePoint now) override { return keys_.purge(now); }
  result<std::size_t> count() override { return keys_.size(); }

 private:
  detail::ExpiringSet keys_;
};

}  // namespace

std::shared_ptr<OnceStore> make_memory_once_store(std::size_t capacity, bool refuse_when_full) {
  return std::make_shared<MemoryOnceStore>(capacity, refuse_when_full);
}

}  // namespace ee::registry
