"""`make demo`, non-interactively: scripts/demo --check runs every step against the programs of
the build and exits non-zero on the first failed check. This asserts each step's outcome as the
script reports it, and that nothing is left behind."""

import glob
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from support import build_dir  # noqa: E402


def test_demo_check_passes_every_step_and_leaves_nothing_behind(tmp_path):
    env = dict(os.environ, EE_BUILD_DIR=str(build_dir("ee-cp", "ee-agent")), TMPDIR=str(tmp_path))
    workloads_before = running_workloads()
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo"), "--check"],
        capture_output=True, text=True, timeout=180, env=env,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    for step in [
        "[1] Control plane and stand-ins",
        "[2] Two TDX VMs",
        "[3] The repository acme/hello-tdx publishes",
        "[4] Deploy",
        "[5] A client",
        "[6] The same client refuses",
        "[7] Done",
    ]:
        assert step in out, out
    assert "vm-acme (github:org/acme) verified: quote verified by the CP with DCAP" in out
    assert "vm-globex (github:org/globex) verified: token from Intel Trust Authority" in out
    assert "refused, cp.owner_mismatch" in out
    assert "owner matched, signed deploy, running" in out
    for check in ("nonce", "key_binding", "mrtd", "image_digest", "tcb_policy"):
        assert f"PASS {check}:" in out, out
    assert "answered: from inside a TDX VM" in out
    assert "VerificationError" in out
    # Every process stopped and the temporary state removed.
    assert glob.glob(str(tmp_path / "ee-demo.*")) == []
    assert subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True).stdout == b""
    assert running_workloads() <= workloads_before


def running_workloads() -> set:
    """Pids of hello-tdx workloads (the agents' children) running now."""
    found = subprocess.run(["pgrep", "-f", "examples/hello-tdx/app.py"], capture_output=True)
    return set(found.stdout.split())
