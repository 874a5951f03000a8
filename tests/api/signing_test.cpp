// P-256 keys, signed requests between the CP and its agents, and the replay guard.
#include <easyenclave/api/signing.hpp>

#include "detail/encoding.hpp"
#include "detail/time.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace api = ee::api;
namespace http = boost::beast::http;
using api::PublicKey;
using api::ReplayGuard;
using api::SigningKey;
using api::TimePoint;
using ee::detail::as_bytes;
using std::chrono::seconds;

// --- OpenSSL keys of other kinds, made at test time -----------------------------------------

struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct BioFree {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

PkeyPtr make_key(char const* type, char const* curve_or_null, std::size_t rsa_bits = 0) {
  EVP_PKEY* key = nullptr;
  if (rsa_bits != 0) key = EVP_PKEY_Q_keygen(nullptr, nullptr, type, rsa_bits);
  else if (curve_or_null != nullptr) key = EVP_PKEY_Q_keygen(nullptr, nullptr, type, curve_or_null);
  else key = EVP_PKEY_Q_keygen(nullptr, nullptr, type);
  if (key == nullptr) throw std::runtime_error("EVP_PKEY_Q_keygen failed");
  return PkeyPtr(key);
}

std::vector<std::uint8_t> spki_der(EVP_PKEY* key) {
  int const len = i2d_PUBKEY(key, nullptr);
  if (len <= 0) throw std::runtime_error("i2d_PUBKEY failed");
  std::vector<std::uint8_t> der(static_cast<std::size_t>(len));
  unsigned char* out = der.data();
  i2d_PUBKEY(key, &out);
  return der;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long const len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string public_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(bio.get(), key) != 1) throw std::runtime_error("PEM_write_bio_PUBKEY");
  return bio_text(bio.get());
}

std::string private_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    throw std::runtime_error("PEM_write_bio_PrivateKey");
  return bio_text(bio.get());
}

std::string sec1_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey_traditional(bio.get(), key, nullptr, nullptr, 0, nullptr,
                                           nullptr) != 1)
    throw std::runtime_error("PEM_write_bio_PrivateKey_traditional");
  return bio_text(bio.get());
}

std::string encrypted_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  char password[] = "correct horse";
  if (PEM_write_bio_PKCS8PrivateKey(bio.get(), key, EVP_aes_256_cbc(), password,
                                    static_cast<int>(sizeof password - 1), nullptr,
                                    nullptr) != 1)
    throw std::runtime_error("PEM_write_bio_PKCS8PrivateKey");
  return bio_text(bio.get());
}

SigningKey new_key() { return SigningKey::generate().value(); }

TimePoint at(std::int64_t unix_seconds) { return ee::detail::from_unix_seconds(unix_seconds); }

// s' = n - s: the other signature ECDSA accepts for the same message (malleability).
std::vector<std::uint8_t> malleate(std::vector<std::uint8_t> raw) {
  std::unique_ptr<EC_GROUP, decltype(&EC_GROUP_free)> group(
      EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1), &EC_GROUP_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> s(BN_bin2bn(raw.data() + 32, 32, nullptr), &BN_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> other(BN_new(), &BN_free);
  BN_sub(other.get(), EC_GROUP_get0_order(group.get()), s.get());
  BN_bn2binpad(other.get(), raw.data() + 32, 32);
  return raw;
}

// --- keys ------------------------------------------------------------------------------------

TEST(SigningKey, GeneratesP256KeyThatRoundTripsThroughPem) {
  auto key = new_key();
  auto const pem = key.private_key_pem();
  EXPECT_TRUE(pem.starts_with("-----BEGIN PRIVATE KEY-----\n")) << "PKCS#8 expected";
  auto again = SigningKey::from_pem(pem);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->public_key().der(), key.public_key().der());
  // A signature by the reloaded key verifies under the original public key.
  auto sig = again->sign(as_bytes("hello"));
  ASSERT_TRUE(sig);
  EXPECT_TRUE(key.public_key().verify(as_bytes("hello"), *sig));
}

TEST(SigningKey, GeneratesDistinctKeys) {
  EXPECT_NE(new_key().public_key().der(), new_key().public_key().der());
}

