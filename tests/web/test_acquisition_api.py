"""The acquisition API through Flask's client: moves, refusals, history, as-of, progress."""

import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def a_parcel(db, stage="not_started"):
    return db.execute(text("""
        SELECT p.code FROM parcel p JOIN acquisition_batch b ON b.id = p.batch_id
        WHERE b.name = '第二批' AND p.stage = :s
          AND NOT EXISTS (SELECT 1 FROM stage_change c WHERE c.parcel_id = p.id)
        ORDER BY p.code LIMIT 1"""), {"s": stage}).scalar_one()  # fmt: skip


def history(client, code):
    resp = client.get(f"/api/parcels/{code}/history")
    assert resp.status_code == 200
    return resp.get_json()


def stage_as_of(client, code, day):
    fs = client.get(f"/api/parcels?as_of={day}&limit=20000").get_json()["features"]
    return next(f["properties"]["stage"] for f in fs if f["properties"]["code"] == code)


def test_stages_in_order_with_both_labels(client):
    stages = client.get("/api/stages").get_json()
    assert [s["id"] for s in stages][1:3] == ["not_started", "pre_announced"]
    assert stages[-1] == {**stages[-1], "id": "cleared", "label_zh": "整理到位"}
    assert all(s["label_en"] for s in stages)


def test_moving_a_parcel_adds_one_history_row_and_as_of_the_day_before_shows_the_old_stage(
    client, db
):
    code = a_parcel(db)
    day = dt.date(2011, 12, 10)
    resp = client.post(
        f"/api/parcels/{code}/stage",
        json={"stage": "pre_announced", "date": day.isoformat(), "note": "公告"},
    )
    assert resp.status_code == 201, resp.get_json()
    entries = history(client, code)
    assert len(entries) == 1
    assert set(entries[0]) >= {"stage", "date", "recorded_at", "user", "note"}
    assert client.get(f"/api/parcels/{code}").get_json()["properties"]["stage"] == "pre_announced"
    assert stage_as_of(client, code, day - dt.timedelta(days=1)) == "not_started"
    assert stage_as_of(client, code, day) == "pre_announced"


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        (
            {"stage": "not_started", "date": "2011-12-10"},
            409,
            "move_backwards_needs_reason",
            "tick correction",
        ),
        (
            {"stage": "not_started", "date": "2011-12-10", "correction": True},
            409,
            "move_backwards_needs_reason",
            "reason",
        ),
        # a reason alone does not make a correction: the flag says it is one
        (
            {"stage": "not_started", "date": "2011-12-10", "reason": "测量有误"},
            409,
            "move_backwards_needs_reason",
            "correction",
        ),
        (
            {"stage": "not_started", "date": "2011-12-10", "correction": False, "reason": "有误"},
            409,
            "move_backwards_needs_reason",
            "Surveyed and registered to Not started",
        ),
        ({"stage": "finished", "date": "2011-12-10"}, 400, "unknown_choice", "unknown stage"),
        ({"stage": "cleared"}, 400, None, "YYYY-MM-DD"),
        ({"stage": "cleared", "date": "10/12/2011"}, 400, None, "YYYY-MM-DD"),
        ({"stage": "cleared", "date": "2999-01-01"}, 400, None, "2999-01-01"),  # in the future
        ({"stage": "cleared", "date": "0001-01-01"}, 400, None, "1949-10-01"),  # too early
        (
            {"stage": "cleared", "date": "2011-12-10", "correction": "yes"},
            400,
            "not_yes_or_no",
            "Correction must be true or false",
        ),
    ],
)
def test_refused_moves_get_4xx_and_change_nothing(client, db, body, status, code, message):
    """In English (?lang=en); the dates are checked by the web layer (its own codes)."""
    parcel = a_parcel(db)
    assert (
        client.post(
            f"/api/parcels/{parcel}/stage", json={"stage": "surveyed", "date": "2011-12-01"}
        ).status_code
        == 201
    )
    resp = client.post(f"/api/parcels/{parcel}/stage?lang=en", json=body)
    assert resp.status_code == status
    assert message in resp.get_json()["error"]
    if code is not None:
        assert resp.get_json()["code"] == code
    assert [h["stage"] for h in history(client, parcel)] == ["surveyed"]


