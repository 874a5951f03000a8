#pragma once
// OpenSSL wrappers for DCAP verification: owning pointers, strict PEM/DER parsing of
// certificates, chains and CRLs, chain checks against a pinned root at an injected time, CRL
// checks, and raw ECDSA P-256 (the r||s signatures and x||y keys of Intel's quote and collateral
// formats). No I/O and no clock: every time is a parameter.
#include <easyenclave/error.hpp>
#include <easyenclave/tdx/collateral.hpp>
#include <easyenclave/tdx/error.hpp>
#include <easyenclave/tdx/quote.hpp>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ee::tdx::detail {

using ByteView = std::span<std::uint8_t const>;

struct X509Free {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
struct X509CrlFree {
  void operator()(X509_CRL* p) const noexcept { X509_CRL_free(p); }
};
struct EvpPkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using X509CrlPtr = std::unique_ptr<X509_CRL, X509CrlFree>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;
/// Certificates are shared between cached chains and verdict computations; OpenSSL objects are
/// safe to read concurrently once parsed.
using SharedX509 = std::shared_ptr<X509>;
using SharedCrl = std::shared_ptr<X509_CRL>;

/// A closed time interval [not_before, not_after].
struct Window {
  TimePoint not_before{};
  TimePoint not_after{};
  bool contains(TimePoint t) const noexcept { return not_before <= t && t <= not_after; }
  /// The intersection (the later start, the earlier end).
  void narrow(Window const& other) noexcept;
};

/// Splits PEM text into certificates, leaf first. Only whitespace may surround the
/// `-----BEGIN CERTIFICATE-----` blocks, except that trailing NUL bytes are ignored (the quote's
/// certification data type 5 may be NUL-terminated, Intel TDX DCAP API appendix A.3.9). Each
/// block must be canonical base64 of exactly one DER certificate.
/// errc::bad_certificate naming the block (1-based) and `what` otherwise, also for no blocks.
result<std::vector<SharedX509>> parse_pem_chain(std::string_view pem, std::string_view what);
using SharedPkey = std::shared_ptr<EVP_PKEY>;

/// The certificates of one verification call. Each distinct DER certificate is parsed once
/// however many chains repeat it, a chain whose PEM text was parsed before is handed out again,
/// the pinned root's own bytes stand for the pinned certificate (compared by bytes, never
/// parsed), and verify_chain checks a certificate against its issuer once per pair. Lives for
/// one call (or one prepared chain/collateral of a Verifier, cached with what it vouches for):
/// it is not a cache between calls. Not thread-safe.
///
/// Certificates are parsed by OpenSSL's X.509 decoder in a library context without providers,
/// so OpenSSL 3.0 does not run its generic key decoder on the SubjectPublicKeyInfo (an
/// OSSL_DECODER set-up per certificate, ten times the cost of the rest of the parse: it was
/// most of an uncached verification); the key is imported here from the SPKI's P-256 point
/// instead (p256_key_of_spki). Such a certificate has no key of its own (X509_get0_pubkey is
/// null): its key is key_of().
class CertificatePool {
 public:
  CertificatePool() = default;
  /// `root` and its DER `root_der` (may be null/empty: then nothing is pinned).
  CertificatePool(SharedX509 root, ByteView root_der);
  /// parse_pem_chain with the sharing above; the same errors, naming the same blocks.
  result<std::vector<SharedX509>> parse_pem_chain(std::string_view pem, std::string_view what);
  /// The P-256 key of a certificate of this pool (the pinned root's own key for the root); null
  /// for a certificate whose key is not P-256 or that is not from this pool.
  EVP_PKEY* key_of(X509 const* cert) const noexcept;
  /// key_of, shared; errc::bad_certificate naming `what` when there is none.
  result<SharedPkey> p256_key(X509 const* cert, std::string_view what) const;
  /// Whether verify_chain already accepted `subject` as issued and signed by `issuer`.
  bool issued(X509 const* subject, X509 const* issuer) const noexcept;
  void remember_issued(X509 const* subject, X509 const* issuer);

