// Loading the real collateral in tests/data/attestation/collateral in both formats (the
// dcap-qvl bundle and Intel PCS v4 response bodies), the exact signed text, round trips and
// malformed input.
#include <easyenclave/tdx/collateral.hpp>

#include "detail/encoding.hpp"
#include "detail/time.hpp"
#include "support/attestation_data.hpp"
#include "support/temp_dir.hpp"
#include "tdx/collateral_json.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

namespace tdx = ee::tdx;
using ee::detail::format_rfc3339;
using ee::detail::hex_encode;

using ee::test::collateral_bytes;
using ee::test::collateral_text;


TEST(TcbStatusNames, RoundTripIntelSpellings) {
  for (auto s : {tdx::TcbStatus::up_to_date, tdx::TcbStatus::sw_hardening_needed,
                 tdx::TcbStatus::configuration_needed,
                 tdx::TcbStatus::configuration_and_sw_hardening_needed,
                 tdx::TcbStatus::out_of_date, tdx::TcbStatus::out_of_date_configuration_needed,
                 tdx::TcbStatus::revoked}) {
    EXPECT_EQ(tdx::parse_tcb_status(tdx::to_string(s)), s);
  }
  EXPECT_EQ(tdx::to_string(tdx::TcbStatus::up_to_date), "UpToDate");
  EXPECT_EQ(tdx::to_string(tdx::TcbStatus::unknown), "Unknown");
  EXPECT_FALSE(tdx::parse_tcb_status("uptodate"));
  EXPECT_FALSE(tdx::parse_tcb_status("Unknown"));
  // Allow-lists name every status a verdict can show, Unknown included.
  EXPECT_EQ(tdx::parse_tcb_status_name("Unknown").value(), tdx::TcbStatus::unknown);
  EXPECT_EQ(tdx::parse_tcb_status_name("OutOfDate").value(), tdx::TcbStatus::out_of_date);
  auto bad = tdx::parse_tcb_status_name("uptodate");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), ee::errc::invalid_value);
  EXPECT_NE(bad.error().message().find("UpToDate"), std::string::npos) << bad.error().message();
  EXPECT_NE(bad.error().message().find("Unknown"), std::string::npos) << bad.error().message();
}

TEST(CollateralBundle, LoadsDcapQvlTdxBundle) {
  auto c = tdx::load_collateral_file(
      ee::test::testdata("attestation/collateral/dcapqvl_tdx_b0c06f000000.json"));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->tcb_info.id, "TDX");
  EXPECT_EQ(c->tcb_info.version, 3);
  EXPECT_EQ(c->tcb_info.tcb_evaluation_data_number, 17);
  EXPECT_EQ(hex_encode(c->tcb_info.fmspc), "b0c06f000000");  // "B0C06F000000" in the JSON
  EXPECT_EQ(format_rfc3339(c->tcb_info.issue_date), "2025-06-19T10:16:03Z");
  EXPECT_EQ(format_rfc3339(c->tcb_info.next_update), "2025-07-19T10:16:03Z");
  EXPECT_FALSE(c->tcb_info.levels.empty());
  EXPECT_FALSE(c->tcb_info.tdx_module_identities.empty());
  EXPECT_EQ(c->qe_identity.id, "TD_QE");
  EXPECT_EQ(c->qe_identity.version, 2);
  EXPECT_EQ(c->qe_identity.tcb_evaluation_data_number, 17);
  EXPECT_EQ(format_rfc3339(c->qe_identity.issue_date), "2025-06-19T10:32:27Z");
  EXPECT_EQ(hex_encode(c->qe_identity.mr_signer),
            "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5");
  EXPECT_EQ(c->qe_identity.isv_prod_id, 2);
  EXPECT_EQ(c->tcb_info_json.substr(0, 25), R"({"id":"TDX","version":3,")");
  EXPECT_EQ(c->pck_crl_der.at(0), 0x30);
  EXPECT_EQ(c->root_ca_crl_der.at(0), 0x30);
  EXPECT_NE(c->tcb_info_issuer_chain_pem.find("BEGIN CERTIFICATE"), std::string::npos);
}

