"""A whole easyenclave network on loopback, from the programs of a build.

Used by `make demo` (scripts/demo), the Python end-to-end tests and bench/python_verify.py, so
the three start the network the same way:

- a TDX quote simulator (the agents' "hardware"; its root is trusted only in --dev),
- ee-fake-github: the GitHub Actions OIDC issuer (mints workflow tokens for a repository),
- ee-fake-ita: Intel Trust Authority (appraises the simulator's quotes into PS384 tokens),
- ee-cp --dev on SQLite, trusting the simulator's MRTD and both stand-ins' keys,
- ee-agent processes (simulator quotes, a process workload), each on its own ports.

Cloudflare is not started: on loopback the CP reaches agents at the agent_url they register
with (a tunnel hostname would need DNS); tunnels are exercised by the C++ tests against the
Cloudflare stand-in.

Every program prints {"event":"listening","url":...} on stdout once it serves; that is how the
ports the kernel picked are learned. Stopping terminates everything in reverse order.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

# The example workload of examples/hello-tdx: the process runtime runs it in place of the image.
ROOT = Path(__file__).resolve().parents[1]
HELLO_APP = ROOT / "examples" / "hello-tdx" / "app.py"
ITA_API_KEY = "local-ita-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str):
    """predicate()'s first truthy value within `timeout` seconds; TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def call(method: str, url: str, body=None, token: str | None = None, timeout: float = 10):
    """(status, parsed JSON body) of one request; HTTP errors are answers, not exceptions."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text or b"null")
        except ValueError:
            return e.code, {"message": text.decode(errors="replace")}


class Program:
    """One program of the build, its stdout and stderr in files of the work directory."""

    def __init__(self, name: str, argv: list, work: Path, env: dict | None = None):
        self.name = name
        self.out = work / f"{name}.out"
        self.log = work / f"{name}.log"
        with open(self.out, "wb") as out, open(self.log, "wb") as err:
            self.process = subprocess.Popen(
                [str(a) for a in argv], stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env
            )

    def listening_url(self, timeout: float = 20) -> str:
        def found():
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.tail()}"
                )
            m = re.search(r'"event":"listening","url":"([^"]+)"', self.out.read_text())
            return m.group(1) if m else None

        return wait_for(found, timeout, f"{self.name} to listen")

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Agent:
    vm_name: str
    owner: str
    appraisal: str  # "quote" (DCAP at the CP) or "ita" (a token from the ITA stand-in)
    api_url: str = ""
    workload_url: str = ""
    program: Program | None = None
    agent_id: str = ""


@dataclass
class Network:
    work: Path
    bin: Path
    simulator: object = None  # easyenclave.Simulator
    programs: list = field(default_factory=list)
    github_url: str = ""
    ita_url: str = ""
    cp_url: str = ""
    agents: list = field(default_factory=list)

    # --- starting ------------------------------------------------------------------------------

    def _start(self, name: str, argv: list, env: dict | None = None) -> Program:
        program = Program(name, argv, self.work, env=env)
        self.programs.append(program)
        return program

    def start_core(self, heartbeat_interval: int = 1, cp_listen: str = "127.0.0.1:0", cp_env=None):
        """The simulator, both stand-ins and the control plane. `cp_listen` fixes the CP's address
        (an OAuth callback URL must name it in advance); `cp_env(github_url)` returns environment
        variables for the CP once the GitHub stand-in listens (its sign-in settings)."""
        import easyenclave

        sim_dir = self.work / "simulator"
        # Agents load the same directory (their simulator provider), so they share its PKI and its
        # measurements (MRTD all zeros: the simulator's TD).
        self.simulator = easyenclave.Simulator.create(dir=sim_dir)
        self.root_pem = self.simulator.root_pem
        (self.work / "simulator-root.pem").write_text(self.root_pem)
        (self.work / "simulator-collateral.json").write_text(self.simulator.collateral_json)
        self.github_url = self._start(
            "github", [self.bin / "ee-fake-github", "--listen", "127.0.0.1:0"]
        ).listening_url()
        self.ita_url = self._start(
            "ita",
            [self.bin / "ee-fake-ita", "--listen", "127.0.0.1:0", "--api-key", ITA_API_KEY,
             "--sim-dir", sim_dir],
        ).listening_url()
        cp = self._start(
            "cp",
            [self.bin / "ee-cp", "--dev", "--listen", cp_listen, "--db", self.work / "cp.db",
             "--signing-key", self.work / "cp-key.pem",
             "--simulator-dir", sim_dir, "--trusted-mrtd", self.simulator.mr_td.hex(),
             "--github-jwks-url", self.github_url + "/.well-known/jwks",
             "--ita-jwks-url", self.ita_url + "/certs",
             "--heartbeat-interval", str(heartbeat_interval), "--health-scrape-interval", "0"],
            env=dict(os.environ, **cp_env(self.github_url)) if cp_env else None,
        )
        self.cp_url = cp.listening_url()

    def start_agent(self, vm_name: str, owner: str, appraisal: str = "quote",
                    advertised_url: str = "") -> Agent:
        """An agent whose workload runs examples/hello-tdx/app.py on a port of its own. It tells
        the CP it serves at `advertised_url` (default: where it listens); tests put a man in the
        middle there."""
        agent = Agent(vm_name, owner, appraisal)
        api_port, workload_port = free_port(), free_port()
        agent.api_url = f"http://127.0.0.1:{api_port}"
        agent.workload_url = f"http://127.0.0.1:{workload_port}"
        config = {
            "cp_url": self.cp_url, "owner": owner, "node_size": "tiny",
            "datacenter": "local:loopback", "vm_name": vm_name,
            "listen": f"127.0.0.1:{api_port}", "agent_url": advertised_url or agent.api_url,
            "workload_port": workload_port, "workload_runtime": "process",
            "process_command": [sys.executable, str(HELLO_APP)],
            "quote_provider": "simulator", "simulator_dir": str(self.work / "simulator"),
            "state_dir": str(self.work / f"{vm_name}-state"),
            "cloudflared": str(self.work / "no-cloudflared"), "register_retry_min": 1,
            "register_retry_max": 2, "appraisal": appraisal,
            # The key only in the process: the network runs on any file system, not only a tmpfs.
            "key_file": "",
        }
        if appraisal == "ita":
            config["ita_url"] = self.ita_url
        config_file = self.work / f"{vm_name}.json"
        config_file.write_text(json.dumps(config, indent=2))
        argv = [self.bin / "ee-agent", "--config", config_file, "--cmdline", self.work / "none"]
        # The ITA API key is a secret: the environment, never the command line or a file.
        env = dict(os.environ, ITA_API_KEY=ITA_API_KEY) if appraisal == "ita" else None
        agent.program = Program(vm_name, argv, self.work, env=env)
        self.programs.append(agent.program)
        agent.program.listening_url()
        self.agents.append(agent)
        return agent

    def wait_registered(self, agent: Agent, timeout: float = 30) -> dict:
        def registered():
            if agent.program.process.poll() is not None:
                raise RuntimeError(f"{agent.vm_name} exited:\n{agent.program.tail()}")
            status, agents = call("GET", f"{self.cp_url}/api/v1/agents?vm_name={agent.vm_name}")
            if status != 200 or not agents or not agents[0]["verified"]:
                return None
            # The CP lists the agent as soon as it stored it, a moment before the agent has read
            # the answer and the CP's key: until then the agent refuses the CP's signed calls.
            try:
                status, health = call("GET", f"{agent.api_url}/api/health")
            except OSError:
                return None
            if status == 200 and health.get("registered") and health.get("agent_id") == agents[0]["agent_id"]:
                return agents[0]
            return None

        record = wait_for(registered, timeout, f"{agent.vm_name} to register")
        agent.agent_id = record["agent_id"]
        return record

    # --- acting as a repository's workflow -------------------------------------------------------

    def github_token(self, repository: str) -> str:
        """What a workflow of `repository` gets with `audience: easyenclave`."""
        url = f"{self.github_url}/token?audience=easyenclave&repository={repository}"
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.loads(r.read())["value"]

    def publish(self, repository: str, app: str, version: str = "1.0.0"):
        """Publishes examples/hello-tdx as `app` from `repository`'s workflow, expecting the
        simulator's MRTD. (status, body, image)."""
        image = image_for(app, HELLO_APP.read_text())
        status, body = call("POST", self.cp_url + "/api/v1/apps", {
            "name": app, "description": "the smallest easyenclave workload",
            "source_repo": repository, "version": version, "image": image,
            "mrtd": self.simulator.mr_td.hex()}, self.github_token(repository))
        return status, body, image

    def deploy(self, repository: str, app: str, version: str = "1.0.0", agent_id: str = ""):
        """A deploy by `repository`'s workflow: (status, body)."""
        request = {"app_name": app, "version": version}
        if agent_id:
            request["agent_id"] = agent_id
        return call("POST", self.cp_url + "/api/v1/deploy", request, self.github_token(repository))

    def wait_running(self, deployment_id: str, timeout: float = 30) -> dict:
        def running():
            status, d = call("GET", f"{self.cp_url}/api/v1/deployments/{deployment_id}")
            if status == 200 and d["status"] == "failed":
                raise RuntimeError(f"deployment {deployment_id} failed: {d.get('detail')}")
            return d if status == 200 and d["status"] == "running" else None

        return wait_for(running, timeout, f"deployment {deployment_id} to run")

    def stop(self):
        for program in reversed(self.programs):
            program.stop()
        self.programs.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def image_for(name: str, content: str) -> str:
    """A reference pinned by digest. The process runtime runs app.py in place of the image and
    reports the pinned digest, so any well-formed digest will do; this one is derived from the
    app's source, the way a build would."""
    return f"registry.local/{name}@sha256:" + hashlib.sha256(content.encode()).hexdigest()
