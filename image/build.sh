#!/bin/bash
# The guest image (docs/image.md): Debian 12 by debootstrap from the apt mirror this machine
# uses, ee-agent and ee-cp from this build, the agent as the service systemd starts, the root
# file system a squashfs under dm-verity, an initrd of ours that checks it, and a manifest with
# the digests and the predicted TDX measurements.
#
#   image/build.sh --target local|gcp|azure [--profile full|test] [--kernel backports|stable]
#                  [--out DIR] [--build-dir build/ci] [--cloudflared FILE] [--cache DIR]
#
# --kernel: backports (the default) is bookworm-backports' linux-image-cloud-amd64 (6.12), with
# the TDX guest and configfs-tsm a TD needs to attest; stable is bookworm's (6.1), which has
# neither: an image with it boots only outside TDX (--no-tdx).
#
# Environment: SOURCE_DATE_EPOCH (default: the time of the last commit of image/), EE_IMAGE_MIRROR
# (default: the first deb822 URI of /etc/apt/sources.list.d/debian.sources).
#
# Two stages. The base (debootstrap + the profile's packages) is the slow one and depends only
# on the package list, the suite and the mirror: it is cached as a tarball under
# ${XDG_CACHE_HOME:-$HOME/.cache}/easyenclave/image/base-<hash>.tar, outside the clone, so a clean
# CI clone finds it. The rest (our files, initrd, squashfs, verity, disk, manifest) takes seconds
# and is redone every time.
set -euo pipefail

target=local
profile=full
kernel=backports
out=""
build_dir=build/ci
cloudflared=""
cache="${EE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/easyenclave/image}"
suite=bookworm

usage() { sed -n '2,21p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --target) target="$2"; shift 2 ;;
    --profile) profile="$2"; shift 2 ;;
    --kernel) kernel="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --cloudflared) cloudflared="$2"; shift 2 ;;
    --cache) cache="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "build.sh: unknown argument $1" >&2; usage ;;
  esac
done

here="$(cd "$(dirname "$0")" && pwd)"
say() { echo "image: $*" >&2; }
die() { echo "image: error: $*" >&2; exit 1; }

case "$target" in local|gcp|azure) ;; *) die "--target must be local, gcp or azure" ;; esac
case "$profile" in full|test) ;; *) die "--profile must be full or test" ;; esac
case "$kernel" in backports|stable) ;; *) die "--kernel must be backports or stable" ;; esac
[ "$(id -u)" = 0 ] || die "debootstrap, chroot and the file ownership in the image need root"
out="${out:-build/image/$target}"
# The programs: in the build directory's cli/ (a CMake build) or in it (an install's bin/).
program() {
  if [ -x "$build_dir/cli/$1" ]; then echo "$build_dir/cli/$1"; else echo "$build_dir/$1"; fi
}
for p in ee-agent ee-cp ee; do
  [ -x "$(program "$p")" ] || die "$(program "$p") is missing: build first (make build)"
done
[ -z "$cloudflared" ] || [ -x "$cloudflared" ] || die "--cloudflared $cloudflared is not an executable"
for tool in debootstrap veritysetup mksquashfs sfdisk qemu-img cpio modprobe objcopy mkfs.vfat mcopy xz; do
  command -v "$tool" >/dev/null || die "$tool is missing (make deps-image installs the tools)"
done

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$here" log -1 --format=%ct -- . 2>/dev/null || true)
  SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1700000000}"
fi
export SOURCE_DATE_EPOCH
mirror="${EE_IMAGE_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1 || true)
  mirror="${mirror:-http://deb.debian.org/debian}"
fi

# --- the packages --------------------------------------------------------------------------------
# What ee-agent and ee-cp link (checked with ldd below), systemd, veritysetup and busybox for the
# initrd. full adds podman with runc (the workload runtime) and CA certificates.
packages="systemd-sysv udev cryptsetup-bin busybox-static kmod
  libboost-json1.81.0 libboost-url1.81.0 libssl3 libsqlite3-0 libpq5 libargon2-1 ca-certificates iproute2"
