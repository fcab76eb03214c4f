"""Where the features come from: a .shp, a folder holding one, a .zip of one, a GeoPackage
layer or a GeoJSON file. Zips are checked before anything is extracted and go to a temporary
folder that is always removed."""

from __future__ import annotations

import hashlib
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pyogrio

MAX_ZIP_MEMBERS = 200
MAX_ZIP_BYTES = 4 << 30  # uncompressed
MAX_ZIP_RATIO = 200  # uncompressed / compressed, per member and overall
_SHP_SIDECARS = (".shx", ".dbf", ".prj", ".cpg")


class SourceError(ValueError):
    """The path is not a file landmap can read; the message says why."""


@dataclass(frozen=True)
class Source:
    path: Path  # what GDAL opens
    layer: str | None
    kind: str  # shapefile | gpkg | geojson
    name: str  # the file name as the user gave it
    sha256: str

    def sidecar(self, ext: str) -> Path | None:
        if self.kind != "shapefile":
            return None
        for cand in (self.path.with_suffix(ext), self.path.with_suffix(ext.upper())):
            if cand.exists():
                return cand
        return None

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
        raise SourceError(f"{shown} holds no .shp file")
    if len(shps) > 1:
        names = ", ".join(p.name for p in shps[:5])
        raise SourceError(f"{shown} holds {len(shps)} shapefiles ({names}); give one of them")
    return shps[0]


def check_zip(zf: zipfile.ZipFile, shown: str) -> None:
    """Refuse zip-slip paths, links, too many members and zip bombs before extracting."""
    infos = zf.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise SourceError(f"{shown} has {len(infos)} members; at most {MAX_ZIP_MEMBERS} allowed")
    total = packed = 0
    for info in infos:
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
            raise SourceError(f"{shown}: member {name!r} would be written outside the folder")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise SourceError(f"{shown}: member {name!r} is a symbolic link")
        if info.compress_size and info.file_size / info.compress_size > MAX_ZIP_RATIO:
            raise SourceError(f"{shown}: member {name!r} expands {MAX_ZIP_RATIO}x+ (a zip bomb?)")
        total += info.file_size
        packed += info.compress_size
    if total > MAX_ZIP_BYTES or (packed and total / packed > MAX_ZIP_RATIO):
        raise SourceError(f"{shown} expands to {total} bytes: too large (a zip bomb?)")


def _extract(zf: zipfile.ZipFile, dest: Path) -> None:
    """Extract member by member, counting real bytes (headers can lie about sizes)."""
    budget = MAX_ZIP_BYTES
    for info in zf.infolist():
        target = (dest / info.filename).resolve()
        if not target.is_relative_to(dest.resolve()):
            raise SourceError(f"member {info.filename!r} would be written outside the folder")
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
                    raise SourceError(f"member {info.filename!r} expands too far (a zip bomb?)")
                out.write(block)


@contextmanager
def open_source(path: str | Path, layer: str | None = None) -> Iterator[Source]:
    p = Path(path)
    shown = str(path)
    if not p.exists():
        raise SourceError(f"{shown} does not exist")
    suffix = p.suffix.lower()
    if p.is_dir():
        shp = _single_shapefile(p, shown)
        yield _shapefile(shp, shp.name)
    elif suffix == ".zip":
        with tempfile.TemporaryDirectory(prefix="landmap-zip-") as tmp:
            try:
                with zipfile.ZipFile(p) as zf:
                    check_zip(zf, shown)
                    _extract(zf, Path(tmp))
            except zipfile.BadZipFile as exc:
                raise SourceError(f"{shown} is not a readable zip file ({exc})") from exc
            inner = _single_shapefile(Path(tmp), shown)
            src = _shapefile(inner, f"{p.name}!{inner.name}")
            yield Source(src.path, None, "shapefile", src.name, _sha256([p]))
        return
    elif suffix == ".shp":
        yield _shapefile(p, p.name)
    elif suffix == ".gpkg":
        layers = [str(row[0]) for row in pyogrio.list_layers(p)]
        if layer is None:
            if len(layers) != 1:
                raise SourceError(
                    f"{shown} has layers {', '.join(layers)}: choose one with --layer"
                )
            layer = layers[0]
        elif layer not in layers:
            raise SourceError(f"{shown} has no layer {layer!r} (layers: {', '.join(layers)})")
        yield Source(p, layer, "gpkg", f"{p.name}:{layer}", _sha256([p]))
    elif suffix in (".geojson", ".json"):
        yield Source(p, None, "geojson", p.name, _sha256([p]))
    else:
        raise SourceError(f"{shown}: not a .shp, folder, .zip, .gpkg or .geojson file")


def _shapefile(shp: Path, shown: str) -> Source:
    src = Source(shp, None, "shapefile", shown, "")
    if src.sidecar(".dbf") is None:
        raise SourceError(f"{shown}: the .dbf file is missing (attributes cannot be read)")
    if src.sidecar(".shx") is None:
        raise SourceError(f"{shown}: the .shx index file is missing")
    parts = [shp] + [q for q in (src.sidecar(e) for e in _SHP_SIDECARS) if q]
    return Source(shp, None, "shapefile", shown, _sha256(parts))
