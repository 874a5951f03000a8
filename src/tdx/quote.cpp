#include <easyenclave/tdx/quote.hpp>

#include "tdx/quote_layout.hpp"

#include <algorithm>
#include <cstdio>
#include <string>

namespace ee::tdx {
namespace {

namespace L = layout;
using Span = std::span<std::uint8_t const>;

std::uint16_t read_u16(Span b, std::size_t at) noexcept {
  return static_cast<std::uint16_t>(b[at] | (b[at + 1] << 8));
}
std::uint32_t read_u32(Span b, std::size_t at) noexcept {
  return static_cast<std::uint32_t>(b[at]) | (static_cast<std::uint32_t>(b[at + 1]) << 8) |
         (static_cast<std::uint32_t>(b[at + 2]) << 16) | (static_cast<std::uint32_t>(b[at + 3]) << 24);
}
template <std::size_t N>
void copy_into(std::array<std::uint8_t, N>& out, Span b, std::size_t at) noexcept {
  std::copy_n(b.begin() + static_cast<std::ptrdiff_t>(at), N, out.begin());
}

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

Error truncated(std::string_view what, std::size_t need, std::size_t have) {
  return Error(errc::quote_truncated, "quote truncated: " + std::string(what) + " needs " + std::to_string(need) +
                                          " bytes, " + std::to_string(have) + " available");
}

// A cursor that hands out bounds-checked sub-ranges of the input.
class Reader {
 public:
  explicit Reader(Span bytes) : bytes_(bytes) {}
  std::size_t offset() const noexcept { return offset_; }
  std::size_t remaining() const noexcept { return bytes_.size() - offset_; }
  result<std::size_t> take(std::size_t n, std::string_view what) {
    if (n > remaining()) return truncated(what, n, remaining());
    auto const at = offset_;
    offset_ += n;
    return at;
  }

