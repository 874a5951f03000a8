#!/usr/bin/env python3
"""Runs the embedding examples together, as build_examples.cmake builds them, and checks each.

    run_examples.py --work DIR --custom-cp BIN --embed-agent BIN --fake-github BIN --hello-tdx DIR

1. examples/custom-cp on 127.0.0.1:0 (simulator quotes, admitting datacenter local:lab only):
   /health answers and its extra route GET /api/v1/hello reports the admission list.
2. examples/embed-agent in local:lab registers with it, verified (GET /api/v1/agents lists it).
3. A second embed-agent in another datacenter is refused by the custom admission hook: the
   route counts the refusal and the registry does not list it.
4. examples/hello-tdx/deploy.py, with ee-fake-github standing in for ACTIONS_ID_TOKEN_REQUEST_URL,
   publishes an app and deploys it: the CP picks the embedded agent, its in-process workload
   engine serves the app on its port, and a heartbeat makes the deployment "running".
Every step has a deadline of seconds; the whole run takes a few.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

DEADLINE = 30  # seconds for any one wait
procs = []


def fail(message):
    raise SystemExit(f"run_examples: {message}")


def start(name, argv, work):
    """Starts a program whose first stdout line is {"event":"listening","url":...}; returns it and the line."""
    log = open(os.path.join(work, f"{name}.log"), "wb")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log)
    proc.name, proc.log = name, log.name
    procs.append(proc)
    line = proc.stdout.readline()
    try:
        event = json.loads(line)
    except ValueError:
        fail(f"{name} printed no listening line (exit {proc.poll()}):\n{tail(proc)}")
    if event.get("event") != "listening":
        fail(f"{name}: unexpected first line {line!r}")
    return proc, event


def tail(proc):
    with open(proc.log, errors="replace") as f:
        return "".join(f.readlines()[-30:])


def get(url, timeout=5):
    """(status, JSON body) of a GET; connection errors are (0, None)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, None
    except (urllib.error.URLError, ConnectionError, socket.timeout):
        return 0, None


