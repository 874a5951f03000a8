// The TDX quote simulator: a test PKI, QE report and DCAP collateral made with OpenSSL at run
// time, shaped exactly like Intel's so quotes and collateral go through the real verifier.
//
// Structures mirrored (and where they are specified):
// - Quote v4: Intel TDX DCAP Quoting Library API, appendix A.3 (offsets in quote_layout.hpp).
// - QE report certification data (A.3.11): the QE's SGX report signed by the PCK key, whose
//   REPORTDATA[0:32] = SHA-256(attestation key || QE authentication data), then the nested
//   certification data type 5 (PCK leaf, PCK Platform CA, root as PEM, NUL-terminated).
// - PCK certificate and its SGX extension (OID 1.2.840.113741.1.13.1): Intel SGX PCK Certificate
//   and Certificate Revocation List Profile Specification, section 3.5 (PPID, TCB with 16
//   components + PCESVN + CPUSVN, PCE-ID, FMSPC, SGX type, and for platform CA certificates the
//   platform instance id and configuration).
// - TCB info v3 (id "TDX") and enclave identity v2 (id "TD_QE"): Intel PCS API v4, signed with
//   ECDSA P-256/SHA-256 over the exact JSON text, signature as raw r||s hex.
// - Collateral bundle: dcap-qvl's QuoteCollateralV3 JSON (collateral.hpp).
#include <easyenclave/tdx/simulator.hpp>

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "detail/json.hpp"
#include "detail/time.hpp"
#include "tdx/quote_layout.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>

namespace ee::tdx {

namespace {

namespace fs = std::filesystem;
namespace bj = boost::json;
namespace L = layout;
using detail::Bytes;
using detail::ByteView;

// --- OpenSSL ownership ---------------------------------------------------------------------------

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const noexcept { Free(p); }
};
template <class T, void (*Free)(T*)>
using Ptr = std::unique_ptr<T, Deleter<T, Free>>;

using PkeyPtr = Ptr<EVP_PKEY, EVP_PKEY_free>;
using X509Ptr = Ptr<X509, X509_free>;
using CrlPtr = Ptr<X509_CRL, X509_CRL_free>;
using ExtPtr = Ptr<X509_EXTENSION, X509_EXTENSION_free>;
using BioPtr = Ptr<BIO, BIO_free_all>;
using MdCtxPtr = Ptr<EVP_MD_CTX, EVP_MD_CTX_free>;
using EcdsaSigPtr = Ptr<ECDSA_SIG, ECDSA_SIG_free>;
using BnPtr = Ptr<BIGNUM, BN_free>;
using IntPtr = Ptr<ASN1_INTEGER, ASN1_INTEGER_free>;
using EnumPtr = Ptr<ASN1_ENUMERATED, ASN1_ENUMERATED_free>;
using OctetsPtr = Ptr<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;
using ObjPtr = Ptr<ASN1_OBJECT, ASN1_OBJECT_free>;
using TimePtr = Ptr<ASN1_TIME, ASN1_TIME_free>;
using RevokedPtr = Ptr<X509_REVOKED, X509_REVOKED_free>;

// An error naming the failed step, with OpenSSL's reason when it left one. Clears the queue so a
// stale entry never explains a later failure.
Error failure(std::string_view what) {
  std::string detail = "simulator: " + std::string(what);
  if (unsigned long const code = ERR_get_error(); code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    detail += " (";
    detail += buffer;
    detail += ")";
  }
  ERR_clear_error();
  return Error(errc::simulator_failed, std::move(detail));
}

result<PkeyPtr> generate_p256_key() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return failure("P-256 key generation failed");
  return key;
}

// ECDSA P-256 over SHA-256(message), as the raw r||s Intel uses in quotes and collateral.
result<P256Raw> sign_raw(EVP_PKEY* key, ByteView message) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1)
    return failure("ECDSA signing setup failed");
  std::size_t der_len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &der_len, message.data(), message.size()) != 1)
    return failure("ECDSA signing failed");
  Bytes der(der_len);
  if (EVP_DigestSign(ctx.get(), der.data(), &der_len, message.data(), message.size()) != 1)
    return failure("ECDSA signing failed");
  unsigned char const* cursor = der.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der_len)));
  if (!sig) return failure("ECDSA signature does not decode");
  BIGNUM const* r = nullptr;
  BIGNUM const* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  P256Raw raw{};
  if (BN_bn2binpad(r, raw.data(), 32) != 32 || BN_bn2binpad(s, raw.data() + 32, 32) != 32)
    return failure("ECDSA signature component too large");
  return raw;
}

// The uncompressed public point without its 0x04 prefix: the quote's 64-byte attestation key.
result<P256Raw> raw_public_key(EVP_PKEY* key) {
  std::uint8_t point[65];
  std::size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &len) !=
          1 ||
      len != sizeof point || point[0] != 0x04)
    return failure("attestation key is not an uncompressed P-256 point");
  P256Raw raw{};
  std::copy_n(point + 1, raw.size(), raw.begin());
  return raw;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  auto const len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

result<std::string> key_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return failure("cannot encode private key");
  return bio_text(bio.get());
}

result<std::string> cert_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return failure("cannot encode certificate");
  return bio_text(bio.get());
}

result<PkeyPtr> read_key(std::string const& pem, std::string_view name) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key || EVP_PKEY_get_bits(key.get()) != 256 || !EVP_PKEY_is_a(key.get(), "EC"))
    return failure(std::string(name) + " is not a P-256 private key in PEM");
  return key;
}

result<X509Ptr> read_cert(std::string const& pem, std::string_view name) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return failure(std::string(name) + " is not a PEM certificate");
  return cert;
}

// --- a minimal DER writer for the SGX extension --------------------------------------------------

