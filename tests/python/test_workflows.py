"""The project's GitHub Actions workflows (.github/workflows/), its Action (action.yml) and the
hello-tdx example's workflow, checked as far as they can be without GitHub: against GitHub's
schemas (check-jsonschema's vendor.github-workflows and vendor.github-actions), audited by zizmor
offline with no finding (each relaxed rule is explained in .github/zizmor.yml), and held to the
rules zizmor does not check: every action pinned by commit with its version in a comment, every
job with its own permissions under a workflow-level `permissions: {}`, no expression inside a
script, only the secret and variable names of seed 000 (and the few documented here), and every
script they call present. The scripts themselves run in test_ci_scripts.py and test_action.py.

check-jsonschema and zizmor come from PyPI (scripts/install-deps.sh test); under CI=true a missing
one fails instead of skipping.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import action_runner as ar  # noqa: E402
from support import missing  # noqa: E402

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
EXAMPLE = ROOT / "examples" / "hello-tdx"
EXAMPLE_WORKFLOWS = sorted((EXAMPLE / ".github" / "workflows").glob("*.yml"))
# Seed 000's names, GitHub's own token, and what .github/README.md adds: PRODUCTION_CP_CONFIG
# (the production CP VM's configuration), EE_DOMAIN, EE_GCP_ZONE,
# EE_GCP_IMAGE_BUCKET; the example's EE_CP_URL and EE_AGENT_MRTD.
SECRETS = {"GITHUB_TOKEN", "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_ZONE_ID", "ITA_API_KEY",
           "GCP_PROJECT_ID", "GCP_SERVICE_ACCOUNT_KEY", "PRODUCTION_GCP_PROJECT_ID",
           "PRODUCTION_GCP_SERVICE_ACCOUNT_KEY", "PRODUCTION_CP_CONFIG", "CP_HOST"}
VARIABLES = {"EE_GCP_SOURCE_IMAGE_FAMILY", "EE_GCP_SOURCE_IMAGE_PROJECT", "EE_DOMAIN", "EE_GCP_ZONE",
             "EE_GCP_IMAGE_BUCKET", "EE_CP_URL", "EE_AGENT_MRTD"}
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")



def tool(name: str) -> str:
    for candidate in (Path(sys.executable).parent / name, shutil.which(name)):
        if candidate and Path(candidate).exists():
            return str(candidate)
    missing(name)


@pytest.fixture(scope="module", autouse=True)
def yaml_parser():
    try:
        import ruamel.yaml  # noqa: F401  (installed with check-jsonschema)
    except ImportError:
        missing("ruamel.yaml (with check-jsonschema)")


def run(*argv):
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=ROOT, timeout=300)
    return done.returncode, done.stdout + done.stderr


def test_the_five_workflows_are_there():
    assert [w.name for w in WORKFLOWS] == ["ci.yml", "cleanup.yml", "deploy.yml", "image.yml", "pr-e2e.yml"]
    assert [w.name for w in EXAMPLE_WORKFLOWS] == ["deploy.yml"]


def test_the_workflows_and_the_action_match_githubs_schemas(tmp_path):
    check = tool("check-jsonschema")
    code, out = run(check, "--builtin-schema", "vendor.github-workflows", *WORKFLOWS, *EXAMPLE_WORKFLOWS)
    assert code == 0, out
    code, out = run(check, "--builtin-schema", "vendor.github-actions", ROOT / "action.yml")
    assert code == 0, out
    # The check does fail: a workflow with a misspelt key is refused.
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    stepz: []\n")
    code, out = run(check, "--builtin-schema", "vendor.github-workflows", broken)
    assert code != 0, out


@pytest.mark.parametrize("persona", ["regular", "pedantic"])
def test_zizmor_finds_nothing_offline(persona):
    zizmor = tool("zizmor")
    code, out = run(zizmor, "--offline", "--persona", persona, "--no-progress", ".")
    assert code == 0 and "No findings to report" in out, out
    code, out = run(zizmor, "--offline", "--persona", persona, "--no-progress", "--config",
                    EXAMPLE / ".github" / "zizmor.yml", EXAMPLE)
    assert code == 0 and "No findings to report" in out, out
    # ... and it is looking: the example without its configuration has the one explained finding.
    code, out = run(zizmor, "--offline", "--no-config", "--no-progress", EXAMPLE)
    assert code != 0 and "unpinned-uses" in out, out


def documents():
    for path in WORKFLOWS + EXAMPLE_WORKFLOWS:
        yield path, ar.load_yaml(path)


def steps_of(doc):
    for job_id, job in doc["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, step


def test_actions_are_pinned_by_commit_and_jobs_have_least_permissions():
    for path, doc in documents():
        assert doc.get("permissions") == {}, f"{path.name}: the workflow's own permissions must be {{}}"
        triggers = doc.get(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
        assert "pull_request_target" not in triggers and "workflow_run" not in triggers, path.name
        for job_id, job in doc["jobs"].items():
            assert "permissions" in job, f"{path.name}: job {job_id} says which permissions it needs"
            assert "timeout-minutes" in job or path.parent.parent.parent == EXAMPLE, f"{path.name}: {job_id}"
            granted = job["permissions"] or {}
            assert "write-all" != granted and all(v in ("read", "write", "none") for v in granted.values())
        text = path.read_text()
        for job_id, step in steps_of(doc):
            uses = step.get("uses")
            if uses is None:
                continue
            if uses.startswith("./"):
                continue
            if uses.startswith("easyenclave/easyenclave@") and path in EXAMPLE_WORKFLOWS:
                continue  # the example's own Action, explained in its zizmor.yml
            assert PINNED.match(uses), f"{path.name}: {uses} is not pinned by commit"
            assert re.search(re.escape(uses) + r" # v\d+(\.\d+)*\b", text), f"{path.name}: {uses} has no # vX comment"


def test_no_expression_reaches_a_script_and_only_known_names_are_used():
    sources = list(documents()) + [(ROOT / "action.yml", ar.load_yaml(ROOT / "action.yml"))]
    for path, doc in sources:
        steps = doc["runs"]["steps"] if "runs" in doc else [s for _, s in steps_of(doc)]
        for step in steps:
            assert "${{" not in step.get("run", ""), f"{path.name}: {step.get('name')}: pass it through env:"
        text = path.read_text()
        assert set(re.findall(r"secrets\.([A-Za-z0-9_]+)", text)) <= SECRETS, path.name
        assert set(re.findall(r"vars\.([A-Za-z0-9_]+)", text)) <= VARIABLES, path.name
        assert "toJSON(secrets)" not in text and "secrets: inherit" not in text


def test_the_scripts_the_workflows_call_exist_and_are_executable():
    called = set()
    for path, doc in documents():
        for _, step in steps_of(doc):
            called |= set(re.findall(r"scripts/ci/[\w-]+", step.get("run", "")))
    assert called == {"scripts/ci/cf-tunnel", "scripts/ci/pr-e2e", "scripts/ci/gcp-vm", "scripts/ci/gcp-image",
                      "scripts/ci/cleanup"}
    for script in called:
        assert os.access(ROOT / script, os.X_OK), script
        code, out = run(ROOT / script, "--help")
        assert code == 0 and "usage:" in out, out