TEST(SigningKey, FromPemAcceptsSec1EcPrivateKey) {
  auto ossl = make_key("EC", "P-256");
  auto const pem = sec1_pem(ossl.get());
  ASSERT_TRUE(pem.starts_with("-----BEGIN EC PRIVATE KEY-----"));
  auto key = SigningKey::from_pem(pem);
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(key->public_key().der(), spki_der(ossl.get()));
}

TEST(SigningKey, FromPemRejectsOtherKeysAndGarbage) {
  auto rsa = make_key("RSA", nullptr, 2048);
  auto p384 = make_key("EC", "P-384");
  auto ed = make_key("ED25519", nullptr);
  auto p256 = make_key("EC", "P-256");
  std::string const cases[] = {
      private_pem(rsa.get()),
      private_pem(p384.get()),
      private_pem(ed.get()),
      encrypted_pem(p256.get()),  // must fail without prompting for a password
      public_pem(p256.get()),
      "",
      "not a key",
      "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
      std::string(20 * 1024, 'A'),
  };
  for (auto const& pem : cases) {
    auto key = SigningKey::from_pem(pem);
    ASSERT_FALSE(key) << pem.substr(0, 40);
    EXPECT_EQ(key.error(), api::errc::invalid_private_key) << pem.substr(0, 40);
    EXPECT_EQ(key.error(), ee::condition::invalid_input);
  }
}

TEST(SigningKey, FromPemErrorNamesTheKeyType) {
  auto rsa = make_key("RSA", nullptr, 2048);
  auto key = SigningKey::from_pem(private_pem(rsa.get()));
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message().find("RSA"), std::string::npos) << key.error().message();
}

TEST(SigningKey, SignsRawLowSSignatures) {
  auto key = new_key();
  // Half the group order, rounded down: a low-S signature has s <= this.
  std::vector<std::uint8_t> const half = ee::detail::hex_decode(
                                             "7fffffff800000007fffffffffffffff"
                                             "de737d56d38bcf4279dce5617e3192a8")
                                             .value();
  for (int i = 0; i < 32; ++i) {
    auto sig = key.sign(as_bytes("message " + std::to_string(i)));
    ASSERT_TRUE(sig);
    ASSERT_EQ(sig->size(), 64u);
    EXPECT_FALSE(std::lexicographical_compare(half.begin(), half.end(), sig->begin() + 32,
                                              sig->end()))
        << "s is above n/2";
    EXPECT_TRUE(key.public_key().verify(as_bytes("message " + std::to_string(i)), *sig));
  }
}

TEST(PublicKey, ParsesPemBase64AndBase64url) {
  auto ossl = make_key("EC", "P-256");
  auto const der = spki_der(ossl.get());
  std::string const forms[] = {
      public_pem(ossl.get()),
      "\n  " + public_pem(ossl.get()) + "\n\n",
      ee::detail::base64_encode(der),
      ee::detail::base64url_encode(der),
      ee::detail::base64_encode(der) + "\n",
  };
  for (auto const& text : forms) {
    auto key = PublicKey::parse(text);
    ASSERT_TRUE(key) << text << ": " << key.error().message();
    EXPECT_EQ(key->der(), der);
  }
}

TEST(PublicKey, Base64IsTheStandardEncodingOfDer) {
  auto key = new_key().public_key();
  EXPECT_EQ(key.base64(), ee::detail::base64_encode(key.der()));
  auto again = PublicKey::parse(key.base64());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->der(), key.der());
  EXPECT_EQ(key.der().size(), 91u);  // uncompressed P-256 SubjectPublicKeyInfo
}

// The common 91-byte encoding is imported from its point; any other P-256 encoding (here the
// compressed point of the same key) goes through OpenSSL's decoder. Both verify its signatures.
TEST(PublicKey, ParsesTheCompressedEncodingOfTheSameKey) {
  auto signer = new_key();
  auto const pem = signer.private_key_pem();
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                &BIO_free);
  PkeyPtr ossl(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(ossl);
  ASSERT_EQ(EVP_PKEY_set_utf8_string_param(ossl.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                           "compressed"),
            1);
  auto const compressed = spki_der(ossl.get());
  ASSERT_EQ(compressed.size(), 59u);
  auto key = PublicKey::from_der(compressed);
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(key->der(), compressed);  // kept as received: agents bind SHA-256 of these bytes
  std::string const message = "heartbeat";
  auto const bytes = ee::detail::as_bytes(message);
  auto const signature = signer.sign(bytes).value();
  EXPECT_TRUE(key->verify(bytes, signature));
  EXPECT_TRUE(signer.public_key().verify(bytes, signature));
  EXPECT_FALSE(new_key().public_key().verify(bytes, signature));
}

