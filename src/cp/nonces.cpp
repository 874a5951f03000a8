#include "cp/nonces.hpp"

#include <easyenclave/cp/error.hpp>

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <new>
#include <optional>

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

// The spent-nonce record's key: the first 16 bytes, which every form of the nonce carries.
std::string spent_key(std::span<std::uint8_t const> bytes) { return detail::hex_encode(bytes.first(kCoreSize)); }

struct DigestContextFree {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};
using DigestContext = std::unique_ptr<EVP_MD_CTX, DigestContextFree>;

DigestContext new_digest_context() {
  DigestContext ctx(EVP_MD_CTX_new());
  if (!ctx) throw std::bad_alloc();
  return ctx;
}

// HMAC-SHA-256 (RFC 2104) under one key with the key's two padded blocks hashed once: a MAC is
// then two SHA-256 finalisations on copies of those states, the same bytes as HMAC() computes.
// OpenSSL's one-shot HMAC() sets up a MAC context per call (fetching the algorithm by name),
// which cost several times the hashing in a challenge.
class KeyedHash {
 public:
  explicit KeyedHash(NonceTable::Key const& key) : inner_(new_digest_context()), outer_(new_digest_context()) {
    constexpr std::size_t kBlock = 64;  // SHA-256's block; the 32-byte key fits without hashing
    static_assert(std::tuple_size_v<NonceTable::Key> <= kBlock);
    std::array<std::uint8_t, kBlock> pad{};
    for (auto [ctx, byte] : {std::pair{inner_.get(), std::uint8_t{0x36}}, std::pair{outer_.get(), std::uint8_t{0x5c}}}) {
      pad.fill(byte);
      for (std::size_t i = 0; i < key.size(); ++i) pad[i] = static_cast<std::uint8_t>(key[i] ^ byte);
      if (EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1 || EVP_DigestUpdate(ctx, pad.data(), pad.size()) != 1) {
        throw std::bad_alloc();  // only a failed allocation makes SHA-256 fail to start
      }
    }
    OPENSSL_cleanse(pad.data(), pad.size());
  }

  detail::Sha256 mac(std::initializer_list<detail::ByteView> parts) {
    detail::Sha256 inner{};
    detail::Sha256 out{};
    unsigned int length = 0;
    bool ok = EVP_MD_CTX_copy_ex(scratch_.get(), inner_.get()) == 1;
    for (auto const part : parts) ok = ok && EVP_DigestUpdate(scratch_.get(), part.data(), part.size()) == 1;
    ok = ok && EVP_DigestFinal_ex(scratch_.get(), inner.data(), &length) == 1;
    ok = ok && EVP_MD_CTX_copy_ex(scratch_.get(), outer_.get()) == 1;
    ok = ok && EVP_DigestUpdate(scratch_.get(), inner.data(), inner.size()) == 1;
    ok = ok && EVP_DigestFinal_ex(scratch_.get(), out.data(), &length) == 1;
    if (!ok) throw std::bad_alloc();  // as above: copying a started SHA-256 fails only for memory
    return out;
  }

 private:
  DigestContext inner_;
  DigestContext outer_;
  DigestContext scratch_ = new_digest_context();
};

// HMAC-SHA-256 of `parts` under `key`. Each thread keeps the prepared states of the last key it
// used, by the key's exact bytes (a process normally has one nonce key; tests have several).
detail::Sha256 keyed_mac(NonceTable::Key const& key, std::initializer_list<detail::ByteView> parts) {
  struct Prepared {
    NonceTable::Key key{};
    std::optional<KeyedHash> hash{};
    ~Prepared() { OPENSSL_cleanse(key.data(), key.size()); }
  };
  thread_local Prepared prepared;
  if (!prepared.hash || !detail::constant_time_equal(prepared.key, key)) {
    prepared.hash.reset();
    prepared.hash.emplace(key);
    prepared.key = key;
  }
  return prepared.hash->mac(parts);
}

}  // namespace

NonceTable::NonceTable(Key key, std::shared_ptr<registry::OnceStore> spent, std::chrono::seconds ttl)
    : key_(key), spent_(std::move(spent)), ttl_(ttl) {}

NonceTable::Key NonceTable::derive_key(std::string_view signing_key_pem) {
  constexpr std::string_view kLabel = "easyenclave cp nonce key v1";
  auto const mac = detail::hmac_sha256(detail::as_bytes(signing_key_pem), detail::as_bytes(kLabel));
  Key key{};
  std::copy_n(mac.begin(), key.size(), key.begin());
  return key;
}

result<std::unique_ptr<NonceTable>> NonceTable::create(std::shared_ptr<registry::OnceStore> spent,
                                                       std::chrono::seconds ttl) {
  Key key{};
  if (auto r = detail::random_bytes(key); !r) return r.error();
  return std::make_unique<NonceTable>(key, std::move(spent), ttl);
}

std::array<std::uint8_t, 6> NonceTable::core_mac(std::span<std::uint8_t const> head, std::string_view vm_name) const {
  auto const mac = keyed_mac(key_, {detail::as_bytes(kCoreLabel), head, detail::as_bytes(vm_name)});
  std::array<std::uint8_t, 6> out{};
  std::copy_n(mac.begin(), out.size(), out.begin());
  return out;
}

std::array<std::uint8_t, 16> NonceTable::tail_mac(std::span<std::uint8_t const> core) const {
  auto const mac = keyed_mac(key_, {detail::as_bytes(kTailLabel), core});
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

  auto spent = spent_->first_use(spent_key(bytes), expires_at, now);
  if (!spent) {
    if (spent.error() == registry::errc::store_full) {
      return Error(errc::too_many_challenges, "used nonces still within their TTL fill the record; retry later");
    }
    return spent.error();
  }
  if (!*spent) return Error(errc::unknown_nonce, "the nonce was already used");
  return entry;
}

void NonceTable::put_back(Entry const& entry, TimePoint now) {
  if (entry.expires_at <= now) return;
  // A failure leaves the nonce spent: the agent asks for another challenge.
  (void)spent_->forget(spent_key(entry.bytes));
}

result<std::size_t> NonceTable::purge(TimePoint now) { return spent_->purge(now); }

result<std::size_t> NonceTable::used() const { return spent_->count(); }

}  // namespace ee::cp
