"""`pip install .` builds and installs the package into a fresh virtual environment, and it imports
from another directory; two installs from one checkout at the same time both succeed and leave no
build folder in the checkout, because each builds in a temporary folder of its own.

The venvs see the packages of the interpreter that runs the tests (the checkout's .venv, or the
system's), so scikit-build-core and pybind11 (installed by scripts/install-deps.sh) serve as build
requirements without network access (`--no-build-isolation`). The builds are out of tree, so
ccache (warm from any earlier build of the same checkout) keeps them quick: the pair took 62 s on
two cores at load 8 with a warm cache; cold, each build costs about 4.5 CPU-minutes.
Set EE_SKIP_INSTALL_TEST=1 to skip it in a quick edit-test loop.
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


def _build_folders() -> set:
    build = ROOT / "build"
    return {p.name for p in build.iterdir()} if build.is_dir() else set()


def test_two_pip_installs_at_once_into_fresh_venvs_and_import_elsewhere(tmp_path):
    env = _clean_env()
    before = _build_folders()
    venvs, installs = [], []
    started = time.monotonic()
    for i in range(2):
        venv = tmp_path / f"venv{i}"
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, env=env)
        # A venv made from a venv sees only its base interpreter's packages: add the test's own.
        purelib = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True, env=env, capture_output=True, text=True,
        ).stdout.strip()
        (Path(purelib) / "ee-test-parent.pth").write_text("\n".join(site.getsitepackages()) + "\n")
        venvs.append(venv)
        installs.append(subprocess.Popen(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-build-isolation", "--no-deps",
             "--no-input", "--disable-pip-version-check", "-q", str(ROOT)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for install in installs:
        out, err = install.communicate(timeout=1200)
        assert install.returncode == 0, f"pip install failed:\n{out[-4000:]}\n{err[-4000:]}"
    print(f"two concurrent pip installs took {time.monotonic() - started:.1f} s")
    # Nothing was built inside the checkout.
    assert _build_folders() == before, _build_folders() - before

    expected = re.search(r"project\(easyenclave VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text()).group(1)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for venv in venvs:
        probe = subprocess.run(
            [str(venv / "bin" / "python"), "-c",
             "import easyenclave, easyenclave._core as c; print(easyenclave.__version__); "
             "print(easyenclave.__file__); print(c.__file__); "
             "print(easyenclave.parse_quote.__doc__ is not None)"],
            cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60,
        )
        assert probe.returncode == 0, probe.stderr
        version, package_file, core_file, documented = probe.stdout.split()
        assert version == expected
        assert Path(package_file).resolve().is_relative_to(venv.resolve()), package_file
        assert Path(core_file).resolve().is_relative_to(venv.resolve()), core_file
        assert documented == "True"
        installed = Path(package_file).parent
        assert (installed / "py.typed").is_file()
        assert (installed / "_core.pyi").is_file()