TEST(PublicKey, Sha256IsTheDigestOfDer) {
  auto key = new_key().public_key();
  std::array<std::uint8_t, 32> expected{};
  SHA256(key.der().data(), key.der().size(), expected.data());
  EXPECT_EQ(key.sha256(), expected);
}

TEST(PublicKey, FromDerKeepsTheBytesGiven) {
  auto ossl = make_key("EC", "P-256");
  auto const der = spki_der(ossl.get());
  auto key = PublicKey::from_der(der);
  ASSERT_TRUE(key);
  EXPECT_EQ(key->der(), der);
}

TEST(PublicKey, RejectsKeysThatAreNotP256) {
  auto rsa = make_key("RSA", nullptr, 2048);
  auto p384 = make_key("EC", "P-384");
  auto k256 = make_key("EC", "secp256k1");
  auto ed = make_key("ED25519", nullptr);
  for (EVP_PKEY* k : {rsa.get(), p384.get(), k256.get(), ed.get()}) {
    for (auto const& text : {public_pem(k), ee::detail::base64_encode(spki_der(k))}) {
      auto key = PublicKey::parse(text);
      ASSERT_FALSE(key) << text;
      EXPECT_EQ(key.error(), api::errc::invalid_public_key);
      EXPECT_EQ(key.error(), ee::condition::invalid_input);
    }
    EXPECT_FALSE(PublicKey::from_der(spki_der(k)));
  }
}

TEST(PublicKey, RejectsGarbage) {
  auto ossl = make_key("EC", "P-256");
  auto const pem = public_pem(ossl.get());
  auto const b64 = ee::detail::base64_encode(spki_der(ossl.get()));
  std::string const cases[] = {
      "",
      "   \n",
      "not base64 !",
      "AAAA",
      b64 + "AAAA",                                       // a different DER: trailing bytes
      b64.substr(1),                                      // not canonical base64 any more
      "-----BEGIN CERTIFICATE-----\n" + b64 + "\n-----END CERTIFICATE-----\n",
      "-----BEGIN PUBLIC KEY-----\n" + b64 + "\n",        // no END line
      pem + pem,                                          // two blocks
      "garbage\n" + pem,                                  // text before the block
      pem + "garbage",                                    // text after the block
      "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
  };
  for (auto const& text : cases) {
    auto key = PublicKey::parse(text);
    ASSERT_FALSE(key) << text;
    EXPECT_EQ(key.error(), api::errc::invalid_public_key) << text;
  }
}

TEST(PublicKey, RejectsEveryTruncationOfDer) {
  auto const der = spki_der(make_key("EC", "P-256").get());
  for (std::size_t n = 0; n < der.size(); ++n) {
    std::span<std::uint8_t const> prefix(der.data(), n);
    EXPECT_FALSE(PublicKey::from_der(prefix)) << n;
    EXPECT_FALSE(PublicKey::parse(ee::detail::base64_encode(prefix))) << n;
  }
  auto longer = der;
  longer.push_back(0);
  EXPECT_FALSE(PublicKey::from_der(longer));
}

TEST(PublicKey, RejectsAPointOffTheCurve) {
  auto der = spki_der(make_key("EC", "P-256").get());
  der.back() ^= 0x01;  // the last byte of y: the point leaves the curve
  auto key = PublicKey::from_der(der);
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error(), api::errc::invalid_public_key);
}

