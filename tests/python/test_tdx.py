"""TDX quotes through the public Python API: parsing every vector to the README's values,
the README's verification matrix, policies, error codes, the simulator and logging."""

import datetime
import hashlib
import http.server
import json
import logging
import threading
from pathlib import Path

import pytest

import easyenclave as ee

UTC = datetime.timezone.utc
ZERO48 = bytes(48)

# Clocks of the verification matrix (testdata/attestation/README.md).
GTG_V4_AT = 1688173200  # 2023-07-01T01:00:00Z, inside the gtg collateral window
GTG_V4_EXPIRED = 1689724800  # 2023-07-19: gtg collateral expired
PCK_EXPIRED = 2634940800  # 2053-07-01: every PCK expired
GTG_V5_AT = 1770080400  # 2026-02-03T01:00:00Z
DCAPQVL_90_AT = 1774003274  # 2026-03-20T10:41:14Z
DCAPQVL_90_EARLY = 1770940800  # 2026-02-13: before the 90c06f collateral's issue dates
DCAPQVL_B0_AT = 1752919234  # 2025-07-19T10:00:34Z
DCAPQVL_B0_EXPIRED = 1752919236  # PCK CRL expired

QUOTES = {
    "tdx_v4_gtg_spr_e4.dat": dict(
        size=4974, version=4, body_type=2, is_td15=False, trailing=39,
        tee_tcb_svn="03000400000000000000000000000000",
        mr_seam="2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9a89b4869a9fab60fbe9d0c5a5363c656",
        td_attributes="0000004000000000",
        xfam="e71a060000000000",
        mr_td="6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb",
        rtmr=[
            "2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976823adf08f833c1e50b51779c6593f32a",
            "2c700b8ba9b85783f8be9fb9443647bdc0bb3c50747f06297cc6538c25a5f589c4b56d035c59107c6bc5800db2cacb61",
            "8652f0caaba7e215ea442dc36a4499d8fec3362f3a0b2ca151cbe4b3e6466fe59c7368b3c2287fc7c3bf5c924eb4424e",
            None,
        ],
        report_data="6c62dec1b8191749a31dab490be532a35944dea47caef1f980863993d9899545eb7406a38d1eed313b987a467dacead6f0c87a6d766c66f6f29f8acb281f1113",
        tee_tcb_svn2=None,
        attestation_key="36f301ff1db5c282f9338966c5b8f5c7257e75b0210d0c6c8b1d4a7846e4e0e84c2121d448c7154d37ace210247a6e17271cd1468db8ac7fcd2473b34f7a43fc",
        signature="f5166f069852d96cc2cd570a5973ddb2e8832f70dcaaa949a58ebb10da2bb3554153154a36336d34c6570516b478ab45a364dca3bf4764ec7ba43a0b86bcc27b",
        qe_mr_enclave="853e298f3b7cde28b06493d06fb2ad6f9566a97fea6d3de66236b2af1a35150f",
        qe_isv_svn=4, qe_isv_prod_id=2,
        user_data="739c3f292a15bace1f726351a70d4b7900000000",
    ),
    "tdx_v5_td15_gtg_sample.dat": dict(
        size=5006, version=5, body_type=3, is_td15=True, trailing=0,
        tee_tcb_svn="0b010400000000000000000000000000",
        mr_seam="7bf063280e94fb051f5dd7b1fc59ce9aac42bb961df8d44b709c9b0ff87a7b4df648657ba6d1189589feab1d5a3c9a9d",
        td_attributes="0000001000000000",
        xfam="e702060000000000",
        mr_td="7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747dda8f750c3bc8f876",
        rtmr=[
            "5c8daf76063a71ac8fcef4067564661fc682ed7944c7a5d21dbbced02f61ceff4ba0678c6aef3bdae8cbc614cec24619",
            "463acaace1b6e97c76e92e41fe312aa66f3fd4dad60ec7acf169859db0343e3d1e591646795cdc80fbc0ca5f7041d253",
            "6369b9c9a3b791ebcbdc5a0bb9536cfb57f50df2b393b33c8b29616d3568baa61f4b59dc6092e31ea8764bcbdfc69f20",
            None,
        ],
        report_data="945eaacf5abc1f719d8666a942fda03d1edcb4490277396093dc5a5289ab9f1e094aed63060cd4a4933a4dd537ed1255c9c79ecb3ed82cd1b486233e31c25c3a",
        tee_tcb_svn2="0d010400000000000000000000000000",
        attestation_key="4763cf2f3848919fd0aec8f6e8f21e85e244b431102c25b341f8016731e892b3029c8774bd88085e775cb36e2359fbac455e6963a073e12babaf28d9b81d9674",
        signature="2f320872395b70525e9625e11511c0433a9c5330ccc42916ed923e655ca1597a58b5089c6248f467a09efd5418caa6a02c78bfce1d62ef856adcdcdb3a0c6e90",
        qe_mr_enclave="b7ae9ab69e76f7794a56b0db1915281d435d488c91d406ed33a7939caf8730f8",
        qe_isv_svn=7, qe_isv_prod_id=2,
        user_data="ba103c0e5dffa40351f9d5dd559888eb00000000",
    ),
    "tdx_v4_dcapqvl.dat": dict(
        size=5006, version=4, body_type=2, is_td15=False, trailing=70,
        tee_tcb_svn="06010300000000000000000000000000",
        mr_seam="5b38e33a6487958b72c3c12a938eaa5e3fd4510c51aeeab58c7d5ecee41d7c436489d6c8e4f92f160b7cad34207b00c1",
        td_attributes="0000001000000000",
        xfam="e702060000000000",
        mr_td="91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7",
        rtmr=[
            "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0",
            "0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c173019b3093d54e579e9378",
            "d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e01d48c3132",
            None,
        ],
        report_data="9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20",
        tee_tcb_svn2=None,
        attestation_key="c78ac5859b9f567238fad82ad63202bc516ee7ad14ec1d9adfc633e4cf5f71f73d6138ce76d0d9c1443f695464d1ed419c37ce696e70e95a5b317894a5897907",
        signature="f156eac8ad01d79f7cce668f60005819b22f2151a66155a430ad4f7a9538ae31330f9dfd5424e7c4124b44a668cb97fe2da48e617252ee5aeb6252d48e9324e5",
        qe_mr_enclave="e5a3a7b5d830c2953b98534c6c59a3a34fdc34e933f7f5898f0a85cf08846bca",
        qe_isv_svn=6, qe_isv_prod_id=2,
        user_data="889b7d6ff9df2405b240a830e73faf3d00000000",
    ),
    "tdx_v5_td15_dcapqvl_outdated.dat": dict(
        size=5006, version=5, body_type=3, is_td15=True, trailing=0,
        tee_tcb_svn="07010300000000000000000000000000",
        mr_seam="49b66faa451d19ebbdbe89371b8daf2b65aa3984ec90110343e9e2eec116af08850fa20e3b1aa9a874d77a65380ee7e6",
        td_attributes="0000001000000000",
        xfam="e718060000000000",
        mr_td="273828c46252fcbdd8ad2dd907130222b03466d52a2911d70c1a5950895d6bd1ae451d382d5a9b1b4c0ed0e5ae9a3dbd",
        rtmr=[None, None, None, None],
        report_data="d2142b643598eb5fae2bc8529dd79a558b29f868ccbb6531cb28dab9dce47728" + "00" * 32,
        tee_tcb_svn2="0d010300000000000000000000000000",
        attestation_key="a22dd5040b9f5ff7490a9c68f96ec249cd5e89a51c38fad5dee08caceb8df3f08f84f459b24be462fb461c9e9bbbd445a74f6d5491b5ee3250eef008a599837e",
        signature="55cce3b63e81b310cf0a2b1568206eb3038881f3f77191cf1f5e93f8c18314dcb4c4ca7195d2f9d4dfe4d501cec3b2293aadfadf05619e7ffdd2f6b30256888b",
        qe_mr_enclave="b7ae9ab69e76f7794a56b0db1915281d435d488c91d406ed33a7939caf8730f8",
        qe_isv_svn=7, qe_isv_prod_id=2,
        user_data="dd130a3f3a9e91528dafeb58cc82c33b00000000",
    ),
}


