"""A file is what its bytes say, before GDAL sees it: the content checks, the GeoPackage schema
checks and the zip checks, on files made byte by byte (no GDAL, no database)."""

from __future__ import annotations

import io
import sqlite3
import stat
import struct
import zipfile
from contextlib import closing

import pytest

from landmap.loaders import source
from landmap.loaders.source import (
    MAX_ZIP_MEMBERS,
    MAX_ZIP_RATIO,
    SourceError,
    check_zip,
    content_kind,
    open_source,
    shown_name,
)
from landmap.messages import term


def refusal(path, **kw) -> str:
    """Why open_source refuses ``path``."""
    with pytest.raises(SourceError) as info, open_source(path, **kw):
        pass
    return str(info.value)


def file_of(tmp_path, data: bytes, name: str = "x.bin"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def sqlite_header(app_id: bytes) -> bytes:
    head = bytearray(b"SQLite format 3\x00" + bytes(84))
    head[68:72] = app_id
    return bytes(head)


SHP_HEADER = b"\x00\x00\x27\x0a" + bytes(24) + b"\xe8\x03\x00\x00" + bytes(68)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (sqlite_header(b"GPKG"), "gpkg"),
        (sqlite_header(b"GP10"), "gpkg"),
        (sqlite_header(b"GP11"), "gpkg"),
        (sqlite_header(b"\0\0\0\0"), "sqlite"),
        (sqlite_header(b"GPKX"), "sqlite"),
        (SHP_HEADER, "shapefile"),
        (b"PK\x03\x04" + bytes(26), "zip"),
        (b"PK\x05\x06" + bytes(18), "zip"),  # an empty zip
        (b'{"type": "FeatureCollection"}', "geojson"),
        (b'\xef\xbb\xbf \r\n\t{"type": "Feature"}', "geojson"),  # BOM and blanks
        (b"", None),
        (b"<OGRVRTDataSource>", None),
        (b"code,wkt\n1,POINT(1 1)", None),
        (b'[{"type": "Feature"}]', None),
        (b"PK\x01\x02", None),
        (b"\x00\x00\x27\x0b", None),
        (b"SQLite format 3", None),  # without its NUL
    ],
)
def test_content_kind_is_read_from_the_first_bytes(tmp_path, data, kind):
    assert content_kind(file_of(tmp_path, data)) == kind


# --- GeoPackage schema objects -------------------------------------------------------------

STANDARD_TRIGGERS = [
    "rtree_zd_geom_insert",
    "rtree_zd_geom_update1",
    "rtree_zd_geom_update4",
    "rtree_zd_geom_delete",
    "trigger_insert_feature_count_zd",
    "trigger_delete_feature_count_zd",
    "gpkg_tile_matrix_zoom_level_insert",
    "tiles_zoom_insert",
    "tiles_zoom_update",
    "tiles_tile_column_update",
    "tiles_tile_row_insert",
]


@pytest.mark.parametrize("name", STANDARD_TRIGGERS)
def test_the_standard_triggers_are_accepted(name):
    sql = f"CREATE TRIGGER {name} AFTER INSERT ON zd BEGIN INSERT INTO x VALUES (1); END"
    assert source._foreign_object("trigger", name, sql) is None


@pytest.mark.parametrize(
    "name",
    [
        "evil",
        "rtree_zd_geom_insert2",
        "xrtree_zd_geom_insert",
        "rtree_zd_geom_update",
        "trigger_update_feature_count_zd",
        "tiles_zoom_level_delete",
        "my_gpkg_x",
    ],
)
def test_other_triggers_are_refused(name):
    assert source._foreign_object("trigger", name, "CREATE TRIGGER ...") == term("a trigger")


@pytest.mark.parametrize(
    "body",
    [
        "SELECT load_extension('x')",
        "ATTACH 'x' AS y",
        "SELECT * FROM VirtualOGR",
        "SELECT ogr_version()",
        "SELECT readfile('/etc/passwd')",
        "SELECT writefile('x', 1)",
        "SELECT '/vsicurl/http://x'",
        "CREATE VIRTUAL TABLE t USING fts3(x)",
        "SELECT * FROM zipfile('x')",
        "SELECT * FROM sqlar",
    ],
)
def test_a_standard_name_does_not_cover_foreign_sql(body):
    sql = f"CREATE TRIGGER rtree_zd_geom_insert AFTER INSERT ON zd BEGIN {body}; END"
    assert source._foreign_object("trigger", "rtree_zd_geom_insert", sql) == term("a trigger")


