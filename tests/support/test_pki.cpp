#include "support/test_pki.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <utility>

namespace ee::test {
namespace {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using ObjPtr = std::unique_ptr<ASN1_OBJECT, Deleter<ASN1_OBJECT_free>>;
using OctetsPtr = std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;

[[noreturn]] void fail(std::string const& what) {
  std::string message = "test PKI: " + what + " failed";
  if (unsigned long const code = ERR_get_error(); code != 0) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    message += ": ";
    message += text;
  }
  ERR_clear_error();
  throw std::runtime_error(message);
}

void check(int ok, char const* what) {
  if (ok != 1) fail(what);
}

KeyPtr generate_p256_key() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) fail("EVP_EC_gen(P-256)");
  return key;
}

std::string read_bio(BIO* bio) {
  char* data = nullptr;
  long const size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) fail("BIO_new");
  check(PEM_write_bio_X509(bio.get(), cert), "PEM_write_bio_X509");
  return read_bio(bio.get());
}

std::string to_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) fail("BIO_new");
  check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
        "PEM_write_bio_PrivateKey");
  return read_bio(bio.get());
}

BioPtr bio_from(std::string const& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) fail("BIO_new_mem_buf");
  return bio;
}

CertPtr certificate_from(std::string const& pem) {
  auto bio = bio_from(pem);
  CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) fail("PEM_read_bio_X509");
  return cert;
}

KeyPtr key_from(std::string const& pem) {
  auto bio = bio_from(pem);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) fail("PEM_read_bio_PrivateKey");
  return key;
}

void set_serial(X509* cert, std::uint64_t serial) {
  BnPtr number(BN_new());
  if (!number) fail("BN_new");
  if (serial == 0) {
    // RFC 5280 section 4.1.2.2: positive, at most 20 octets; 127 random bits keep it positive.
    check(BN_rand(number.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "BN_rand");
    if (BN_is_zero(number.get())) check(BN_set_word(number.get(), 1), "BN_set_word");
  } else {
    check(BN_set_word(number.get(), serial), "BN_set_word");
  }
  if (BN_to_ASN1_INTEGER(number.get(), X509_get_serialNumber(cert)) == nullptr) {
    fail("BN_to_ASN1_INTEGER");
  }
}

void set_time(ASN1_TIME* field, std::chrono::system_clock::time_point t) {
  if (ASN1_TIME_set(field, std::chrono::system_clock::to_time_t(t)) == nullptr) {
    fail("ASN1_TIME_set");
  }
}

void add_name_entry(X509_NAME* name, char const* field, std::string const& value) {
  if (value.empty()) return;
  check(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                   reinterpret_cast<unsigned char const*>(value.c_str()), -1, -1,
                                   0),
        "X509_NAME_add_entry_by_txt");
}

void add_extension(X509* cert, X509V3_CTX* context, int nid, std::string const& value) {
  ExtPtr extension(X509V3_EXT_conf_nid(nullptr, context, nid, value.c_str()));
  if (!extension) fail(std::string("X509V3_EXT_conf_nid ") + OBJ_nid2sn(nid) + "=" + value);
  check(X509_add_ext(cert, extension.get(), -1), "X509_add_ext");
}

void add_raw_extension(X509* cert, RawExtension const& raw) {
  ObjPtr oid(OBJ_txt2obj(raw.oid.c_str(), 1));
  if (!oid) fail("OBJ_txt2obj " + raw.oid);
  OctetsPtr value(ASN1_OCTET_STRING_new());
  if (!value) fail("ASN1_OCTET_STRING_new");
  check(ASN1_OCTET_STRING_set(value.get(), raw.der_value.data(),
                              static_cast<int>(raw.der_value.size())),
        "ASN1_OCTET_STRING_set");
  ExtPtr extension(
      X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), raw.critical ? 1 : 0, value.get()));
  if (!extension) fail("X509_EXTENSION_create_by_OBJ " + raw.oid);
  check(X509_add_ext(cert, extension.get(), -1), "X509_add_ext");
}

// Builds and signs a certificate for `subject_key`. With no issuer, it is self-signed.
CertPtr make_certificate(CertificateSpec const& spec, EVP_PKEY* subject_key, X509* issuer_cert,
                         EVP_PKEY* issuer_key) {
  CertPtr cert(X509_new());
  if (!cert) fail("X509_new");
  check(X509_set_version(cert.get(), X509_VERSION_3), "X509_set_version");
  set_serial(cert.get(), spec.serial);
  auto const now = std::chrono::system_clock::now();
  set_time(X509_getm_notBefore(cert.get()), spec.not_before.value_or(now - std::chrono::hours(1)));
  set_time(X509_getm_notAfter(cert.get()), spec.not_after.value_or(now + std::chrono::hours(24)));

  X509_NAME* subject = X509_get_subject_name(cert.get());
  add_name_entry(subject, "O", spec.organization);
  add_name_entry(subject, "CN", spec.common_name);
  X509* const issuer = issuer_cert != nullptr ? issuer_cert : cert.get();
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)), "X509_set_issuer_name");
  check(X509_set_pubkey(cert.get(), subject_key), "X509_set_pubkey");

  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer, cert.get(), nullptr, nullptr, 0);
  // RFC 5280 section 4.2.1: the key identifiers link the chain; the subject's must exist before
  // a self-signed certificate can name itself as its authority.
  add_extension(cert.get(), &context, NID_subject_key_identifier, "hash");
  add_extension(cert.get(), &context, NID_authority_key_identifier, "keyid:always");
  if (spec.is_ca) {
    std::string constraints = "critical,CA:TRUE";
    if (spec.path_length) constraints += ",pathlen:" + std::to_string(*spec.path_length);
    add_extension(cert.get(), &context, NID_basic_constraints, constraints);
    add_extension(cert.get(), &context, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert.get(), &context, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), &context, NID_key_usage, "critical,digitalSignature");
    add_extension(cert.get(), &context, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  std::string alt_names;
  auto const add_alt_name = [&alt_names](std::string const& entry) {
    if (!alt_names.empty()) alt_names += ",";
    alt_names += entry;
  };
  for (auto const& name : spec.dns_names) add_alt_name("DNS:" + name);
  for (auto const& ip : spec.ip_addresses) add_alt_name("IP:" + ip);
  if (!alt_names.empty()) {
    add_extension(cert.get(), &context, NID_subject_alt_name, alt_names);
  }
  for (auto const& raw : spec.extensions) add_raw_extension(cert.get(), raw);

  EVP_PKEY* const signer = issuer_key != nullptr ? issuer_key : subject_key;
  if (X509_sign(cert.get(), signer, EVP_sha256()) <= 0) fail("X509_sign");
  return cert;
}

