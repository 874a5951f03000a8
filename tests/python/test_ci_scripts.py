"""The scripts the project's workflows call (scripts/ci/), run as the workflows run them, against
stand-ins: Compute Engine and Google's token endpoint (tests/python/fake_gce.py) and Cloudflare
(ee-fake-cloudflare from the build). Under CI=true nothing is skipped.
"""

import hashlib
import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import fake_gce  # noqa: E402
import local_network as ln  # noqa: E402
from support import build_dir  # noqa: E402

CI = ROOT / "scripts" / "ci"
CF_TOKEN, CF_ACCOUNT, CF_ZONE, DOMAIN = "ee-fake-cloudflare-token", "ee-fake-account", "ee-fake-zone", "example.com"
IMAGE = "projects/ee-images/global/images/family/easyenclave"




@pytest.fixture
def clouds(tmp_path):
    gce = fake_gce.FakeGce()
    key, public = fake_gce.service_account(tmp_path, gce.token_uri)
    gce.trust(key, public)
    cf = ln.Program("cloudflare", [build_dir("ee", "ee-cp", "ee-agent", "ee-fake-cloudflare") / "cli" / "ee-fake-cloudflare", "--listen", "127.0.0.1:0"], tmp_path)
    try:
        cf_url = cf.listening_url()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GCP_", "GCE_", "CLOUDFLARE_"))}
        env.update({"GCP_PROJECT_ID": gce.project, "GCP_SERVICE_ACCOUNT_KEY": json.dumps(key),
                    "GCE_API_BASE": gce.api_base, "GCE_POLL_SECONDS": "0.01", "CLOUDFLARE_API_TOKEN": CF_TOKEN,
                    "CLOUDFLARE_ACCOUNT_ID": CF_ACCOUNT, "CLOUDFLARE_ZONE_ID": CF_ZONE, "CLOUDFLARE_API_BASE": cf_url})
        yield {"gce": gce, "cf": cf_url, "env": env, "work": tmp_path}
    finally:
        cf.stop()
        gce.stop()


def script(clouds, name, *args):
    done = subprocess.run([str(CI / name), *map(str, args)], env=clouds["env"], capture_output=True, text=True,
                          timeout=120)
    return done.returncode, done.stdout, done.stderr


def cf_call(clouds, method, path, body=None):
    status, answer = ln.call(method, f"{clouds['cf']}/{path}", body, CF_TOKEN)
    assert status == 200, answer
    return answer["result"]


def cf_all(clouds, path, **query):
    out, page = [], 1
    while True:
        q = urllib.parse.urlencode({**query, "page": page, "per_page": 100})
        status, answer = ln.call("GET", f"{clouds['cf']}/{path}?{q}", None, CF_TOKEN)
        assert status == 200, answer
        out += answer["result"]
        if page >= answer["result_info"]["total_pages"]:
            return out
        page += 1


def tunnels(clouds):
    return {t["name"] for t in cf_all(clouds, f"accounts/{CF_ACCOUNT}/cfd_tunnel", is_deleted="false")}


def records(clouds):
    return {r["name"] for r in cf_all(clouds, f"zones/{CF_ZONE}/dns_records")}


def agent_tunnel(clouds, instance_id, vm_name):
    """What a control plane with EE_CP_INSTANCE_ID=instance_id makes for an agent: the tunnel
    "ee-<instance>-<label>" and the CNAME "<label>.<domain>" to it."""
    tunnel = cf_call(clouds, "POST", f"accounts/{CF_ACCOUNT}/cfd_tunnel",
                     {"name": f"ee-{instance_id}-{vm_name}", "config_src": "cloudflare"})
    cf_call(clouds, "POST", f"zones/{CF_ZONE}/dns_records",
            {"type": "CNAME", "name": f"{vm_name}.{DOMAIN}", "content": f"{tunnel['id']}.cfargotunnel.com",
             "proxied": True})


