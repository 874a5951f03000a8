#include "tdx/x509.hpp"

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "detail/time.hpp"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <ctime>

namespace ee::tdx::detail {
namespace {

namespace core = ::ee::detail;

constexpr std::string_view kBeginCert = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kEndCert = "-----END CERTIFICATE-----";
constexpr std::string_view kBeginCrl = "-----BEGIN X509 CRL-----";
constexpr std::string_view kEndCrl = "-----END X509 CRL-----";

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool starts_with_pem(ByteView bytes) noexcept {
  auto const text = trim(core::as_chars(bytes));
  return text.starts_with("-----BEGIN ");
}

// Base64 body of one PEM block: line breaks and blanks removed, then strict RFC 4648 decoding,
// so a flipped character cannot be silently skipped the way lenient PEM readers do.
result<std::vector<std::uint8_t>> decode_pem_body(std::string_view body) {
  std::string compact;
  compact.reserve(body.size());
  for (char c : body)
    if (!is_space(c)) compact.push_back(c);
  return core::base64_decode(compact);
}

// Extracts the blocks delimited by `begin`/`end`; text between blocks must be whitespace.
result<std::vector<std::vector<std::uint8_t>>> pem_blocks(std::string_view text,
                                                         std::string_view begin,
                                                         std::string_view end, errc code,
                                                         std::string_view what) {
  while (!text.empty() && text.back() == '\0') text.remove_suffix(1);
  std::vector<std::vector<std::uint8_t>> blocks;
  std::size_t pos = 0;
  while (true) {
    while (pos < text.size() && is_space(text[pos])) ++pos;
    if (pos == text.size()) break;
    auto const index = std::to_string(blocks.size() + 1);
    if (text.substr(pos, begin.size()) != begin)
      return Error(code, std::string(what) + ": block " + index + ": expected '" +
                             std::string(begin) + "'");
    pos += begin.size();
    auto const stop = text.find(end, pos);
    if (stop == std::string_view::npos)
      return Error(code, std::string(what) + ": block " + index + ": missing '" +
                             std::string(end) + "'");
    auto der = decode_pem_body(text.substr(pos, stop - pos));
    if (!der)
      return Error(code, std::string(what) + ": block " + index + ": base64: " +
                             der.error().message());
    blocks.push_back(std::move(*der));
    pos = stop + end.size();
  }
  if (blocks.empty()) return Error(code, std::string(what) + ": no PEM block found");
  return blocks;
}

result<SharedX509> certificate_from_der(ByteView der, errc code, std::string const& what) {
  auto const* p = der.data();
  X509* raw = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (raw == nullptr) {
    return Error(code, what + ": not a DER X.509 certificate");
  }
  SharedX509 cert(raw, X509Free{});
  if (p != der.data() + der.size())
    return Error(code, what + ": trailing bytes after the DER certificate");
  return cert;
}

// A library context whose only provider is "null" (loading one explicitly keeps OpenSSL from
// loading the default provider into it on first use). Decoding a certificate in it leaves the
// SubjectPublicKeyInfo undecoded: OpenSSL 3.0 decodes the key "opportunistically" with a
// generic OSSL_DECODER set up per certificate, finds no decoder here and parses on. Created
// once and never freed (threads may still verify during static destruction). Null if OpenSSL
// cannot make one: then certificates are decoded in the default context, slower but the same.
OSSL_LIB_CTX* keyless_context() {
  static OSSL_LIB_CTX* const context = [] {
    OSSL_LIB_CTX* ctx = OSSL_LIB_CTX_new();
    if (ctx != nullptr && OSSL_PROVIDER_load(ctx, "null") == nullptr) {
      OSSL_LIB_CTX_free(ctx);
      return static_cast<OSSL_LIB_CTX*>(nullptr);
    }
    return ctx;
  }();
  return context;
}

// certificate_from_der without the key decode (keyless_context).
result<SharedX509> keyless_certificate_from_der(ByteView der, errc code, std::string const& what) {
  auto const* p = der.data();
  auto* raw = reinterpret_cast<X509*>(ASN1_item_d2i_ex(nullptr, &p, static_cast<long>(der.size()),
                                                       ASN1_ITEM_rptr(X509), keyless_context(),
                                                       nullptr));
  if (raw == nullptr) return Error(code, what + ": not a DER X.509 certificate");
  SharedX509 cert(raw, X509Free{});
  if (p != der.data() + der.size())
    return Error(code, what + ": trailing bytes after the DER certificate");
  return cert;
}

// EC parameters of P-256 (no key), made once: new keys copy the group from it, which is much
// cheaper than building the group from its name every time (EVP_PKEY_fromdata).
EVP_PKEY const* p256_parameters() {
  static EVP_PKEY* const parameters = [] {
    char group[] = SN_X9_62_prime256v1;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_end(),
    };
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
        EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr), &EVP_PKEY_CTX_free);
    EVP_PKEY* key = nullptr;
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_KEY_PARAMETERS, params) != 1)
      return static_cast<EVP_PKEY*>(nullptr);
    return key;
  }();
  return parameters;
}

