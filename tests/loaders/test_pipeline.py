"""The pipelined load: the next chunk is read while the previous one is merged, and a file
read in many chunks gives the register and the report that it gives read in one."""

from __future__ import annotations

import threading

import pytest
from files import parcels, write_shp
from sqlalchemy import text
from test_load_layers import dltb
from test_load_parcels import refused, snapshot

from landmap import loaders
from landmap.loaders import LoadOptions
from landmap.loaders import reader as reader_mod

PREFIX = "430802003099JA"


def load(db, settings, path, kind="parcels", progress=None, **opts):
    options = LoadOptions(run_by="tester", **opts)
    return loaders.load(db, settings, kind, path, options, progress)


def in_register(db) -> int:
    return db.execute(
        text("SELECT count(*) FROM parcel WHERE code LIKE :p"), {"p": PREFIX + "%"}
    ).scalar_one()


def workers() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("landmap-load")]


def as_read(report) -> dict:
    """The report as a user reads it, without the import's id (a new one each load)."""
    shown = report.as_dict("zh_CN")
    shown.pop("import_id")
    return {**shown, "preview": report.preview}


def first_load_then_reload(db, settings, tmp_path, chunk, monkeypatch, **opts):
    """Load 30 parcels, then a file changing 4 of them and adding 3, with ``chunk`` records
    per chunk; what the register and the reports say, undone afterwards."""
    monkeypatch.setattr(reader_mod, "CHUNK", chunk)
    gdf = parcels(33, off_by={3: 0.2})
    if opts.get("create_projects"):
        gdf["XMMC"] = ["", "康师傅集团食品项目"] * 16 + [""]
        gdf["PCMC"] = ["", "第一批"] * 16 + [""]
    first = write_shp(gdf.iloc[:30], tmp_path / f"a{chunk}" / "zd.shp", epsg=4525)
    changed = gdf.copy()
    changed.loc[[2, 11, 17, 29], "QLRMC"] = "龚大勇"
    second = write_shp(changed, tmp_path / f"b{chunk}" / "zd.shp", epsg=4525)
    savepoint = db.begin_nested()
    reports = [as_read(load(db, settings, path, **opts)) for path in (first, second)]
    state = db.execute(
        text("""SELECT code, owner, stage, area_mu, attributes, project_id IS NOT NULL,
                       ST_AsBinary(geom) FROM parcel WHERE code LIKE :p ORDER BY code"""),
        {"p": PREFIX + "%"},
    ).all()
    projects = db.execute(
        text("""SELECT p.name, p.zone_id, b.name, b.target_mu FROM project p
                JOIN acquisition_batch b ON b.project_id = p.id
                WHERE p.name = '康师傅集团食品项目' ORDER BY b.name""")
    ).all()
    savepoint.rollback()
    return reports, state, projects


@pytest.mark.parametrize("opts", [{}, {"create_projects": True}, {"preview": True}])
def test_a_file_in_many_chunks_loads_and_reports_as_in_one(
    db, settings, tmp_path, monkeypatch, opts
):
    whole = first_load_then_reload(db, settings, tmp_path, 50_000, monkeypatch, **opts)
    chunked = first_load_then_reload(db, settings, tmp_path, 7, monkeypatch, **opts)
    assert chunked == whole
    (first, second), state, projects = chunked
    assert first["counts"] == {"read": 30, "new": 30, "updated": 0, "unchanged": 0, "rejected": 0}
    assert second["counts"] == {"read": 33, "new": 3, "updated": 4, "unchanged": 26, "rejected": 0}
    assert len(state) == 33 and sum(owner == "龚大勇" for _, owner, *_ in state) == 4
    assert first["mismatch_count"] == 1
    if opts.get("create_projects"):
        assert first["created"]["projects"] == ["康师傅集团食品项目"] and len(projects) == 1
    if opts.get("preview"):
        assert second["preview"]["count"] == 7


def test_each_chunk_is_merged_while_the_next_is_read(db, settings, tmp_path, monkeypatch):
    monkeypatch.setattr(reader_mod, "CHUNK", 10)
    path = write_shp(parcels(30), tmp_path / "zd.shp", epsg=4525)
    seen = []
    report = load(db, settings, path, progress=lambda n, total: seen.append((n, in_register(db))))
    assert seen == [(10, 10), (20, 20), (30, 30)]
    assert (report.inserted, report.records_read) == (30, 30)
    assert workers() == []