def populate(clouds, namespace, extra_records=0):
    metadata = clouds["work"] / f"{namespace}-config.json"
    metadata.write_text(json.dumps({"mode": "agent", "vm_name": f"ee-{namespace}-agent"}))
    for name in ("cp", "agent"):
        code, out, err = script(clouds, "gcp-vm", "create", "--namespace", namespace, "--name", name, "--zone",
                                "us-central1-a", "--image", IMAGE, "--metadata-file", f"ee-config={metadata}")
        assert code == 0, err
    code, out, err = script(clouds, "cf-tunnel", "create", "--namespace", namespace, "--name", "cp", "--domain", DOMAIN,
                            "--token-file", clouds["work"] / f"{namespace}-token")
    assert code == 0 and out.strip() == f"ee-{namespace}-cp.{DOMAIN}", err
    agent_tunnel(clouds, namespace, f"ee-{namespace}-agent")
    for i in range(extra_records):
        cf_call(clouds, "POST", f"zones/{CF_ZONE}/dns_records",
                {"type": "A", "name": f"ee-{namespace}-extra-{i}.{DOMAIN}", "content": f"192.0.2.{i + 1}"})


def test_the_scripts_refuse_to_run_without_a_namespace(clouds):
    populate(clouds, "pr-1")
    before = (clouds["gce"].names(), tunnels(clouds), records(clouds))
    for argv in (["cleanup"], ["gcp-vm", "delete"], ["gcp-vm", "list"], ["cf-tunnel", "create", "--name", "cp",
                                                                           "--domain", DOMAIN, "--token-file", "/dev/null"]):
        code, out, err = script(clouds, *argv)
        assert code == 2 and "--namespace" in err, (argv, err)
    for bad in ("", "PR-1", "pr-1 OR x", "-pr", "pr-", "a" * 21, '*'):
        code, out, err = script(clouds, "cleanup", f"--namespace={bad}")
        assert code == 1 and "namespace" in err, (bad, err)
    assert not [r for r in clouds["gce"].requests if r[0] == "DELETE"]
    assert (clouds["gce"].names(), tunnels(clouds), records(clouds)) == before


def test_gcp_vm_creates_lists_and_deletes_tdx_instances_by_namespace(clouds):
    gce = clouds["gce"]
    config = clouds["work"] / "config.json"
    config.write_text('{"mode": "cp-bootstrap"}')
    code, out, err = script(clouds, "gcp-vm", "create", "--namespace", "pr-7", "--name", "cp", "--zone",
                            "us-central1-b", "--machine-type", "c3-standard-4", "--image", IMAGE,
                            "--metadata-file", f"ee-config={config}", "--label", "ee-role=cp")
    assert code == 0, err
    created = json.loads(out)
    assert created["name"] == "ee-pr-7-cp" and created["zone"] == "us-central1-b" and created["ip"].startswith("203.0.113.")
    instance = gce.instances[("us-central1-b", "ee-pr-7-cp")]
    assert instance["labels"] == {"ee-role": "cp", "ee-namespace": "pr-7", "easyenclave": "managed"}
    assert instance["confidentialInstanceConfig"] == {"confidentialInstanceType": "TDX"}
    assert instance["metadata"]["items"] == [{"key": "ee-config", "value": '{"mode": "cp-bootstrap"}'}]
    assert instance["machineType"] == "zones/us-central1-b/machineTypes/c3-standard-4"
    # Again: kept, not an error (a re-run of the workflow).
    code, out, err = script(clouds, "gcp-vm", "create", "--namespace", "pr-7", "--name", "cp", "--zone",
                            "us-central1-b", "--image", IMAGE)
    assert code == 0 and "exists" in err and json.loads(out)["name"] == "ee-pr-7-cp", err
    # Many instances across zones and pages of the aggregated list.
    for i in range(3):
        gce.add_instance("europe-west4-a", f"ee-pr-7-agent-{i}", {"ee-namespace": "pr-7"})
    gce.add_instance("europe-west4-a", "ee-pr-70-agent", {"ee-namespace": "pr-70"})
    code, out, err = script(clouds, "gcp-vm", "list", "--namespace", "pr-7")
    assert code == 0, err
    assert sorted(json.loads(line)["name"] for line in out.splitlines()) == [
        "ee-pr-7-agent-0", "ee-pr-7-agent-1", "ee-pr-7-agent-2", "ee-pr-7-cp"]
    code, out, err = script(clouds, "gcp-vm", "delete", "--namespace", "pr-7", "--name", "agent-1")
    assert code == 0, err
    assert gce.names() == {"ee-pr-7-cp", "ee-pr-7-agent-0", "ee-pr-7-agent-2", "ee-pr-70-agent"}
    code, out, err = script(clouds, "gcp-vm", "delete", "--namespace", "pr-7")
    assert code == 0 and gce.names() == {"ee-pr-70-agent"}, err
    code, out, err = script(clouds, "gcp-vm", "delete", "--namespace", "pr-7")
    assert code == 0, err
    # A key the token endpoint does not know is refused there, with its message and no secret.
    (clouds["work"] / "other").mkdir()
    other, _ = fake_gce.service_account(clouds["work"] / "other", gce.token_uri)
    clouds["env"]["GCP_SERVICE_ACCOUNT_KEY"] = json.dumps(other)
    code, out, err = script(clouds, "gcp-vm", "list", "--namespace", "pr-70")
    assert code == 1 and "400" in err and "Invalid JWT Signature" in err and "PRIVATE KEY" not in err, err


