// JWK sets (RFC 7517) imported into OpenSSL, x5c chains checked against a pinned root, and the
// JWS signature primitive (RFC 7518 section 3).
#include <easyenclave/file.hpp>
#include <easyenclave/jwt/token.hpp>
#include <easyenclave/time.hpp>

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "detail/json.hpp"
#include "detail/time.hpp"
#include "jwt/internal.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <ctime>

namespace ee::jwt {
namespace detail {
namespace {

namespace core = ::ee::detail;
namespace bj = boost::json;

struct BnFree {
  void operator()(BIGNUM* p) const noexcept { BN_free(p); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const noexcept { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const noexcept { OSSL_PARAM_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const noexcept { ECDSA_SIG_free(p); }
};
struct StoreFree {
  void operator()(X509_STORE* p) const noexcept { X509_STORE_free(p); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* p) const noexcept { X509_STORE_CTX_free(p); }
};
struct StackFree {
  void operator()(STACK_OF(X509) * p) const noexcept { sk_X509_free(p); }
};
struct StackPopFree {
  void operator()(STACK_OF(X509) * p) const noexcept { sk_X509_pop_free(p, X509_free); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 16384;

// Digests are fetched once: an explicit fetch avoids OpenSSL 3's implicit per-call lookup.
EVP_MD const* digest_for(Algorithm alg) noexcept {
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static EVP_MD* const sha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  static EVP_MD* const sha512 = EVP_MD_fetch(nullptr, "SHA512", nullptr);
  switch (alg) {
    case Algorithm::rs256:
    case Algorithm::ps256:
    case Algorithm::es256: return sha256;
    case Algorithm::rs384:
    case Algorithm::ps384:
    case Algorithm::es384: return sha384;
    case Algorithm::rs512:
    case Algorithm::ps512: return sha512;
  }
  return nullptr;
}

bool is_pss(Algorithm alg) noexcept {
  return alg == Algorithm::ps256 || alg == Algorithm::ps384 || alg == Algorithm::ps512;
}
bool is_ecdsa(Algorithm alg) noexcept { return alg == Algorithm::es256 || alg == Algorithm::es384; }

// Coordinate size of the curve an ES* algorithm requires (RFC 7518 section 3.4).
std::size_t ecdsa_half(Algorithm alg) noexcept { return alg == Algorithm::es256 ? 32 : 48; }

result<TimePoint> from_asn1(ASN1_TIME const* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1)
    return Error(errc::x5c_untrusted, "x5c: unreadable certificate time");
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

// RFC 7518 section 6.3.1: Base64urlUInt, "MUST NOT" have leading zero octets.
result<BnPtr> big_uint(core::json::ObjectReader const& jwk, std::string_view name,
                       std::size_t max_bytes) {
  auto text = jwk.string(name);
  if (!text) return Error(errc::malformed_key, std::string(name) + " is missing or not a string");
  auto bytes = core::base64url_decode(*text);
  if (!bytes) return Error(errc::malformed_key, std::string(name) + " is not base64url");
  if (bytes->empty() || bytes->size() > max_bytes)
    return Error(errc::malformed_key, std::string(name) + " has an impossible length");
  if ((*bytes)[0] == 0)
    return Error(errc::malformed_key, std::string(name) + " has a leading zero octet");
  BnPtr bn(BN_bin2bn(bytes->data(), static_cast<int>(bytes->size()), nullptr));
  if (!bn) return Error(ee::errc::crypto_failure, "BN_bin2bn failed");
  return bn;
}

result<EvpPkeyPtr> from_params(char const* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    return Error(errc::malformed_key, std::string(type) + " key parameters are rejected by OpenSSL");
  return EvpPkeyPtr(raw);
}

result<void> import_rsa(core::json::ObjectReader const& jwk, Key& key) {
  auto n = big_uint(jwk, "n", kMaxRsaBits / 8);
  if (!n) return n.error();
  auto e = big_uint(jwk, "e", 8);
  if (!e) return e.error();
  key.bits = BN_num_bits(n->get());
  if (key.bits < kMinRsaBits)
    return Error(errc::malformed_key, "RSA modulus has " + std::to_string(key.bits) +
                                          " bits; at least 2048 are required");
  if (!BN_is_odd(e->get()) || BN_is_one(e->get()))
    return Error(errc::malformed_key, "RSA exponent e is not an odd number above 1");
  // These structural checks (with e at most 8 bytes, so below n) are all a signature verifier
  // needs. OpenSSL's public-key check (SP 800-56B 6.4.2.1: no small factors, n composite by
  // Miller-Rabin) costs about 10 ms per 3072-bit key and protects whoever encrypts to a key; a
  // verifier gains nothing from it, since the key set's publisher, which chose the key, is
  // trusted to name it anyway.
  if (!BN_is_odd(n->get()))
    return Error(errc::malformed_key, "RSA modulus n is even, so it is not an RSA modulus");
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n->get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e->get()) != 1)
    return Error(ee::errc::crypto_failure, "OSSL_PARAM_BLD failed");
  auto pkey = from_params("RSA", bld.get());
  if (!pkey) return pkey.error();
  key.pkey = std::move(*pkey);
  return {};
}

// RFC 7518 section 6.2.1: x and y are exactly the field size, big-endian.
result<void> import_ec(core::json::ObjectReader const& jwk, Key& key) {
  auto crv = jwk.string("crv");
  if (!crv) return Error(errc::malformed_key, "crv is missing or not a string");
  std::size_t size = 0;
  if (*crv == "P-256") size = 32;
  else if (*crv == "P-384") size = 48;
  else return Error(errc::malformed_key, "crv '" + *crv + "' is not P-256 or P-384");
  key.curve = *crv;
  key.bits = static_cast<int>(size * 8);
  std::vector<std::uint8_t> point{0x04};  // SEC 1 uncompressed point: 04 || x || y
  for (auto name : {"x", "y"}) {
    auto text = jwk.string(name);
    if (!text) return Error(errc::malformed_key, std::string(name) + " is missing or not a string");
    auto bytes = core::base64url_decode(*text);
    if (!bytes || bytes->size() != size)
      return Error(errc::malformed_key, std::string(name) + " is not " + std::to_string(size) +
                                            " base64url-encoded bytes");
    point.insert(point.end(), bytes->begin(), bytes->end());
  }
  if (jwk.contains("d")) return Error(errc::malformed_key, "a private key (d) has no place in a key set");
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, crv->c_str(), 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1)
    return Error(ee::errc::crypto_failure, "OSSL_PARAM_BLD failed");
  auto pkey = from_params("EC", bld.get());
  if (!pkey) return pkey.error();
  // The point is on the curve (EVP_PKEY_fromdata decodes it with EC_POINT_oct2point); the check
  // adds that it is not the point at infinity and has the group's order. It costs one scalar
  // multiplication.
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey->get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1)
    return Error(errc::malformed_key, "EC public key fails OpenSSL's check");
  key.pkey = std::move(*pkey);
  return {};
}

// RFC 7517 section 4.7: x5c is an array of standard (not URL-safe) base64 DER certificates, the
// first holding the key the JWK describes.
result<void> import_x5c(core::json::ObjectReader const& jwk, Key& key) {
  auto chain = jwk.string_array("x5c");
  if (!chain) return Error(errc::malformed_key, "x5c is not an array of strings");
  if (chain->empty()) return Error(errc::malformed_key, "x5c is empty");
  for (std::size_t i = 0; i < chain->size(); ++i) {
    auto der = core::base64_decode((*chain)[i]);
    if (!der) return Error(errc::malformed_key, "x5c[" + std::to_string(i) + "] is not base64");
    unsigned char const* p = der->data();
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der->size())));
    if (!cert || p != der->data() + der->size())
      return Error(errc::malformed_key, "x5c[" + std::to_string(i) + "] is not one DER certificate");
    key.x5c.push_back(std::move(cert));
  }
  if (key.pkey && EVP_PKEY_eq(X509_get0_pubkey(key.x5c.front().get()), key.pkey.get()) != 1)
    return Error(errc::malformed_key, "x5c[0] holds another public key than the JWK");
  return {};
}

std::shared_ptr<Key const> import_key(bj::value const& value, std::size_t index) {
  auto key = std::make_shared<Key>();
  auto fail = [&](std::string why) {
    key->problem = std::move(why);
    key->pkey.reset();
    return key;
  };
  auto jwk = core::json::ObjectReader::from(value, "keys[" + std::to_string(index) + "]");
  if (!jwk) return fail("not an object");
  if (auto kid = jwk->optional_string("kid"); kid && *kid) key->kid = **kid;
  auto kty = jwk->string("kty");
  if (!kty) return fail("kty is missing or not a string");
  key->kty = *kty;
  if (auto alg = jwk->optional_string("alg"); !alg) {
    return fail("alg is not a string");
  } else if (*alg) {
    key->alg = parse_algorithm(**alg);
    if (!key->alg) return fail("alg '" + **alg + "' is not an accepted signature algorithm");
  }
  if (auto use = jwk->optional_string("use"); !use || (*use && **use != "sig"))
    return fail("use is not \"sig\"");
  if (jwk->contains("key_ops")) {
    auto ops = jwk->string_array("key_ops");
    if (!ops || std::find(ops->begin(), ops->end(), "verify") == ops->end())
      return fail("key_ops does not include \"verify\"");
  }
  result<void> imported;
  if (*kty == "RSA") {
    key->type = KeyType::rsa;
    imported = import_rsa(*jwk, *key);
  } else if (*kty == "EC") {
    key->type = KeyType::ec;
    imported = import_ec(*jwk, *key);
  } else {
    return fail("kty '" + *kty + "' is never accepted for signatures here");
  }
  if (!imported) return fail(imported.error().message());
  if (key->alg && !key_fits(*key, *key->alg))
    return fail("alg " + std::string(to_string(*key->alg)) + " does not fit kty " + *kty +
                (key->curve.empty() ? "" : " " + key->curve));
  if (jwk->contains("x5c")) {
    if (auto x5c = import_x5c(*jwk, *key); !x5c) return fail(x5c.error().message());
  }
  return key;
}

// Verifies x5c's signatures up to `root` ignoring time, and returns the window in which every
// certificate of the chain that OpenSSL built is valid.
result<ChainWindow> verify_chain(Key const& key, X509* root) {
  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  std::unique_ptr<STACK_OF(X509), StackFree> untrusted(sk_X509_new_null());
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  if (!store || !untrusted || !ctx || X509_STORE_add_cert(store.get(), root) != 1)
    return Error(ee::errc::crypto_failure, "X509_STORE setup failed");
  for (std::size_t i = 1; i < key.x5c.size(); ++i)
    if (sk_X509_push(untrusted.get(), key.x5c[i].get()) <= 0)
      return Error(ee::errc::crypto_failure, "sk_X509_push failed");
  if (X509_STORE_CTX_init(ctx.get(), store.get(), key.x5c.front().get(), untrusted.get()) != 1)
    return Error(ee::errc::crypto_failure, "X509_STORE_CTX_init failed");
  // Time is checked per token against the window below, so the verified chain can be cached.
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_NO_CHECK_TIME | X509_V_FLAG_X509_STRICT);
  if (X509_verify_cert(ctx.get()) != 1)
    return Error(errc::x5c_untrusted,
                 "x5c of kid '" + key.kid + "' does not lead to the configured root: " +
                     X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
  std::unique_ptr<STACK_OF(X509), StackPopFree> chain(X509_STORE_CTX_get1_chain(ctx.get()));
  ChainWindow window{TimePoint::min(), TimePoint::max()};
  for (int i = 0; chain && i < sk_X509_num(chain.get()); ++i) {
    X509* cert = sk_X509_value(chain.get(), i);
    auto nb = from_asn1(X509_get0_notBefore(cert));
    auto na = from_asn1(X509_get0_notAfter(cert));
    if (!nb || !na) return nb ? na.error() : nb.error();
    window.not_before = std::max(window.not_before, *nb);
    window.not_after = std::min(window.not_after, *na);
  }
  return window;
}

// A verify context for `alg` on `key` with its padding and digest parameters (RFC 7518
// sections 3.3-3.5): PKCS #1 v1.5, or PSS with MGF1 of the same hash and salt = hash length.
std::shared_ptr<EVP_PKEY_CTX> verify_template(Key const& key, Algorithm alg) {
  std::shared_ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.pkey.get(), nullptr),
                                    PkeyCtxFree{});
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), digest_for(alg)) != 1)
    return nullptr;
  if (is_pss(alg)) {
    if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), digest_for(alg)) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), RSA_PSS_SALTLEN_DIGEST) != 1)
      return nullptr;
  } else if (!is_ecdsa(alg) && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1) {
    return nullptr;
  }
  return ctx;
}

}  // namespace