void append_length(Bytes& out, std::size_t n) {
  if (n < 0x80) {
    out.push_back(static_cast<std::uint8_t>(n));
    return;
  }
  std::uint8_t digits[sizeof(std::size_t)];
  std::size_t count = 0;
  for (; n != 0; n >>= 8) digits[count++] = static_cast<std::uint8_t>(n & 0xff);
  out.push_back(static_cast<std::uint8_t>(0x80 | count));
  while (count != 0) out.push_back(digits[--count]);
}

Bytes tlv(std::uint8_t tag, ByteView content) {
  Bytes out{tag};
  append_length(out, content.size());
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

Bytes sequence(std::initializer_list<Bytes> items) {
  Bytes content;
  for (auto const& item : items) content.insert(content.end(), item.begin(), item.end());
  return tlv(0x30, content);
}

// OBJECT IDENTIFIER (X.690 8.19): first two arcs as 40*a+b, every arc base-128 big-endian.
Bytes oid(std::vector<std::uint32_t> const& arcs) {
  Bytes content;
  auto put_arc = [&content](std::uint32_t arc) {
    std::uint8_t groups[5];
    std::size_t count = 0;
    do {
      groups[count++] = static_cast<std::uint8_t>(arc & 0x7f);
      arc >>= 7;
    } while (arc != 0);
    while (count != 0) {
      --count;
      content.push_back(static_cast<std::uint8_t>(groups[count] | (count != 0 ? 0x80 : 0x00)));
    }
  };
  put_arc(arcs[0] * 40 + arcs[1]);
  for (std::size_t i = 2; i < arcs.size(); ++i) put_arc(arcs[i]);
  return tlv(0x06, content);
}

// INTEGER / ENUMERATED (X.690 8.3): minimal two's complement of a non-negative value.
Bytes unsigned_number(std::uint8_t tag, std::uint32_t value) {
  Bytes content;
  do {
    content.insert(content.begin(), static_cast<std::uint8_t>(value & 0xff));
    value >>= 8;
  } while (value != 0);
  if ((content.front() & 0x80) != 0) content.insert(content.begin(), 0x00);
  return tlv(tag, content);
}
Bytes integer(std::uint32_t value) { return unsigned_number(0x02, value); }
Bytes enumerated(std::uint32_t value) { return unsigned_number(0x0a, value); }
Bytes octets(ByteView bytes) { return tlv(0x04, bytes); }
Bytes boolean(bool value) {
  std::uint8_t const byte = value ? 0xff : 0x00;
  return tlv(0x01, ByteView(&byte, 1));
}

// 1.2.840.113741.1.13.1[.suffix...]
Bytes sgx_oid(std::initializer_list<std::uint32_t> suffix) {
  std::vector<std::uint32_t> arcs{1, 2, 840, 113741, 1, 13, 1};
  arcs.insert(arcs.end(), suffix);
  return oid(arcs);
}

// --- the simulated platform ----------------------------------------------------------------------

constexpr char kOrganization[] = "easyenclave simulator (TEST ONLY, NOT TRUSTED)";
constexpr std::string_view kRootCn = kSimulatorRootName;
constexpr char kPlatformCaCn[] = "EE Simulator PCK Platform CA";
constexpr char kPckCn[] = "EE Simulator PCK Certificate";
constexpr char kTcbSigningCn[] = "EE Simulator TCB Signing";
// RFC 2606 reserves .invalid: nothing ever fetches these distribution points.
constexpr char kRootCrlUrl[] = "URI:https://simulator.easyenclave.invalid/EESimulatorRootCA.der";
constexpr char kPckCrlUrl[] =
    "URI:https://simulator.easyenclave.invalid/sgx/certification/v4/pckcrl?ca=platform&"
    "encoding=der";

// The platform's raw TCB as its PCK certificate states it (values of a Sapphire Rapids part).
constexpr std::array<std::uint8_t, 16> kSgxComponents{3, 3, 2, 2, 4, 1, 0, 5};
constexpr std::uint16_t kPceSvn = 11;
constexpr std::array<std::uint8_t, 2> kPceId{0x00, 0x00};
// Not a real Intel FMSPC, so simulator collateral can never be mistaken for a real platform's.
constexpr std::array<std::uint8_t, 6> kFmspc{0xee, 0x51, 0x4d, 0x00, 0x00, 0x00};
constexpr int kSgxTypeScalable = 1;
constexpr int kTcbEvaluationDataNumber = 17;

// The TD quoting enclave as the QE report describes it; the QE identity accepts exactly this.
constexpr Bytes16 kQeVendorId{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                              0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};
constexpr Bytes16 kQeAttributes{0x15, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0};
constexpr std::uint16_t kQeIsvProdId = 2;
constexpr std::uint16_t kQeIsvSvn = 7;
constexpr std::uint16_t kQeIdentityIsvSvn = 4;  // the UpToDate level: any QE at or above it

std::array<std::uint8_t, 32> qe_mr_signer() {
  return detail::sha256(detail::as_bytes("easyenclave simulator TD quoting enclave signer"));
}
std::array<std::uint8_t, 32> qe_mr_enclave() {
  return detail::sha256(detail::as_bytes("easyenclave simulator TD quoting enclave"));
}
std::array<std::uint8_t, 32> qe_auth_data() {
  std::array<std::uint8_t, 32> data{};  // real QEs send 00 01 .. 1f as well
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i);
  return data;
}

std::string upper_hex(ByteView bytes) {
  auto text = detail::hex_encode(bytes);
  std::transform(text.begin(), text.end(), text.begin(),
                 [](char c) { return static_cast<char>(c >= 'a' && c <= 'f' ? c - 32 : c); });
  return text;
}

std::time_t to_time_t(TimePoint t) { return std::chrono::system_clock::to_time_t(t); }