def test_cleanup_removes_its_namespace_twice_over_and_nothing_of_another(clouds):
    gce = clouds["gce"]
    populate(clouds, "pr-1")
    populate(clouds, "pr-2", extra_records=55)  # more than one page of DNS records
    populate(clouds, "pr-12")  # shares the characters "pr-1" but is another namespace
    gce.add_instance("us-central1-a", "web-1", {})
    agent_tunnel(clouds, "prod", "vm-production-1")
    cf_call(clouds, "POST", f"zones/{CF_ZONE}/dns_records", {"type": "A", "name": f"www.{DOMAIN}", "content": "192.0.2.200"})
    vms_before, tunnels_before, records_before = gce.names(), tunnels(clouds), records(clouds)
    ours = lambda names: {n for n in names if n.startswith("ee-pr-1-")}  # noqa: E731
    assert ours(vms_before) == {"ee-pr-1-cp", "ee-pr-1-agent"}
    assert ours(tunnels_before) == {"ee-pr-1-cp", "ee-pr-1-ee-pr-1-agent"}
    assert ours(records_before) == {f"ee-pr-1-cp.{DOMAIN}", f"ee-pr-1-agent.{DOMAIN}"}

    code, out, err = script(clouds, "cleanup", "--namespace", "pr-1")
    assert code == 0, err
    assert out.strip() == "cleanup pr-1: deleted 2 instance(s), 2 tunnel(s), 2 DNS record(s)"
    code, out, err = script(clouds, "cleanup", "--namespace", "pr-1")  # idempotent
    assert code == 0 and out.strip() == "cleanup pr-1: deleted 0 instance(s), 0 tunnel(s), 0 DNS record(s)", err

    assert gce.names() == vms_before - ours(vms_before)
    assert tunnels(clouds) == tunnels_before - ours(tunnels_before)
    assert records(clouds) == records_before - ours(records_before)
    assert {"ee-pr-2-cp", "ee-pr-2-agent", "ee-pr-12-cp", "ee-pr-12-agent", "web-1"} <= gce.names()
    assert {"ee-pr-2-cp", "ee-pr-12-cp", "ee-prod-vm-production-1"} <= tunnels(clouds)
    assert len([r for r in records(clouds) if r.startswith("ee-pr-2-")]) == 57 and f"www.{DOMAIN}" in records(clouds)


