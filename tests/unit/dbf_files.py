"""dBASE files written byte by byte (no GDAL), for the encoding rules."""

from __future__ import annotations

import struct
from pathlib import Path


def write_dbf(
    path: Path,
    fields: list[tuple[str, str, int]],
    records: list[list[bytes]],
    *,
    ldid: int = 0,
    deleted: set[int] = frozenset(),
) -> Path:
    """A dBASE III table: fields are (name, type 'C' or 'N', length); each record's values are
    the raw bytes of its cells (padded with spaces to the field's length)."""
    header_len = 32 + 32 * len(fields) + 1
    record_len = 1 + sum(n for _, _, n in fields)
    head = bytearray(32)
    head[0] = 0x03
    head[1:4] = bytes([126, 11, 29])
    head[4:12] = struct.pack("<IHH", len(records), header_len, record_len)
    head[29] = ldid
    out = bytearray(head)
    for name, kind, length in fields:
        desc = bytearray(32)
        desc[0:11] = name.encode("ascii").ljust(11, b"\0")
        desc[11] = ord(kind)
        desc[16] = length
        out += desc
    out += b"\r"
    for i, values in enumerate(records):
        out += b"*" if i in deleted else b" "
        for (_, _, length), value in zip(fields, values, strict=True):
            assert len(value) <= length, value
            out += value.ljust(length, b" ")
    out += b"\x1a"
    path.write_bytes(bytes(out))
    return path


def owners_dbf(path: Path, owners: list[str], encoding: str, **kw) -> Path:
    """A table of parcel codes and owners (QLRMC), the owners in ``encoding``."""
    return write_dbf(
        path,
        [("ZDDM", "C", 19), ("QLRMC", "C", 60), ("ZDMJ", "N", 12)],
        [
            [f"430802003099JA{i:05d}".encode(), o.encode(encoding), b"1600.00"]
            for i, o in enumerate(owners)
        ],
        **kw,
    )
