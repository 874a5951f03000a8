#!/usr/bin/env bash
# test-systemd-units.sh BUILD_DIR: ee-cp.service and ee-agent.service started by a real systemd
# (docs/packaging.md). The runtime component is installed for the prefix /opt/easyenclave and
# mounted read-only into a container that runs systemd as PID 1 (podman --systemd=always), made
# FROM the base image of build-container.sh with Debian's systemd added (cached in podman's store
# like the base). Then, with the sample configuration:
#   ee-cp:    starts under its unit; /health answers 200 with the version and "dev": false; it
#             runs as a dynamic user with no capabilities, no new privileges and a seccomp filter;
#             the registry and signing key are in /var/lib/ee-cp and the key survives a restart
#   ee-agent: starts under its unit (simulator quotes, the CP above as cp_url); /api/health
#             answers; its key is in /run/easyenclave (0600) and survives a restart
#   both stop cleanly (systemctl stop: result success).
# Run by `make container` after build-container.sh (which makes the base image).
set -euo pipefail
build=${1:?usage: test-systemd-units.sh BUILD_DIR}
source_dir=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "test-systemd-units: $*" >&2; }
started=$SECONDS

base=$(podman images --format '{{.Repository}}:{{.Tag}}' localhost/easyenclave-base | sort | tail -1)
[ -n "$base" ] || { say "no base image: run scripts/build-container.sh first"; exit 1; }
image=localhost/easyenclave-systemd-test:${base##*:}
if ! podman image exists "$image"; then
  context=$(mktemp -d)
  printf '%s\n' 'ARG BASE' 'FROM ${BASE}' \
    'RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends systemd systemd-sysv >/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/*' \
    >"$context/Containerfile"
  podman build -q --build-arg "BASE=$base" -t "$image" "$context" >/dev/null
  rm -rf "$context"
  say "made $image in $((SECONDS - started)) s"
fi

version=$("$build/cli/ee-cp" --version)
stage=$(mktemp -d)
name=ee-units-test-$$
cleanup() {
  podman rm -f -t 5 "$name" >/dev/null 2>&1 || true
  rm -rf "$stage"
}
trap cleanup EXIT
DESTDIR=$stage cmake --install "$build" --prefix /opt/easyenclave --component runtime >/dev/null

podman run -d --name "$name" --systemd=always --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 \
  -v "$stage/opt/easyenclave:/opt/easyenclave:ro" "$image" /sbin/init >/dev/null
inside() { podman exec "$name" bash -c "$1"; }
fail() {
  inside 'journalctl --no-pager -u ee-cp -u ee-agent | tail -40' >&2 || true
  say "FAILED: $*"
  exit 1
}
for _ in $(seq 1 100); do
  state=$(inside 'systemctl is-system-running' 2>/dev/null || true)
  [[ $state == running || $state == degraded ]] && break
  sleep 0.2
done
[[ $state == running || $state == degraded ]] || fail "systemd did not start ($state)"

# GET a loopback URL inside the container (no HTTP client in the base: bash's /dev/tcp).
get() {
  inside "exec 3<>/dev/tcp/127.0.0.1/$1 && printf 'GET $2 HTTP/1.0\r\n\r\n' >&3 && cat <&3" 2>/dev/null
}
wait_get() {  # wait_get PORT PATH: the response once one comes, within 10 s
  local response=""
  for _ in $(seq 1 50); do
    response=$(get "$1" "$2") && [ -n "$response" ] && break
    sleep 0.2
  done
  printf '%s' "$response"
}
status_of() { inside "grep -E '^(Uid|CapEff|NoNewPrivs|Seccomp):' /proc/\$(systemctl show -p MainPID --value $1)/status"; }

inside 'mkdir -p -m 0700 /etc/easyenclave'
podman cp "$source_dir/packaging/ee-cp.env" "$name:/etc/easyenclave/ee-cp.env"
podman cp "$source_dir/packaging/ee-agent.json" "$name:/etc/easyenclave/agent.json"
# What the container lacks (a TD, a real CP): simulator quotes, the CP next to it.
printf '%s\n' EE_QUOTE_PROVIDER=simulator EE_SIMULATOR_DIR=/var/lib/ee-agent/simulator \
  EE_CP_URL=http://127.0.0.1:8080 | podman exec -i "$name" bash -c 'cat >/etc/easyenclave/ee-agent.env'
inside 'chmod 0600 /etc/easyenclave/*'
inside 'systemctl link /opt/easyenclave/lib/systemd/system/ee-cp.service /opt/easyenclave/lib/systemd/system/ee-agent.service >/dev/null 2>&1'

# --- ee-cp -----------------------------------------------------------------------------------------
inside 'systemctl start ee-cp' || fail "systemctl start ee-cp"
health=$(wait_get 8080 /health)
[[ $health == "HTTP/1.1 200"* && $health == *"\"version\":\"$version\""* && $health == *'"dev":false'* ]] ||
  fail "ee-cp /health: $health"
proc=$(status_of ee-cp)
[[ $proc =~ Uid:[[:space:]]+([0-9]+) ]] && [ "${BASH_REMATCH[1]}" != 0 ] || fail "ee-cp runs as root: $proc"
[[ $proc == *"CapEff:	0000000000000000"* && $proc == *"NoNewPrivs:	1"* && $proc == *"Seccomp:	2"* ]] ||
  fail "ee-cp is not confined: $proc"
key=$(inside 'sha256sum /var/lib/ee-cp/signing-key.pem') || fail "no signing key in /var/lib/ee-cp"
inside 'test -s /var/lib/ee-cp/cp.db' || fail "no registry in /var/lib/ee-cp"
inside 'systemctl restart ee-cp' || fail "systemctl restart ee-cp"
health=$(wait_get 8080 /health)
[[ $health == "HTTP/1.1 200"* ]] || fail "ee-cp /health after a restart: $health"
[ "$(inside 'sha256sum /var/lib/ee-cp/signing-key.pem')" = "$key" ] || fail "the signing key changed on restart"
say "ee-cp.service: /health 200, $(echo "$proc" | tr -s '\t\n' ' '), state kept across a restart"

# --- ee-agent ----------------------------------------------------------------------------------------
inside 'systemctl start ee-agent' || fail "systemctl start ee-agent"
health=$(wait_get 8081 /api/health)
[[ $health == "HTTP/1.1 200"* && $health == *'"status":"ok"'* ]] || fail "ee-agent /api/health: $health"
proc=$(status_of ee-agent)
[[ $proc == *"NoNewPrivs:	1"* ]] || fail "ee-agent runs without NoNewPrivileges: $proc"
mode=$(inside 'stat -c %a /run/easyenclave/agent-key.pem') || fail "no key file in /run/easyenclave"
[ "$mode" = 600 ] || fail "the agent's key file has mode $mode"
key=$(inside 'sha256sum /run/easyenclave/agent-key.pem')
inside 'systemctl restart ee-agent' || fail "systemctl restart ee-agent"
health=$(wait_get 8081 /api/health)
[[ $health == "HTTP/1.1 200"* ]] || fail "ee-agent /api/health after a restart: $health"
[ "$(inside 'sha256sum /run/easyenclave/agent-key.pem')" = "$key" ] || fail "the agent's key changed on restart"
say "ee-agent.service: /api/health 200, key file 0600 in /run/easyenclave kept across a restart"

inside 'systemctl stop ee-agent ee-cp' || fail "systemctl stop"
for unit in ee-cp ee-agent; do
  result=$(inside "systemctl show -p Result --value $unit")
  [ "$result" = success ] || fail "$unit stopped with result $result"
done
say "PASS: both units run, confined, under systemd; stopped cleanly; $((SECONDS - started)) s"