def test_a_backward_move_with_a_reason_is_a_correction(client, db):
    code = a_parcel(db)
    client.post(f"/api/parcels/{code}/stage", json={"stage": "surveyed", "date": "2011-12-01"})
    resp = client.post(f"/api/parcels/{code}/stage", json={
        "stage": "pre_announced", "date": "2011-12-02", "correction": True,
        "reason": "误报：尚未丈量"})  # fmt: skip
    assert resp.status_code == 201
    last = history(client, code)[-1]
    assert last["correction"] is True and last["reason"] == "误报：尚未丈量"


def test_unknown_parcel(client):
    assert (
        client.post(
            "/api/parcels/NOPE/stage", json={"stage": "surveyed", "date": "2011-12-01"}
        ).status_code
        == 404
    )
    assert client.get("/api/parcels/NOPE/history").status_code == 404


def test_a_batch_move_with_one_unknown_parcelchanges_nothing(client, db):
    codes = list(db.execute(text("""SELECT code FROM parcel p WHERE stage = 'not_started'
        AND batch_id IS NOT NULL ORDER BY code LIMIT 3""")).scalars())  # fmt: skip
    before = db.execute(text("SELECT count(*) FROM stage_change")).scalar_one()
    resp = client.post(
        "/api/stage-changes",
        json={"codes": [*codes, "NOPE-1"], "stage": "surveyed", "date": "2011-12-01"},
    )
    assert resp.status_code == 404 and resp.get_json()["unknown"] == ["NOPE-1"]
    assert resp.get_json()["problems"] == ["宗地 NOPE-1：登记簿中没有该宗地"]
    assert db.execute(text("SELECT count(*) FROM stage_change")).scalar_one() == before
    ok = client.post(
        "/api/stage-changes", json={"codes": codes, "stage": "surveyed", "date": "2011-12-01"}
    )
    assert ok.status_code == 201 and sorted(ok.get_json()["parcels"]) == sorted(codes)
    assert db.execute(text("SELECT count(*) FROM stage_change")).scalar_one() == before + 3


@pytest.mark.parametrize("body", [{}, {"codes": "x"}, {"codes": []}, {"codes": [1, 2]}])
def test_batch_move_needs_a_list_of_codes(client, body):
    resp = client.post("/api/stage-changes", json={**body, "stage": "surveyed",
                                                   "date": "2011-12-01"})  # fmt: skip
    assert resp.status_code == 400 and resp.get_json()["code"] in (
        "codes_not_a_list",
        "no_parcel_codes",
    )
    assert "宗地代码" in resp.get_json()["error"]