 private:
  Span bytes_;
  std::size_t offset_ = 0;
};

void read_td_report(Span b, std::size_t body, bool td15, TdReport& r) {
  copy_into(r.tee_tcb_svn, b, body + L::kTeeTcbSvn);
  copy_into(r.mr_seam, b, body + L::kMrSeam);
  copy_into(r.mr_signer_seam, b, body + L::kMrSignerSeam);
  copy_into(r.seam_attributes, b, body + L::kSeamAttributes);
  copy_into(r.td_attributes, b, body + L::kTdAttributes);
  copy_into(r.xfam, b, body + L::kXfam);
  copy_into(r.mr_td, b, body + L::kMrTd);
  copy_into(r.mr_config_id, b, body + L::kMrConfigId);
  copy_into(r.mr_owner, b, body + L::kMrOwner);
  copy_into(r.mr_owner_config, b, body + L::kMrOwnerConfig);
  for (std::size_t i = 0; i < 4; ++i) copy_into(r.rtmr[i], b, body + L::kRtmr0 + 48 * i);
  copy_into(r.report_data, b, body + L::kReportData);
  r.is_td15 = td15;
  if (td15) {
    copy_into(r.tee_tcb_svn2, b, body + L::kTeeTcbSvn2);
    copy_into(r.mr_servicetd, b, body + L::kMrServiceTd);
  }
}

void read_enclave_report(Span b, std::size_t at, EnclaveReport& r) {
  copy_into(r.cpu_svn, b, at + L::kErCpuSvn);
  r.misc_select = read_u32(b, at + L::kErMiscSelect);
  copy_into(r.attributes, b, at + L::kErAttributes);
  copy_into(r.mr_enclave, b, at + L::kErMrEnclave);
  copy_into(r.mr_signer, b, at + L::kErMrSigner);
  r.isv_prod_id = read_u16(b, at + L::kErIsvProdId);
  r.isv_svn = read_u16(b, at + L::kErIsvSvn);
  copy_into(r.report_data, b, at + L::kErReportData);
}

}  // namespace

result<Quote> parse_quote(std::span<std::uint8_t const> input) {
  Quote q;
  q.raw_.assign(input.begin(), input.end());
  Span const b(q.raw_);
  Reader reader(b);

  if (auto h = reader.take(L::kHeaderSize, "header"); !h) return h.error();
  auto& header = q.header_;
  header.version = read_u16(b, L::kHeaderVersion);
  header.attestation_key_type = read_u16(b, L::kHeaderAttKeyType);
  header.tee_type = read_u32(b, L::kHeaderTeeType);
  header.qe_svn = read_u16(b, L::kHeaderQeSvn);
  header.pce_svn = read_u16(b, L::kHeaderPceSvn);
  copy_into(header.qe_vendor_id, b, L::kHeaderQeVendorId);
  copy_into(header.user_data, b, L::kHeaderUserData);

  if (header.version == 3)
    return Error(errc::not_a_td_quote, "SGX quote (version 3): only TDX quotes (version 4 or 5, TEE type 0x81) are accepted");
  if (header.version != 4 && header.version != 5)
    return Error(errc::unsupported_version,
                 "quote version " + std::to_string(header.version) + " is not supported (expected 4 or 5)");
  if (header.tee_type != kTeeTypeTdx)
    return Error(errc::not_a_td_quote, "TEE type " + hex32(header.tee_type) +
                                           " is not TDX (0x81); SGX quotes are not accepted");
  if (header.attestation_key_type != kAttestationKeyEcdsaP256)
    return Error(errc::unsupported_attestation_key_type,
                 "attestation key type " + std::to_string(header.attestation_key_type) + " (expected 2, ECDSA P-256)");

  std::size_t body_offset = L::kHeaderSize;
  std::size_t body_size = L::kTdReport10Size;
  q.body_type_ = L::kBodyTypeTd10;
  if (header.version == 5) {
    if (auto d = reader.take(6, "v5 body descriptor"); !d) return d.error();
    q.body_type_ = read_u16(b, L::kV5BodyType);
    auto const declared = read_u32(b, L::kV5BodySize);
    if (q.body_type_ == L::kBodyTypeTd10) {
      body_size = L::kTdReport10Size;
    } else if (q.body_type_ == L::kBodyTypeTd15) {
      body_size = L::kTdReport15Size;
    } else {
      return Error(errc::unsupported_body_type,
                   "v5 body type " + std::to_string(q.body_type_) + " (expected 2, TD 1.0, or 3, TD 1.5)");
    }
    if (declared != body_size)
      return Error(errc::body_size_mismatch, "v5 body type " + std::to_string(q.body_type_) + " is " +
                                                 std::to_string(body_size) + " bytes, descriptor says " +
                                                 std::to_string(declared));
    body_offset = L::kV5BodyOffset;
  }
  if (auto body = reader.take(body_size, "TD report body"); !body) return body.error();
  read_td_report(b, body_offset, q.body_type_ == L::kBodyTypeTd15, q.report_);
  q.signed_len_ = reader.offset();

  // Quote signature data (A.3.8): u32 length, then signature, attestation key, certification data.
  auto len_at = reader.take(4, "signature data length");
  if (!len_at) return len_at.error();
  std::size_t const sig_len = read_u32(b, *len_at);
  std::size_t const sig_start = reader.offset();
  if (sig_len > reader.remaining()) return truncated("signature data", sig_len, reader.remaining());
  constexpr std::size_t kFixed = L::kSignatureSize + L::kAttestationKeySize + L::kCertDataHeaderSize;
  if (sig_len < kFixed)
    return Error(errc::malformed_signature_data, "signature data length " + std::to_string(sig_len) +
                                                     " is below the minimum of " + std::to_string(kFixed));
  copy_into(q.signature_, b, *reader.take(L::kSignatureSize, "signature"));
  copy_into(q.attestation_key_, b, *reader.take(L::kAttestationKeySize, "attestation key"));
  auto const outer_at = *reader.take(L::kCertDataHeaderSize, "certification data header");
  auto const outer_type = read_u16(b, outer_at);
  std::size_t const outer_size = read_u32(b, outer_at + 2);
  if (outer_type != L::kCertTypeQeReport)
    return Error(errc::unsupported_certification_data,
                 "certification data type " + std::to_string(outer_type) + " (expected 6, QE report certification data)");
  if (kFixed + outer_size != sig_len)
    return Error(errc::malformed_signature_data, "certification data size " + std::to_string(outer_size) +
                                                     " does not fit signature data length " + std::to_string(sig_len));

  // QE report certification data (A.3.11): report, its signature, auth data, nested cert data.
  auto const report_at = reader.take(L::kEnclaveReportSize, "QE report");
  if (!report_at) return report_at.error();
  q.qe_report_offset_ = *report_at;
  read_enclave_report(b, *report_at, q.qe_report_);
  auto const qe_sig_at = reader.take(L::kSignatureSize, "QE report signature");
  if (!qe_sig_at) return qe_sig_at.error();
  copy_into(q.qe_report_signature_, b, *qe_sig_at);
  auto const auth_len_at = reader.take(2, "QE auth data length");
  if (!auth_len_at) return auth_len_at.error();
  q.auth_len_ = read_u16(b, *auth_len_at);
  auto const auth_at = reader.take(q.auth_len_, "QE auth data");
  if (!auth_at) return auth_at.error();
  q.auth_offset_ = *auth_at;
  auto const inner_at = reader.take(L::kCertDataHeaderSize, "nested certification data header");
  if (!inner_at) return inner_at.error();
  auto const inner_type = read_u16(b, *inner_at);
  std::size_t const inner_size = read_u32(b, *inner_at + 2);
  if (inner_type != L::kCertTypePckChain)
    return Error(errc::unsupported_certification_data,
                 "nested certification data type " + std::to_string(inner_type) + " (expected 5, PEM PCK chain)");
  std::size_t const used = L::kEnclaveReportSize + L::kSignatureSize + 2 + q.auth_len_ + L::kCertDataHeaderSize;
  if (used > outer_size || outer_size - used != inner_size)
    return Error(errc::malformed_signature_data, "PCK chain size " + std::to_string(inner_size) +
                                                     " does not fit QE certification data size " +
                                                     std::to_string(outer_size));
  auto const pck_at = reader.take(inner_size, "PCK certificate chain");
  if (!pck_at) return pck_at.error();
  q.pck_offset_ = *pck_at;
  q.pck_len_ = inner_size;
  q.end_of_signature_data_ = sig_start + sig_len;
  return q;
}

}  // namespace ee::tdx