TEST(CollateralBundle, LoadsTheOtherBundles) {
  auto outdated = tdx::load_collateral_file(
      ee::test::testdata("attestation/collateral/dcapqvl_tdx_90c06f000000.json"));
  ASSERT_TRUE(outdated) << outdated.error().message();
  EXPECT_EQ(outdated->tcb_info.tcb_evaluation_data_number, 18);
  ASSERT_EQ(outdated->tcb_info.levels.size(), 3u);
  // The SGX bundle parses (it is used to feed a Processor-CA CRL to the verifier); verify()
  // refuses its TCB info for TDX quotes.
  auto sgx = tdx::load_collateral_file(
      ee::test::testdata("attestation/collateral/dcapqvl_sgx_00a067110000.json"));
  ASSERT_TRUE(sgx) << sgx.error().message();
  EXPECT_EQ(sgx->tcb_info.id, "SGX");
  EXPECT_EQ(sgx->tcb_info.levels.size(), 11u);
  EXPECT_EQ(sgx->qe_identity.id, "QE");
}

TEST(CollateralPcs, KeepsTheExactSignedText) {
  auto const p = ee::test::gtg_pcs_responses("gtg_tcbinfo_tdx_90c06f000000.json");
  auto c = tdx::collateral_from_pcs(p);
  ASSERT_TRUE(c) << c.error().message();
  // The inner object's bytes, from {"id": to its closing brace, exactly as sent.
  auto const begin = p.tcb_info_body.find(R"({"id":"TDX")");
  auto const end = p.tcb_info_body.rfind(R"(,"signature":)");
  EXPECT_EQ(c->tcb_info_json, p.tcb_info_body.substr(begin, end - begin));
  EXPECT_EQ(hex_encode(c->tcb_info_signature),
            "1c9386cfaa0393fce88f800f7124b6ba2cee0ab1490702b54ffe95c08757d1a8"
            "de3380566a3113837b1b4adeeb58ad8d1b5163f3e765f6def13087fcc945a240");
  EXPECT_EQ(hex_encode(c->tcb_info.fmspc), "90c06f000000");
  EXPECT_EQ(c->tcb_info.tcb_evaluation_data_number, 18);
  ASSERT_EQ(c->tcb_info.tdx_module_identities.size(), 2u);
  EXPECT_EQ(c->tcb_info.tdx_module_identities[1].id, "TDX_01");
  ASSERT_EQ(c->tcb_info.tdx_module_identities[1].levels.size(), 3u);
  EXPECT_EQ(c->tcb_info.tdx_module_identities[1].levels[0].isv_svn, 6);
  ASSERT_EQ(c->tcb_info.levels.size(), 3u);
  auto const& second = c->tcb_info.levels[1];
  EXPECT_EQ(second.status, tdx::TcbStatus::out_of_date);
  EXPECT_EQ(second.advisory_ids.size(), 5u);
  EXPECT_EQ(second.pce_svn, 13);
  EXPECT_EQ(second.sgx_components[4], 3);
  EXPECT_EQ(second.tdx_components[2], 2);
  EXPECT_EQ(format_rfc3339(second.tcb_date), "2024-03-13T00:00:00Z");

  EXPECT_EQ(c->qe_identity.misc_select, 0u);
  EXPECT_EQ(c->qe_identity.misc_select_mask, 0xffffffffu);
  EXPECT_EQ(hex_encode(c->qe_identity.attributes_mask), "fbffffffffffffff0000000000000000");
  ASSERT_EQ(c->qe_identity.levels.size(), 1u);
  EXPECT_EQ(c->qe_identity.levels[0].isv_svn, 4);
  EXPECT_EQ(c->pck_crl_der, p.pck_crl);
  EXPECT_EQ(c->root_ca_crl_der, p.root_ca_crl);
}

TEST(CollateralPcs, RawMemberIsStringAndWhitespaceAware) {
  using tdx::detail::raw_json_member;
  auto const body =
      R"( { "signature" : "}{" , "x\"y" : [1, {"a": "]"}], "tcbInfo" :  {"id":"}\"{" , "v":[]} } )";
  auto r = raw_json_member(body, "tcbInfo");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, R"({"id":"}\"{" , "v":[]})");
  auto escaped = raw_json_member(R"({"tcb\u0049nfo":{"a":1}})", "tcbInfo");
  ASSERT_TRUE(escaped);
  EXPECT_EQ(*escaped, R"({"a":1})");
  auto missing = raw_json_member(R"({"enclaveIdentity":{}})", "tcbInfo");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), tdx::errc::malformed_collateral);
  EXPECT_FALSE(raw_json_member(R"({"tcbInfo":{}, "tcbInfo":{}})", "tcbInfo"));  // duplicate key
  EXPECT_FALSE(raw_json_member(R"([{"tcbInfo":{}}])", "tcbInfo"));
  EXPECT_FALSE(raw_json_member(R"({"tcbInfo":{})", "tcbInfo"));
}

