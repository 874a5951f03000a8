// P-256 keys, request signatures between the CP and its agents, and the replay guard.
#include <easyenclave/api/signing.hpp>

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "detail/expiring_set.hpp"
#include "detail/time.hpp"
#include "tdx/x509.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <string>
#include <mutex>
#include <set>
#include <utility>

namespace ee::api {

// The key material behind the public handles. OpenSSL 3 keys may be used by several threads at
// once as long as none modifies them; these never change after construction.
struct PublicKey::State {
  tdx::detail::EvpPkeyPtr pkey{};
  std::vector<std::uint8_t> der{};
};

struct SigningKey::State {
  tdx::detail::EvpPkeyPtr pkey{};
  PublicKey public_key;
};

namespace {

using detail::as_bytes;
using detail::as_chars;
using detail::ByteView;
using EvpPkeyPtr = tdx::detail::EvpPkeyPtr;

constexpr std::size_t kMaxPublicKeyText = 4096;
constexpr std::size_t kMaxPublicKeyDer = 2048;
constexpr std::size_t kMaxPrivateKeyPem = 16 * 1024;
constexpr std::size_t kRawSignatureSize = 64;
constexpr std::size_t kMaxTimestampDigits = 18;  // below 10^18: no int64 overflow
constexpr std::string_view kPemBegin = "-----BEGIN PUBLIC KEY-----";
constexpr std::string_view kPemEnd = "-----END PUBLIC KEY-----";

// The order n of the P-256 group (SEC 2 v2 section 2.4.2; FIPS 186-4 appendix D.1.2.3).
constexpr std::array<std::uint8_t, 32> kP256Order = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

struct BioFree {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const noexcept { ECDSA_SIG_free(p); }
};
struct OpensslFree {
  void operator()(void* p) const noexcept { OPENSSL_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, EcdsaSigFree>;

// A failure of our own making must not be explained later by an entry OpenSSL left behind.
Error failed(errc code, std::string detail) {
  ERR_clear_error();
  return Error(code, std::move(detail));
}
Error crypto_failed(std::string detail) {
  ERR_clear_error();
  return Error(ee::errc::crypto_failure, std::move(detail));
}

std::string_view trim(std::string_view s) noexcept {
  auto const ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

// The curve name of an EC key with a named group; empty for explicit parameters.
std::string group_name(EVP_PKEY* key) {
  char group[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                     &len) != 1)
    return {};
  return std::string(group, len);
}

// True for an EC key on the NIST P-256 curve (named, not explicit parameters).
// SubjectPublicKeyInfo (RFC 5480 section 2) of a P-256 key with an uncompressed point, up to the
// point: SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (no unused bits) }.
constexpr std::array<std::uint8_t, 26> kP256SpkiPrefix = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
constexpr std::size_t kUncompressedPointSize = 65;  // 0x04 || X || Y

// The key of a DER SubjectPublicKeyInfo in exactly the form above, imported from its point (the
// import checks that the point is on the curve); null for any other encoding or a bad point.
EvpPkeyPtr import_p256_spki(std::span<std::uint8_t const> der) {
  if (der.size() != kP256SpkiPrefix.size() + kUncompressedPointSize ||
      !std::equal(kP256SpkiPrefix.begin(), kP256SpkiPrefix.end(), der.begin()) ||
      der[kP256SpkiPrefix.size()] != 0x04)
    return nullptr;
  char group[] = SN_X9_62_prime256v1;
  auto point = der.subspan(kP256SpkiPrefix.size());
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                        const_cast<std::uint8_t*>(point.data()), point.size()),
      OSSL_PARAM_construct_end()};
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    ERR_clear_error();  // the caller's fallback decides what to report
    return nullptr;
  }
  return EvpPkeyPtr(raw);
}

bool is_p256(EVP_PKEY* key) {
  return key != nullptr && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
         group_name(key) == SN_X9_62_prime256v1;
}

std::string describe_key(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
    auto const group = group_name(key);
    return group.empty() ? "an EC key with explicit curve parameters" : "an EC key on " + group;
  }
  char const* name = EVP_PKEY_get0_type_name(key);
  return std::string("a ") + (name != nullptr ? name : "non-EC") + " key";
}