result<TimePoint> from_asn1(ASN1_TIME const* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return Error(errc::bad_certificate);
  using namespace std::chrono;
  year_month_day const ymd{year{tm.tm_year + 1900}, month{static_cast<unsigned>(tm.tm_mon + 1)},
                           day{static_cast<unsigned>(tm.tm_mday)}};
  if (!ymd.ok()) return Error(errc::bad_certificate);
  auto const since_epoch = (sys_days{ymd} + hours{tm.tm_hour} + minutes{tm.tm_min} +
                            seconds{tm.tm_sec}).time_since_epoch();
  // system_clock counts nanoseconds in 64 bits (years 1677 to 2262), but ASN.1 times reach year
  // 9999 (RFC 5280 section 4.1.2.5 even gives 99991231235959Z for "no expiration"); converting
  // such a time overflowed (undefined behaviour, found by fuzz/fuzz_x509.cpp: a CRL valid until
  // 2404 looked expired since 1819). Saturating keeps every comparison with a real clock right.
  constexpr auto kLatest = duration_cast<seconds>(system_clock::duration::max());
  constexpr auto kEarliest = duration_cast<seconds>(system_clock::duration::min());
  if (since_epoch > kLatest) return TimePoint::max();
  if (since_epoch < kEarliest) return TimePoint::min();
  return TimePoint(duration_cast<system_clock::duration>(since_epoch));
}

std::vector<std::uint8_t> spki_der(X509* cert) {
  X509_PUBKEY* pub = X509_get_X509_PUBKEY(cert);
  unsigned char* out = nullptr;
  int const n = i2d_X509_PUBKEY(pub, &out);
  if (n <= 0) return {};
  std::vector<std::uint8_t> der(out, out + n);
  OPENSSL_free(out);
  return der;
}

// The presented root stands for the pinned one when it is the same certificate, or a
// re-issue of it: same subject, same key, and a self-signature made by the pinned key.
bool matches_pinned_root(X509* presented, X509* pinned) {
  // The same object: a CertificatePool found the pinned root's bytes in the chain.
  if (presented == pinned || certificate_der(presented) == certificate_der(pinned)) return true;
  if (X509_NAME_cmp(X509_get_subject_name(presented), X509_get_subject_name(pinned)) != 0)
    return false;
  auto const key = spki_der(pinned);
  if (key.empty() || spki_der(presented) != key) return false;
  return X509_verify(presented, X509_get0_pubkey(pinned)) == 1;
}

std::string format_time(TimePoint t) { return core::format_rfc3339(t); }

}  // namespace

void Window::narrow(Window const& other) noexcept {
  not_before = std::max(not_before, other.not_before);
  not_after = std::min(not_after, other.not_after);
}