def read(attestation: Path, name: str) -> bytes:
    return (attestation / "quotes" / name).read_bytes()


def bundle(attestation: Path, fmspc: str) -> "ee.Collateral":
    return ee.Collateral.from_file(attestation / "collateral" / f"dcapqvl_tdx_{fmspc}.json")


def gtg_collateral(attestation: Path) -> "ee.Collateral":
    c = attestation / "collateral"
    return ee.Collateral.from_pcs_responses(
        tcb_info=(c / "gtg_tcbinfo_tdx_50806f000000.json").read_text(),
        tcb_info_issuer_chain=(c / "gtg_tcb_signing_chain.pem").read_text(),
        qe_identity=(c / "gtg_qe_identity_td_qe.json").read_text(),
        pck_crl=(c / "gtg_pck_crl_platform.der").read_bytes(),
        pck_crl_issuer_chain=(c / "gtg_pck_crl_issuer_chain.pem").read_text(),
        root_ca_crl=(c / "gtg_root_ca_crl.der").read_bytes(),
    )


OFFLINE = {"allow_offline": True}


# --- parsing -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(QUOTES))
def test_every_tdx_vector_parses_to_the_readme_values(attestation, name):
    want = QUOTES[name]
    data = read(attestation, name)
    assert len(data) == want["size"]
    q = ee.parse_quote(data)
    assert isinstance(q, ee.Quote)
    assert q.version == want["version"]
    assert q.body_type == want["body_type"]
    assert q.is_td15 is want["is_td15"]
    assert q.attestation_key_type == 2
    assert q.tee_type == 0x81
    assert q.qe_vendor_id.hex() == "939a7233f79c4ca9940a0db3957f0607"
    assert q.user_data.hex() == want["user_data"]
    assert q.tee_tcb_svn.hex() == want["tee_tcb_svn"]
    assert q.mr_seam.hex() == want["mr_seam"]
    assert q.mr_signer_seam == ZERO48
    assert q.seam_attributes == bytes(8)
    assert q.td_attributes.hex() == want["td_attributes"]
    assert q.xfam.hex() == want["xfam"]
    assert q.mr_td.hex() == want["mr_td"]
    assert q.mr_config_id == ZERO48 and q.mr_owner == ZERO48 and q.mr_owner_config == ZERO48
    assert isinstance(q.rtmr, list) and len(q.rtmr) == 4
    assert [r.hex() for r in q.rtmr] == [r if r else "00" * 48 for r in want["rtmr"]]
    assert q.report_data.hex() == want["report_data"]
    assert q.tee_tcb_svn2.hex() == (want["tee_tcb_svn2"] or "00" * 16)
    assert q.mr_servicetd == ZERO48
    assert q.debug is False
    assert q.attestation_key.hex() == want["attestation_key"]
    assert q.signature.hex() == want["signature"]
    assert q.qe_report.mr_enclave.hex() == want["qe_mr_enclave"]
    assert q.qe_report.mr_signer.hex() == "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5"
    assert q.qe_report.isv_svn == want["qe_isv_svn"]
    assert q.qe_report.isv_prod_id == want["qe_isv_prod_id"]
    # QE report data binds the attestation key: SHA-256(key || auth data) || 32 zero bytes.
    assert q.qe_auth_data == bytes(range(32))
    assert q.qe_report.report_data == hashlib.sha256(q.attestation_key + q.qe_auth_data).digest() + bytes(32)
    assert len(q.qe_report_bytes) == 384 and len(q.qe_report_signature) == 64
    assert len(q.trailing_bytes) == want["trailing"]
    assert b"-----BEGIN CERTIFICATE-----" in q.pck_chain_pem
    assert q.raw == data and bytes(q) == data
    assert q.signed_bytes == data[: len(q.signed_bytes)]