result<std::vector<std::uint8_t>> der_of(EVP_PKEY* key) {
  int const len = i2d_PUBKEY(key, nullptr);
  if (len <= 0) return crypto_failed("i2d_PUBKEY failed");
  std::vector<std::uint8_t> der(static_cast<std::size_t>(len));
  unsigned char* out = der.data();
  if (i2d_PUBKEY(key, &out) != len) return crypto_failed("i2d_PUBKEY failed");
  return der;
}

// Big-endian 32-byte arithmetic for the low-S form: (r, s) and (r, n - s) both verify (ECDSA is
// malleable), so a replay check must see one canonical form.
bool greater(std::span<std::uint8_t const, 32> a, std::span<std::uint8_t const, 32> b) noexcept {
  return std::lexicographical_compare(b.begin(), b.end(), a.begin(), a.end());
}
std::array<std::uint8_t, 32> order_minus(std::span<std::uint8_t const, 32> s) noexcept {
  std::array<std::uint8_t, 32> out{};
  int borrow = 0;
  for (std::size_t i = 32; i-- > 0;) {
    int diff = kP256Order[i] - s[i] - borrow;
    borrow = diff < 0 ? 1 : 0;
    out[i] = static_cast<std::uint8_t>(diff + (borrow << 8));
  }
  return out;
}

// Replaces s by n - s when s > n/2, i.e. when s > n - s (n is odd). For s >= n (an invalid
// signature) the result is meaningless, but such a signature never verifies.
void to_low_s(std::span<std::uint8_t, kRawSignatureSize> raw) noexcept {
  std::span<std::uint8_t, 32> s = raw.subspan<32, 32>();
  auto const other = order_minus(s);
  if (greater(s, other)) std::copy(other.begin(), other.end(), s.begin());
}

// The origin-form target (RFC 9112 section 3.2.1) a request is sent with. http::Client requests
// carry an absolute URL and the client sends only its path and query, which is what the
// receiving server sees; deriving it the same way (empty path as "/", fragment dropped) on both
// sides makes signer and verifier agree. Anything else is used as is.
std::string wire_target(std::string_view target) {
  auto const starts_with_ci = [&](std::string_view prefix) {
    return target.size() >= prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), target.begin(), [](char a, char b) {
             return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b - 'A' + 'a') : b);
           });
  };
  if (!starts_with_ci("http://") && !starts_with_ci("https://")) return std::string(target);
  auto parsed = boost::urls::parse_uri(target);
  if (!parsed) return std::string(target);
  std::string out(parsed->encoded_path());
  if (out.empty()) out = "/";
  if (parsed->has_query()) {
    out += '?';
    out += parsed->encoded_query();
  }
  return out;
}

// Unix seconds as sent: ASCII digits only (no sign, space or '+'), small enough for int64.
std::optional<std::int64_t> parse_timestamp(std::string_view text) noexcept {
  if (text.empty() || text.size() > kMaxTimestampDigits) return std::nullopt;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::int64_t value = 0;
  auto const [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string_view header_value(http::Request const& request, std::string_view name) {
  auto const it = request.find(boost::beast::string_view(name.data(), name.size()));
  if (it == request.end()) return {};
  auto const v = it->value();
  return {v.data(), v.size()};
}

}  // namespace

// --- PublicKey --------------------------------------------------------------------------------

result<PublicKey> PublicKey::from_der(std::span<std::uint8_t const> der) {
  if (der.empty() || der.size() > kMaxPublicKeyDer)
    return failed(errc::invalid_public_key, "public key: DER SubjectPublicKeyInfo of " +
                                                std::to_string(der.size()) + " bytes");
  // The common encoding is imported from its point directly: OpenSSL 3's generic DER decoder
  // costs about two ECDSA verifications per key, and the CP parses a key per registration.
  EvpPkeyPtr key = import_p256_spki(der);
  if (!key) {
    unsigned char const* cursor = der.data();
    key.reset(d2i_PUBKEY(nullptr, &cursor, static_cast<long>(der.size())));
    if (!key)
      return failed(errc::invalid_public_key, "public key: not a DER SubjectPublicKeyInfo");
    if (cursor != der.data() + der.size())
      return failed(errc::invalid_public_key,
                    "public key: trailing bytes after the DER SubjectPublicKeyInfo");
  }
  if (!is_p256(key.get()))
    return failed(errc::invalid_public_key,
                  "public key: " + describe_key(key.get()) + ", expected EC P-256");
  // Both imports already refuse points off the curve; the explicit check also covers the point
  // at infinity and keeps the guarantee independent of decoder details. The quick form skips the
  // n·Q = O test, which adds nothing on P-256: its cofactor is 1, so every point on the curve
  // other than O has order n (SEC 1 v2 section 3.2.2.1).
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check_quick(check.get()) != 1)
    return failed(errc::invalid_public_key, "public key: the EC point fails OpenSSL's check");
  auto state = std::make_shared<State>();
  state->pkey = std::move(key);
  // The bytes as received: an agent binds SHA-256 of exactly these into its quote.
  state->der.assign(der.begin(), der.end());
  return PublicKey(std::move(state));
}