bool key_fits(Key const& key, Algorithm alg) noexcept {
  switch (alg) {
    case Algorithm::rs256:
    case Algorithm::rs384:
    case Algorithm::rs512:
    case Algorithm::ps256:
    case Algorithm::ps384:
    case Algorithm::ps512: return key.type == KeyType::rsa;
    case Algorithm::es256: return key.type == KeyType::ec && key.curve == "P-256";
    case Algorithm::es384: return key.type == KeyType::ec && key.curve == "P-384";
  }
  return false;
}

result<void> verify_signature(Key const& key, Algorithm alg, std::string_view message,
                              std::span<std::uint8_t const> signature) {
  std::vector<std::uint8_t> der;
  std::span<std::uint8_t const> sig = signature;
  if (is_ecdsa(alg)) {
    // RFC 7518 section 3.4: the JWS signature is R || S, each exactly the coordinate size. A DER
    // ECDSA-Sig-Value (what OpenSSL produces natively) is refused, not converted.
    auto const half = ecdsa_half(alg);
    if (signature.size() != 2 * half)
      return Error(errc::malformed_signature, "signature is " + std::to_string(signature.size()) +
                                                  " bytes; " + std::string(to_string(alg)) +
                                                  " requires raw R||S of " +
                                                  std::to_string(2 * half));
    std::unique_ptr<ECDSA_SIG, EcdsaSigFree> ecdsa(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(signature.data(), static_cast<int>(half), nullptr);
    BIGNUM* s = BN_bin2bn(signature.data() + half, static_cast<int>(half), nullptr);
    if (!ecdsa || !r || !s || ECDSA_SIG_set0(ecdsa.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return Error(ee::errc::crypto_failure, "ECDSA_SIG setup failed");
    }
    int const len = i2d_ECDSA_SIG(ecdsa.get(), nullptr);
    if (len <= 0) return Error(ee::errc::crypto_failure, "i2d_ECDSA_SIG failed");
    der.resize(static_cast<std::size_t>(len));
    unsigned char* out = der.data();
    i2d_ECDSA_SIG(ecdsa.get(), &out);
    sig = der;
  } else if (signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(key.pkey.get()))) {
    // RFC 8017 section 8.1.2/8.2.2: the signature is exactly the modulus length.
    return Error(errc::malformed_signature,
                 "signature is " + std::to_string(signature.size()) + " bytes; the " +
                     std::to_string(key.bits) + "-bit key requires " +
                     std::to_string(EVP_PKEY_get_size(key.pkey.get())));
  }
  std::shared_ptr<EVP_PKEY_CTX> templ;
  {
    std::lock_guard lock(key.mutex);
    for (auto const& [a, ctx] : key.verify_templates)
      if (a == alg) templ = ctx;
    if (!templ) {
      templ = verify_template(key, alg);
      if (!templ) return Error(ee::errc::crypto_failure, "verification context setup failed");
      key.verify_templates.emplace_back(alg, templ);
    }
  }
  // The template is only read by EVP_PKEY_CTX_dup; each call verifies on its own copy.
  PkeyCtxPtr ctx(EVP_PKEY_CTX_dup(templ.get()));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (!ctx || EVP_Digest(message.data(), message.size(), digest, &digest_len, digest_for(alg), nullptr) != 1)
    return Error(ee::errc::crypto_failure, "digest or context copy failed");
  int const ok = EVP_PKEY_verify(ctx.get(), sig.data(), sig.size(), digest, digest_len);
  if (ok != 1) return Error(errc::bad_signature, "signature does not verify with kid '" + key.kid + "'");
  return {};
}

result<void> check_x5c(Key const& key, CertificateRoot const& root, TimePoint at) {
  if (key.x5c.empty())
    return Error(errc::x5c_missing, "key '" + key.kid + "' has no x5c chain to check against the root");
  auto const& state = *root.state();
  result<ChainWindow> window = Error(ee::errc::crypto_failure, "unset");
  {
    std::lock_guard lock(key.mutex);
    auto it = std::find_if(key.chain_checks.begin(), key.chain_checks.end(),
                           [&](auto const& entry) { return entry.first == state.fingerprint; });
    if (it == key.chain_checks.end()) {
      key.chain_checks.emplace_back(state.fingerprint, verify_chain(key, state.certificate.get()));
      it = std::prev(key.chain_checks.end());
    }
    window = it->second;
  }
  if (!window) return window.error();
  if (at < window->not_before || at > window->not_after)
    return Error(errc::x5c_expired, "x5c of kid '" + key.kid + "' is valid only from " +
                                        format_time(window->not_before) + " to " +
                                        format_time(window->not_after));
  return {};
}

}  // namespace detail