// --- certificates and CRLs -----------------------------------------------------------------------

struct CertSpec {
  std::string common_name{};
  bool ca = false;
  int path_length = 0;
  std::string crl_url{};
  TimePoint not_before{};
  TimePoint not_after{};
  std::optional<Bytes> sgx_extension{};
};

result<IntPtr> random_serial() {
  // 20 bytes like Intel's serials, positive (top bit clear) and non-zero.
  std::array<std::uint8_t, 20> bytes{};
  if (auto r = detail::random_bytes(bytes); !r) return r.error();
  bytes[0] = static_cast<std::uint8_t>((bytes[0] & 0x7f) | 0x01);
  BnPtr bn(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  IntPtr serial(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
  if (!serial) return failure("cannot make a serial number");
  return serial;
}

result<void> add_name(X509_NAME* name, std::string const& common_name) {
  auto const* cn = reinterpret_cast<unsigned char const*>(common_name.c_str());
  auto const* org = reinterpret_cast<unsigned char const*>(kOrganization);
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, cn, -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, org, -1, -1, 0) != 1)
    return failure("cannot build a distinguished name");
  return {};
}

result<void> add_conf_extension(X509* cert, X509V3_CTX* ctx, int nid, std::string const& value) {
  ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    return failure("cannot add extension " + std::string(OBJ_nid2sn(nid)));
  return {};
}

result<void> add_raw_extension(X509* cert, char const* dotted_oid, Bytes const& der) {
  ObjPtr obj(OBJ_txt2obj(dotted_oid, 1));
  OctetsPtr value(ASN1_OCTET_STRING_new());
  if (!obj || !value ||
      ASN1_OCTET_STRING_set(value.get(), der.data(), static_cast<int>(der.size())) != 1)
    return failure("cannot encode the SGX extension");
  ExtPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 0, value.get()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    return failure("cannot add the SGX extension");
  return {};
}

// Issues a certificate for `subject_key`; `issuer == nullptr` makes it self-signed. Extensions in
// the order Intel's certificates carry them: AKI, CRL DP, SKI, key usage, basic constraints, and
// the SGX extension for the PCK leaf.
result<X509Ptr> issue_certificate(CertSpec const& spec, EVP_PKEY* subject_key, X509* issuer,
                                  EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  if (!cert) return failure("X509_new failed");
  auto serial = random_serial();
  if (!serial) return serial.error();
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_serialNumber(cert.get(), serial->get()) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(cert.get()), to_time_t(spec.not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), to_time_t(spec.not_after)) == nullptr ||
      X509_set_pubkey(cert.get(), subject_key) != 1)
    return failure("cannot fill certificate fields");
  if (auto r = add_name(X509_get_subject_name(cert.get()), spec.common_name); !r) return r.error();
  X509* const signer = issuer != nullptr ? issuer : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) != 1)
    return failure("cannot set issuer name");

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, signer, cert.get(), nullptr, nullptr, 0);
  // With the issuer key known, OpenSSL derives a self-signed root's AKI from it, so the AKI can
  // come first as in Intel's root.
  if (X509V3_set_issuer_pkey(&ctx, issuer_key) != 1) return failure("cannot set issuer key");
  std::string const basic = spec.ca
                                ? "critical,CA:TRUE,pathlen:" + std::to_string(spec.path_length)
                                : "critical,CA:FALSE";
  std::string const usage =
      spec.ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,nonRepudiation";
  for (auto const& [nid, value] : {std::pair<int, std::string>{NID_authority_key_identifier,
                                                               "keyid:always"},
                                   {NID_crl_distribution_points, spec.crl_url},
                                   {NID_subject_key_identifier, "hash"},
                                   {NID_key_usage, usage},
                                   {NID_basic_constraints, basic}}) {
    if (auto r = add_conf_extension(cert.get(), &ctx, nid, value); !r) return r.error();
  }
  if (spec.sgx_extension) {
    if (auto r = add_raw_extension(cert.get(), "1.2.840.113741.1.13.1", *spec.sgx_extension); !r)
      return r.error();
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0)
    return failure("cannot sign certificate " + spec.common_name);
  return cert;
}

// A v2 CRL like Intel's: CRL number 1, AKI, entries with reason keyCompromise.
result<Bytes> issue_crl(X509* issuer, EVP_PKEY* issuer_key, TimePoint this_update,
                        TimePoint next_update, std::vector<ASN1_INTEGER const*> const& revoked) {
  CrlPtr crl(X509_CRL_new());
  TimePtr last(ASN1_TIME_set(nullptr, to_time_t(this_update)));
  TimePtr next(ASN1_TIME_set(nullptr, to_time_t(next_update)));
  IntPtr number(ASN1_INTEGER_new());
  if (!crl || !last || !next || !number || ASN1_INTEGER_set(number.get(), 1) != 1 ||
      X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer)) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), last.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next.get()) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0) != 1)
    return failure("cannot fill CRL fields");
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, nullptr, nullptr, crl.get(), 0);
  ExtPtr aki(X509V3_EXT_nconf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (!aki || X509_CRL_add_ext(crl.get(), aki.get(), -1) != 1)
    return failure("cannot add the CRL's authority key identifier");
  for (auto const* serial : revoked) {
    RevokedPtr entry(X509_REVOKED_new());
    EnumPtr reason(ASN1_ENUMERATED_new());
    if (!entry || !reason || ASN1_ENUMERATED_set(reason.get(), 1) != 1 ||  // keyCompromise
        X509_REVOKED_set_serialNumber(entry.get(), const_cast<ASN1_INTEGER*>(serial)) != 1 ||
        X509_REVOKED_set_revocationDate(entry.get(), last.get()) != 1 ||
        X509_REVOKED_add1_ext_i2d(entry.get(), NID_crl_reason, reason.get(), 0, 0) != 1 ||
        X509_CRL_add0_revoked(crl.get(), entry.get()) != 1)
      return failure("cannot add a CRL entry");
    entry.release();  // owned by the CRL now
  }
  if (X509_CRL_sort(crl.get()) != 1 || X509_CRL_sign(crl.get(), issuer_key, EVP_sha256()) == 0)
    return failure("cannot sign CRL");
  int const len = i2d_X509_CRL(crl.get(), nullptr);
  if (len <= 0) return failure("cannot encode CRL");
  Bytes der(static_cast<std::size_t>(len));
  unsigned char* cursor = der.data();
  if (i2d_X509_CRL(crl.get(), &cursor) != len) return failure("cannot encode CRL");
  return der;
}

