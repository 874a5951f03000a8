"""Three ee-cp replicas on one PostgreSQL behind haproxy, end to end, and one of them killed.

The test starts everything itself from the build and Debian's packages: a throwaway PostgreSQL
(initdb in a temporary directory, as `nobody` when run as root since the server refuses root, on
a free loopback port), three real `ee-cp --dev` processes on that database sharing one signing
key file (the nonce key is derived from it) and an admin token, with background passes every
second, and `haproxy` in front of them (round robin, health checks on /health). Real `ee-agent`
processes register and heartbeat through the balancer and one gets a deploy; `connect` verifies
it through the balancer. Then a stream of registrations (signed by keys of the test's own, with
simulator quotes over CP nonces, retried as an agent retries) runs while the replica holding the
maintenance lease is killed with SIGKILL, and the test checks that every acknowledged
registration is stored exactly once, no spent nonce is accepted again by any replica, heartbeats
go on, and a survivor takes the maintenance pass over. Last, the database restarts: calls fail
with registry.store_unavailable meanwhile, and the same processes serve again afterwards.

Without haproxy or PostgreSQL's server the test is skipped, or fails under CI=true (run
scripts/install-deps.sh test).
"""

import base64
import ctypes
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

import easyenclave

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import local_network as ln  # noqa: E402
from support import build_dir, missing  # noqa: E402

OWNER, REPO, APP = "github:org/octo-org", "octo-org/hello", "hello"
ADMIN = "pytest-replicas-admin-token"
REPLICAS = 3
NOBODY = 65534
PR_SET_PDEATHSIG = 1




def postgres_bin() -> Path:
    override = os.environ.get("EE_POSTGRES_BIN")
    candidates = [Path(override)] if override else sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True)
    for d in candidates:
        if (d / "initdb").exists() and (d / "postgres").exists():
            return d
    missing("PostgreSQL's server (initdb, postgres under /usr/lib/postgresql/<version>/bin)")


def quit_with_parent():
    """In the child, after the change of user (which clears it): SIGQUIT, the server's immediate
    shutdown, when the test process dies, so a killed test leaves no server behind."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGQUIT)


# --- PostgreSQL ---------------------------------------------------------------------------------------


class Postgres:
    """A throwaway server: its own data directory, a free loopback port, the unix socket in its
    directory; `nobody` runs it when the test runs as root."""

    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        # Not under pytest's tmp_path: its parents are private to root, and nobody must reach it.
        self.dir = Path(tempfile.mkdtemp(prefix="ee-replicas-pg-"))
        self.as_root = os.geteuid() == 0
        if self.as_root:
            os.chown(self.dir, NOBODY, NOBODY)
        self.process = None
        self.port = 0
        self.log = self.dir / "server.log"

    def _run(self, argv, **kw):
        extra = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if self.as_root else {}
        return subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, preexec_fn=quit_with_parent,
                                **extra, **kw)

    def start(self):
        with open(self.dir / "initdb.log", "wb") as out:
            p = self._run([self.bin / "initdb", "-D", self.dir / "data", "-U", "ee", "-A", "trust", "-E", "UTF8",
                           "--locale=C", "--no-sync", "--no-instructions"], stdout=out, stderr=subprocess.STDOUT)
            if p.wait(timeout=60) != 0:
                raise RuntimeError("initdb failed:\n" + (self.dir / "initdb.log").read_text())
        for _ in range(5):  # a port taken between the probe and the bind: try another
            self.port = ln.free_port()
            if self._launch():
                return
        raise RuntimeError("PostgreSQL did not start:\n" + self.log.read_text(errors="replace")[-2000:])

    def _launch(self) -> bool:
        with open(self.log, "ab") as out:
            self.process = self._run(
                [self.bin / "postgres", "-D", self.dir / "data", "-p", self.port, "-k", self.dir,
                 "-h", "127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off", "-c", "shared_buffers=16MB", "-c", "max_connections=60"],
                stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.process.poll() is None:
            if self.psql("SELECT 1", database="postgres", check=False) == "1":
                return True
            time.sleep(0.1)
        self.stop_server()
        return False

    def start_again(self):
        """The server again on its port, with its data (a restart, as a failover looks to clients)."""
        if not self._launch():
            raise RuntimeError("PostgreSQL did not start again:\n" + self.log.read_text(errors="replace")[-2000:])

    def psql(self, sql: str, database: str = "ee", check: bool = True) -> str:
        r = subprocess.run([str(self.bin / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-h", "127.0.0.1", "-p", str(self.port), "-U", "ee", "-d", database, "-c", sql],
                           capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {r.stderr}")
        return r.stdout.strip()

    def url(self, database: str = "ee") -> str:
        return f"postgresql://ee@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def stop_server(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def stop(self):
        self.stop_server()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- haproxy ------------------------------------------------------------------------------------------


HAPROXY_CONFIG = """\
global
    maxconn 512

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    # A connection refused by a dead replica is tried again on another; a request already sent
    # is not (the client retries, as agents do).
    retries 3
    option redispatch

