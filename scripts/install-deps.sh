#!/usr/bin/env bash
# Installs what one make target needs, from Debian's packages and PyPI only:
#
#   scripts/install-deps.sh GROUP...     (no GROUP: test, everything `make test` uses)
#
#   build      compiler, CMake, the libraries, GoogleTest (the ci preset configures tests/, where
#              the demo's stand-ins are built too), Python's headers and venv module, and the
#              virtual environment with pybind11             (make configure, build, dist)
#   demo       build, plus curl and openssl for the commands the demo prints to try   (make demo)
#   bench      build, plus nginx: bench_http_server's yardstick, which it starts itself from a
#              generated configuration (Debian's nginx service is not used)       (bench/README.md)
#   fuzz       the C++ tool chain and libraries, clang with libFuzzer       (make fuzz-build, fuzz)
#   vm         what the launcher's VM tests boot with: QEMU, Debian's cloud kernel, cpio, xorriso
#   container  podman, runc, a loopback registry and skopeo  (make container, the podman tests)
#   test       all of the above, procps (pgrep), postgresql (the server the PostgreSQL store tests
#              start), haproxy (the replica test's balancer), chromium and chromium-driver (the
#              console's browser test), and pytest, scikit-build-core and selenium in the venv
#                                                                      (make test, deps, wheel)
#
# Python packages go into a virtual environment, never into an interpreter of the system:
# EE_VENV (default .venv in the checkout), created from PYTHON (default Debian's /usr/bin/python3;
# point it at a pyenv or other interpreter to build on that one). When PYTHON changes, the venv is
# made again from the new interpreter.
#
# Idempotent: with everything present it only checks (one dpkg-query, one python). Runs as root, or
# as a user with sudo (then apt-get runs through sudo).
#
# Boost comes from the versioned 1.81 packages: Debian's default (1.74, `libboost-dev`) has no
# Boost.JSON and conflicts with them, so nothing here may pull in `libboost-dev`.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

toolchain=(
  build-essential cmake ninja-build pkg-config ccache
  libboost1.81-dev libboost-system1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsqlite3-dev zlib1g-dev
  libpq-dev  # the PostgreSQL registry engine's client library (the server is only for the tests)
  libargon2-dev  # Argon2id, the hash the control plane stores account API keys under
)
# The Python module (easyenclave._core) is built by the ci preset: Python's headers, and venv to
# make the virtual environment its build requirements live in.
python_apt=(python3 python3-venv python3-dev)
build=("${toolchain[@]}" libcli11-dev libgtest-dev libgmock-dev "${python_apt[@]}")
demo=("${build[@]}" curl openssl)
bench=("${build[@]}" nginx)
# fuzz/ (`make test-fuzz`, `make fuzz`): clang with libFuzzer and the sanitizer runtimes, lld (the
# fuzz build drops unreached code with --gc-sections) and llvm-symbolizer for readable sanitizer
# stacks. python3-cryptography rebuilds the seed corpus (fuzz/make_corpus.py, by hand).
fuzz=("${toolchain[@]}" clang-14 libclang-rt-14-dev lld-14 llvm-14 python3-cryptography)
# The launcher's tests (tests/launcher/): QEMU and Debian's cloud kernel boot one real VM under TCG
# from an initrd made with cpio and a static busybox; xorriso makes config drives; e2fsprogs makes
# (and debugfs reads back) the disks made from OCI images; python3 runs the stand-in QEMU.
vm=(qemu-system-x86 linux-image-cloud-amd64 cpio xorriso e2fsprogs busybox-static python3)
# The guest image (image/build.sh, `make image`, its boot tests): debootstrap builds the root,
# mksquashfs packs it, veritysetup (cryptsetup-bin) makes its dm-verity tree, sfdisk (fdisk) lays
# out the GPT, qemu-img (qemu-utils) converts the disk, kmod's modprobe orders the initrd's modules
# and xz-utils unpacks them (6.12's are xz-compressed); the EFI partition: systemd-boot-efi's stub
# and objcopy (binutils) make the UKI, dosfstools and mtools the FAT file system; the boot tests
# make a data disk with sfdisk and mkfs.ext4 (e2fsprogs).
image=(debootstrap squashfs-tools cryptsetup-bin fdisk qemu-utils kmod xz-utils cpio python3
       systemd-boot-efi binutils dosfstools mtools e2fsprogs)