result<PublicKey> PublicKey::parse(std::string_view text) {
  if (text.size() > kMaxPublicKeyText)
    return failed(errc::invalid_public_key, "public key: text of " + std::to_string(text.size()) +
                                                " bytes exceeds " +
                                                std::to_string(kMaxPublicKeyText));
  auto const body = trim(text);
  if (body.empty()) return failed(errc::invalid_public_key, "public key: empty");
  if (body.starts_with("-----")) {
    // Exactly one "PUBLIC KEY" block (RFC 7468 section 13) and nothing but whitespace around it.
    if (!body.starts_with(kPemBegin) || !body.ends_with(kPemEnd) ||
        body.find("-----BEGIN", 1) != std::string_view::npos)
      return failed(errc::invalid_public_key, "public key: not one PEM PUBLIC KEY block");
    BioPtr bio(BIO_new_mem_buf(body.data(), static_cast<int>(body.size())));
    if (!bio) return crypto_failed("BIO_new_mem_buf failed");
    char* name_raw = nullptr;
    char* header_raw = nullptr;
    unsigned char* data_raw = nullptr;
    long len = 0;
    int const ok = PEM_read_bio(bio.get(), &name_raw, &header_raw, &data_raw, &len);
    std::unique_ptr<char, OpensslFree> name(name_raw);
    std::unique_ptr<char, OpensslFree> header(header_raw);
    std::unique_ptr<unsigned char, OpensslFree> data(data_raw);
    if (ok != 1 || len <= 0 || std::string_view(name.get()) != "PUBLIC KEY" ||
        (header && header.get()[0] != '\0'))
      return failed(errc::invalid_public_key, "public key: malformed PEM PUBLIC KEY block");
    return from_der({data.get(), static_cast<std::size_t>(len)});
  }
  // Standard base64 (what the wire carries), or base64url for keys pasted from URLs and JWS
  // tooling. Both decoders are strict, so each accepts one encoding of the bytes.
  auto der = detail::base64_decode(body);
  if (!der) der = detail::base64url_decode(body);
  if (!der)
    return failed(errc::invalid_public_key,
                  "public key: neither PEM nor base64/base64url of a DER SubjectPublicKeyInfo");
  return from_der(*der);
}

std::vector<std::uint8_t> const& PublicKey::der() const noexcept { return state_->der; }

std::string PublicKey::base64() const { return detail::base64_encode(state_->der); }

std::array<std::uint8_t, 32> PublicKey::sha256() const { return detail::sha256(state_->der); }

bool PublicKey::verify(std::span<std::uint8_t const> data,
                       std::span<std::uint8_t const> signature) const {
  if (signature.size() != kRawSignatureSize) return false;
  tdx::P256Raw raw{};
  std::copy(signature.begin(), signature.end(), raw.begin());
  bool const ok = tdx::detail::verify_p256(state_->pkey.get(), data, raw);
  if (!ok) ERR_clear_error();
  return ok;
}