TEST(PublicKey, RejectsOversizedInput) {
  auto const b64 = new_key().public_key().base64();
  // Valid key text padded with whitespace beyond the 4 KiB bound.
  auto key = PublicKey::parse(b64 + std::string(5000, ' '));
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error(), api::errc::invalid_public_key);
  EXPECT_FALSE(PublicKey::parse(std::string(100'000, 'A')));
  EXPECT_FALSE(PublicKey::from_der(std::vector<std::uint8_t>(4096, 0x30)));
}

TEST(PublicKey, VerifyRejectsWrongKeyLengthAndData) {
  auto key = new_key();
  auto sig = key.sign(as_bytes("data")).value();
  EXPECT_TRUE(key.public_key().verify(as_bytes("data"), sig));
  EXPECT_FALSE(key.public_key().verify(as_bytes("date"), sig));
  EXPECT_FALSE(new_key().public_key().verify(as_bytes("data"), sig));
  auto shorter = sig;
  shorter.pop_back();
  EXPECT_FALSE(key.public_key().verify(as_bytes("data"), shorter));
  auto longer = sig;
  longer.push_back(0);
  EXPECT_FALSE(key.public_key().verify(as_bytes("data"), longer));
  EXPECT_FALSE(key.public_key().verify(as_bytes("data"), std::vector<std::uint8_t>(64, 0)));
  EXPECT_FALSE(key.public_key().verify(as_bytes("data"), std::vector<std::uint8_t>(64, 0xff)));
}

TEST(PublicKey, CopiesShareTheKey) {
  auto key = new_key();
  PublicKey copy = key.public_key();
  EXPECT_EQ(&copy.der(), &key.public_key().der());
}

// --- signed requests -------------------------------------------------------------------------

constexpr std::int64_t kNow = 1'760'000'000;

ee::http::Request make_request(http::verb verb, std::string target, std::string body) {
  ee::http::Request request{verb, target, 11};
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

struct Signed {
  SigningKey key = new_key();
  ee::http::Request request =
      make_request(http::verb::post, "/api/v1/agents/a1/heartbeat?full=1", R"({"status":"idle"})");
  Signed() { EXPECT_TRUE(api::sign_request(request, key, at(kNow))); }
};

std::string header(ee::http::Request const& r, std::string_view name) {
  return std::string(r[boost::beast::string_view(name.data(), name.size())]);
}

TEST(SigningInput, IsTheDocumentedString) {
  EXPECT_EQ(api::signing_input("POST", "/x?y=1", "1700000000", ""),
            "ee-request-v1\nPOST\n/x?y=1\n1700000000\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(api::signing_input("GET", "/", "0", "abc"),
            "ee-request-v1\nGET\n/\n0\n"
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(SignRequest, SetsTimestampAndRawSignatureHeaders) {
  Signed s;
  EXPECT_EQ(header(s.request, api::kTimestampHeader), std::to_string(kNow));
  auto const sig_text = header(s.request, api::kSignatureHeader);
  auto sig = ee::detail::base64url_decode(sig_text);
  ASSERT_TRUE(sig) << sig_text;
  EXPECT_EQ(sig->size(), 64u);
  // The signature covers exactly the documented input.
  auto const input = api::signing_input("POST", "/api/v1/agents/a1/heartbeat?full=1",
                                        std::to_string(kNow), R"({"status":"idle"})");
  EXPECT_TRUE(s.key.public_key().verify(as_bytes(input), *sig));
}

TEST(SignRequest, TimestampIsWholeUnixSecondsAtNow) {
  auto key = new_key();
  auto request = make_request(http::verb::get, "/x", "");
  ASSERT_TRUE(api::sign_request(request, key, at(kNow) + std::chrono::milliseconds(999)));
  EXPECT_EQ(header(request, api::kTimestampHeader), std::to_string(kNow));
}

TEST(VerifyRequest, AcceptsASignedRequest) {
  Signed s;
  auto ok = api::verify_request(s.request, s.key.public_key(), at(kNow));
  EXPECT_TRUE(ok) << ok.error().message();
}

TEST(VerifyRequest, AbsoluteUrlIsSignedAsTheOriginFormTheServerSees) {
  auto key = new_key();
  auto sent = make_request(http::verb::post, "https://cp.example:8443/api/v1/x?a=1&b=2#frag", "{}");
  ASSERT_TRUE(api::sign_request(sent, key, at(kNow)));
  // What the https client puts on the wire and the CP's server receives.
  auto received = make_request(http::verb::post, "/api/v1/x?a=1&b=2", "{}");
  received.set(api::kTimestampHeader, header(sent, api::kTimestampHeader));
  received.set(api::kSignatureHeader, header(sent, api::kSignatureHeader));
  EXPECT_TRUE(api::verify_request(received, key.public_key(), at(kNow)));
  EXPECT_TRUE(api::verify_request(sent, key.public_key(), at(kNow)));

  auto bare = make_request(http::verb::get, "http://agent.example", "");
  ASSERT_TRUE(api::sign_request(bare, key, at(kNow)));
  auto root = make_request(http::verb::get, "/", "");
  root.set(api::kTimestampHeader, header(bare, api::kTimestampHeader));
  root.set(api::kSignatureHeader, header(bare, api::kSignatureHeader));
  EXPECT_TRUE(api::verify_request(root, key.public_key(), at(kNow)));
}

TEST(VerifyRequest, RejectsEachTamperedPart) {
  auto const expect_invalid = [](ee::http::Request const& r, PublicKey const& key,
                                 char const* what) {
    auto v = api::verify_request(r, key, at(kNow));
    ASSERT_FALSE(v) << what;
    EXPECT_EQ(v.error(), api::errc::signature_invalid) << what;
    EXPECT_EQ(v.error(), ee::condition::unauthenticated) << what;
  };
  {
    Signed s;
    s.request.method(http::verb::put);
    expect_invalid(s.request, s.key.public_key(), "method");
  }
  {
    Signed s;
    s.request.target("/api/v1/agents/a2/heartbeat?full=1");
    expect_invalid(s.request, s.key.public_key(), "target");
  }
  {
    Signed s;
    s.request.target("/api/v1/agents/a1/heartbeat?full=0");
    expect_invalid(s.request, s.key.public_key(), "query");
  }
  {
    Signed s;
    s.request.target("/api/v1/agents/a1/heartbeat");
    expect_invalid(s.request, s.key.public_key(), "query removed");
  }
  {
    Signed s;
    s.request.set(api::kTimestampHeader, std::to_string(kNow + 1));
    expect_invalid(s.request, s.key.public_key(), "timestamp");
  }
  {
    Signed s;
    s.request.body() = R"({"status":"busy"})";
    expect_invalid(s.request, s.key.public_key(), "body");
  }
  {
    Signed s;
    auto sig = ee::detail::base64url_decode(header(s.request, api::kSignatureHeader)).value();
    sig[10] ^= 0x01;
    s.request.set(api::kSignatureHeader, ee::detail::base64url_encode(sig));
    expect_invalid(s.request, s.key.public_key(), "signature");
  }
  {
    Signed s;
    expect_invalid(s.request, new_key().public_key(), "another key");
  }
}

TEST(VerifyRequest, MissingHeaders) {
  for (auto const name : {api::kTimestampHeader, api::kSignatureHeader}) {
    Signed s;
    s.request.erase(boost::beast::string_view(name.data(), name.size()));
    auto v = api::verify_request(s.request, s.key.public_key(), at(kNow));
    ASSERT_FALSE(v) << name;
    EXPECT_EQ(v.error(), api::errc::signature_missing) << name;
    EXPECT_EQ(v.error(), ee::condition::unauthenticated);
  }
  auto unsigned_request = make_request(http::verb::get, "/", "");
  auto v = api::verify_request(unsigned_request, new_key().public_key(), at(kNow));
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error(), api::errc::signature_missing);
}

// Whitespace around a field value is not part of it (RFC 9110 section 5.5): Beast trims it when
// the header is set and parsers drop it on the wire, so " 1760000000" is not a malformed case.
TEST(VerifyRequest, MalformedTimestamps) {
  for (std::string const ts :
       {"", "abc", "-5", "+1760000000", "1760000000.0", "1e9",
        "0x68000000", "1234567890123456789", "99999999999999999999"}) {
    Signed s;
    s.request.set(api::kTimestampHeader, ts);
    auto v = api::verify_request(s.request, s.key.public_key(), at(kNow));
    ASSERT_FALSE(v) << ts;
    EXPECT_EQ(v.error(), api::errc::signature_malformed) << "'" << ts << "'";
  }
}

TEST(VerifyRequest, MalformedSignatures) {
  Signed good;
  auto const raw =
      ee::detail::base64url_decode(header(good.request, api::kSignatureHeader)).value();
  ASSERT_EQ(raw.size(), 64u);
  // Built from a range, not by pop_back: GCC 12 at -O2 cannot see that raw is not empty.
  std::vector<std::uint8_t> const shorter(raw.begin(), raw.begin() + 63);
  auto longer = raw;
  longer.push_back(0);
  std::string const cases[] = {
      "",
      "!!!!",
      ee::detail::base64_encode(raw),  // padded standard base64 ('=' is refused)
      ee::detail::base64url_encode(shorter),
      ee::detail::base64url_encode(longer),
      ee::detail::base64url_encode(raw) + "A",
  };
  for (auto const& sig : cases) {
    Signed s;
    s.request.set(api::kSignatureHeader, sig);
    auto v = api::verify_request(s.request, s.key.public_key(), at(kNow));
    ASSERT_FALSE(v) << sig;
    EXPECT_EQ(v.error(), api::errc::signature_malformed) << sig;
  }
}

TEST(VerifyRequest, RepeatedHeadersAreMalformed) {
  for (auto const name : {api::kTimestampHeader, api::kSignatureHeader}) {
    Signed s;
    auto const field = boost::beast::string_view(name.data(), name.size());
    s.request.insert(field, s.request[field]);
    auto v = api::verify_request(s.request, s.key.public_key(), at(kNow));
    ASSERT_FALSE(v) << name;
    EXPECT_EQ(v.error(), api::errc::signature_malformed) << name;
  }
}

TEST(VerifyRequest, WindowEdgesBothDirections) {
  Signed s;
  auto const& key = s.key.public_key();
  api::VerifyRequestOptions const options{.window = seconds(300)};
  EXPECT_TRUE(api::verify_request(s.request, key, at(kNow + 300), options));
  EXPECT_TRUE(api::verify_request(s.request, key, at(kNow - 300), options));
  for (auto const now : {at(kNow + 301), at(kNow - 301), at(kNow + 300) + std::chrono::milliseconds(1),
                         at(kNow - 300) - std::chrono::milliseconds(1)}) {
    auto v = api::verify_request(s.request, key, now, options);
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error(), api::errc::timestamp_out_of_window);
    EXPECT_EQ(v.error(), ee::condition::unauthenticated);
  }
  api::VerifyRequestOptions const narrow{.window = seconds(10)};
  EXPECT_TRUE(api::verify_request(s.request, key, at(kNow + 10), narrow));
  EXPECT_FALSE(api::verify_request(s.request, key, at(kNow + 11), narrow));
  // The default window is 300 s.
  EXPECT_TRUE(api::verify_request(s.request, key, at(kNow - 300)));
  EXPECT_FALSE(api::verify_request(s.request, key, at(kNow - 301)));
}

TEST(VerifyRequest, WindowIsCheckedBeforeTheSignature) {
  Signed s;
  s.request.body() = "tampered";
  auto v = api::verify_request(s.request, s.key.public_key(), at(kNow + 3600));
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error(), api::errc::timestamp_out_of_window);
}

TEST(VerifyRequest, ReplayIsRejectedWithAGuard) {
  Signed s;
  ReplayGuard guard;
  api::VerifyRequestOptions const options{.replay_guard = &guard};
  EXPECT_TRUE(api::verify_request(s.request, s.key.public_key(), at(kNow), options));
  auto again = api::verify_request(s.request, s.key.public_key(), at(kNow + 1), options);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), api::errc::replayed_request);
  EXPECT_EQ(again.error(), ee::condition::unauthenticated);
  EXPECT_EQ(guard.size(), 1u);
}

