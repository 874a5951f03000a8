#pragma once
// A throwaway X.509 PKI made with OpenSSL at test time: P-256 ECDSA keys, SHA-256 signatures,
// roots, intermediates and leaves with chosen subjectAltNames, validity windows and extra
// extensions. Nothing here is trusted by anything unless a test hands its files over.
//
// Test support, not library code: failures throw std::runtime_error naming the OpenSSL call,
// which fails the calling test loudly.
#include "support/temp_dir.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ee::test {

/// An extension added as given: a dotted OID and the DER encoding of its value (the contents of
/// extnValue), e.g. the SGX extensions of a PCK certificate.
struct RawExtension {
  std::string oid{};
  std::vector<std::uint8_t> der_value{};
  bool critical = false;
};

/// What to put into a certificate.
struct CertificateSpec {
  std::string common_name = "easyenclave test";
  std::string organization{};  ///< O= of the subject; empty: none
  std::vector<std::string> dns_names{};     ///< subjectAltName dNSName entries
  std::vector<std::string> ip_addresses{};  ///< subjectAltName iPAddress ("127.0.0.1", "::1")
  bool is_ca = false;                       ///< basicConstraints CA:TRUE and keyCertSign
  std::optional<int> path_length{};         ///< basicConstraints pathlen for a CA
  /// Validity window. Unset: from one hour ago to one day from now.
  std::optional<std::chrono::system_clock::time_point> not_before{};
  std::optional<std::chrono::system_clock::time_point> not_after{};
  std::vector<RawExtension> extensions{};
  /// Positive serial number; 0 picks a random 127-bit one.
  std::uint64_t serial = 0;
};

/// A certificate with its private key, both PEM. Cheap to copy; immutable.
class Credential {
 public:
  std::string const& certificate_pem() const noexcept { return certificate_pem_; }
  /// Unencrypted PKCS #8.
  std::string const& private_key_pem() const noexcept { return private_key_pem_; }
  /// The certificate followed by the intermediates above it, root excluded: what a TLS server
  /// presents.
  std::string const& chain_pem() const noexcept { return chain_pem_; }
  std::vector<std::uint8_t> certificate_der() const;
  /// The DER SubjectPublicKeyInfo of the key.
  std::vector<std::uint8_t> public_key_der() const;

 private:
  friend class CertificateAuthority;
  std::string certificate_pem_;
  std::string private_key_pem_;
  std::string chain_pem_;
};

/// A CA that issues certificates. Thread-compatible (const members may be called concurrently).
class CertificateAuthority {
 public:
  /// A new self-signed root with a fresh key.
  static CertificateAuthority create_root(std::string const& common_name);
  /// A CA certificate signed by this one (`spec.is_ca` is forced on).
  CertificateAuthority issue_intermediate(CertificateSpec spec) const;
  /// A certificate signed by this CA for a fresh key.
  Credential issue(CertificateSpec const& spec) const;

  Credential const& credential() const noexcept { return credential_; }
  bool is_root() const noexcept { return is_root_; }

 private:
  CertificateAuthority(Credential credential, bool is_root)
      : credential_(std::move(credential)), is_root_(is_root) {}
  Credential credential_;
  bool is_root_;
};

/// Where write_pem_files put a credential.
struct PemFiles {
  std::filesystem::path certificate{};
  std::filesystem::path private_key{};
  std::filesystem::path chain{};
};

/// Writes `<stem>.crt`, `<stem>.key` (mode 0600) and `<stem>.chain.pem` into `dir`.
PemFiles write_pem_files(Credential const& credential, std::filesystem::path const& dir,
                         std::string const& stem);

/// The usual TLS test setup: a root CA, an unrelated "other" root, and a temporary directory
/// holding `ca.pem` and `other_ca.pem`. Issued server files go into the same directory.
class TestPki {
 public:
  TestPki();

  std::filesystem::path const& dir() const noexcept { return dir_.path(); }
  CertificateAuthority const& ca() const noexcept { return ca_; }
  CertificateAuthority const& other_ca() const noexcept { return other_ca_; }
  std::filesystem::path const& ca_file() const noexcept { return ca_file_; }
  std::filesystem::path const& other_ca_file() const noexcept { return other_ca_file_; }

  /// Issues a server certificate from ca() with these subjectAltNames and writes its files
  /// under `stem`.
  PemFiles issue_server(std::string const& stem, std::vector<std::string> dns_names,
                        std::vector<std::string> ip_addresses = {}) const;
  /// Writes any credential under `stem` in dir().
  PemFiles write(Credential const& credential, std::string const& stem) const;

 private:
  TempDir dir_;
  CertificateAuthority ca_;
  CertificateAuthority other_ca_;
  std::filesystem::path ca_file_;
  std::filesystem::path other_ca_file_;
};

}  // namespace ee::test