def test_a_dry_run_in_chunks_counts_and_leaves_nothing(db, settings, tmp_path, monkeypatch):
    monkeypatch.setattr(reader_mod, "CHUNK", 4)
    path = write_shp(parcels(30), tmp_path / "zd.shp", epsg=4525)
    before = snapshot(db)
    report = load(db, settings, path, dry_run=True)
    assert (report.inserted, report.import_id) == (30, None)
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "twice, listed",
    [((2, 26), "records 3, 27"), ((2, 3), "records 3, 4")],
    ids=["in two chunks", "in one chunk"],
)
def test_a_code_twice_is_refused_and_the_merged_chunks_undone(
    db, settings, tmp_path, monkeypatch, twice, listed
):
    monkeypatch.setattr(reader_mod, "CHUNK", 10)
    gdf = parcels(30)
    gdf.loc[twice[1], "ZDDM"] = gdf.loc[twice[0], "ZDDM"]
    path = write_shp(gdf, tmp_path / "zd.shp", epsg=4525)
    exc = refused(db, settings, path, ["2 bad record(s)", "duplicate code", listed])
    assert sorted(p.record for p in exc.problems) == [twice[0] + 1, twice[1] + 1]
    assert workers() == []


def test_an_unknown_project_in_the_last_chunk_undoes_the_first(db, settings, tmp_path, monkeypatch):
    monkeypatch.setattr(reader_mod, "CHUNK", 10)
    gdf = parcels(30)
    gdf["XMMC"] = [""] * 28 + ["没有这个项目", ""]
    exc = refused(db, settings, write_shp(gdf, tmp_path / "zd.shp", epsg=4525), "unknown project")
    assert [p.record for p in exc.problems] == [29]


def test_repair_in_chunks_sets_aside_a_code_twice_in_two_chunks(
    db, settings, tmp_path, monkeypatch
):
    monkeypatch.setattr(reader_mod, "CHUNK", 10)
    gdf = parcels(30)
    gdf.loc[25, "ZDDM"] = gdf.loc[4, "ZDDM"]
    path = write_shp(gdf, tmp_path / "zd.shp", epsg=4525)
    rejects = tmp_path / "zd.rejects.csv"  # not the working directory's
    report = load(db, settings, path, repair=True, rejects_path=rejects)
    assert [p.record for p in report.rejected] == [5, 26] and rejects.exists()
    assert (report.inserted, in_register(db)) == (28, 28)


def test_a_file_unreadable_in_its_third_chunk_leaves_nothing(db, settings, tmp_path, monkeypatch):
    monkeypatch.setattr(reader_mod, "CHUNK", 10)
    real, calls = reader_mod._chunk, []

    def breaks_at_the_third(*args):
        calls.append(1)
        if len(calls) == 3:
            raise reader_mod._unreadable(args[0].source, OSError("damaged record"))
        return real(*args)

    monkeypatch.setattr(reader_mod, "_chunk", breaks_at_the_third)
    path = write_shp(parcels(30), tmp_path / "zd.shp", epsg=4525)
    refused(db, settings, path, "not readable as a shapefile")
    assert workers() == []


def test_a_caller_failing_mid_load_stops_the_reading_and_leaves_nothing(
    db, settings, tmp_path, monkeypatch
):
    monkeypatch.setattr(reader_mod, "CHUNK", 5)
    path = write_shp(parcels(30), tmp_path / "zd.shp", epsg=4525)
    before, read = snapshot(db), []

    def progress(n, total):
        read.append(n)
        if n == 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        load(db, settings, path, progress=progress)
    assert read == [5, 10] and snapshot(db) == before and workers() == []
    # and the session goes on: the same file loads whole
    assert load(db, settings, path).inserted == 30


def test_land_use_patches_in_chunks_load_as_in_one(db, settings, tmp_path, monkeypatch):
    path = write_shp(dltb(12), tmp_path / "DLTB.shp", epsg=4525)
    counts = []
    for chunk in (50_000, 5):
        monkeypatch.setattr(reader_mod, "CHUNK", chunk)
        savepoint = db.begin_nested()
        report = load(db, settings, path, kind="landuse")
        again = load(db, settings, path, kind="landuse")
        rows = db.execute(
            text("SELECT code, land_use_code, land_use_name, area_mu FROM landuse_patch "
                 "WHERE code LIKE '43080200%' ORDER BY code")
        ).all()  # fmt: skip
        counts.append((report.inserted, again.unchanged, report.total_mu, rows))
        savepoint.rollback()
    assert counts[0] == counts[1] and counts[0][:2] == (12, 12)
