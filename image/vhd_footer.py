#!/usr/bin/env python3
"""Sets the time stamp and unique id of a fixed VHD's footer (its last 512 bytes) and fixes the
footer's checksum, so two builds of the same disk give the same file. qemu-img writes the current
time and a random id there (Microsoft's VHD format specification, "Hard Disk Footer Format").

    vhd_footer.py DISK.vhd SOURCE_DATE_EPOCH UUID
"""
import os
import struct
import sys
import uuid

VHD_EPOCH = 946684800  # 2000-01-01T00:00:00Z, the format's zero


def main() -> int:
    path, epoch, unique = sys.argv[1], int(sys.argv[2]), uuid.UUID(sys.argv[3])
    with open(path, "r+b") as f:
        f.seek(-512, os.SEEK_END)
        footer = bytearray(f.read(512))
        if footer[0:8] != b"conectix":
            print(f"vhd_footer: {path} has no VHD footer", file=sys.stderr)
            return 1
        footer[24:28] = struct.pack(">I", max(epoch - VHD_EPOCH, 0))
        footer[68:84] = unique.bytes
        footer[64:68] = b"\0\0\0\0"
        footer[64:68] = struct.pack(">I", ~sum(footer) & 0xFFFFFFFF)
        f.seek(-512, os.SEEK_END)
        f.write(footer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