// --- CertificateRoot ------------------------------------------------------------------------

result<CertificateRoot> CertificateRoot::from_certificate(std::span<std::uint8_t const> pem_or_der) {
  ::ee::detail::OpenSslErrorScope const openssl_errors;
  auto state = std::make_shared<State>();
  auto const text = ::ee::detail::as_chars(pem_or_der);
  if (text.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(pem_or_der.data(), static_cast<int>(pem_or_der.size())), &BIO_free);
    state->certificate.reset(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  } else {
    unsigned char const* p = pem_or_der.data();
    state->certificate.reset(d2i_X509(nullptr, &p, static_cast<long>(pem_or_der.size())));
    if (state->certificate && p != pem_or_der.data() + pem_or_der.size()) state->certificate.reset();
  }
  if (!state->certificate)
    return Error(errc::invalid_options, "root certificate is neither one PEM nor one DER certificate");
  int const len = i2d_X509(state->certificate.get(), nullptr);
  if (len <= 0) return Error(errc::invalid_options, "root certificate does not re-encode");
  std::vector<std::uint8_t> der(static_cast<std::size_t>(len));
  unsigned char* out = der.data();
  i2d_X509(state->certificate.get(), &out);
  state->fingerprint = ::ee::detail::hex_encode(::ee::detail::sha256(der));
  return CertificateRoot(std::move(state));
}