def test_gtg_trailing_bytes_are_kept_verbatim(attestation):
    q = ee.parse_quote(read(attestation, "tdx_v4_gtg_spr_e4.dat"))
    assert q.trailing_bytes == b"\nextra bytes(only for testing purpose)\n"


def test_parse_accepts_bytearray_and_memoryview(attestation):
    data = read(attestation, "tdx_v4_dcapqvl.dat")
    assert ee.parse_quote(bytearray(data)).mr_td == ee.parse_quote(data).mr_td
    assert ee.parse_quote(memoryview(data)).raw == data


def test_parse_refuses_text():
    with pytest.raises(TypeError):
        ee.parse_quote("not bytes")


def test_quote_to_dict_comes_from_the_library(attestation):
    q = ee.parse_quote(read(attestation, "tdx_v5_td15_gtg_sample.dat"))
    d = q.to_dict()
    assert isinstance(d, dict)
    flat = json.dumps(d)
    assert q.mr_td.hex() in flat
    assert q.rtmr[0].hex() in flat
    assert "mr_td" in str(q) or q.mr_td.hex() in str(q)
    assert "Quote(version=5" in repr(q)


def test_sgx_quote_is_refused_with_its_code(attestation):
    with pytest.raises(ee.InvalidInput) as info:
        ee.parse_quote(read(attestation, "sgx_v3_dcapqvl.dat"))
    assert info.value.code == "tdx.not_a_td_quote"
    assert isinstance(info.value, ee.Error)


