#include "fakes/jws_signer.hpp"

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <stdexcept>

namespace ee::test {

struct SigningKey::Impl {
  EVP_PKEY* pkey = nullptr;
  bool is_ec = false;
  std::string curve;
  ~Impl() { EVP_PKEY_free(pkey); }
};

namespace {

[[noreturn]] void fail(char const* what) { throw std::runtime_error(std::string("jws_signer: ") + what); }

std::string b64url_bytes(std::vector<std::uint8_t> const& bytes) {
  return ee::detail::base64url_encode(bytes);
}

std::vector<std::uint8_t> bn_param(EVP_PKEY* pkey, char const* name, int pad) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) fail("EVP_PKEY_get_bn_param");
  int const len = pad > 0 ? pad : BN_num_bytes(bn);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(len));
  BN_bn2binpad(bn, out.data(), len);
  BN_free(bn);
  return out;
}

EVP_MD const* md_for(std::string_view alg) {
  if (alg.ends_with("256")) return EVP_sha256();
  if (alg.ends_with("384")) return EVP_sha384();
  if (alg.ends_with("512")) return EVP_sha512();
  fail("unknown algorithm");
}

}  // namespace

SigningKey SigningKey::rsa(int bits, std::string kid) {
  auto impl = std::make_shared<Impl>();
  impl->pkey = EVP_RSA_gen(static_cast<unsigned>(bits));
  if (impl->pkey == nullptr) fail("EVP_RSA_gen");
  return SigningKey(std::move(impl), std::move(kid));
}

SigningKey SigningKey::ec(std::string const& curve, std::string kid) {
  auto impl = std::make_shared<Impl>();
  impl->pkey = EVP_EC_gen(curve.c_str());
  if (impl->pkey == nullptr) fail("EVP_EC_gen");
  impl->is_ec = true;
  impl->curve = curve;
  return SigningKey(std::move(impl), std::move(kid));
}

SigningKey SigningKey::from_pem(std::string const& pem, std::string kid) {
  auto impl = std::make_shared<Impl>();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  impl->pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (impl->pkey == nullptr) fail("PEM_read_bio_PrivateKey");
  if (EVP_PKEY_is_a(impl->pkey, "EC")) {
    impl->is_ec = true;
    impl->curve = EVP_PKEY_get_bits(impl->pkey) == 256 ? "P-256" : "P-384";
  }
  return SigningKey(std::move(impl), std::move(kid));
}

std::string SigningKey::jwk_json(std::optional<std::string> alg, std::string const& extra) const {
  std::string out = R"({"kid":")" + kid_ + R"(","use":"sig",)";
  if (alg) out += R"("alg":")" + *alg + R"(",)";
  if (impl_->is_ec) {
    int const size = impl_->curve == "P-256" ? 32 : 48;
    out += R"("kty":"EC","crv":")" + impl_->curve + R"(","x":")" +
           b64url_bytes(bn_param(impl_->pkey, OSSL_PKEY_PARAM_EC_PUB_X, size)) + R"(","y":")" +
           b64url_bytes(bn_param(impl_->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, size)) + "\"";
  } else {
    out += R"("kty":"RSA","n":")" + b64url_bytes(bn_param(impl_->pkey, OSSL_PKEY_PARAM_RSA_N, 0)) +
           R"(","e":")" + b64url_bytes(bn_param(impl_->pkey, OSSL_PKEY_PARAM_RSA_E, 0)) + "\"";
  }
  if (!extra.empty()) out += "," + extra;
  return out + "}";
}

std::string SigningKey::private_key_pem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  if (PEM_write_bio_PrivateKey(bio, impl_->pkey, nullptr, nullptr, 0, nullptr, nullptr) != 1) fail("PEM_write");
  char* data = nullptr;
  long const len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

std::vector<std::uint8_t> SigningKey::public_key_der() const {
  int const len = i2d_PUBKEY(impl_->pkey, nullptr);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(len));
  unsigned char* p = out.data();
  i2d_PUBKEY(impl_->pkey, &p);
  return out;
}

std::vector<std::uint8_t> SigningKey::signature(std::string_view alg, std::string_view data,
                                                bool der_ecdsa) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestSignInit(ctx, &pctx, md_for(alg), nullptr, impl_->pkey) != 1) fail("EVP_DigestSignInit");
  if (alg.starts_with("PS")) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md_for(alg));
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  std::size_t len = 0;
  auto const* in = reinterpret_cast<unsigned char const*>(data.data());
  if (EVP_DigestSign(ctx, nullptr, &len, in, data.size()) != 1) fail("EVP_DigestSign size");
  std::vector<std::uint8_t> sig(len);
  if (EVP_DigestSign(ctx, sig.data(), &len, in, data.size()) != 1) fail("EVP_DigestSign");
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  if (!impl_->is_ec || der_ecdsa) return sig;
  // RFC 7518 section 3.4: JWS carries R || S, each left-padded to the coordinate size.
  unsigned char const* p = sig.data();
  ECDSA_SIG* ecdsa = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  if (ecdsa == nullptr) fail("d2i_ECDSA_SIG");
  int const half = impl_->curve == "P-256" ? 32 : 48;
  std::vector<std::uint8_t> raw(static_cast<std::size_t>(2 * half));
  BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa), raw.data(), half);
  BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa), raw.data() + half, half);
  ECDSA_SIG_free(ecdsa);
  return raw;
}

std::string SigningKey::sign_raw(std::string_view alg, std::string_view header_json,
                                 std::string_view payload_json, bool der_ecdsa) const {
  std::string input = b64url(header_json) + "." + b64url(payload_json);
  return input + "." + b64url_bytes(signature(alg, input, der_ecdsa));
}

std::string SigningKey::mint(std::string_view alg, std::string_view claims_json) const {
  std::string header = R"({"alg":")" + std::string(alg) + R"(","kid":")" + kid_ + R"(","typ":"JWT"})";
  return sign_raw(alg, header, claims_json);
}

std::string jwks_json(std::vector<std::string> const& jwks) {
  std::string out = R"({"keys":[)";
  for (std::size_t i = 0; i < jwks.size(); ++i) out += (i ? "," : "") + jwks[i];
  return out + "]}";
}

std::string b64url(std::string_view bytes) {
  return ee::detail::base64url_encode(ee::detail::as_bytes(bytes));
}

std::string sign_hs256(std::string_view secret, std::string_view header_json,
                       std::string_view payload_json) {
  std::string input = b64url(header_json) + "." + b64url(payload_json);
  auto mac = ee::detail::hmac_sha256(ee::detail::as_bytes(secret), ee::detail::as_bytes(input));
  return input + "." + ee::detail::base64url_encode(mac);
}

}  // namespace ee::test
