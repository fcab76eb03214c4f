"""Where the features come from: a .shp, a folder holding one, a .zip of one, a GeoPackage
layer or a GeoJSON file. Zips are checked before anything is extracted and go to a temporary
folder that is always removed.

Every file is hostile until its bytes say what it is: a file is accepted only when its content
is the kind its name promises (a shapefile's headers, a GeoPackage's SQLite header and
application id, a GeoJSON object), and GDAL later opens it with that kind's driver, the only
three it has (landmap.geo.gdal). A GeoPackage is a SQLite database: it is inspected read-only
first and refused when it holds views, triggers or virtual tables of its own."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from landmap.messages import Term, msg, term
from landmap.services import Refused

MAX_ZIP_MEMBERS = 200
MAX_ZIP_BYTES = 4 << 30  # uncompressed
MAX_ZIP_RATIO = 200  # uncompressed / compressed, per member and overall
_SHP_SIDECARS = (".shx", ".dbf", ".prj", ".cpg")
MAX_FIELDS = 250  # a DBF holds at most 255; more is not a cadastral file
MAX_GEOJSON_PARSE = 64 << 20  # GeoJSON up to this size is parsed whole before GDAL sees it
_SQLITE = b"SQLite format 3\x00"
_GPKG_IDS = (b"GPKG", b"GP10", b"GP11")
_SHP_MAGIC = b"\x00\x00\x27\x0a"  # 9994, big-endian
_DBF_VERSIONS = {0x02, 0x03, 0x04, 0x05, 0x30, 0x31, 0x32, 0x43, 0x63, 0x83, 0x8B, 0xCB, 0xF5}
# the triggers GDAL and the GeoPackage standard create (spatial index, feature counts, tiles);
# they never fire, since the file is only read, but nothing else is accepted
_STANDARD_TRIGGER = re.compile(
    r"rtree_\w+_(insert|update\d|delete)|trigger_(insert|delete)_feature_count_\w+"
    r"|gpkg_\w+|\w+_(zoom|tile_column|tile_row)_(insert|update)"
)
_RTREE = re.compile(r"\busing\s+rtree\s*\(", re.IGNORECASE)
_FORBIDDEN_SQL = re.compile(
    r"load_extension|\battach\b|virtualogr|\bogr_\w*\s*\(|/vsi|readfile|writefile|fts3|zipfile|sqlar",
    re.IGNORECASE,
)


class SourceError(Refused):
    """The path is not a file landmap can read; the message says why."""


@dataclass(frozen=True)
class Source:
    path: Path  # what GDAL opens
    layer: str | None
    kind: str  # shapefile | gpkg | geojson
    name: str  # the file name as the user gave it
    sha256: str

    def sidecar(self, ext: str) -> Path | None:
        return _sidecar(self.path, ext) if self.kind == "shapefile" else None

    def sidecar_text(self, ext: str) -> str | None:
        p = self.sidecar(ext)
        return p.read_bytes().decode("latin-1").strip() if p else None


def _sha256(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        with p.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _single_shapefile(folder: Path, shown: str) -> Path:
    shps = sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".shp" and p.is_file())
    if not shps:
        raise SourceError(msg("no_shp_file", "%(file)s holds no .shp file", file=shown))
    if len(shps) > 1:
        names = [p.name for p in shps[:5]]
        n = len(shps)
        raise SourceError(
            msg(
                "several_shapefiles",
                "%(file)s holds %(n)s shapefiles (%(names)s): give one of them",
                file=shown,
                n=n,
                names=names,
            )
        )
    return shps[0]


def check_zip(zf: zipfile.ZipFile, shown: str) -> None:
    """Refuse zip-slip paths, links, too many members and zip bombs before extracting."""
    infos = zf.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        n = len(infos)
        raise SourceError(
            msg(
                "zip_too_many_members",
                "%(file)s has %(n)s members; at most %(max)s are allowed",
                file=shown,
                n=n,
                max=MAX_ZIP_MEMBERS,
            )
        )
    total = packed = 0
    for info in infos:
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
            raise SourceError(_member_outside(name, shown))
        mode = info.external_attr >> 16
        member = repr(shown_name(name))
        if stat.S_ISLNK(mode):
            raise SourceError(
                msg(
                    "zip_member_link",
                    "%(file)s: member %(member)s is a symbolic link",
                    file=shown,
                    member=member,
                )
            )
        if info.compress_size and info.file_size / info.compress_size > MAX_ZIP_RATIO:
            raise SourceError(
                msg(
                    "zip_member_bomb",
                    "%(file)s: member %(member)s expands %(ratio)sx+ (a zip bomb?)",
                    file=shown,
                    member=member,
                    ratio=MAX_ZIP_RATIO,
                )
            )
        total += info.file_size
        packed += info.compress_size
    if total > MAX_ZIP_BYTES or (packed and total / packed > MAX_ZIP_RATIO):
        raise SourceError(
            msg(
                "zip_bomb",
                "%(file)s expands to %(bytes)s bytes: too large (a zip bomb?)",
                file=shown,
                bytes=total,
            )
        )


def _member_outside(name: str, shown: str | None = None):
    member = repr(shown_name(name))
    return msg(
        "zip_member_outside",
        "%(file)s: member %(member)s would be written outside the folder",
        file=shown or "zip",
        member=member,
    )


def _member_expands(name: str):
    member = repr(shown_name(name))
    return msg(
        "zip_member_expands", "member %(member)s expands too far (a zip bomb?)", member=member
    )


def member_name(info: zipfile.ZipInfo) -> str:
    """A zip member's name as its maker wrote it. Without the UTF-8 flag Python reads the name
    as CP437; the zips offices send are written by Chinese Windows (GBK) or by tools that
    write UTF-8 without saying so: 宗地.shp, not σ«ùσ£░.shp."""
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.filename.encode("cp437", errors="replace")
    for encoding in ("utf-8", "gbk"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def _extract(zf: zipfile.ZipFile, dest: Path) -> None:
    """Extract member by member, counting real bytes (headers can lie about sizes)."""
    budget = MAX_ZIP_BYTES
    for info in zf.infolist():
        target = (dest / member_name(info)).resolve()
        if not target.is_relative_to(dest.resolve()):
            raise SourceError(_member_outside(info.filename))
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        limit = max(info.compress_size, 1) * MAX_ZIP_RATIO
        with zf.open(info) as src, target.open("wb") as out:
            written = 0
            for block in iter(lambda src=src: src.read(1 << 20), b""):
                written += len(block)
                budget -= len(block)
                if written > limit or budget < 0:
                    raise SourceError(_member_expands(info.filename))
                out.write(block)


def shown_name(name: str, limit: int = 80) -> str:
    """A file or member name as a message may show it: no control characters, not too long."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in name)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


