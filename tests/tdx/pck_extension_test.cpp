// The SGX extension of the PCK certificates in tests/data/attestation/quotes, against the
// values its README lists, and the strict DER walker on malformed input.
#include "tdx/pck_extension.hpp"

#include "detail/encoding.hpp"
#include "support/temp_dir.hpp"
#include "tdx/x509.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

namespace {

using ee::detail::hex_encode;
using Bytes = std::vector<std::uint8_t>;
namespace tdx = ee::tdx;

// The PEM chain inside a quote file, found by its markers (works for the SGX v3 quote too, which
// parse_quote refuses).
std::string pem_chain_of(std::string const& quote_file) {
  auto const raw = ee::test::read_file(ee::test::testdata("attestation/quotes/" + quote_file));
  auto const begin = raw.find("-----BEGIN CERTIFICATE-----");
  std::string_view const end_marker = "-----END CERTIFICATE-----";
  auto const end = raw.rfind(end_marker);
  if (begin == std::string::npos || end == std::string::npos) return {};
  return raw.substr(begin, end + end_marker.size() - begin);
}

struct Expected {
  char const* file;
  char const* fmspc;
  char const* pce_id;
  std::uint16_t pce_svn;
  char const* cpu_svn;
  std::array<std::uint8_t, 8> components;  // the rest are zero in every vector
  int sgx_type;
  char const* ppid;
};

Expected const kExpected[] = {
    {"tdx_v4_gtg_spr_e4.dat", "50806f000000", "0000", 11, "03030202020100020000000000000000",
     {3, 3, 2, 2, 2, 1, 0, 2}, 1, "089ddfdb9c0359c82a3bc7719239574e"},
    {"tdx_v5_td15_gtg_sample.dat", "90c06f000000", "0000", 13, "04040202040100050000000000000000",
     {4, 4, 2, 2, 4, 1, 0, 5}, 1, "2734b654f553596897eaadfb5667a954"},
    {"tdx_v4_dcapqvl.dat", "b0c06f000000", "0000", 11, "03030202040100050000000000000000",
     {3, 3, 2, 2, 4, 1, 0, 5}, 1, "811dca2a26b952e85bb6448b097ba4fd"},
    {"tdx_v5_td15_dcapqvl_outdated.dat", "90c06f000000", "0000", 13,
     "03030202040100030000000000000000", {3, 3, 2, 2, 4, 1, 0, 3}, 1,
     "66498c9263c04ed2f0657c530ac2b0cb"},
    {"sgx_v3_dcapqvl.dat", "00a067110000", "0000", 13, "0b0b0202ff0100000000000000000000",
     {11, 11, 2, 2, 255, 1, 0, 0}, 0, "d04ec06d4e6d92dc90d0ad3cf5ee2ddf"},
};

TEST(PckExtension, DecodesEveryRealPckCertificate) {
  for (auto const& e : kExpected) {
    SCOPED_TRACE(e.file);
    auto chain = tdx::detail::parse_pem_chain(pem_chain_of(e.file), "chain");
    ASSERT_TRUE(chain) << chain.error().message();
    ASSERT_EQ(chain->size(), 3u);
    auto ext = tdx::detail::pck_extension_of(chain->front().get());
    ASSERT_TRUE(ext) << ext.error().message();
    EXPECT_EQ(hex_encode(ext->fmspc), e.fmspc);
    EXPECT_EQ(hex_encode(ext->pce_id), e.pce_id);
    EXPECT_EQ(ext->pce_svn, e.pce_svn);
    EXPECT_EQ(hex_encode(ext->cpu_svn), e.cpu_svn);
    for (std::size_t i = 0; i < 16; ++i)
      EXPECT_EQ(ext->sgx_components[i], i < 8 ? e.components[i] : 0) << "component " << i + 1;
    EXPECT_EQ(ext->sgx_type, e.sgx_type);
    EXPECT_EQ(hex_encode(ext->ppid), e.ppid);
  }
}

TEST(PckExtension, IntermediateHasNoSgxExtension) {
  auto chain = tdx::detail::parse_pem_chain(pem_chain_of("tdx_v4_dcapqvl.dat"), "chain");
  ASSERT_TRUE(chain);
  auto ext = tdx::detail::pck_extension_of((*chain)[1].get());
  ASSERT_FALSE(ext);
  EXPECT_EQ(ext.error(), tdx::errc::pck_extension_malformed);
  EXPECT_NE(ext.error().message().find("no SGX extension"), std::string::npos);
}

// --- a small DER builder for synthetic extensions --------------------------------------------

Bytes tlv(std::uint8_t tag, Bytes const& value) {
  Bytes out{tag};
  if (value.size() < 0x80) {
    out.push_back(static_cast<std::uint8_t>(value.size()));
  } else if (value.size() < 0x100) {
    out.push_back(0x81);
    out.push_back(static_cast<std::uint8_t>(value.size()));
  } else {
    out.push_back(0x82);
    out.push_back(static_cast<std::uint8_t>(value.size() >> 8));
    out.push_back(static_cast<std::uint8_t>(value.size()));
  }
  out.insert(out.end(), value.begin(), value.end());
  return out;
}
Bytes cat(std::vector<Bytes> const& parts) {
  Bytes out;
  for (auto const& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
Bytes oid(std::vector<std::uint8_t> const& suffix) {
  Bytes v = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};
  v.insert(v.end(), suffix.begin(), suffix.end());
  return tlv(0x06, v);
}
Bytes entry(std::vector<std::uint8_t> const& suffix, Bytes const& value) {
  return tlv(0x30, cat({oid(suffix), value}));
}
Bytes integer(std::uint8_t v) { return v >= 0x80 ? tlv(0x02, {0x00, v}) : tlv(0x02, {v}); }

struct Parts {
  Bytes ppid = entry({1}, tlv(0x04, Bytes(16, 0xaa)));
  std::vector<Bytes> tcb;
  Bytes pce_id = entry({3}, tlv(0x04, {0x00, 0x00}));
  Bytes fmspc = entry({4}, tlv(0x04, {0x90, 0xc0, 0x6f, 0x00, 0x00, 0x00}));
  Bytes sgx_type = entry({5}, tlv(0x0a, {0x01}));
  std::vector<Bytes> extra;

  Parts() {
    for (std::uint8_t i = 1; i <= 16; ++i) tcb.push_back(entry({2, i}, integer(i)));
    tcb.push_back(entry({2, 17}, tlv(0x02, {0x01, 0x00})));  // PCESVN 256
    tcb.push_back(entry({2, 18}, tlv(0x04, Bytes(16, 0x07))));
  }
  Bytes build() const {
    return tlv(0x30, cat({ppid, entry({2}, tlv(0x30, cat(tcb))), pce_id, fmspc, sgx_type,
                          cat(extra)}));
  }
};

void expect_malformed(Bytes const& der, std::string const& fragment) {
  auto r = tdx::detail::parse_pck_extension(der);
  ASSERT_FALSE(r) << "expected failure mentioning '" << fragment << "'";
  EXPECT_EQ(r.error(), tdx::errc::pck_extension_malformed);
  EXPECT_EQ(r.error(), ee::condition::invalid_input);
  EXPECT_NE(r.error().message().find(fragment), std::string::npos) << r.error().message();
}

TEST(PckExtension, SyntheticExtensionDecodes) {
  auto r = tdx::detail::parse_pck_extension(Parts().build());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->pce_svn, 256);
  EXPECT_EQ(r->sgx_components[0], 1);
  EXPECT_EQ(r->sgx_components[15], 16);
  EXPECT_EQ(hex_encode(r->fmspc), "90c06f000000");
  EXPECT_EQ(r->sgx_type, 1);
}

TEST(PckExtension, SkipsUnknownEntriesButRefusesDuplicates) {
  Parts p;
  p.extra.push_back(entry({42}, tlv(0x04, {0x01})));
  EXPECT_TRUE(tdx::detail::parse_pck_extension(p.build()));
  p.extra.push_back(p.fmspc);
  expect_malformed(p.build(), "FMSPC: duplicate");
}

TEST(PckExtension, RefusesWrongSizesTypesAndRanges) {
  {
    Parts p;
    p.fmspc = entry({4}, tlv(0x04, {0x90, 0xc0, 0x6f}));
    expect_malformed(p.build(), "FMSPC: expected 6 bytes, found 3");
  }
  {
    Parts p;
    p.ppid = entry({1}, tlv(0x02, {0x01}));
    expect_malformed(p.build(), "PPID: expected OCTET STRING");
  }
  {
    Parts p;
    p.tcb[3] = entry({2, 4}, tlv(0x02, {0x80}));  // -128
    expect_malformed(p.build(), "TCB element 4: negative integer");
  }
  {
    Parts p;
    p.tcb[3] = entry({2, 4}, tlv(0x02, {0x00, 0x05}));  // 5, not minimal
    expect_malformed(p.build(), "TCB element 4: non-minimal integer");
  }
  {
    Parts p;
    p.tcb[0] = entry({2, 1}, tlv(0x02, {0x01, 0x00}));  // 256 > 255
    expect_malformed(p.build(), "TCB element 1: integer out of range");
  }
  {
    Parts p;
    p.tcb.pop_back();
    expect_malformed(p.build(), "TCB element 18: missing");
  }
  {
    Parts p;
    p.sgx_type = entry({5}, tlv(0x0a, {0x03}));
    expect_malformed(p.build(), "SGX type: integer out of range");
  }
  {
    Parts p;
    p.pce_id.clear();
    expect_malformed(p.build(), "PCE-ID: missing");
  }
}

TEST(PckExtension, RefusesNonDerEncodings) {
  auto const good = Parts().build();
  Bytes trailing = good;
  trailing.push_back(0x00);
  expect_malformed(trailing, "trailing bytes");

  Bytes indefinite = good;
  indefinite[1] = 0x80;
  expect_malformed(indefinite, "indefinite length");

  // The outer length as 0x82 0x00 0xNN: a leading zero octet is not minimal.
  Bytes const inner(good.begin() + 4, good.end());  // good starts 0x30 0x82 hi lo
  Bytes padded = {0x30, 0x83, 0x00, good[2], good[3]};
  padded.insert(padded.end(), inner.begin(), inner.end());
  expect_malformed(padded, "non-minimal length");

  expect_malformed(Bytes{0x1f, 0x01, 0x00}, "high tag");
}

TEST(PckExtension, EveryTruncationFailsCleanly) {
  auto const good = Parts().build();
  for (std::size_t n = 0; n < good.size(); ++n) {
    auto r = tdx::detail::parse_pck_extension(std::span(good.data(), n));
    ASSERT_FALSE(r) << "prefix of " << n << " bytes parsed";
    EXPECT_EQ(r.error(), tdx::errc::pck_extension_malformed);
  }
}

}  // namespace
