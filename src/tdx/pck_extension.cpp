#include "tdx/pck_extension.hpp"

#include "detail/crypto.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ee::tdx::detail {
namespace {

using Span = std::span<std::uint8_t const>;

// DER tags (X.690 section 8) used by the SGX extension.
constexpr std::uint8_t kTagBoolean = 0x01;
constexpr std::uint8_t kTagInteger = 0x02;
constexpr std::uint8_t kTagOctetString = 0x04;
constexpr std::uint8_t kTagOid = 0x06;
constexpr std::uint8_t kTagEnumerated = 0x0a;
constexpr std::uint8_t kTagSequence = 0x30;

// Content octets of OID 1.2.840.113741.1.13.1, the SGX extensions arc.
constexpr std::array<std::uint8_t, 9> kSgxArc = {0x2a, 0x86, 0x48, 0x86, 0xf8,
                                                 0x4d, 0x01, 0x0d, 0x01};

Error malformed(std::string_view where, std::string_view what) {
  return Error(errc::pck_extension_malformed,
               "PCK SGX extension: " + std::string(where) + ": " + std::string(what));
}

struct Tlv {
  std::uint8_t tag = 0;
  Span value{};
};

// Hands out one TLV at a time from a byte range, refusing anything that is not minimal DER.
class DerReader {
 public:
  explicit DerReader(Span bytes) : rest_(bytes) {}
  bool empty() const noexcept { return rest_.empty(); }

  result<Tlv> next(std::string_view where) {
    if (rest_.size() < 2) return malformed(where, "truncated element header");
    std::uint8_t const tag = rest_[0];
    if ((tag & 0x1f) == 0x1f) return malformed(where, "high tag numbers are not used");
    std::size_t length = rest_[1];
    std::size_t header = 2;
    if (length == 0x80) return malformed(where, "indefinite length is not DER");
    if (length > 0x80) {
      std::size_t const octets = length & 0x7f;
      if (octets > 4) return malformed(where, "length field too long");
      if (rest_.size() < 2 + octets) return malformed(where, "truncated length");
      if (rest_[2] == 0) return malformed(where, "non-minimal length");
      length = 0;
      for (std::size_t i = 0; i < octets; ++i) length = (length << 8) | rest_[2 + i];
      if (length < 0x80) return malformed(where, "non-minimal length");
      header += octets;
    }
    if (length > rest_.size() - header) return malformed(where, "length exceeds the input");
    Tlv tlv{tag, rest_.subspan(header, length)};
    rest_ = rest_.subspan(header + length);
    return tlv;
  }

  result<Span> expect(std::uint8_t tag, std::string_view where) {
    auto tlv = next(where);
    if (!tlv) return tlv.error();
    if (tlv->tag != tag) return malformed(where, "unexpected ASN.1 tag");
    return tlv->value;
  }

