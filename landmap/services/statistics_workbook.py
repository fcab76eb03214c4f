"""The 月度统计 workbook the offices collect: a template to download (the enterprises one a
row for the month asked, with what is recorded already) and the filled workbook uploaded back,
every row checked and stored all or nothing (services.statistics.record_month's rules).

A workbook is hostile input. It is opened only as what its bytes say it is (a zip holding an
.xlsx, never a macro workbook: no vbaProject, no macro-enabled content type), at most
MAX_BYTES, its parts at most MAX_UNZIPPED together, read by openpyxl in read-only mode, at
most MAX_ROWS rows and the template's columns; a formula in a cell is refused (the value
itself is asked for), never evaluated; text stays text.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook, load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from landmap.db.models import Enterprise, EnterpriseStatistic
from landmap.messages import Message, msg
from landmap.services import Refused, Result, xlsx
from landmap.services.statistics import FIGURES, figure_value, month_value, record_month

SHEET = "月度统计"
KEYS = ("企业名称", "统一社会信用代码", "年", "月")
HEADERS = (*KEYS, *(f.header for f in FIGURES))
MAX_BYTES = 5 * 1024 * 1024
MAX_UNZIPPED = 50 * 1024 * 1024
MAX_ROWS = 5000  # data rows
MAX_PROBLEMS = 200  # listed in a refusal (all are counted)
INSTRUCTIONS = (
    (
        "用途",
        "企业月度统计（月统计、季分析）：每行一家企业一个月的数据，填好后在“企业统计”页面上传",
    ),
    ("企业", "按统一社会信用代码识别企业；没有代码时按企业名称（须与系统中的名称完全一致）"),
    ("年、月", "统计所属的年份和月份（1–12），不能是尚未开始的月份"),
    ("金额", "工业总产值、营业收入、税收、固定资产投资以万元为单位，不小于 0，最多两位小数"),
    ("从业人员", "期末从业人员人数，整数"),
    ("综合能耗", "吨标准煤，可不填"),
    ("整行不填", "某企业本月各项数据都不填时，该行不导入"),
    ("更正", "同一企业同一月份再次上传即替换原数据，原数据保留在审计记录中"),
    ("全部或不导入", "任何一行有错误时整份表格都不导入，并列出每个出错的行和列"),
    ("公式", "单元格中请填写数值本身，不要使用公式；不接受含宏的工作簿（.xlsm）"),
    ("行数", f"最多 {MAX_ROWS} 行数据，文件不超过 {MAX_BYTES // (1024 * 1024)} MB"),
)


def template(session: Session, year: int, month: int) -> bytes:
    """The template for ``year``-``month`` (already checked): every enterprise one a row with
    its figures of the month when recorded."""
    recorded = {
        s.enterprise_id: s
        for s in session.scalars(
            select(EnterpriseStatistic).where(
                EnterpriseStatistic.year == year, EnterpriseStatistic.month == month
            )
        )
    }
    rows = []
    for e in session.scalars(select(Enterprise).order_by(Enterprise.name)):
        s = recorded.get(e.id)
        figures = [getattr(s, f.name) if s else None for f in FIGURES]
        rows.append([e.name, e.credit_code or "", year, month, *figures])
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    formats = [None, None, "0", "0", *(xlsx.COUNT if f.whole else xlsx.MONEY for f in FIGURES)]
    xlsx.write_table(ws, HEADERS, rows, formats)
    xlsx.describe(wb, f"企业月度统计表（{year} 年 {month} 月）", INSTRUCTIONS)
    return xlsx.to_bytes(wb)


# --- the upload ----------------------------------------------------------------------------


def _refuse(message: Message, status: int = 400) -> Refused:
    return Refused(message, status)


def _check_file(data: bytes, file_name: str) -> None:
    """The file is an .xlsx (a zip with a workbook part), not a macro workbook, not too big."""
    if not file_name.lower().endswith(".xlsx"):
        raise _refuse(
            msg("statistics_upload_kind", "upload the statistics as an Excel workbook (.xlsx)"),
            415,
        )
    if len(data) > MAX_BYTES:
        raise _refuse(
            msg(
                "statistics_upload_too_big",
                "the workbook is larger than %(mb)s MB",
                mb=MAX_BYTES // (1024 * 1024),
            ),
            413,
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
            types = z.read("[Content_Types].xml") if "[Content_Types].xml" in z.namelist() else b""
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        raise _not_xlsx() from exc
    names = [i.filename.lower() for i in infos]
    if not types or "xl/workbook.xml" not in names:
        raise _not_xlsx()
    if any("vbaproject" in n for n in names) or b"macroEnabled" in types:
        raise _refuse(
            msg(
                "statistics_upload_macros",
                "a workbook with macros is not accepted: save it "
                "as an Excel workbook (.xlsx) without macros",
            ),
            415,
        )
    if sum(i.file_size for i in infos) > MAX_UNZIPPED:
        raise _refuse(
            msg(
                "statistics_upload_unzipped_too_big",
                "the workbook holds more than %(mb)s MB when unpacked",
                mb=MAX_UNZIPPED // (1024 * 1024),
            ),
            413,
        )


def _not_xlsx() -> Refused:
    return _refuse(
        msg("statistics_upload_not_xlsx", "the file is not an Excel workbook (.xlsx)"), 415
    )


def _cells(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    """(row number, cells) of the sheet 月度统计 from row 1, the template's columns only."""
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        raise _not_xlsx() from exc
    try:
        if SHEET not in wb.sheetnames:
            raise _refuse(
                msg(
                    "statistics_upload_no_sheet",
                    "the workbook has no sheet %(sheet)s: use the template",
                    sheet=SHEET,
                )
            )
        for number, row in enumerate(wb[SHEET].iter_rows(max_col=len(HEADERS)), start=1):
            yield number, list(row)
    finally:
        wb.close()