@contextmanager
def open_source(
    path: str | Path, layer: str | None = None, shown: str | None = None
) -> Iterator[Source]:
    """The source at ``path``, checked to be what its name says. ``shown``: the name messages
    use (an upload's own file name; never the temporary path it was saved under)."""
    p = Path(path)
    name = shown_name(shown if shown is not None else p.name)  # what the import is called
    shown = shown_name(shown if shown is not None else str(path))  # what messages say
    if str(p).startswith("/vsi") or not p.exists():
        raise SourceError(msg("file_missing", "%(file)s does not exist", file=shown))
    p = p.resolve()  # GDAL gets an absolute path: no "DRIVER:" or "/vsi..." prefix reaches it
    suffix = p.suffix.lower()
    if p.is_dir():
        shp = _single_shapefile(p, shown)
        yield _shapefile(shp, shown_name(shp.name))
    elif suffix == ".zip":
        _expect(p, shown, "zip")
        with tempfile.TemporaryDirectory(prefix="landmap-zip-") as tmp:
            try:
                with zipfile.ZipFile(p) as zf:
                    check_zip(zf, shown)
                    _extract(zf, Path(tmp) / "zip")
            except zipfile.BadZipFile as exc:
                raise SourceError(
                    msg("zip_unreadable", "%(file)s is not a readable zip file", file=shown)
                ) from exc
            inner = _single_shapefile(Path(tmp) / "zip", shown)
            # only the parts of the shapefile are opened, from a folder of their own (GDAL
            # would also read index files such as .qix that the zip may carry)
            alone = Path(tmp) / "shp"
            alone.mkdir()
            for part in [inner] + [_sidecar(inner, ext) for ext in _SHP_SIDECARS]:
                if part is not None:
                    part.rename(alone / ("layer" + part.suffix.lower()))
            src = _shapefile(alone / "layer.shp", f"{name}!{shown_name(inner.name)}")
            yield Source(src.path, None, "shapefile", src.name, _sha256([p]))
        return
    elif suffix == ".shp":
        yield _shapefile(p, name)
    elif suffix == ".gpkg":
        _expect(p, shown, "gpkg")
        layer = _gpkg_layer(_check_geopackage(p, shown), layer, shown)
        yield Source(p, layer, "gpkg", f"{name}:{shown_name(layer)}", _sha256([p]))
    elif suffix in (".geojson", ".json"):
        _expect(p, shown, "geojson")
        _check_geojson(p, shown)
        yield Source(p, None, "geojson", name, _sha256([p]))
    else:
        raise SourceError(
            msg(
                "file_kind_unknown",
                "%(file)s: not a .shp, folder, .zip, .gpkg or .geojson file",
                file=shown,
            )
        )


