#pragma once
// Hashes, HMAC, randomness and identifiers on OpenSSL. These are the primitives the verifiers
// and servers build on; none of them does I/O.
#include <easyenclave/error.hpp>

#include "detail/encoding.hpp"

#include <array>
#include <cstdint>
#include <string>

namespace ee::detail {

using Sha256 = std::array<std::uint8_t, 32>;
using Sha384 = std::array<std::uint8_t, 48>;
using Sha512 = std::array<std::uint8_t, 64>;

Sha256 sha256(ByteView data) noexcept;
Sha384 sha384(ByteView data) noexcept;
Sha512 sha512(ByteView data) noexcept;

/// HMAC-SHA-256 (RFC 2104).
Sha256 hmac_sha256(ByteView key, ByteView data) noexcept;

/// Incremental SHA-256 for data that arrives in pieces.
class Sha256Hasher {
 public:
  Sha256Hasher() noexcept;
  ~Sha256Hasher();
  Sha256Hasher(Sha256Hasher const&) = delete;
  Sha256Hasher& operator=(Sha256Hasher const&) = delete;
  void update(ByteView data) noexcept;
  Sha256 finish() noexcept;

 private:
  void* ctx_;  // EVP_MD_CTX*, kept opaque so this header does not pull in OpenSSL
};

/// Fills `out` from OpenSSL's CSPRNG. errc::crypto_failure if the generator is not seeded.
result<void> random_bytes(std::span<std::uint8_t> out) noexcept;
/// `n` random bytes.
result<Bytes> random_bytes(std::size_t n);

/// A random (version 4, RFC 9562) UUID in canonical lower-case form.
result<std::string> uuid_v4();
/// True for the canonical 8-4-4-4-12 lower- or upper-case hex form.
bool is_uuid(std::string_view text) noexcept;

/// While alive, marks the thread's OpenSSL error queue; when it goes out of scope it removes
/// whatever OpenSSL queued since. Our failures carry their reason in an ee::Error, and an entry
/// left in the queue would be read as the cause of the caller's next, unrelated failure (it is
/// also a heap allocation that outlives the call). Entries queued before it are kept.
class OpenSslErrorScope {
 public:
  OpenSslErrorScope() noexcept;
  ~OpenSslErrorScope();
  OpenSslErrorScope(OpenSslErrorScope const&) = delete;
  OpenSslErrorScope& operator=(OpenSslErrorScope const&) = delete;
};

/// Compares in time independent of where the inputs differ (for MACs and secrets).
bool constant_time_equal(ByteView a, ByteView b) noexcept;

}  // namespace ee::detail