def get_text(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode()
    except (urllib.error.URLError, ConnectionError, socket.timeout):
        return None


def wait_for(what, check, watched=()):
    """Polls check() until it returns something truthy; fails after DEADLINE or if a watched process exits."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        for proc in watched:
            if proc.poll() is not None:
                fail(f"{proc.name} exited ({proc.returncode}) while waiting for {what}:\n{tail(proc)}")
        time.sleep(0.1)
    fail(f"timed out waiting for {what}:\n" + "\n".join(f"--- {p.name}\n{tail(p)}" for p in watched))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def agents_named(cp, vm_name):
    status, listed = get(f"{cp}/api/v1/agents?vm_name={vm_name}")
    if status != 200:
        fail(f"GET /api/v1/agents answered {status}")
    return listed


def run(args):
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    simulator_dir = os.path.join(work, "sim")

    github, github_event = start("fake-github", [args.fake_github, "--listen", "127.0.0.1:0"], work)
    cp_proc, cp_event = start("custom-cp", [
        args.custom_cp, "--listen", "127.0.0.1:0", "--simulator-dir", simulator_dir,
        "--allow-datacenter", "local:lab", "--github-jwks-url", github_event["jwks_url"],
        "--heartbeat-interval", "1"], work)
    cp = cp_event["url"]

    # 1. The built-in health route and the extra one.
    status, health = get(f"{cp}/health")
    if status != 200 or health.get("status") != "ok" or health.get("dev") is not True:
        fail(f"custom-cp /health: {status} {health}")
    status, hello = get(f"{cp}/api/v1/hello")
    expected = {"hello": "from custom-cp", "allowed_datacenters": ["local:lab"], "admitted": 0, "refused": 0}
    if status != 200 or hello != expected:
        fail(f"custom-cp /api/v1/hello: {status} {hello}, expected {expected}")

    # 2. The embedded agent registers, verified.
    agent_port, workload_port = free_port(), free_port()
    agent, agent_event = start("embed-agent", [
        args.embed_agent, "--cp-url", cp, "--listen", f"127.0.0.1:{agent_port}",
        "--workload-port", str(workload_port), "--vm-name", "embed-ok", "--datacenter", "local:lab",
        "--owner", "github:org/octo-org", "--simulator-dir", simulator_dir,
        "--state-dir", os.path.join(work, "agent-ok")], work)
    if agent_event["url"] != f"http://127.0.0.1:{agent_port}":
        fail(f"embed-agent listens at {agent_event['url']}")
    registered = wait_for("embed-ok in GET /api/v1/agents", lambda: agents_named(cp, "embed-ok"), [agent, cp_proc])
    record = registered[0]
    if not record["verified"] or record["datacenter"] != "local:lab" or record["public_key"] != agent_event["public_key"]:
        fail(f"embed-ok registered as {record}")
    if json.loads(agent.stdout.readline()).get("agent_id") != record["agent_id"]:
        fail("embed-agent's registered line names another agent id")

    # 3. An agent from a datacenter the hook does not admit is refused, and not listed.
    refused, _ = start("embed-agent-refused", [
        args.embed_agent, "--cp-url", cp, "--listen", "127.0.0.1:0", "--vm-name", "embed-refused",
        "--datacenter", "gcp:us-central1-a", "--simulator-dir", simulator_dir,
        "--state-dir", os.path.join(work, "agent-refused")], work)
    hello = wait_for("a refusal counted by /api/v1/hello",
                     lambda: (lambda h: h if h and h["refused"] >= 1 else None)(get(f"{cp}/api/v1/hello")[1]),
                     [refused, cp_proc])
    if hello["admitted"] != 1 or agents_named(cp, "embed-refused"):
        fail(f"after the refusal: {hello}, {agents_named(cp, 'embed-refused')}")
    status, agent_health = get(f"http://127.0.0.1:{agent_port}/api/health")
    if status != 200 or not agent_health["registered"] or agent_health["agent_id"] != record["agent_id"]:
        fail(f"embed-agent /api/health: {status} {agent_health}")

    # 4. Publish and deploy as the hello-tdx workflow does; the embedded engine serves the app.
    image = "ghcr.io/octo-org/hello@sha256:" + "5e" * 32
    env = dict(os.environ, ACTIONS_ID_TOKEN_REQUEST_URL=f"{github_event['url']}/token?repository=octo-org/hello",
               ACTIONS_ID_TOKEN_REQUEST_TOKEN="unused-by-the-fake")
    deployed = subprocess.run(
        [sys.executable, os.path.join(args.hello_tdx, "deploy.py"), "--cp-url", cp, "--app", "hello",
         "--version", "1.0.0", "--image", image, "--source-repo", "octo-org/hello",
         "--mrtd", record["mrtd"], "--wait", str(DEADLINE)],
        env=env, capture_output=True, text=True, timeout=DEADLINE + 10)
    if deployed.returncode != 0:
        fail(f"deploy.py failed ({deployed.returncode}):\n{deployed.stderr}\n--- embed-agent\n{tail(agent)}")
    deployment = json.loads(deployed.stdout)
    if deployment["status"] != "running" or deployment["agent_id"] != record["agent_id"]:
        fail(f"deployment: {deployment}")
    page = get_text(f"http://127.0.0.1:{workload_port}/")
    if not page or not page.startswith("hello from hello 1.0.0 (" + image + ")"):
        fail(f"the in-process workload answered {page!r}")
    # The agent's address serves the workload too (paths that are not the agent API's).
    through_agent = get_text(f"http://127.0.0.1:{agent_port}/")
    if through_agent != page:
        fail(f"through the agent the workload answered {through_agent!r}")
    status, listed = get(f"{cp}/api/v1/agents?vm_name=embed-ok")
    if listed[0]["status"] != "deployed" or listed[0]["reported_status"] != "running":
        fail(f"after the deploy, the agent is {listed[0]}")
    # The agent reports the engine's status() as is: the catalog's digest, the deployment's id.
    workload = get(f"http://127.0.0.1:{agent_port}/api/health")[1]["workload"]
    if (workload["state"], workload["image_digest"], workload["deployment_id"]) != (
            "running", image.split("@")[1], deployment["deployment_id"]):
        fail(f"embed-agent /api/health workload: {workload}")
    print(f"run_examples: custom-cp, embed-agent and hello-tdx/deploy.py work together ({cp})")


def main():
    parser = argparse.ArgumentParser()
    for flag in ("--work", "--custom-cp", "--embed-agent", "--fake-github", "--hello-tdx"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    try:
        run(args)
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
