"""scripts/check-layers: the module boundaries of docs/architecture.md hold, and the check can fail."""

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHECK = REPO / "scripts" / "check-layers"


def run(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECK), str(root)], capture_output=True, text=True)


def test_the_repository_keeps_its_module_boundaries() -> None:
    done = run(REPO)
    assert done.returncode == 0, done.stdout + done.stderr


def _mini_repo(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    shutil.copy(REPO / "docs" / "architecture.md", tmp_path / "docs" / "architecture.md")
    for d in ("src/launcher", "src/agent", "src/detail", "include/easyenclave/api"):
        (tmp_path / d).mkdir(parents=True)
    return tmp_path


def test_an_include_across_a_boundary_is_named(tmp_path: Path) -> None:
    root = _mini_repo(tmp_path)
    (root / "src/launcher/plan.cpp").write_text(
        '#include <easyenclave/api/agent_config.hpp>\n#include "detail/json.hpp"\n#include <vector>\n')
    assert run(root).returncode == 0
    (root / "src/launcher/plan.cpp").write_text('#include "agent/child_process.hpp"\n')
    (root / "src/detail/json.cpp").write_text("#include <easyenclave/http/server.hpp>\n")
    done = run(root)
    assert done.returncode == 1
    assert "src/launcher/plan.cpp:1: launcher includes agent" in done.stdout
    assert "src/detail/json.cpp:1: core includes http" in done.stdout


def test_an_unreadable_table_is_an_error_not_a_pass(tmp_path: Path) -> None:
    root = _mini_repo(tmp_path)
    text = (root / "docs/architecture.md").read_text()
    (root / "docs/architecture.md").write_text(text.replace("| `launcher/` | core, http, api |",
                                                            "| `launcher/` | core, http, ap |"))
    done = run(root)
    assert done.returncode == 2
    assert "unknown modules" in done.stderr


def test_a_control_plane_write_outside_its_files_is_named(tmp_path: Path) -> None:
    root = _mini_repo(tmp_path)
    (root / "src/cp/routes").mkdir(parents=True)
    (root / "src/cp/deployment_lifecycle.cpp").write_text(
        "auto r = deployments.set_status_if(d.id, d.status, t->to, detail, now, t->hold);\n")
    (root / "src/cp/routes/deploy.cpp").write_text("auto d = s.stores.deployments->get(id);\n")
    assert run(root).returncode == 0
    (root / "src/cp/routes/deploy.cpp").write_text(
        "// set_status_if( in a comment is not a call\n"
        "auto d = s.stores.deployments->set_status(id, DeploymentStatus::stopped, \"\", now);\n")
    done = run(root)
    assert done.returncode == 1
    assert "src/cp/routes/deploy.cpp:2: calls set_status(" in done.stdout
    assert "deploy.cpp:1" not in done.stdout


def test_a_missing_write_table_is_an_error_not_a_pass(tmp_path: Path) -> None:
    root = _mini_repo(tmp_path)
    text = (root / "docs/architecture.md").read_text()
    (root / "docs/architecture.md").write_text(text.replace("| write | only in |", "| write | where |"))
    done = run(root)
    assert done.returncode == 2
    assert "write" in done.stderr