// --- collateral JSON -----------------------------------------------------------------------------

bj::array svn_components(Bytes16 const& svns) {
  bj::array out;
  for (auto const svn : svns) out.push_back(bj::object{{"svn", svn}});
  return out;
}

bj::object level_tail(bj::object level, std::string const& date, TcbStatus status,
                      std::vector<std::string> const& advisories) {
  level["tcbDate"] = date;
  level["tcbStatus"] = std::string(to_string(status));
  if (!advisories.empty()) {
    bj::array ids;
    for (auto const& id : advisories) ids.emplace_back(id);
    level["advisoryIDs"] = std::move(ids);
  }
  return level;
}

// TCB info v3 for TDX. The first level is exactly the simulated platform (SGX components and
// PCESVN of the PCK certificate, TDX components = TEE_TCB_SVN), with the configured status; a
// second, all-zero OutOfDate level catches quotes made with an older TEE_TCB_SVN.
std::string tcb_info_json(SimulatorOptions const& o, TimePoint issue, TimePoint next) {
  auto const tcb_date = detail::format_rfc3339(std::chrono::floor<std::chrono::days>(issue));
  std::string const zero_signer(96, '0');
  char module_id[8];
  std::snprintf(module_id, sizeof module_id, "TDX_%02X", o.tee_tcb_svn[1]);

  bj::array module_levels;
  module_levels.push_back(level_tail(bj::object{{"tcb", bj::object{{"isvsvn", o.tee_tcb_svn[0]}}}},
                                     tcb_date, TcbStatus::up_to_date, {}));
  if (o.tee_tcb_svn[0] > 0)
    module_levels.push_back(level_tail(bj::object{{"tcb", bj::object{{"isvsvn", 0}}}},
                                       "2018-01-04T00:00:00Z", TcbStatus::out_of_date, {}));

  bj::array levels;
  levels.push_back(level_tail(
      bj::object{{"tcb", bj::object{{"sgxtcbcomponents", svn_components(kSgxComponents)},
                                    {"pcesvn", kPceSvn},
                                    {"tdxtcbcomponents", svn_components(o.tee_tcb_svn)}}}},
      tcb_date, o.tcb_status, o.advisory_ids));
  levels.push_back(level_tail(
      bj::object{{"tcb", bj::object{{"sgxtcbcomponents", svn_components(Bytes16{})},
                                    {"pcesvn", 0},
                                    {"tdxtcbcomponents", svn_components(Bytes16{})}}}},
      "2018-01-04T00:00:00Z", TcbStatus::out_of_date, {}));

  bj::object const info{
      {"id", "TDX"},
      {"version", 3},
      {"issueDate", detail::format_rfc3339(issue)},
      {"nextUpdate", detail::format_rfc3339(next)},
      {"fmspc", upper_hex(kFmspc)},
      {"pceId", upper_hex(kPceId)},
      {"tcbType", 0},
      {"tcbEvaluationDataNumber", kTcbEvaluationDataNumber},
      {"tdxModule",
       bj::object{{"mrsigner", zero_signer},
                  {"attributes", "0000000000000000"},
                  {"attributesMask", "FFFFFFFFFFFFFFFF"}}},
      {"tdxModuleIdentities",
       bj::array{bj::object{{"id", module_id},
                            {"mrsigner", zero_signer},
                            {"attributes", "0000000000000000"},
                            {"attributesMask", "FFFFFFFFFFFFFFFF"},
                            {"tcbLevels", std::move(module_levels)}}}},
      {"tcbLevels", std::move(levels)},
  };
  return detail::json::serialize(info);
}

// Enclave identity v2 of the TD quoting enclave, matching the QE report the simulator signs.
std::string qe_identity_json(TimePoint issue, TimePoint next) {
  auto const tcb_date = detail::format_rfc3339(std::chrono::floor<std::chrono::days>(issue));
  bj::object const identity{
      {"id", "TD_QE"},
      {"version", 2},
      {"issueDate", detail::format_rfc3339(issue)},
      {"nextUpdate", detail::format_rfc3339(next)},
      {"tcbEvaluationDataNumber", kTcbEvaluationDataNumber},
      {"miscselect", "00000000"},
      {"miscselectMask", "FFFFFFFF"},
      // Intel masks out bit 2 (MODE64BIT is fixed, DEBUG must be 0): 0x15 & 0xFB = 0x11.
      {"attributes", "11000000000000000000000000000000"},
      {"attributesMask", "FBFFFFFFFFFFFFFF0000000000000000"},
      {"mrsigner", upper_hex(qe_mr_signer())},
      {"isvprodid", kQeIsvProdId},
      {"tcbLevels",
       bj::array{level_tail(bj::object{{"tcb", bj::object{{"isvsvn", kQeIdentityIsvSvn}}}},
                            tcb_date, TcbStatus::up_to_date, {})}},
  };
  return detail::json::serialize(identity);
}

