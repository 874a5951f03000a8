#!/usr/bin/env bash
# make-dist.sh BUILD_DIR OUT_DIR: the release tarballs of a built tree (docs/packaging.md).
#   OUT_DIR/easyenclave-VERSION-linux-x86_64.tar.gz        programs (stripped), library, headers,
#       CMake package config, easyenclave.pc, systemd units, sample configuration, docs, LICENSE
#   OUT_DIR/easyenclave-VERSION-linux-x86_64-debug.tar.gz  the programs' debug files
#       (lib/debug/.build-id/...), which unpack into the same directory
#   OUT_DIR/SHA256SUMS
# The tree is installed for the prefix /usr/local (`tar -C /usr/local --strip-components=1 -xzf`);
# unpacked elsewhere, only easyenclave.pc and the units name a wrong directory.
# Needs binutils (objcopy, strip, readelf), which the install step uses.
set -euo pipefail
build=${1:?usage: make-dist.sh BUILD_DIR OUT_DIR}
out=${2:?usage: make-dist.sh BUILD_DIR OUT_DIR}
source_dir=$(cd "$(dirname "$0")/.." && pwd)

for tool in objcopy strip readelf; do
  if ! command -v $tool >/dev/null; then
    echo "make-dist: $tool is missing: apt-get install binutils" >&2
    exit 1
  fi
done
# The version every artifact reports: the built program's own.
version=$("$build/cli/ee-cp" --version)
arch=$(uname -m)
name=easyenclave-$version-linux-$arch

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for component in runtime dev doc; do
  DESTDIR="$stage/root" cmake --install "$build" --prefix /usr/local --component $component >/dev/null
done
mkdir -p "$stage/main" "$stage/debug/$name/lib"
mv "$stage/root/usr/local" "$stage/main/$name"
mv "$stage/main/$name/lib/debug" "$stage/debug/$name/lib/debug"
for f in LICENSE CHANGELOG.md SECURITY.md README.md; do
  if [ -f "$source_dir/$f" ]; then cp "$source_dir/$f" "$stage/main/$name/"; fi
done

# Reproducible archives: sorted names, root-owned, the commit's time.
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$source_dir" log -1 --format=%ct 2>/dev/null || date +%s)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tar_gz() {  # tar_gz DIR ARCHIVE
  tar -C "$1" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -cf - "$name" |
    gzip -n -6 >"$2"
}
tar_gz "$stage/main" "$out/$name.tar.gz"
tar_gz "$stage/debug" "$out/$name-debug.tar.gz"
(cd "$out" && sha256sum "$name.tar.gz" "$name-debug.tar.gz" >SHA256SUMS)
ls -l "$out/$name.tar.gz" "$out/$name-debug.tar.gz" "$out/SHA256SUMS"