TEST(VerifyRequest, ReplayIsAcceptedWithoutAGuard) {
  Signed s;
  EXPECT_TRUE(api::verify_request(s.request, s.key.public_key(), at(kNow)));
  EXPECT_TRUE(api::verify_request(s.request, s.key.public_key(), at(kNow + 1)));
}

TEST(VerifyRequest, FailedVerificationsAreNotRemembered) {
  Signed s;
  ReplayGuard guard;
  api::VerifyRequestOptions const options{.replay_guard = &guard};
  EXPECT_FALSE(api::verify_request(s.request, new_key().public_key(), at(kNow), options));
  EXPECT_FALSE(api::verify_request(s.request, s.key.public_key(), at(kNow + 900), options));
  EXPECT_EQ(guard.size(), 0u);
  EXPECT_TRUE(api::verify_request(s.request, s.key.public_key(), at(kNow), options));
}

TEST(VerifyRequest, MalleatedSignatureCountsAsAReplay) {
  Signed s;
  auto const raw = ee::detail::base64url_decode(header(s.request, api::kSignatureHeader)).value();
  auto twin = s.request;
  twin.set(api::kSignatureHeader, ee::detail::base64url_encode(malleate(raw)));
  // (r, n - s) is a valid signature of the same request...
  EXPECT_TRUE(api::verify_request(twin, s.key.public_key(), at(kNow)));
  // ...so the guard must treat it as the one it already accepted, in either order.
  for (auto const* first : {&s.request, &twin}) {
    ReplayGuard guard;
    api::VerifyRequestOptions const options{.replay_guard = &guard};
    auto const* second = first == &s.request ? &twin : &s.request;
    EXPECT_TRUE(api::verify_request(*first, s.key.public_key(), at(kNow), options));
    auto v = api::verify_request(*second, s.key.public_key(), at(kNow), options);
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error(), api::errc::replayed_request);
  }
}