void write_text(std::filesystem::path const& path, std::string const& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("test PKI: cannot write " + path.string());
}

}  // namespace

std::vector<std::uint8_t> Credential::certificate_der() const {
  auto cert = certificate_from(certificate_pem_);
  int const size = i2d_X509(cert.get(), nullptr);
  if (size <= 0) fail("i2d_X509");
  std::vector<std::uint8_t> der(static_cast<std::size_t>(size));
  unsigned char* out = der.data();
  if (i2d_X509(cert.get(), &out) != size) fail("i2d_X509");
  return der;
}

std::vector<std::uint8_t> Credential::public_key_der() const {
  auto key = key_from(private_key_pem_);
  int const size = i2d_PUBKEY(key.get(), nullptr);
  if (size <= 0) fail("i2d_PUBKEY");
  std::vector<std::uint8_t> der(static_cast<std::size_t>(size));
  unsigned char* out = der.data();
  if (i2d_PUBKEY(key.get(), &out) != size) fail("i2d_PUBKEY");
  return der;
}

CertificateAuthority CertificateAuthority::create_root(std::string const& common_name) {
  CertificateSpec spec;
  spec.common_name = common_name;
  spec.organization = "easyenclave tests";
  spec.is_ca = true;
  auto key = generate_p256_key();
  auto cert = make_certificate(spec, key.get(), nullptr, nullptr);
  Credential credential;
  credential.certificate_pem_ = to_pem(cert.get());
  credential.private_key_pem_ = to_pem(key.get());
  credential.chain_pem_ = credential.certificate_pem_;
  return CertificateAuthority(std::move(credential), true);
}

CertificateAuthority CertificateAuthority::issue_intermediate(CertificateSpec spec) const {
  spec.is_ca = true;
  return CertificateAuthority(issue(spec), false);
}

Credential CertificateAuthority::issue(CertificateSpec const& spec) const {
  auto issuer_cert = certificate_from(credential_.certificate_pem_);
  auto issuer_key = key_from(credential_.private_key_pem_);
  auto key = generate_p256_key();
  auto cert = make_certificate(spec, key.get(), issuer_cert.get(), issuer_key.get());
  Credential credential;
  credential.certificate_pem_ = to_pem(cert.get());
  credential.private_key_pem_ = to_pem(key.get());
  // A server sends its intermediates but not the root, which the peer already holds.
  credential.chain_pem_ =
      credential.certificate_pem_ + (is_root_ ? std::string() : credential_.chain_pem_);
  return credential;
}

PemFiles write_pem_files(Credential const& credential, std::filesystem::path const& dir,
                         std::string const& stem) {
  PemFiles files{.certificate = dir / (stem + ".crt"),
                 .private_key = dir / (stem + ".key"),
                 .chain = dir / (stem + ".chain.pem")};
  write_text(files.certificate, credential.certificate_pem());
  write_text(files.private_key, credential.private_key_pem());
  std::filesystem::permissions(
      files.private_key, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
      std::filesystem::perm_options::replace);
  write_text(files.chain, credential.chain_pem());
  return files;
}

TestPki::TestPki()
    : ca_(CertificateAuthority::create_root("easyenclave test root")),
      other_ca_(CertificateAuthority::create_root("easyenclave other test root")),
      ca_file_(dir_.path() / "ca.pem"),
      other_ca_file_(dir_.path() / "other_ca.pem") {
  write_text(ca_file_, ca_.credential().certificate_pem());
  write_text(other_ca_file_, other_ca_.credential().certificate_pem());
}

PemFiles TestPki::issue_server(std::string const& stem, std::vector<std::string> dns_names,
                               std::vector<std::string> ip_addresses) const {
  CertificateSpec spec;
  spec.common_name = dns_names.empty() ? stem : dns_names.front();
  spec.dns_names = std::move(dns_names);
  spec.ip_addresses = std::move(ip_addresses);
  return write(ca_.issue(spec), stem);
}

PemFiles TestPki::write(Credential const& credential, std::string const& stem) const {
  return write_pem_files(credential, dir_.path(), stem);
}

}  // namespace ee::test
