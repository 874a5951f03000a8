"""The attestation vectors in tests/data are the files their README describes, byte for byte."""

import hashlib
import re
from pathlib import Path


def _listed(attestation: Path) -> dict:
    listed = {}
    for line in (attestation / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    return listed


def test_every_vector_matches_its_checksum(attestation: Path) -> None:
    listed = _listed(attestation)
    present = {
        str(p.relative_to(attestation))
        for p in attestation.rglob("*")
        if p.is_file() and p.name not in ("README.md", "SHA256SUMS")
    }
    assert present == set(listed), "SHA256SUMS and the files present differ"
    for name, digest in listed.items():
        assert hashlib.sha256((attestation / name).read_bytes()).hexdigest() == digest, name


def test_the_readme_gives_each_vector_its_origin_and_checksum(attestation: Path) -> None:
    readme = (attestation / "README.md").read_text()
    for name, digest in _listed(attestation).items():
        row = re.search(r"^\| " + re.escape(name) + r" \| ([0-9a-f]{64}) \| (\d+) \| (.+) \|$", readme, re.M)
        assert row, f"{name} has no row in the README's file list"
        assert row.group(1) == digest, name
        assert int(row.group(2)) == (attestation / name).stat().st_size, name
        assert row.group(3).strip(), f"{name} has no origin"