 private:
  struct Entry {
    std::vector<std::uint8_t> der;
    SharedX509 cert;
    SharedPkey key;  // null when the SPKI is not a P-256 point
  };
  SharedX509 root_{};
  ByteView root_der_{};
  SharedPkey root_key_{};
  std::vector<Entry> certificates_{};
  std::vector<std::pair<std::string, std::vector<SharedX509>>> chains_{};
  std::vector<std::pair<X509 const*, X509 const*>> issued_{};
};

/// One certificate, PEM (exactly one block) or DER. errc::bad_certificate otherwise.
result<SharedX509> parse_certificate(ByteView pem_or_der, std::string_view what);
/// One CRL, PEM ("X509 CRL" block) or DER. errc::malformed_collateral otherwise.
result<SharedCrl> parse_crl(ByteView pem_or_der, std::string_view what);
/// Converts a PEM CRL to DER; DER input is returned unchanged after checking it parses.
result<std::vector<std::uint8_t>> crl_to_der(ByteView pem_or_der, std::string_view what);

std::vector<std::uint8_t> certificate_der(X509* cert);
/// The subject common name (for messages; certificate names are public).
std::string common_name(X509* cert);
/// The serial number as lower-case hex (for messages).
std::string serial_hex(X509* cert);

/// notBefore..notAfter. errc::bad_certificate if a time does not convert.
result<Window> validity_of(X509* cert, std::string_view what);
/// certificate_not_yet_valid / certificate_expired naming `what` when `now` is outside.
result<void> check_validity(Window const& window, TimePoint now, std::string_view what);

/// Checks the structure and signatures of `chain` (leaf first) against the pinned `root`:
///  - at least two certificates;
///  - the last one is byte-identical to `root`, or has its subject and public key and a
///    signature that verifies with the pinned key (a re-issued root); a self-made root fails;
///  - each certificate is issued by the next (X509_check_issued: names, key identifiers, CA key
///    usage) and its signature verifies with the next one's key.
/// Time is not checked here (chain_window gives the interval to check), so the result can be
/// cached by the chain bytes. `untrusted` is the code for a broken chain. With a `pool` (whose
/// certificates `chain` comes from), keys are the pool's and a pair it already accepted is not
/// checked again; without one, keys are the certificates' own (X509_get0_pubkey).
result<void> verify_chain(std::vector<SharedX509> const& chain, X509* root, errc untrusted,
                          std::string_view what, CertificatePool* pool = nullptr);
/// X509_check_issued's checks (OpenSSL 3.0, v3_purp.c) with the issuer's key given rather than
/// taken from the certificate (a pooled certificate has none): `subject`'s issuer name is
/// `issuer`'s subject, both certificates' extensions decode, the subject's authority key
/// identifier matches the issuer, its signature algorithm is one for `issuer_key` (null: no
/// key), and the issuer's key usage, when present, allows certificate signing. X509_V_OK or the
/// X509_V_ERR_* reason, as X509_check_issued returns.
int check_issued(X509* issuer, EVP_PKEY const* issuer_key, X509* subject);

/// The intersection of every certificate's validity.
result<Window> chain_window(std::vector<SharedX509> const& chain, std::string_view what);

/// thisUpdate..nextUpdate. errc::malformed_collateral when nextUpdate is missing.
result<Window> crl_window(X509_CRL* crl, std::string_view what);
/// collateral_not_yet_valid / collateral_expired naming `what` when `now` is outside.
result<void> check_collateral_window(Window const& window, TimePoint now, std::string_view what);
/// The CRL's issuer name equals `issuer`'s subject (crl_issuer_mismatch) and its signature
/// verifies with `issuer_key` (bad_collateral_signature); null: `issuer`'s own key.
result<void> verify_crl(X509_CRL* crl, X509* issuer, std::string_view what,
                        EVP_PKEY* issuer_key = nullptr);
/// True when `cert`'s serial number is listed in `crl`. The caller has checked that `crl` is
/// issued by `cert`'s issuer.
bool is_revoked(X509_CRL* crl, X509* cert) noexcept;

/// A P-256 public key from raw x||y (the quote's attestation key). errc::bad_quote_signature
/// when the point is not on the curve.
result<EvpPkeyPtr> p256_key_from_raw(P256Raw const& xy);
/// A P-256 public key from an uncompressed SEC 1 point (0x04 || x || y): the group copied from
/// a P-256 parameters key made once, the point set with EVP_PKEY_set1_encoded_public_key (which
/// decodes it with EC_POINT_oct2point: a point not on the curve is refused). Null otherwise.
EvpPkeyPtr p256_key_from_point(ByteView point);
/// The key of `cert`'s SubjectPublicKeyInfo read without OpenSSL's generic decoder: algorithm
/// id-ecPublicKey, parameters the named curve prime256v1, a 65-byte uncompressed point on the
/// curve. errc::bad_certificate naming `what` otherwise.
result<EvpPkeyPtr> p256_key_of_spki(X509* cert, std::string_view what);
/// The certificate's public key, checked to be EC P-256. errc::bad_certificate otherwise.
result<EvpPkeyPtr> p256_key_of(X509* cert, std::string_view what);
/// ECDSA-P256-SHA256 over `message` with a raw r||s signature. False for any failure (bad
/// signature, r or s out of range, allocation): callers turn it into their own code.
bool verify_p256(EVP_PKEY* key, ByteView message, P256Raw const& signature) noexcept;

/// The embedded DER of the Intel SGX Root CA (intel_root_ca.cpp).
std::span<std::uint8_t const> intel_sgx_root_ca_der() noexcept;

}  // namespace ee::tdx::detail