def test_truncated_quote_is_refused_with_its_code(attestation):
    data = read(attestation, "tdx_v4_dcapqvl.dat")
    with pytest.raises(ee.InvalidInput) as info:
        ee.parse_quote(data[:1000])
    assert info.value.code.startswith("tdx.")
    with pytest.raises(ee.InvalidInput) as info:
        ee.parse_quote(b"")
    assert info.value.code == "tdx.quote_truncated"


# --- the verification matrix ---------------------------------------------------------------------

def test_row1_offline_inside_the_pck_window(attestation):
    v = ee.verify_quote(read(attestation, "tdx_v4_gtg_spr_e4.dat"), at=GTG_V4_AT, policy=OFFLINE)
    assert v.accepted and v.status == "accepted"
    assert v.offline is True
    assert v.tcb_status == "Unknown"
    assert v.fmspc == "50806f000000"
    names = [s.name for s in v.steps]
    assert names[:2] == ["quote_signature", "pck_chain"]
    assert all(s.passed for s in v.steps)
    assert v.error_code is None and v.failed_step is None


def test_row2_offline_outside_the_pck_window(attestation):
    with pytest.raises(ee.VerificationError) as info:
        ee.verify_quote(read(attestation, "tdx_v4_gtg_spr_e4.dat"), at=PCK_EXPIRED, policy=OFFLINE)
    verdict = info.value.verdict
    assert verdict.status == "rejected" and not verdict.accepted
    assert info.value.code == verdict.error_code == "tdx.certificate_expired"
    assert verdict.failed_step.name == "pck_chain"


def test_offline_is_refused_by_the_default_policy(attestation):
    with pytest.raises(ee.VerificationError) as info:
        ee.verify_quote(read(attestation, "tdx_v4_gtg_spr_e4.dat"), at=GTG_V4_AT)
    assert info.value.code == "tdx.offline_not_allowed"
    assert info.value.verdict.failed_step.name == "policy_tcb_status"
    assert info.value.verdict.offline


def test_row3_gtg_collateral_has_no_matching_tcb_level(attestation):
    with pytest.raises(ee.VerificationError) as info:
        ee.verify_quote(read(attestation, "tdx_v4_gtg_spr_e4.dat"), gtg_collateral(attestation),
                        at=GTG_V4_AT)
    assert info.value.verdict.error_code == "tdx.tcb_level_not_supported"
    assert info.value.code == "tdx.tcb_level_not_supported"
    assert info.value.verdict.failed_step.name == "tcb_level"
    passed = {s.name for s in info.value.verdict.steps if s.passed}
    assert {"quote_signature", "pck_chain", "tcb_info", "qe_identity", "pck_crl"} <= passed


def test_row4_gtg_collateral_expired(attestation):
    with pytest.raises(ee.VerificationError) as info:
        ee.verify_quote(read(attestation, "tdx_v4_gtg_spr_e4.dat"), gtg_collateral(attestation),
                        at=GTG_V4_EXPIRED)
    assert info.value.code in {"tdx.collateral_expired", "tdx.certificate_expired"}


def test_row5_v5_offline(attestation):
    v = ee.verify_quote(read(attestation, "tdx_v5_td15_gtg_sample.dat"), at=GTG_V5_AT, policy=OFFLINE)
    assert v.accepted and v.offline and v.fmspc == "90c06f000000"


