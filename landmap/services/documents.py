"""Documents that back a change (agreement scans, photos): checked by size and by their
first bytes, stored on disk under their sha256, never under a name the client chose, and
only once the change they back is committed."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from landmap.messages import msg
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


def check(file_name: str, data: bytes, max_bytes: int = MAX_BYTES) -> StoredDocument:
    """A document landmap keeps, by its size and its first bytes; DocumentRefused if not."""
    name = _display_name(file_name)
    if not data:
        raise DocumentRefused(msg("document_empty", "%(name)s is empty", name=name))
    size = len(data)
    if size > max_bytes:
        raise DocumentRefused(
            msg(
                "document_too_large",
                "%(name)s is %(size)s bytes; at most %(most)s are accepted",
                name=name,
                size=size,
                most=max_bytes,
            )
        )
    kind = sniff(data)
    if kind is None:
        raise DocumentRefused(
            msg(
                "document_not_supported",
                "%(name)s is not a PDF, JPEG or PNG file (by its content)",
                name=name,
            )
        )
    return StoredDocument(name, kind, size, hashlib.sha256(data).hexdigest())


@contextmanager
def stored_with(
    folder: Path, uploads: Sequence[tuple[str, bytes]]
) -> Iterator[list[StoredDocument]]:
    """Documents kept only with the change they back. Each upload (file name, bytes) is checked
    and written to a temporary file beside its place, and the checked documents are yielded for
    the caller to record and commit. When the block ends normally the files move into place
    (the same content is stored once); when it raises, the temporary files are removed and
    nothing stays on disk."""
    docs = [check(name, data) for name, data in uploads]
    staged: list[tuple[str, Path]] = []
    try:
        for doc, (_, data) in zip(docs, uploads, strict=True):
            target = path_of(folder, doc.sha256, doc.content_type)
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
            staged.append((tmp, target))
            with os.fdopen(fd, "wb") as out:
                out.write(data)
        yield docs
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    for tmp, target in staged:
        os.replace(tmp, target)