TEST(VerifyRequest, GuardEntryLastsUntilTheTimestampLeavesTheWindow) {
  Signed s;
  ReplayGuard guard;
  api::VerifyRequestOptions const options{.window = seconds(60), .replay_guard = &guard};
  EXPECT_TRUE(api::verify_request(s.request, s.key.public_key(), at(kNow - 60), options));
  // Still inside the window: remembered.
  auto v = api::verify_request(s.request, s.key.public_key(), at(kNow + 59), options);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error(), api::errc::replayed_request);
  // Once it could no longer pass the window check, the entry is purged.
  EXPECT_TRUE(guard.first_use("other", at(kNow + 120), at(kNow + 61)));
  EXPECT_EQ(guard.size(), 1u);
}

// --- ReplayGuard -----------------------------------------------------------------------------

TEST(ReplayGuard, AcceptsEachSignatureOnce) {
  ReplayGuard guard;
  EXPECT_TRUE(guard.first_use("a", at(100), at(0)));
  EXPECT_FALSE(guard.first_use("a", at(100), at(1)));
  EXPECT_FALSE(guard.first_use("a", at(200), at(2)));
  EXPECT_TRUE(guard.first_use("b", at(100), at(2)));
  EXPECT_EQ(guard.size(), 2u);
}

TEST(ReplayGuard, RefusesWhatHasAlreadyExpired) {
  ReplayGuard guard;
  EXPECT_FALSE(guard.first_use("a", at(10), at(10)));
  EXPECT_FALSE(guard.first_use("a", at(9), at(10)));
  EXPECT_EQ(guard.size(), 0u);
}