# The kernel and the workload runtime go in with apt inside the new root, after debootstrap
# configured the base: debootstrap configures --include'd packages together with the base (and
# podman's containers-common fails to configure that way), and it takes one suite only.
case "$kernel" in
  backports) kernel_package="linux-image-cloud-amd64/$suite-backports" ;;
  stable) kernel_package="linux-image-cloud-amd64" ;;
esac
extra="$kernel_package"
if [ "$profile" = full ]; then
  extra="$extra podman runc uidmap fuse-overlayfs slirp4netns"
fi
packages=$(echo $packages | tr ' ' '\n' | LC_ALL=C sort | tr '\n' ',' | sed 's/,$//')

# The kernel is in the key through $extra: each choice has its own base.
base_key=$(printf '%s\n' "base-v2" "$suite" "$mirror" "$packages" "$extra" | sha256sum | cut -c1-16)
base_tar="$cache/base-$base_key.tar"
mkdir -p "$cache" "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/ee-image.XXXXXX")
rootfs="$work/rootfs"
# Never remove through a mount: the apt step binds /proc, /sys and /dev into the root.
cleanup() {
  for fs in dev sys proc; do umount -l "$rootfs/$fs" 2>/dev/null || true; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$(date +%s)
if [ -f "$base_tar" ]; then
  say "base $base_key from the cache ($base_tar)"
else
  say "base $base_key: debootstrap $suite from $mirror (a few minutes)"
  nice debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" \
    > "$work/debootstrap.log" 2>&1 || {
      tail -n 30 "$work/debootstrap.log" "$rootfs/debootstrap/debootstrap.log" >&2 || true
      die "debootstrap failed"
    }
  {
    echo "deb $mirror $suite main"
    [ "$kernel" = stable ] || echo "deb $mirror $suite-backports main"
  } > "$rootfs/etc/apt/sources.list"
  printf '#!/bin/sh\nexit 101\n' > "$rootfs/usr/sbin/policy-rc.d"  # start no service here
  chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
  for fs in proc sys dev; do mount --bind "/$fs" "$rootfs/$fs"; done
  installed=0
  # INITRD=No: the kernel's hook makes no initramfs (ours replaces it; making one takes minutes).
  { chroot "$rootfs" apt-get update -qq &&
    INITRD=No DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get install -y -qq \
      --no-install-recommends $extra; } > "$work/apt.log" 2>&1 || installed=$?
  for fs in dev sys proc; do umount "$rootfs/$fs"; done
  rm -f "$rootfs/usr/sbin/policy-rc.d"
  [ "$installed" = 0 ] || { tail -n 30 "$work/apt.log" >&2; die "apt-get install $extra failed"; }
  chroot "$rootfs" apt-get clean
  tar -C "$rootfs" --numeric-owner --xattrs -cf "$base_tar.partial" .
  mv "$base_tar.partial" "$base_tar"
  rm -rf "$rootfs"
fi
mkdir -p "$rootfs"
tar -C "$rootfs" --numeric-owner --xattrs -xf "$base_tar"

# --- our files -----------------------------------------------------------------------------------
install -m 0755 "$(program ee-agent)" "$rootfs/usr/bin/ee-agent"
install -m 0755 "$(program ee-cp)" "$rootfs/usr/bin/ee-cp"
[ -z "$cloudflared" ] || install -m 0755 "$cloudflared" "$rootfs/usr/bin/cloudflared"
install -d "$rootfs/usr/lib/easyenclave" "$rootfs/etc/easyenclave" "$rootfs/etc/containers"
install -m 0755 "$here/files/mount-config-drive" "$rootfs/usr/lib/easyenclave/mount-config-drive"
install -m 0644 "$here/files/ee-agent.service" "$rootfs/etc/systemd/system/ee-agent.service"
install -m 0644 "$here/files/20-ee-dhcp.network" "$rootfs/etc/systemd/network/20-ee-dhcp.network"
[ "$profile" = test ] || install -m 0644 "$here/files/containers.conf" "$rootfs/etc/containers/containers.conf"
for program in ee-agent ee-cp; do
  if chroot "$rootfs" ldd "/usr/bin/$program" | grep -q "not found"; then
    chroot "$rootfs" ldd "/usr/bin/$program" | grep "not found" >&2
    die "$program needs libraries the image does not have (add their packages above)"
  fi