// --- key material: everything a simulator is made of, as text ------------------------------------

struct Material {
  std::string root_cert, root_key;
  std::string platform_ca_cert, platform_ca_key;
  std::string pck_cert, pck_key;
  std::string tcb_signing_cert, tcb_signing_key;
  std::string attestation_key;
  std::string collateral_json;
};

Bytes sgx_extension(std::array<std::uint8_t, 16> const& ppid,
                    std::array<std::uint8_t, 16> const& platform_instance_id) {
  Bytes tcb;
  for (std::uint32_t i = 1; i <= 16; ++i) {
    auto const item = sequence({sgx_oid({2, i}), integer(kSgxComponents[i - 1])});
    tcb.insert(tcb.end(), item.begin(), item.end());
  }
  for (auto const& item : {sequence({sgx_oid({2, 17}), integer(kPceSvn)}),
                           // CPUSVN: on these parts its bytes are the 16 component SVNs.
                           sequence({sgx_oid({2, 18}), octets(kSgxComponents)})})
    tcb.insert(tcb.end(), item.begin(), item.end());
  return sequence({
      sequence({sgx_oid({1}), octets(ppid)}),
      sequence({sgx_oid({2}), tlv(0x30, tcb)}),
      sequence({sgx_oid({3}), octets(kPceId)}),
      sequence({sgx_oid({4}), octets(kFmspc)}),
      sequence({sgx_oid({5}), enumerated(kSgxTypeScalable)}),
      // Platform CA certificates also carry the platform instance id and configuration
      // (dynamic platform, cached keys, SMT enabled).
      sequence({sgx_oid({6}), octets(platform_instance_id)}),
      sequence({sgx_oid({7}), sequence({sequence({sgx_oid({7, 1}), boolean(true)}),
                                        sequence({sgx_oid({7, 2}), boolean(true)}),
                                        sequence({sgx_oid({7, 3}), boolean(true)})})}),
  });
}

std::string hex(ByteView bytes) { return detail::hex_encode(bytes); }

result<Material> generate_material(SimulatorOptions const& o) {
  auto const start = o.now;
  auto const end = o.now + o.validity;
  Material m;

  auto root_key = generate_p256_key();
  if (!root_key) return root_key.error();
  auto root = issue_certificate({.common_name = std::string(kRootCn), .ca = true, .path_length = 1,
                                 .crl_url = kRootCrlUrl, .not_before = start, .not_after = end},
                                root_key->get(), nullptr, root_key->get());
  if (!root) return root.error();

  auto ca_key = generate_p256_key();
  if (!ca_key) return ca_key.error();
  auto ca = issue_certificate({.common_name = kPlatformCaCn, .ca = true, .path_length = 0,
                               .crl_url = kRootCrlUrl, .not_before = start, .not_after = end},
                              ca_key->get(), root->get(), root_key->get());
  if (!ca) return ca.error();

  std::array<std::uint8_t, 16> ppid{}, instance{};
  if (auto r = detail::random_bytes(ppid); !r) return r.error();
  if (auto r = detail::random_bytes(instance); !r) return r.error();
  auto pck_key = generate_p256_key();
  if (!pck_key) return pck_key.error();
  auto pck = issue_certificate({.common_name = kPckCn, .crl_url = kPckCrlUrl, .not_before = start,
                                .not_after = end, .sgx_extension = sgx_extension(ppid, instance)},
                               pck_key->get(), ca->get(), ca_key->get());
  if (!pck) return pck.error();

  auto tcb_key = generate_p256_key();
  if (!tcb_key) return tcb_key.error();
  auto tcb = issue_certificate({.common_name = kTcbSigningCn, .crl_url = kRootCrlUrl,
                                .not_before = start, .not_after = end},
                               tcb_key->get(), root->get(), root_key->get());
  if (!tcb) return tcb.error();

  auto attestation_key = generate_p256_key();
  if (!attestation_key) return attestation_key.error();

  // CRLs: the root's lists nothing (as Intel's); the platform CA's lists two unrelated serials,
  // so revocation checks always walk real entries, plus the PCK's when asked to.
  auto const root_crl = issue_crl(root->get(), root_key->get(), start, end, {});
  if (!root_crl) return root_crl.error();
  auto other1 = random_serial();
  if (!other1) return other1.error();
  auto other2 = random_serial();
  if (!other2) return other2.error();
  std::vector<ASN1_INTEGER const*> revoked{other1->get(), other2->get()};
  if (o.revoke_pck) revoked.push_back(X509_get0_serialNumber(pck->get()));
  auto const pck_crl = issue_crl(ca->get(), ca_key->get(), start, end, revoked);
  if (!pck_crl) return pck_crl.error();

  // PEM texts.
  for (auto const& [out, cert] : {std::pair<std::string*, X509*>{&m.root_cert, root->get()},
                                  {&m.platform_ca_cert, ca->get()},
                                  {&m.pck_cert, pck->get()},
                                  {&m.tcb_signing_cert, tcb->get()}}) {
    auto pem = cert_pem(cert);
    if (!pem) return pem.error();
    *out = std::move(*pem);
  }
  for (auto const& [out, key] :
       {std::pair<std::string*, EVP_PKEY*>{&m.root_key, root_key->get()},
        {&m.platform_ca_key, ca_key->get()},
        {&m.pck_key, pck_key->get()},
        {&m.tcb_signing_key, tcb_key->get()},
        {&m.attestation_key, attestation_key->get()}}) {
    auto pem = key_pem(key);
    if (!pem) return pem.error();
    *out = std::move(*pem);
  }

  // Signed TCB info and QE identity, then the bundle.
  auto const tcb_info = tcb_info_json(o, start, end);
  auto const qe_identity = qe_identity_json(start, end);
  auto const tcb_sig = sign_raw(tcb_key->get(), detail::as_bytes(tcb_info));
  if (!tcb_sig) return tcb_sig.error();
  auto const qe_sig = sign_raw(tcb_key->get(), detail::as_bytes(qe_identity));
  if (!qe_sig) return qe_sig.error();
  auto const signing_chain = m.tcb_signing_cert + m.root_cert;
  bj::object const bundle{
      {"pck_crl_issuer_chain", m.platform_ca_cert + m.root_cert},
      {"root_ca_crl", hex(*root_crl)},
      {"pck_crl", hex(*pck_crl)},
      {"tcb_info_issuer_chain", signing_chain},
      {"tcb_info", tcb_info},
      {"tcb_info_signature", hex(*tcb_sig)},
      {"qe_identity_issuer_chain", signing_chain},
      {"qe_identity", qe_identity},
      {"qe_identity_signature", hex(*qe_sig)},
  };
  m.collateral_json = detail::json::serialize(bundle);
  return m;
}

