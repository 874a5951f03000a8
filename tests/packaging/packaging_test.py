#!/usr/bin/env python3
"""The installed package, as a user gets it (docs/packaging.md). Run by ctest; one subcommand each:

  install  `cmake --install` of the build (components runtime, dev, doc) into WORK/prefix; a
           consumer built against it through find_package and through pkg-config alone, run on a
           quote the installed `ee sim` makes; the programs run, are stripped, and their debug files
           match (build id and .gnu_debuglink CRC)
  units    systemd-analyze verify of the installed units (no warning allowed) and their exposure
           scores (systemd-analyze security --offline); exit 77 (skipped) without systemd-analyze
  samples  the sample configuration: ee-cp started on loopback with the unit's environment and
           packaging/ee-cp.env answers /health; ee-agent started with the unit's environment and
           packaging/ee-agent.json reads the file without an unknown key and answers /api/health;
           every variable the units and samples name is one the programs read
  dist     `make dist`'s tarballs: checksums, contents, bin/ee-cp --version from the unpacked tree

Only the standard library: it runs before any virtual environment exists.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import zlib
from pathlib import Path

PROGRAMS = ("ee", "ee-cp", "ee-agent")
SKIP = 77
# Refuse members that would land outside the directory (Python 3.11.4 and later).
EXTRACT = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def run(*cmd, env=None, cwd=None, check=True):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=cwd)
    if check and r.returncode != 0:
        sys.exit(f"FAILED ({r.returncode}): {' '.join(map(str, cmd))}\n{r.stdout}\n{r.stderr}")
    return r


def fail(message):
    sys.exit(f"FAILED: {message}")


def elf(path):
    """Build id, section names, .gnu_debuglink (name, crc) of an ELF file, through readelf."""
    notes = run("readelf", "--wide", "--notes", "--section-headers", path).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", notes)
    sections = set(re.findall(r"\]\s+(\.\S+)", notes))
    link = None
    if ".gnu_debuglink" in sections:
        with tempfile.TemporaryDirectory() as tmp:
            section = Path(tmp) / "debuglink"
            run("objcopy", "--dump-section", f".gnu_debuglink={section}", path, Path(tmp) / "copy")
            raw = section.read_bytes()
        name = raw.partition(b"\0")[0]
        crc_at = (len(name) + 1 + 3) // 4 * 4  # the name, its NUL, padding to 4, then the CRC
        link = (name.decode(), int.from_bytes(raw[crc_at:crc_at + 4], "little"))
    return (m.group(1) if m else None), sections, link


def check_split_debug(prefix, path):
    """`path` is stripped, and its debug file under lib/debug/.build-id matches it."""
    build_id, sections, link = elf(path)
    if build_id is None:
        fail(f"{path}: no GNU build id")
    if ".debug_info" in sections or ".symtab" in sections:
        fail(f"{path}: not stripped ({sorted(s for s in sections if s.startswith(('.debug', '.symtab')))})")
    debug = prefix / "lib/debug/.build-id" / build_id[:2] / f"{build_id[2:]}.debug"
    if not debug.is_file():
        fail(f"{path}: its debug file {debug} is missing")
    debug_id, debug_sections, _ = elf(debug)
    if debug_id != build_id:
        fail(f"{debug}: build id {debug_id}, the program's is {build_id}")
    if ".debug_info" not in debug_sections or ".symtab" not in debug_sections:
        fail(f"{debug}: holds no DWARF or symbol table")
    if link is None:
        fail(f"{path}: no .gnu_debuglink")
    crc = zlib.crc32(debug.read_bytes()) & 0xFFFFFFFF
    if link != (debug.name, crc):
        fail(f"{path}: debuglink {link}, the debug file is ({debug.name}, {crc})")
    return path.stat().st_size, debug.stat().st_size


def install(args):
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    prefix = work / "prefix"
    started = time.monotonic()
    for component in ("runtime", "dev", "doc"):
        run("cmake", "--install", args.build_dir, "--prefix", prefix, "--component", component)
    print(f"installed in {time.monotonic() - started:.1f} s")

    # The programs: --version, stripped, debug files that match.
    for program in PROGRAMS:
        path = prefix / "bin" / program
        out = run(path, "--version").stdout.strip()
        if out != args.version:
            fail(f"{program} --version printed {out!r}, expected {args.version}")
        size, debug_size = check_split_debug(prefix, path)
        print(f"{program}: {size / 1e6:.1f} MB stripped, debug file {debug_size / 1e6:.1f} MB")
    libs = list((prefix / args.libdir).glob("libeasyenclave.so.*.*.*"))
    for lib in libs:
        check_split_debug(prefix, lib)
        soname = re.search(r"SONAME.*\[(.*)\]", run("readelf", "-d", lib).stdout)
        if not soname or not (prefix / args.libdir / soname.group(1)).exists():
            fail(f"{lib}: no SONAME, or no link by that name")
        print(f"{lib.name}: SONAME {soname.group(1)}")
    archive = prefix / args.libdir / "libeasyenclave.a"
    if archive.exists():
        print(f"libeasyenclave.a: {archive.stat().st_size / 1e6:.1f} MB")
    for must in ("share/doc/easyenclave/operations.md", "share/doc/easyenclave/packaging.md",
                 "share/easyenclave/examples/ee-cp.env", "share/easyenclave/examples/ee-agent.json",
                 "lib/systemd/system/ee-cp.service", "lib/systemd/system/ee-agent.service",
                 "include/easyenclave/tdx/quote.hpp", f"{args.libdir}/pkgconfig/easyenclave.pc",
                 f"{args.libdir}/cmake/easyenclave/easyenclaveConfig.cmake"):
        if not (prefix / must).is_file():
            fail(f"{must} is not installed")

    # A quote from the installed simulator, for the consumer to parse.
    sim, quote = work / "sim", work / "quote.bin"
    mrtd = "ab" * 48
    run(prefix / "bin/ee", "sim", "--dir", sim, "quote", "--report-data", "00ff", "--mrtd", mrtd,
        "--out", quote)
    expected = f"easyenclave {args.version}\nquote v4 mr_td {mrtd}\n"

    # 1. find_package(easyenclave), as examples/ do (tests/packaging/consumer/CMakeLists.txt).
    build = work / "consumer-cmake"
    run("cmake", "-S", Path(args.source_dir) / "tests/packaging/consumer", "-B", build, "-G", "Ninja",
        f"-DCMAKE_PREFIX_PATH={prefix}", "-DCMAKE_BUILD_TYPE=Release")
    run("cmake", "--build", build)
    got = run(build / "ee-consumer", quote).stdout
    if got != expected:
        fail(f"find_package consumer printed {got!r}, expected {expected!r}")

    # 2. pkg-config only: no CMake, the compiler and the flags easyenclave.pc gives.
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / args.libdir / "pkgconfig"))
    version = run("pkg-config", "--modversion", "easyenclave", env=env).stdout.strip()
    if version != args.version:
        fail(f"pkg-config --modversion easyenclave: {version!r}")
    flags = run("pkg-config", "--cflags", "--libs", "easyenclave", env=env).stdout.split()
    binary = work / "consumer-pkg-config"
    if libs:  # a shared library outside the loader's path, as a user links it from such a prefix
        flags.append(f"-Wl,-rpath,{prefix / args.libdir}")
    run(args.cxx, "-std=c++20", "-O1", Path(args.source_dir) / "tests/packaging/consumer/main.cpp",
        "-o", binary, *flags)
    got = run(binary, quote).stdout
    if got != expected:
        fail(f"pkg-config consumer printed {got!r}, expected {expected!r}")
    if libs:  # a shared build: the consumer uses the installed .so
        needed = run("readelf", "-d", binary).stdout
        if "libeasyenclave.so" not in needed:
            fail("the pkg-config consumer is not linked to libeasyenclave.so")
    print(f"pkg-config flags: {' '.join(flags)}")
    print("consumers built through find_package and pkg-config run:", expected.replace("\n", "; "))


def units(args):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        print("systemd-analyze is not installed (Debian package systemd): skipped")
        return SKIP
    prefix = Path(args.work) / "prefix"
    # Exposure scores at most (systemd-analyze security: 0 safe .. 10 exposed) of each unit; the
    # agent runs as root with rootful podman (docs/packaging.md says why).
    limits = {"ee-cp.service": 2.0, "ee-agent.service": 7.5}
    for unit, limit in limits.items():
        path = prefix / "lib/systemd/system" / unit
        r = run(analyze, "verify", path, check=False)
        if r.returncode != 0 or r.stdout.strip() or r.stderr.strip():
            fail(f"systemd-analyze verify {unit}: {r.returncode}\n{r.stdout}{r.stderr}")
        r = run(analyze, "security", "--offline=true", "--no-pager", path, check=False)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout)
        if not m:
            fail(f"systemd-analyze security {unit} printed no score:\n{r.stdout}{r.stderr}")
        score = float(m.group(1))
        print(f"{unit}: verified, exposure {score}")
        if score > limit:
            fail(f"{unit}: exposure {score} above {limit}")
    return 0


def unit_environment(unit, state, runtime):
    """Environment= of a unit with the specifiers it uses (%S, %t) resolved to test directories."""
    env = {}
    for line in unit.read_text().splitlines():
        if line.startswith("Environment="):
            key, _, value = line[len("Environment="):].partition("=")
            env[key] = value.replace("%S", str(state)).replace("%t", str(runtime))
        if "%" in line and not line.startswith(("#", "Environment=")):
            fail(f"{unit.name}: the test does not resolve the specifier in {line!r}")
    return env


def env_file(path):
    """A systemd EnvironmentFile: VAR=value lines, # and ; comments, no quotes in ours."""
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", key) or value[:1] in "\"'":
            fail(f"{path.name}: {line!r} is not VAR=value")
        env[key] = value
    return env