done
# Enabled the way systemctl enable would, without running systemd.
ln -sf /etc/systemd/system/ee-agent.service "$rootfs/etc/systemd/system/multi-user.target.wants/ee-agent.service"
mkdir -p "$rootfs/etc/systemd/system/network-online.target.wants" \
  "$rootfs/etc/systemd/system/sockets.target.wants"
ln -sf /lib/systemd/system/systemd-networkd.service "$rootfs/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
ln -sf /lib/systemd/system/systemd-networkd.socket "$rootfs/etc/systemd/system/sockets.target.wants/systemd-networkd.socket"
ln -sf /lib/systemd/system/systemd-networkd-wait-online.service \
  "$rootfs/etc/systemd/system/network-online.target.wants/systemd-networkd-wait-online.service"
# Nothing else to wait for: no getty on the serial console (nobody logs in), no timers.
for unit in serial-getty@ttyS0.service getty@tty1.service apt-daily.timer apt-daily-upgrade.timer \
  e2scrub_all.timer fstrim.timer; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
echo easyenclave > "$rootfs/etc/hostname"
# Made at boot (the overlay is writable): the same in every build.
: > "$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"
rm -rf "$rootfs/var/log/"* "$rootfs/var/cache/"* "$rootfs/var/lib/apt/lists/"* "$rootfs/tmp/"* \
  "$rootfs/var/cache/ldconfig/aux-cache"

# --- kernel and initrd ---------------------------------------------------------------------------
kver=$(ls "$rootfs/lib/modules" | LC_ALL=C sort | tail -n 1)
[ -f "$rootfs/boot/vmlinuz-$kver" ] || die "the image has no kernel vmlinuz-$kver"
# What the image needs of its kernel, built in (y) or as a module (m): the disks (virtio, and
# NVMe / SCSI / Hyper-V for the clouds are looked for below but optional), dm-verity, the
# squashfs (zstd), the overlay, ext4 for /data, the network; and for attesting in a TD, the TDX
# guest with its configfs-tsm report driver.
config="$rootfs/boot/config-$kver"
[ -f "$config" ] || die "the kernel $kver has no /boot/config-$kver to check"
has() { grep -qE "^CONFIG_$1=(y|m)$" "$config"; }
missing=""
for option in VIRTIO_PCI VIRTIO_BLK VIRTIO_NET DM_VERITY SQUASHFS SQUASHFS_ZSTD OVERLAY_FS EXT4_FS; do
  has "$option" || missing="$missing CONFIG_$option"
done
[ -z "$missing" ] || die "the kernel $kver ($kernel) lacks what the image needs:$missing"
tdx_missing=""
grep -qx "CONFIG_INTEL_TDX_GUEST=y" "$config" || tdx_missing="$tdx_missing CONFIG_INTEL_TDX_GUEST=y"
for option in TSM_REPORTS TDX_GUEST_DRIVER; do
  has "$option" || tdx_missing="$tdx_missing CONFIG_$option"
done
if [ -n "$tdx_missing" ]; then
  [ "$kernel" = stable ] || die "the kernel $kver ($kernel) cannot attest in a TD, it lacks:$tdx_missing"
  say "warning: the stable kernel $kver cannot attest on TDX (no$tdx_missing): boot this image with --no-tdx only"
fi
cp "$rootfs/boot/vmlinuz-$kver" "$out/vmlinuz"
# The kernel lives outside the root file system; so does Debian's own initrd, which we replace.
rm -rf "$rootfs/boot/"*

initrd="$work/initrd"
mkdir -p "$initrd/bin" "$initrd/sbin" "$initrd/lib/modules" "$initrd/etc"
cp "$rootfs/bin/busybox" "$initrd/bin/busybox"
cp "$rootfs/sbin/veritysetup" "$initrd/sbin/veritysetup"
# veritysetup's libraries, from the image's own packages.
chroot "$rootfs" ldd /sbin/veritysetup | awk '/=> \//{print $3} /^\t\/lib64/{print $1}' |
  while read -r lib; do
    mkdir -p "$initrd$(dirname "$lib")"
    cp -L "$rootfs$lib" "$initrd$lib"
  done