 private:
  Span rest_;
};

// A non-negative DER INTEGER/ENUMERATED content no larger than `max`.
result<std::uint32_t> unsigned_value(Span v, std::uint32_t max, std::string_view where) {
  if (v.empty()) return malformed(where, "empty integer");
  if ((v[0] & 0x80) != 0) return malformed(where, "negative integer");
  if (v.size() > 1 && v[0] == 0 && (v[1] & 0x80) == 0)
    return malformed(where, "non-minimal integer");
  if (v.size() > 5) return malformed(where, "integer out of range");
  std::uint64_t value = 0;
  for (auto b : v) value = (value << 8) | b;
  if (value > max) return malformed(where, "integer out of range");
  return static_cast<std::uint32_t>(value);
}

template <std::size_t N>
result<void> octets_into(Span v, std::array<std::uint8_t, N>& out, std::string_view where) {
  if (v.size() != N)
    return malformed(where, "expected " + std::to_string(N) + " bytes, found " +
                                std::to_string(v.size()));
  std::copy(v.begin(), v.end(), out.begin());
  return {};
}

// The OID's arcs below the SGX arc, e.g. {2, 17} for 1.2.840.113741.1.13.1.2.17; nullopt when
// the OID is outside the arc or an arc does not fit one octet (none of ours do).
std::optional<std::vector<std::uint8_t>> sgx_suffix(Span oid) {
  if (oid.size() <= kSgxArc.size() || !std::equal(kSgxArc.begin(), kSgxArc.end(), oid.begin()))
    return std::nullopt;
  std::vector<std::uint8_t> suffix;
  for (auto b : oid.subspan(kSgxArc.size())) {
    if ((b & 0x80) != 0) return std::nullopt;
    suffix.push_back(b);
  }
  return suffix;
}

// SEQUENCE { OBJECT IDENTIFIER, value } with nothing after the value.
struct Entry {
  std::vector<std::uint8_t> suffix;
  bool in_arc = false;
  Tlv value;
};
result<Entry> read_entry(Span sequence, std::string_view where) {
  DerReader r(sequence);
  auto oid = r.expect(kTagOid, where);
  if (!oid) return oid.error();
  auto value = r.next(where);
  if (!value) return value.error();
  if (!r.empty()) return malformed(where, "unexpected element after the value");
  Entry e;
  e.value = *value;
  if (auto suffix = sgx_suffix(*oid)) {
    e.suffix = std::move(*suffix);
    e.in_arc = true;
  }
  return e;
}

result<void> parse_tcb(Span tcb, PckExtension& out) {
  DerReader r(tcb);
  std::array<bool, 18> seen{};
  while (!r.empty()) {
    auto seq = r.expect(kTagSequence, "TCB");
    if (!seq) return seq.error();
    auto e = read_entry(*seq, "TCB");
    if (!e) return e.error();
    if (!e->in_arc || e->suffix.size() != 2 || e->suffix[0] != 2 || e->suffix[1] < 1 ||
        e->suffix[1] > 18)
      return malformed("TCB", "unknown element");
    std::size_t const index = e->suffix[1];
    std::string const where = "TCB element " + std::to_string(index);
    if (seen[index - 1]) return malformed(where, "duplicate");
    seen[index - 1] = true;
    if (index <= 16) {  // SGX TCB components 01..16: INTEGER 0..255
      if (e->value.tag != kTagInteger) return malformed(where, "expected INTEGER");
      auto v = unsigned_value(e->value.value, 0xff, where);
      if (!v) return v.error();
      out.sgx_components[index - 1] = static_cast<std::uint8_t>(*v);
    } else if (index == 17) {  // PCESVN: INTEGER 0..65535
      if (e->value.tag != kTagInteger) return malformed(where, "expected INTEGER");
      auto v = unsigned_value(e->value.value, 0xffff, where);
      if (!v) return v.error();
      out.pce_svn = static_cast<std::uint16_t>(*v);
    } else {  // CPUSVN: OCTET STRING (16)
      if (e->value.tag != kTagOctetString) return malformed(where, "expected OCTET STRING");
      if (auto ok = octets_into(e->value.value, out.cpu_svn, where); !ok) return ok.error();
    }
  }
  for (std::size_t i = 0; i < seen.size(); ++i)
    if (!seen[i]) return malformed("TCB element " + std::to_string(i + 1), "missing");
  return {};
}

result<void> parse_configuration(Span config) {
  DerReader r(config);
  while (!r.empty()) {
    auto seq = r.expect(kTagSequence, "Configuration");
    if (!seq) return seq.error();
    auto e = read_entry(*seq, "Configuration");
    if (!e) return e.error();
    if (e->value.tag != kTagBoolean || e->value.value.size() != 1)
      return malformed("Configuration", "expected BOOLEAN");
  }
  return {};
}

}  // namespace

