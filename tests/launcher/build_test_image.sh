#!/bin/bash
# Builds the small test variant of the guest image (image/build.sh --profile test: no podman, the
# process runtime) for the boot tests, or finds it built: the image is cached under
# ${EE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/easyenclave/image}/test-<hash of its inputs>,
# outside the clone (CI clones afresh), and the newest two are kept. Links it at
# BUILD_DIR/tests/test-image for tests/launcher/image_boot_test.cpp.
#
#   build_test_image.sh SOURCE_DIR BUILD_DIR        exit 77: skipped (not root, tools missing)
set -euo pipefail
source_dir=$1
build_dir=$2
link="$build_dir/tests/test-image"
rm -f "$link"
if [ "$(id -u)" != 0 ]; then echo "skip: the image build needs root"; exit 77; fi
for tool in debootstrap veritysetup mksquashfs sfdisk qemu-img cpio modprobe xz qemu-system-x86_64; do
  command -v "$tool" >/dev/null || { echo "skip: $tool is missing (scripts/install-deps.sh image)"; exit 77; }
done
cache="${EE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/easyenclave/image}"
# The inputs: the recipe, this script (the kernel choice, the cloudflared stand-in) and the
# programs it copies in.
key=$(cd "$source_dir" && cat image/build.sh image/fix_stamps.py image/files/* \
        tests/launcher/build_test_image.sh \
        "$build_dir/cli/ee-agent" "$build_dir/cli/ee-cp" "$build_dir/cli/ee" | sha256sum | cut -c1-16)
out="$cache/test-$key"
started=$(date +%s)
if [ -f "$out/manifest.json" ]; then
  echo "test image $out from the cache"
else
  mkdir -p "$cache"
  # Another checkout may build the same inputs at the same time: each into its own directory,
  # the first to finish wins.
  partial="$out.partial.$$"
  rm -rf "$partial"
  # A cloudflared stand-in, so the agent VM runs its tunnel with the token the CP gave it: it
  # says on the console how it was started and the token's SHA-256 (the boot test compares it
  # with the token the Cloudflare stand-in issued), then stays up as cloudflared does.
  standin=$(mktemp "${TMPDIR:-/tmp}/ee-cloudflared.XXXXXX")
  trap 'rm -f "$standin"' EXIT
  cat > "$standin" <<'EOF'
#!/bin/sh
# The boot tests' cloudflared stand-in (tests/launcher/build_test_image.sh).
digest=$(printf '%s' "$TUNNEL_TOKEN" | sha256sum | cut -d' ' -f1)
echo "ee-test-cloudflared: $* token-sha256=$digest" > /dev/console
exec sleep infinity
EOF
  chmod 0755 "$standin"
  # The time stamps are fixed, not the commit's: the same programs give the same image. The
  # kernel is the default one (bookworm-backports'), the one users run.
  SOURCE_DATE_EPOCH=1700000000 bash "$source_dir/image/build.sh" --target local --profile test \
    --kernel backports --cloudflared "$standin" \
    --build-dir "$build_dir" --out "$partial" --cache "$cache"
  mv -T "$partial" "$out" 2>/dev/null || rm -rf "$partial"
  echo "test image built in $(( $(date +%s) - started ))s: $out"
fi
touch "$out"
ln -sfn "$out" "$link"
# Keep the newest two test images, and any used in the last two hours (other checkouts' tests
# may be booting them).
ls -1dt "$cache"/test-* 2>/dev/null | grep -v partial | tail -n +3 |
  while read -r old; do
    if [ -n "$(find "$old" -maxdepth 0 -mmin +120)" ]; then rm -rf "$old"; fi
  done