# Modules for the disk (virtio, NVMe and SCSI for the clouds, Hyper-V for Azure), dm-verity, the
# squashfs, the overlay; in the order modprobe would load them with their dependencies.
: > "$initrd/lib/modules/load-order"
for module in virtio_pci virtio_blk virtio_scsi sd_mod nvme hv_vmbus hv_storvsc dm_verity squashfs overlay ext4; do
  modprobe -d "$rootfs" -S "$kver" --show-depends "$module" 2>/dev/null |
    sed -n 's/^insmod //p' | awk '{print $1}'
done | awk '!seen[$0]++' | while read -r path; do
  [ -f "$path" ] || path="$rootfs$path"
  # Debian's 6.12 compresses its modules with xz; busybox's insmod takes them uncompressed.
  name=$(basename "$path" .xz)
  case "$path" in
    *.xz) xz -dc "$path" > "$initrd/lib/modules/$name" ;;
    *) cp "$path" "$initrd/lib/modules/$name" ;;
  esac
  echo "$name" >> "$initrd/lib/modules/load-order"
done
install -m 0755 "$here/files/init" "$initrd/init"
find "$initrd" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$initrd" && find . | LC_ALL=C sort | cpio -o -H newc --reproducible --owner=0:0 --quiet) |
  gzip -9 -n > "$out/initrd.img"

# --- root file system and dm-verity --------------------------------------------------------------
find "$rootfs" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
rm -f "$out/rootfs.squashfs"
# mksquashfs takes its file system and file times from SOURCE_DATE_EPOCH (and refuses
# -mkfs-time / -all-time beside it); its output is reproducible by default since 4.5.
nice mksquashfs "$rootfs" "$out/rootfs.squashfs" -noappend -comp zstd -Xcompression-level 6 -no-progress -quiet -xattrs >/dev/null
# Salt and UUID from the file system itself: the same input gives the same tree and root hash.
fs_digest=$(sha256sum "$out/rootfs.squashfs" | cut -d' ' -f1)
salt="$fs_digest"
uuid=$(echo "$fs_digest" | sed -E 's/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*/\1-\2-4\3-8\4-\5/')
rm -f "$out/rootfs.verity"
veritysetup format "$out/rootfs.squashfs" "$out/rootfs.verity" --salt="$salt" --uuid="$uuid" \
  --root-hash-file="$work/roothash" >/dev/null
roothash=$(cat "$work/roothash")
# no_timer_check: the kernel's check that the IO-APIC timer ticks gives up on a loaded host under
# QEMU's TCG ("IO-APIC + timer doesn't work!", a panic); a VM's timer is the hypervisor's anyway.
cmdline="console=ttyS0 panic=-1 no_timer_check systemd.show_status=error easyenclave.roothash=$roothash"

# --- the EFI system partition -------------------------------------------------------------------
# For firmware that boots the disk by itself (GCE, Azure, libvirt with OVMF): a unified kernel
# image, systemd-stub with the kernel, the initrd and the same command line as sections, as the
# removable-media path EFI/BOOT/BOOTX64.EFI on a FAT partition. Section addresses follow the
# stub's layout (systemd 252's ends below 0x20000).
stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
[ -f "$stub" ] || die "$stub is missing (systemd-boot-efi; make deps-image)"
printf '%s' "$cmdline" > "$work/cmdline.txt"
printf 'NAME=easyenclave\nID=easyenclave\nPRETTY_NAME="easyenclave guest (Debian 12)"\n' > "$work/os-release"
objcopy \
  --add-section .osrel="$work/os-release" --change-section-vma .osrel=0x20000 \
  --add-section .cmdline="$work/cmdline.txt" --change-section-vma .cmdline=0x30000 \
  --add-section .linux="$out/vmlinuz" --change-section-vma .linux=0x2000000 \
  --add-section .initrd="$out/initrd.img" --change-section-vma .initrd=0x3000000 \
  "$stub" "$work/uki.efi"