frontend cp
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
    default-server inter 300ms fall 2 rise 2
{servers}
"""


# --- the cluster --------------------------------------------------------------------------------------


class Replica:
    def __init__(self, index: int, program: ln.Program, url: str):
        self.index, self.program, self.url = index, program, url

    def metric(self, name: str, **labels) -> float:
        """The sum of the samples of `name` whose labels include `labels`."""
        request = urllib.request.Request(self.url + "/metrics", headers={"Authorization": "Bearer " + ADMIN})
        with urllib.request.urlopen(request, timeout=10) as r:
            text = r.read().decode()
        total = 0.0
        for line in text.splitlines():
            m = re.match(r"^" + re.escape(name) + r"\{([^}]*)\} (\S+)$", line)
            if not m:
                continue
            found = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            if all(found.get(k) == v for k, v in labels.items()):
                total += float(m.group(2))
        return total

    def alive(self) -> bool:
        return self.program.process.poll() is None


class Cluster:
    def __init__(self, work: Path, bin_dir: Path, pg: Postgres):
        self.work, self.bin, self.pg = work, bin_dir, pg
        self.programs = []
        self.replicas = []
        self.net = ln.Network(work=work, bin=bin_dir)
        self.lb_url = ""

    def start(self):
        net = self.net
        net.simulator = easyenclave.Simulator.create(dir=self.work / "simulator")
        net.root_pem = net.simulator.root_pem
        github = ln.Program("github", [self.bin / "ee-fake-github", "--listen", "127.0.0.1:0"], self.work)
        self.programs.append(github)
        net.github_url = github.listening_url()
        self.pg.psql("CREATE DATABASE ee", database="postgres")
        key = self.work / "cp-key.pem"
        for i in range(REPLICAS):
            program = ln.Program(f"cp{i}", [
                self.bin / "ee-cp", "--dev", "--listen", "127.0.0.1:0", "--db", self.pg.url(),
                "--db-pool-size", "3", "--signing-key", key, "--admin-token", ADMIN,
                "--simulator-dir", self.work / "simulator", "--trusted-mrtd", net.simulator.mr_td.hex(),
                "--github-jwks-url", net.github_url + "/.well-known/jwks",
                "--heartbeat-interval", "1", "--maintenance-interval", "1", "--health-scrape-interval", "2",
                "--rate-limit-anonymous-per-minute", "0", "--threads", "1"], self.work)
            self.programs.append(program)
            # The first creates the shared signing key file; the others start once it exists.
            self.replicas.append(Replica(i, program, program.listening_url()))
        port = ln.free_port()
        servers = "\n".join(f"    server cp{r.index} {r.url.removeprefix('http://')} check" for r in self.replicas)
        config = self.work / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(port=port, servers=servers))
        haproxy = ln.Program("haproxy", [shutil.which("haproxy"), "-f", config, "-db"], self.work)
        self.programs.append(haproxy)
        self.lb_url = f"http://127.0.0.1:{port}"
        net.cp_url = self.lb_url  # agents, publish and deploy go through the balancer

        def all_up():
            if haproxy.process.poll() is not None:
                raise RuntimeError("haproxy exited:\n" + haproxy.tail())
            try:
                # Round robin: REPLICAS answers in a row mean every server is up.
                return all(ln.call("GET", self.lb_url + "/health", timeout=2)[0] == 200 for _ in range(REPLICAS * 2))
            except OSError:
                return False

        ln.wait_for(all_up, 20, "haproxy to serve")

    def stop(self):
        self.net.stop()
        for p in reversed(self.programs):
            p.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    bin_dir = build_dir("ee-cp", "ee-agent") / "cli"
    if shutil.which("haproxy") is None:
        missing("haproxy")
    pg = Postgres(postgres_bin())
    c = None
    try:
        pg.start()
        c = Cluster(tmp_path_factory.mktemp("replicas"), bin_dir, pg)
        c.start()
        yield c
    finally:
        if c is not None:
            c.stop()
        pg.stop()


# --- registrations by the test itself -------------------------------------------------------------------


def new_key(path: Path) -> bytes:
    """A P-256 key in `path`; its public key as DER SubjectPublicKeyInfo."""
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(path)],
                   check=True, capture_output=True)
    return subprocess.run(["openssl", "pkey", "-in", str(path), "-pubout", "-outform", "DER"],
                          check=True, capture_output=True).stdout


def registration(sim, cp_url: str, vm_name: str, public_der: bytes) -> dict:
    """A register request over a fresh challenge of `cp_url`: the simulator's quote binds the nonce
    and the key, as an agent's does."""
    status, challenge = ln.call("GET", f"{cp_url}/api/v1/agents/challenge?vm_name={vm_name}", timeout=10)
    if status != 200:
        raise RuntimeError(f"challenge: {status} {challenge}")
    nonce = challenge["nonce"]
    report_data = bytes.fromhex(nonce) + hashlib.sha256(public_der).digest()
    return {"vm_name": vm_name, "owner": OWNER, "node_size": "tiny", "datacenter": "local:loopback",
            "nonce": nonce, "public_key": base64.b64encode(public_der).decode(),
            "quote_b64": base64.b64encode(sim.quote(report_data)).decode()}