def test_gcp_image_uploads_the_disk_and_manifest_and_makes_a_tdx_image(clouds):
    gce, work = clouds["gce"], clouds["work"]
    clouds["env"]["GCS_UPLOAD_BASE"] = gce.url + "/upload/storage/v1"
    disk, manifest = work / "disk.tar.gz", work / "manifest.json"
    disk.write_bytes(b"\x1f\x8b" + b"disk" * 1000)
    manifest.write_text(json.dumps({"schema": 1, "target": "gcp", "verity": {"root_hash": "ab" * 32, "salt": "cd" * 32}}))
    argv = ["publish", "--disk", disk, "--manifest", manifest, "--bucket", "ee-images", "--family", "easyenclave",
            "--name", "easyenclave-0123456789ab"]
    code, out, err = script(clouds, "gcp-image", *argv)
    assert code == 0, err
    assert out.strip().endswith("/global/images/easyenclave-0123456789ab")
    assert gce.objects[("ee-images", "easyenclave-0123456789ab.tar.gz")] == disk.read_bytes()
    assert gce.objects[("ee-images", "easyenclave-0123456789ab.manifest.json")] == manifest.read_bytes()
    image = gce.images["easyenclave-0123456789ab"]
    assert image["family"] == "easyenclave"
    assert {f["type"] for f in image["guestOsFeatures"]} == {"UEFI_COMPATIBLE", "TDX_CAPABLE", "GVNIC"}
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert f"manifest.json sha256 {digest}" in image["description"] and "ab" * 32 in image["description"]
    code, out, err = script(clouds, "gcp-image", *argv)  # a re-run keeps it
    assert code == 0 and "exists" in err, err
    code, out, err = script(clouds, "gcp-image", *argv[:-1], "Not_A_Name")
    assert code == 1 and "--name" in err


