#pragma once
// Secrets the control plane issues and later recognises (account API keys, session tokens):
// generation from the OS CSPRNG, the lookup prefix stored beside the hash, Argon2id hashing in
// PHC form, verification, and a bounded cache of verified pairs. Private to the cp module.
//
// A secret is "<kind prefix>" + 32 base62 characters (about 190 bits). Only its Argon2id hash is
// stored; the first kLookupPrefixLength characters are stored in clear to find the row. The
// prefix is not secret: logs name a key by it and never by the whole key.
#include <easyenclave/error.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

namespace ee::cp {

/// Argon2id cost. The defaults are OWASP's minimum for Argon2id (m=19 MiB, t=2, p=1).
struct Argon2Params {
  std::uint32_t memory_kib = 19456;
  std::uint32_t iterations = 2;
  std::uint32_t parallelism = 1;
};

/// OWASP's minimum (the defaults above); settings refuse anything cheaper.
inline constexpr Argon2Params kArgon2Minimum{};
/// Upper bounds a stored PHC string may ask for. A hash beyond them is refused unverified so a
/// tampered or corrupt row cannot make one verification allocate gigabytes or run for minutes.
inline constexpr std::uint32_t kArgon2MaxMemoryKib = 1024u * 1024u;  // 1 GiB
inline constexpr std::uint32_t kArgon2MaxIterations = 64;
inline constexpr std::uint32_t kArgon2MaxParallelism = 16;

/// True when every parameter is at or above OWASP's minimum and at or below the maxima above.
bool argon2_params_acceptable(Argon2Params const& params) noexcept;

/// Random characters after the kind prefix.
inline constexpr std::size_t kSecretRandomLength = 32;
/// Characters of a secret stored in clear to find its row.
inline constexpr std::size_t kLookupPrefixLength = 12;

/// "<kind>" + 32 random base62 characters from the OS CSPRNG, e.g. new_secret("ee_live_").
/// Terminates the process if the CSPRNG fails (OpenSSL unseeded): no secret is better than a
/// guessable one. Thread-safe.
std::string new_secret(std::string_view kind_prefix);

/// The first kLookupPrefixLength characters. errc::invalid_value if the secret is shorter or
/// holds a character outside [A-Za-z0-9_] (the message never repeats the input).
result<std::string> lookup_prefix(std::string_view secret);

/// Argon2id with a random 16-byte salt and a 32-byte tag, PHC-encoded
/// ("$argon2id$v=19$m=...,t=...,p=...$salt$hash"). errc::out_of_range when a parameter is
/// outside what Argon2 or the maxima above allow; errc::crypto_failure if Argon2 fails
/// (allocation). Blocking: tens of milliseconds at the minimum; never call it on an I/O thread.
result<std::string> hash_secret(std::string_view secret, Argon2Params const& params);

/// True when `encoded` is an Argon2id (version 19) PHC string within the maxima and `secret`
/// matches it. Only argon2id is accepted (argon2i, argon2d and other schemes are refused);
/// false on any mismatch or malformed encoding. Never throws. Blocking like hash_secret.
bool verify_secret(std::string_view secret, std::string_view encoded) noexcept;

/// Burns the work of a verification that fails at `params`, for a lookup prefix with no row,
/// so an unknown prefix costs what a wrong secret costs. Never throws.
void verify_nothing(Argon2Params const& params) noexcept;

/// A bounded in-memory cache of verified (secret, encoded hash) pairs, so a key used again costs
/// a SHA-256 rather than an Argon2id run. An entry is keyed by SHA-256(secret) and the exact
/// encoded hash: a rotated key (another stored hash) or a deleted one (no row, so never asked)
/// is never served from it. Only successes are cached. Thread-safe; the Argon2id run on a miss
/// happens outside the lock. Holds at most `capacity` entries and evicts the oldest first.
class VerifiedSecrets {
 public:
  explicit VerifiedSecrets(std::size_t capacity);

  /// verify_secret(secret, encoded), answered from the cache when this pair verified before.
  bool verify(std::string_view secret, std::string_view encoded);
  /// True when this pair verified before and is still held: a SHA-256 and a lookup, never
  /// Argon2id (to answer a key in use without a trip to the hashing threads).
  bool remembered(std::string_view secret, std::string_view encoded) const;
  /// Drops every entry (for example after a mass revocation).
  void forget_all();
  /// Entries held now.
  std::size_t size() const;

 private:
  static std::string key_of(std::string_view secret, std::string_view encoded);

  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_set<std::string> entries_;  // SHA-256(secret) bytes + encoded hash
  std::deque<std::string> order_;            // insertion order, oldest first
};

}  // namespace ee::cp