def test_row6_v5_up_to_date(attestation):
    v = ee.verify_quote(read(attestation, "tdx_v5_td15_gtg_sample.dat"), bundle(attestation, "90c06f000000"),
                        at=DCAPQVL_90_AT)
    assert v.status == "accepted"
    assert v.tcb_status == "UpToDate"
    assert v.advisory_ids == []
    assert v.fmspc == "90c06f000000"
    assert v.offline is False
    assert v.checked_at == datetime.datetime.fromtimestamp(DCAPQVL_90_AT, UTC)
    assert v.collateral_issued_at <= v.checked_at < v.collateral_expires_at
    assert v.mr_td == ee.parse_quote(read(attestation, "tdx_v5_td15_gtg_sample.dat")).mr_td
    names = [s.name for s in v.steps]
    assert "tcb_status" in names and "policy_tcb_status" in names
    d = v.to_dict()
    assert isinstance(d, dict) and "UpToDate" in json.dumps(d)
    assert "ACCEPTED" in str(v)


def test_row7_collateral_not_yet_valid(attestation):
    with pytest.raises(ee.VerificationError) as info:
        ee.verify_quote(read(attestation, "tdx_v5_td15_gtg_sample.dat"), bundle(attestation, "90c06f000000"),
                        at=DCAPQVL_90_EARLY)
    assert info.value.code == "tdx.collateral_not_yet_valid"


def test_row8_v4_up_to_date_and_a_second_later_expired(attestation):
    quote = read(attestation, "tdx_v4_dcapqvl.dat")
    collateral = bundle(attestation, "b0c06f000000")
    v = ee.verify_quote(quote, collateral, at=DCAPQVL_B0_AT)
    assert v.tcb_status == "UpToDate" and v.advisory_ids == [] and v.fmspc == "b0c06f000000"
    with pytest.raises(ee.VerificationError) as info:
        ee.verify_quote(quote, collateral, at=DCAPQVL_B0_EXPIRED)
    assert info.value.code == "tdx.collateral_expired"


def test_row9_fmspc_mismatch(attestation):
    with pytest.raises(ee.VerificationError) as info:
        ee.verify_quote(read(attestation, "tdx_v4_dcapqvl.dat"), bundle(attestation, "90c06f000000"),
                        at=DCAPQVL_90_AT)
    assert info.value.code == "tdx.fmspc_mismatch"


def test_row10_outdated_quote_has_no_matching_tcb_level(attestation):
    with pytest.raises(ee.VerificationError) as info:
        ee.verify_quote(read(attestation, "tdx_v5_td15_dcapqvl_outdated.dat"),
                        bundle(attestation, "90c06f000000"), at=DCAPQVL_90_AT)
    assert info.value.verdict.error_code == "tdx.tcb_level_not_supported"
    assert "tcb_level" in str(info.value)


def test_row11_sgx_quote_is_refused_before_verification(attestation):
    with pytest.raises(ee.InvalidInput) as info:
        ee.verify_quote(read(attestation, "sgx_v3_dcapqvl.dat"), bundle(attestation, "b0c06f000000"),
                        at=DCAPQVL_B0_AT)
    assert info.value.code == "tdx.not_a_td_quote"


def test_row12_tampered_tcb_info_fails_its_signature(attestation):
    doc = json.loads((attestation / "collateral" / "dcapqvl_tdx_b0c06f000000.json").read_text())
    assert '"tcbEvaluationDataNumber":17' in doc["tcb_info"]
    doc["tcb_info"] = doc["tcb_info"].replace('"tcbEvaluationDataNumber":17', '"tcbEvaluationDataNumber":18', 1)
    tampered = ee.Collateral.from_json(json.dumps(doc))
    with pytest.raises(ee.VerificationError) as info:
        ee.verify_quote(read(attestation, "tdx_v4_dcapqvl.dat"), tampered, at=DCAPQVL_B0_AT)
    assert info.value.code == "tdx.bad_collateral_signature"
    assert info.value.verdict.failed_step.name == "tcb_info"


# --- arguments: quote objects, roots, clocks -------------------------------------------------------

def test_verify_accepts_a_parsed_quote(attestation):
    q = ee.parse_quote(read(attestation, "tdx_v4_dcapqvl.dat"))
    assert ee.verify_quote(q, bundle(attestation, "b0c06f000000"), at=DCAPQVL_B0_AT).accepted


