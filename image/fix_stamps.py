#!/usr/bin/env python3
"""Replaces the time stamps and random ids that tools write into a file with values derived from
the build's inputs, so two builds of the same inputs give the same bytes.

    fix_stamps.py vhd DISK.vhd SOURCE_DATE_EPOCH UUID
        A fixed VHD's footer (its last 512 bytes; Microsoft's VHD specification, "Hard Disk Footer
        Format"): the time stamp and unique id qemu-img fills with the time and random bytes, and
        the footer's checksum.
    fix_stamps.py pe IMAGE.efi SOURCE_DATE_EPOCH
        A PE/COFF image's TimeDateStamp (objcopy writes the current time) and its optional
        header's CheckSum, recomputed.
"""
import os
import struct
import sys
import uuid

VHD_EPOCH = 946684800  # 2000-01-01T00:00:00Z, the VHD format's zero


def fix_vhd(path: str, epoch: int, unique: uuid.UUID) -> int:
    with open(path, "r+b") as f:
        f.seek(-512, os.SEEK_END)
        footer = bytearray(f.read(512))
        if footer[0:8] != b"conectix":
            print(f"fix_stamps: {path} has no VHD footer", file=sys.stderr)
            return 1
        footer[24:28] = struct.pack(">I", max(epoch - VHD_EPOCH, 0))
        footer[68:84] = unique.bytes
        footer[64:68] = b"\0\0\0\0"
        footer[64:68] = struct.pack(">I", ~sum(footer) & 0xFFFFFFFF)
        f.seek(-512, os.SEEK_END)
        f.write(footer)
    return 0


def fix_pe(path: str, epoch: int) -> int:
    with open(path, "rb") as f:
        image = bytearray(f.read())
    if image[0:2] != b"MZ" or len(image) < 0x40:
        print(f"fix_stamps: {path} is not a PE image", file=sys.stderr)
        return 1
    pe = struct.unpack_from("<I", image, 0x3C)[0]
    if image[pe:pe + 4] != b"PE\0\0":
        print(f"fix_stamps: {path} has no PE header", file=sys.stderr)
        return 1
    struct.pack_into("<I", image, pe + 8, epoch & 0xFFFFFFFF)
    checksum_at = pe + 24 + 64
    struct.pack_into("<I", image, checksum_at, 0)
    # The PE checksum: 16-bit one's-complement-style sum with carries folded, plus the length.
    padded = image + (b"\0" if len(image) % 2 else b"")
    total = 0
    for (word,) in struct.iter_unpack("<H", padded):
        total += word
        total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    struct.pack_into("<I", image, checksum_at, (total + len(image)) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(image)
    return 0


def main() -> int:
    kind = sys.argv[1] if len(sys.argv) > 1 else ""
    if kind == "vhd" and len(sys.argv) == 5:
        return fix_vhd(sys.argv[2], int(sys.argv[3]), uuid.UUID(sys.argv[4]))
    if kind == "pe" and len(sys.argv) == 4:
        return fix_pe(sys.argv[2], int(sys.argv[3]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