def named_variables(*paths):
    """Every variable name a unit or sample mentions, commented-out ones included."""
    names = set()
    for path in paths:
        names |= set(re.findall(r"\b((?:EE|CLOUDFLARE|ITA)_[A-Z0-9_]+)=", path.read_text()))
    return names


class Started:
    """A program that prints its {"event":"listening"} line on stdout once it serves."""

    def __init__(self, cmd, env, log):
        self.log = open(log, "w+")
        self.proc = subprocess.Popen([str(c) for c in cmd], env=env, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if not line:
            self.log.seek(0)
            fail(f"{cmd[0]} exited ({self.proc.wait()}) before listening:\n{self.log.read()}")
        self.started = json.loads(line)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        self.log.seek(0)
        return rc, self.log.read()


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, json.loads(r.read())


def samples(args):
    prefix = Path(args.work) / "prefix"
    source = Path(args.source_dir)
    units_dir, examples = prefix / "lib/systemd/system", prefix / "share/easyenclave/examples"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("EE_", "CLOUDFLARE_", "ITA_"))}
    with tempfile.TemporaryDirectory(prefix="ee-samples-") as tmp, \
            tempfile.TemporaryDirectory(prefix="ee-samples-", dir="/dev/shm") as shm:
        tmp, shm = Path(tmp), Path(shm)

        # Every variable named in the unit and the sample is one ee-cp reads.
        cp_help = run(prefix / "bin/ee-cp", "--help").stdout
        read = set(re.findall(r"\(Env:([A-Z0-9_]+)\)", cp_help))
        unknown = named_variables(units_dir / "ee-cp.service", examples / "ee-cp.env") - read
        if unknown:
            fail(f"ee-cp.service / ee-cp.env name variables ee-cp does not read: {sorted(unknown)}")

        # ee-cp as the unit starts it: its Environment=, then the sample EnvironmentFile (wins).
        env = dict(base_env, **unit_environment(units_dir / "ee-cp.service", tmp / "state", tmp))
        env.update(env_file(examples / "ee-cp.env"))
        env["EE_LISTEN"] = "127.0.0.1:0"  # the unit's 8080 may be taken on a test machine
        (tmp / "state/ee-cp").mkdir(parents=True, mode=0o700)
        cp = Started([prefix / "bin/ee-cp"], env, tmp / "ee-cp.log")
        status, health = get_json(cp.started["url"] + "/health")
        rc, log = cp.stop()
        if status != 200 or health.get("status") != "ok" or health.get("dev") is not False \
                or health.get("version") != args.version:
            fail(f"ee-cp with the sample configuration: /health {status} {health}\n{log}")
        if rc != 0:
            fail(f"ee-cp exited {rc} on SIGTERM:\n{log}")
        for made in ("cp.db", "signing-key.pem"):
            if not (tmp / "state/ee-cp" / made).is_file():
                fail(f"ee-cp with the unit's environment made no {made} in its state directory")
        print(f"ee-cp: the unit's environment and ee-cp.env start a production CP; /health {health}")

        # ee-agent: every variable of the unit is one it reads; the sample file parses entirely.
        agent_help = run(prefix / "bin/ee-agent", "--help").stdout
        read = set(re.findall(r"\(Env:([A-Z0-9_]+)\)", agent_help))  # as ee-cp's, from the registry
        unknown = named_variables(units_dir / "ee-agent.service") - read
        if unknown:
            fail(f"ee-agent.service names variables ee-agent does not read: {sorted(unknown)}")
        env = dict(base_env, **unit_environment(units_dir / "ee-agent.service", tmp / "state", shm))
        # What this machine lacks (a TD, its tmpfs /run, a reachable CP) is overridden by flags,
        # which win over the file; every other setting is the sample's.
        agent = Started([prefix / "bin/ee-agent", "--config", examples / "ee-agent.json",
                         "--provider", "simulator", "--simulator-dir", tmp / "sim",
                         "--listen", "127.0.0.1:0", "--cp-url", "http://127.0.0.1:9"],
                        env, tmp / "ee-agent.log")
        status, health = get_json(agent.started["url"] + "/api/health")
        rc, log = agent.stop()
        if agent.started.get("config") != "file" or "unknown configuration key" in log:
            fail(f"ee-agent did not take its configuration from ee-agent.json:\n{agent.started}\n{log}")
        if status != 200 or health.get("status") != "ok":
            fail(f"ee-agent with the sample configuration: /api/health {status} {health}\n{log}")
        if not (shm / "easyenclave/agent-key.pem").is_file():
            fail("ee-agent with the unit's environment kept no key file under its runtime directory")
        print(f"ee-agent: ee-agent.json and the unit's environment: /api/health {health.get('status')}, "
              f"workload {health.get('workload', {}).get('state')}")
    return 0


