#pragma once
// The CP's challenges. Issuing one costs no memory: a nonce carries its own expiry and the
// vm_name it is reserved for, authenticated by a key only this CP process holds, so a flood of
// anonymous challenges cannot fill anything (it once filled a 100 000-entry table and locked out
// every real agent for the TTL). Only nonces that were used are remembered, until they expire,
// which keeps them single use.
//
// Layout of the 32 bytes (big-endian numbers):
//   [0]       flags: 0x01 version 1, 0x80 reserved for a vm_name
//   [1..5)    expiry, seconds since the Unix epoch
//   [5..10)   random
//   [10..16)  HMAC-SHA256(key, "ee-nonce-v1" | bytes[0..10) | vm_name), first 6 bytes
//   [16..32)  HMAC-SHA256(key, "ee-nonce-v1-tail" | bytes[0..16)), first 16 bytes
// Agents of the earlier control plane bind only the first 16 bytes (zero-padded) and send them
// as a 32-hex-char nonce (DESIGN.md, attestation model), so everything a check needs is in the
// first 16 bytes and the single-use record is keyed by them; a full nonce is also checked on its
// tail, so a current agent's nonce is authenticated by 176 bits.
//
// Which nonces were spent is kept by a store port (registry::OnceStore: memory in one process,
// a shared database for replicas), keyed by the hex of the first 16 bytes.
//
// The key is random per process: a restart invalidates outstanding challenges (agents ask again)
// and can never revive a nonce that was used before it. Thread-safe.
#include <easyenclave/error.hpp>
#include <easyenclave/registry/store.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ee::cp {

class NonceTable {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  using Key = std::array<std::uint8_t, 32>;

  struct Entry {
    std::array<std::uint8_t, 32> bytes{};
    std::string vm_name{};  // empty: any
    TimePoint issued_at{};
    TimePoint expires_at{};
  };

  /// `spent`: where used, unexpired nonces are remembered; when it is full `take` refuses with
  /// errc::too_many_challenges (reaching that takes as many successful registrations, or
  /// appraisals in flight, within one TTL as the store holds).
  NonceTable(Key key, std::shared_ptr<registry::OnceStore> spent, std::chrono::seconds ttl);
  /// With a fresh random key. errc::crypto_failure when the CSPRNG fails.
  static result<std::unique_ptr<NonceTable>> create(std::shared_ptr<registry::OnceStore> spent,
                                                    std::chrono::seconds ttl);
  /// The key of the CP whose signing key is `signing_key_pem`: replicas of one CP share its
  /// signing key (agents check every replica's calls against the one public key they were
  /// given), so they derive the same nonce key, and a nonce one replica issued is good at
  /// another. HMAC-SHA-256 under the key's PEM with a label of its own: the nonce key reveals
  /// nothing of the signing key, and no other use of the signing key yields it.
  static Key derive_key(std::string_view signing_key_pem);

  /// A new nonce, optionally reserved for `vm_name`. Allocates nothing that outlives the call.
  result<Entry> issue(std::string vm_name, TimePoint now) const;

  /// Checks `nonce_hex` (64 hex chars, or the 32-char legacy prefix) and marks it used:
  /// errc::unknown_nonce when malformed, not issued by this table or already used,
  /// nonce_expired when past its TTL, nonce_for_other_vm when reserved for another vm_name,
  /// too_many_challenges when the used-nonce record is full, the store's error when it fails.
  result<Entry> take(std::string_view nonce_hex, std::string_view vm_name, TimePoint now);

  /// Makes a taken nonce usable again (its use failed later), unless it has expired since.
  void put_back(Entry const& entry, TimePoint now);

  /// Forgets used nonces that have expired; returns how many.
  result<std::size_t> purge(TimePoint now);
  /// Used nonces remembered now.
  result<std::size_t> used() const;
  std::chrono::seconds ttl() const noexcept { return ttl_; }

 private:
  std::array<std::uint8_t, 6> core_mac(std::span<std::uint8_t const> head, std::string_view vm_name) const;
  std::array<std::uint8_t, 16> tail_mac(std::span<std::uint8_t const> core) const;

  Key const key_;
  std::shared_ptr<registry::OnceStore> const spent_;
  std::chrono::seconds const ttl_;
};

}  // namespace ee::cp
