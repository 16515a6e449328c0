"""Checksums (sha256; md5 for published pins) of bytes and files: annotation inputs, fold
outputs, weights files."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def file_digests(path: Path, *names: str) -> dict[str, str]:
    """Hex digests of a file's contents by hashlib algorithm name ("sha256", "md5", ...),
    all from one read in 4 MiB chunks. md5 and the like serve as checksums only
    (usedforsecurity=False)."""
    digests = {name: hashlib.new(name, usedforsecurity=False) for name in names}
    with open(path, "rb") as handle:
        while chunk := handle.read(4 << 20):
            for digest in digests.values():
                digest.update(chunk)
    return {name: digest.hexdigest() for name, digest in digests.items()}


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's contents, read in 4 MiB chunks."""
    return file_digests(path, "sha256")["sha256"]