def dist(args):
    out = Path(args.dist_dir)
    name = f"easyenclave-{args.version}-linux-x86_64"
    tarball, debug = out / f"{name}.tar.gz", out / f"{name}-debug.tar.gz"
    sums = run("sha256sum", "--check", "SHA256SUMS", cwd=out).stdout
    for f in (tarball, debug):
        if f"{f.name}: OK" not in sums:
            fail(f"SHA256SUMS does not cover {f.name}:\n{sums}")
    with tempfile.TemporaryDirectory(prefix="ee-dist-") as tmp:
        tmp = Path(tmp)
        with tarfile.open(tarball) as t:
            names = t.getnames()
            t.extractall(tmp, **EXTRACT)
        top = tmp / name
        for must in ("bin/ee", "bin/ee-cp", "bin/ee-agent", "include/easyenclave/version.hpp",
                     "lib/pkgconfig/easyenclave.pc", "lib/cmake/easyenclave/easyenclaveConfig.cmake",
                     "lib/systemd/system/ee-cp.service", "share/easyenclave/examples/ee-cp.env",
                     "share/doc/easyenclave/packaging.md"):
            if not (top / must).exists():
                fail(f"{tarball.name} has no {name}/{must}")
        for top_file in ("README.md", "LICENSE", "CHANGELOG.md", "SECURITY.md"):
            if (Path(args.source_dir) / top_file).is_file() and not (top / top_file).is_file():
                fail(f"{tarball.name} has no {name}/{top_file}, which the checkout has")
        if any("/lib/debug/" in n for n in names):
            fail(f"{tarball.name} holds debug files; they belong in {debug.name}")
        got = run(top / "bin/ee-cp", "--version").stdout.strip()
        if got != args.version:
            fail(f"bin/ee-cp --version from the tarball printed {got!r}")
        with tarfile.open(debug) as t:
            t.extractall(tmp, **EXTRACT)
        for program in PROGRAMS:
            check_split_debug(top, top / "bin" / program)
    print(f"{tarball.name} ({tarball.stat().st_size / 1e6:.1f} MB) and {debug.name} "
          f"({debug.stat().st_size / 1e6:.1f} MB): checksums match, bin/ee-cp --version {got}")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["install", "units", "samples", "dist"])
    p.add_argument("--build-dir")
    p.add_argument("--source-dir")
    p.add_argument("--work", help="the test's directory; the prefix is WORK/prefix")
    p.add_argument("--version", required=True)
    p.add_argument("--libdir", default="lib")
    p.add_argument("--cxx", default="c++")
    p.add_argument("--dist-dir")
    args = p.parse_args()
    return {"install": install, "units": units, "samples": samples, "dist": dist}[args.command](args) or 0


if __name__ == "__main__":
    sys.exit(main())