// --- the quote -----------------------------------------------------------------------------------

void put_u16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put_u32(Bytes& out, std::uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}
template <std::size_t N>
void put_at(Bytes& out, std::size_t offset, std::array<std::uint8_t, N> const& value) {
  std::copy(value.begin(), value.end(), out.begin() + static_cast<std::ptrdiff_t>(offset));
}
template <std::size_t N>
void append(Bytes& out, std::array<std::uint8_t, N> const& value) {
  out.insert(out.end(), value.begin(), value.end());
}

// The SGX report body of the QE (sgx_report_body_t, 384 bytes).
Bytes qe_report(P256Raw const& attestation_key) {
  Bytes report(L::kEnclaveReportSize, 0);
  put_at(report, L::kErCpuSvn, kSgxComponents);
  put_at(report, L::kErAttributes, kQeAttributes);
  put_at(report, L::kErMrEnclave, qe_mr_enclave());
  put_at(report, L::kErMrSigner, qe_mr_signer());
  report[L::kErIsvProdId] = static_cast<std::uint8_t>(kQeIsvProdId & 0xff);
  report[L::kErIsvProdId + 1] = static_cast<std::uint8_t>(kQeIsvProdId >> 8);
  report[L::kErIsvSvn] = static_cast<std::uint8_t>(kQeIsvSvn & 0xff);
  report[L::kErIsvSvn + 1] = static_cast<std::uint8_t>(kQeIsvSvn >> 8);
  // A.3.11: REPORTDATA = SHA-256(attestation key || QE authentication data) || 32 zero bytes.
  detail::Sha256Hasher hasher;
  hasher.update(attestation_key);
  auto const auth = qe_auth_data();
  hasher.update(auth);
  put_at(report, L::kErReportData, hasher.finish());
  return report;
}

// --- persistence ---------------------------------------------------------------------------------

struct FileSpec {
  char const* name;
  std::string Material::*field;
  bool secret;
};
constexpr FileSpec kFiles[] = {
    {"root_ca.pem", &Material::root_cert, false},
    {"root_ca.key", &Material::root_key, true},
    {"pck_platform_ca.pem", &Material::platform_ca_cert, false},
    {"pck_platform_ca.key", &Material::platform_ca_key, true},
    {"pck.pem", &Material::pck_cert, false},
    {"pck.key", &Material::pck_key, true},
    {"tcb_signing.pem", &Material::tcb_signing_cert, false},
    {"tcb_signing.key", &Material::tcb_signing_key, true},
    {"attestation_key.pem", &Material::attestation_key, true},
    {"collateral.json", &Material::collateral_json, false},
};
// Written last: its presence marks a complete directory.
constexpr char kStateFile[] = "simulator.json";

Error io_error(std::string_view what, fs::path const& path, int err) {
  return Error(errc::simulator_failed, "simulator: " + std::string(what) + " " + path.string() +
                                           ": " + std::generic_category().message(err));
}