@dataclass(frozen=True)
class Row:
    number: int
    enterprise_id: int
    data: dict[str, Any]


def _problem(number: int, column: str, problem: Message) -> Message:
    return msg(
        "statistics_upload_row_problem",
        "row %(row)s, column %(column)s: %(problem)s",
        row=number,
        column=column,
        problem=problem,
    )


FORMULA = msg("statistics_upload_formula", "a formula is not accepted: enter the value itself")


FORMULA_CELL = object()  # a cell holding a formula: refused, never evaluated


def _values(cells: list[Any]) -> list[Any] | None:
    """The cells' values (FORMULA_CELL for a formula, text stripped); None for a row with
    nothing in it."""
    values = []
    for cell in [*cells, *([None] * (len(HEADERS) - len(cells)))]:
        value = getattr(cell, "value", None)
        if getattr(cell, "data_type", None) == "f":
            value = FORMULA_CELL
        elif isinstance(value, str):
            value = value.strip()
        values.append(value)
    return values if any(v not in (None, "") for v in values) else None


class _Enterprises:
    """The enterprises, found by credit code (first) or exact name."""

    def __init__(self, session: Session) -> None:
        rows = session.execute(select(Enterprise.id, Enterprise.name, Enterprise.credit_code))
        self.by_code, self.by_name = {}, {}
        for eid, name, code in rows:
            self.by_name[name] = eid
            if code:
                self.by_code[code] = eid

    def find(self, name: Any, code: Any) -> int:
        """The enterprise of a row: by its credit code when given, else by its exact name."""
        code = str(code or "").strip().upper()
        if code:
            found = self.by_code.get(code)
            if found is None:
                raise Refused(
                    msg(
                        "statistics_unknown_credit_code",
                        "no enterprise has the unified social credit code %(code)s",
                        code=code[:40],
                    )
                )
            return found
        name = str(name or "").strip()
        if name not in self.by_name:
            raise Refused(
                msg(
                    "statistics_unknown_enterprise",
                    "there is no enterprise named %(name)s (the name must be exactly as "
                    "registered)",
                    name=name[:60] or "—",
                )
            )
        return self.by_name[name]