// --- SigningKey -------------------------------------------------------------------------------

namespace {
// The public half of a private key, through the same checks as a key received from a peer.
result<PublicKey> public_half(EVP_PKEY* key) {
  auto der = der_of(key);
  if (!der) return der.error();
  auto pub = PublicKey::from_der(*der);
  if (!pub) return crypto_failed("the public half of the key does not re-parse");
  return pub;
}
}  // namespace

result<SigningKey> SigningKey::generate() {
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return crypto_failed("P-256 key generation failed");
  auto pub = public_half(key.get());
  if (!pub) return pub.error();
  return SigningKey(std::make_shared<State const>(State{std::move(key), std::move(*pub)}));
}

result<SigningKey> SigningKey::from_pem(std::string_view pem) {
  if (pem.size() > kMaxPrivateKeyPem)
    return failed(errc::invalid_private_key, "private key: PEM text of " +
                                                 std::to_string(pem.size()) + " bytes exceeds " +
                                                 std::to_string(kMaxPrivateKeyPem));
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return crypto_failed("BIO_new_mem_buf failed");
  // An encrypted key must fail here, never make OpenSSL prompt on the terminal for a password.
  auto const no_password = [](char*, int, int, void*) -> int { return -1; };
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr));
  if (!key)
    return failed(errc::invalid_private_key,
                  "private key: not an unencrypted PKCS#8 or SEC1 PEM private key");
  if (!is_p256(key.get()))
    return failed(errc::invalid_private_key,
                  "private key: " + describe_key(key.get()) + ", expected EC P-256");
  // The pairwise check catches a public point that does not belong to the private scalar.
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_pairwise_check(check.get()) != 1)
    return failed(errc::invalid_private_key, "private key: fails OpenSSL's key check");
  auto pub = public_half(key.get());
  if (!pub) return pub.error();
  return SigningKey(std::make_shared<State const>(State{std::move(key), std::move(*pub)}));
}

std::string SigningKey::private_key_pem() const {
  // Secure-heap memory, cleared when freed, so the only copy left is the returned string.
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), state_->pkey.get(), nullptr, nullptr, 0,
                                       nullptr, nullptr) != 1) {
    ERR_clear_error();
    return {};
  }
  char* data = nullptr;
  long const len = BIO_get_mem_data(bio.get(), &data);
  return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

PublicKey const& SigningKey::public_key() const noexcept { return state_->public_key; }

result<std::vector<std::uint8_t>> SigningKey::sign(std::span<std::uint8_t const> data) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, state_->pkey.get()) != 1)
    return crypto_failed("ECDSA signing setup failed");
  std::size_t der_len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &der_len, data.data(), data.size()) != 1)
    return crypto_failed("ECDSA signing failed");
  std::vector<std::uint8_t> der(der_len);
  if (EVP_DigestSign(ctx.get(), der.data(), &der_len, data.data(), data.size()) != 1)
    return crypto_failed("ECDSA signing failed");
  // OpenSSL emits the DER ECDSA-Sig-Value (RFC 3279 section 2.2.3); the wire carries r||s, each
  // left-padded to the 32-byte coordinate size.
  unsigned char const* cursor = der.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der_len)));
  if (!sig) return crypto_failed("ECDSA signature does not decode");
  std::vector<std::uint8_t> raw(kRawSignatureSize);
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw.data(), 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw.data() + 32, 32) != 32)
    return crypto_failed("ECDSA signature component too large");
  to_low_s(std::span<std::uint8_t, kRawSignatureSize>(raw.data(), kRawSignatureSize));
  return raw;
}

// --- request signatures -----------------------------------------------------------------------

std::string signing_input(std::string_view method, std::string_view target,
                          std::string_view timestamp, std::string_view body) {
  std::string out;
  out.reserve(14 + method.size() + target.size() + timestamp.size() + 3 + 64);
  out += "ee-request-v1\n";
  out += method;
  out += '\n';
  out += target;
  out += '\n';
  out += timestamp;
  out += '\n';
  out += detail::hex_encode(detail::sha256(as_bytes(body)));
  return out;
}

