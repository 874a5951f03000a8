"""The repository's GitHub Action (action.yml) run for real: each composite step executed with bash
in order, with the environment the runner gives it (tests/python/action_runner.py), against a
local network: the real ee-cp (--dev) and ee-agent (simulator quotes, the hello-tdx process
workload) and ee-fake-github from the build (scripts/local_network.py), and a stand-in for the
runner's ID-token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL) that answers only its request token and
mints with the fake GitHub issuer the CP trusts, for the audience `ee` asks for.

The programs are found in ``$EE_BUILD_DIR/cli``; ruamel.yaml comes with check-jsonschema
(scripts/install-deps.sh test). Under CI=true nothing is skipped: a missing piece fails.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import action_runner as ar  # noqa: E402
from support import build_dir, missing  # noqa: E402
import local_network as ln  # noqa: E402

OWNER, REPO = "github:org/octo-org", "octo-org/hello"
REQUEST_TOKEN = "runner-request-token-for-the-test"




@pytest.fixture(scope="module", autouse=True)
def yaml_parser():
    try:
        import ruamel.yaml  # noqa: F401
    except ImportError:
        missing("ruamel.yaml (with check-jsonschema)")


class TokenEndpoint:
    """The runner's ID-token endpoint: GET <url>&audience=A with `Authorization: bearer <request
    token>` answers {"count", "value": JWT} for the job's repository; anything else 401/400."""

    def __init__(self, github_url: str, repository: str):
        self.calls = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                url = urllib.parse.urlparse(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                endpoint.calls.append({"path": url.path, "query": query,
                                       "authorized": self.headers.get("Authorization") == f"bearer {REQUEST_TOKEN}"})
                if url.path != "/token" or query.get("api-version") != "2.0":
                    return self.reply(400, {"message": "bad request"})
                if not endpoint.calls[-1]["authorized"]:
                    return self.reply(401, {"message": "bad request token"})
                mint = f"{github_url}/token?" + urllib.parse.urlencode(
                    {"audience": query.get("audience", ""), "repository": repository})
                with urllib.request.urlopen(mint, timeout=10) as r:
                    value = json.loads(r.read())["value"]
                self.reply(200, {"count": 1, "value": value})

            def reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token?api-version=2.0"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Files:
    """A directory served over HTTP (the release's download URL)."""

    def __init__(self, directory: Path):
        class Quiet(SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(directory), **kwargs)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """A CP, two registered agents of octo-org and the job's token endpoint."""
    network = ln.Network(work=tmp_path_factory.mktemp("action"), bin=build_dir("ee", "ee-cp", "ee-agent") / "cli")
    endpoint = None
    try:
        network.start_core()
        agents = [network.start_agent(f"vm-action-{i}", OWNER) for i in (1, 2)]
        for agent in agents:
            network.wait_registered(agent)
        endpoint = TokenEndpoint(network.github_url, REPO)
        yield {"net": network, "agents": agents, "tokens": endpoint}
    finally:
        if endpoint:
            endpoint.stop()
        network.stop()


def job_env(n, tokens) -> dict:
    """What the runner sets in a job with `permissions: id-token: write`."""
    env = ar.clean_environment()
    env.update({"ACTIONS_ID_TOKEN_REQUEST_URL": tokens.url, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": REQUEST_TOKEN,
                "GITHUB_REPOSITORY": REPO, "GITHUB_WORKSPACE": str(n.work)})
    return env


def inputs(n, **more) -> dict:
    base = {"cp-url": n.cp_url, "ee-path": str(build_dir("ee", "ee-cp", "ee-agent") / "cli" / "ee"),
            "mrtd": n.simulator.mr_td.hex(),
            # The simulator's PKI: a development network (production uses Intel's root and PCS).
            "verify-root": str(n.work / "simulator-root.pem"),
            "verify-collateral": str(n.work / "simulator-collateral.json")}
    base.update(more)
    return base


def run(net, tmp_path, with_inputs, **kw):
    n = net["net"]
    return ar.run_composite(ROOT, with_inputs, env=kw.pop("env", None) or job_env(n, net["tokens"]), work=tmp_path,
                            github={"action_repository": "easyenclave/easyenclave", "action_ref": kw.pop("ref", "main"),
                                    "repository": REPO})


def test_the_action_declares_what_it_uses_and_interpolates_nothing_into_scripts():
    action = ar.load_yaml(ROOT / "action.yml")
    assert action["runs"]["using"] == "composite"
    for name in ("deployment_id", "agent_id", "endpoint"):
        assert name in action["outputs"]
    for name in ("cp-url", "app", "version", "image", "mrtd", "rtmrs", "audience", "publish", "deploy", "ee-path"):
        assert name in action["inputs"], name
    for step in action["runs"]["steps"]:
        assert step["shell"] == "bash" and "${{" not in step["run"], step.get("id")
    evaluator = ar.Evaluator({"inputs": {}, "steps": {}, "github": {}, "runner": {}, "env": {}})
    for expression in ar.expressions_in(action):
        evaluator.evaluate(expression)  # raises on syntax this runner (and so this test) does not model


def test_a_wrong_audience_fails_the_publish_step_and_sets_no_output(net, tmp_path):
    n = net["net"]
    image = ln.image_for("aud", "x")
    before = len(net["tokens"].calls)
    result = run(net, tmp_path, inputs(n, app="aud", version="1.0.0", image=image, audience="someone-else"))
    assert not result.ok
    publish = result.step("publish")
    assert publish.outcome == "failure" and publish.returncode == 1, result.log
    assert "audience" in publish.stderr and "hint:" in publish.stderr, publish.stderr
    assert [s.outcome for s in result.steps] == ["success", "failure", "skipped", "skipped"]
    assert result.outputs == {"deployment_id": "", "agent_id": "", "endpoint": "", "version": ""}
    calls = net["tokens"].calls[before:]
    assert calls and all(c["authorized"] and c["query"]["audience"] == "someone-else" for c in calls)
    status, _ = ln.call("GET", f"{n.cp_url}/api/v1/apps/aud")
    assert status == 404


def test_a_version_whose_mrtd_no_agent_has_fails_the_deploy_step(net, tmp_path):
    n = net["net"]
    result = run(net, tmp_path, inputs(n, app="elsewhere", version="1.0.0", image=ln.image_for("elsewhere", "y"),
                                       mrtd="ab" * 48))
    assert not result.ok
    assert [s.outcome for s in result.steps] == ["success", "success", "failure", "skipped"], result.log
    deploy = result.step("deploy")
    assert deploy.returncode == 1 and "ee: " in deploy.stderr and "hint:" in deploy.stderr, deploy.stderr
    assert "mrtd" in deploy.stderr.lower(), deploy.stderr
    assert result.outputs["deployment_id"] == "" and result.outputs["endpoint"] == ""
    status, body = ln.call("GET", f"{n.cp_url}/api/v1/deployments?app=elsewhere")
    assert status == 200 and body == []


def test_the_action_publishes_deploys_and_verifies_with_the_jobs_token(net, tmp_path):
    n, agents = net["net"], net["agents"]
    image = ln.image_for("hello", ln.HELLO_APP.read_text())
    result = run(net, tmp_path, inputs(n, app="hello", version="1.0.0", image=image,
                                       description="hello-tdx from the Action"))
    assert result.ok, result.log
    out = result.outputs
    assert out["deployment_id"] and out["version"] == "1.0.0"
    agent = next(a for a in agents if a.agent_id == out["agent_id"])
    assert out["endpoint"] == agent.api_url
    # The CP says so too: the app is octo-org/hello's, the deployment runs on that agent.
    status, app = ln.call("GET", f"{n.cp_url}/api/v1/apps/hello")
    assert status == 200 and app["source_repo"] == REPO and app["description"] == "hello-tdx from the Action"
    status, deployment = ln.call("GET", f"{n.cp_url}/api/v1/deployments/{out['deployment_id']}")
    assert status == 200 and deployment["status"] == "running" and deployment["agent_id"] == agent.agent_id
    verify = result.step("verify")
    assert "PASS quote" in verify.stdout and "PASS mrtd" in verify.stdout and "PASS image_digest" in verify.stdout
    assert f"verified hello at {agent.api_url}" in verify.stdout
    assert "waiting for deployment" in result.step("deploy").stderr
    # The workload answers at the verified agent's workload port.
    with urllib.request.urlopen(agent.workload_url + "/healthz", timeout=10) as r:
        assert json.loads(r.read()) == {"status": "ok"}

    # The same version again (a re-run): not published twice, deployed on the other idle agent.
    again = run(net, tmp_path / "again", inputs(n, app="hello", version="1.0.0", image=image))
    assert again.ok, again.log
    assert "already in the catalog" in again.step("publish").stdout
    assert again.outputs["agent_id"] not in ("", out["agent_id"])
    assert again.outputs["endpoint"] and again.outputs["deployment_id"] != out["deployment_id"]


def test_a_failed_check_fails_the_verify_step_with_the_check_named(net, tmp_path):
    n = net["net"]
    status, deployments = ln.call("GET", f"{n.cp_url}/api/v1/deployments?app=hello&status=running")
    assert status == 200 and deployments
    # Stop one deployment and deploy there again, verifying against Intel's root (the default),
    # which does not sign the simulator's quotes.
    agent_id = deployments[0]["agent_id"]
    status, body = ln.call("POST", f"{n.cp_url}/api/v1/agents/{agent_id}/undeploy", token=n.github_token(REPO))
    assert status == 200, body
    result = run(net, tmp_path, inputs(n, app="hello", version="1.0.0", publish="false",
                                       agent=agent_id, **{"verify-root": ""}))
    assert not result.ok
    verify = result.step("verify")
    assert verify.outcome == "failure" and verify.returncode == 1, result.log
    assert "::error title=easyenclave::verification failed at quote" in verify.stdout, verify.stdout
    assert result.outputs["endpoint"] == "" and result.outputs["agent_id"] == agent_id


def release(tmp_path: Path, version: str) -> tuple[Path, str]:
    """A release directory like `make dist`'s: the tarball with bin/ee, and SHA256SUMS."""
    name = f"easyenclave-{version}-linux-{os.uname().machine}"
    directory = tmp_path / "release"
    (directory / "tree" / name / "bin").mkdir(parents=True)
    shutil.copy2(build_dir("ee", "ee-cp", "ee-agent") / "cli" / "ee", directory / "tree" / name / "bin" / "ee")
    with tarfile.open(directory / f"{name}.tar.gz", "w:gz") as tar:
        tar.add(directory / "tree" / name, arcname=name)
    digest = hashlib.sha256((directory / f"{name}.tar.gz").read_bytes()).hexdigest()
    (directory / "SHA256SUMS").write_text(f"{digest}  {name}.tar.gz\n")
    return directory, digest


def test_ee_comes_from_the_release_checked_against_its_sums(net, tmp_path):
    n = net["net"]
    version = subprocess.run([build_dir("ee", "ee-cp", "ee-agent") / "cli" / "ee", "--version"], capture_output=True, text=True).stdout.strip()
    directory, digest = release(tmp_path, version)
    files = Files(directory)
    try:
        only_install = {"cp-url": n.cp_url, "app": "hello", "publish": "false", "deploy": "false",
                        "ee-download-url": files.url}
        # The tag the action is used at names the release.
        result = run(net, tmp_path / "ref", only_install, ref=f"v{version}")
        assert result.ok, result.log
        installed = result.step("ee").outputs["path"]
        assert installed.endswith("/bin/ee") and f"ee {version} at {installed}" in result.step("ee").stdout
        assert subprocess.run([installed, "--version"], capture_output=True).returncode == 0
        # ee-version wins over a branch ref, and ee-sha256 pins the tarball.
        pinned = run(net, tmp_path / "pin", {**only_install, "ee-version": version, "ee-sha256": digest})
        assert pinned.ok, pinned.log
        wrong_pin = run(net, tmp_path / "wrong-pin", {**only_install, "ee-version": version, "ee-sha256": "0" * 64})
        assert not wrong_pin.ok and "does not have the SHA-256 ee-sha256 pins" in wrong_pin.step("ee").stdout
        # A branch with no ee-version: a clear error, nothing downloaded.
        branch = run(net, tmp_path / "branch", only_install, ref="main")
        assert not branch.ok and "give ee-version (v0.1.0) or ee-path" in branch.step("ee").stdout
        # A tarball that is not the one SHA256SUMS lists is refused.
        (directory / "SHA256SUMS").write_text(f"{'1' * 64}  easyenclave-{version}-linux-{os.uname().machine}.tar.gz\n")
        tampered = run(net, tmp_path / "tampered", {**only_install, "ee-version": f"v{version}"})
        assert not tampered.ok and "does not match the release's SHA256SUMS" in tampered.step("ee").stdout
    finally:
        files.stop()