// Writes through a temporary file and rename, so a reader never sees half a file.
result<void> write_file(fs::path const& path, std::string const& content, bool secret) {
  auto const temp = fs::path(path.string() + ".tmp");
  int const fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                        secret ? 0600 : 0644);
  if (fd < 0) return io_error("cannot create", temp, errno);
  std::size_t done = 0;
  while (done < content.size()) {
    auto const n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int const err = errno;
      ::close(fd);
      return io_error("cannot write", temp, err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return io_error("cannot write", temp, errno);
  if (::rename(temp.c_str(), path.c_str()) != 0) return io_error("cannot rename", temp, errno);
  return {};
}

result<std::string> read_file(fs::path const& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot read", path, errno != 0 ? errno : ENOENT);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string state_json(SimulatorOptions const& o) {
  bj::array advisories;
  for (auto const& id : o.advisory_ids) advisories.emplace_back(id);
  bj::object const state{
      {"format", 1},
      {"warning", "easyenclave quote simulator: test keys, never trusted by default"},
      {"not_before", detail::format_rfc3339(o.now)},
      {"validity_days", o.validity.count()},
      {"tee_tcb_svn", hex(o.tee_tcb_svn)},
      {"tcb_status", std::string(to_string(o.tcb_status))},
      {"advisory_ids", std::move(advisories)},
      {"revoke_pck", o.revoke_pck},
  };
  return detail::json::serialize(state);
}

// Restores the platform fields from simulator.json into `o`.
result<void> apply_state(std::string const& text, SimulatorOptions& o) {
  auto const value = detail::json::parse(text);
  if (!value) return value.error();
  auto const reader = detail::json::ObjectReader::from(*value, kStateFile);
  if (!reader) return reader.error();
  auto const not_before = reader->string("not_before");
  if (!not_before) return not_before.error();
  auto const start = detail::parse_rfc3339(*not_before);
  if (!start) return start.error();
  auto const days = reader->integer("validity_days", 1, 100 * 366);
  if (!days) return days.error();
  auto const svn = reader->string("tee_tcb_svn");
  if (!svn) return svn.error();
  Bytes16 tee_tcb_svn{};
  if (auto r = detail::hex_decode_into(*svn, tee_tcb_svn); !r) return r.error();
  auto const status_text = reader->string("tcb_status");
  if (!status_text) return status_text.error();
  auto const status = parse_tcb_status(*status_text);
  if (!status)
    return reader->field_error("tcb_status", ee::errc::invalid_value, "not a TCB status");
  auto advisories = reader->string_array("advisory_ids");
  if (!advisories) return advisories.error();
  auto const revoke = reader->boolean("revoke_pck");
  if (!revoke) return revoke.error();
  o.now = *start;
  o.validity = std::chrono::days(*days);
  o.tee_tcb_svn = tee_tcb_svn;
  o.tcb_status = *status;
  o.advisory_ids = std::move(*advisories);
  o.revoke_pck = *revoke;
  return {};
}

// An exclusive flock(2) on `dir/.lock`, held for the object's lifetime: two processes creating
// the same directory at once would otherwise mix files of two PKIs.
class DirectoryLock {
 public:
  static result<DirectoryLock> acquire(fs::path const& dir) {
    auto const path = dir / ".lock";
    int const fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return io_error("cannot open", path, errno);
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      int const err = errno;
      ::close(fd);
      return io_error("cannot lock", path, err);
    }
    return DirectoryLock(fd);
  }
  DirectoryLock(DirectoryLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  DirectoryLock& operator=(DirectoryLock&&) = delete;
  ~DirectoryLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_;
};

// Measurement fields come from the caller; platform fields are fixed at creation.
void normalise(SimulatorOptions& o) {
  if (o.now == TimePoint{}) o.now = std::chrono::system_clock::now();
  // Certificates and JSON dates have whole seconds; keep `now` identical to what they state.
  o.now = std::chrono::floor<std::chrono::seconds>(o.now);
}

}  // namespace

// --- Simulator -----------------------------------------------------------------------------------

struct Simulator::Impl {
  SimulatorOptions options{};
  PkeyPtr attestation_key{};
  // Everything after the quote signature: attestation key and certification data. It is the same
  // for every quote, so it is built once.
  Bytes signature_tail{};
  std::string root_pem{};
  std::string collateral_json{};
  Collateral collateral{};
  std::optional<TrustedRoot> root{};

  static result<std::unique_ptr<Impl>> assemble(Material const& m, SimulatorOptions options) {
    auto impl = std::make_unique<Impl>();
    impl->options = std::move(options);
    auto attestation_key = read_key(m.attestation_key, "attestation key");
    if (!attestation_key) return attestation_key.error();
    impl->attestation_key = std::move(*attestation_key);
    auto const pck_key = read_key(m.pck_key, "PCK key");
    if (!pck_key) return pck_key.error();
    auto const pck_cert = read_cert(m.pck_cert, "PCK certificate");
    if (!pck_cert) return pck_cert.error();
    if (X509_check_private_key(pck_cert->get(), pck_key->get()) != 1)
      return failure("the PCK key does not belong to the PCK certificate");

    auto const key_raw = raw_public_key(impl->attestation_key.get());
    if (!key_raw) return key_raw.error();
    auto const report = qe_report(*key_raw);
    auto const report_sig = sign_raw(pck_key->get(), report);
    if (!report_sig) return report_sig.error();
    auto const auth = qe_auth_data();
    // Type 5 (A.3.10): the PCK chain leaf first, as PEM; real QEs NUL-terminate it.
    auto const chain = m.pck_cert + m.platform_ca_cert + m.root_cert;
    std::size_t const chain_size = chain.size() + 1;
    std::size_t const qe_cert_data_size = report.size() + report_sig->size() + 2 + auth.size() +
                                          L::kCertDataHeaderSize + chain_size;

    Bytes& tail = impl->signature_tail;
    append(tail, *key_raw);
    put_u16(tail, L::kCertTypeQeReport);
    put_u32(tail, static_cast<std::uint32_t>(qe_cert_data_size));
    tail.insert(tail.end(), report.begin(), report.end());
    append(tail, *report_sig);
    put_u16(tail, static_cast<std::uint16_t>(auth.size()));
    append(tail, auth);
    put_u16(tail, L::kCertTypePckChain);
    put_u32(tail, static_cast<std::uint32_t>(chain_size));
    tail.insert(tail.end(), chain.begin(), chain.end());
    tail.push_back(0);

    impl->root_pem = m.root_cert;
    impl->collateral_json = m.collateral_json;
    auto collateral = parse_collateral_bundle(m.collateral_json);
    if (!collateral)
      return Error(errc::simulator_failed,
                   "simulator: its collateral does not load: " + collateral.error().message());
    impl->collateral = std::move(*collateral);
    auto root = TrustedRoot::from_certificate(detail::as_bytes(m.root_cert));
    if (!root)
      return Error(errc::simulator_failed,
                   "simulator: its root does not load: " + root.error().message());
    impl->root.emplace(std::move(*root));
    return impl;
  }
};

Simulator::Simulator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Simulator::~Simulator() = default;

result<std::shared_ptr<Simulator>> Simulator::create(SimulatorOptions options) {
  if (options.validity.count() <= 0)
    return Error(errc::simulator_failed, "simulator: validity must be at least one day");
  normalise(options);
  auto material = generate_material(options);
  if (!material) return material.error();
  auto impl = Impl::assemble(*material, std::move(options));
  if (!impl) return impl.error();
  return std::shared_ptr<Simulator>(new Simulator(std::move(*impl)));
}

