"""What the Python tests share: where the build's programs are, and what a missing tool means.

Under ``CI=true`` (``make test``) nothing may be skipped for want of a tool or a build: a missing
one fails, naming how to install it. Elsewhere it skips, so a partial checkout still runs the rest.
"""

import os
from pathlib import Path

import pytest


def missing(what: str):
    """Fails under CI=true, skips otherwise; never returns."""
    message = f"{what} not found: run scripts/install-deps.sh test"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def build_dir(*programs: str) -> Path:
    """``$EE_BUILD_DIR`` (the Makefile sets it), holding ``cli/<program>`` for each of ``programs``."""
    build = os.environ.get("EE_BUILD_DIR")
    if not build or not all((Path(build) / "cli" / p).exists() for p in programs):
        wanted = ", ".join(f"cli/{p}" for p in programs) or "a build"
        missing(f"EE_BUILD_DIR with the programs of a build ({wanted})")
    return Path(build)
