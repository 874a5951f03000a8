#!/usr/bin/env bash
# build-container.sh BUILD_DIR [--test]: the ee-cp container image (docs/packaging.md).
#
# 1. A Debian 12 base image, made once per machine: debootstrap --variant=minbase from Debian's
#    mirror with ee-cp's run-time libraries and CA certificates, upgraded from bookworm-security,
#    imported with `podman import` as localhost/easyenclave-base:bookworm-<hash of this recipe>.
#    Podman's image store is the cache (outside the checkout, so clean clones reuse it);
#    EE_REFRESH_BASE=1 makes it again (security updates).
# 2. localhost/easyenclave/ee-cp:VERSION (and :latest) from packaging/Containerfile, with BUILD_DIR's
#    ee-cp stripped (its build id is the one of the release's debug file).
# 3. With --test: the image run on loopback with packaging/ee-cp.env, GET /health answered 200
#    with the version, the HEALTHCHECK healthy, ee-cp not root, the registry in the volume.
#
# Installs debootstrap when it is missing (apt-get; as root). Needs podman.
set -euo pipefail
build=${1:?usage: build-container.sh BUILD_DIR [--test]}
mode=${2:-}
source_dir=$(cd "$(dirname "$0")/.." && pwd)
mirror=${EE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${EE_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# What ee-cp links (ldd build/ci/cli/ee-cp) and what it needs to reach HTTPS services.
packages=ca-certificates,libssl3,libsqlite3-0,libpq5,libargon2-1,libboost-json1.81.0,libboost-url1.81.0
say() { echo "build-container: $*" >&2; }

if ! command -v podman >/dev/null; then
  say "podman is missing: apt-get install podman"
  exit 1
fi
started=$SECONDS
recipe=$(printf '%s\n' bookworm minbase "$packages" "$mirror" "$security_mirror" v1 | sha256sum | cut -c1-12)
base=localhost/easyenclave-base:bookworm-$recipe
if [ "${EE_REFRESH_BASE:-0}" = 1 ] || ! podman image exists "$base"; then
  if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
  fi
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  say "making $base with debootstrap (once per machine)"
  debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
    { tail -20 "$rootfs.log" >&2; exit 1; }
  rm -f "$rootfs.log"
  cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security_mirror bookworm-security main
SOURCES
  chroot "$rootfs" sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -q' \
    >"$rootfs.log" 2>&1 || { tail -20 "$rootfs.log" >&2; exit 1; }
  rm -f "$rootfs.log"
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log "$rootfs"/var/cache/debconf/*-old
  tar -C "$rootfs" --numeric-owner -cf - . |
    podman import --change 'CMD ["/bin/bash"]' - "$base" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
  say "base image made in $((SECONDS - started)) s"
fi

version=$("$build/cli/ee-cp" --version)
image=localhost/easyenclave/ee-cp:$version
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
strip --strip-all --remove-section=.comment -o "$context/ee-cp" "$build/cli/ee-cp"
install -m 0755 "$source_dir/packaging/container-healthcheck" "$context/"
previous=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
# Docker format: the OCI image format has no HEALTHCHECK.
podman build --quiet --format docker --build-arg "BASE=$base" -f "$source_dir/packaging/Containerfile" \
  -t "$image" -t localhost/easyenclave/ee-cp:latest "$context" >/dev/null
if [ -n "$previous" ] && [ "$previous" != "$(podman image inspect --format '{{.Id}}' "$image")" ]; then
  podman rmi "$previous" >/dev/null 2>&1 || true  # the build this one replaces
fi
say "built $image ($(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1 / 1e6}')) in $((SECONDS - started)) s"
[ "$mode" = --test ] || exit 0

# --- the image on loopback -----------------------------------------------------------------------
name=ee-cp-test-$$
volume=ee-cp-test-$$
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() {
  podman rm -f -t 5 "$name" >/dev/null 2>&1 || true
  podman volume rm -f "$volume" >/dev/null 2>&1 || true
  rm -rf "$context"
}
trap cleanup EXIT
# Without systemd, podman cannot schedule the health check's timer and logs so at run and removal
# (podman 4.3 keeps the image's interval even with --health-interval=disable); `podman healthcheck
# run` below runs the check itself.
quiet_timer() { grep -v 'unable to get systemd connection' >&2 || true; }
# Open files and processes within this machine's hard limits (podman asks for 1048576 otherwise).
podman run -d --name "$name" --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 --env-file "$source_dir/packaging/ee-cp.env" \
  -v "$volume:/var/lib/ee-cp" -p "127.0.0.1:$port:8080" "$image" >/dev/null 2> >(quiet_timer)
health=""
for _ in $(seq 1 100); do
  if health=$(python3 - "$port" <<'PY' 2>/dev/null
import json, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=2) as r:
    assert r.status == 200
    print(json.dumps(json.load(r)))
PY
  ); then break; fi
  if [ "$(podman inspect --format '{{.State.Running}}' "$name")" != true ]; then
    podman logs "$name" >&2
    say "FAILED: the container exited"
    exit 1
  fi
  sleep 0.1
done
fail() { podman logs "$name" >&2; say "FAILED: $*"; exit 1; }
[ -n "$health" ] || fail "no answer from GET /health on 127.0.0.1:$port"
python3 -c 'import json, sys; h = json.loads(sys.argv[1]); sys.exit(not (h["status"] == "ok" and h["version"] == sys.argv[2] and h["dev"] is False))' \
  "$health" "$version" || fail "/health answered $health"
uid=$(podman exec "$name" id -u)
[ "$uid" != 0 ] || fail "ee-cp runs as root"
check=$(podman inspect --format '{{.Config.Healthcheck.Test}}' "$name")
[[ $check == *container-healthcheck* ]] || fail "the image has no HEALTHCHECK ($check)"
podman healthcheck run "$name" >/dev/null || fail "the HEALTHCHECK is not healthy"
podman exec "$name" test -s /var/lib/ee-cp/cp.db || fail "no registry in the volume"
podman exec "$name" test -s /var/lib/ee-cp/signing-key.pem || fail "no signing key in the volume"
podman stop -t 10 "$name" >/dev/null 2> >(quiet_timer)
code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || fail "ee-cp exited $code on SIGTERM"
say "PASS: $image on 127.0.0.1:$port: /health $health; uid $uid; HEALTHCHECK healthy; state in the volume; $((SECONDS - started)) s"
