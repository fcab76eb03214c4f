"""Documents that back a change (agreement scans, photos): checked by size and by their
first bytes, stored on disk under their sha256, never under a name the client chose."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from landmap.services import Refused

MAX_BYTES = 20 * 1024 * 1024
# content type -> (file name ending, first bytes)
KINDS = {
    "application/pdf": (".pdf", b"%PDF-"),
    "image/jpeg": (".jpg", b"\xff\xd8\xff"),
    "image/png": (".png", b"\x89PNG\r\n\x1a\n"),
}


class DocumentRefused(Refused):
    """Not a document landmap keeps; the message says why."""

    status = 415


@dataclass(frozen=True)
class StoredDocument:
    file_name: str  # as the user knows it, for display only
    content_type: str
    size: int
    sha256: str


def _display_name(name: str) -> str:
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:200] or "document"


def sniff(data: bytes) -> str | None:
    return next((t for t, (_, magic) in KINDS.items() if data.startswith(magic)), None)


def path_of(folder: Path, sha256: str, content_type: str) -> Path:
    return folder / sha256[:2] / (sha256 + KINDS[content_type][0])


def store(folder: Path, file_name: str, data: bytes, max_bytes: int = MAX_BYTES) -> StoredDocument:
    """Check and keep a document; the same content is stored once."""
    if not data:
        raise DocumentRefused(f"{_display_name(file_name)} is empty")
    if len(data) > max_bytes:
        raise DocumentRefused(
            f"{_display_name(file_name)} is {len(data)} bytes; at most {max_bytes} are accepted"
        )
    kind = sniff(data)
    if kind is None:
        raise DocumentRefused(
            f"{_display_name(file_name)} is not a PDF, JPEG or PNG file (by its content)"
        )
    digest = hashlib.sha256(data).hexdigest()
    target = path_of(folder, digest, kind)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    return StoredDocument(_display_name(file_name), kind, len(data), digest)
