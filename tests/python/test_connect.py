"""easyenclave.connect end to end: the real ee-cp (--dev) and ee-agent (simulator quotes, a process
workload serving HTTP) from the build, GitHub OIDC tokens from ee-fake-github, and the Python
package verifying the agent before talking to its workload.

The programs are found in ``$EE_BUILD_DIR/cli`` (the Makefile sets EE_BUILD_DIR); without them the
test is skipped.
"""

import base64
import hashlib
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import easyenclave

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import local_network as ln  # noqa: E402  the network make demo starts, shared with bench/
from support import build_dir  # noqa: E402

OWNER, REPO, APP = "github:org/octo-org", "octo-org/hello", "hello"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """A CP with app 'hello' (source octo-org/hello) deployed and running on one agent."""
    net = ln.Network(work=tmp_path_factory.mktemp("connect"), bin=build_dir("ee-cp", "ee-agent") / "cli")
    try:
        # Every connect makes four anonymous catalog reads; this module's few dozen connects,
        # a millisecond or two each, would drain the CP's per-address burst (120) and get 429.
        net.start_core(cp_env=lambda _github: {"EE_RATE_LIMIT_ANONYMOUS_PER_MINUTE": "0"})
        agent = net.start_agent("vm-connect", OWNER)
        net.wait_registered(agent)
        status, body, image = net.publish(REPO, APP)
        assert status == 201, body
        status, body = net.deploy(REPO, APP, agent_id=agent.agent_id)
        assert status == 200, body
        net.wait_running(body["deployment_id"])
        yield {"net": net, "cp_url": net.cp_url, "simulator": net.simulator, "image": image,
               "agent_id": agent.agent_id, "agent_url": agent.api_url,
               "github_url": net.github_url}
    finally:
        net.stop()


def test_connect_verifies_the_agent_then_talks_to_its_workload(deployed):
    sim = deployed["simulator"]
    conn = easyenclave.connect("octo-org/hello", deployed["cp_url"], root=sim.root_pem,
                               collateral=sim.collateral)
    assert isinstance(conn, easyenclave.Connection)
    assert conn.endpoint == deployed["agent_url"]
    assert conn.agent_id == deployed["agent_id"]
    assert conn.app == "hello" and conn.version == "1.0.0" and conn.image == deployed["image"]
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
    assert response.json()["path"] == "/hello?x=1"
    assert response.json()["hello"] == "from inside a TDX VM"


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


def connect_direct(deployed, **options):
    """connect() to the first agent (by id: the impostor's agent runs 'hello' too)."""
    sim = deployed["simulator"]
    options.setdefault("root", sim.root_pem)
    options.setdefault("collateral", sim.collateral)
    return easyenclave.connect(REPO, deployed["cp_url"], agent_id=deployed["agent_id"], **options)


def test_a_cached_verification_does_not_vouch_for_another_root(deployed, tmp_path):
    # The client keeps one verifier per root for the process; a success under the simulator's
    # root must not let its quotes pass under another root, with either root's collateral.
    connect_direct(deployed)
    other = easyenclave.Simulator.create(dir=tmp_path / "another-pki")
    assert other.root_pem != deployed["simulator"].root_pem
    for collateral in (deployed["simulator"].collateral, other.collateral):
        with pytest.raises(easyenclave.VerificationError) as e:
            connect_direct(deployed, root=other.root_pem, collateral=collateral)
        assert e.value.check == "quote", e.value.report
    assert connect_direct(deployed).get("/still").json()["path"] == "/still"


def test_a_collateral_file_is_read_again_on_every_connect(deployed, tmp_path):
    # Parsed bundles are kept by the file's exact content: a file that changes is not served
    # from the earlier parse.
    sim = deployed["simulator"]
    other = easyenclave.Simulator.create(dir=tmp_path / "another-pki")
    bundle = tmp_path / "collateral.json"
    bundle.write_text(sim.collateral_json)
    assert connect_direct(deployed, collateral=bundle).agent_id == deployed["agent_id"]
    assert connect_direct(deployed, collateral=str(bundle)).agent_id == deployed["agent_id"]
    bundle.write_text(other.collateral_json)  # signed under another root
    with pytest.raises(easyenclave.VerificationError) as e:
        connect_direct(deployed, collateral=bundle)
    assert e.value.check == "quote", e.value.report
    bundle.write_text(sim.collateral_json)
    connect_direct(deployed, collateral=bundle)


