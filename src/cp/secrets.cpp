#include "cp/secrets.hpp"

#include "detail/crypto.hpp"
#include "detail/log.hpp"

#include <argon2.h>

#include <array>
#include <cstdlib>
#include <optional>

namespace ee::cp {
namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::size_t kSaltLength = 16;
constexpr std::size_t kTagLength = 32;
// The longest PHC string verify_secret looks at: the header, three ten-digit numbers and
// base64 of a 64-byte salt and a 64-byte tag, with room to spare.
constexpr std::size_t kMaxEncodedLength = 256;

bool is_secret_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

bool is_b64_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Reads "<name>=<decimal>" at the front of `text`, advancing it. At most ten digits, no sign.
std::optional<std::uint32_t> take_param(std::string_view& text, char name) noexcept {
  if (text.size() < 3 || text[0] != name || text[1] != '=') return std::nullopt;
  text.remove_prefix(2);
  std::uint64_t value = 0;
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    if (digits == 10) return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(text[digits] - '0');
    ++digits;
  }
  if (digits == 0 || value > 0xffffffffu) return std::nullopt;
  text.remove_prefix(digits);
  return static_cast<std::uint32_t>(value);
}

// Checks the shape of an Argon2id v19 PHC string before libargon2 decodes it (RFC 9106
// section 4 parameters; PHC string format): the algorithm is pinned to argon2id, the version
// to 0x13, and the cost within our maxima, so a row never chooses a cheaper or costlier
// algorithm than the one we wrote. libargon2 then decodes and verifies it in full.
bool acceptable_encoding(std::string_view encoded) noexcept {
  if (encoded.size() > kMaxEncodedLength) return false;
  constexpr std::string_view kHead = "$argon2id$v=19$";
  if (!encoded.starts_with(kHead)) return false;
  auto rest = encoded.substr(kHead.size());
  auto const m = take_param(rest, 'm');
  if (!m || rest.empty() || rest[0] != ',') return false;
  rest.remove_prefix(1);
  auto const t = take_param(rest, 't');
  if (!t || rest.empty() || rest[0] != ',') return false;
  rest.remove_prefix(1);
  auto const p = take_param(rest, 'p');
  if (!p || rest.empty() || rest[0] != '$') return false;
  rest.remove_prefix(1);
  if (*m > kArgon2MaxMemoryKib || *t > kArgon2MaxIterations || *p > kArgon2MaxParallelism ||
      *t < 1 || *p < 1 || *m < 8u * *p)
    return false;
  auto const split = rest.find('$');
  if (split == std::string_view::npos) return false;
  auto const salt = rest.substr(0, split);
  auto const tag = rest.substr(split + 1);
  // Unpadded base64 of 8..64 salt bytes and 16..64 tag bytes.
  if (salt.size() < 11 || salt.size() > 86 || tag.size() < 22 || tag.size() > 86) return false;
  for (char c : salt)
    if (!is_b64_char(c)) return false;
  for (char c : tag)
    if (!is_b64_char(c)) return false;
  return true;
}

bool params_in_bounds(Argon2Params const& p) noexcept {
  return p.iterations >= 1 && p.iterations <= kArgon2MaxIterations && p.parallelism >= 1 &&
         p.parallelism <= kArgon2MaxParallelism && p.memory_kib >= 8u * p.parallelism &&
         p.memory_kib <= kArgon2MaxMemoryKib;
}

}  // namespace

bool argon2_params_acceptable(Argon2Params const& params) noexcept {
  return params_in_bounds(params) && params.memory_kib >= kArgon2Minimum.memory_kib &&
         params.iterations >= kArgon2Minimum.iterations &&
         params.parallelism >= kArgon2Minimum.parallelism;
}

std::string new_secret(std::string_view kind_prefix) {
  std::string out(kind_prefix);
  out.reserve(kind_prefix.size() + kSecretRandomLength);
  std::array<std::uint8_t, 64> pool{};
  while (out.size() < kind_prefix.size() + kSecretRandomLength) {
    if (!detail::random_bytes(pool)) {
      detail::log::error("cp", "the random generator failed; refusing to issue a guessable secret");
      std::abort();
    }
    for (auto b : pool) {
      // Rejection sampling: 248 = 4 * 62, so b % 62 is uniform over the accepted bytes.
      if (b >= 248) continue;
      out.push_back(kBase62[b % 62]);
      if (out.size() == kind_prefix.size() + kSecretRandomLength) break;
    }
  }
  return out;
}