TEST(CollateralBundle, SerialiseParseRoundTrip) {
  auto c = tdx::load_collateral_file(
      ee::test::testdata("attestation/collateral/dcapqvl_tdx_90c06f000000.json"));
  ASSERT_TRUE(c);
  auto const text = tdx::serialize_collateral_bundle(*c);
  auto again = tdx::parse_collateral_bundle(text);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->tcb_info_json, c->tcb_info_json);
  EXPECT_EQ(again->tcb_info_signature, c->tcb_info_signature);
  EXPECT_EQ(again->qe_identity_json, c->qe_identity_json);
  EXPECT_EQ(again->qe_identity_signature, c->qe_identity_signature);
  EXPECT_EQ(again->tcb_info_issuer_chain_pem, c->tcb_info_issuer_chain_pem);
  EXPECT_EQ(again->qe_identity_issuer_chain_pem, c->qe_identity_issuer_chain_pem);
  EXPECT_EQ(again->pck_crl_issuer_chain_pem, c->pck_crl_issuer_chain_pem);
  EXPECT_EQ(again->pck_crl_der, c->pck_crl_der);
  EXPECT_EQ(again->root_ca_crl_der, c->root_ca_crl_der);
  EXPECT_EQ(tdx::serialize_collateral_bundle(*again), text);

  // The PCS pieces convert into the same bundle shape.
  auto pcs = tdx::collateral_from_pcs(ee::test::gtg_pcs_responses("gtg_tcbinfo_tdx_50806f000000.json"));
  ASSERT_TRUE(pcs);
  auto from_pcs = tdx::parse_collateral_bundle(tdx::serialize_collateral_bundle(*pcs));
  ASSERT_TRUE(from_pcs) << from_pcs.error().message();
  EXPECT_EQ(from_pcs->tcb_info_json, pcs->tcb_info_json);
  EXPECT_EQ(from_pcs->pck_crl_der, pcs->pck_crl_der);
}

TEST(CollateralBundle, AcceptsPemCrls) {
  auto text = collateral_text("dcapqvl_tdx_b0c06f000000.json");
  auto doc = boost::json::parse(text).as_object();
  auto der = ee::detail::hex_decode(std::string(doc["root_ca_crl"].as_string()));
  ASSERT_TRUE(der);
  std::string b64 = ee::detail::base64_encode(*der);
  std::string pem = "-----BEGIN X509 CRL-----\n";
  for (std::size_t i = 0; i < b64.size(); i += 64) pem += b64.substr(i, 64) + "\n";
  pem += "-----END X509 CRL-----\n";
  doc["root_ca_crl"] = pem;
  auto c = tdx::parse_collateral_bundle(boost::json::serialize(doc));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->root_ca_crl_der, *der);
}

