"""verify_ita_token against Intel's published token and key set, and verify_github_oidc against
tokens minted by the GitHub stand-in (ee-fake-github from the build)."""

import datetime
import json
import sys
import urllib.request
from pathlib import Path

import pytest

import easyenclave

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import local_network as ln  # noqa: E402  the programs' launcher shared with make demo
from support import build_dir  # noqa: E402

# The values the test-vector README lists for ita/ita_tdx_token_prod_20231205.jwt.
ITA_CLOCK = 1701735000  # inside [iat, exp] = [1701734950, 1701735250]
ITA_MRTD = (
    "5f53c3881242a5b418854923bb4adec34c72aa4b570d526179d63f9ee6e4cefb"
    "6abd4f0f35e5e6e29655a60d90bcf27f"
)
ITA_REPORT_DATA = (
    "4d297aab10a1b4146ae1c4dab58bf69ddec76a7e17bf4b108d6e7e1c789c6435"
    "47c6bdcec20f2f7e4c0cdad2cac5d6afddbb341cd7c507494b409541f2c9fdca"
)


@pytest.fixture(scope="module")
def ita(attestation: Path):
    folder = attestation / "ita"
    return {
        "token": (folder / "ita_tdx_token_prod_20231205.jwt").read_text(),
        "pilot": (folder / "ita_tdx_token_pilot_20240201.jwt").read_text(),
        "jwks": (folder / "ita_jwks_prod_2023.json").read_text(),
    }


def test_ita_token_verifies_into_an_appraisal(ita):
    a = easyenclave.verify_ita_token(ita["token"], ita["jwks"], at=ITA_CLOCK)
    assert isinstance(a, easyenclave.Appraisal)
    assert a.appraised_by == "intel_trust_authority"
    assert a.attester_type == "TDX"
    assert a.mr_td.hex() == ITA_MRTD
    assert a.rtmr == [bytes(48)] * 4
    assert a.report_data.hex() == ITA_REPORT_DATA
    assert a.tcb_status == "OutOfDate"
    assert a.tcb_date == datetime.datetime(2023, 2, 15, tzinfo=datetime.timezone.utc)
    assert a.advisory_ids == ["INTEL-SA-00837"]
    assert a.debug is False
    assert a.appraised_at == datetime.datetime.fromtimestamp(1701734950, datetime.timezone.utc)
    assert a.valid_until == datetime.datetime.fromtimestamp(1701735250, datetime.timezone.utc)
    d = a.to_dict()
    assert d["mr_td"] == ITA_MRTD and d["tcb_status"] == "OutOfDate" and len(d["rtmr"]) == 4


def test_ita_token_and_key_set_take_str_bytes_or_a_dict(ita):
    at = datetime.datetime.fromtimestamp(ITA_CLOCK, datetime.timezone.utc)
    by_bytes = easyenclave.verify_ita_token(ita["token"].encode(), ita["jwks"].encode(), at=at)
    by_dict = easyenclave.verify_ita_token(ita["token"], json.loads(ita["jwks"]), at=ITA_CLOCK)
    assert by_bytes.mr_td == by_dict.mr_td