result<std::string> lookup_prefix(std::string_view secret) {
  if (secret.size() < kLookupPrefixLength)
    return Error(errc::invalid_value, "the secret is shorter than its lookup prefix");
  for (char c : secret)
    if (!is_secret_char(c))
      return Error(errc::invalid_value, "the secret holds a character outside [A-Za-z0-9_]");
  return std::string(secret.substr(0, kLookupPrefixLength));
}

result<std::string> hash_secret(std::string_view secret, Argon2Params const& params) {
  if (!params_in_bounds(params))
    return Error(errc::out_of_range, "Argon2id parameters outside the accepted range");
  std::array<std::uint8_t, kSaltLength> salt{};
  if (auto r = detail::random_bytes(salt); !r) return r.error();
  auto const length = argon2_encodedlen(params.iterations, params.memory_kib, params.parallelism,
                                        kSaltLength, kTagLength, Argon2_id);
  std::string encoded(length, '\0');
  int const rc = argon2id_hash_encoded(params.iterations, params.memory_kib, params.parallelism,
                                       secret.data(), secret.size(), salt.data(), salt.size(),
                                       kTagLength, encoded.data(), encoded.size());
  if (rc != ARGON2_OK)
    return Error(errc::crypto_failure,
                 std::string("Argon2id failed: ") + argon2_error_message(rc));
  encoded.resize(encoded.find('\0'));  // argon2_encodedlen counts the terminator
  return encoded;
}

bool verify_secret(std::string_view secret, std::string_view encoded) noexcept {
  if (!acceptable_encoding(encoded)) return false;
  std::array<char, kMaxEncodedLength + 1> terminated{};  // libargon2 wants a C string
  encoded.copy(terminated.data(), encoded.size());
  return argon2id_verify(terminated.data(), secret.data(), secret.size()) == ARGON2_OK;
}

void verify_nothing(Argon2Params const& params) noexcept {
  // The same Argon2id run a failing verification makes (decode aside, which is microseconds):
  // a tag over a fixed input that nobody compares.
  auto const p = params_in_bounds(params) ? params : kArgon2Minimum;
  static constexpr std::array<std::uint8_t, kSaltLength> kSalt{};
  std::array<std::uint8_t, kTagLength> tag{};
  constexpr std::string_view kNothing = "ee_none_00000000000000000000000000000000";
  (void)argon2id_hash_raw(p.iterations, p.memory_kib, p.parallelism, kNothing.data(),
                          kNothing.size(), kSalt.data(), kSalt.size(), tag.data(), tag.size());
}

VerifiedSecrets::VerifiedSecrets(std::size_t capacity) : capacity_(capacity) {}

std::string VerifiedSecrets::key_of(std::string_view secret, std::string_view encoded) {
  auto const digest = detail::sha256(detail::as_bytes(secret));
  std::string key(detail::as_chars(digest));
  key.append(encoded);
  return key;
}

bool VerifiedSecrets::remembered(std::string_view secret, std::string_view encoded) const {
  auto const key = key_of(secret, encoded);
  std::lock_guard lock(mutex_);
  return entries_.contains(key);
}

bool VerifiedSecrets::verify(std::string_view secret, std::string_view encoded) {
  auto key = key_of(secret, encoded);
  {
    std::lock_guard lock(mutex_);
    if (entries_.contains(key)) return true;
  }
  if (!verify_secret(secret, encoded)) return false;
  if (capacity_ == 0) return true;
  std::lock_guard lock(mutex_);
  if (entries_.insert(key).second) {
    order_.push_back(std::move(key));
    while (order_.size() > capacity_) {
      entries_.erase(order_.front());
      order_.pop_front();
    }
  }
  return true;
}

void VerifiedSecrets::forget_all() {
  std::lock_guard lock(mutex_);
  entries_.clear();
  order_.clear();
}

std::size_t VerifiedSecrets::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace ee::cp
