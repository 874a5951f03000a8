#include "cp/nonces.hpp"

#include <easyenclave/cp/error.hpp>

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"

#include <algorithm>
#include <cctype>

namespace ee::cp {
namespace {

constexpr std::size_t kKeyHexChars = 32;  // the 16-byte prefix the legacy agents bind

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

NonceTable::NonceTable(std::size_t capacity, std::chrono::seconds ttl) : capacity_(capacity), ttl_(ttl) {}

result<NonceTable::Entry> NonceTable::issue(std::string vm_name, TimePoint now) {
  Entry entry;
  if (auto r = detail::random_bytes(entry.bytes); !r) return r.error();
  entry.vm_name = std::move(vm_name);
  entry.issued_at = now;
  entry.expires_at = now + ttl_;
  auto key = detail::hex_encode(std::span<std::uint8_t const>(entry.bytes).first(16));

  std::lock_guard lock(mutex_);
  if (entries_.size() >= capacity_ && purge_locked(now) == 0) {
    return Error(errc::too_many_challenges, "the challenge table holds " + std::to_string(entries_.size()) +
                                                " unexpired nonces; retry later");
  }
  expiry_order_.emplace_back(entry.expires_at, key);
  entries_.insert_or_assign(std::move(key), entry);
  return entry;
}

result<NonceTable::Entry> NonceTable::take(std::string_view nonce_hex, std::string_view vm_name, TimePoint now) {
  if (nonce_hex.size() != 64 && nonce_hex.size() != kKeyHexChars) {
    return Error(errc::unknown_nonce, "nonce must be 64 hex characters");
  }
  auto const given = detail::hex_decode(nonce_hex);
  if (!given) return Error(errc::unknown_nonce, "nonce is not hex");
  auto const key = lowercase(nonce_hex.substr(0, kKeyHexChars));

  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return Error(errc::unknown_nonce);
  Entry& entry = it->second;
  if (given->size() == entry.bytes.size() &&
      !detail::constant_time_equal(*given, std::span<std::uint8_t const>(entry.bytes))) {
    return Error(errc::unknown_nonce);
  }
  if (entry.expires_at <= now) {
    entries_.erase(it);
    return Error(errc::nonce_expired);
  }
  if (!entry.vm_name.empty() && entry.vm_name != vm_name) {
    return Error(errc::nonce_for_other_vm, "the nonce was issued for vm_name '" + entry.vm_name + "'");
  }
  Entry taken = std::move(entry);
  entries_.erase(it);
  return taken;
}

void NonceTable::put_back(Entry entry, TimePoint now) {
  if (entry.expires_at <= now) return;
  auto key = detail::hex_encode(std::span<std::uint8_t const>(entry.bytes).first(16));
  std::lock_guard lock(mutex_);
  // Its place in expiry_order_ is still there: purge only pops expired entries.
  entries_.emplace(std::move(key), std::move(entry));
}

std::size_t NonceTable::purge(TimePoint now) {
  std::lock_guard lock(mutex_);
  return purge_locked(now);
}

std::size_t NonceTable::purge_locked(TimePoint now) {
  std::size_t purged = 0;
  while (!expiry_order_.empty() && expiry_order_.front().first <= now) {
    auto it = entries_.find(expiry_order_.front().second);
    // The key may have been taken (or taken and re-issued with a later expiry): erase only the
    // entry this queue slot stands for.
    if (it != entries_.end() && it->second.expires_at <= now) {
      entries_.erase(it);
      ++purged;
    }
    expiry_order_.pop_front();
  }
  return purged;
}

std::size_t NonceTable::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace ee::cp
