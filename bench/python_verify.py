#!/usr/bin/env python3
"""How fast verification is from Python, beside the C++ library and the physical limit.

    PYTHONPATH=build/rel/python python3 bench/python_verify.py [--build build/rel] [--no-connect]
        [--compare-build DIR]

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
import json
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


def p50(fn, samples):
    """Median seconds of fn() over `samples` calls, after a warm-up call."""
    fn()
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[samples // 2]


def connect_steps(easyenclave, net, agent, samples):
    """What each step of a connect() costs on its own, measured from Python over one keep-alive
    connection per server (http.client): the CP's catalog reads, the agent's attested health (a
    fresh quote), and the verification of that quote under the simulator's root without any
    cache (verify_quote with a root= other than Intel's keeps no verifier; connect keeps one per
    root, so its cost is close to the cached verification above)."""
    import http.client
    import urllib.parse

    def getter(base):
        url = urllib.parse.urlparse(base)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)

        def get(path):
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            assert response.status == 200, (path, response.status, body[:200])
            return body
        return get

    cp, agent_get = getter(net.cp_url), getter(agent.api_url)
    steps = {}
    for name, path in (("GET /api/v1/apps", "/api/v1/apps"),
                       ("GET /api/v1/apps/hello", "/api/v1/apps/hello"),
                       ("GET /api/v1/deployments?...", "/api/v1/deployments?status=running&app_name=hello"),
                       ("GET /api/v1/agents/{id}", "/api/v1/agents/" + agent.agent_id)):
        steps[name] = p50(lambda: cp(path), samples)
    health = lambda: agent_get("/api/health?attest=true&nonce=" + os.urandom(32).hex())  # noqa: E731
    steps["agent GET /api/health?attest=true (a fresh quote)"] = p50(health, samples)
    import base64
    quote = base64.b64decode(json.loads(health())["attestation"]["quote_b64"])
    root, collateral = net.simulator.root_pem, net.simulator.collateral
    verdict = easyenclave.verify_quote(quote, collateral, root=root)
    assert verdict.tcb_status == "UpToDate", verdict.tcb_status
    steps["verify_quote, simulator root, uncached"] = p50(
        lambda: easyenclave.verify_quote(quote, collateral, root=root), samples)
    return steps


# connect() timings in another process, with another build's module (--compare-build): one line
# on stdin asks for that many connects, one JSON list of seconds comes back.
COMPARE_WORKER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import easyenclave
target, cp_url, root_file, collateral_file = sys.argv[2:6]
root = open(root_file).read()
collateral = easyenclave.Collateral.from_file(collateral_file)
for line in sys.stdin:
    times = []
    for _ in range(int(line)):
        start = time.perf_counter()
        conn = easyenclave.connect(target, cp_url, root=root, collateral=collateral)
        times.append(time.perf_counter() - start)
        assert conn.checks[-1]["name"] == "tcb_policy" and conn.checks[-1]["passed"], conn.report()
    print(json.dumps(times), flush=True)
"""