// Replaces `from` (which must occur) by `to` in `text`.
std::string replaced(std::string text, std::string const& from, std::string const& to) {
  auto const at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

void expect_error(ee::result<tdx::Collateral> const& r, ee::Error const& code,
                  std::string const& fragment) {
  ASSERT_FALSE(r) << "expected an error mentioning '" << fragment << "'";
  EXPECT_EQ(r.error(), code) << r.error().message();
  EXPECT_NE(r.error().message().find(fragment), std::string::npos) << r.error().message();
}

TEST(CollateralBundle, MalformedInputsGiveClearErrors) {
  auto const good = collateral_text("dcapqvl_tdx_b0c06f000000.json");
  expect_error(tdx::parse_collateral_bundle("{"), ee::errc::invalid_json, "");
  expect_error(tdx::parse_collateral_bundle("[]"), ee::errc::wrong_type, "collateral");
  expect_error(tdx::parse_collateral_bundle(replaced(good, "\"tcb_info_signature\"", "\"x\"")),
               ee::errc::missing_field, "collateral.tcb_info_signature");
  expect_error(tdx::parse_collateral_bundle(replaced(good, "\"tcb_info_signature\": \"027e",
                                                     "\"tcb_info_signature\": \"zz7e")),
               ee::errc::bad_hex, "collateral.tcb_info_signature");
  expect_error(tdx::parse_collateral_bundle(
                   replaced(good, "\"pck_crl\": \"3082", "\"pck_crl\": \"3083")),
               tdx::errc::malformed_collateral, "pck_crl");
  expect_error(
      tdx::parse_collateral_bundle(replaced(good, "\"tcb_info_issuer_chain\": \"-----BEGIN",
                                            "\"tcb_info_issuer_chain\": \"-----BEGAN")),
      tdx::errc::bad_certificate, "TCB info issuer chain");
  // Inside the signed TCB info text (a JSON string in the bundle).
  expect_error(tdx::parse_collateral_bundle(replaced(good, R"(\"tcbStatus\":\"UpToDate\")",
                                                     R"(\"tcbStatus\":\"Fine\")")),
               tdx::errc::malformed_collateral, "tcbStatus: unknown TCB status");
  expect_error(tdx::parse_collateral_bundle(replaced(good, R"(\"version\":3)", R"(\"version\":2)")),
               tdx::errc::malformed_collateral, "tcbInfo.version");
  expect_error(tdx::parse_collateral_bundle(replaced(good, R"(\"fmspc\":\"B0C06F000000\")",
                                                     R"(\"fmspc\":\"B0C06F\")")),
               tdx::errc::malformed_collateral, "tcbInfo.fmspc");
  expect_error(
      tdx::parse_collateral_bundle(replaced(good, R"(\"issueDate\":\"2025-06-19T10:16:03Z\")",
                                            R"(\"issueDate\":\"2025-06-19\")")),
      tdx::errc::malformed_collateral, "tcbInfo.issueDate");
  expect_error(tdx::parse_collateral_bundle(
                   replaced(good, R"(\"mrsigner\":\"DC9E)", R"(\"mrsigner\":\"XC9E)")),
               tdx::errc::malformed_collateral, "enclaveIdentity.mrsigner");
}

TEST(CollateralPcs, MalformedResponsesGiveClearErrors) {
  auto p = ee::test::gtg_pcs_responses("gtg_tcbinfo_tdx_50806f000000.json");
  auto bad = p;
  bad.tcb_info_body = R"({"enclaveIdentity":{},"signature":"00"})";
  expect_error(tdx::collateral_from_pcs(bad), tdx::errc::malformed_collateral,
               "TCB info response");
  bad = p;
  bad.tcb_info_body = replaced(p.tcb_info_body, R"("signature":")", R"("signature":"0)");
  expect_error(tdx::collateral_from_pcs(bad), tdx::errc::malformed_collateral, "signature");
  bad = p;
  // 15 SGX components in the first level.
  bad.tcb_info_body = replaced(p.tcb_info_body, R"({"svn":0},)", "");
  expect_error(tdx::collateral_from_pcs(bad), tdx::errc::malformed_collateral,
               "sgxtcbcomponents: expected 16 components");
  bad = p;
  bad.pck_crl.resize(100);
  expect_error(tdx::collateral_from_pcs(bad), tdx::errc::malformed_collateral, "PCK CRL");
  bad = p;
  bad.pck_crl_issuer_chain_pem = "";
  expect_error(tdx::collateral_from_pcs(bad), tdx::errc::bad_certificate, "PCK CRL issuer chain");
}

TEST(CollateralWindow, EarliestNextUpdateAndLatestIssueOfAllFourItems) {
  auto c = tdx::collateral_from_pcs(ee::test::gtg_pcs_responses("gtg_tcbinfo_tdx_50806f000000.json"));
  ASSERT_TRUE(c) << c.error().message();
  auto w = tdx::collateral_window(*c);
  ASSERT_TRUE(w) << w.error().message();
  // QE identity nextUpdate (the PCK CRL's is 3 s later); TCB info issueDate.
  EXPECT_EQ(format_rfc3339(w->expires_at), "2023-07-08T07:24:59Z");
  EXPECT_EQ(format_rfc3339(w->issued_at), "2023-06-18T08:42:58Z");
  // The CRLs count too: a PCK CRL issued later than every document raises issued_at.
  auto bundle = tdx::load_collateral_file(
      ee::test::testdata("attestation/collateral/dcapqvl_tdx_b0c06f000000.json"));
  ASSERT_TRUE(bundle) << bundle.error().message();
  auto mixed = *c;
  mixed.pck_crl_der = bundle->pck_crl_der;  // thisUpdate 2025-06-19T10:00:35Z
  auto later = tdx::collateral_window(mixed);
  ASSERT_TRUE(later);
  EXPECT_EQ(format_rfc3339(later->issued_at), "2025-06-19T10:00:35Z");
  mixed.root_ca_crl_der.resize(10);
  auto broken = tdx::collateral_window(mixed);
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error(), tdx::errc::malformed_collateral);
}

TEST(CollateralFile, MissingFileIsIoError) {
  ee::test::TempDir dir;
  auto r = tdx::load_collateral_file(dir.path() / "absent.json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::errc::io_error);
  EXPECT_EQ(r.error(), ee::condition::upstream_failure);
}

}  // namespace
