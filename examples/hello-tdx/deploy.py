#!/usr/bin/env python3
"""Publish a version of this app to an easyenclave control plane and deploy it, from GitHub Actions.

No account or API key: the workflow's OIDC token (audience "easyenclave") is the credential. The
control plane checks its signature with GitHub's keys, then uses two claims: `repository` must be
the app's source repository to publish it, and `repository_owner` must own the agent (its label
`github:org/NAME`) to deploy to it. Standard library only, so it runs on any runner.

    deploy.py --cp-url URL --app NAME --version V --image NAME@sha256:HEX [--mrtd HEX]
              [--node-size SIZE] [--datacenter CLOUD:ZONE] [--wait SECONDS]

The token is EE_OIDC_TOKEN when set (the workflow fetches it), else it is requested from
ACTIONS_ID_TOKEN_REQUEST_URL with ACTIONS_ID_TOKEN_REQUEST_TOKEN, which GitHub sets in jobs with
`permissions: id-token: write`. The routes and bodies are in docs/api.md.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def call(method, url, body=None, token=None, timeout=30):
    """One JSON request; returns (status, decoded body). HTTP errors are answers, not exceptions."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, {"code": "http", "message": text.decode(errors="replace")}


def oidc_token(audience="easyenclave"):
    """The workflow's OIDC token for `audience` (a JWT; never printed)."""
    url = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")
    if not url:
        sys.exit("deploy: ACTIONS_ID_TOKEN_REQUEST_URL is not set; the job needs "
                 "`permissions: id-token: write`")
    separator = "&" if "?" in url else "?"
    status, body = call("GET", f"{url}{separator}audience={urllib.parse.quote(audience)}",
                        token=os.environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
    if status != 200 or not isinstance(body, dict) or "value" not in body:
        sys.exit(f"deploy: the OIDC token request answered {status}")
    return body["value"]


def fail(what, status, body):
    body = body if isinstance(body, dict) else {}
    sys.exit(f"deploy: {what}: {status} {body.get('code', '')}: {body.get('message', '')}")


def agent_mrtd(cp, node_size):
    """The agent image measurement the CP trusts (the catalog pins each version to one)."""
    status, listed = call("GET", f"{cp}/api/v1/trusted-mrtds")
    if status != 200:
        fail("GET /api/v1/trusted-mrtds", status, listed)
    for m in listed:
        if m.get("type", "agent") == "agent" and m.get("node_size", "") in ("", node_size or ""):
            return m["mrtd"]
    sys.exit("deploy: the control plane trusts no agent MRTD; pass --mrtd")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cp-url", default=os.environ.get("EE_CP_URL"), required="EE_CP_URL" not in os.environ)
    parser.add_argument("--app", required=True, help="catalog name: 1-63 of [a-z0-9-]")
    parser.add_argument("--version", required=True)
    parser.add_argument("--image", required=True, help="NAME@sha256:<64 hex>, pinned by digest")
    parser.add_argument("--description", default="")
    parser.add_argument("--source-repo", default=os.environ.get("GITHUB_REPOSITORY"))
    parser.add_argument("--mrtd", default=os.environ.get("EE_AGENT_MRTD") or None,
                        help="96 hex (env EE_AGENT_MRTD); default: the agent MRTD the CP trusts")
    parser.add_argument("--node-size", default="")
    parser.add_argument("--datacenter", default="")
    parser.add_argument("--wait", type=float, default=0, help="seconds to wait for status running")
    args = parser.parse_args()
    cp = args.cp_url.rstrip("/")

    token = os.environ.get("EE_OIDC_TOKEN") or oidc_token()
    mrtd = args.mrtd or agent_mrtd(cp, args.node_size)
    version = {"version": args.version, "image": args.image, "mrtd": mrtd, "node_size": args.node_size}

    # Publish: the first run creates the app (the token's repository must be source_repo); later
    # runs add a version (any repository of the same owner may).
    status, body = call("POST", f"{cp}/api/v1/apps", token=token,
                        body={"name": args.app, "description": args.description,
                              "source_repo": args.source_repo, **version})
    if status == 409:
        status, body = call("POST", f"{cp}/api/v1/apps/{args.app}/versions", token=token, body=version)
        if status == 409:
            print(f"deploy: {args.app} {args.version} is already in the catalog", file=sys.stderr)
        elif status != 201:
            fail(f"POST /api/v1/apps/{args.app}/versions", status, body)
    elif status != 201:
        fail("POST /api/v1/apps", status, body)
    print(f"deploy: published {args.app} {args.version} ({args.image})", file=sys.stderr)

    # Deploy on an idle, verified agent whose owner label the token's repository_owner owns.
    request = {"app_name": args.app, "version": args.version}
    if args.node_size:
        request["node_size"] = args.node_size
    if args.datacenter:
        request["datacenter"] = args.datacenter
    status, deployment = call("POST", f"{cp}/api/v1/deploy", token=token, body=request)
    if status != 200:
        fail("POST /api/v1/deploy", status, deployment)
    print(f"deploy: deployment {deployment['deployment_id']} on agent {deployment['agent_id']}",
          file=sys.stderr)

    # The deployment becomes running once the agent's heartbeat reports the catalog's digest.
    deadline = time.monotonic() + args.wait
    while args.wait and deployment.get("status") != "running":
        if deployment.get("status") in ("failed", "stopped") or time.monotonic() > deadline:
            sys.exit(f"deploy: deployment is {deployment.get('status')}: {deployment.get('detail', '')}")
        time.sleep(0.5)
        status, deployment = call("GET", f"{cp}/api/v1/deployments/{deployment['deployment_id']}")
        if status != 200:
            fail("GET /api/v1/deployments", status, deployment)
    print(json.dumps(deployment))


if __name__ == "__main__":
    main()