TEST(ReplayGuard, PurgesExpiredEntries) {
  ReplayGuard guard;
  EXPECT_TRUE(guard.first_use("a", at(10), at(0)));
  EXPECT_TRUE(guard.first_use("b", at(20), at(0)));
  EXPECT_TRUE(guard.first_use("c", at(30), at(0)));
  EXPECT_EQ(guard.size(), 3u);
  EXPECT_TRUE(guard.first_use("d", at(40), at(20)));  // a and b (expiring at 20) go
  EXPECT_EQ(guard.size(), 2u);
  EXPECT_FALSE(guard.first_use("c", at(40), at(21)));
  EXPECT_TRUE(guard.first_use("a", at(50), at(21)));  // forgotten after expiry
}

TEST(ReplayGuard, EvictsTheSoonestToExpireWhenFull) {
  ReplayGuard guard(3);
  EXPECT_TRUE(guard.first_use("late", at(300), at(0)));
  EXPECT_TRUE(guard.first_use("soon", at(100), at(0)));
  EXPECT_TRUE(guard.first_use("mid", at(200), at(0)));
  EXPECT_TRUE(guard.first_use("new", at(250), at(0)));
  EXPECT_EQ(guard.size(), 3u);
  EXPECT_FALSE(guard.first_use("late", at(300), at(1)));
  EXPECT_FALSE(guard.first_use("mid", at(300), at(1)));
  EXPECT_FALSE(guard.first_use("new", at(300), at(1)));
  EXPECT_TRUE(guard.first_use("soon", at(100), at(1)));  // evicted, so accepted again
  EXPECT_EQ(guard.size(), 3u);
}