@pytest.mark.parametrize("form", ["pem_bytes", "der_bytes", "pem_text", "path", "path_str"])
def test_root_forms(attestation, form):
    roots = attestation / "roots"
    root = {
        "pem_bytes": (roots / "intel_sgx_root_ca.pem").read_bytes(),
        "der_bytes": (roots / "intel_sgx_root_ca.der").read_bytes(),
        "pem_text": (roots / "intel_sgx_root_ca.pem").read_text(),
        "path": roots / "intel_sgx_root_ca.der",
        "path_str": str(roots / "intel_sgx_root_ca.pem"),
    }[form]
    v = ee.verify_quote(read(attestation, "tdx_v4_dcapqvl.dat"), bundle(attestation, "b0c06f000000"),
                        root=root, at=DCAPQVL_B0_AT)
    assert v.tcb_status == "UpToDate"


def test_bad_root_is_invalid_input(attestation, tmp_path):
    with pytest.raises(ee.InvalidInput) as info:
        ee.verify_quote(read(attestation, "tdx_v4_dcapqvl.dat"), root=b"not a certificate", at=DCAPQVL_B0_AT)
    assert info.value.code == "tdx.bad_certificate"
    with pytest.raises(ee.UpstreamFailure) as info:
        ee.verify_quote(read(attestation, "tdx_v4_dcapqvl.dat"), root=tmp_path / "missing.pem")
    assert info.value.code == "core.io_error"


def test_aware_datetime_and_timestamp_agree(attestation):
    quote = read(attestation, "tdx_v4_dcapqvl.dat")
    collateral = bundle(attestation, "b0c06f000000")
    at = datetime.datetime.fromtimestamp(DCAPQVL_B0_AT, UTC)
    cest = at.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    for clock in (at, cest, DCAPQVL_B0_AT, float(DCAPQVL_B0_AT)):
        v = ee.verify_quote(quote, collateral, at=clock)
        assert v.checked_at == at


def test_naive_datetime_is_a_type_error(attestation):
    with pytest.raises(TypeError, match="naive datetime"):
        ee.verify_quote(read(attestation, "tdx_v4_dcapqvl.dat"), bundle(attestation, "b0c06f000000"),
                        at=datetime.datetime(2025, 7, 19, 10, 0, 0))
    with pytest.raises(TypeError):
        ee.verify_quote(read(attestation, "tdx_v4_dcapqvl.dat"), at="2025-07-19T10:00:00Z")
    with pytest.raises(TypeError):
        ee.verify_quote(read(attestation, "tdx_v4_dcapqvl.dat"), at=True)


def test_collateral_argument_must_be_a_collateral(attestation):
    with pytest.raises(TypeError, match="Collateral"):
        ee.verify_quote(read(attestation, "tdx_v4_dcapqvl.dat"), "collateral.json")


# --- collateral ------------------------------------------------------------------------------------

def test_collateral_loads_and_round_trips(attestation):
    path = attestation / "collateral" / "dcapqvl_tdx_90c06f000000.json"
    c = ee.Collateral.from_file(path)
    assert c.fmspc == "90c06f000000"
    assert c.tcb_evaluation_data_number == 18
    assert c.issue_date == datetime.datetime(2026, 2, 18, 10, 58, 51, tzinfo=UTC)
    assert c.next_update == datetime.datetime(2026, 3, 20, 10, 58, 51, tzinfo=UTC)
    again = ee.Collateral.from_json(c.to_json())
    assert again.fmspc == c.fmspc
    assert ee.Collateral.from_json(path.read_bytes()).fmspc == c.fmspc
    assert ee.Collateral.from_file(str(path)).fmspc == c.fmspc


def test_collateral_errors_carry_codes(tmp_path):
    with pytest.raises(ee.InvalidInput) as info:
        ee.Collateral.from_json("{not json")
    assert info.value.code == "core.invalid_json"
    with pytest.raises(ee.InvalidInput) as info:
        ee.Collateral.from_json("{}")
    assert info.value.code == "core.missing_field"
    with pytest.raises(ee.UpstreamFailure) as info:
        ee.Collateral.from_file(tmp_path / "missing.json")
    assert info.value.code == "core.io_error"


# --- policies --------------------------------------------------------------------------------------

