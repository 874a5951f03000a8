#!/usr/bin/env python3
"""Talk to hello-tdx only after checking that it runs in a genuine, measured TDX VM.

    pip install dist/easyenclave-*.whl    # built by `make wheel` in a clone of easyenclave,
                                          # or `pip install .` there (docs/packaging.md)
    python3 client.py org/repo [--cp-url https://cp.example.com]

`easyenclave.connect` resolves the service through the control plane, asks the agent in front of
it for a fresh quote that binds a nonce it chose, verifies that quote (Intel's signature chain,
TCB status, the measurements the policy expects) and only then returns a connection. Every
failure raises an `easyenclave.Error` subclass before a single request reaches the service.
"""

import argparse
import sys

import easyenclave


def main():
    parser = argparse.ArgumentParser(description="Verify hello-tdx's attestation, then call it.")
    parser.add_argument("target", help='the app\'s source repository, "org/repo"')
    parser.add_argument("--cp-url", default=None, help="the control plane (default: the package's)")
    parser.add_argument("--path", default="/", help="what to GET once verified")
    # Development only: `make demo`'s agents sign quotes with the simulator's PKI, not Intel's.
    parser.add_argument("--root", help="PEM of the root CA to trust instead of Intel's (dev)")
    parser.add_argument("--collateral", help="collateral bundle file instead of Intel PCS (dev)")
    args = parser.parse_args()

    options = {}
    if args.root:
        options["root"] = open(args.root).read()
    if args.collateral:
        options["collateral"] = easyenclave.Collateral.from_file(args.collateral)
    try:
        connection = easyenclave.connect(args.target, args.cp_url, timeout=10, **options)
    except easyenclave.Error as error:
        # Refused or unreachable: the reason says which check failed (code: error.code).
        print(f"not connecting to {args.target}: {error}", file=sys.stderr)
        return 1

    print(f"verified {args.target} at {connection.endpoint}")
    print(connection.report())  # what was checked: MRTD, RTMRs, TCB status, report data binding
    print(connection.get(args.path).text)  # the service's answer, over the verified endpoint
    return 0


if __name__ == "__main__":
    sys.exit(main())