result<CertificateRoot> CertificateRoot::from_file(std::filesystem::path const& path) {
  auto text = read_file(path, 1024 * 1024);
  if (!text) return text.error();
  return from_certificate(::ee::detail::as_bytes(*text));
}

std::string const& CertificateRoot::fingerprint() const noexcept { return state_->fingerprint; }

// --- KeySet ---------------------------------------------------------------------------------

KeySet::KeySet() : impl_(std::make_shared<Impl const>()) {}

result<KeySet> KeySet::parse(std::string_view json) {
  namespace core = ::ee::detail;
  core::OpenSslErrorScope const openssl_errors;
  auto doc = core::json::parse(json, {.max_bytes = 1024 * 1024, .max_depth = 8});
  if (!doc) return Error(errc::malformed_jwks, "key set: " + doc.error().message());
  auto top = core::json::ObjectReader::from(*doc, "jwks");
  if (!top) return Error(errc::malformed_jwks, "key set is not a JSON object");
  auto keys = top->array("keys");
  if (!keys) return Error(errc::malformed_jwks, "key set has no \"keys\" array");
  auto impl = std::make_shared<Impl>();
  for (std::size_t i = 0; i < (*keys)->size(); ++i) {
    auto const& entry = (**keys)[i];
    if (!entry.is_object() || !entry.as_object().contains("kty") ||
        !entry.as_object().at("kty").is_string())
      return Error(errc::malformed_jwks,
                   "key set entry " + std::to_string(i) + " is not a JWK object with a string kty");
    impl->keys.push_back(detail::import_key(entry, i));
  }
  return KeySet(std::move(impl));
}

std::size_t KeySet::size() const noexcept { return impl_->keys.size(); }

std::vector<KeyInfo> KeySet::keys() const {
  std::vector<KeyInfo> out;
  for (auto const& key : impl_->keys)
    out.push_back({key->kid, key->alg, key->kty, key->curve, key->bits, !key->x5c.empty(), key->problem});
  return out;
}

bool KeySet::contains_kid(std::string_view kid) const noexcept {
  return std::any_of(impl_->keys.begin(), impl_->keys.end(),
                     [&](auto const& key) { return key->kid == kid; });
}

}  // namespace ee::jwt