def _gpkg_layer(layers: list[str], layer: str | None, shown: str) -> str:
    """The GeoPackage layer to read: the one asked for, else the only one there is."""
    if layer is None:
        if len(layers) != 1:
            names = [shown_name(name) for name in layers] or ["-"]
            raise SourceError(
                msg(
                    "gpkg_choose_layer",
                    "%(file)s has the layers %(layers)s: choose one",
                    file=shown,
                    layers=names,
                )
            )
        return layers[0]
    if layer not in layers:
        asked = repr(shown_name(layer))
        raise SourceError(
            msg("gpkg_no_layer", "%(file)s has no layer %(layer)s", file=shown, layer=asked)
        )
    return layer


KIND_NAMES = {
    "zip": term("zip archive"),
    "gpkg": term("GeoPackage"),
    "geojson": term("GeoJSON file"),
    "shapefile": term("shapefile"),
}


def content_kind(path: Path) -> str | None:
    """What the first bytes of a file say it is: shapefile (.shp), gpkg, geojson, zip."""
    with path.open("rb") as f:
        head = f.read(100)
    if head.startswith(_SQLITE):
        return "gpkg" if head[68:72] in _GPKG_IDS else "sqlite"
    if head.startswith(_SHP_MAGIC):
        return "shapefile"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "geojson"
    return None


def _expect(path: Path, shown: str, kind: str) -> None:
    if content_kind(path) != kind:
        raise SourceError(not_that_kind(shown, kind))


def not_that_kind(shown: str, kind: str):
    """The refusal of a file whose content is not the ``kind`` its name says."""
    what = KIND_NAMES[kind]
    return msg(
        "content_not_kind",
        "%(file)s: the content is not a %(kind)s; nothing was read",
        file=shown,
        kind=what,
    )


def _check_geopackage(path: Path, shown: str) -> list[str]:
    """Inspect the GeoPackage read-only (no extension loading, no schema code trusted) and
    return its feature layers; refuse views, virtual tables other than the spatial index
    (rtree) and triggers other than the standard ones."""
    uri = f"file:{quote(str(path))}?mode=ro&immutable=1"
    bad = msg("gpkg_unreadable", "%(file)s: not a readable GeoPackage", file=shown)
    try:
        with closing(sqlite3.connect(uri, uri=True)) as conn:
            conn.execute("PRAGMA trusted_schema = OFF")
            if conn.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise SourceError(
                    msg(
                        "gpkg_damaged",
                        "%(file)s: not a readable GeoPackage (the database is damaged)",
                        file=shown,
                    )
                )
            objects = conn.execute("SELECT type, name, coalesce(sql, '') FROM sqlite_master")
            for type_, name, sql in objects.fetchall():
                _check_schema_object(shown, str(type_), str(name), str(sql))
            layers = conn.execute(
                "SELECT table_name FROM gpkg_contents WHERE data_type = 'features' "
                "ORDER BY table_name"
            ).fetchall()
    except sqlite3.Error as exc:
        raise SourceError(bad) from exc
    return [str(row[0]) for row in layers]