result<std::vector<SharedX509>> parse_pem_chain(std::string_view pem, std::string_view what) {
  core::OpenSslErrorScope const openssl_errors;
  auto blocks = pem_blocks(pem, kBeginCert, kEndCert, errc::bad_certificate, what);
  if (!blocks) return blocks.error();
  std::vector<SharedX509> chain;
  chain.reserve(blocks->size());
  for (std::size_t i = 0; i < blocks->size(); ++i) {
    auto cert = certificate_from_der((*blocks)[i], errc::bad_certificate,
                                     std::string(what) + ": certificate " + std::to_string(i + 1));
    if (!cert) return cert.error();
    chain.push_back(std::move(*cert));
  }
  return chain;
}

CertificatePool::CertificatePool(SharedX509 root, ByteView root_der)
    : root_(std::move(root)), root_der_(root_der) {
  if (EVP_PKEY* key = root_ ? X509_get0_pubkey(root_.get()) : nullptr;
      key != nullptr && EVP_PKEY_up_ref(key) == 1)
    root_key_ = SharedPkey(key, EvpPkeyFree{});
}

result<std::vector<SharedX509>> CertificatePool::parse_pem_chain(std::string_view pem,
                                                                std::string_view what) {
  for (auto const& [text, chain] : chains_)
    if (text == pem) return chain;
  core::OpenSslErrorScope const openssl_errors;
  auto blocks = pem_blocks(pem, kBeginCert, kEndCert, errc::bad_certificate, what);
  if (!blocks) return blocks.error();
  std::vector<SharedX509> chain;
  chain.reserve(blocks->size());
  for (std::size_t i = 0; i < blocks->size(); ++i) {
    auto& der = (*blocks)[i];
    SharedX509 cert;
    if (root_ && std::ranges::equal(der, root_der_)) cert = root_;
    for (auto const& entry : certificates_)
      if (!cert && entry.der == der) cert = entry.cert;
    if (!cert) {
      std::string const name = std::string(what) + ": certificate " + std::to_string(i + 1);
      auto fresh = keyless_certificate_from_der(der, errc::bad_certificate, name);
      if (!fresh) return fresh.error();
      cert = std::move(*fresh);
      // A key that is not a P-256 point is kept as none: such a certificate can still be
      // parsed and named, but signs nothing here and is refused as a leaf (p256_key).
      auto key = p256_key_of_spki(cert.get(), name);
      certificates_.push_back(
          {std::move(der), cert, key ? SharedPkey(key->release(), EvpPkeyFree{}) : SharedPkey()});
    }
    chain.push_back(std::move(cert));
  }
  chains_.emplace_back(std::string(pem), chain);
  return chain;
}

EVP_PKEY* CertificatePool::key_of(X509 const* cert) const noexcept {
  if (cert == nullptr) return nullptr;
  if (cert == root_.get()) return root_key_.get();
  for (auto const& entry : certificates_)
    if (entry.cert.get() == cert) return entry.key.get();
  return nullptr;
}

result<SharedPkey> CertificatePool::p256_key(X509 const* cert, std::string_view what) const {
  if (cert != nullptr && cert != root_.get())
    for (auto const& entry : certificates_)
      if (entry.cert.get() == cert && entry.key) return entry.key;
  return Error(errc::bad_certificate, std::string(what) + ": key is not EC P-256");
}

bool CertificatePool::issued(X509 const* subject, X509 const* issuer) const noexcept {
  return std::find(issued_.begin(), issued_.end(), std::pair(subject, issuer)) != issued_.end();
}

void CertificatePool::remember_issued(X509 const* subject, X509 const* issuer) {
  issued_.emplace_back(subject, issuer);
}

result<SharedX509> parse_certificate(ByteView pem_or_der, std::string_view what) {
  core::OpenSslErrorScope const openssl_errors;
  if (starts_with_pem(pem_or_der)) {
    auto chain = parse_pem_chain(core::as_chars(pem_or_der), what);
    if (!chain) return chain.error();
    if (chain->size() != 1)
      return Error(errc::bad_certificate,
                   std::string(what) + ": expected one certificate, found " +
                       std::to_string(chain->size()));
    return std::move(chain->front());
  }
  return certificate_from_der(pem_or_der, errc::bad_certificate, std::string(what));
}

