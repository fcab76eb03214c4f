"""Translation catalogues (Flask-Babel): extract messages, update the .po files, compile.

.venv/bin/python scripts/i18n.py update            # after adding or changing UI text
.venv/bin/python scripts/i18n.py compile           # after translating (the .mo files are committed)
.venv/bin/python scripts/i18n.py translate F.json  # update, set {"msgid": "中文", ...}, compile

Messages come from templates, ``_()``/``gettext()`` in the web layer and ``msg(code, text)``
anywhere (keyword ``msg:2``). Every command holds a lock on the catalogue, so that several
people (or helpers) can add translations at once without losing each other's.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TR = ROOT / "landmap" / "translations"
PO = TR / "zh" / "LC_MESSAGES" / "messages.po"
BABEL = [sys.executable, "-m", "babel.messages.frontend"]
KEYWORDS = ["-k", "msg:2", "-k", "term"]


def run(*args: str) -> None:
    subprocess.run([*BABEL, *args], cwd=ROOT, check=True)


@contextmanager
def locked():
    with open(TR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def update() -> None:
    run(
        "extract",
        "-F",
        str(TR / "babel.cfg"),
        *KEYWORDS,
        "-o",
        str(TR / "messages.pot"),
        "--no-location",
        "--omit-header",
        "--sort-output",
        ".",
    )
    run(
        "update",
        "-i",
        str(TR / "messages.pot"),
        "-d",
        str(TR),
        "--no-fuzzy-matching",
        "--ignore-obsolete",
    )


def compile_() -> None:
    run("compile", "-d", str(TR), "--statistics")


def translate(path: str) -> list[str]:
    """Set the Chinese of the msgids in the JSON file; returns the msgids not in the catalogue
    (not found in the sources: a typo, or text not yet written)."""
    from babel.messages.pofile import read_po, write_po

    given: dict[str, str] = json.loads(Path(path).read_text(encoding="utf-8"))
    with PO.open("rb") as f:
        catalog = read_po(f)
    missing = []
    for msgid, msgstr in given.items():
        message = catalog.get(msgid)
        if message is None:
            missing.append(msgid)
            continue
        message.string = msgstr
        message.flags.discard("fuzzy")
    with PO.open("wb") as f:
        write_po(f, catalog, omit_header=False, sort_output=True)
    return missing


def main(argv: list[str]) -> int:
    what = argv[0] if argv else "compile"
    with locked():
        if what == "update":
            update()
        elif what == "compile":
            compile_()
        elif what == "translate" and len(argv) == 2:
            update()
            missing = translate(argv[1])
            compile_()
            for msgid in missing:
                print(f"not in the sources (left out): {msgid!r}", file=sys.stderr)
        else:
            print(__doc__)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