def summary(latencies):
    latencies = sorted(latencies)
    return {"p50": latencies[len(latencies) // 2], "max": latencies[-1], "samples": len(latencies)}


def bench_connect(easyenclave, build: Path, samples=40, compare: Path | None = None, batch=10):
    """connect() latency against the local network of `make demo` (scripts/local_network.py):
    ee-cp --dev, one ee-agent with simulator quotes running hello-tdx, the GitHub stand-in."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import local_network as ln

    with tempfile.TemporaryDirectory(prefix="ee-bench-") as tmp:
        with ln.Network(work=Path(tmp), bin=build / "cli") as net:
            # Each sample makes 4 anonymous catalog reads (5 for a repository whose app has
            # another name) and the step timings many more: without this the CP's per-address
            # limit (a burst of 120, then 600 a minute) would answer 429 part-way through.
            net.start_core(cp_env=lambda _github: {"EE_RATE_LIMIT_ANONYMOUS_PER_MINUTE": "0"})
            agent = net.start_agent("vm-bench", "github:org/bench")
            net.wait_registered(agent)
            status, body, _ = net.publish("bench/hello", "hello")
            assert status == 201, body
            status, body = net.deploy("bench/hello", "hello")
            assert status == 200, body
            net.wait_running(body["deployment_id"])
            options = {"root": net.simulator.root_pem, "collateral": net.simulator.collateral}
            conn = easyenclave.connect("bench/hello", net.cp_url, **options)  # warm-up
            # Every sample must be a full, passing verification of this agent.
            assert conn.agent_id == agent.agent_id and conn.appraisal.tcb_status == "UpToDate"
            assert all(c["passed"] or c["skipped"] for c in conn.checks)
            other = None
            if compare is not None:
                other = subprocess.Popen(
                    [sys.executable, "-c", COMPARE_WORKER, str(compare / "python"), "bench/hello",
                     net.cp_url, str(net.work / "simulator-root.pem"),
                     str(net.work / "simulator-collateral.json")],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

            def compared(n):
                other.stdin.write(f"{n}\n")
                other.stdin.flush()
                line = other.stdout.readline()
                assert line, "the comparison worker failed"
                return json.loads(line)

            if other:
                compared(1)  # warm-up
            # In alternating batches with the comparison, so a change in the machine's load
            # falls on both alike.
            latencies, others = [], []
            for _ in range(samples // batch):
                for _ in range(batch):
                    start = time.perf_counter()
                    conn = easyenclave.connect("bench/hello", net.cp_url, **options)
                    latencies.append(time.perf_counter() - start)
                    assert conn.checks[-1]["name"] == "tcb_policy" and conn.checks[-1]["passed"]
                if other:
                    others += compared(batch)
            figures = summary(latencies)
            if other:
                other.stdin.close()
                other.wait(timeout=30)
                figures["compare"] = summary(others)
            figures["request"] = p50(lambda: conn.get("/bench"), samples)
            figures["steps"] = connect_steps(easyenclave, net, agent, samples)
            return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.environ.get("EE_BUILD_DIR", str(ROOT / "build/ci")))
    parser.add_argument("--testdata", default=str(ROOT.parent / "shared" / "testdata"))
    parser.add_argument("--no-connect", action="store_true")
    parser.add_argument("--compare-build", default="",
                        help="also time connect with this build's module (its python/ directory),"
                             " e.g. one of the previous commit, against the same network")
    args = parser.parse_args()
    build, testdata = Path(args.build), Path(args.testdata)
    sys.path.insert(0, str(build / "python"))
    import easyenclave

    print(f"easyenclave {easyenclave.__version__}, Python {sys.version.split()[0]}, one thread")
    quotes = bench_quotes(easyenclave, testdata)
    tokens = bench_tokens(easyenclave, testdata)
    cq = cpp_figures(build / "bench/bench_quote_verify", testdata)
    cj = cpp_figures(build / "bench/bench_jwt_verify", testdata)
    ecdsa = cq["OpenSSL ECDSA P-256 verify (openssl speed's way)"]
    cpp_cached = cq["verify full, platform seen before (Verifier)"]
    rsa = cj["OpenSSL raw RSA-3072 verify"]

    # The same quote again and again: a platform the cached verifier has seen, whose attestation
    # key and QE report it remembers, so one ECDSA verification (the quote's) per call.
    print("\nquotes (tdx_v4_dcapqvl.dat, full verification, cached verifier)")
    row("OpenSSL ECDSA P-256 verify (C; limit: one per quote)", ecdsa)
    row("C++ Verifier, full, platform seen before", cpp_cached)
    for name, value in quotes.items():
        row("Python " + name, value)
    best = quotes["verify_quote (bytes, full, cached)"]
    print(f"  Python verify_quote / limit:   {best / ecdsa:.2f}")
    print(f"  Python verify_quote / C++:     {best / cpp_cached:.2f}")

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
        compare = Path(args.compare_build) if args.compare_build else None
        figures = bench_connect(easyenclave, build, compare=compare)
        print(f"\nconnect (local network, {figures['samples']} calls; each: catalog lookups, a")
        print("fresh quote over the client's nonce, full verification; limit: the verification)")
        print(f"  p50 {figures['p50'] * 1e3:.2f} ms, max {figures['max'] * 1e3:.2f} ms,"
              f" one quote verification {1e3 / best:.2f} ms")
        print(f"  connect p50 / one cached verification: {figures['p50'] * best:.1f}")
        if "compare" in figures:
            c = figures["compare"]
            print(f"  with {args.compare_build}'s module (alternating batches of 10):"
                  f" p50 {c['p50'] * 1e3:.2f} ms, max {c['max'] * 1e3:.2f} ms,"
                  f" p50 / one cached verification {c['p50'] * best:.1f}")
        print(f"  then Connection.get on the verified endpoint: p50 {figures['request'] * 1e3:.2f} ms")
        print("  the steps alone, from Python (p50; a keep-alive connection per server):")
        for name, seconds in figures["steps"].items():
            print(f"    {name:<56} {seconds * 1e3:>7.2f} ms")


if __name__ == "__main__":
    main()