namespace {

// The DER of a CRL given as one PEM block or as DER: a view of `pem_or_der` itself, or of
// `decoded`, which receives the PEM block's bytes.
result<ByteView> crl_der(ByteView pem_or_der, std::string_view what, std::vector<std::uint8_t>& decoded) {
  if (!starts_with_pem(pem_or_der)) return pem_or_der;
  auto blocks = pem_blocks(core::as_chars(pem_or_der), kBeginCrl, kEndCrl,
                           errc::malformed_collateral, what);
  if (!blocks) return blocks.error();
  if (blocks->size() != 1)
    return Error(errc::malformed_collateral, std::string(what) + ": expected one CRL block");
  decoded = std::move(blocks->front());
  return ByteView(decoded);
}

// One DER CRL, decoded once, with nothing after it.
result<SharedCrl> decode_crl(ByteView der, std::string_view what) {
  auto const* p = der.data();
  SharedCrl crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())), X509CrlFree{});
  if (!crl) return Error(errc::malformed_collateral, std::string(what) + ": not a DER X.509 CRL");
  if (p != der.data() + der.size())
    return Error(errc::malformed_collateral, std::string(what) + ": trailing bytes after the CRL");
  return crl;
}

}  // namespace

result<std::vector<std::uint8_t>> crl_to_der(ByteView pem_or_der, std::string_view what) {
  core::OpenSslErrorScope const openssl_errors;
  std::vector<std::uint8_t> decoded;
  auto der = crl_der(pem_or_der, what, decoded);
  if (!der) return der.error();
  if (auto crl = decode_crl(*der, what); !crl) return crl.error();
  if (decoded.empty()) decoded.assign(der->begin(), der->end());
  return decoded;
}

result<SharedCrl> parse_crl(ByteView pem_or_der, std::string_view what) {
  core::OpenSslErrorScope const openssl_errors;
  std::vector<std::uint8_t> decoded;
  auto der = crl_der(pem_or_der, what, decoded);
  if (!der) return der.error();
  return decode_crl(*der, what);
}

std::vector<std::uint8_t> certificate_der(X509* cert) {
  core::OpenSslErrorScope const openssl_errors;
  unsigned char* out = nullptr;
  int const n = i2d_X509(cert, &out);
  if (n <= 0) return {};
  std::vector<std::uint8_t> der(out, out + n);
  OPENSSL_free(out);
  return der;
}

std::string common_name(X509* cert) {
  core::OpenSslErrorScope const openssl_errors;
  X509_NAME* name = X509_get_subject_name(cert);
  int const at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (at < 0) return "(no CN)";
  ASN1_STRING const* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
  unsigned char* utf8 = nullptr;
  int const n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) return "(unreadable CN)";
  std::string cn(reinterpret_cast<char const*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return cn;
}

std::string serial_hex(X509* cert) {
  core::OpenSslErrorScope const openssl_errors;
  ASN1_INTEGER const* serial = X509_get0_serialNumber(cert);
  return core::hex_encode(ByteView(ASN1_STRING_get0_data(serial),
                                   static_cast<std::size_t>(ASN1_STRING_length(serial))));
}

result<Window> validity_of(X509* cert, std::string_view what) {
  core::OpenSslErrorScope const openssl_errors;
  auto nb = from_asn1(X509_get0_notBefore(cert));
  auto na = from_asn1(X509_get0_notAfter(cert));
  if (!nb || !na)
    return Error(errc::bad_certificate, std::string(what) + ": unreadable validity time");
  return Window{*nb, *na};
}

result<void> check_validity(Window const& window, TimePoint now, std::string_view what) {
  if (now < window.not_before)
    return Error(errc::certificate_not_yet_valid,
                 std::string(what) + " is not valid before " + format_time(window.not_before));
  if (now > window.not_after)
    return Error(errc::certificate_expired,
                 std::string(what) + " expired at " + format_time(window.not_after));
  return {};
}

