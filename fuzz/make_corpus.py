#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/<target>/ (see fuzz/corpus/README.md for provenance).

Real vectors are copied from the shared attestation test data (TESTDATA, default
tests/data/attestation); the rest is written here: small hand-made
documents and requests, and requests signed with fuzz/data/signing_key.pem. Run it again only
to rebuild the seeds from scratch; inputs the fuzzers found are merged with `make fuzz-merge`.
Needs python3-cryptography.
"""
import base64
import hashlib
import json
import os
import pathlib
import sys
import zlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

HERE = pathlib.Path(__file__).resolve().parent
TESTDATA = pathlib.Path(os.environ.get("TESTDATA", HERE.parent / "tests/data/attestation"))
CORPUS = HERE / "corpus"


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


def td(path):
    return (TESTDATA / path).read_bytes()


def mode(m, data):
    return bytes([m]) + (data.encode() if isinstance(data, str) else data)


def pem_chain_of_quote(quote):
    start = quote.find(b"-----BEGIN CERTIFICATE-----")
    end = quote.rfind(b"-----END CERTIFICATE-----") + len(b"-----END CERTIFICATE-----\n")
    return quote[start:end]


NONCE = "7f" * 32


def main():
    # --- quotes
    for q in ["tdx_v4_dcapqvl.dat", "tdx_v4_gtg_spr_e4.dat", "tdx_v5_td15_gtg_sample.dat",
              "tdx_v5_td15_dcapqvl_outdated.dat", "sgx_v3_dcapqvl.dat"]:
        put("fuzz_quote", q, td("quotes/" + q))

    # --- collateral: 0 bundle, 1 PCS TCB info body, 2 PCS QE identity body
    for c in ["dcapqvl_tdx_b0c06f000000.json", "dcapqvl_sgx_00a067110000.json"]:
        put("fuzz_collateral", "bundle_" + c, mode(0, td("collateral/" + c)))
    for c in ["gtg_tcbinfo_tdx_90c06f000000.json", "gtg_tcbinfo_tdx_50806f000000.json"]:
        put("fuzz_collateral", "pcs_" + c, mode(1, td("collateral/" + c)))
    put("fuzz_collateral", "pcs_gtg_qe_identity_td_qe.json", mode(2, td("collateral/gtg_qe_identity_td_qe.json")))

    # --- certificates and CRLs: 0 PEM chain, 1 certificate, 2 CRL, 3 CRL to DER, 4 PCK extension
    quote = td("quotes/tdx_v4_dcapqvl.dat")
    chain = pem_chain_of_quote(quote)
    put("fuzz_x509", "chain_pck_tdx_v4_dcapqvl.pem", mode(0, chain))
    put("fuzz_x509", "chain_tcb_signing.pem", mode(0, td("collateral/gtg_tcb_signing_chain.pem")))
    put("fuzz_x509", "chain_pck_crl_issuer.pem", mode(0, td("collateral/gtg_pck_crl_issuer_chain.pem")))
    put("fuzz_x509", "cert_root.pem", mode(1, td("roots/intel_sgx_root_ca.pem")))
    put("fuzz_x509", "cert_root.der", mode(1, td("roots/intel_sgx_root_ca.der")))
    leaf = x509.load_pem_x509_certificates(chain)[0]
    put("fuzz_x509", "cert_pck_leaf.der", mode(1, leaf.public_bytes(serialization.Encoding.DER)))
    put("fuzz_x509", "crl_pck_platform.der", mode(2, td("collateral/gtg_pck_crl_platform.der")))
    put("fuzz_x509", "crl_root.der", mode(2, td("collateral/gtg_root_ca_crl.der")))
    root_crl = x509.load_der_x509_crl(td("collateral/gtg_root_ca_crl.der"))
    put("fuzz_x509", "crl_root.pem", mode(2, root_crl.public_bytes(serialization.Encoding.PEM)))
    put("fuzz_x509", "crl_to_der_root.pem", mode(3, root_crl.public_bytes(serialization.Encoding.PEM)))
    ext = leaf.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.2.840.113741.1.13.1"))
    put("fuzz_x509", "pck_extension.der", mode(4, ext.value.value))

    # --- JWKS and JWS
    put("fuzz_jwks", "ita_jwks_prod_2023.json", td("ita/ita_jwks_prod_2023.json"))
    key = ec.generate_private_key(ec.SECP256R1())
    nums = key.public_key().public_numbers()
    b64u = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    put("fuzz_jwks", "ec_p256.json", json.dumps({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
        "x": b64u(nums.x.to_bytes(32, "big")), "y": b64u(nums.y.to_bytes(32, "big"))}]},
        separators=(",", ":")))
    put("fuzz_jwks", "oct.json", '{"keys":[{"kty":"oct","k":"AAAA","kid":"s"}]}')
    put("fuzz_jws", "ita_tdx_token_prod_20231205.jwt", td("ita/ita_tdx_token_prod_20231205.jwt"))
    put("fuzz_jws", "ita_tdx_token_pilot_20240201.jwt", td("ita/ita_tdx_token_pilot_20240201.jwt"))
    put("fuzz_jws", "none_alg.jwt", b64u(b'{"alg":"none"}') + "." + b64u(b'{"iss":"x"}') + ".")

    # --- strict JSON: 0 default limits, 1 small limits
    put("fuzz_json", "object.json", mode(0, '{"a":"x","b":[1,2,{"c":true}],"d":null,"e":-1.5e3,"f":"\\u00e9\\ud83d\\ude00"}'))
    put("fuzz_json", "nested.json", mode(1, '{"a":{"b":{"c":{"d":[[1]]}}}}'))
    put("fuzz_json", "numbers.json", mode(0, '[0,-0,1e400,18446744073709551615,9223372036854775807,-9223372036854775808,0.1]'))
    put("fuzz_json", "tcbinfo.json", mode(0, td("collateral/gtg_qe_identity_td_qe.json")))

    # --- HTTP requests on one connection: 1 byte read size, then the bytes
    put("fuzz_http_request", "get.http", mode(0x20, "GET /health HTTP/1.1\r\nHost: cp\r\nX-Request-Id: abc-1\r\n\r\n"))
    put("fuzz_http_request", "get_query.http", mode(0x03, "GET /api/v1/attestation?nonce=%41b&x=1 HTTP/1.1\r\nHost: cp\r\n\r\n"))
    put("fuzz_http_request", "post_length.http", mode(0xff,
        "POST /api/v1/agents/a%2Fb/heartbeat HTTP/1.1\r\nHost: cp\r\nContent-Type: application/json\r\n"
        "Content-Length: 13\r\n\r\n{\"status\":1}\n"))
    put("fuzz_http_request", "post_chunked.http", mode(0x07,
        "POST /api/v1/agents/register HTTP/1.1\r\nHost: cp\r\nTransfer-Encoding: chunked\r\n"
        "Expect: 100-continue\r\n\r\n4\r\n{\"a\"\r\n3;x=y\r\n:1}\r\n0\r\nTrailer: t\r\n\r\n"))
    put("fuzz_http_request", "pipelined.http", mode(0x40,
        "GET /health HTTP/1.1\r\nHost: a\r\n\r\nDELETE /api/v1/agents/x HTTP/1.1\r\nHost: a\r\n\r\n"
        "HEAD /api/v1/apps/n/versions/1.0 HTTP/1.0\r\n\r\n"))

    # --- boot configuration: whole kernel command lines
    cfg = json.dumps({"cp_url": "https://cp.example.com", "owner": "github:org/octo-org",
                      "node_size": "tiny", "datacenter": "gcp:us-central1-a", "vm_name": "v1"},
                     separators=(",", ":")).encode()
    put("fuzz_boot_config", "plain.cmdline",
        "console=ttyS0 easyenclave.config=" + base64.b64encode(cfg).decode() + " quiet\n")
    put("fuzz_boot_config", "zlib.cmdline",
        'root=/dev/vda "easyenclave.configz=' + base64.b64encode(zlib.compress(cfg, 9)).decode() + '" ro')
    put("fuzz_boot_config", "none.cmdline", "BOOT_IMAGE=/vmlinuz ro quiet")

    # --- agent config: 0 document, 1 key=value, 2 ee-cp setting
    put("fuzz_agent_config", "file.json", mode(0, json.dumps({
        "cp_url": "https://cp.example.com/", "owner": "github:org/octo-org", "node_size": "tiny",
        "datacenter": "gcp:us-central1-a", "vm_name": "from-file", "workload_runtime": "process",
        "process_command": ["/bin/sh", "-c", "serve"], "listen": "127.0.0.1:9000"}, separators=(",", ":"))))
    put("fuzz_agent_config", "bootstrap.json", mode(0,
        '{"mode":"cp-bootstrap","cp_command":["/usr/bin/ee-cp","--dev"],"refused_retry":30,'
        '"ita_api_key":"k","log_buffer_bytes":65536,"cp_env":["EE_DB=/var/lib/ee/cp.db"]}'))
    put("fuzz_agent_config", "value.txt", mode(1, "heartbeat_interval=30"))
    put("fuzz_agent_config", "value_list.txt", mode(1, "process_command=/bin/sh,-c,serve"))
    # 2: ee-cp's settings as the admin settings routes take them
    put("fuzz_agent_config", "cp_seconds.txt", mode(2, "heartbeat_interval=5m"))
    put("fuzz_agent_config", "cp_list.txt", mode(2, "trusted_proxies= 127.0.0.1 ,,10.0.0.0/8"))
    put("fuzz_agent_config", "cp_choice.txt", mode(2, "nonce_mode=optional"))
    put("fuzz_agent_config", "cp_integer.txt", mode(2, "threads=64"))
    put("fuzz_agent_config", "cp_boolean.txt", mode(2, "allow_debug_td=Off"))

    # --- signed requests (fuzz/data/signing_key.pem, at 2026-12-01T00:00:00Z)
    signing_key = serialization.load_pem_private_key((HERE / "data/signing_key.pem").read_bytes(), None)

    def signed(method, target, body, ts=1796083200):
        digest = hashlib.sha256(body.encode()).hexdigest()
        message = f"ee-request-v1\n{method}\n{target}\n{ts}\n{digest}".encode()
        r, s = utils.decode_dss_signature(signing_key.sign(message, ec.ECDSA(hashes.SHA256())))
        sig = b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        head = f"{method} {target} HTTP/1.1\r\nHost: agent\r\nX-EE-Timestamp: {ts}\r\nX-EE-Signature: {sig}\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        return head + "\r\n" + body

    put("fuzz_signed_request", "deploy.http", signed("POST", "/api/deploy", '{"deployment_id":"d1"}'))
    put("fuzz_signed_request", "logs.http", signed("GET", "/api/logs?lines=10", ""))
    put("fuzz_signed_request", "old.http", signed("GET", "/api/stats", "", ts=1796083200 - 301))

    console_token_seeds(signing_key)

    # --- CP/agent messages: mode byte, then the body
    pub = base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    messages = [
        {"nonce": NONCE, "expires_in_seconds": 300, "ttl_seconds": 300, "issued_at": "2025-10-09T08:53:20Z"},
        {"vm_name": "tdx-vm-1", "owner": "github:org/octo-org", "node_size": "tiny",
         "datacenter": "gcp:us-central1-a", "nonce": NONCE, "public_key": pub,
         "quote_b64": base64.b64encode(quote[:64]).decode(), "agent_url": "http://127.0.0.1:8081"},
        {"agent_id": "a1", "tunnel_token": "t", "hostname": "a1.agents.example.com",
         "heartbeat_interval_seconds": 30, "cp_public_key": pub},
        {"status": "running", "image_digest": "sha256:" + "ab" * 32, "deployment_id": "d1",
         "nonce": NONCE, "intel_ta_token": "x.y.z"},
        {"nonce": NONCE, "heartbeat_interval_seconds": 30},
        {"deployment_id": "d1", "app_name": "app", "version": "1.0",
         "image": "registry.example.com/app@sha256:" + "cd" * 32, "env": {"A": "1"}},
        {"deployment_id": "d1"},
        {"deployment_id": "d1", "status": "running"},
    ]
    for i, m in enumerate(messages):
        put("fuzz_api_messages", f"message_{i}.json", mode(i, json.dumps(m, separators=(",", ":"))))
    put("fuzz_api_messages", "public_key_b64.txt", mode(8, pub))
    put("fuzz_api_messages", "public_key.pem", mode(8, (HERE / "data/signing_key.pub.pem").read_bytes()))

    # --- CP inputs: 0 agent_url, 1 agent network entries, 2 nonce ('$' is the issued one),
    # 3 agent health, 4 quote file, 7 image reference. The seeds of 5 and 6 (deploy body and
    # answer), 8 (the catalog views) and the full health answers are api::to_json output, not
    # written here (corpus/README.md).
    for i, url in enumerate(["http://10.1.2.3:8081", "https://[fd00::1]:443/path?q", "http://a.tunnel.example",
                             "http://169.254.169.254/latest", "HTTP://User@Host:80#x"]):
        put("fuzz_cp_inputs", f"agent_url_{i}.txt", mode(0, url))
    put("fuzz_cp_inputs", "networks.txt", mode(1, "10.0.0.0/8\nfd00::/8\n*.tunnel.example\nagents.example"))
    put("fuzz_cp_inputs", "nonce_issued.txt", mode(2, "$|vm-1"))
    put("fuzz_cp_inputs", "nonce_other_vm.txt", mode(2, "$|vm-2"))
    put("fuzz_cp_inputs", "nonce_unknown.txt", mode(2, NONCE + "|vm-1"))
    put("fuzz_cp_inputs", "health.json", mode(3, json.dumps(
        {"status": "ok", "agent_id": "a1", "workload": {"state": "running", "deployment_id": "d1",
                                                         "image_digest": "sha256:" + "ab" * 32}})))
    quote = td("quotes/tdx_v4_dcapqvl.dat")
    put("fuzz_cp_inputs", "quote_binary.dat", mode(4, quote))
    put("fuzz_cp_inputs", "quote_hex.txt", mode(4, quote.hex() + "\n"))
    put("fuzz_cp_inputs", "quote_base64.txt", mode(4, base64.b64encode(quote) + b"\n"))
    # 7 image references
    for name, ref in [("image_pinned.txt", "registry.local:5000/acme/app-x__y:v1.2@sha256:" + "ab" * 32),
                      ("image_tag.txt", "docker.io/library/nginx:1.27"),
                      ("image_ipv6.txt", "[fd00::1]:5000/a.b/c"),
                      ("image_bad.txt", "ghcr.io/Acme/app@sha256:AB")]:
        put("fuzz_cp_inputs", name, mode(7, ref))



def console_token_seeds(signing_key):
    """fuzz_console_token: 0 console tokens (signed with fuzz/data/signing_key.pem for agent "a-1"
    at 2026-12-01T00:00:00Z), 1 status reports, 2 deployed reports, 3 console-access bodies, 4
    agent stats."""
    def b64u(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    def token(header, payload, sign=True):
        h = b64u(json.dumps(header, separators=(",", ":")).encode())
        p = b64u(json.dumps(payload, separators=(",", ":")).encode())
        if not sign:
            return f"{h}.{p}." + b64u(bytes(64))
        r, s = utils.decode_dss_signature(signing_key.sign(f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256())))
        return f"{h}.{p}." + b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    header = {"alg": "ES256", "typ": "ee-console+jwt"}
    claims = {"agent_id": "a-1", "scope": ["logs", "stats"], "iat": 1796083200, "exp": 1796083200 + 900,
              "jti": "0123456789abcdef0123456789abcdef"}
    put("fuzz_console_token", "token_valid.txt", mode(0, token(header, claims)))
    put("fuzz_console_token", "token_other_agent.txt", mode(0, token(header, dict(claims, agent_id="a-2"))))
    put("fuzz_console_token", "token_unsigned.txt", mode(0, token(header, claims, sign=False)))
    put("fuzz_console_token", "token_alg_none.txt", mode(0, token({"alg": "none", "typ": "ee-console+jwt"}, claims)))
    put("fuzz_console_token", "token_long_life.txt", mode(0, token(header, dict(claims, exp=1796083200 + 7200))))
    put("fuzz_console_token", "status.json", mode(1, json.dumps(
        {"status": "running", "deployment_id": "d1", "image_digest": "sha256:" + "ab" * 32, "rolled_back": "d0"})))
    put("fuzz_console_token", "deployed.json", mode(2, json.dumps(
        {"deployment_id": "d1", "image_digest": "sha256:" + "ab" * 32})))
    put("fuzz_console_token", "console_access.json", mode(3, '{"ttl_seconds":1800}'))
    put("fuzz_console_token", "stats.json", mode(4, json.dumps(
        {"cpu": {"count": 4, "load1": 0.25, "load5": 0.5, "load15": 1.0},
         "memory": {"total_bytes": 4294967296, "available_bytes": 2147483648},
         "disk": {"path": "/var/lib/easyenclave", "total_bytes": 10737418240, "available_bytes": 5368709120},
         "uptime": {"system_seconds": 1234.56, "agent_seconds": 1200}}, separators=(",", ":"))))

if __name__ == "__main__":
    sys.exit(main())