def test_documents_are_checked_stored_and_listed(client, db, settings):
    code = a_parcel(db)
    resp = client.post(f"/api/parcels/{code}/stage", data={
        "stage": "agreement_signed", "date": "2011-12-01", "note": "协议扫描件",
        "documents": [(io.BytesIO(PDF), "协议 1.pdf"), (io.BytesIO(b"\xff\xd8\xff\xe0jpeg"),
                                                       "../../photo.jpg")],
    }, content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    docs = history(client, code)[-1]["documents"]
    assert [d["file_name"] for d in docs] == ["协议 1.pdf", "photo.jpg"]
    with client.get(f"/documents/{docs[0]['id']}") as download:
        assert download.status_code == 200 and download.data == PDF
    assert not any(p.name == "photo.jpg" for p in settings.documents_dir.rglob("*"))


def test_a_document_that_is_not_pdf_or_image_is_refused(client, db):
    code = a_parcel(db)
    resp = client.post(f"/api/parcels/{code}/stage", data={
        "stage": "surveyed", "date": "2011-12-01",
        "documents": [(io.BytesIO(b"MZ\x90\x00 not really a pdf"), "scan.pdf")],
    }, content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code == 415 and resp.get_json()["code"] == "document_not_supported"
    assert resp.get_json()["error"] == "scan.pdf 不是 PDF、JPEG 或 PNG 文件（按文件内容判断）"
    assert history(client, code) == []


def test_an_oversized_upload_is_413(app, client, db):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    resp = client.post(f"/api/parcels/{a_parcel(db)}/stage", data={
        "stage": "surveyed", "date": "2011-12-01",
        "documents": [(io.BytesIO(PDF + b"0" * 4096), "big.pdf")],
    }, content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code == 413


def test_dispute_flag_shows_on_the_parcel(client, db):
    code = a_parcel(db)
    resp = client.post(
        f"/api/parcels/{code}/dispute",
        json={"dispute": True, "date": "2011-12-01", "reason": "拒绝搬迁"},
    )
    assert resp.status_code == 201
    props = client.get(f"/api/parcels/{code}").get_json()["properties"]
    assert props["dispute"] is True and props["dispute_reason"] == "拒绝搬迁"
    assert props["stage"] == "not_started"
    assert (
        client.post(
            f"/api/parcels/{code}/dispute", json={"dispute": "yes", "date": "2011-12-01"}
        ).status_code
        == 400
    )


def test_selecting_parcels_with_a_polygon(client):
    fs = client.get("/api/parcels?zone=C&limit=1").get_json()["features"]
    ring = fs[0]["geometry"]["coordinates"][0][0]
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    cx, cy = sum(xs) / len(xs), sum(ys) / len(ys)
    d = 0.00005
    poly = {"type": "Polygon", "coordinates": [[[cx - d, cy - d], [cx + d, cy - d],
                                                [cx + d, cy + d], [cx - d, cy + d],
                                                [cx - d, cy - d]]]}  # fmt: skip
    found = client.post("/api/parcels/select", json={"geometry": poly}).get_json()
    assert fs[0]["properties"]["code"] in found["codes"] and found["mu"] > 0
    bowtie = {"type": "Polygon", "coordinates": [[[cx, cy], [cx + d, cy + d], [cx + d, cy],
                                                  [cx, cy + d], [cx, cy]]]}  # fmt: skip
    resp = client.post("/api/parcels/select", json={"geometry": bowtie})
    assert resp.status_code == 400 and resp.get_json()["code"] == "polygon_not_valid"
    assert resp.get_json()["error"].startswith("所画多边形无效")
    assert client.post("/api/parcels/select", json={"geometry": {"type": "Point"}}
                       ).status_code == 400  # fmt: skip


def test_progress_of_the_first_batch(client, db):
    pid = db.execute(text("SELECT id FROM project WHERE name = 'C区1000亩土地开发项目'")).scalar()
    body = client.get(f"/api/projects/{pid}/progress?as_of=2011-11-30").get_json()
    first = next(b for b in body["batches"] if b["batch"] == "第一批")
    assert set(first) >= {"target_mu", "cleared_mu", "mu_by_stage", "due",
                          "projected_completion", "on_track"}  # fmt: skip
    assert first["target_mu"] == 315
    cleared = [f["properties"]["area_mu"] for f in client.get(
        f"/api/parcels?batch={first['batch_id']}&as_of=2011-11-30&stage=cleared"
    ).get_json()["features"]]  # fmt: skip
    assert first["cleared_mu"] == pytest.approx(sum(cleared), abs=0.05)
    assert client.get(f"/api/projects/{pid}/progress?batch=x").status_code == 400
    assert client.get(f"/api/projects/{pid}/progress?as_of=soon").status_code == 400
    assert client.get("/api/projects/99999/progress").status_code == 404


def test_the_ledger_download_and_the_project_page(client, db):
    pid = db.execute(text("SELECT id FROM project WHERE name = 'C区1000亩土地开发项目'")).scalar()
    resp = client.get(f"/projects/{pid}/ledger.xlsx?as_of=2011-11-30")
    assert resp.status_code == 200 and resp.mimetype.endswith("sheet")
    assert (
        resp.headers["Content-Disposition"] == f"attachment; filename=ledger-{pid}-2011-11-30.xlsx"
    )
    wb = load_workbook(io.BytesIO(resp.data))
    assert "第一批" in wb.sheetnames
    page = client.get(f"/projects/{pid}?as_of=2011-11-30").get_data(as_text=True)
    assert 'id="batches"' in page and "<svg" in page and 'id="warning"' in page
    assert client.get("/projects/99999").status_code == 404