result<void> verify_chain(std::vector<SharedX509> const& chain, X509* root, errc untrusted,
                          std::string_view what, CertificatePool* pool) {
  core::OpenSslErrorScope const openssl_errors;
  if (root == nullptr) return Error(untrusted, std::string(what) + ": no trusted root configured");
  if (chain.size() < 2)
    return Error(untrusted, std::string(what) + ": " + std::to_string(chain.size()) +
                                " certificate(s); expected a leaf, its CA(s) and the root");
  if (!matches_pinned_root(chain.back().get(), root))
    return Error(untrusted, std::string(what) + ": ends in '" + common_name(chain.back().get()) +
                                "', which is not the pinned root '" + common_name(root) + "'");
  for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
    X509* subject = chain[i].get();
    X509* issuer = chain[i + 1].get();
    EVP_PKEY* const issuer_key = pool != nullptr ? pool->key_of(issuer) : X509_get0_pubkey(issuer);
    // Names, key identifiers, key usage and the signature depend on the pair alone: a pair the
    // pool saw accepted in this call (the Intel CAs sign several chains) is not checked again.
    bool const known = pool != nullptr && pool->issued(subject, issuer);
    if (int const issued = known ? X509_V_OK : check_issued(issuer, issuer_key, subject);
        issued != X509_V_OK)
      return Error(untrusted, std::string(what) + ": '" + common_name(subject) +
                                  "' is not issued by '" + common_name(issuer) +
                                  "': " + X509_verify_cert_error_string(issued));
    if (i + 1 < chain.size() - 1 && X509_check_ca(issuer) == 0)
      return Error(untrusted, std::string(what) + ": '" + common_name(issuer) + "' is not a CA");
    if (known) continue;
    if (X509_verify(subject, issuer_key) != 1)
      return Error(untrusted, std::string(what) + ": signature of '" + common_name(subject) +
                                  "' does not verify with the key of '" + common_name(issuer) +
                                  "'");
    if (pool != nullptr) pool->remember_issued(subject, issuer);
  }
  return {};
}

int check_issued(X509* issuer, EVP_PKEY const* issuer_key, X509* subject) {
  core::OpenSslErrorScope const openssl_errors;
  if (X509_NAME_cmp(X509_get_subject_name(issuer), X509_get_issuer_name(subject)) != 0)
    return X509_V_ERR_SUBJECT_ISSUER_MISMATCH;
  // X509_check_purpose(x, -1, 0) decodes and caches the extensions; 1 unless one is malformed.
  if (X509_check_purpose(issuer, -1, 0) != 1 || X509_check_purpose(subject, -1, 0) != 1)
    return X509_V_ERR_UNSPECIFIED;
  // The cache above would have failed for an undecodable or repeated authority key identifier,
  // so null here means absent, which matches any issuer.
  int critical = 0;
  std::unique_ptr<AUTHORITY_KEYID, decltype(&AUTHORITY_KEYID_free)> akid(
      static_cast<AUTHORITY_KEYID*>(
          X509_get_ext_d2i(subject, NID_authority_key_identifier, &critical, nullptr)),
      &AUTHORITY_KEYID_free);
  if (int const akid_ok = X509_check_akid(issuer, akid.get()); akid_ok != X509_V_OK)
    return akid_ok;
  if (issuer_key == nullptr) return X509_V_ERR_NO_ISSUER_PUBLIC_KEY;
  ASN1_OBJECT const* algorithm = nullptr;
  X509_ALGOR_get0(&algorithm, nullptr, nullptr, X509_get0_tbs_sigalg(subject));
  int key_type = NID_undef;
  if (OBJ_find_sigid_algs(OBJ_obj2nid(algorithm), nullptr, &key_type) == 0)
    return X509_V_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM;
  if (EVP_PKEY_is_a(issuer_key, OBJ_nid2sn(key_type)) == 0 &&
      !(EVP_PKEY_is_a(issuer_key, "RSA") != 0 && key_type == NID_rsassaPss))
    return X509_V_ERR_SIGNATURE_ALGORITHM_MISMATCH;
  // X509_get_key_usage: every bit when the extension is absent.
  std::uint32_t const usage = X509_get_key_usage(issuer);
  if ((X509_get_extension_flags(subject) & EXFLAG_PROXY) != 0) {
    if ((usage & KU_DIGITAL_SIGNATURE) == 0) return X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE;
  } else if ((usage & KU_KEY_CERT_SIGN) == 0) {
    return X509_V_ERR_KEYUSAGE_NO_CERTSIGN;
  }
  return X509_V_OK;
}

