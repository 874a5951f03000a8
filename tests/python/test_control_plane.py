"""easyenclave.ControlPlane and `ee`'s control-plane verbs end to end: the real ee-cp (--dev) and
ee-agent (simulator quotes, the hello-tdx process workload) from the build, GitHub tokens from
ee-fake-github (scripts/local_network.py); a second ee-cp with an admin token for the operator's
routes.

The programs are found in ``$EE_BUILD_DIR/cli``; without them the tests are skipped.
"""

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import easyenclave

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import local_network as ln  # noqa: E402
from support import build_dir  # noqa: E402

OWNER, REPO, APP = "github:org/octo-org", "octo-org/hello", "hello"
ADMIN = "pytest-admin-token"



@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """A CP with app 'hello' published from octo-org/hello and one registered agent of its owner."""
    network = ln.Network(work=tmp_path_factory.mktemp("cp-client"), bin=build_dir("ee", "ee-cp", "ee-agent") / "cli")
    try:
        network.start_core()
        agent = network.start_agent("vm-cp-client", OWNER)
        network.wait_registered(agent)
        status, body, image = network.publish(REPO, APP)
        assert status == 201, body
        yield {"net": network, "agent": agent, "image": image}
    finally:
        network.stop()


@pytest.fixture(scope="module")
def admin_cp(tmp_path_factory):
    """A CP of its own with an admin token (the operator's routes)."""
    work = tmp_path_factory.mktemp("cp-admin")
    program = ln.Program("cp-admin", [build_dir("ee", "ee-cp", "ee-agent") / "cli" / "ee-cp", "--dev", "--listen", "127.0.0.1:0",
                                      "--db", work / "cp.db", "--admin-token", ADMIN,
                                      "--health-scrape-interval", "0"], work)
    try:
        yield program.listening_url()
    finally:
        program.stop()


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    """No credential from the test's own environment (CI may run inside GitHub Actions)."""
    for name in ("EE_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def ee(*args, env=None):
    """Runs the real ee; (exit code, stdout, stderr)."""
    full_env = dict(os.environ)
    for name in ("EE_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
        full_env.pop(name, None)
    full_env.update(env or {})
    r = subprocess.run([str(build_dir("ee", "ee-cp", "ee-agent") / "cli" / "ee"), *map(str, args)], capture_output=True, text=True,
                       env=full_env, timeout=120)
    return r.returncode, r.stdout, r.stderr


def test_public_listings_are_typed(net, no_credentials):
    n, agent = net["net"], net["agent"]
    with easyenclave.ControlPlane(n.cp_url) as cp:
        assert cp.credential_source == "none"
        agents = cp.agents()
        assert [a.agent_id for a in agents] == [agent.agent_id]
        a = cp.agent(agent.agent_id)
        assert isinstance(a, easyenclave.Agent)
        assert a.verified and a.vm_name == "vm-cp-client" and a.owner == OWNER
        assert isinstance(a.last_heartbeat_at, datetime.datetime) and a.last_heartbeat_at.tzinfo is not None
        assert cp.agents(vm_name="nobody") == []
        att = cp.attestation(agent.agent_id)
        assert att.mrtd == n.simulator.mr_td.hex()
        apps = cp.apps()
        assert [x.name for x in apps] == [APP] and apps[0].versions is None
        app = cp.app(APP)
        assert isinstance(app, easyenclave.App) and app.source_repo == REPO
        assert [v.version for v in cp.versions(APP)] == ["1.0.0"]
        assert cp.versions(APP)[0].image == net["image"]
        assert any(m.mrtd == n.simulator.mr_td.hex() for m in cp.measurements())
        assert cp.health()["status"] == "ok"


def test_publish_deploy_wait_and_undeploy_with_a_workflow_token(net, no_credentials):
    n, agent = net["net"], net["agent"]
    cp = easyenclave.ControlPlane(n.cp_url, token=n.github_token(REPO))
    assert cp.credential_source == "--token"
    image = ln.image_for(APP, "version two")
    v2 = cp.publish(APP, "2.0.0", image, n.simulator.mr_td.hex())
    assert isinstance(v2, easyenclave.AppVersion) and v2.version == "2.0.0" and v2.published_by == REPO
    dry = cp.deploy(APP, "1.0.0", dry_run=True)
    assert isinstance(dry, easyenclave.DeployResult) and dry.agent_id == agent.agent_id and dry.deployment_id == ""
    result = cp.deploy(APP, "1.0.0", agent_id=agent.agent_id)
    assert result.deployment_id
    running = cp.wait(result.deployment_id, timeout=60, poll=0.2)
    assert isinstance(running, easyenclave.Deployment) and running.status == "running", running
    assert [d.deployment_id for d in cp.deployments(app=APP, status="running")] == [result.deployment_id]
    assert cp.deployment(result.deployment_id).agent_id == agent.agent_id
    logs = cp.agent_logs(agent.agent_id)
    assert isinstance(logs, easyenclave.AgentLogs) and all(isinstance(x, easyenclave.LogLine) for x in logs.lines)
    stopped = cp.undeploy(agent.agent_id)
    assert stopped.status == "stopped"
    # Its history, as the CP's database recorded each change; lists carry none.
    history = cp.deployment(result.deployment_id).history
    assert history is not None and all(isinstance(c, easyenclave.DeploymentChange) for c in history)
    assert [c.status for c in history] == ["pending", "deploying", "running", "stopped"], history
    assert all(c.at is not None for c in history) and history[-1].detail
    assert all(d.history is None for d in cp.deployments(app=APP))


def test_the_cps_errors_are_exceptions_with_the_cps_code(net, no_credentials):
    n = net["net"]
    cp = easyenclave.ControlPlane(n.cp_url)
    with pytest.raises(easyenclave.NotFound) as e:
        cp.app("no-such-app")
    assert e.value.code == "registry.not_found"
    assert e.value.client_code == "client.cp_not_found"
    assert "request " in str(e.value)
    other = easyenclave.ControlPlane(n.cp_url, token=n.github_token("evil-org/hello"))
    with pytest.raises(easyenclave.Forbidden) as e:
        other.publish(APP, "6.6.6", ln.image_for(APP, "x"), n.simulator.mr_td.hex())
    assert e.value.code.startswith("cp.")
    with pytest.raises(easyenclave.Unauthenticated) as e:
        cp.agent_logs(net["agent"].agent_id)
    assert e.value.code == "cp.missing_credentials"
    with pytest.raises(easyenclave.Forbidden) as e:  # this CP has no admin token at all
        easyenclave.ControlPlane(n.cp_url, token="guess").remove_agent(net["agent"].agent_id)
    assert e.value.code == "cp.admin_disabled"
    with pytest.raises((easyenclave.UpstreamFailure, easyenclave.Unavailable)):
        easyenclave.ControlPlane("http://127.0.0.1:1", timeout=2).agents()
    with pytest.raises(easyenclave.InvalidInput):
        easyenclave.ControlPlane("http://127.0.0.1:1", timeout=0)


def test_the_url_and_token_come_from_the_environment_and_ee_login(net, no_credentials, monkeypatch, tmp_path):
    n = net["net"]
    monkeypatch.delenv("EE_CP_URL", raising=False)
    with pytest.raises(easyenclave.InvalidInput):
        easyenclave.ControlPlane()
    monkeypatch.setenv("EE_CP_URL", n.cp_url)
    monkeypatch.setenv("EE_TOKEN", "from-env")
    assert easyenclave.ControlPlane().credential_source == "EE_TOKEN"
    monkeypatch.delenv("EE_TOKEN")
    code, out, err = ee("login", "--token", "stored-one", env={"XDG_CONFIG_HOME": os.environ["XDG_CONFIG_HOME"]})
    assert code == 0, err
    stored = Path(os.environ["XDG_CONFIG_HOME"]) / "easyenclave" / "token"
    assert stored.stat().st_mode & 0o777 == 0o600
    assert easyenclave.ControlPlane().credential_source == "stored"
    stored.chmod(0o644)
    with pytest.raises(easyenclave.Unauthenticated) as e:
        easyenclave.ControlPlane()
    assert "chmod 600" in str(e.value)


def test_the_operator_manages_measurements_and_settings(admin_cp, no_credentials):
    cp = easyenclave.ControlPlane(admin_cp, token=ADMIN)
    mrtd = "ef" * 48
    added = cp.add_measurement(mrtd, note="pytest", node_size="tiny")
    assert isinstance(added, easyenclave.TrustedMeasurement) and added.note == "pytest"
    assert mrtd in [m.mrtd for m in cp.measurements()]
    cp.remove_measurement(mrtd)
    with pytest.raises(easyenclave.NotFound):
        cp.remove_measurement(mrtd)
    settings = cp.settings(group="timings")
    assert settings and all(isinstance(s, easyenclave.Setting) and s.group == "timings" for s in settings)
    stored = cp.set_setting("heartbeat_interval", "50")
    assert (stored.value, stored.source) == ("50", "database")
    assert cp.setting("heartbeat_interval").value == "50"
    assert cp.unset_setting("heartbeat_interval").source != "database"
    assert cp.setting("admin_token").value == "set"
    with pytest.raises(easyenclave.InvalidInput):
        cp.set_setting("heartbeat_interval", "not-a-duration")


def test_connect_is_a_context_manager_and_ee_deploy_waits_and_ee_verify_reports(net, tmp_path):
    n, agent = net["net"], net["agent"]
    env = {"EE_CP_URL": n.cp_url, "EE_TOKEN": n.github_token(REPO)}
    code, out, err = ee("deploy", f"{APP}@1.0.0", "--agent", agent.agent_id, "--wait", "--wait-seconds", "60",
                        env=env)
    assert code == 0, out + err
    assert "waiting for deployment" in err and "on agent " + agent.agent_id in err
    assert "running" in out.splitlines()[1]

    root, collateral = n.work / "simulator-root.pem", n.work / "simulator-collateral.json"
    for target in (agent.agent_id, APP, agent.api_url):
        code, out, err = ee("verify", target, "--root", root, "--collateral", collateral, env={"EE_CP_URL": n.cp_url})
        assert code == 0, f"{target}: {out}{err}"
        assert "PASS quote" in out and "PASS mrtd" in out and "PASS image_digest" in out
    # Intel's root (the default) does not trust the simulator: refused (1), the report says where.
    code, out, err = ee("verify", agent.agent_id, "--json", "--collateral", collateral, env={"EE_CP_URL": n.cp_url})
    assert code == 1, out + err
    report = json.loads(out)
    assert report["verified"] is False and report["checks"][-1]["name"] == "quote"
    assert "hint: " in err

    sim = n.simulator
    with easyenclave.connect(APP, n.cp_url, root=sim.root_pem, collateral=sim.collateral) as conn:
        assert conn.agent_id == agent.agent_id
        assert conn.get("/").status == 200
    cp = easyenclave.ControlPlane(n.cp_url, token="")
    assert cp.credential_source == "none"
    for target in (agent.agent_id, agent.api_url, APP):
        with cp.verify(target, root=sim.root_pem, collateral=sim.collateral) as conn:
            assert conn.agent_id == agent.agent_id and conn.version == "1.0.0"
    with pytest.raises(easyenclave.NotFound) as e:
        cp.verify("https://nowhere.example")
    assert e.value.code == "client.no_running_agent"