def test_policy_refusal_names_the_policy_step(attestation):
    with pytest.raises(ee.VerificationError) as info:
        ee.verify_quote(read(attestation, "tdx_v4_dcapqvl.dat"), bundle(attestation, "b0c06f000000"),
                        at=DCAPQVL_B0_AT, policy={"allowed_tcb_statuses": ["OutOfDate"]})
    err = info.value
    assert err.code == "tdx.tcb_status_not_allowed"
    assert err.verdict.failed_step.name == "policy_tcb_status"
    assert not err.verdict.failed_step.passed
    # Verification itself passed: every step before the policy's did.
    assert all(s.passed for s in err.verdict.steps if not s.name.startswith("policy_"))
    assert err.verdict.tcb_status == "UpToDate"
    assert isinstance(err, ee.Error)


def test_policy_warn_mode_tolerates_the_status(attestation):
    v = ee.verify_quote(read(attestation, "tdx_v4_dcapqvl.dat"), bundle(attestation, "b0c06f000000"),
                        at=DCAPQVL_B0_AT, policy=ee.Policy(allowed_tcb_statuses=["OutOfDate"], tcb_mode="warn"))
    assert v.accepted
    step = next(s for s in v.steps if s.name == "policy_tcb_status")
    assert "tolerated" in step.detail


def test_policy_mrtd_and_rtmrs(attestation):
    data = read(attestation, "tdx_v4_dcapqvl.dat")
    collateral = bundle(attestation, "b0c06f000000")
    q = ee.parse_quote(data)
    good = ee.Policy(allowed_mrtds=[q.mr_td.hex(), bytes(48)], expected_rtmrs={0: q.rtmr[0], 3: bytes(48)})
    v = ee.verify_quote(data, collateral, at=DCAPQVL_B0_AT, policy=good)
    assert {"policy_mrtd", "policy_rtmr0", "policy_rtmr3"} <= {s.name for s in v.steps}

    with pytest.raises(ee.VerificationError) as info:
        ee.verify_quote(data, collateral, at=DCAPQVL_B0_AT, policy={"allowed_mrtds": [bytes(48)]})
    assert info.value.code == "tdx.mrtd_not_trusted"

    with pytest.raises(ee.VerificationError) as info:
        ee.verify_quote(data, collateral, at=DCAPQVL_B0_AT,
                        policy={"expected_rtmrs": [None, q.rtmr[0], None, None]})
    assert info.value.code == "tdx.rtmr_mismatch"
    assert info.value.verdict.failed_step.name == "policy_rtmr1"


def test_policy_collateral_age(attestation):
    data = read(attestation, "tdx_v4_dcapqvl.dat")
    collateral = bundle(attestation, "b0c06f000000")
    ee.verify_quote(data, collateral, at=DCAPQVL_B0_AT, policy={"max_collateral_age": datetime.timedelta(days=31)})
    with pytest.raises(ee.VerificationError) as info:
        ee.verify_quote(data, collateral, at=DCAPQVL_B0_AT, policy={"max_collateral_age": 3600})
    assert info.value.code == "tdx.collateral_too_old"


def test_policy_object_round_trips_its_fields():
    p = ee.Policy(allowed_tcb_statuses=["UpToDate", "SWHardeningNeeded"], allow_debug=True,
                  allow_offline=True, allowed_mrtds=["ab" * 48], expected_rtmrs=[None, "cd" * 48],
                  max_collateral_age=90)
    assert p.allowed_tcb_statuses == ["UpToDate", "SWHardeningNeeded"]
    assert p.allow_debug and p.allow_offline
    assert p.allowed_mrtds == [bytes([0xAB]) * 48]
    assert p.expected_rtmrs == [None, bytes([0xCD]) * 48, None, None]
    assert p.max_collateral_age == datetime.timedelta(seconds=90)
    assert p.tcb_mode == "strict"
    p.allowed_tcb_statuses = ["OutOfDate"]
    p.max_collateral_age = None
    assert p.allowed_tcb_statuses == ["OutOfDate"] and p.max_collateral_age is None
    d = ee.Policy()
    assert d.allowed_tcb_statuses == ["UpToDate"] and not d.allow_offline and not d.allow_debug
    # Every status a verdict can show can be named, "Unknown" included.
    assert ee.Policy(allowed_tcb_statuses=["Unknown"]).allowed_tcb_statuses == ["Unknown"]