result<Window> chain_window(std::vector<SharedX509> const& chain, std::string_view what) {
  Window window{TimePoint::min(), TimePoint::max()};
  for (auto const& cert : chain) {
    auto v = validity_of(cert.get(), what);
    if (!v) return v.error();
    window.narrow(*v);
  }
  return window;
}

result<Window> crl_window(X509_CRL* crl, std::string_view what) {
  core::OpenSslErrorScope const openssl_errors;
  ASN1_TIME const* next = X509_CRL_get0_nextUpdate(crl);
  if (next == nullptr)
    return Error(errc::malformed_collateral, std::string(what) + ": CRL has no nextUpdate");
  auto tu = from_asn1(X509_CRL_get0_lastUpdate(crl));
  auto nu = from_asn1(next);
  if (!tu || !nu)
    return Error(errc::malformed_collateral, std::string(what) + ": unreadable CRL update time");
  return Window{*tu, *nu};
}

result<void> check_collateral_window(Window const& window, TimePoint now, std::string_view what) {
  if (now < window.not_before)
    return Error(errc::collateral_not_yet_valid,
                 std::string(what) + " is not valid before " + format_time(window.not_before));
  if (now > window.not_after)
    return Error(errc::collateral_expired,
                 std::string(what) + " expired at " + format_time(window.not_after));
  return {};
}

result<void> verify_crl(X509_CRL* crl, X509* issuer, std::string_view what,
                        EVP_PKEY* issuer_key) {
  core::OpenSslErrorScope const openssl_errors;
  if (issuer_key == nullptr) issuer_key = X509_get0_pubkey(issuer);
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0)
    return Error(errc::crl_issuer_mismatch,
                 std::string(what) + " is not issued by '" + common_name(issuer) + "'");
  if (issuer_key == nullptr || X509_CRL_verify(crl, issuer_key) != 1)
    return Error(errc::bad_collateral_signature,
                 std::string(what) + " signature does not verify with the key of '" +
                     common_name(issuer) + "'");
  return {};
}

bool is_revoked(X509_CRL* crl, X509* cert) noexcept {
  core::OpenSslErrorScope const openssl_errors;
  X509_REVOKED* entry = nullptr;
  // 1: listed; 2: listed as removeFromCRL (delta CRLs), which is not a revocation.
  return X509_CRL_get0_by_serial(crl, &entry, X509_get0_serialNumber(cert)) == 1;
}

result<EvpPkeyPtr> p256_key_from_raw(P256Raw const& xy) {
  std::array<std::uint8_t, 65> point{};
  point[0] = 0x04;  // SEC 1 uncompressed point
  std::copy(xy.begin(), xy.end(), point.begin() + 1);
  auto key = p256_key_from_point(point);
  if (!key) return Error(errc::bad_quote_signature, "attestation key is not a P-256 point");
  return key;
}

EvpPkeyPtr p256_key_from_point(ByteView point) {
  core::OpenSslErrorScope const openssl_errors;
  EVP_PKEY const* parameters = p256_parameters();
  if (parameters == nullptr || point.size() != 65 || point[0] != 0x04) return nullptr;
  EvpPkeyPtr key(EVP_PKEY_new());
  // EVP_PKEY_set1_encoded_public_key decodes the point with EC_POINT_oct2point, which refuses a
  // point that is not on the curve.
  if (!key || EVP_PKEY_copy_parameters(key.get(), parameters) != 1 ||
      EVP_PKEY_set1_encoded_public_key(key.get(), point.data(), point.size()) != 1)
    return nullptr;
  return key;
}

