#pragma once
// OAuth `state` values (cp/sessions.hpp says how they are used).
#include <easyenclave/error.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace ee::cp {

/// OAuth states: issued without storing anything, redeemed once.
///
/// Layout (base64url of 40 bytes): [0..16) random, [16..24) expiry (seconds since the epoch,
/// big-endian), [24..40) HMAC-SHA-256(key, label | bytes[0..24)) cut to 16 bytes.
class OAuthStates {
 public:
  using Key = std::array<std::uint8_t, 32>;
  OAuthStates(Key key, std::chrono::seconds ttl) : key_(key), ttl_(ttl) {}
  /// The key of the CP whose signing key is `signing_key_pem` (see NonceTable::derive_key).
  static Key derive_key(std::string_view signing_key_pem);

  /// A new state. errc::crypto_failure when the CSPRNG fails.
  result<std::string> issue(std::chrono::system_clock::time_point now) const;
  /// Checks that `state` (the callback's query) is the browser's `cookie` (constant time), was
  /// issued by this CP and has not expired: errc::oauth_state_invalid otherwise. Spending it is
  /// the caller's (Services::replay_guard), so that the check does no I/O.
  result<std::chrono::system_clock::time_point> check(std::string_view state, std::string_view cookie,
                                                          std::chrono::system_clock::time_point now) const;
  std::chrono::seconds ttl() const noexcept { return ttl_; }

 private:
  Key key_;
  std::chrono::seconds ttl_;
};

}  // namespace ee::cp
