#pragma once
/// @file Request signing between the CP and its agents.
///
/// Each side holds a P-256 key: the agent's is generated inside the VM and bound into its quote
/// (REPORTDATA[32..64) = SHA-256 of its DER SubjectPublicKeyInfo); the CP's comes back in the
/// register response. A signed request carries two headers:
///
///   X-EE-Timestamp: <unix seconds>
///   X-EE-Signature: base64url(ECDSA-P256-SHA256 raw r||s over the signing input)
///
/// The signing input is "ee-request-v1\n" METHOD "\n" TARGET "\n" TIMESTAMP "\n" hex(SHA-256(body)),
/// TARGET being the request target as sent (path and query). The verifier accepts timestamps
/// within a window around its clock and, through `ReplayGuard`, each signature once.
#include <easyenclave/api/error.hpp>
#include <easyenclave/error.hpp>
#include <easyenclave/http/client.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ee::api {

using TimePoint = std::chrono::system_clock::time_point;

inline constexpr std::string_view kTimestampHeader = "X-EE-Timestamp";
inline constexpr std::string_view kSignatureHeader = "X-EE-Signature";

/// A P-256 public key. Immutable; copies share the parsed key; thread-safe.
class PublicKey {
 public:
  /// Accepts a PEM "PUBLIC KEY" block, or base64 (standard or url-safe) of the DER
  /// SubjectPublicKeyInfo. Only P-256 keys are accepted.
  /// @returns api::errc::invalid_public_key. Never throws (except bad_alloc).
  static result<PublicKey> parse(std::string_view text);
  static result<PublicKey> from_der(std::span<std::uint8_t const> der);
  /// DER SubjectPublicKeyInfo.
  std::vector<std::uint8_t> const& der() const noexcept;
  /// Standard base64 of `der()`: the form used on the wire.
  std::string base64() const;
  /// SHA-256 of `der()`: what an agent binds into REPORTDATA[32..64).
  std::array<std::uint8_t, 32> sha256() const;
  /// ECDSA P-256 SHA-256 over `data`; `signature` is raw r||s (64 bytes). False on any mismatch.
  bool verify(std::span<std::uint8_t const> data, std::span<std::uint8_t const> signature) const;

  struct State;

 private:
  explicit PublicKey(std::shared_ptr<State const> state) : state_(std::move(state)) {}
  std::shared_ptr<State const> state_;
};

/// A P-256 private key held in memory. Copies share the key; thread-safe.
class SigningKey {
 public:
  /// A new key from the system CSPRNG. errc::crypto_failure when OpenSSL fails.
  static result<SigningKey> generate();
  /// From a PKCS#8 or SEC1 PEM block. api::errc::invalid_private_key when it is not a P-256 key.
  static result<SigningKey> from_pem(std::string_view pem);
  /// PKCS#8 PEM: for the CP's key file. Secret: never log it.
  std::string private_key_pem() const;
  PublicKey const& public_key() const noexcept;
  /// Raw r||s (64 bytes), ECDSA P-256 SHA-256 over `data`, with s in its low form (s <= n/2).
  /// errc::crypto_failure when OpenSSL fails.
  result<std::vector<std::uint8_t>> sign(std::span<std::uint8_t const> data) const;

  struct State;

 private:
  explicit SigningKey(std::shared_ptr<State const> state) : state_(std::move(state)) {}
  std::shared_ptr<State const> state_;
};

/// The bytes that are signed (see the file comment).
std::string signing_input(std::string_view method, std::string_view target,
                          std::string_view timestamp, std::string_view body);

/// Sets X-EE-Timestamp and X-EE-Signature on `request` (its method, target and body must be
/// final). An absolute-URL target (what http::Client takes) is signed in the origin form the
/// client sends and the receiving server sees: its path ("/" when empty) and query; any other
/// target is signed as is. errc::crypto_failure when signing fails. Never throws (except
/// bad_alloc).
result<void> sign_request(http::Request& request, SigningKey const& key, TimePoint now);

/// Where a verifier remembers the signatures it accepted, so that each is accepted once: in
/// memory for one process (ReplayGuard), or a store the replicas of a control plane share.
class SeenSignatures {
 public:
  virtual ~SeenSignatures() = default;
  /// True the first time `signature` is offered while `expires_at` is after `now`; false after,
  /// and when it cannot tell (an implementation whose store fails refuses: it fails closed).
  virtual bool first_use(std::string_view signature, TimePoint expires_at, TimePoint now) = 0;
};

/// Remembers the signatures seen within the window so each is accepted once. Bounded: when
/// full, it evicts the entries closest to leaving the window. Thread-safe.
class ReplayGuard final : public SeenSignatures {
 public:
  explicit ReplayGuard(std::size_t capacity = 100'000);
  ~ReplayGuard() override;
  ReplayGuard(ReplayGuard const&) = delete;
  ReplayGuard& operator=(ReplayGuard const&) = delete;
  bool first_use(std::string_view signature, TimePoint expires_at, TimePoint now) override;
  std::size_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct VerifyRequestOptions {
  /// Accepted distance between the request's timestamp and `now`, either way.
  std::chrono::seconds window{300};
  /// When set, each signature is accepted once.
  SeenSignatures* replay_guard = nullptr;
};

/// Checks the signature headers of `request` against `key` at `now`, in this order: both headers
/// present (once each), well-formed, the timestamp within `options.window` of `now` (the edge
/// included), the signature valid over the target as `sign_request` derives it, and finally,
/// with a replay guard, not seen before: the guard remembers the low-S form of the signature
/// until the timestamp leaves the window, so the malleated twin (r, n - s) counts as a replay.
/// @returns api::errc::signature_missing, signature_malformed, signature_invalid,
///          timestamp_out_of_window or replayed_request (all condition::unauthenticated).
///          Never throws (except bad_alloc).
result<void> verify_request(http::Request const& request, PublicKey const& key, TimePoint now,
                            VerifyRequestOptions const& options = {});

}  // namespace ee::api