python3 "$here/fix_stamps.py" pe "$work/uki.efi" "$SOURCE_DATE_EPOCH"
mkdir -p "$work/esp/EFI/BOOT"
mv "$work/uki.efi" "$work/esp/EFI/BOOT/BOOTX64.EFI"
find "$work/esp" -exec touch -d "@$SOURCE_DATE_EPOCH" {} +
mib=$((1024 * 1024))
size_mib() { echo $(( ($(stat -c %s "$1") + mib - 1) / mib )); }
esp_mib=$(( $(size_mib "$work/esp/EFI/BOOT/BOOTX64.EFI") + 4 ))
esp="$work/esp.img"
rm -f "$esp"
mkfs.vfat -C "$esp" $((esp_mib * 1024)) -n EE-ESP --invariant >/dev/null
# Copied as a tree with its times (-s -m): directories mmd made would carry the current time.
mcopy -i "$esp" -s -m "$work/esp/EFI" ::/

# --- the disk ------------------------------------------------------------------------------------
# GPT: ee-esp, ee-root (the squashfs), ee-verity (its hash tree). The partitions are found by
# name; the GUIDs are derived from the root hash so the disk is the same for the same inputs.
root_mib=$(size_mib "$out/rootfs.squashfs")
verity_mib=$(size_mib "$out/rootfs.verity")
disk_mib=$((1 + esp_mib + root_mib + verity_mib + 1))
# GCE imports whole GiB only; Azure wants whole MiB, which every size here is.
[ "$target" = gcp ] && disk_mib=$(( (disk_mib + 1023) / 1024 * 1024 ))
guid() { echo "$roothash$1" | sha256sum | sed -E 's/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*/\1-\2-4\3-8\4-\5/'; }
raw="$work/disk.raw"
truncate -s "${disk_mib}M" "$raw"
sfdisk --quiet "$raw" <<EOF
label: gpt
label-id: $(guid disk)
first-lba: 2048
start=1MiB, size=${esp_mib}MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=$(guid esp), name=ee-esp
size=${root_mib}MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=$(guid root), name=ee-root
size=${verity_mib}MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=$(guid verity), name=ee-verity
EOF
dd if="$esp" of="$raw" bs=1M seek=1 conv=notrunc status=none
dd if="$out/rootfs.squashfs" of="$raw" bs=1M seek=$((1 + esp_mib)) conv=notrunc status=none
dd if="$out/rootfs.verity" of="$raw" bs=1M seek=$((1 + esp_mib + root_mib)) conv=notrunc status=none

rm -f "$out"/disk.*
case "$target" in
  local)
    disk=disk.qcow2
    qemu-img convert -f raw -O qcow2 "$raw" "$out/$disk"
    ;;
  gcp)
    # What `gcloud compute images create --source-uri` imports: disk.raw in a gzip'd tar in GNU
    # format, sparse.
    disk=disk.tar.gz
    tar -C "$work" --format=oldgnu -S --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 \
      --numeric-owner -cf - disk.raw | gzip -9 -n > "$out/$disk"
    ;;
  azure)
    # A fixed-size VHD; its footer's time stamp and unique id are set from the build's inputs.
    disk=disk.vhd
    qemu-img convert -f raw -O vpc -o subformat=fixed,force_size "$raw" "$out/$disk"
    python3 "$here/fix_stamps.py" vhd "$out/$disk" "$SOURCE_DATE_EPOCH" "$(guid vhd)"
    ;;
esac

"$(program ee)" image manifest "$out" --target "$target" --profile "$profile" \
  --source-date-epoch "$SOURCE_DATE_EPOCH" --kernel vmlinuz --initrd initrd.img \
  --rootfs rootfs.squashfs --verity rootfs.verity --disk "$disk" \
  --root-hash "$roothash" --salt "$salt" --cmdline "$cmdline" > "$work/manifest.json"
mv "$work/manifest.json" "$out/manifest.json"
say "built $out ($target, $profile, kernel $kver) in $(( $(date +%s) - started ))s; root hash $roothash"