def test_ita_token_failures_raise_with_the_library_code(ita):
    with pytest.raises(easyenclave.Unauthenticated) as expired:
        easyenclave.verify_ita_token(ita["token"], ita["jwks"], at=1701735250 + 3600)
    assert expired.value.code == "jwt.token_expired"
    with pytest.raises(easyenclave.Unauthenticated) as unknown:
        easyenclave.verify_ita_token(ita["pilot"], ita["jwks"], at=1706769600)
    assert unknown.value.code == "jwt.unknown_kid"
    with pytest.raises(easyenclave.Unauthenticated) as issuer:
        easyenclave.verify_ita_token(ita["token"], ita["jwks"], at=ITA_CLOCK, issuers=["someone"])
    assert issuer.value.code == "jwt.issuer_not_allowed"
    header, claims, signature = ita["token"].split(".")
    forged = ".".join([header, claims, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")])
    with pytest.raises(easyenclave.Unauthenticated) as bad:
        easyenclave.verify_ita_token(forged, ita["jwks"], at=ITA_CLOCK)
    assert bad.value.code == "jwt.bad_signature"


def test_ita_malformed_input_is_invalid_input_or_type_error(ita):
    for token in ["", "a.b", "not a token", "a" * 70000]:
        with pytest.raises(easyenclave.InvalidInput):
            easyenclave.verify_ita_token(token, ita["jwks"], at=ITA_CLOCK)
    with pytest.raises(easyenclave.InvalidInput) as bad_jwks:
        easyenclave.verify_ita_token(ita["token"], "{not json", at=ITA_CLOCK)
    assert bad_jwks.value.code == "jwt.malformed_jwks"
    with pytest.raises(TypeError):
        easyenclave.verify_ita_token(42, ita["jwks"])
    with pytest.raises(TypeError):
        easyenclave.verify_ita_token(ita["token"], ita["jwks"], issuers="Intel Trust Authority")
    with pytest.raises(TypeError):
        easyenclave.verify_ita_token(ita["token"], ita["jwks"], at=datetime.datetime(2023, 12, 5))


# --- GitHub Actions OIDC, from the stand-in issuer -----------------------------------------------


@pytest.fixture(scope="module")
def github(tmp_path_factory):
    work = tmp_path_factory.mktemp("github")
    issuer = ln.Program("github", [build_dir("ee-fake-github") / "cli" / "ee-fake-github", "--listen", "127.0.0.1:0"], work)
    try:
        url = issuer.listening_url()

        def get(path):
            with urllib.request.urlopen(url + path, timeout=10) as r:
                return r.read().decode()

        def mint(claims):
            request = urllib.request.Request(
                url + "/mint", data=json.dumps(claims).encode(), method="POST"
            )
            with urllib.request.urlopen(request, timeout=10) as r:
                return json.loads(r.read())["value"]

        yield {
            "jwks": get("/.well-known/jwks"),
            "token": lambda audience: json.loads(get(f"/token?audience={audience}"))["value"],
            "mint": mint,
        }
    finally:
        issuer.stop()


def test_github_oidc_token_verifies_into_its_claims(github):
    claims = easyenclave.verify_github_oidc(github["token"]("easyenclave"), github["jwks"], "easyenclave")
    assert claims["repository_owner"] and "/" in claims["repository"]
    assert claims["repository"].startswith(claims["repository_owner"] + "/")
    assert claims["audience"] == ["easyenclave"]
    assert claims["environment"] is None
    assert claims["expires_at"] > claims["issued_at"]
    assert claims["issued_at"].tzinfo is not None


def test_github_oidc_refuses_another_audience_expiry_and_issuer(github):
    token = github["token"]("someone-else")
    with pytest.raises(easyenclave.Unauthenticated) as audience:
        easyenclave.verify_github_oidc(token, github["jwks"], "easyenclave")
    assert audience.value.code == "jwt.audience_mismatch"
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    with pytest.raises(easyenclave.Unauthenticated) as expired:
        easyenclave.verify_github_oidc(github["token"]("easyenclave"), github["jwks"], "easyenclave", at=later)
    assert expired.value.code == "jwt.token_expired"
    other_issuer = github["mint"]({"aud": "easyenclave", "iss": "https://evil.example.com"})
    with pytest.raises(easyenclave.Unauthenticated) as issuer:
        easyenclave.verify_github_oidc(other_issuer, github["jwks"], "easyenclave")
    assert issuer.value.code == "jwt.issuer_not_allowed"
    # A token from that other issuer verifies when the caller names it (GitHub Enterprise Server).
    claims = easyenclave.verify_github_oidc(
        other_issuer, github["jwks"], "easyenclave", issuer="https://evil.example.com"
    )
    assert claims["audience"] == ["easyenclave"]


def test_github_oidc_names_a_missing_claim(github):
    token = github["mint"]({"aud": "easyenclave", "repository_owner": None})
    with pytest.raises(easyenclave.Error) as missing:
        easyenclave.verify_github_oidc(token, github["jwks"], "easyenclave")
    assert missing.value.code == "jwt.missing_claim"
    assert "repository_owner" in str(missing.value)
    with pytest.raises(easyenclave.InvalidInput):
        easyenclave.verify_github_oidc(github["token"]("easyenclave"), github["jwks"], "")
