"""Translation catalogues (Flask-Babel): extract messages, update the .po files, compile.

.venv/bin/python scripts/i18n.py update    # after adding or changing UI text
.venv/bin/python scripts/i18n.py compile   # after translating (the .mo files are committed)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TR = ROOT / "landmap" / "translations"
BABEL = [sys.executable, "-m", "babel.messages.frontend"]


def run(*args: str) -> None:
    subprocess.run([*BABEL, *args], cwd=ROOT, check=True)


def main(argv: list[str]) -> int:
    what = argv[0] if argv else "compile"
    if what == "update":
        run(
            "extract",
            "-F",
            str(TR / "babel.cfg"),
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
    elif what == "compile":
        run("compile", "-d", str(TR), "--statistics")
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
