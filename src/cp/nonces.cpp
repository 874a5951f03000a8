#include "cp/nonces.hpp"

#include <easyenclave/cp/error.hpp>

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"

#include <algorithm>
#include <cstring>

namespace ee::cp {
namespace {

constexpr std::uint8_t kVersion1 = 0x01;
constexpr std::uint8_t kBoundToVm = 0x80;
constexpr std::size_t kHeadSize = 10;  // flags, expiry, random: what the core MAC covers
constexpr std::size_t kCoreSize = 16;  // head and core MAC: what legacy agents bind
constexpr std::string_view kCoreLabel = "ee-nonce-v1";
constexpr std::string_view kTailLabel = "ee-nonce-v1-tail";

std::uint32_t read_u32(std::uint8_t const* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

void write_u32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

std::int64_t seconds_since_epoch(NonceTable::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

std::size_t NonceTable::CoreHash::operator()(Core const& c) const noexcept {
  // The core ends in MAC bytes, which are uniformly distributed: any eight of them hash well.
  std::uint64_t h = 0;
  std::memcpy(&h, c.data() + 8, sizeof h);
  return static_cast<std::size_t>(h);
}

NonceTable::NonceTable(Key key, std::size_t max_used, std::chrono::seconds ttl)
    : key_(key), max_used_(max_used), ttl_(ttl) {}

result<std::unique_ptr<NonceTable>> NonceTable::create(std::size_t max_used, std::chrono::seconds ttl) {
  Key key{};
  if (auto r = detail::random_bytes(key); !r) return r.error();
  return std::make_unique<NonceTable>(key, max_used, ttl);
}

std::array<std::uint8_t, 6> NonceTable::core_mac(std::span<std::uint8_t const> head, std::string_view vm_name) const {
  std::string input;
  input.reserve(kCoreLabel.size() + head.size() + vm_name.size());
  input.append(kCoreLabel);
  input.append(reinterpret_cast<char const*>(head.data()), head.size());
  input.append(vm_name);
  auto const mac = detail::hmac_sha256(key_, detail::as_bytes(input));
  std::array<std::uint8_t, 6> out{};
  std::copy_n(mac.begin(), out.size(), out.begin());
  return out;
}

std::array<std::uint8_t, 16> NonceTable::tail_mac(std::span<std::uint8_t const> core) const {
  std::string input;
  input.reserve(kTailLabel.size() + core.size());
  input.append(kTailLabel);
  input.append(reinterpret_cast<char const*>(core.data()), core.size());
  auto const mac = detail::hmac_sha256(key_, detail::as_bytes(input));
  std::array<std::uint8_t, 16> out{};
  std::copy_n(mac.begin(), out.size(), out.begin());
  return out;
}

result<NonceTable::Entry> NonceTable::issue(std::string vm_name, TimePoint now) const {
  Entry entry;
  auto const expiry = seconds_since_epoch(now + ttl_);
  if (expiry <= 0 || expiry > std::int64_t{0xFFFFFFFF}) {
    return Error(ee::errc::invalid_value, "the clock is outside the nonce format's range (1970-2106)");
  }
  auto& b = entry.bytes;
  b[0] = static_cast<std::uint8_t>(kVersion1 | (vm_name.empty() ? 0 : kBoundToVm));
  write_u32(&b[1], static_cast<std::uint32_t>(expiry));
  if (auto r = detail::random_bytes(std::span<std::uint8_t>(b).subspan(5, 5)); !r) return r.error();
  auto const mac = core_mac(std::span<std::uint8_t const>(b).first(kHeadSize), vm_name);
  std::copy(mac.begin(), mac.end(), b.begin() + kHeadSize);
  auto const tail = tail_mac(std::span<std::uint8_t const>(b).first(kCoreSize));
  std::copy(tail.begin(), tail.end(), b.begin() + kCoreSize);
  entry.vm_name = std::move(vm_name);
  entry.expires_at = TimePoint(std::chrono::seconds(expiry));
  entry.issued_at = entry.expires_at - ttl_;
  return entry;
}

result<NonceTable::Entry> NonceTable::take(std::string_view nonce_hex, std::string_view vm_name, TimePoint now) {
  if (nonce_hex.size() != 2 * 32 && nonce_hex.size() != 2 * kCoreSize) {
    return Error(errc::unknown_nonce, "nonce must be 64 hex characters");
  }
  auto const given = detail::hex_decode(nonce_hex);
  if (!given) return Error(errc::unknown_nonce, "nonce is not hex");
  std::span<std::uint8_t const> const bytes(*given);
  auto const head = bytes.first(kHeadSize);
  if ((head[0] & ~kBoundToVm) != kVersion1) return Error(errc::unknown_nonce);

  bool const bound = (head[0] & kBoundToVm) != 0;
  auto const mac = core_mac(head, bound ? vm_name : std::string_view());
  if (!detail::constant_time_equal(mac, bytes.subspan(kHeadSize, mac.size()))) {
    // A nonce reserved for a vm_name authenticates only with that name.
    if (bound) return Error(errc::nonce_for_other_vm, "the nonce was issued for another vm_name");
    return Error(errc::unknown_nonce);
  }
  if (bytes.size() == 32) {
    auto const tail = tail_mac(bytes.first(kCoreSize));
    if (!detail::constant_time_equal(tail, bytes.subspan(kCoreSize))) return Error(errc::unknown_nonce);
  }
  auto const expires_at = TimePoint(std::chrono::seconds(read_u32(&head[1])));
  if (expires_at <= now) return Error(errc::nonce_expired);

  Entry entry;
  std::copy(bytes.begin(), bytes.end(), entry.bytes.begin());
  if (bytes.size() != 32) {
    auto const tail = tail_mac(bytes.first(kCoreSize));
    std::copy(tail.begin(), tail.end(), entry.bytes.begin() + kCoreSize);
  }
  entry.vm_name = bound ? std::string(vm_name) : std::string();
  entry.expires_at = expires_at;
  entry.issued_at = expires_at - ttl_;

  Core core{};
  std::copy_n(bytes.begin(), kCoreSize, core.begin());
  std::lock_guard lock(mutex_);
  if (used_.size() >= max_used_ && purge_locked(now) == 0) {
    return Error(errc::too_many_challenges, std::to_string(used_.size()) + " used nonces are still within their TTL; retry later");
  }
  if (!used_.emplace(core, expires_at).second) return Error(errc::unknown_nonce, "the nonce was already used");
  expiry_order_.emplace(expires_at, core);
  return entry;
}

void NonceTable::put_back(Entry const& entry, TimePoint now) {
  if (entry.expires_at <= now) return;
  Core core{};
  std::copy_n(entry.bytes.begin(), kCoreSize, core.begin());
  std::lock_guard lock(mutex_);
  if (used_.erase(core) != 0) expiry_order_.erase({entry.expires_at, core});
}

std::size_t NonceTable::purge(TimePoint now) {
  std::lock_guard lock(mutex_);
  return purge_locked(now);
}

std::size_t NonceTable::purge_locked(TimePoint now) {
  std::size_t purged = 0;
  while (!expiry_order_.empty() && expiry_order_.begin()->first <= now) {
    used_.erase(expiry_order_.begin()->second);
    expiry_order_.erase(expiry_order_.begin());
    ++purged;
  }
  return purged;
}

std::size_t NonceTable::used() const {
  std::lock_guard lock(mutex_);
  return used_.size();
}

}  // namespace ee::cp
