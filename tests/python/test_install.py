"""`pip install .` builds and installs the package into a fresh virtual environment, and it imports
from another directory; then two installs from the same checkout at the same time both succeed,
and none leaves a build folder in the checkout, because each builds in a temporary folder of its
own.

The venvs see the packages of the interpreter that runs the tests (the checkout's .venv, or the
system's), so scikit-build-core and pybind11 (installed by scripts/install-deps.sh) serve as build
requirements without network access (`--no-build-isolation`). The builds are out of tree, so
ccache (warm from any earlier build of the same checkout) keeps them quick: with a warm cache the
test took 64 s on two cores at load 6 (20 s for the first install, 35 s for the pair). On a cold
cache the first install compiles everything (about 4.5 CPU-minutes) and the pair hits its cache.
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


def _venv(path: Path, env: dict) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(path)], check=True, env=env)
    # A venv made from a venv sees only its base interpreter's packages: add the test's own.
    purelib = subprocess.run(
        [str(path / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, env=env, capture_output=True, text=True,
    ).stdout.strip()
    (Path(purelib) / "ee-test-parent.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return path


def _pip_install(venv: Path, env: dict) -> subprocess.Popen:
    # A cache of its own per install: pip's shared wheel cache is not safe for two pips at once
    # (one reads the other's half-written origin.json), and what is tested here is our build.
    env = dict(env, PIP_CACHE_DIR=str(venv / "pip-cache"))
    return subprocess.Popen(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-build-isolation", "--no-deps",
         "--no-input", "--disable-pip-version-check", "-q", str(ROOT)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait(installs: list) -> None:
    for install in installs:
        out, err = install.communicate(timeout=1200)
        assert install.returncode == 0, f"pip install failed:\n{out[-4000:]}\n{err[-4000:]}"


def test_pip_installs_at_once_into_fresh_venvs_and_import_elsewhere(tmp_path):
    env = _clean_env()
    before = _build_folders()
    # One install alone first, so that on a cold ccache the pair after it does not compile
    # everything twice; then two at once from the same checkout.
    started = time.monotonic()
    venvs = [_venv(tmp_path / "venv0", env)]
    _wait([_pip_install(venvs[0], env)])
    alone = time.monotonic() - started
    venvs += [_venv(tmp_path / "venv1", env), _venv(tmp_path / "venv2", env)]
    started = time.monotonic()
    _wait([_pip_install(venvs[1], env), _pip_install(venvs[2], env)])
    print(f"pip install took {alone:.1f} s alone, then {time.monotonic() - started:.1f} s for two at once")
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