result<PckExtension> parse_pck_extension(std::span<std::uint8_t const> der) {
  DerReader outer(der);
  auto top = outer.expect(kTagSequence, "SGXExtensions");
  if (!top) return top.error();
  if (!outer.empty()) return malformed("SGXExtensions", "trailing bytes");

  PckExtension out;
  std::array<bool, 7> seen{};
  DerReader r(*top);
  while (!r.empty()) {
    auto seq = r.expect(kTagSequence, "SGXExtensions");
    if (!seq) return seq.error();
    auto e = read_entry(*seq, "SGXExtensions");
    if (!e) return e.error();
    if (!e->in_arc || e->suffix.size() != 1 || e->suffix[0] < 1 || e->suffix[0] > 7) {
      // Intel may add entries; a well-formed one we do not know is skipped, not guessed at.
      continue;
    }
    std::size_t const id = e->suffix[0];
    static constexpr std::string_view kNames[] = {"PPID",   "TCB",     "PCE-ID",
                                                  "FMSPC",  "SGX type", "PlatformInstanceID",
                                                  "Configuration"};
    std::string_view const where = kNames[id - 1];
    if (seen[id - 1]) return malformed(where, "duplicate");
    seen[id - 1] = true;
    auto const& v = e->value;
    result<void> ok;
    switch (id) {
      case 1:
        ok = v.tag == kTagOctetString ? octets_into(v.value, out.ppid, where)
                                      : result<void>(malformed(where, "expected OCTET STRING"));
        break;
      case 2:
        ok = v.tag == kTagSequence ? parse_tcb(v.value, out)
                                   : result<void>(malformed(where, "expected SEQUENCE"));
        break;
      case 3:
        ok = v.tag == kTagOctetString ? octets_into(v.value, out.pce_id, where)
                                      : result<void>(malformed(where, "expected OCTET STRING"));
        break;
      case 4:
        ok = v.tag == kTagOctetString ? octets_into(v.value, out.fmspc, where)
                                      : result<void>(malformed(where, "expected OCTET STRING"));
        break;
      case 5: {
        if (v.tag != kTagEnumerated) {
          ok = malformed(where, "expected ENUMERATED");
          break;
        }
        // 0 Standard, 1 Scalable, 2 ScalableWithIntegrity (PCK profile, section 1.5).
        auto type = unsigned_value(v.value, 2, where);
        if (!type)
          ok = type.error();
        else
          out.sgx_type = static_cast<int>(*type);
        break;
      }
      case 6: {
        std::array<std::uint8_t, 16> instance{};
        ok = v.tag == kTagOctetString ? octets_into(v.value, instance, where)
                                      : result<void>(malformed(where, "expected OCTET STRING"));
        break;
      }
      default:
        ok = v.tag == kTagSequence ? parse_configuration(v.value)
                                   : result<void>(malformed(where, "expected SEQUENCE"));
        break;
    }
    if (!ok) return ok.error();
  }
  static constexpr std::string_view kRequired[] = {"PPID", "TCB", "PCE-ID", "FMSPC", "SGX type"};
  for (std::size_t i = 0; i < 5; ++i)
    if (!seen[i]) return malformed(kRequired[i], "missing");
  return out;
}

result<PckExtension> pck_extension_of(X509* cert) {
  ::ee::detail::OpenSslErrorScope const openssl_errors;
  static ASN1_OBJECT* const oid = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
  if (oid == nullptr) return Error(errc::pck_extension_malformed, "SGX extension OID unavailable");
  int const at = X509_get_ext_by_OBJ(cert, oid, -1);
  if (at < 0) return malformed("certificate", "the PCK certificate has no SGX extension");
  if (X509_get_ext_by_OBJ(cert, oid, at) >= 0)
    return malformed("certificate", "the SGX extension appears twice");
  ASN1_OCTET_STRING const* data = X509_EXTENSION_get_data(X509_get_ext(cert, at));
  return parse_pck_extension(std::span<std::uint8_t const>(
      ASN1_STRING_get0_data(data), static_cast<std::size_t>(ASN1_STRING_length(data))));
}

}  // namespace ee::tdx::detail