def _foreign_object(type_: str, name: str, sql: str) -> Term | None:
    """What a schema object is when a plain GeoPackage would not hold it, else None."""
    if type_ == "view":
        return term("a view")
    if type_ == "trigger" and (not _STANDARD_TRIGGER.fullmatch(name) or _FORBIDDEN_SQL.search(sql)):
        return term("a trigger")
    virtual = type_ == "table" and sql.lstrip().upper().startswith("CREATE VIRTUAL TABLE")
    rtree = _RTREE.search(sql) and not _FORBIDDEN_SQL.search(sql)
    if virtual and not rtree:
        return term("a virtual table")
    return None


def _check_schema_object(shown: str, type_: str, name: str, sql: str) -> None:
    what = _foreign_object(type_, name, sql)
    if what:
        object_name = shown_name(name, 40)
        raise SourceError(
            msg(
                "gpkg_foreign_object",
                "%(file)s: the GeoPackage holds %(what)s (%(name)s) of its own; only plain "
                "feature tables are accepted: export the layer again",
                file=shown,
                what=what,
                name=object_name,
            )
        )


def _check_geojson(path: Path, shown: str) -> None:
    """A GeoJSON object (FeatureCollection or Feature), whole, of sane depth and width."""
    if path.stat().st_size > MAX_GEOJSON_PARSE:
        return  # too large to parse twice; its first bytes were checked
    try:
        data = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as exc:
        raise SourceError(msg("json_invalid", "%(file)s: not valid JSON", file=shown)) from exc
    kind = data.get("type") if isinstance(data, dict) else None
    if kind not in ("FeatureCollection", "Feature"):
        raise SourceError(
            msg(
                "geojson_not_features",
                "%(file)s: not a GeoJSON FeatureCollection or Feature",
                file=shown,
            )
        )
    features = data.get("features") if kind == "FeatureCollection" else [data]
    if not isinstance(features, list):
        raise SourceError(
            msg("geojson_features_not_list", "%(file)s: its features are not a list", file=shown)
        )
    widest = max(
        (len(f.get("properties") or {}) for f in features if isinstance(f, dict)), default=0
    )
    if widest > MAX_FIELDS:
        raise SourceError(
            msg(
                "geojson_too_wide",
                "%(file)s: a feature has %(n)s properties; at most %(max)s",
                file=shown,
                n=widest,
                max=MAX_FIELDS,
            )
        )


def _sidecar(shp: Path, ext: str) -> Path | None:
    for cand in (shp.with_suffix(ext), shp.with_suffix(ext.upper())):
        if cand.exists():
            return cand
    return None


def _shapefile(shp: Path, shown: str) -> Source:
    src = Source(shp, None, "shapefile", shown, "")
    if src.sidecar(".dbf") is None:
        raise SourceError(
            msg(
                "dbf_missing",
                "%(file)s: the .dbf file is missing (attributes cannot be read)",
                file=shown,
            )
        )
    if src.sidecar(".shx") is None:
        raise SourceError(
            msg("shx_missing", "%(file)s: the .shx index file is missing", file=shown)
        )
    _check_shapefile_magic(src)
    parts = [shp] + [q for q in (src.sidecar(e) for e in _SHP_SIDECARS) if q]
    return Source(shp, None, "shapefile", shown, _sha256(parts))


def _check_shapefile_magic(src: Source) -> None:
    """The .shp and .shx begin with the shapefile header, the .dbf with a dBASE version."""
    for part in (src.path, src.sidecar(".shx")):
        assert part is not None
        with part.open("rb") as f:
            head = f.read(100)
        if len(head) < 100 or not head.startswith(_SHP_MAGIC) or head[28:32] != b"\xe8\x03\x00\x00":
            raise SourceError(bad_shapefile_header(src.name, part.suffix.lower()))
    dbf = src.sidecar(".dbf")
    assert dbf is not None
    with dbf.open("rb") as f:
        head = f.read(32)
    if len(head) < 32 or head[0] not in _DBF_VERSIONS:
        raise SourceError(
            msg(
                "dbf_bad_header",
                "%(file)s: the .dbf file is not a dBASE table (bad header)",
                file=src.name,
            )
        )


def bad_shapefile_header(shown: str, part: str):
    return msg(
        "shp_bad_header",
        "%(file)s: the %(part)s file is not a shapefile (bad header)",
        file=shown,
        part=part,
    )
