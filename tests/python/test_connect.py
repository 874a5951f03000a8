"""easyenclave.connect end to end: the real ee-cp (--dev) and ee-agent (simulator quotes, a process
workload serving HTTP) from the build, GitHub OIDC tokens from ee-fake-github, and the Python
package verifying the agent before talking to its workload.

The programs are found in ``$EE_BUILD_DIR/cli`` (the Makefile sets EE_BUILD_DIR); without them the
test is skipped.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import easyenclave

IMAGE = "registry.example/octo-org/hello@sha256:" + "c" * 64


def program(name: str) -> Path:
    build = os.environ.get("EE_BUILD_DIR")
    if not build:
        pytest.skip("EE_BUILD_DIR is not set: the programs of a build are needed")
    path = Path(build) / "cli" / name
    if not path.exists():
        pytest.skip(f"{path} is not built")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Program:
    """A program from the build with stdout and stderr in files."""

    def __init__(self, argv, workdir: Path, name: str):
        self.out = workdir / f"{name}.out"
        self.err = workdir / f"{name}.err"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.process = subprocess.Popen([str(a) for a in argv], stdout=out, stderr=err)

    def listening_url(self, timeout=20.0) -> str:
        def found():
            if self.process.poll() is not None:
                raise AssertionError(f"exited {self.process.returncode}: {self.err.read_text()}")
            m = re.search(r'"event":"listening","url":"([^"]+)"', self.out.read_text())
            return m.group(1) if m else None

        return wait_for(found, timeout, "the listening line")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def call(method, url, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


WORKLOAD = r"""
import http.server, json, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"app": os.environ.get("EE_APP_NAME", ""), "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """A CP with app 'hello' (source octo-org/hello) deployed and running on one agent."""
    work = tmp_path_factory.mktemp("connect")
    sim_dir = work / "simulator"
    simulator = easyenclave.Simulator.create(dir=sim_dir)
    programs = []
    try:
        github = Program([program("ee-fake-github"), "--listen", "127.0.0.1:0"], work, "github")
        programs.append(github)
        github_url = github.listening_url()

        cp_port = free_port()
        cp = Program(
            [program("ee-cp"), "--dev", "--listen", f"127.0.0.1:{cp_port}", "--db", work / "cp.db",
             "--simulator-dir", sim_dir, "--appraisal", "local",
             "--github-jwks-url", github_url + "/.well-known/jwks", "--heartbeat-interval", "1",
             "--health-scrape-interval", "0", "--admin-token", "connect-admin"],
            work, "cp")
        programs.append(cp)
        cp_url = cp.listening_url()

        def token(repository):
            with urllib.request.urlopen(
                    f"{github_url}/token?audience=easyenclave&repository={repository}") as r:
                return json.loads(r.read())["value"]

        owner_token = token("octo-org/hello")
        status, body = call("POST", cp_url + "/api/v1/apps", {
            "name": "hello", "description": "connect test", "source_repo": "octo-org/hello",
            "version": "1.0.0", "image": IMAGE, "mrtd": simulator.mr_td.hex()}, owner_token)
        assert status == 201, body

        agent_port, workload_port = free_port(), free_port()
        script = work / "workload.py"
        script.write_text(WORKLOAD)
        config = work / "agent.json"
        config.write_text(json.dumps({
            "owner": "github:org/octo-org", "node_size": "tiny", "datacenter": "gcp:us-central1-a",
            "workload_runtime": "process", "workload_port": workload_port,
            "process_command": [sys.executable, str(script), str(workload_port)]}))
        agent = Program(
            [program("ee-agent"), "--config", config, "--cmdline", work / "no-cmdline",
             "--cp-url", cp_url, "--vm-name", "vm-connect", "--listen", f"127.0.0.1:{agent_port}",
             "--agent-url", f"http://127.0.0.1:{agent_port}", "--state-dir", work / "state",
             "--provider", "simulator", "--simulator-dir", sim_dir],
            work, "agent")
        programs.append(agent)

        def registered():
            status, agents = call("GET", cp_url + "/api/v1/agents?vm_name=vm-connect")
            return agents[0] if status == 200 and agents and agents[0]["verified"] else None

        agent_id = wait_for(registered, 30, "the agent to register")["agent_id"]
        status, body = call("POST", cp_url + "/api/v1/deploy",
                            {"app_name": "hello", "version": "1.0.0", "agent_id": agent_id},
                            owner_token)
        assert status == 200, body

        def running():
            status, deployments = call(
                "GET", cp_url + "/api/v1/deployments?app_name=hello&status=running")
            return status == 200 and len(deployments) == 1

        wait_for(running, 30, "the deployment to run")
        yield {"cp_url": cp_url, "simulator": simulator, "agent_id": agent_id,
               "agent_url": f"http://127.0.0.1:{agent_port}", "github_url": github_url}
    finally:
        for p in reversed(programs):
            p.stop()


def test_connect_verifies_the_agent_then_talks_to_its_workload(deployed):
    sim = deployed["simulator"]
    conn = easyenclave.connect("octo-org/hello", deployed["cp_url"], root=sim.root_pem,
                               collateral=sim.collateral)
    assert isinstance(conn, easyenclave.Connection)
    assert conn.endpoint == deployed["agent_url"]
    assert conn.agent_id == deployed["agent_id"]
    assert conn.app == "hello" and conn.version == "1.0.0" and conn.image == IMAGE
    assert isinstance(conn.appraisal, easyenclave.Appraisal)
    assert conn.appraisal.appraised_by == "local_dcap"
    assert conn.appraisal.mr_td == sim.mr_td
    assert conn.appraisal.tcb_status == "UpToDate"
    assert conn.appraisal.report_data[32:] != bytes(32)  # the agent's key hash
    assert conn.agent_public_key
    names = [c["name"] for c in conn.checks]
    for name in ("nonce", "key_binding", "agent_key", "mrtd", "image_digest", "tcb_policy"):
        assert name in names
    assert all(c["passed"] or c["skipped"] for c in conn.checks)
    report = conn.report()
    assert "PASS nonce" in report and "PASS image_digest" in report

    response = conn.get("/hello?x=1")
    assert isinstance(response, easyenclave.Response)
    assert response.status == 200 and response.ok
    assert response.json() == {"app": "hello", "path": "/hello?x=1"}


def test_connect_by_app_name_with_cp_url_from_the_environment(deployed, monkeypatch):
    sim = deployed["simulator"]
    monkeypatch.setenv("EE_CP_URL", deployed["cp_url"])
    conn = easyenclave.connect("hello", root=sim.root_pem, collateral=sim.collateral,
                               max_evidence_age=0.001)
    time.sleep(0.01)
    conn.get("/again")  # re-verifies first: the evidence is older than max_evidence_age
    assert conn.verified_at is not None


def test_a_wrong_expectation_raises_verification_error_naming_the_check(deployed):
    sim = deployed["simulator"]
    with pytest.raises(easyenclave.VerificationError) as e:
        easyenclave.connect("octo-org/hello", deployed["cp_url"], root=sim.root_pem,
                            collateral=sim.collateral, policy={"allowed_mrtds": ["ab" * 48]})
    assert e.value.check == "tcb_policy"
    assert e.value.code == "client.policy_refused"
    assert "check 'tcb_policy' failed" in str(e.value)
    assert "FAIL tcb_policy" in e.value.report

    # Intel's root (the default) does not trust the simulator's quotes.
    with pytest.raises(easyenclave.VerificationError) as e:
        easyenclave.connect("octo-org/hello", deployed["cp_url"], collateral=sim.collateral)
    assert e.value.check == "quote"
    assert "Intel SGX Root CA" in str(e.value)


def test_an_unknown_app_raises_not_found(deployed):
    with pytest.raises(easyenclave.NotFound) as e:
        easyenclave.connect("nobody/nothing", deployed["cp_url"])
    assert e.value.check == "catalog_app"
    assert e.value.code == "client.app_not_found"


def test_a_github_release_is_verified_without_freshness(deployed):
    sim = deployed["simulator"]
    status, health = call("GET", deployed["agent_url"] + "/api/health?attest=true&nonce=" + "00" * 32)
    assert status == 200
    attestation = {"endpoint": deployed["agent_url"],
                   "quote_b64": health["attestation"]["quote_b64"],
                   "public_key": health["public_key"]}
    status, _ = call("POST", deployed["github_url"] + "/releases/octo-org/hello",
                     {"tag_name": "v1.0.0", "assets": {"attestation.json": json.dumps(attestation)}})
    assert status == 201
    conn = easyenclave.connect("octo-org/hello", source="github-release",
                               github_api=deployed["github_url"], root=sim.root_pem,
                               collateral=sim.collateral)
    assert conn.source == "github-release"
    assert "SKIP freshness" in conn.report()
    assert conn.get("/r").json()["path"] == "/r"


def test_bad_arguments_raise_before_any_network_call():
    with pytest.raises(easyenclave.InvalidInput):
        easyenclave.connect("hello", "http://127.0.0.1:1", source="carrier-pigeon")
    with pytest.raises(TypeError):
        easyenclave.connect("hello", "http://127.0.0.1:1", timeout="soon")
