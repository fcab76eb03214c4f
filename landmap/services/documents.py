"""Documents that back a change (agreement scans, photos): checked by size and by their
first bytes, kept in the database (document_content, one row per distinct content, keyed by
its sha256), never under a name the client chose, and only with the change they back: they
are written in the change's transaction.

The bytes go in and out through ``put`` and ``chunks`` only, a slice at a time: a document is
never held whole a second time, in either direction. They are the place for another store:
an S3-compatible one would put the object under its sha256 and read it by ranged GETs, while
document_content keeps its type and size (not built: there is no such store to test here)."""

from __future__ import annotations

import hashlib
import io
import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.messages import msg
from landmap.services import Refused

MAX_BYTES = 20 * 1024 * 1024
CHUNK = 1024 * 1024  # bytes written or read at a time
# content type -> first bytes
KINDS = {
    "application/pdf": b"%PDF-",
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
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


@dataclass(frozen=True)
class Found:
    """A recorded document whose content is kept."""

    id: int
    file_name: str
    content_type: str
    size: int
    sha256: str


def _display_name(name: str) -> str:
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:200] or "document"


def sniff(data: bytes) -> str | None:
    return next((t for t, magic in KINDS.items() if data.startswith(magic)), None)


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


def store(session: Session, uploads: Sequence[tuple[str, bytes]]) -> list[StoredDocument]:
    """Each upload (file name, bytes) checked (DocumentRefused if one is not a document landmap
    keeps), then its content kept in the session's transaction: it stays only if the caller
    commits the change it backs. The same content is kept once."""
    docs = [check(name, data) for name, data in uploads]
    for doc, (_, data) in zip(docs, uploads, strict=True):
        put(session, doc, io.BytesIO(data))
    return docs


# one lock per content being written (pg_advisory_xact_lock's two-key space; 'doc')
LOCK_CLASS = 0x646F63


def put(session: Session, doc: StoredDocument, content: BinaryIO) -> None:
    """``doc``'s bytes (``content``, read a slice at a time) into document_content, unless
    they are there: COPY in binary, so that the bytes are neither escaped nor held whole in a
    statement. Two uploads of the same new content: the second waits for the first's
    transaction, then finds it (or writes it if that one rolled back)."""
    session.execute(
        text("SELECT pg_advisory_xact_lock(:k, hashtext(:h))"), {"k": LOCK_CLASS, "h": doc.sha256}
    )
    kept = session.execute(
        text("SELECT 1 FROM document_content WHERE sha256 = :h"), {"h": doc.sha256}
    ).first()
    if kept is not None:
        return
    dbapi = session.connection().connection.dbapi_connection
    with dbapi.cursor() as cursor:
        cursor.copy_expert(
            "COPY document_content (sha256, content_type, size_bytes, content) "
            "FROM STDIN (FORMAT binary)",
            _CopyRow(doc, content),
            size=CHUNK,
        )


class _CopyRow:
    """One row of COPY's binary format (header, the four fields, trailer) as a stream: the
    content is passed on as it is read."""

    def __init__(self, doc: StoredDocument, content: BinaryIO) -> None:
        fields = [doc.sha256.encode(), doc.content_type.encode(), struct.pack("!i", doc.size)]
        head = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0) + struct.pack("!h", 4)
        head += b"".join(struct.pack("!i", len(f)) + f for f in fields)
        head += struct.pack("!i", doc.size)
        self._parts = iter([io.BytesIO(head), content, io.BytesIO(struct.pack("!h", -1))])
        self._part = next(self._parts)

    def read(self, size: int = -1) -> bytes:
        while self._part is not None:
            data = self._part.read(size if size and size > 0 else CHUNK)
            if data:
                return data
            self._part = next(self._parts, None)
        return b""


def find(session: Session, doc_id: int) -> Found | None:
    """The recorded document ``doc_id`` if its content is kept (one recorded before the
    documents moved into the database may have lost its file), else None."""
    row = session.execute(
        text("""SELECT d.id, d.file_name, d.content_type, c.size_bytes AS size, d.sha256
                FROM stage_document d JOIN document_content c ON c.sha256 = d.sha256
                WHERE d.id = :i"""),
        {"i": doc_id},
    ).first()
    return Found(**row._mapping) if row else None


def chunks(session: Session, sha256: str, size: int) -> Iterator[bytes]:
    """The content ``sha256`` (of ``size`` bytes), CHUNK bytes at a time, each slice read on
    its own (a kept content never changes, so the slices need no common transaction)."""
    part = text("SELECT substring(content FROM :o FOR :n) FROM document_content WHERE sha256 = :h")
    for offset in range(0, size, CHUNK):
        yield bytes(session.execute(part, {"o": offset + 1, "n": CHUNK, "h": sha256}).scalar_one())