result<std::shared_ptr<Simulator>> Simulator::load_or_create(fs::path const& dir,
                                                             SimulatorOptions options) {
  if (options.validity.count() <= 0)
    return Error(errc::simulator_failed, "simulator: validity must be at least one day");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return io_error("cannot create directory", dir, ec.value());
  auto const lock = DirectoryLock::acquire(dir);
  if (!lock) return lock.error();

  Material material;
  auto const state_path = dir / kStateFile;
  if (fs::exists(state_path, ec)) {
    auto const state = read_file(state_path);
    if (!state) return state.error();
    if (auto r = apply_state(*state, options); !r)
      return Error(errc::simulator_failed,
                   "simulator: " + state_path.string() + ": " + r.error().message());
    for (auto const& file : kFiles) {
      auto text = read_file(dir / file.name);
      if (!text) return text.error();
      material.*file.field = std::move(*text);
    }
  } else {
    // No complete simulator here (a crash during creation leaves no state file): make one,
    // overwriting any partial files.
    normalise(options);
    auto generated = generate_material(options);
    if (!generated) return generated.error();
    material = std::move(*generated);
    for (auto const& file : kFiles) {
      if (auto r = write_file(dir / file.name, material.*file.field, file.secret); !r)
        return r.error();
    }
    if (auto r = write_file(state_path, state_json(options), false); !r) return r.error();
  }
  auto impl = Impl::assemble(material, std::move(options));
  if (!impl) return impl.error();
  return std::shared_ptr<Simulator>(new Simulator(std::move(*impl)));
}

TdReport Simulator::td_report(ReportData const& report_data) const {
  auto const& o = impl_->options;
  TdReport report;
  report.tee_tcb_svn = o.tee_tcb_svn;
  report.mr_seam = o.mr_seam;
  report.td_attributes = o.td_attributes;
  report.xfam = o.xfam;
  report.mr_td = o.mr_td;
  report.mr_config_id = o.mr_config_id;
  report.mr_owner = o.mr_owner;
  report.mr_owner_config = o.mr_owner_config;
  report.rtmr = o.rtmr;
  report.report_data = report_data;
  return report;
}

result<std::vector<std::uint8_t>> Simulator::quote(ReportData const& report_data) const {
  return quote(td_report(report_data));
}

result<std::vector<std::uint8_t>> Simulator::quote(TdReport const& r) const {
  auto const& tail = impl_->signature_tail;
  Bytes q;
  q.reserve(L::kHeaderSize + L::kTdReport10Size + 4 + L::kSignatureSize + tail.size());

  // Header (A.3.1). TDX quotes leave the QE/PCE SVN slots zero; user data is free-form for the
  // QE, and names the producer here.
  put_u16(q, 4);
  put_u16(q, kAttestationKeyEcdsaP256);
  put_u32(q, kTeeTypeTdx);
  put_u32(q, 0);
  append(q, kQeVendorId);
  std::array<std::uint8_t, 20> user_data{};
  std::string_view const marker = "ee-simulator";
  std::copy(marker.begin(), marker.end(), user_data.begin());
  append(q, user_data);

  // TD quote body, TD 1.0 layout (A.3.2).
  std::size_t const body = q.size();
  q.resize(body + L::kTdReport10Size, 0);
  put_at(q, body + L::kTeeTcbSvn, r.tee_tcb_svn);
  put_at(q, body + L::kMrSeam, r.mr_seam);
  put_at(q, body + L::kMrSignerSeam, r.mr_signer_seam);
  put_at(q, body + L::kSeamAttributes, r.seam_attributes);
  put_at(q, body + L::kTdAttributes, r.td_attributes);
  put_at(q, body + L::kXfam, r.xfam);
  put_at(q, body + L::kMrTd, r.mr_td);
  put_at(q, body + L::kMrConfigId, r.mr_config_id);
  put_at(q, body + L::kMrOwner, r.mr_owner);
  put_at(q, body + L::kMrOwnerConfig, r.mr_owner_config);
  for (std::size_t i = 0; i < r.rtmr.size(); ++i) put_at(q, body + L::kRtmr0 + 48 * i, r.rtmr[i]);
  put_at(q, body + L::kReportData, r.report_data);

  // Signature data (A.3.8): ECDSA over header || body with the attestation key, then the rest.
  auto const signature = sign_raw(impl_->attestation_key.get(), q);
  if (!signature) return signature.error();
  put_u32(q, static_cast<std::uint32_t>(L::kSignatureSize + tail.size()));
  append(q, *signature);
  q.insert(q.end(), tail.begin(), tail.end());
  return q;
}

Collateral const& Simulator::collateral() const noexcept { return impl_->collateral; }
std::string const& Simulator::collateral_json() const noexcept { return impl_->collateral_json; }
std::string const& Simulator::root_pem() const noexcept { return impl_->root_pem; }
TrustedRoot const& Simulator::root() const noexcept { return *impl_->root; }
SimulatorOptions const& Simulator::options() const noexcept { return impl_->options; }

namespace {

class SimulatorProvider final : public QuoteProvider {
 public:
  explicit SimulatorProvider(std::shared_ptr<Simulator const> simulator)
      : simulator_(std::move(simulator)) {}
  result<std::vector<std::uint8_t>> get_quote(ReportData const& report_data) override {
    return simulator_->quote(report_data);
  }
  std::string_view name() const noexcept override { return "simulator"; }

 private:
  std::shared_ptr<Simulator const> simulator_;
};

}  // namespace

std::unique_ptr<QuoteProvider> make_simulator_provider(std::shared_ptr<Simulator const> simulator) {
  return std::make_unique<SimulatorProvider>(std::move(simulator));
}

}  // namespace ee::tdx