def test_policy_errors_carry_codes(attestation):
    with pytest.raises(ee.InvalidInput) as info:
        ee.Policy(allowed_mrtds=["zz" * 48])
    assert info.value.code == "core.bad_hex"
    with pytest.raises(ee.InvalidInput) as info:
        ee.Policy(allowed_mrtds=[b"short"])
    assert info.value.code == "core.out_of_range"
    with pytest.raises(ee.InvalidInput) as info:
        ee.Policy(allowed_tcb_statuses=["Fine"])
    assert info.value.code == "core.invalid_value"
    assert "Unknown" in str(info.value)  # names what is accepted
    with pytest.raises(ee.InvalidInput):
        ee.Policy(tcb_mode="lenient")
    with pytest.raises(TypeError):
        ee.verify_quote(read(attestation, "tdx_v4_dcapqvl.dat"), policy={"no_such_field": 1})
    with pytest.raises(TypeError):
        ee.verify_quote(read(attestation, "tdx_v4_dcapqvl.dat"), policy=42)


# --- simulator -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def simulator():
    return ee.Simulator.create(mr_td="11" * 48)


def test_simulator_round_trip(simulator):
    nonce = hashlib.sha256(b"fresh nonce").digest()
    quote = simulator.quote(nonce)
    assert isinstance(quote, bytes)
    q = ee.parse_quote(quote)
    assert q.report_data == nonce + bytes(32)
    assert q.mr_td == bytes([0x11]) * 48 == simulator.mr_td
    v = ee.verify_quote(quote, ee.Collateral.from_json(simulator.collateral_json), root=simulator.root_pem,
                        policy={"allowed_mrtds": [simulator.mr_td]})
    assert v.tcb_status == "UpToDate"
    assert v.report_data == nonce + bytes(32)
    assert ee.verify_quote(quote, simulator.collateral, root=simulator.root_pem.encode()).accepted


def test_simulator_quotes_are_rejected_by_the_intel_root(simulator):
    quote = simulator.quote(b"x")
    with pytest.raises(ee.VerificationError) as info:
        ee.verify_quote(quote, simulator.collateral)
    assert info.value.code == "tdx.pck_chain_untrusted"
    assert info.value.verdict.failed_step.name == "pck_chain"


def test_simulator_report_data_limit(simulator):
    assert len(ee.parse_quote(simulator.quote(bytes(64))).report_data) == 64
    with pytest.raises(ee.InvalidInput) as info:
        simulator.quote(bytes(65))
    assert info.value.code == "core.out_of_range"


def test_simulator_persists_in_a_directory(tmp_path):
    first = ee.Simulator.create(dir=tmp_path / "sim")
    second = ee.Simulator.create(dir=str(tmp_path / "sim"))
    assert first.root_pem == second.root_pem
    quote = second.quote(b"nonce")
    assert ee.verify_quote(quote, first.collateral, root=first.root_pem).accepted


def test_verification_runs_in_threads(simulator):
    collateral = simulator.collateral
    results = []

    def work(i):
        quote = simulator.quote(bytes([i]) * 32)
        results.append(ee.verify_quote(quote, collateral, root=simulator.root_pem).report_data[:1])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [bytes([i]) for i in range(8)]


# --- collateral fetching and logging ---------------------------------------------------------------

class _NotFoundHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def pccs_404():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFoundHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_from_pcs_unknown_fmspc_is_not_found_and_logs_to_python(pccs_404, caplog):
    with caplog.at_level(logging.DEBUG, logger="easyenclave"):
        with pytest.raises(ee.NotFound) as info:
            ee.Collateral.from_pcs("90C06F000000", pccs_url=pccs_404)
    assert info.value.code == "tdx.collateral_not_found"
    records = [r for r in caplog.records if r.name.startswith("easyenclave")]
    assert records, "no library log event reached the 'easyenclave' logger"
    assert any(r.levelno == logging.DEBUG and r.name == "easyenclave.http" for r in records)
    assert all(hasattr(r, "component") for r in records)


def test_log_events_respect_python_levels(pccs_404, caplog):
    with caplog.at_level(logging.WARNING, logger="easyenclave"):
        with pytest.raises(ee.NotFound):
            ee.Collateral.from_pcs("90c06f000000", pccs_url=pccs_404)
    assert not [r for r in caplog.records if r.name.startswith("easyenclave") and r.levelno < logging.WARNING]


def test_from_pcs_bad_fmspc_is_invalid_input():
    with pytest.raises(ee.InvalidInput) as info:
        ee.Collateral.from_pcs("90c06f")
    assert info.value.code == "core.out_of_range"