def test_connections_from_several_threads_keep_to_their_own(deployed):
    # Each thread keeps its own io_context and so its own pooled sockets (thread_context.hpp).
    # Two threads: an agent makes at most two quotes at a time and answers a third with "busy".
    paths, errors = [], []

    def worker(n):
        try:
            for i in range(4):
                conn = connect_direct(deployed)
                paths.append(conn.get(f"/t{n}-{i}").json()["path"])
        except Exception as e:  # noqa: BLE001  reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(paths) == sorted(f"/t{n}-{i}" for n in range(2) for i in range(4))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_connects_on_its_own_sockets(deployed):
    conn = connect_direct(deployed)  # leaves pooled sockets on this thread's context
    assert conn.get("/before").ok
    pid = os.fork()
    if pid == 0:  # the child: new sockets, the parent's untouched
        code = 3
        try:
            child = connect_direct(deployed)
            ok = child.get("/child").json()["path"] == "/child" and conn.get("/c2").ok
            code = 0 if ok else 2
        finally:
            os._exit(code)
    assert conn.get("/parent").json()["path"] == "/parent"
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert conn.get("/after").json()["path"] == "/after"
    assert connect_direct(deployed).get("/again").ok


def test_an_unknown_app_raises_not_found(deployed):
    with pytest.raises(easyenclave.NotFound) as e:
        easyenclave.connect("nobody/nothing", deployed["cp_url"])
    assert e.value.check == "catalog_app"
    assert e.value.code == "client.app_not_found"