def _checked(number: int, column, problems: list[Message], check, *values: Any) -> Any:
    """``check(*values)``, or None with the problem added (a formula's, or what it refuses)
    in ``column`` (a header, or a function of the refusal giving it)."""
    if any(v is FORMULA_CELL for v in values):
        problems.append(_problem(number, column if isinstance(column, str) else KEYS[0], FORMULA))
        return None
    try:
        return check(*values)
    except Refused as exc:
        where = column if isinstance(column, str) else column(exc)
        problems.append(_problem(number, where, exc.message))
        return None


def _row(number: int, values: list[Any], found: _Enterprises, problems: list[Message]):
    """A data row checked: its problems added (every column), the Row when it has none.
    A row whose figures are all empty is skipped (None, no problem)."""
    if all(v in (None, "") for v in values[len(KEYS) :]):
        return None
    before = len(problems)
    who = KEYS[1] if values[1] not in (None, "") else KEYS[0]
    eid = _checked(number, who, problems, found.find, values[0], values[1])
    when = _checked(number, _month_column, problems, month_value, values[2], values[3])
    data: dict[str, Any] = {"year": when[0], "month": when[1]} if when else {}
    for figure, value in zip(FIGURES, values[len(KEYS) :], strict=True):
        data[figure.name] = _checked(number, figure.header, problems, figure_value, figure, value)
    if len(problems) > before:
        return None
    return Row(number, eid, data)


def _month_column(exc: Refused) -> str:
    """The column a refused year and month is named in: 月 for the month, else 年."""
    return KEYS[3] if exc.code in ("statistic_bad_month", "statistic_future_month") else KEYS[2]


def _check_header(header: tuple[int, list[Any]] | None) -> None:
    shown = [str(getattr(c, "value", None) or "").strip() for c in header[1]] if header else []
    if shown[: len(HEADERS)] == list(HEADERS):
        return
    raise _refuse(
        msg(
            "statistics_upload_bad_header",
            "the first row of sheet %(sheet)s must be the template's headers: %(headers)s",
            sheet=SHEET,
            headers=list(HEADERS),
        )
    )


def read(session: Session, data: bytes, file_name: str) -> list[Row]:
    """The workbook's rows, every one checked; Refused (nothing stored) listing every problem
    by row and column, or the file's one problem."""
    _check_file(data, file_name)
    found, rows, problems, seen = _Enterprises(session), [], [], {}
    cells = _cells(data)
    _check_header(next(cells, None))
    for number, row_cells in cells:
        if number > MAX_ROWS + 1:
            raise _refuse(
                msg(
                    "statistics_upload_too_many_rows",
                    "the workbook has more than %(most)s rows of data",
                    most=MAX_ROWS,
                ),
                413,
            )
        values = _values(row_cells)
        row = _row(number, values, found, problems) if values else None
        if row is None:
            continue
        key = (row.enterprise_id, row.data["year"], row.data["month"])
        if key in seen:
            twice = msg(
                "statistics_upload_twice",
                "the same enterprise and month as row %(other)s",
                other=seen[key],
            )
            problems.append(_problem(number, KEYS[0], twice))
            continue
        seen[key] = number
        rows.append(row)
    if problems:
        raise _refused(problems)
    if not rows:
        raise _refuse(msg("statistics_upload_empty", "the workbook has no rows with figures"))
    return rows


def _refused(problems: list[Message]) -> Refused:
    return Refused(
        msg(
            "statistics_upload_refused",
            "nothing was stored: %(n)s problems in the workbook (each listed by row and column)",
            n=len(problems),
        ),
        422,
        problems=problems[:MAX_PROBLEMS],
    )


@dataclass(frozen=True)
class Uploaded(Result):
    stored: int
    replaced: int
    months: list[dict]


def upload(session: Session, data: bytes, file_name: str, by: str) -> Uploaded:
    """Read the workbook (see read) and record every row (all or nothing: the caller commits
    or, on a refusal, nothing was written)."""
    stored = [
        record_month(session, row.enterprise_id, row.data, by, source="workbook")
        for row in read(session, data, file_name)
    ]
    return Uploaded(
        stored=len(stored),
        replaced=sum(1 for m in stored if m.replaced),
        months=[m.as_dict() for m in stored],
    )