def test_pr_e2e_steps_against_a_local_control_plane(tmp_path, monkeypatch):
    """pr-e2e's verbs against the real ee-cp (--dev, simulator quotes, an admin token) and
    ee-agent: what the workflow does once its VMs are up."""
    admin = "pr-e2e-admin-token"
    monkeypatch.setenv("EE_ADMIN_TOKEN", admin)  # the CP reads these from its environment, as from cp_env
    monkeypatch.setenv("EE_QUOTE_PROVIDER", "simulator")  # its own quotes (GET /api/v1/attestation)
    network = ln.Network(work=tmp_path / "net", bin=build_dir("ee", "ee-cp", "ee-agent", "ee-fake-cloudflare") / "cli")
    (tmp_path / "net").mkdir()
    ee = str(build_dir("ee", "ee-cp", "ee-agent", "ee-fake-cloudflare") / "cli" / "ee")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EE_", "ACTIONS_ID_TOKEN"))}

    def step(*argv, **more):
        done = subprocess.run([str(CI / "pr-e2e"), *map(str, argv)], env={**env, **more}, capture_output=True,
                              text=True, timeout=120)
        return done.returncode, done.stdout.strip(), done.stderr

    try:
        network.start_core()
        monkeypatch.delenv("EE_ADMIN_TOKEN")
        monkeypatch.delenv("EE_QUOTE_PROVIDER")
        cp, mrtd = network.cp_url, network.simulator.mr_td.hex()
        code, out, err = step("wait-cp", "--cp-url", cp, "--timeout", "30")
        assert code == 0, err
        # The platform's MRTD, read from the CP's own verified quote, becomes trusted for agents.
        removed = subprocess.run([ee, "measurements", "remove", mrtd, "--cp-url", cp, "--token", admin],
                                 capture_output=True, text=True)
        assert removed.returncode == 0, removed.stderr
        root, collateral = network.work / "simulator-root.pem", network.work / "simulator-collateral.json"
        code, out, err = step("trust-cp-mrtd", "--cp-url", cp, "--ee", ee, "--root", root, "--collateral", collateral,
                              EE_TOKEN=admin)
        assert code == 0 and out == mrtd, err
        status, listed = ln.call("GET", f"{cp}/api/v1/trusted-mrtds")
        assert mrtd in [m["mrtd"] for m in listed]
        # Intel's root does not sign the simulator's quote: refused, nothing trusted.
        code, out, err = step("trust-cp-mrtd", "--cp-url", cp, "--ee", ee, EE_TOKEN=admin)
        assert code == 1 and out == "" and "pr-e2e: ee quote verify" in err, err
        # The owner's bootstrap token, minted with the job's OIDC token.
        code, out, err = step("bootstrap-token", "--cp-url", cp,
                              ACTIONS_ID_TOKEN_REQUEST_URL=f"{network.github_url}/token?repository=octo-org/hello",
                              ACTIONS_ID_TOKEN_REQUEST_TOKEN="request-token")
        assert code == 0 and out.startswith("ee_bt_"), err
        # The VMs' configurations: secrets only in files of mode 0600.
        (tmp_path / "tunnel-token").write_text("tunnel-secret\n")
        secrets = {"CLOUDFLARE_API_TOKEN": "cf", "CLOUDFLARE_ACCOUNT_ID": "acct", "CLOUDFLARE_ZONE_ID": "zone",
                   "ITA_API_KEY": "ita", "EE_DOMAIN": DOMAIN, "EE_ADMIN_TOKEN": admin,
                   "EE_TUNNEL_TOKEN_FILE": str(tmp_path / "tunnel-token"), "EE_BOOTSTRAP_TOKEN": out}
        code, vm, err = step("configs", "--namespace", "pr-5", "--cp-hostname", f"ee-pr-5-cp.{DOMAIN}", "--zone",
                             "us-central1-a", "--owner", "github:org/octo-org", "--out", tmp_path / "configs", **secrets)
        assert code == 0 and vm == "ee-pr-5-agent", err
        cp_config = json.loads((tmp_path / "configs" / "cp.json").read_text())
        agent_config = json.loads((tmp_path / "configs" / "agent.json").read_text())
        assert (tmp_path / "configs" / "cp.json").stat().st_mode & 0o777 == 0o600
        assert cp_config["mode"] == "cp-bootstrap" and cp_config["tunnel_token"] == "tunnel-secret"
        assert cp_config["cp_env"]["EE_CP_INSTANCE_ID"] == "pr-5" and cp_config["cp_env"]["EE_ADMIN_TOKEN"] == admin
        assert cp_config["cp_env"]["EE_QUOTE_PROVIDER"] == "tsm" and cp_config["cp_env"]["CLOUDFLARE_API_TOKEN"] == "cf"
        assert agent_config["cp_url"] == f"https://ee-pr-5-cp.{DOMAIN}" and agent_config["bootstrap_token"] == out
        assert agent_config["datacenter"] == "gcp:us-central1-a" and agent_config["appraisal"] == "ita"
        # The agent's alone, as the workflow writes it once it has the bootstrap token.
        code, vm, err = step("configs", "--agent-only", "--namespace", "pr-5", "--cp-hostname", "cp.example.com",
                             "--zone", "z", "--owner", "github:org/octo-org", "--out", tmp_path / "agent-only",
                             ITA_API_KEY="ita", EE_BOOTSTRAP_TOKEN="ee_bt_x")
        assert code == 0 and sorted(os.listdir(tmp_path / "agent-only")) == ["agent.json"], err
        # The agent registers; wait-agent prints its id.
        agent = network.start_agent(vm, "github:org/octo-org")
        code, out, err = step("wait-agent", "--ee", ee, "--vm-name", vm, "--timeout", "60", EE_CP_URL=cp)
        assert code == 0, err
        assert out == network.wait_registered(agent)["agent_id"]
    finally:
        network.stop()