def test_views_and_virtual_tables_other_than_the_spatial_index():
    assert source._foreign_object("view", "v", "CREATE VIEW v AS SELECT 1") == term("a view")
    rtree = "CREATE VIRTUAL TABLE rtree_zd_geom USING rtree(id, minx, maxx, miny, maxy)"
    assert source._foreign_object("table", "rtree_zd_geom", rtree) is None
    assert source._foreign_object("table", "r", "  create virtual table r USING RTREE (id)") is None
    fts = "CREATE VIRTUAL TABLE words USING fts5(x)"
    assert source._foreign_object("table", "words", fts) == term("a virtual table")
    assert source._foreign_object("table", "z", "CREATE VIRTUAL TABLE z USING zipfile('x')") == (
        term("a virtual table")
    )
    named_rtree = "CREATE VIRTUAL TABLE t USING fts4(rtree)"  # says rtree, is not one
    assert source._foreign_object("table", "t", named_rtree) == term("a virtual table")
    assert source._foreign_object("table", "zd", "CREATE TABLE zd (fid INTEGER)") is None
    assert source._foreign_object("index", "i", "CREATE INDEX i ON zd (fid)") is None


def gpkg(tmp_path, *statements: str, name: str = "x.gpkg"):
    """A minimal GeoPackage made with sqlite3: its application id, gpkg_contents, a layer."""
    path = tmp_path / name
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA application_id = 1196444487")  # 'GPKG'
        conn.execute("CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT)")
        conn.execute("CREATE TABLE zd (fid INTEGER PRIMARY KEY, geom BLOB)")
        conn.execute("CREATE TABLE zd2 (fid INTEGER PRIMARY KEY, geom BLOB)")
        conn.execute("INSERT INTO gpkg_contents VALUES ('zd', 'features'), ('t', 'tiles')")
        for sql in statements:
            conn.execute(sql)
        conn.commit()
    return path


def test_a_plain_geopackage_lists_its_feature_layers(tmp_path):
    path = gpkg(
        tmp_path,
        "CREATE VIRTUAL TABLE rtree_zd_geom USING rtree(id, a, b, c, d)",
        "CREATE TRIGGER rtree_zd_geom_insert AFTER INSERT ON zd BEGIN "
        "INSERT INTO rtree_zd_geom VALUES (NEW.fid, 0, 0, 0, 0); END",
    )
    assert content_kind(path) == "gpkg"
    assert source._check_geopackage(path, "x.gpkg") == ["zd"]
    with open_source(path) as src:
        assert (src.kind, src.layer, src.name) == ("gpkg", "zd", "x.gpkg:zd")
        assert len(src.sha256) == 64


def test_a_geopackage_with_a_view_is_refused_naming_it(tmp_path):
    path = gpkg(tmp_path, "CREATE VIEW zd_view AS SELECT * FROM zd")
    with pytest.raises(SourceError) as info:
        source._check_geopackage(path, "x.gpkg")
    assert str(info.value) == (
        "x.gpkg: the GeoPackage holds a view (zd_view) of its own; only plain feature tables "
        "are accepted: export the layer again"
    )


def test_a_geopackage_with_a_trigger_of_its_own_is_refused_before_it_could_run(tmp_path):
    path = gpkg(
        tmp_path,
        "CREATE TABLE log (x)",
        "CREATE TRIGGER evil AFTER INSERT ON zd BEGIN INSERT INTO log VALUES (1); END",
    )
    with pytest.raises(SourceError, match=r"a trigger \(evil\)"):
        source._check_geopackage(path, "x.gpkg")


def test_layers_are_chosen_by_name(tmp_path):
    path = gpkg(tmp_path, "INSERT INTO gpkg_contents VALUES ('zd2', 'features')")
    assert "has the layers zd, zd2: choose one" in refusal(path)
    with pytest.raises(SourceError) as info, open_source(path):
        pass
    assert info.value.code == "gpkg_choose_layer"
    assert "有图层 zd、zd2：请选择其中一个" in info.value.render("zh_CN")
    assert "has no layer 'nope'" in refusal(path, layer="nope")
    with open_source(path, layer="zd2") as src:
        assert src.layer == "zd2"