result<EvpPkeyPtr> p256_key_of_spki(X509* cert, std::string_view what) {
  core::OpenSslErrorScope const openssl_errors;
  ASN1_OBJECT* algorithm = nullptr;
  unsigned char const* point = nullptr;
  int point_size = 0;
  X509_ALGOR* algorithm_identifier = nullptr;
  X509_PUBKEY const* spki = X509_get_X509_PUBKEY(cert);
  bool p256 = spki != nullptr &&
              X509_PUBKEY_get0_param(&algorithm, &point, &point_size, &algorithm_identifier,
                                     spki) == 1 &&
              OBJ_obj2nid(algorithm) == NID_X9_62_id_ecPublicKey && point_size == 65;
  if (p256) {
    // RFC 5480: the parameters are the curve's OID (namedCurve); explicit curves are refused.
    int type = V_ASN1_UNDEF;
    void const* curve = nullptr;
    X509_ALGOR_get0(nullptr, &type, &curve, algorithm_identifier);
    p256 = type == V_ASN1_OBJECT &&
           OBJ_obj2nid(static_cast<ASN1_OBJECT const*>(curve)) == NID_X9_62_prime256v1;
  }
  EvpPkeyPtr key = p256 ? p256_key_from_point(ByteView(point, 65)) : nullptr;
  if (!key) return Error(errc::bad_certificate, std::string(what) + ": key is not EC P-256");
  return key;
}

result<EvpPkeyPtr> p256_key_of(X509* cert, std::string_view what) {
  core::OpenSslErrorScope const openssl_errors;
  EVP_PKEY* key = X509_get0_pubkey(cert);
  char group[64] = {};
  std::size_t len = 0;
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) !=
          1 ||
      std::string_view(group, len) != SN_X9_62_prime256v1)
    return Error(errc::bad_certificate, std::string(what) + ": key is not EC P-256");
  EVP_PKEY_up_ref(key);
  return EvpPkeyPtr(key);
}

namespace {

// Appends the DER INTEGER of a 32-byte big-endian unsigned value: leading zero bytes dropped (one
// kept for zero), a 0x00 in front when the top bit is set, so the value stays non-negative.
std::size_t append_der_integer(unsigned char* out, std::uint8_t const* value) {
  std::size_t skip = 0;
  while (skip < 31 && value[skip] == 0) ++skip;
  std::size_t const len = 32 - skip;
  bool const pad = (value[skip] & 0x80) != 0;
  std::size_t at = 0;
  out[at++] = 0x02;
  out[at++] = static_cast<unsigned char>(len + (pad ? 1 : 0));
  if (pad) out[at++] = 0x00;
  std::copy(value + skip, value + 32, out + at);
  return at + len;
}

}  // namespace

bool verify_p256(EVP_PKEY* key, ByteView message, P256Raw const& signature) noexcept {
  core::OpenSslErrorScope const openssl_errors;
  // Intel's formats carry r||s (32 bytes each, big-endian); EVP wants the DER ECDSA-Sig-Value,
  // SEQUENCE { INTEGER r, INTEGER s }: at most 2 + 2 * (2 + 33) = 72 bytes, written here
  // directly rather than through BIGNUMs and i2d_ECDSA_SIG, which allocate.
  std::array<unsigned char, 72> der{};
  std::size_t len = 2;
  len += append_der_integer(der.data() + len, signature.data());
  len += append_der_integer(der.data() + len, signature.data() + 32);
  der[0] = 0x30;
  der[1] = static_cast<unsigned char>(len - 2);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool const ok = ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
                  EVP_DigestVerify(ctx, der.data(), len, message.data(), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

}  // namespace ee::tdx::detail
