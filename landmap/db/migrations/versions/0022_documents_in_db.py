"""Documents stored in PostgreSQL, so that every server serves every document and a database
backup holds them.

- document_content: the bytes of each distinct document (agreement scan, photo), keyed by
  their sha256, which the database checks against the bytes; its type and size; append-only.
  Stored uncompressed out of line (STORAGE EXTERNAL: PDF, JPEG and PNG are compressed
  already), so that reading a slice with substring() reads only that slice.
- stage_document.sha256 references it.
- The files the documents had under LANDMAP_DOCUMENTS_DIR (<sha256[:2]>/<sha256>.<ext>) are
  read into it. A missing file, or one whose bytes no longer hash to its name, is reported
  and left out: the history keeps the record that a document backed the change, its
  download answers 404 as it did, and the reference is then left NOT VALID (checked for new
  rows only). A recorded document and no folder at all is refused: that is the folder
  setting, not a lost file (create the folder empty to go on without the files).
  The files are left where they are: remove them once a backup holds the database.
- Downgrade writes every stored document back to its file (those present are kept), then
  drops the table.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

from landmap.config import Settings
from landmap.domain import Refused
from landmap.messages import cli_locale, msg

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

log = logging.getLogger("landmap.migrations")
# the file layout of the documents folder before this revision
ENDINGS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
CHUNK = 1024 * 1024


def _folder() -> Path:
    settings = context.config.attributes.get("settings") or Settings.from_env()
    return Path(settings.documents_dir)


def _path(folder: Path, sha256: str, content_type: str) -> Path:
    return folder / sha256[:2] / (sha256 + ENDINGS[content_type])


def _say(message) -> None:
    log.warning(message.render(cli_locale()))


def upgrade() -> None:
    op.execute("""
    CREATE TABLE document_content (
        sha256 char(64) PRIMARY KEY,
        content_type text NOT NULL
            CHECK (content_type IN ('application/pdf', 'image/jpeg', 'image/png')),
        size_bytes integer NOT NULL CHECK (size_bytes > 0),
        content bytea NOT NULL,
        stored_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT document_content_size CHECK (size_bytes = octet_length(content)),
        CONSTRAINT document_content_sha256 CHECK (sha256::text = encode(sha256(content), 'hex'))
    );
    ALTER TABLE document_content ALTER COLUMN content SET STORAGE EXTERNAL;
    CREATE TRIGGER document_content_append_only BEFORE UPDATE OR DELETE ON document_content
        FOR EACH ROW EXECUTE FUNCTION lm_append_only();
    """)
    missing = _move_files_in(_folder())
    op.execute("""ALTER TABLE stage_document ADD CONSTRAINT stage_document_content
        FOREIGN KEY (sha256) REFERENCES document_content (sha256) NOT VALID""")
    if not missing:
        op.execute("ALTER TABLE stage_document VALIDATE CONSTRAINT stage_document_content")


def _move_files_in(folder: Path) -> list[int]:
    """Read each recorded document's file into document_content; the ids of those left out."""
    bind = op.get_bind()
    wanted = bind.execute(
        sa.text("""SELECT sha256, content_type, min(size_bytes) AS size,
                          array_agg(id ORDER BY id) AS ids
                   FROM stage_document GROUP BY sha256, content_type ORDER BY sha256""")
    ).all()
    if wanted and not folder.is_dir():
        raise Refused(
            msg(
                "documents_folder_missing",
                "%(count)s documents are recorded but their folder %(folder)s does not exist: "
                "set LANDMAP_DOCUMENTS_DIR to the folder the server kept them in (or create "
                "it empty to go on without the files)",
                count=sum(len(row.ids) for row in wanted),
                folder=str(folder),
            )
        )
    missing: list[int] = []
    moved = size = 0
    insert = sa.text("""INSERT INTO document_content (sha256, content_type, size_bytes, content)
                        VALUES (:h, :t, :n, :c) ON CONFLICT DO NOTHING""").bindparams(
        sa.bindparam("c", type_=sa.LargeBinary)
    )
    for row in wanted:
        data = _read(_path(folder, row.sha256, row.content_type), row.sha256)
        if data is None:
            missing.extend(row.ids)
            continue
        bind.execute(insert, {"h": row.sha256, "t": row.content_type, "n": len(data), "c": data})
        moved, size = moved + 1, size + len(data)
    missing.sort()
    if missing:
        _say(
            msg(
                "documents_files_missing",
                "%(count)s documents have no file with their content under %(folder)s (ids "
                "%(ids)s): they stay recorded, without content",
                count=len(missing),
                folder=str(folder),
                ids=", ".join(map(str, missing[:50])) + (" …" if len(missing) > 50 else ""),
            )
        )
    if moved:
        _say(
            msg(
                "documents_moved_in",
                "%(count)s documents (%(size)s bytes) read from %(folder)s into the database; "
                "the files are left in place: remove them once a backup holds the database",
                count=moved,
                size=size,
                folder=str(folder),
            )
        )
    return missing


def _read(path: Path, sha256: str) -> bytes | None:
    """The file's bytes when they are the document's (by their sha256), else None."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return data if data and hashlib.sha256(data).hexdigest() == sha256 else None


def downgrade() -> None:
    folder = _folder()
    bind = op.get_bind()
    stored = bind.execute(
        sa.text("SELECT sha256, content_type, size_bytes FROM document_content ORDER BY sha256")
    ).all()
    written = 0
    for row in stored:
        target = _path(folder, row.sha256, row.content_type)
        if target.is_file() and target.stat().st_size == row.size_bytes:
            continue
        try:
            _write_out(bind, row.sha256, row.size_bytes, target)
        except OSError as exc:
            raise Refused(
                msg(
                    "documents_not_written_out",
                    "the documents cannot be written back to %(folder)s (%(why)s): the "
                    "database is unchanged; set LANDMAP_DOCUMENTS_DIR to a folder this user "
                    "may write",
                    folder=str(folder),
                    why=exc.strerror or str(exc),
                )
            ) from exc
        written += 1
    if written:
        _say(
            msg(
                "documents_written_out",
                "%(count)s documents written back to files under %(folder)s",
                count=written,
                folder=str(folder),
            )
        )
    op.execute("""
    ALTER TABLE stage_document DROP CONSTRAINT stage_document_content;
    DROP TABLE document_content;
    """)


def _write_out(bind: sa.Connection, sha256: str, size: int, target: Path) -> None:
    """The document's bytes, read a slice at a time, into a file that appears whole or not at
    all."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    part = sa.text(
        "SELECT substring(content FROM :o FOR :n) FROM document_content WHERE sha256 = :h"
    )
    try:
        with os.fdopen(fd, "wb") as out:
            for offset in range(0, size, CHUNK):
                out.write(bind.execute(part, {"o": offset + 1, "n": CHUNK, "h": sha256}).scalar())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
