#!/usr/bin/env python3
"""How fast verification is from Python, beside the C++ library and the physical limit.

    PYTHONPATH=build/rel/python python3 bench/python_verify.py [--build build/rel] [--no-connect]

Measures, on one thread:
  - easyenclave.verify_quote on the real quote tdx_v4_dcapqvl.dat with its collateral at the
    clock 1752919234 (Intel's root; the verifier caches the verified chain and collateral, as a
    service that checks many quotes would);
  - easyenclave.verify_ita_token on Intel's production token at the clock 1701735000;
  - easyenclave.connect against a local network (ee-cp --dev, an ee-agent with simulator quotes,
    the GitHub stand-in), end to end: catalog lookup, a fresh attested health answer, local DCAP
    verification of the quote and every check.

In the same run it starts the C++ benchmarks bench_quote_verify and bench_jwt_verify from the
build, which measure the same calls in C++ and OpenSSL's own signature verifications (the
physical limit: two ECDSA P-256 verifications per quote, one RSA-3072 verification per token),
and prints the Python figures beside them, so the cost of the binding is visible as a ratio.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rate(fn, seconds=1.5, batch=32):
    """Calls per second of fn() over about `seconds`, after a warm-up call."""
    fn()
    count = 0
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            fn()
        count += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count / elapsed


def cpp_figures(program: Path, testdata: Path) -> dict:
    """The "<name>  <n> /s" lines a C++ benchmark prints, by name."""
    out = subprocess.run(
        [str(program), str(testdata)], check=True, capture_output=True, text=True, timeout=120
    ).stdout
    figures = {}
    for line in out.splitlines():
        m = re.match(r"\s+(.+?)\s{2,}(\d+) /s", line)
        if m:
            figures[m.group(1).strip()] = int(m.group(2))
    return figures


def row(name, value, unit="/s"):
    print(f"  {name:<52} {value:>10.0f} {unit}")


def bench_quotes(easyenclave, testdata: Path):
    quote = (testdata / "attestation/quotes/tdx_v4_dcapqvl.dat").read_bytes()
    collateral = easyenclave.Collateral.from_file(
        testdata / "attestation/collateral/dcapqvl_tdx_b0c06f000000.json"
    )
    at = 1752919234
    verdict = easyenclave.verify_quote(quote, collateral, at=at)
    assert verdict.tcb_status == "UpToDate", verdict.tcb_status
    parsed = easyenclave.parse_quote(quote)
    return {
        "parse_quote": rate(lambda: easyenclave.parse_quote(quote), batch=256),
        "verify_quote (bytes, full, cached)": rate(
            lambda: easyenclave.verify_quote(quote, collateral, at=at)
        ),
        "verify_quote (parsed Quote, full, cached)": rate(
            lambda: easyenclave.verify_quote(parsed, collateral, at=at)
        ),
    }


def bench_tokens(easyenclave, testdata: Path):
    folder = testdata / "attestation/ita"
    token = (folder / "ita_tdx_token_prod_20231205.jwt").read_text()
    jwks = (folder / "ita_jwks_prod_2023.json").read_text()
    at = 1701735000
    assert easyenclave.verify_ita_token(token, jwks, at=at).tcb_status == "OutOfDate"
    return {"verify_ita_token": rate(lambda: easyenclave.verify_ita_token(token, jwks, at=at))}


def bench_connect(easyenclave, build: Path, samples=20):
    """connect() latency against the local network of `make demo` (scripts/local_network.py):
    ee-cp --dev, one ee-agent with simulator quotes running hello-tdx, the GitHub stand-in."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import local_network as ln

    with tempfile.TemporaryDirectory(prefix="ee-bench-") as tmp:
        with ln.Network(work=Path(tmp), bin=build / "cli") as net:
            net.start_core()
            agent = net.start_agent("vm-bench", "github:org/bench")
            net.wait_registered(agent)
            status, body, _ = net.publish("bench/hello", "hello")
            assert status == 201, body
            status, body = net.deploy("bench/hello", "hello")
            assert status == 200, body
            net.wait_running(body["deployment_id"])
            options = {"root": net.simulator.root_pem, "collateral": net.simulator.collateral}
            easyenclave.connect("bench/hello", net.cp_url, **options)  # warm-up
            latencies = []
            for _ in range(samples):
                start = time.perf_counter()
                easyenclave.connect("bench/hello", net.cp_url, **options)
                latencies.append(time.perf_counter() - start)
            latencies.sort()
            return {"p50": latencies[len(latencies) // 2], "max": latencies[-1],
                    "samples": samples}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.environ.get("EE_BUILD_DIR", str(ROOT / "build/ci")))
    parser.add_argument("--testdata", default=str(ROOT.parent / "shared" / "testdata"))
    parser.add_argument("--no-connect", action="store_true")
    args = parser.parse_args()
    build, testdata = Path(args.build), Path(args.testdata)
    sys.path.insert(0, str(build / "python"))
    import easyenclave

    print(f"easyenclave {easyenclave.__version__}, Python {sys.version.split()[0]}, one thread")
    quotes = bench_quotes(easyenclave, testdata)
    tokens = bench_tokens(easyenclave, testdata)
    cq = cpp_figures(build / "bench/bench_quote_verify", testdata)
    cj = cpp_figures(build / "bench/bench_jwt_verify", testdata)
    ecdsa = cq["OpenSSL EVP_DigestVerify P-256 (limit x2)"]
    rsa = cj["OpenSSL raw RSA-3072 verify"]

    print("\nquotes (tdx_v4_dcapqvl.dat, full verification, cached chain)")
    row("OpenSSL ECDSA P-256 verify (C)", ecdsa)
    row("limit: ECDSA / 2", ecdsa / 2)
    row("C++ Verifier, full, cached", cq["verify full, cached (Verifier)"])
    for name, value in quotes.items():
        row("Python " + name, value)
    best = quotes["verify_quote (bytes, full, cached)"]
    print(f"  Python verify_quote / limit:   {best / (ecdsa / 2):.2f}")
    print(f"  Python verify_quote / C++:     {best / cq['verify full, cached (Verifier)']:.2f}")

    print("\nITA tokens (production token, PS384, RSA-3072)")
    row("OpenSSL raw RSA-3072 verify (C)", rsa)
    row("C++ verify_ita_token", cj["jwt::verify_ita_token (PS384 + TDX claims)"])
    row("Python verify_ita_token", tokens["verify_ita_token"])
    print(f"  Python verify_ita_token / limit: {tokens['verify_ita_token'] / rsa:.2f}")
    print(
        "  Python verify_ita_token / C++:   "
        f"{tokens['verify_ita_token'] / cj['jwt::verify_ita_token (PS384 + TDX claims)']:.2f}"
    )

    if not args.no_connect:
        figures = bench_connect(easyenclave, build)
        print(f"\nconnect (local network, {figures['samples']} calls; each: catalog lookups, a")
        print("fresh quote over the client's nonce, full verification; limit: the verification)")
        print(f"  p50 {figures['p50'] * 1e3:.1f} ms, max {figures['max'] * 1e3:.1f} ms,"
              f" one quote verification {1e3 / best:.2f} ms")


if __name__ == "__main__":
    main()
