#!/usr/bin/env bash
# Installs what building and testing easyenclave needs, from Debian's packages and PyPI only.
# Idempotent: a second run with everything present does nothing but check.
#
# Boost comes from the versioned 1.81 packages: Debian's default (1.74, `libboost-dev`) has no
# Boost.JSON and conflicts with them, so nothing here may pull in `libboost-dev`.
set -euo pipefail

apt_packages=(
  build-essential cmake ninja-build pkg-config ccache
  libboost1.81-dev libboost-system1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsqlite3-dev zlib1g-dev
  libcli11-dev libgtest-dev libgmock-dev
  openssl curl
  # The podman workload runtime's tests (tests/agent/podman_runtime_test.cpp): podman with runc
  # and the CNI plugins, a loopback registry, skopeo to push to it, and a static busybox to build
  # an image from.
  podman runc containernetworking-plugins skopeo docker-registry busybox-static
  # The launcher's tests (tests/launcher/): QEMU and Debian's cloud kernel boot one real VM under
  # TCG from an initrd made with cpio; xorriso makes config drives; e2fsprogs makes (and debugfs
  # reads back) the disks made from OCI images; python3 runs the stand-in QEMU.
  qemu-system-x86 linux-image-cloud-amd64 cpio xorriso e2fsprogs python3
  # The fuzz targets (fuzz/, `make test-fuzz`, `make fuzz`): clang with libFuzzer and the
  # sanitizer runtimes, lld (the fuzz build drops unreached code with --gc-sections), and
  # llvm-symbolizer for readable sanitizer stacks. python3-cryptography rebuilds the seed corpus
  # (fuzz/make_corpus.py).
  clang-14 libclang-rt-14-dev lld-14 llvm-14 python3-cryptography
)
# pybind11 is pinned once, in pyproject.toml, and read from there.
pybind11_req=$(grep -oE "pybind11==[0-9.]+" "$(dirname "$0")/../pyproject.toml")
python_packages=(scikit-build-core "$pybind11_req" pytest)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

python=${PYTHON:-python3}
py_missing=()
for p in "${python_packages[@]}"; do
  name=${p%%==*}; want=${p#*==}
  # pip show fails for a package that is missing; that is the answer, not an error.
  have=$({ "$python" -m pip show "$name" 2>/dev/null || true; } | sed -n "s/^Version: //p")
  if [ -z "$have" ] || { [ "$want" != "$p" ] && [ "$have" != "$want" ]; }; then py_missing+=("$p"); fi
done
if ((${#py_missing[@]})); then
  echo "install-deps: pip installing ${py_missing[*]}"
  "$python" -m pip install -q "${py_missing[@]}"
fi
