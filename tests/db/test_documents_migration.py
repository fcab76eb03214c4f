"""Migration 0022 moves the documents the old code kept as files (LANDMAP_DOCUMENTS_DIR,
<sha256[:2]>/<sha256>.<ext>) into the database, and its downgrade writes them back."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os

import pytest
from conftest import client_for, free_parcels
from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap import create_app
from landmap.db import make_engine, migrate
from landmap.db.engine import make_app_engine
from landmap.demo import load_demo
from landmap.domain import Refused, Stage
from landmap.services import acquisition, users
from landmap.services.acquisition import Move
from landmap.services.documents import StoredDocument

PDF = b"%PDF-1.4\n" + os.urandom(3000) + b"\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0" + os.urandom(2000)


def old_path(folder, sha256: str, ending: str):
    return folder / sha256[:2] / (sha256 + ending)


@pytest.fixture
def at_0021(scratch):
    """The demo and an account, committed, then the schema taken down to 0021 (documents
    on disk): returns the settings and the account's token."""
    engine = make_app_engine(scratch)
    with Session(engine) as session:
        load_demo(session, scratch)
        users.add(session, "t_files", "admin", "a long enough password")
        token = users.new_token(session, "t_files", "documents")
        session.commit()
    engine.dispose()
    migrate.downgrade(scratch, "0021")
    return scratch, token


def record_as_the_old_code_did(settings, content: bytes, name: str, ending: str, on_disk: bool):
    """A move backed by a document: its row, and (``on_disk``) its file where the old code
    put it. Returns the document's id."""
    sha = hashlib.sha256(content).hexdigest()
    kind = "application/pdf" if ending == ".pdf" else "image/jpeg"
    if on_disk:
        path = old_path(settings.documents_dir, sha, ending)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    engine = make_app_engine(settings)
    with Session(engine) as session:
        (code,) = free_parcels(session)
        doc = StoredDocument(name, kind, len(content), sha)
        move = Move(Stage.SURVEYED, dt.date(2012, 2, 1))
        acquisition.move(session, [code], move, "t_files", [doc])
        doc_id = session.execute(
            text("SELECT max(id) FROM stage_document WHERE sha256 = :h"), {"h": sha}
        ).scalar_one()
        session.commit()
    engine.dispose()
    return doc_id


def owner_query(settings, sql: str, **params):
    engine = make_engine(settings.with_(db_role=""))
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


def reference_valid(settings) -> bool:
    (row,) = owner_query(
        settings,
        "SELECT convalidated FROM pg_constraint WHERE conname = 'stage_document_content'"
        " AND connamespace = to_regnamespace(:s)",
        s=settings.db_schema,
    )
    return row.convalidated


def test_the_files_move_in_are_served_and_are_written_back_by_the_downgrade(at_0021):
    settings, token = at_0021
    doc_id = record_as_the_old_code_did(settings, PDF, "协议.pdf", ".pdf", on_disk=True)
    migrate.upgrade(settings)
    (row,) = owner_query(
        settings,
        "SELECT content, content_type, size_bytes FROM document_content WHERE sha256 = :h",
        h=hashlib.sha256(PDF).hexdigest(),
    )
    assert (bytes(row.content), row.content_type, row.size_bytes) == (
        PDF,
        "application/pdf",
        len(PDF),
    )
    assert reference_valid(settings)
    path = old_path(settings.documents_dir, hashlib.sha256(PDF).hexdigest(), ".pdf")
    assert path.read_bytes() == PDF  # left in place: removed by hand, once a backup holds it
    path.unlink()
    client = client_for(create_app(settings), token)
    with client.get(f"/documents/{doc_id}") as resp:
        assert resp.status_code == 200 and resp.data == PDF
    migrate.downgrade(settings, "0021")
    assert path.read_bytes() == PDF
    assert not owner_query(settings, "SELECT 1 FROM pg_tables WHERE tablename = 'document_content'"
                           " AND schemaname = :s", s=settings.db_schema)  # fmt: skip


def test_a_missing_file_is_reported_and_a_missing_folder_refused(at_0021, caplog):
    settings, token = at_0021
    kept = record_as_the_old_code_did(settings, PDF, "协议.pdf", ".pdf", on_disk=False)
    with pytest.raises(Refused) as refused:
        migrate.upgrade(settings)
    assert refused.value.code == "documents_folder_missing"
    assert str(settings.documents_dir) in str(refused.value)
    assert migrate.current(settings) == "0021"  # nothing of 0022 stays
    lost = record_as_the_old_code_did(settings, JPEG, "照片.jpg", ".jpg", on_disk=False)
    settings.documents_dir.mkdir(parents=True, exist_ok=True)
    sha = hashlib.sha256(PDF).hexdigest()
    old_path(settings.documents_dir, sha, ".pdf").parent.mkdir()
    old_path(settings.documents_dir, sha, ".pdf").write_bytes(PDF[:-1] + b"!")  # damaged
    with caplog.at_level(logging.WARNING, logger="landmap.migrations"):
        migrate.upgrade(settings)
    assert migrate.current(settings) == migrate.head(settings)
    (report,) = [r.getMessage() for r in caplog.records if r.name == "landmap.migrations"]
    assert f"{kept}, {lost}" in report and str(settings.documents_dir) in report
    assert not owner_query(settings, "SELECT 1 FROM document_content")
    assert not reference_valid(settings)  # the rows recorded before stay, new ones are checked
    client = client_for(create_app(settings), token)
    assert client.get(f"/documents/{kept}").status_code == 404
    history = acquisition.history  # the record that a document backed the change stays
    engine = make_app_engine(settings)
    with Session(engine) as session:
        code = session.execute(
            text("""SELECT p.code FROM parcel p JOIN stage_change c ON c.parcel_id = p.id
                    JOIN stage_document d ON d.change_set = c.change_set WHERE d.id = :i"""),
            {"i": lost},
        ).scalar_one()
        names = [d["file_name"] for e in history(session, code) for d in e.get("documents", [])]
    engine.dispose()
    assert names == ["照片.jpg"]