result<void> sign_request(http::Request& request, SigningKey const& key, TimePoint now) {
  auto const timestamp = std::to_string(detail::to_unix_seconds(now));
  auto const method = request.method_string();
  auto const target = request.target();
  auto const input =
      signing_input({method.data(), method.size()}, wire_target({target.data(), target.size()}),
                    timestamp, request.body());
  auto signature = key.sign(as_bytes(input));
  if (!signature) return signature.error();
  request.set(boost::beast::string_view(kTimestampHeader.data(), kTimestampHeader.size()),
              timestamp);
  request.set(boost::beast::string_view(kSignatureHeader.data(), kSignatureHeader.size()),
              detail::base64url_encode(*signature));
  return {};
}

result<void> verify_request(http::Request const& request, PublicKey const& key, TimePoint now,
                            VerifyRequestOptions const& options) {
  auto const ts_name = boost::beast::string_view(kTimestampHeader.data(), kTimestampHeader.size());
  auto const sig_name = boost::beast::string_view(kSignatureHeader.data(), kSignatureHeader.size());
  if (request.count(ts_name) == 0 || request.count(sig_name) == 0)
    return Error(errc::signature_missing, "request has no X-EE-Timestamp or X-EE-Signature header");
  // Two copies of a header would leave it to chance which one a proxy or handler reads.
  if (request.count(ts_name) > 1 || request.count(sig_name) > 1)
    return Error(errc::signature_malformed, "request repeats X-EE-Timestamp or X-EE-Signature");
  auto const ts_text = header_value(request, kTimestampHeader);
  auto const ts = parse_timestamp(ts_text);
  if (!ts)
    return Error(errc::signature_malformed, "X-EE-Timestamp is not unix seconds in decimal");
  auto sig = detail::base64url_decode(header_value(request, kSignatureHeader));
  if (!sig || sig->size() != kRawSignatureSize)
    return Error(errc::signature_malformed,
                 "X-EE-Signature is not unpadded base64url of a 64-byte r||s signature");
  auto const signed_at = detail::from_unix_seconds(*ts);
  auto const window = std::chrono::duration_cast<TimePoint::duration>(options.window);
  if (now - signed_at > window || signed_at - now > window)
    return Error(errc::timestamp_out_of_window,
                 "X-EE-Timestamp " + std::string(ts_text) + " is more than " +
                     std::to_string(options.window.count()) + " s from the verifier's clock (" +
                     std::to_string(detail::to_unix_seconds(now)) + ")");
  auto const method = request.method_string();
  auto const target = request.target();
  auto const input =
      signing_input({method.data(), method.size()}, wire_target({target.data(), target.size()}),
                    ts_text, request.body());
  if (!key.verify(as_bytes(input), *sig))
    return Error(errc::signature_invalid, "X-EE-Signature does not verify under the expected key");
  if (options.replay_guard != nullptr) {
    // Remember the low-S form: (r, n - s) verifies as well and must count as the same request.
    to_low_s(std::span<std::uint8_t, kRawSignatureSize>(sig->data(), kRawSignatureSize));
    if (!options.replay_guard->first_use(detail::base64url_encode(*sig), signed_at + window, now))
      return Error(errc::replayed_request, "this request signature was already accepted");
  }
  return {};
}

// --- ReplayGuard ------------------------------------------------------------------------------

struct ReplayGuard::Impl {
  explicit Impl(std::size_t capacity) : seen(capacity, detail::ExpiringSet::WhenFull::evict_soonest) {}
  detail::ExpiringSet seen;
};

ReplayGuard::ReplayGuard(std::size_t capacity) : impl_(std::make_unique<Impl>(capacity)) {}

ReplayGuard::~ReplayGuard() = default;

bool ReplayGuard::first_use(std::string_view signature, TimePoint expires_at, TimePoint now) {
  return impl_->seen.add(signature, expires_at, now) == detail::ExpiringSet::Added::added;
}

std::size_t ReplayGuard::size() const { return impl_->seen.size(); }

}  // namespace ee::api
