"""Checked reading of `.npy` files and `.npz` members: the header is checked before
anything is allocated.

NumPy trusts a `.npy` header: a forged one declaring a huge shape makes `np.load` try to
allocate it (tens of GiB) before it notices the data is missing. Here the declared
shape x itemsize must equal the data bytes the file (or the archive member) holds, and
an `.npz` member, whose uncompressed size cannot be checked against the archive's
size, must also stay within `images.pixel_limit()`. See docs/metrics.md, "Inputs and
bad input".
"""

from __future__ import annotations

import io
import math
import os
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from metrics.errors import ScoreInputError
from metrics.images import pixel_limit
from metrics.inputs import shape_text

# NumPy parses .npy headers with ast.literal_eval, and CPython 3.11's AST construction is
# not thread-safe (seen as "SystemError: AST constructor recursion depth mismatch" when
# maps were read by several threads). Header parsing is cheap: do it under a lock, read
# the array data outside it.
_HEADER_LOCK = threading.Lock()
_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class _Header:
    """What a `.npy` header declares, and how many bytes it takes in the file."""

    shape: tuple[int, ...]
    fortran: bool
    dtype: np.dtype
    header_bytes: int

    @property
    def data_bytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


# A folder's maps usually share one header: parsed headers are kept by their bytes, so
# reading a map is a few system calls (docs/performance.md, "Reading maps").
_PARSED: dict[bytes, _Header] = {}
_PARSED_MAX = 256
_PREFIX_BYTES = 4096


def _read_header(handle: IO[bytes]) -> _Header:
    """Parse the header at the handle's position (ValueError if it is not a .npy header)."""
    start = handle.tell()
    with _HEADER_LOCK:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise ValueError(f"unknown .npy version {version}")
    if dtype.hasobject:
        raise ValueError("the array holds Python objects")
    return _Header(tuple(shape), fortran, dtype, handle.tell() - start)


def _check_size(header: _Header, held: int, path: Path, holder: str) -> None:
    if header.data_bytes != held:
        shape = shape_text(header.shape) or "scalar"
        raise ScoreInputError(f"{path}: header declares a {shape} {header.dtype} array "
                              f"({header.data_bytes} bytes) but {holder} holds {held} bytes")


def _shaped(flat: np.ndarray, header: _Header) -> np.ndarray:
    return flat.reshape(header.shape, order="F" if header.fortran else "C")


def _header_bytes(handle: IO[bytes]) -> bytes:
    """The file's header bytes (magic, version, length, header), or fewer if it is not
    a .npy file (then parsing fails). A buffered handle reads until it has the count
    asked for or the file ends."""
    head = handle.read(_PREFIX_BYTES)
    if len(head) >= 10 and head[:6] == b"\x93NUMPY":
        wide = head[6] >= 2
        length = (int.from_bytes(head[8:12], "little") + 12 if wide
                  else int.from_bytes(head[8:10], "little") + 10)
        if length > len(head):
            head += handle.read(length - len(head))
        return head[:length]
    return head


def _parsed_header(head: bytes) -> _Header:
    """`_read_header` of these bytes, remembered (ValueError if not a .npy header)."""
    header = _PARSED.get(head)
    if header is None:
        header = _read_header(io.BytesIO(head))
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[head] = header
    return header


def read_npy(path: Path) -> np.ndarray:
    """The array of a .npy file, after checking its header against the file's size: the
    header read and parsed (once per distinct header), then the data read in place."""
    with open(path, "rb") as handle:
        header = _parsed_header(_header_bytes(handle))
        _check_size(header, os.fstat(handle.fileno()).st_size - header.header_bytes, path,
                    "the file")
        flat = np.empty(math.prod(header.shape), dtype=header.dtype)
        handle.seek(header.header_bytes)  # larger reads go straight into `flat`
        if handle.readinto(flat.view(np.uint8).data) != header.data_bytes:
            raise ScoreInputError(f"{path}: file ended before the data its header declares")
    return _shaped(flat, header)


def _npz_member(archive: zipfile.ZipFile, path: Path) -> zipfile.ZipInfo:
    members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()
               if not info.is_dir()}
    if "anomaly_map" in members:
        return members["anomaly_map"]
    if len(members) == 1:
        return next(iter(members.values()))
    raise ScoreInputError(f"{path}: .npz needs the key 'anomaly_map' or a single array, "
                          f"found {sorted(members)}")


def read_npz(path: Path) -> np.ndarray:
    """The `anomaly_map` member of an .npz (else its only member), checked like a .npy
    file against the member's size, and against the pixel limit before any allocation."""
    with zipfile.ZipFile(path) as archive:
        info = _npz_member(archive, path)
        with archive.open(info) as member:
            header = _read_header(member)
            _check_size(header, info.file_size - header.header_bytes, path,
                        f"member {info.filename}")
            limit = pixel_limit()
            if limit is not None and math.prod(header.shape) > limit:
                raise ScoreInputError(f"{path}: member {info.filename} declares "
                                      f"{math.prod(header.shape)} values, over the limit of "
                                      f"{limit} (decompression bomb check)")
            buffer = bytearray(header.data_bytes)
            view, filled = memoryview(buffer), 0
            while filled < len(buffer):
                chunk = member.read(min(_CHUNK_BYTES, len(buffer) - filled))
                if not chunk:
                    raise ScoreInputError(f"{path}: member {info.filename} ended before the "
                                          "data its header declares")
                view[filled:filled + len(chunk)] = chunk
                filled += len(chunk)
    return _shaped(np.frombuffer(buffer, dtype=header.dtype), header)
