"""Fetch the third-party JS/CSS that landmap's pages use from the npm registry into
static/vendor/ (the files are committed: pages never load anything from a CDN).

    .venv/bin/python scripts/fetch_vendor.py          # fetch what is missing or changed
    .venv/bin/python scripts/fetch_vendor.py --check  # verify the committed files only

Each tarball is checked against the registry's sha512 integrity before anything is written;
static/vendor/MANIFEST.json records package, version, integrity and the sha256 of each file.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
VENDOR = Path(__file__).resolve().parent.parent / "static" / "vendor"
# folder -> (package, version, {path in the package: path under the folder})
PACKAGES: dict[str, tuple[str, str, dict[str, str]]] = {
    "leaflet": (
        "leaflet",
        "1.9.4",
        {
            "dist/leaflet.js": "leaflet.js",
            "dist/leaflet.css": "leaflet.css",
            "dist/images/layers.png": "images/layers.png",
            "dist/images/layers-2x.png": "images/layers-2x.png",
            "dist/images/marker-icon.png": "images/marker-icon.png",
            "dist/images/marker-icon-2x.png": "images/marker-icon-2x.png",
            "dist/images/marker-shadow.png": "images/marker-shadow.png",
            "LICENSE": "LICENSE",
        },
    ),
    "leaflet-draw": (
        "leaflet-draw",
        "1.0.4",
        {
            "dist/leaflet.draw.js": "leaflet.draw.js",
            "dist/leaflet.draw.css": "leaflet.draw.css",
            "dist/images/spritesheet.png": "images/spritesheet.png",
            "dist/images/spritesheet-2x.png": "images/spritesheet-2x.png",
            "dist/images/spritesheet.svg": "images/spritesheet.svg",
            "dist/images/layers.png": "images/layers.png",
            "dist/images/layers-2x.png": "images/layers-2x.png",
            "dist/images/marker-icon.png": "images/marker-icon.png",
            "dist/images/marker-icon-2x.png": "images/marker-icon-2x.png",
            "dist/images/marker-shadow.png": "images/marker-shadow.png",
        },
    ),
    "leaflet.sync": (
        "leaflet.sync",
        "0.2.4",
        {"L.Map.Sync.js": "L.Map.Sync.js", "LICENSE": "LICENSE"},
    ),
    "leaflet.vectorgrid": (
        "leaflet.vectorgrid",
        "1.3.0",
        {"dist/Leaflet.VectorGrid.bundled.min.js": "Leaflet.VectorGrid.bundled.min.js"},
    ),
    "proj4": (
        "proj4",
        "2.22.0",
        {"dist/proj4.js": "proj4.js", "LICENSE.md": "LICENSE.md"},
    ),
    "bootstrap": (
        "bootstrap",
        "5.3.8",
        {
            "dist/css/bootstrap.min.css": "bootstrap.min.css",
            "LICENSE": "LICENSE",
        },
    ),
}


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as r:  # noqa: S310 - fixed registry URL
        return r.read()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(folder: str, package: str, version: str, files: dict[str, str]) -> dict:
    meta = json.loads(_get(f"{REGISTRY}/{package}/{version}"))
    dist = meta["dist"]
    tarball = _get(dist["tarball"])
    algo, _, digest = dist["integrity"].partition("-")
    if algo != "sha512" or hashlib.sha512(tarball).digest() != base64.b64decode(digest):
        raise SystemExit(f"{package}@{version}: tarball does not match the registry's integrity")
    out: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        for src, dest in files.items():
            member = tar.getmember(f"package/{src}")
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            target = VENDOR / folder / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            out[dest] = _sha256(data)
    return {"package": package, "version": version, "integrity": dist["integrity"], "files": out}


def check(manifest: dict) -> list[str]:
    problems = []
    for folder, (package, version, files) in PACKAGES.items():
        entry = manifest.get(folder)
        if not entry or entry["version"] != version:
            problems.append(f"{folder}: {package}@{version} not fetched")
            continue
        for dest in files.values():
            path = VENDOR / folder / dest
            if not path.exists() or _sha256(path.read_bytes()) != entry["files"].get(dest):
                problems.append(f"{folder}/{dest} missing or changed")
    return problems


def main(argv: list[str]) -> int:
    manifest_path = VENDOR / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    problems = check(manifest)
    if "--check" in argv:
        for p in problems:
            print(p)
        return 1 if problems else 0
    for folder, (package, version, files) in PACKAGES.items():
        if any(p.startswith(folder + ":") or p.startswith(folder + "/") for p in problems):
            print(f"fetching {package}@{version}")
            manifest[folder] = fetch(folder, package, version, files)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print("static/vendor is complete")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