def register(cp_url: str, body: dict):
    return ln.call("POST", f"{cp_url}/api/v1/agents/register", body, timeout=15)


def error_code(body) -> str:
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("code", ""))
    return ""


# --- the tests --------------------------------------------------------------------------------------------


def test_agents_register_heartbeat_and_get_a_deploy_through_the_balancer(cluster):
    net = cluster.net
    agents = [net.start_agent(f"vm-replica-{i}", OWNER) for i in range(2)]
    for a in agents:
        net.wait_registered(a)
    # Heartbeats every second, spread by the balancer: every replica answers some.
    ln.wait_for(lambda: all(r.metric("ee_cp_heartbeats_total", outcome="ok") > 0 for r in cluster.replicas),
                20, "every replica to answer heartbeats")
    status, body, image = net.publish(REPO, APP)
    assert status == 201, body
    status, body = net.deploy(REPO, APP, agent_id=agents[0].agent_id)
    assert status == 200, body
    running = net.wait_running(body["deployment_id"])
    assert running["agent_id"] == agents[0].agent_id
    # Every replica reads the same state.
    for r in cluster.replicas:
        status, d = ln.call("GET", f"{r.url}/api/v1/deployments/{body['deployment_id']}")
        assert status == 200 and d["status"] == "running", (r.index, d)
    sim = net.simulator
    with easyenclave.connect(APP, cluster.lb_url, root=sim.root_pem, collateral=sim.collateral) as conn:
        assert conn.agent_id == agents[0].agent_id and conn.image == image
        assert conn.get("/").status == 200


def test_a_nonce_spent_at_one_replica_is_refused_at_every_replica(cluster, tmp_path):
    r0, r1, r2 = cluster.replicas
    der = new_key(tmp_path / "k.pem")
    body = registration(cluster.net.simulator, r0.url, "vm-nonce-once", der)  # issued by r0
    status, answer = register(r1.url, body)  # spent at r1
    assert status == 200, answer
    for r in (r2, r0, r1):
        status, again = register(r.url, body)
        assert status == 401 and error_code(again) == "cp.unknown_nonce", (r.index, status, again)
    assert cluster.pg.psql("SELECT count(*) FROM agents WHERE vm_name = 'vm-nonce-once'") == "1"