TEST(ReplayGuard, StaysWithinCapacity) {
  ReplayGuard guard(100);
  for (int i = 0; i < 1000; ++i)
    EXPECT_TRUE(guard.first_use("sig" + std::to_string(i), at(1000 + i), at(0)));
  EXPECT_EQ(guard.size(), 100u);
  EXPECT_FALSE(guard.first_use("sig999", at(5000), at(1)));
  EXPECT_TRUE(guard.first_use("sig0", at(5000), at(1)));
}

TEST(ReplayGuard, ZeroCapacityStillRemembersTheLatest) {
  ReplayGuard guard(0);
  EXPECT_TRUE(guard.first_use("a", at(10), at(0)));
  EXPECT_FALSE(guard.first_use("a", at(10), at(0)));
  EXPECT_EQ(guard.size(), 1u);
}

TEST(ReplayGuard, SameSignatureFromEightThreadsIsAcceptedOnce) {
  for (int round = 0; round < 50; ++round) {
    ReplayGuard guard;
    std::atomic<int> accepted{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&] {
        while (!go.load()) std::this_thread::yield();
        if (guard.first_use("the-signature", at(100), at(0))) ++accepted;
      });
    go = true;
    for (auto& t : threads) t.join();
    ASSERT_EQ(accepted.load(), 1) << "round " << round;
    EXPECT_EQ(guard.size(), 1u);
  }
}

TEST(ReplayGuard, ConcurrentDistinctSignaturesAreAllAccepted) {
  ReplayGuard guard(100'000);
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        // Each thread offers its own signatures, and every thread offers the shared ones.
        if (guard.first_use("t" + std::to_string(t) + "-" + std::to_string(i), at(100), at(0)))
          ++accepted;
        if (guard.first_use("shared-" + std::to_string(i), at(100), at(0))) ++accepted;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 8 * 500 + 500);
  EXPECT_EQ(guard.size(), 8u * 500 + 500);
}

TEST(ReplayGuard, SignedRequestsFromThreadsAreEachAcceptedOnce) {
  Signed s;
  ReplayGuard guard;
  api::VerifyRequestOptions const options{.replay_guard = &guard};
  std::atomic<int> accepted{0};
  std::atomic<int> replayed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      auto v = api::verify_request(s.request, s.key.public_key(), at(kNow), options);
      if (v) ++accepted;
      else if (v.error() == api::errc::replayed_request) ++replayed;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 1);
  EXPECT_EQ(replayed.load(), 7);
}

TEST(ApiErrors, HaveStableIdsAndConditions) {
  ee::Error e(api::errc::replayed_request);
  EXPECT_EQ(e.id(), "api.replayed_request");
  EXPECT_EQ(e.cond(), ee::condition::unauthenticated);
  EXPECT_EQ(ee::Error(api::errc::signature_missing).id(), "api.signature_missing");
  EXPECT_EQ(ee::Error(api::errc::signature_malformed).cond(), ee::condition::unauthenticated);
  EXPECT_EQ(ee::Error(api::errc::signature_invalid).cond(), ee::condition::unauthenticated);
  EXPECT_EQ(ee::Error(api::errc::timestamp_out_of_window).cond(), ee::condition::unauthenticated);
  EXPECT_EQ(ee::Error(api::errc::invalid_public_key).cond(), ee::condition::invalid_input);
  EXPECT_EQ(ee::Error(api::errc::invalid_private_key).cond(), ee::condition::invalid_input);
  EXPECT_EQ(ee::Error(api::errc::invalid_field).cond(), ee::condition::invalid_input);
  EXPECT_EQ(ee::Error(api::errc::invalid_field).id(), "api.invalid_field");
  EXPECT_EQ(std::string(e.code().category().name()), "ee.api");
}

}  // namespace