# The podman workload runtime's tests (tests/agent/podman_runtime_test.cpp) and the OCI disks of
# the launcher's: podman with runc and the CNI plugins, a loopback registry, skopeo to push to it,
# a static busybox to build an image from.
container=(podman runc containernetworking-plugins skopeo docker-registry busybox-static)
# tests/python/test_demo.py checks with pgrep that the demo left no process behind. The PostgreSQL
# registry tests (tests/registry/postgres_conformance_test.cpp) start Debian's server themselves.
# tests/python/test_replicas.py puts haproxy in front of three ee-cp replicas on one PostgreSQL.
# tests/python/test_console.py loads the web console in headless Chromium, driven by Selenium
# (PyPI, below) through Debian's chromedriver.
test=("${demo[@]}" "${fuzz[@]}" "${vm[@]}" "${image[@]}" "${container[@]}" procps postgresql haproxy
      chromium chromium-driver)

# pybind11 is pinned once, in pyproject.toml, and read from there.
pybind11_req=$(grep -oE "pybind11==[0-9.]+" "$root/pyproject.toml")
venv_build=("$pybind11_req")
# check-jsonschema (GitHub's workflow and action schemas; ruamel.yaml with it reads action.yml) and
# zizmor (the workflows' security audit, offline): tests/python/test_workflows.py, test_action.py.
# selenium drives the browser of tests/python/test_console.py; pinned, as its API moves.
venv_test=("$pybind11_req" scikit-build-core pytest check-jsonschema==0.39.0 zizmor==1.32.0 selenium==4.51.0)

groups=("$@")
((${#groups[@]})) || groups=(test)
apt_wanted=()
venv_wanted=()
for group in "${groups[@]}"; do
  case $group in
    build | demo | bench) venv_wanted+=("${venv_build[@]}") ;;
    test) venv_wanted+=("${venv_test[@]}") ;;
    fuzz | vm | image | container) ;;
    *) echo "install-deps: unknown group '$group' (build, demo, bench, fuzz, vm, image, container, test)" >&2
       exit 2 ;;
  esac
  declare -n list=$group
  apt_wanted+=("${list[@]}")
  unset -n list
done

# --- Debian packages ---------------------------------------------------------------------------
mapfile -t apt_wanted < <(printf '%s\n' "${apt_wanted[@]}" | sort -u)
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${apt_wanted[@]}" 2>/dev/null ||
  true)
missing=()
for p in "${apt_wanted[@]}"; do
  grep -qx "$p installed" <<<"$installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: apt-get installing ${missing[*]}"
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
      echo "install-deps: these Debian packages are missing and sudo is not installed; as root:" >&2
      echo "  apt-get install --no-install-recommends ${missing[*]}" >&2
      exit 1
    fi
    as_root=(sudo)
  fi
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- the virtual environment ---------------------------------------------------------------------
((${#venv_wanted[@]})) || exit 0
venv=${EE_VENV:-$root/.venv}
python=${PYTHON:-/usr/bin/python3}
# The interpreter itself, not a pyenv shim in front of it: the venv records it as its base.
if ! base=$("$python" -c 'import sys; print(sys.executable)'); then
  echo "install-deps: PYTHON=$python does not run" >&2
  exit 1
fi
if [ -f "$venv/pyvenv.cfg" ] && [ "$(cat "$venv/.ee-base-python" 2>/dev/null)" != "$base" ]; then
  was=$(cat "$venv/.ee-base-python" 2>/dev/null || echo "another python")
  echo "install-deps: $venv was made from $was; making it again from $base"
  rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "install-deps: creating the virtual environment $venv from $base"
  "$base" -m venv "$venv"
  echo "$base" >"$venv/.ee-base-python"
fi
mapfile -t venv_wanted < <(printf '%s\n' "${venv_wanted[@]}" | sort -u)
# The requirements whose distribution is missing or has another version than pinned.
mapfile -t venv_missing < <("$venv/bin/python" - "${venv_wanted[@]}" <<'EOF'
import sys
from importlib import metadata
for requirement in sys.argv[1:]:
    name, _, pinned = requirement.partition("==")
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        have = None
    if have is None or (pinned and have != pinned):
        print(requirement)
EOF
)
if ((${#venv_missing[@]})); then
  echo "install-deps: pip installing ${venv_missing[*]} into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${venv_missing[@]}"
fi
