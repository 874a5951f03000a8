"""Shared fixtures: where the attestation test vectors live.

The vectors are in the repository, in ``tests/data`` (or wherever ``EE_TESTDATA_DIR`` points).
"""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def testdata_dir() -> Path:
    override = os.environ.get("EE_TESTDATA_DIR")
    if override:
        return Path(override)
    return REPO_ROOT / "tests" / "data"


@pytest.fixture(scope="session")
def testdata() -> Path:
    path = testdata_dir()
    if not (path / "attestation").is_dir():
        pytest.fail(f"attestation test vectors not found in {path} (set EE_TESTDATA_DIR)")
    return path


@pytest.fixture(scope="session")
def attestation(testdata: Path) -> Path:
    return testdata / "attestation"
