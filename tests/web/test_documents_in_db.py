"""Documents are kept in the database: an upload's bytes go into document_content (not into
any folder), a download streams them back a slice at a time, and every server of the same
database serves every document, whatever its own folders."""

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path

import pytest
from conftest import client_for, free_parcels
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from landmap import create_app
from landmap.db.engine import make_app_engine
from landmap.demo import load_demo
from landmap.domain import Stage
from landmap.services import acquisition, documents, users
from landmap.services.acquisition import Move
from landmap.services.documents import CHUNK


def png(size: int) -> bytes:
    """A PNG by its first bytes, of content of this test only."""
    return b"\x89PNG\r\n\x1a\n" + os.urandom(size - 8)


def files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def upload(client, code: str, name: str, content: bytes, day: str = "2011-12-01") -> int:
    """The id of the document ``content`` sent with a move of ``code``."""
    with client.post(
        f"/api/parcels/{code}/stage",
        data={"stage": "surveyed", "date": day, "documents": [(io.BytesIO(content), name)]},
        content_type="multipart/form-data",
    ) as resp:
        assert resp.status_code == 201, resp.get_json()
        change_set = resp.get_json()["change_set"]
    entries = client.get(f"/api/parcels/{code}/history").get_json()
    (entry,) = [e for e in entries if e.get("change_set") == change_set]
    return entry["documents"][0]["id"]


def test_an_upload_is_kept_in_the_database_and_not_on_disk(client, db, settings):
    (code,) = free_parcels(db)
    content = png(3000)
    before = files(settings.var_dir)
    doc_id = upload(client, code, "现场照片.png", content)
    row = db.execute(
        text("""SELECT c.content, c.size_bytes, c.content_type FROM stage_document d
                JOIN document_content c ON c.sha256 = d.sha256 WHERE d.id = :i"""),
        {"i": doc_id},
    ).one()
    assert (bytes(row.content), row.size_bytes, row.content_type) == (
        content,
        3000,
        "image/png",
    )
    assert files(settings.var_dir) == before


def test_the_same_content_is_kept_once(client, db):
    first, second = free_parcels(db, 2)
    content = png(500)
    a, b = upload(client, first, "a.png", content), upload(client, second, "b.png", content)
    assert a != b
    kept = db.execute(
        text("SELECT count(*) FROM document_content WHERE content = :c"), {"c": content}
    ).scalar_one()
    assert kept == 1


def test_a_download_is_the_same_bytes_streamed_a_slice_at_a_time(client, db, connection):
    # stored through the service: the test client's multipart encoder leaves a temporary
    # file unclosed for bodies above 500 KB (werkzeug's, seen with a bare Flask app)
    (code,) = free_parcels(db)
    content = png(2 * CHUNK + 12345)
    docs = documents.store(db, [("宗地图 1.png", content)])
    acquisition.move(db, [code], Move(Stage.SURVEYED, dt.date(2011, 12, 1)), "tester", docs)
    doc_id = db.execute(
        text("SELECT id FROM stage_document WHERE sha256 = :h"), {"h": docs[0].sha256}
    ).scalar_one()
    slices: list[int] = []

    def count(conn, cursor, statement, params, context, many):
        if "substring(content" in statement:
            slices.append(params["n"])

    event.listen(connection, "before_cursor_execute", count)
    try:
        with client.get(f"/documents/{doc_id}", buffered=False) as resp:
            assert resp.status_code == 200
            assert resp.is_streamed and not isinstance(resp.response, list | tuple)
            assert resp.mimetype == "image/png"
            assert resp.content_length == len(content)
            assert resp.headers["Cache-Control"] == "no-store"  # kept by no cache
            named = resp.headers["Content-Disposition"]
            assert named.startswith("attachment;")
            assert "filename*=UTF-8''%E5%AE%97%E5%9C%B0%E5%9B%BE%201.png" in named
            assert resp.get_data() == content
    finally:
        event.remove(connection, "before_cursor_execute", count)
    assert slices == [CHUNK, CHUNK, CHUNK]  # three reads of at most 1 MB for 2 MB and a bit


def test_a_document_without_content_or_record_is_not_found(client, db):
    assert client.get("/documents/999999999").status_code == 404


def test_the_app_may_add_and_read_content_but_not_change_or_remove_it(engine, demo):
    content = b"%PDF-1.4\n" + os.urandom(64)
    doc = documents.check("x.pdf", content)
    with Session(engine) as session:
        documents.put(session, doc, io.BytesIO(content))
        assert b"".join(documents.chunks(session, doc.sha256, doc.size)) == content
        for sql in (
            "UPDATE document_content SET content_type = 'image/png'",
            "DELETE FROM document_content",
        ):
            with pytest.raises(DBAPIError, match="permission denied"), session.begin_nested():
                session.execute(text(sql))
        with pytest.raises(DBAPIError, match="document_content_sha256"), session.begin_nested():
            session.execute(
                text("""INSERT INTO document_content (sha256, content_type, size_bytes, content)
                        VALUES (repeat('0', 64), 'application/pdf', 5, '%PDF-')""")
            )
        session.rollback()


# --- two servers, one database: what one stores the other serves -----------------------


@pytest.fixture
def shared(scratch):
    """A committed register (the demo) and an account with a token, in a schema of its own."""
    engine = make_app_engine(scratch)
    with Session(engine) as session:
        load_demo(session, scratch)
        users.add(session, "t_docs", "admin", "a long enough password")
        token = users.new_token(session, "t_docs", "documents")
        (code,) = free_parcels(session)
        session.commit()
    engine.dispose()
    return scratch, token, code


def test_a_document_stored_by_one_server_is_served_by_another(shared, tmp_path):
    settings, token, code = shared
    before = files(tmp_path)  # the demo's load keeps the personal key there (the scratch's var)
    servers = []
    for name in ("a", "b"):
        var = tmp_path / name
        app = create_app(settings.with_(var_dir=var, documents_dir=var / "documents"))
        servers.append(client_for(app, token))
    content = png(300_000)
    doc_id = upload(servers[0], code, "协议.png", content, day=dt.date(2012, 1, 5).isoformat())
    with servers[1].get(f"/documents/{doc_id}") as resp:
        assert resp.status_code == 200 and resp.data == content
    assert files(tmp_path) == before