def test_a_damaged_or_foreign_database_is_not_a_geopackage(tmp_path):
    path = gpkg(tmp_path)
    data = bytearray(path.read_bytes())
    data[4096 + 100 :] = b"\xff" * (len(data) - 4196)  # pages overwritten
    path.write_bytes(bytes(data))
    with pytest.raises(SourceError, match="not a readable GeoPackage"):
        source._check_geopackage(path, "x.gpkg")
    plain = tmp_path / "plain.gpkg"
    with closing(sqlite3.connect(plain)) as conn:
        conn.execute("CREATE TABLE t (x)")
    assert refusal(plain) == f"{plain}: the content is not a GeoPackage; nothing was read"


# --- zips -----------------------------------------------------------------------------------


def zip_with(*members: tuple[str, bytes], mode: int | None = None) -> zipfile.ZipFile:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return zipfile.ZipFile(io.BytesIO(buf.getvalue()))


@pytest.mark.parametrize(
    "name", ["../x.shp", "a/../../x.shp", "/etc/x.shp", "\\x.shp", "C:x.shp", "a\\..\\..\\x"]
)
def test_members_that_would_land_outside_the_folder_are_refused(name):
    with pytest.raises(SourceError, match="would be written outside the folder"):
        check_zip(zip_with((name, b"x")), "up.zip")


def test_links_are_refused():
    with pytest.raises(SourceError, match="is a symbolic link"):
        check_zip(zip_with(("x.shp", b"/etc/passwd"), mode=stat.S_IFLNK | 0o777), "up.zip")
    check_zip(zip_with(("x.shp", b"data"), mode=stat.S_IFREG | 0o644), "up.zip")


def test_too_many_members_are_refused():
    members = [(f"f{i}.txt", b"x") for i in range(MAX_ZIP_MEMBERS + 1)]
    with pytest.raises(SourceError, match=f"has {MAX_ZIP_MEMBERS + 1} members"):
        check_zip(zip_with(*members), "up.zip")
    check_zip(zip_with(*members[:MAX_ZIP_MEMBERS]), "up.zip")


def test_a_member_that_expands_too_far_is_a_bomb():
    bomb = zip_with(("x.dbf", bytes(2_000_000)))
    (info,) = bomb.infolist()
    assert info.file_size / info.compress_size > MAX_ZIP_RATIO
    with pytest.raises(SourceError, match="a zip bomb"):
        check_zip(bomb, "up.zip")


def test_a_well_compressed_shapefile_is_not_a_bomb():
    ordinary = zip_with(("x.dbf", b"430802003099JA00001 " * 500), ("x.shp", bytes(range(256))))
    check_zip(ordinary, "up.zip")


# --- shapefiles -------------------------------------------------------------------------------


def shapefile(tmp_path, *, shx: bytes = SHP_HEADER, dbf: bytes | None = None, name="zd"):
    (tmp_path / f"{name}.shp").write_bytes(SHP_HEADER)
    if shx is not None:
        (tmp_path / f"{name}.shx").write_bytes(shx)
    if dbf is None:
        dbf = bytes([0x03]) + bytes(31)
    (tmp_path / f"{name}.dbf").write_bytes(dbf)
    return tmp_path / f"{name}.shp"


def test_a_shapefile_whose_parts_have_their_headers_opens(tmp_path):
    shp = shapefile(tmp_path)
    (tmp_path / "zd.cpg").write_text("GBK")
    with open_source(shp) as src:
        assert (src.kind, src.name) == ("shapefile", "zd.shp")
        assert src.sidecar_text(".cpg") == "GBK" and src.sidecar(".prj") is None
    with open_source(tmp_path) as src:  # the folder holding it
        assert src.path == shp


@pytest.mark.parametrize(
    ("shx", "dbf", "message"),
    [
        (SHP_HEADER[:99], None, "the .shx file is not a shapefile"),
        (SHP_HEADER[:28] + b"\xe9\x03\x00\x00" + SHP_HEADER[32:], None, ".shx file is not"),
        (b"<OGRVRTDataSource>" + bytes(90), None, ".shx file is not a shapefile"),
        (SHP_HEADER, b"\x01" + bytes(31), "the .dbf file is not a dBASE table"),
        (SHP_HEADER, b"\x03" + bytes(10), "the .dbf file is not a dBASE table"),
    ],
)
def test_a_part_without_its_header_is_refused(tmp_path, shx, dbf, message):
    with (
        pytest.raises(SourceError, match=message),
        open_source(shapefile(tmp_path, shx=shx, dbf=dbf)),
    ):
        pass


