// Parsing of the real quotes in tests/data/attestation/quotes against the values its
// README lists, plus malformed input.
#include <easyenclave/tdx/quote.hpp>

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "support/attestation_data.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using ee::detail::hex_encode;
using Bytes = std::vector<std::uint8_t>;


std::string zeros(std::size_t bytes) { return std::string(bytes * 2, '0'); }

struct Expected {
  char const* file;
  std::size_t size;
  char const* sha256;
  std::uint16_t version;
  std::uint16_t body_type;
  char const* user_data;
  std::size_t signed_len;
  std::size_t trailing;
  char const* tee_tcb_svn;
  char const* mr_seam;
  char const* td_attributes;
  char const* xfam;
  char const* mr_td;
  char const* rtmr[4];  // nullptr: all zero
  char const* report_data;
  char const* tee_tcb_svn2;  // nullptr for TD 1.0
  char const* attestation_key;
  char const* signature;
  char const* qe_mr_enclave;
  std::uint16_t qe_isv_svn;
  char const* qe_cpu_svn;
  char const* qe_report_data_prefix;
  std::size_t pck_chain_size;
};

constexpr char kQeSigner[] = "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5";
constexpr char kQeVendor[] = "939a7233f79c4ca9940a0db3957f0607";
constexpr char kAuthData[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

Expected const kQuotes[] = {
    {"tdx_v4_gtg_spr_e4.dat", 4974, "6dde5548bec99147fef832643301f113df99931547be26df8ac376c4eaa5b5a7", 4, 2,
     "739c3f292a15bace1f726351a70d4b7900000000", 0x278, 39, "03000400000000000000000000000000",
     "2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9a89b4869a9fab60fbe9d0c5a5363c656",
     "0000004000000000", "e71a060000000000",
     "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb",
     {"2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976823adf08f833c1e50b51779c6593f32a",
      "2c700b8ba9b85783f8be9fb9443647bdc0bb3c50747f06297cc6538c25a5f589c4b56d035c59107c6bc5800db2cacb61",
      "8652f0caaba7e215ea442dc36a4499d8fec3362f3a0b2ca151cbe4b3e6466fe59c7368b3c2287fc7c3bf5c924eb4424e", nullptr},
     "6c62dec1b8191749a31dab490be532a35944dea47caef1f980863993d9899545eb7406a38d1eed313b987a467dacead6f0c87a6d766c66f6f29f8acb281f1113",
     nullptr,
     "36f301ff1db5c282f9338966c5b8f5c7257e75b0210d0c6c8b1d4a7846e4e0e84c2121d448c7154d37ace210247a6e17271cd1468db8ac7fcd2473b34f7a43fc",
     "f5166f069852d96cc2cd570a5973ddb2e8832f70dcaaa949a58ebb10da2bb3554153154a36336d34c6570516b478ab45a364dca3bf4764ec7ba43a0b86bcc27b",
     "853e298f3b7cde28b06493d06fb2ad6f9566a97fea6d3de66236b2af1a35150f", 4, "04040d0f03ff00030000000000000000",
     "cf1ae2cb769ff1f27ac520344e60905448a48bca6de8f1014c92e5a493d94101", 3677},
    {"tdx_v5_td15_gtg_sample.dat", 5006, "cf77a6e91e48291d5d338c5f3b5d0674225a4d13e7d83ff5e537a4914bf22e1d", 5, 3,
     "ba103c0e5dffa40351f9d5dd559888eb00000000", 0x2be, 0, "0b010400000000000000000000000000",
     "7bf063280e94fb051f5dd7b1fc59ce9aac42bb961df8d44b709c9b0ff87a7b4df648657ba6d1189589feab1d5a3c9a9d",
     "0000001000000000", "e702060000000000",
     "7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747dda8f750c3bc8f876",
     {"5c8daf76063a71ac8fcef4067564661fc682ed7944c7a5d21dbbced02f61ceff4ba0678c6aef3bdae8cbc614cec24619",
      "463acaace1b6e97c76e92e41fe312aa66f3fd4dad60ec7acf169859db0343e3d1e591646795cdc80fbc0ca5f7041d253",
      "6369b9c9a3b791ebcbdc5a0bb9536cfb57f50df2b393b33c8b29616d3568baa61f4b59dc6092e31ea8764bcbdfc69f20", nullptr},
     "945eaacf5abc1f719d8666a942fda03d1edcb4490277396093dc5a5289ab9f1e094aed63060cd4a4933a4dd537ed1255c9c79ecb3ed82cd1b486233e31c25c3a",
     "0d010400000000000000000000000000",
     "4763cf2f3848919fd0aec8f6e8f21e85e244b431102c25b341f8016731e892b3029c8774bd88085e775cb36e2359fbac455e6963a073e12babaf28d9b81d9674",
     "2f320872395b70525e9625e11511c0433a9c5330ccc42916ed923e655ca1597a58b5089c6248f467a09efd5418caa6a02c78bfce1d62ef856adcdcdb3a0c6e90",
     "b7ae9ab69e76f7794a56b0db1915281d435d488c91d406ed33a7939caf8730f8", 7, "0404191b04ff00060000000000000000",
     "a6a69454bb0df1e141a074cd52d80082a1fa4679baf085294a15d2d0818c3afd", 3678},
    {"tdx_v4_dcapqvl.dat", 5006, "c42f9164325024bca2757bc8819b11879a0a369132ea4e2b7c85df4805ea72db", 4, 2,
     "889b7d6ff9df2405b240a830e73faf3d00000000", 0x278, 70, "06010300000000000000000000000000",
     "5b38e33a6487958b72c3c12a938eaa5e3fd4510c51aeeab58c7d5ecee41d7c436489d6c8e4f92f160b7cad34207b00c1",
     "0000001000000000", "e702060000000000",
     "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7",
     {"44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0",
      "0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c173019b3093d54e579e9378",
      "d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e01d48c3132", nullptr},
     "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20",
     nullptr,
     "c78ac5859b9f567238fad82ad63202bc516ee7ad14ec1d9adfc633e4cf5f71f73d6138ce76d0d9c1443f695464d1ed419c37ce696e70e95a5b317894a5897907",
     "f156eac8ad01d79f7cce668f60005819b22f2151a66155a430ad4f7a9538ae31330f9dfd5424e7c4124b44a668cb97fe2da48e617252ee5aeb6252d48e9324e5",
     "e5a3a7b5d830c2953b98534c6c59a3a34fdc34e933f7f5898f0a85cf08846bca", 6, "0303191b04ff00060000000000000000",
     "c936492a774946af9b588f6b3bd8beddc5957d1761ded2c0bb61d7b64de5b324", 3678},
    {"tdx_v5_td15_dcapqvl_outdated.dat", 5006, "4c453ea417a7863ed67c215fe4735d91e26f359c760e5984a277866d8d5758e9", 5,
     3, "dd130a3f3a9e91528dafeb58cc82c33b00000000", 0x2be, 0, "07010300000000000000000000000000",
     "49b66faa451d19ebbdbe89371b8daf2b65aa3984ec90110343e9e2eec116af08850fa20e3b1aa9a874d77a65380ee7e6",
     "0000001000000000", "e718060000000000",
     "273828c46252fcbdd8ad2dd907130222b03466d52a2911d70c1a5950895d6bd1ae451d382d5a9b1b4c0ed0e5ae9a3dbd",
     {nullptr, nullptr, nullptr, nullptr},
     "d2142b643598eb5fae2bc8529dd79a558b29f868ccbb6531cb28dab9dce477280000000000000000000000000000000000000000000000000000000000000000",
     "0d010300000000000000000000000000",
     "a22dd5040b9f5ff7490a9c68f96ec249cd5e89a51c38fad5dee08caceb8df3f08f84f459b24be462fb461c9e9bbbd445a74f6d5491b5ee3250eef008a599837e",
     "55cce3b63e81b310cf0a2b1568206eb3038881f3f77191cf1f5e93f8c18314dcb4c4ca7195d2f9d4dfe4d501cec3b2293aadfadf05619e7ffdd2f6b30256888b",
     "b7ae9ab69e76f7794a56b0db1915281d435d488c91d406ed33a7939caf8730f8", 7, "0303191b04ff00030000000000000000",
     "679ee7161d8ec8b46b8ce3005e1b0dfabac93ae7a7de0946c05db2cb1600a0e7", 3678},
};

// Names the vector in test output instead of gtest's byte dump of the struct.
void PrintTo(Expected const& e, std::ostream* os) { *os << e.file; }

class RealQuote : public ::testing::TestWithParam<Expected> {};

TEST_P(RealQuote, ParsesToTheReadmeValues) {
  auto const& e = GetParam();
  auto const bytes = ee::test::quote_bytes(e.file);
  ASSERT_EQ(bytes.size(), e.size);
  ASSERT_EQ(hex_encode(ee::detail::sha256(bytes)), e.sha256) << "test vector changed";
  auto parsed = ee::tdx::parse_quote(bytes);
  ASSERT_TRUE(parsed) << parsed.error().message();
  auto const& q = *parsed;

  EXPECT_EQ(q.version(), e.version);
  EXPECT_EQ(q.body_type(), e.body_type);
  EXPECT_EQ(q.header().attestation_key_type, 2);
  EXPECT_EQ(q.header().tee_type, 0x81u);
  EXPECT_EQ(q.header().qe_svn, 0);
  EXPECT_EQ(q.header().pce_svn, 0);
  EXPECT_EQ(hex_encode(q.header().qe_vendor_id), kQeVendor);
  EXPECT_EQ(hex_encode(q.header().user_data), e.user_data);
  EXPECT_EQ(q.signed_bytes().size(), e.signed_len);
  EXPECT_EQ(q.trailing_bytes().size(), e.trailing);

  auto const& r = q.td_report();
  EXPECT_EQ(r.is_td15, e.tee_tcb_svn2 != nullptr);
  EXPECT_EQ(hex_encode(r.tee_tcb_svn), e.tee_tcb_svn);
  EXPECT_EQ(hex_encode(r.mr_seam), e.mr_seam);
  EXPECT_EQ(hex_encode(r.mr_signer_seam), zeros(48));
  EXPECT_EQ(hex_encode(r.seam_attributes), zeros(8));
  EXPECT_EQ(hex_encode(r.td_attributes), e.td_attributes);
  EXPECT_EQ(hex_encode(r.xfam), e.xfam);
  EXPECT_EQ(hex_encode(r.mr_td), e.mr_td);
  EXPECT_EQ(hex_encode(r.mr_config_id), zeros(48));
  EXPECT_EQ(hex_encode(r.mr_owner), zeros(48));
  EXPECT_EQ(hex_encode(r.mr_owner_config), zeros(48));
  for (std::size_t i = 0; i < 4; ++i)
    EXPECT_EQ(hex_encode(r.rtmr[i]), e.rtmr[i] ? std::string(e.rtmr[i]) : zeros(48)) << "rtmr" << i;
  EXPECT_EQ(hex_encode(r.report_data), e.report_data);
  EXPECT_EQ(hex_encode(r.tee_tcb_svn2), e.tee_tcb_svn2 ? std::string(e.tee_tcb_svn2) : zeros(16));
  EXPECT_EQ(hex_encode(r.mr_servicetd), zeros(48));
  EXPECT_FALSE(r.debug());

  EXPECT_EQ(hex_encode(q.attestation_key()), e.attestation_key);
  EXPECT_EQ(hex_encode(q.signature()), e.signature);
  auto const& qe = q.qe_report();
  EXPECT_EQ(hex_encode(qe.mr_enclave), e.qe_mr_enclave);
  EXPECT_EQ(hex_encode(qe.mr_signer), kQeSigner);
  EXPECT_EQ(qe.isv_prod_id, 2);
  EXPECT_EQ(qe.isv_svn, e.qe_isv_svn);
  EXPECT_EQ(hex_encode(qe.attributes), "1500000000000000e700000000000000");
  EXPECT_EQ(qe.misc_select, 0u);
  EXPECT_EQ(hex_encode(qe.cpu_svn), e.qe_cpu_svn);
  EXPECT_EQ(hex_encode(qe.report_data), std::string(e.qe_report_data_prefix) + zeros(32));
  EXPECT_EQ(q.qe_report_bytes().size(), 384u);
  EXPECT_EQ(hex_encode(q.qe_auth_data()), kAuthData);

  // QE report data = SHA-256(attestation key || QE auth data) (checked here structurally; the
  // verifier enforces it).
  Bytes bound(q.attestation_key().begin(), q.attestation_key().end());
  bound.insert(bound.end(), q.qe_auth_data().begin(), q.qe_auth_data().end());
  EXPECT_EQ(hex_encode(ee::detail::sha256(bound)), e.qe_report_data_prefix);

  auto const chain = ee::detail::as_chars(q.pck_chain_pem());
  EXPECT_EQ(chain.size(), e.pck_chain_size);
  EXPECT_EQ(chain.substr(0, 27), "-----BEGIN CERTIFICATE-----");
  EXPECT_EQ(std::count(chain.begin(), chain.end(), '\n') > 0, true);
  EXPECT_EQ(q.raw().size(), e.size);
}

std::string quote_test_name(::testing::TestParamInfo<Expected> const& param_info) {
  std::string name = param_info.param.file;
  for (auto& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}
INSTANTIATE_TEST_SUITE_P(Testdata, RealQuote, ::testing::ValuesIn(kQuotes), quote_test_name);

TEST(QuoteParse, TrailingBytesAreExposedVerbatim) {
  auto q = ee::tdx::parse_quote(ee::test::quote_bytes("tdx_v4_gtg_spr_e4.dat")).value();
  EXPECT_EQ(ee::detail::as_chars(q.trailing_bytes()), "\nextra bytes(only for testing purpose)\n");
  auto dcap = ee::tdx::parse_quote(ee::test::quote_bytes("tdx_v4_dcapqvl.dat")).value();
  EXPECT_EQ(hex_encode(dcap.trailing_bytes()), zeros(70));
}

TEST(QuoteParse, RefusesSgxV3Quote) {
  auto r = ee::tdx::parse_quote(ee::test::quote_bytes("sgx_v3_dcapqvl.dat"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::tdx::errc::not_a_td_quote);
  EXPECT_EQ(r.error(), ee::condition::invalid_input);
  EXPECT_NE(r.error().message().find("SGX quote"), std::string::npos) << r.error().message();
}

TEST(QuoteParse, EveryPrefixOfEveryQuoteFailsCleanly) {
  for (auto const& e : kQuotes) {
    auto const bytes = ee::test::quote_bytes(e.file);
    // The quote is complete once its signature data ends; shorter prefixes must all fail.
    std::size_t const complete = e.size - e.trailing;
    for (std::size_t n = 0; n < complete; ++n) {
      auto r = ee::tdx::parse_quote(std::span(bytes.data(), n));
      ASSERT_FALSE(r) << e.file << " prefix " << n << " parsed";
      ASSERT_EQ(r.error(), ee::tdx::errc::quote_truncated) << e.file << " prefix " << n << ": " << r.error().message();
    }
    EXPECT_TRUE(ee::tdx::parse_quote(std::span(bytes.data(), complete))) << e.file;
  }
}

// Byte flips from go-tdx-guest's negative tests, as listed in the testdata README.
TEST(QuoteParse, VersionFlipIsUnsupported) {
  auto bytes = ee::test::quote_bytes("tdx_v4_gtg_spr_e4.dat");
  bytes[0x00] = 3;
  auto r = ee::tdx::parse_quote(bytes);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::tdx::errc::not_a_td_quote);
  bytes[0x00] = 6;
  EXPECT_EQ(ee::tdx::parse_quote(bytes).error(), ee::tdx::errc::unsupported_version);
}

TEST(QuoteParse, SignatureDataSizeFlipIsMalformed) {
  auto bytes = ee::test::quote_bytes("tdx_v4_gtg_spr_e4.dat");
  bytes[0x278] = 0x10;  // the u32 length becomes 4099-ish inconsistent with its content
  auto r = ee::tdx::parse_quote(bytes);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::tdx::errc::malformed_signature_data) << r.error().message();
}

TEST(QuoteParse, RejectsWrongTeeTypeKeyTypeAndBodyDescriptor) {
  auto v4 = ee::test::quote_bytes("tdx_v4_dcapqvl.dat");
  auto sgx_tee = v4;
  sgx_tee[4] = 0x00;
  EXPECT_EQ(ee::tdx::parse_quote(sgx_tee).error(), ee::tdx::errc::not_a_td_quote);
  auto p384 = v4;
  p384[2] = 3;
  EXPECT_EQ(ee::tdx::parse_quote(p384).error(), ee::tdx::errc::unsupported_attestation_key_type);

  auto v5 = ee::test::quote_bytes("tdx_v5_td15_gtg_sample.dat");
  auto sgx_body = v5;
  sgx_body[0x30] = 1;
  EXPECT_EQ(ee::tdx::parse_quote(sgx_body).error(), ee::tdx::errc::unsupported_body_type);
  auto bad_size = v5;
  bad_size[0x32] = 0x00;  // 648 (0x288) becomes 0x200
  EXPECT_EQ(ee::tdx::parse_quote(bad_size).error(), ee::tdx::errc::body_size_mismatch);
}

TEST(QuoteParse, RejectsUnsupportedCertificationDataTypes) {
  auto bytes = ee::test::quote_bytes("tdx_v4_dcapqvl.dat");
  auto outer = bytes;
  outer[0x27c + 128] = 5;  // outer certification data type 6 -> 5
  EXPECT_EQ(ee::tdx::parse_quote(outer).error(), ee::tdx::errc::unsupported_certification_data);
  auto inner = bytes;
  inner[0x27c + 134 + 384 + 64 + 2 + 32] = 3;  // nested type 5 -> 3
  EXPECT_EQ(ee::tdx::parse_quote(inner).error(), ee::tdx::errc::unsupported_certification_data);
}

TEST(QuoteParse, RejectsInconsistentNestedSizes) {
  auto bytes = ee::test::quote_bytes("tdx_v4_dcapqvl.dat");
  auto auth = bytes;
  auth[0x27c + 134 + 384 + 64] = 0xff;  // QE auth data length 32 -> 255
  // The nested header now lands inside the PEM text, so either structural error is right.
  auto const shifted = ee::tdx::parse_quote(auth);
  ASSERT_FALSE(shifted);
  EXPECT_TRUE(shifted.error() == ee::tdx::errc::malformed_signature_data ||
              shifted.error() == ee::tdx::errc::unsupported_certification_data)
      << shifted.error().message();
  auto inner = bytes;
  inner[0x27c + 134 + 384 + 64 + 2 + 32 + 2] ^= 0x01;  // PCK chain size off by one
  EXPECT_EQ(ee::tdx::parse_quote(inner).error(), ee::tdx::errc::malformed_signature_data);
}

}  // namespace