def lease_holder(cluster, seconds: float = 2.5):
    """The replica whose maintenance passes ran over the last `seconds` (None if unclear)."""
    before = [r.metric("ee_cp_task_runs_total", task="maintenance", outcome="ok") for r in cluster.replicas]
    time.sleep(seconds)
    after = [r.metric("ee_cp_task_runs_total", task="maintenance", outcome="ok") for r in cluster.replicas]
    grew = [r for r, b, a in zip(cluster.replicas, before, after) if a > b]
    return grew[0] if len(grew) == 1 else None


def test_killing_a_replica_loses_no_acknowledged_registration(cluster, tmp_path):
    net, pg = cluster.net, cluster.pg
    holder = lease_holder(cluster)
    victim = holder or cluster.replicas[1]
    survivors = [r for r in cluster.replicas if r is not victim]

    lock = threading.Lock()
    keys = {}  # vm_name -> its key's DER: every registration attempted
    acknowledged = {}  # vm_name -> every agent_id an answer carried
    spent = []  # request bodies whose nonce an acknowledged registration used
    failures = []
    stop = threading.Event()

    def attempt(vm_name, der):
        try:
            body = registration(net.simulator, cluster.lb_url, vm_name, der)
            status, answer = register(cluster.lb_url, body)
        except (OSError, RuntimeError) as e:
            return None, 0, str(e)
        return body, status, answer

    def stream(worker: int):
        n = 0
        while not stop.is_set() and len(keys) < 1000:
            vm_name = f"vm-stream-{worker}-{n:03d}"
            der = new_key(tmp_path / f"{vm_name}.pem")
            with lock:
                keys[vm_name] = der
            deadline = time.monotonic() + 30
            while True:  # as an agent does: a fresh challenge and again until acknowledged
                body, status, answer = attempt(vm_name, der)
                if status == 200:
                    with lock:
                        acknowledged.setdefault(vm_name, []).append(answer["agent_id"])
                        spent.append(body)
                    break
                with lock:
                    failures.append((vm_name, status, answer))
                if time.monotonic() > deadline:
                    return
                time.sleep(0.1)
            # Now and then the same agent again (a restart): the same record, not a second one.
            if n % 4 == 0:
                body, status, answer = attempt(vm_name, der)
                if status == 200:
                    with lock:
                        acknowledged[vm_name].append(answer["agent_id"])
                        spent.append(body)
            n += 1

    threads = [threading.Thread(target=stream, args=(w,), daemon=True) for w in range(2)]
    started = time.monotonic()
    for t in threads:
        t.start()
    ln.wait_for(lambda: len(acknowledged) >= 10, 30, f"registrations before the kill ({failures[-3:]})")
    hb_before = {a.agent_id: ln.call("GET", f"{survivors[0].url}/api/v1/agents/{a.agent_id}")[1]["last_heartbeat_at"]
                 for a in net.agents}
    maintenance_before = sum(r.metric("ee_cp_task_runs_total", task="maintenance", outcome="ok") for r in survivors)
    victims_lease = pg.psql("SELECT holder FROM leases WHERE name = 'maintenance'")
    victim.program.process.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    victim.program.process.wait(timeout=10)
    at_kill = len(acknowledged)
    # Registrations go on through the balancer for a while after the kill.
    ln.wait_for(lambda: len(acknowledged) >= at_kill + 10 and time.monotonic() > killed_at + 2, 60,
                f"registrations after the kill ({failures[-3:]})")
    stop.set()
    for t in threads:
        t.join(60)
        assert not t.is_alive()
    assert set(acknowledged) == set(keys), f"not acknowledged: {set(keys) - set(acknowledged)}; {failures[-3:]}"

    # Every acknowledged registration stored exactly once, under the id its answers carried.
    rows = pg.psql("SELECT vm_name, id FROM agents WHERE vm_name LIKE 'vm-stream-%' ORDER BY vm_name")
    stored = [line.split("|") for line in rows.splitlines()]
    assert sorted(vm for vm, _ in stored) == sorted(keys), stored
    for vm, agent_id in stored:
        assert set(acknowledged[vm]) == {agent_id}, (vm, acknowledged[vm], agent_id)
    assert pg.psql("SELECT count(*) FROM (SELECT vm_name FROM agents GROUP BY vm_name HAVING count(*) > 1) d") == "0"
    # What a survivor lists is the same, each agent once.
    for r in survivors:
        status, listed = ln.call("GET", f"{r.url}/api/v1/agents?limit=10000")
        assert status == 200
        ids = [a["agent_id"] for a in listed]
        assert len(ids) == len(set(ids)) == int(pg.psql("SELECT count(*) FROM agents"))
        assert {a["agent_id"] for a in listed} >= {i for ids_ in acknowledged.values() for i in ids_}

    # No nonce accepted twice: each spent one is refused by every survivor.
    for body in spent[:: max(1, len(spent) // 6)]:
        for r in survivors:
            status, again = register(r.url, body)
            assert status == 401 and error_code(again) == "cp.unknown_nonce", (r.index, status, again)

    # The real agents heartbeat on through the survivors.
    def heartbeats_went_on():
        for agent_id, before in hb_before.items():
            status, a = ln.call("GET", f"{survivors[0].url}/api/v1/agents/{agent_id}")
            if status != 200 or a["last_heartbeat_at"] <= before:
                return False
        return True

    ln.wait_for(heartbeats_went_on, 15, "the agents' heartbeats after the kill")
    for a in net.agents:
        assert a.program.process.poll() is None, a.program.tail()
    # A survivor runs the maintenance pass (the lease lasts two intervals, 2 s here).
    ln.wait_for(lambda: sum(r.metric("ee_cp_task_runs_total", task="maintenance", outcome="ok")
                            for r in survivors) >= maintenance_before + 3,
                15, "a survivor to run the maintenance pass")
    if holder is not None:  # the victim held the lease: now a survivor does
        assert pg.psql("SELECT holder FROM leases WHERE name = 'maintenance'") not in ("", victims_lease)
    print(f"\n{len(keys)} agents registered by 2 streams ({at_kill} before the kill), "
          f"{len(spent)} acknowledged registrations, {len(failures)} failed attempt(s) retried; killed "
          f"cp{victim.index} {killed_at - started:.1f} s in; checks done {time.monotonic() - killed_at:.1f} s after")


def test_the_replicas_ride_out_a_database_restart(cluster, tmp_path):
    """While the database is away calls fail with registry.store_unavailable and /health says so;
    once it is back the same processes serve again on new connections."""
    net, pg = cluster.net, cluster.pg
    replicas = [r for r in cluster.replicas if r.alive()]
    pg.stop_server()
    down_at = time.monotonic()
    try:
        for r in replicas:
            # /health's counts are at most a second old: the next read fails.
            ln.wait_for(lambda: ln.call("GET", r.url + "/health")[0] == 502, 10, f"cp{r.index}'s /health to fail")
            status, body = ln.call("GET", r.url + "/health")
            assert error_code(body) == "registry.store_unavailable", body
        der = new_key(tmp_path / "k.pem")
        status, body = register(replicas[0].url, registration(net.simulator, replicas[0].url, "vm-outage", der))
        assert status == 502 and error_code(body) == "registry.store_unavailable", (status, body)
    finally:
        pg.start_again()
    outage = time.monotonic() - down_at
    for r in replicas:
        assert r.alive(), r.program.tail()
        ln.wait_for(lambda: ln.call("GET", r.url + "/health")[0] == 200, 15, f"cp{r.index} to serve again")
    status, body = register(cluster.lb_url, registration(net.simulator, cluster.lb_url, "vm-outage", der))
    assert status == 200, body
    assert pg.psql("SELECT count(*) FROM agents WHERE vm_name = 'vm-outage'") == "1"
    since = {a.agent_id: ln.call("GET", f"{replicas[0].url}/api/v1/agents/{a.agent_id}")[1]["last_heartbeat_at"]
             for a in net.agents}

    def heartbeats_went_on():
        return all(ln.call("GET", f"{replicas[0].url}/api/v1/agents/{i}")[1]["last_heartbeat_at"] > t
                   for i, t in since.items())

    ln.wait_for(heartbeats_went_on, 15, "the agents' heartbeats after the restart")
    print(f"database away {outage:.1f} s; replicas serving again {time.monotonic() - down_at:.1f} s after it left")