def test_a_github_release_is_verified_without_freshness(deployed):
    sim = deployed["simulator"]
    status, health = ln.call("GET", deployed["agent_url"] + "/api/health?attest=true&nonce=" + "00" * 32)
    assert status == 200
    attestation = {"endpoint": deployed["agent_url"],
                   "quote_b64": health["attestation"]["quote_b64"],
                   "public_key": health["public_key"]}
    status, _ = ln.call("POST", deployed["github_url"] + "/releases/octo-org/hello",
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


def test_cp_url_comes_from_the_settings_registry(monkeypatch):
    # No argument and no EE_CP_URL: nothing to ask.
    monkeypatch.delenv("EE_CP_URL", raising=False)
    with pytest.raises(easyenclave.InvalidInput, match="EE_CP_URL"):
        easyenclave.connect("hello")
    # EE_CP_URL is read as every program reads its settings: a control character is refused,
    # naming the variable and the key.
    monkeypatch.setenv("EE_CP_URL", "http://127.0.0.1:1/\x01")
    with pytest.raises(easyenclave.InvalidInput, match="EE_CP_URL: cp_url"):
        easyenclave.connect("hello")


# --- an agent the CP lists, behind a man in the middle ---------------------------------------------


class Impostor:
    """Sits where a second agent told the CP it serves (its agent_url) and passes every request to
    that agent, except the attested health answer, which it rewrites as `mode` says:

    - "pass": untouched;
    - "replay": the answer to an earlier nonce (a recorded quote sent again);
    - "other-mrtd": a genuine quote for the caller's nonce and the agent's key, signed under the
      same (simulated) platform, of a TD with another MRTD (a different image);
    - "corrupt": the agent's quote with a byte of its signature changed;
    - "strip-key" / "empty-key": the agent's answer without its public_key (or with it blanked),
      to escape the key checks.
    """

    def __init__(self, other_td):
        self.mode = "pass"
        self.agent_url = ""
        self.recorded = None
        self.other_td = other_td
        impostor = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                impostor.forward(self, None)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                impostor.forward(self, self.rfile.read(length))

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def forward(self, handler, body):
        request = urllib.request.Request(self.agent_url + handler.path, data=body,
                                         method=handler.command)
        for name, value in handler.headers.items():
            if name.lower() not in ("host", "connection", "content-length"):
                request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                status, headers, payload = r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            status, headers, payload = e.code, dict(e.headers), e.read()
        query = urllib.parse.parse_qs(urllib.parse.urlparse(handler.path).query)
        if handler.path.startswith("/api/health") and "nonce" in query and status == 200:
            payload = self.rewrite(json.loads(payload), query["nonce"][0])
        handler.send_response(status)
        handler.send_header("Content-Type", headers.get("Content-Type", "application/json"))
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def rewrite(self, health, nonce_hex):
        attestation = health["attestation"]
        if self.mode == "replay":
            if self.recorded is None:
                self.recorded = dict(attestation)
            health["attestation"] = self.recorded
        elif self.mode == "other-mrtd":
            key = base64.b64decode(health["public_key"])
            report_data = bytes.fromhex(nonce_hex).ljust(32, b"\0") + hashlib.sha256(key).digest()
            attestation["quote_b64"] = base64.b64encode(self.other_td.quote(report_data)).decode()
        elif self.mode == "corrupt":
            quote = bytearray(base64.b64decode(attestation["quote_b64"]))
            quote[-100] ^= 0x01
            attestation["quote_b64"] = base64.b64encode(bytes(quote)).decode()
        elif self.mode == "strip-key":
            del health["public_key"]
        elif self.mode == "empty-key":
            health["public_key"] = ""
        return json.dumps(health).encode()


@pytest.fixture(scope="module")
def impostor(deployed):
    """A second agent running 'hello', registered (and deployed to) through an Impostor."""
    net = deployed["net"]
    # The same simulated platform (its PKI lives in the directory), another TD measurement.
    other_td = easyenclave.Simulator.create(dir=net.work / "simulator", mr_td="ab" * 48)
    mitm = Impostor(other_td)
    agent = net.start_agent("vm-impostor", OWNER, advertised_url=mitm.url)
    mitm.agent_url = agent.api_url
    net.wait_registered(agent)
    status, body = net.deploy(REPO, APP, agent_id=agent.agent_id)
    assert status == 200, body
    net.wait_running(body["deployment_id"])
    yield mitm, agent
    mitm.server.shutdown()


def connect_through(deployed, agent, **options):
    sim = deployed["simulator"]
    return easyenclave.connect(REPO, deployed["cp_url"], agent_id=agent.agent_id,
                               root=sim.root_pem, collateral=sim.collateral, **options)


def test_through_an_honest_middle_the_agent_verifies(deployed, impostor):
    mitm, agent = impostor
    mitm.mode = "pass"
    assert connect_through(deployed, agent).endpoint == mitm.url


def test_a_replayed_quote_fails_the_nonce_check(deployed, impostor):
    mitm, agent = impostor
    mitm.mode = "replay"
    connect_through(deployed, agent).report()  # records the answer to this connect's nonce
    with pytest.raises(easyenclave.VerificationError) as e:
        connect_through(deployed, agent)
    assert e.value.check == "nonce", e.value.report
    assert "check 'nonce' failed" in str(e.value)


def test_a_td_with_another_mrtd_than_the_catalogs_fails_the_mrtd_check(deployed, impostor):
    mitm, agent = impostor
    mitm.mode = "other-mrtd"
    with pytest.raises(easyenclave.VerificationError) as e:
        connect_through(deployed, agent)
    assert e.value.check == "mrtd", e.value.report
    assert "ab" * 8 in str(e.value)  # names what answered


def test_evidence_that_does_not_verify_fails_the_quote_check(deployed, impostor):
    mitm, agent = impostor
    mitm.mode = "corrupt"
    with pytest.raises(easyenclave.VerificationError) as e:
        connect_through(deployed, agent)
    assert e.value.check == "quote", e.value.report


@pytest.mark.parametrize("mode", ["strip-key", "empty-key"])
def test_an_answer_stripped_of_its_key_fails_the_key_checks(deployed, impostor, mode):
    mitm, agent = impostor
    mitm.mode = mode
    # The default policy requires a key bound into the quote.
    with pytest.raises(easyenclave.VerificationError) as e:
        connect_through(deployed, agent)
    assert e.value.check == "key_binding", e.value.report
    assert e.value.code == "client.key_not_bound"
    # Accepting legacy keyless agents does not help: the CP lists a key for this agent.
    with pytest.raises(easyenclave.VerificationError) as e:
        connect_through(deployed, agent, allow_keyless_agents=True)
    assert e.value.check == "agent_key", e.value.report
    assert e.value.code == "client.agent_key_mismatch"
    assert "SKIP key_binding" in e.value.report
