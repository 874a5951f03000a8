#include "detail/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <limits>

namespace ee::detail {
namespace {

// One-shot digests through EVP_Digest: the fetched EVP_MD is cached by OpenSSL 3 for the
// built-in providers, and these inputs cannot fail except on allocation failure.
template <class Out>
Out digest(EVP_MD const* md, ByteView data) noexcept {
  Out out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr);
  return out;
}

}  // namespace

Sha256 sha256(ByteView data) noexcept { return digest<Sha256>(EVP_sha256(), data); }
Sha384 sha384(ByteView data) noexcept { return digest<Sha384>(EVP_sha384(), data); }
Sha512 sha512(ByteView data) noexcept { return digest<Sha512>(EVP_sha512(), data); }

Sha256 hmac_sha256(ByteView key, ByteView data) noexcept {
  Sha256 out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &len);
  return out;
}

Sha256Hasher::Sha256Hasher() noexcept : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}
Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
void Sha256Hasher::update(ByteView data) noexcept {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}
Sha256 Sha256Hasher::finish() noexcept {
  Sha256 out{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out.data(), &len);
  return out;
}

result<void> random_bytes(std::span<std::uint8_t> out) noexcept {
  // RAND_bytes takes an int length; draw large requests in slices.
  constexpr std::size_t kSlice = std::numeric_limits<int>::max();
  for (std::size_t offset = 0; offset < out.size(); offset += kSlice) {
    auto const n = std::min(kSlice, out.size() - offset);
    if (RAND_bytes(out.data() + offset, static_cast<int>(n)) != 1)
      return Error(errc::crypto_failure, "the random generator is not seeded");
  }
  return {};
}

result<Bytes> random_bytes(std::size_t n) {
  Bytes out(n);
  if (auto r = random_bytes(std::span<std::uint8_t>(out)); !r) return r.error();
  return out;
}

result<std::string> uuid_v4() {
  std::array<std::uint8_t, 16> b{};
  if (auto r = random_bytes(b); !r) return r.error();
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // variant 10xx (RFC 9562 section 4.1)
  auto const hex = hex_encode(b);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20, 12);
}

bool is_uuid(std::string_view text) noexcept {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char const c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

bool constant_time_equal(ByteView a, ByteView b) noexcept {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

OpenSslErrorScope::OpenSslErrorScope() noexcept { ERR_set_mark(); }

OpenSslErrorScope::~OpenSslErrorScope() { ERR_pop_to_mark(); }

}  // namespace ee::detail