def test_a_shapefile_without_its_index_or_table_is_refused(tmp_path):
    shp = shapefile(tmp_path, shx=None)
    with pytest.raises(SourceError, match="the .shx index file is missing"), open_source(shp):
        pass
    (tmp_path / "zd.dbf").unlink()
    with pytest.raises(SourceError, match="the .dbf file is missing"), open_source(shp):
        pass


def test_a_folder_must_hold_exactly_one_shapefile(tmp_path):
    with pytest.raises(SourceError, match="holds no .shp file"), open_source(tmp_path):
        pass
    shapefile(tmp_path, name="a")
    shapefile(tmp_path, name="b")
    assert refusal(tmp_path) == f"{tmp_path} holds 2 shapefiles (a.shp, b.shp): give one of them"


def test_a_zipped_shapefile_is_opened_from_a_folder_of_its_own(tmp_path):
    shapefile(tmp_path)
    archive = tmp_path / "up.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for ext in (".shp", ".shx", ".dbf"):
            zf.write(tmp_path / f"zd{ext}", f"dir/ZD{ext.upper()}")
        zf.writestr("dir/ZD.qix", b"an index GDAL would read")
    with open_source(archive) as src:
        assert src.name == "up.zip!ZD.SHP" and src.path.name == "layer.shp"
        assert sorted(p.name for p in src.path.parent.iterdir()) == [
            "layer.dbf",
            "layer.shp",
            "layer.shx",
        ]
        folder = src.path.parent
    assert not folder.exists()  # removed when done


def test_names_and_paths_that_are_refused_before_reading(tmp_path):
    for path, message in [
        ("/vsicurl/http://x/y.geojson", "does not exist"),
        (tmp_path / "missing.shp", "does not exist"),
        (file_of(tmp_path, b"x", "x.ovr"), "not a .shp, folder"),
    ]:
        with pytest.raises(SourceError, match=message), open_source(path):
            pass
    csv = file_of(tmp_path, b"code,wkt\n", "x.geojson")
    with pytest.raises(SourceError, match="the content is not a GeoJSON file"), open_source(csv):
        pass


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", None),
        ('{"type": "Topology"}', "not a GeoJSON FeatureCollection or Feature"),
        ('{"type": "FeatureCollection", "features": {}}', "its features are not a list"),
        ('{"type": "FeatureCollection"', "not valid JSON"),
    ],
)
def test_geojson_is_parsed_and_shaped_before_gdal_sees_it(tmp_path, text, message):
    path = file_of(tmp_path, text.encode(), "x.geojson")
    with pytest.raises(SourceError, match=message or "content is not"), open_source(path):
        pass


def test_a_feature_is_a_geojson_source(tmp_path):
    path = file_of(
        tmp_path, b'{"type": "Feature", "properties": {"a": 1}, "geometry": null}', "x.json"
    )
    with open_source(path, shown="上传.json") as src:
        assert (src.kind, src.name) == ("geojson", "上传.json")


def test_shown_names_have_no_control_characters_and_a_bounded_length():
    assert shown_name("a\nb\x00c.shp") == "a?b?c.shp"
    assert shown_name("x" * 100) == "x" * 79 + "…"
    assert shown_name("x" * 80) == "x" * 80
    assert shown_name("宗地.shp", 3) == "宗地…"


def test_the_shapefile_header_constant_is_9994_and_version_1000():
    assert struct.unpack(">i", SHP_HEADER[:4])[0] == 9994
    assert struct.unpack("<i", SHP_HEADER[28:32])[0] == 1000


def test_zip_member_names_without_the_utf8_flag_are_read_as_their_maker_wrote_them():
    import zipfile

    from landmap.loaders.source import member_name

    for encoding in ("gbk", "utf-8"):
        info = zipfile.ZipInfo("宗地.shp".encode(encoding).decode("cp437"))
        info.flag_bits = 0  # as Windows' own zip and Info-ZIP write them
        assert member_name(info) == "宗地.shp"
    flagged = zipfile.ZipInfo("宗地.shp")
    flagged.flag_bits = 0x800
    assert member_name(flagged) == "宗地.shp"
