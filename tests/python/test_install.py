"""`pip install .` builds and installs the package into a fresh virtual environment, and it imports
from another directory.

The venv sees the packages of the interpreter that runs the tests (the checkout's .venv, or the
system's), so scikit-build-core and pybind11 (installed by scripts/install-deps.sh) serve as build
requirements without network access (`--no-build-isolation`). scikit-build-core builds in the
repository's build/{wheel_tag} (pyproject.toml), so after the first run only changed sources
recompile. Set EE_SKIP_INSTALL_TEST=1 to skip it in a quick edit-test loop.
"""

import os
import re
import site
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.install,
    pytest.mark.skipif(os.environ.get("EE_SKIP_INSTALL_TEST") == "1", reason="EE_SKIP_INSTALL_TEST=1"),
]


def _clean_env() -> dict:
    env = dict(os.environ)
    # The test run points PYTHONPATH at the CMake build's module; the venv must use its own copy.
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", "2")
    return env


def test_pip_install_into_a_fresh_venv_and_import_elsewhere(tmp_path):
    env = _clean_env()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, env=env)
    python = venv / "bin" / "python"
    # A venv made from a venv sees only its base interpreter's packages: add the test's own.
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, env=env, capture_output=True, text=True,
    ).stdout.strip()
    (Path(purelib) / "ee-test-parent.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    started = time.monotonic()
    build = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-input",
         "--disable-pip-version-check", "-q", str(ROOT)],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert build.returncode == 0, f"pip install failed:\n{build.stdout[-4000:]}\n{build.stderr[-4000:]}"
    print(f"pip install took {time.monotonic() - started:.1f} s")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = subprocess.run(
        [str(python), "-c",
         "import easyenclave, easyenclave._core as c; print(easyenclave.__version__); "
         "print(easyenclave.__file__); print(c.__file__); "
         "print(easyenclave.parse_quote.__doc__ is not None)"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    version, package_file, core_file, documented = probe.stdout.split()
    expected = re.search(r"project\(easyenclave VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text()).group(1)
    assert version == expected
    assert Path(package_file).resolve().is_relative_to(venv.resolve()), package_file
    assert Path(core_file).resolve().is_relative_to(venv.resolve()), core_file
    assert documented == "True"
    installed = Path(package_file).parent
    assert (installed / "py.typed").is_file()
    assert (installed / "_core.pyi").is_file()
