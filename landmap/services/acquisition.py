"""Land acquisition and demolition (征地拆迁): the workflow rule, the history, the progress.

The rule (the one place it lives): a parcel moves forward one or more stages with a date;
it moves back only as an explicit correction with a reason; state land already in hand
(STATE_OWNED) is outside the workflow. The database keeps the history append-only, moves the
parcel's current stage with it, and refuses dates before a parcel's last change.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from landmap.db.errors import pg_message
from landmap.domain import EARLIEST_DATE, Stage, today
from landmap.geo.units import mu2
from landmap.messages import Message, msg, term
from landmap.services import Refused, Result, compensation
from landmap.services.documents import StoredDocument
from landmap.services.parcels import (
    ParcelFilter,
    StageFigure,
    by_stage,
    filter_sql,
    in_force_sql,
    lonlat_polygon,
)

PACE_WINDOW_DAYS = 90
NO_GAIN_MU = 0.005  # less than this cleared in the window (rounding noise) counts as none
SERIES_YEARS = 20  # the progress series covers at most this many years before its end
PROJECTION_YEARS = 100  # a completion further off than this is not projected
MAX_SELECTION_VERTICES = 10_000  # in a polygon drawn to select parcels
MAX_SELECTED = 5000  # parcels selected at once, by a polygon or a list of codes


def event_day_problem(day: dt.date) -> Message | None:
    """Why ``day`` cannot be the date of an event (a stage move, a dispute, a quota entry, an
    approval, a document), or None: events lie from EARLIEST_DATE to today (China time)."""
    if day < EARLIEST_DATE:
        return msg(
            "date_before_earliest",
            "%(day)s is before %(earliest)s, the earliest date the register accepts",
            day=day,
            earliest=EARLIEST_DATE,
        )
    now = today()
    if day > now:
        return msg(
            "date_in_future", "%(day)s is in the future (today is %(today)s)", day=day, today=now
        )
    return None


def before_last_change(day: dt.date, last: dt.date) -> Message:
    """A parcel's change dated ``day``, before its last recorded change on ``last``."""
    return msg(
        "dated_before_last_change",
        "%(day)s is before its last recorded change (%(last)s)",
        day=day,
        last=last,
    )


def parcel_problem(code: str, why: Message) -> Message:
    """What is wrong with one parcel of a request, naming the parcel."""
    return msg("parcel_problem", "%(code)s: %(why)s", code=code, why=why)


class MoveRefused(Refused):
    """A move the workflow forbids, a bad date or an unknown parcel; nothing was changed.
    ``problems`` names what is wrong with each parcel (Messages, rendered per locale)."""

    status = 409

    def __init__(
        self,
        message: Message,
        status: int | None = None,
        problems: Sequence[Message] = (),
        **extra: Any,
    ):
        super().__init__(message, status, problems=list(problems), **extra)
        self.problems = self.extra["problems"]


@dataclass(frozen=True)
class Move:
    stage: Stage
    day: dt.date
    note: str = ""
    correction: bool = False
    reason: str = ""


def allowed_moves(current: Stage) -> dict[str, list[Stage]]:
    """Where a parcel at ``current`` may go: forward, or back as a correction."""
    if current is Stage.STATE_OWNED:
        return {"forward": [], "correction": []}
    flow = Stage.workflow()
    at = flow.index(current)
    return {"forward": flow[at + 1 :], "correction": flow[:at]}


def check_move(current: Stage, move: Move) -> Message | None:
    """Why the workflow refuses this move (stages named by their labels), or None when it
    allows it."""
    allowed = allowed_moves(current)
    if current is Stage.STATE_OWNED:
        return msg(
            "state_land_has_no_stages",
            "state land already in hand needs no acquisition: it has no stages to move",
        )
    if move.stage in allowed["forward"]:
        return None
    if move.stage in allowed["correction"]:
        if move.correction and move.reason.strip():
            return None
        return msg(
            "move_backwards_needs_reason",
            "moving back from %(old)s to %(new)s is a correction: "
            "tick correction and give a reason",
            old=current,
            new=move.stage,
        )
    forward = allowed["forward"] or term("none")
    back = allowed["correction"] or term("none")
    return msg(
        "move_not_allowed",
        "cannot move from %(old)s to %(new)s; allowed: forward to %(forward)s; "
        "back (a correction with a reason) to %(back)s",
        old=current,
        new=move.stage,
        forward=forward,
        back=back,
    )


def _check_day(day: dt.date) -> None:
    why = event_day_problem(day)
    if why:
        raise MoveRefused(why, 400)


NO_CODES = msg("no_parcel_codes", "no parcel codes given")
NOT_IN_REGISTER = msg("not_in_register", "no such parcel in the register")


def _lock(session: Session, codes: Sequence[str]) -> list[Any]:
    codes = list(dict.fromkeys(c.strip() for c in codes if c and c.strip()))
    if not codes:
        raise MoveRefused(NO_CODES, 400)
    rows = session.execute(
        text("""
        SELECT p.id, p.code, p.stage, p.dispute,
               (SELECT max(c.happened_on) FROM stage_change c WHERE c.parcel_id = p.id) AS last
        FROM parcel p WHERE p.code = ANY(:codes) AND p.retired_on IS NULL
        ORDER BY p.code FOR UPDATE OF p"""),
        {"codes": codes},
    ).all()
    unknown = sorted(set(codes) - {r.code for r in rows})
    if unknown:
        problems = [parcel_problem(code, NOT_IN_REGISTER) for code in unknown]
        raise MoveRefused(
            msg(
                "unknown_parcel_codes",
                "unknown parcel code(s): %(codes)s; nothing was changed",
                codes=unknown,
            ),
            404,
            problems,
            unknown=unknown,
        )
    return rows


def _insert(session: Session, change_set: uuid.UUID, rows: list[dict[str, Any]]) -> None:
    """The entries ``rows`` of one change set, in their order, in one statement (the
    history's triggers, the audit's and progress_delta's, then run once for all of them)."""
    entries = [{**r, "day": r["day"].isoformat()} for r in rows]
    try:
        with session.begin_nested():
            session.execute(
                text("""
                INSERT INTO stage_change (parcel_id, change_set, kind, from_stage, to_stage,
                    happened_on, recorded_by, note, correction, reason)
                SELECT r.parcel_id, :change_set, r.kind, r.from_stage, r.to_stage, r.day,
                       r.user, r.note, r.correction, r.reason
                FROM ROWS FROM (jsonb_to_recordset(CAST(:rows AS jsonb)) AS (
                    parcel_id integer, kind text, from_stage text, to_stage text, day date,
                    "user" text, note text, correction boolean, reason text))
                    WITH ORDINALITY AS r (parcel_id, kind, from_stage, to_stage, day, "user",
                                          note, correction, reason, n)
                ORDER BY r.n"""),
                {"change_set": change_set, "rows": json.dumps(entries, ensure_ascii=False)},
            )
    except DBAPIError as exc:
        why = pg_message(exc)
        raise MoveRefused(
            msg("register_refused_change", "the register refused the change: %(why)s", why=why),
            409,
        ) from exc


def _attach(session: Session, change_set: uuid.UUID, documents: Sequence[StoredDocument]) -> None:
    for document in documents:
        session.execute(
            text("""INSERT INTO stage_document (change_set, file_name, content_type,
                        size_bytes, sha256) VALUES (:s, :n, :t, :b, :h)"""),
            {
                "s": change_set,
                "n": document.file_name,
                "t": document.content_type,
                "b": document.size,
                "h": document.sha256,
            },
        )


def move(
    session: Session,
    codes: Sequence[str],
    move: Move,
    user: str,
    documents: Sequence[StoredDocument] = (),
) -> dict[str, Any]:
    """Move every parcel in ``codes`` to ``move.stage``, all or none; returns the change set."""
    _check_day(move.day)
    parcels = _lock(session, codes)
    _refuse_problems(session, parcels, move)
    change_set = uuid.uuid4()
    changes = [
        {
            "parcel_id": parcel.id,
            "kind": "stage",
            "from_stage": parcel.stage,
            "to_stage": move.stage.value,
            "day": move.day,
            "user": user,
            "note": move.note,
            "correction": move.correction,
            "reason": move.reason.strip(),
        }
        for parcel in parcels
    ]
    _insert(session, change_set, changes)
    _attach(session, change_set, documents)
    return {
        "change_set": str(change_set),
        "stage": move.stage.value,
        "date": move.day.isoformat(),
        "parcels": [parcel.code for parcel in parcels],
    }


def _refuse_problems(session: Session, parcels: list[Any], move: Move) -> None:
    """MoveRefused (409) naming each parcel that cannot make ``move``: the workflow, the day,
    and the households that have no agreement or are not paid in full for it (the stages
    follow the money: services.compensation). A request of one parcel is answered with its
    own problem (its code, e.g. move_backwards_needs_reason); one of several with how many
    cannot move, each named in ``problems``."""
    whys = {}
    for parcel in parcels:
        why = check_move(Stage(parcel.stage), move)
        if why is None and parcel.last and move.day < parcel.last:
            why = before_last_change(move.day, parcel.last)
        if why:
            whys[parcel.code] = why
    rest = [(p.id, p.code) for p in parcels if p.code not in whys]
    whys.update(compensation.stage_blockers(session, rest, move.stage.value, move.day))
    whys = {p.code: whys[p.code] for p in parcels if p.code in whys}
    if not whys:
        return
    problems = [parcel_problem(code, why) for code, why in whys.items()]
    if len(parcels) == 1:
        raise MoveRefused(next(iter(whys.values())), 409, problems)
    raise MoveRefused(
        msg(
            "parcels_cannot_move",
            "%(count)s of the %(total)s parcels cannot move, so nothing was changed: %(problems)s",
            count=len(problems),
            total=len(parcels),
            problems=problems,
        ),
        409,
        problems,
    )


def set_dispute(
    session: Session, code: str, disputed: bool, day: dt.date, reason: str, user: str
) -> dict[str, Any]:
    """Flag a parcel as disputed (争议/钉子户) with a reason, or clear the flag. The stage
    does not move."""
    _check_day(day)
    (row,) = _lock(session, [code])
    if disputed and not reason.strip():
        raise MoveRefused(msg("dispute_needs_reason", "a dispute needs a reason"), 400)
    if disputed and row.dispute:
        raise MoveRefused(msg("already_disputed", "%(code)s is already disputed", code=code), 409)
    if not disputed and not row.dispute:
        raise MoveRefused(msg("not_disputed", "%(code)s is not disputed", code=code), 409)
    if row.last and day < row.last:
        raise MoveRefused(before_last_change(day, row.last), 409)
    change_set = uuid.uuid4()
    _insert(
        session,
        change_set,
        [
            {
                "parcel_id": row.id,
                "kind": "dispute" if disputed else "resolve",
                "from_stage": None,
                "to_stage": None,
                "day": day,
                "user": user,
                "note": "",
                "correction": False,
                "reason": reason.strip(),
            }
        ],
    )
    return {"change_set": str(change_set), "parcel": code, "dispute": disputed}


def history(session: Session, code: str) -> list[dict[str, Any]] | None:
    """A parcel's changes, oldest first, with their documents, its corrections and where it
    came from or went (parcel_edits.history_entries); None for an unknown code."""
    from landmap.services.parcel_edits import history_entries

    pid = session.execute(text("SELECT id FROM parcel WHERE code = :c"), {"c": code}).scalar()
    if pid is None:
        return None
    rows = session.execute(
        text("""
        SELECT c.id, c.kind, c.from_stage, c.to_stage, c.happened_on, c.recorded_at,
               c.recorded_by, c.note, c.correction, c.reason, c.change_set,
               coalesce(json_agg(json_build_object('id', d.id, 'file_name', d.file_name,
                   'content_type', d.content_type, 'size', d.size_bytes) ORDER BY d.id)
                   FILTER (WHERE d.id IS NOT NULL), '[]') AS documents
        FROM stage_change c LEFT JOIN stage_document d ON d.change_set = c.change_set
        WHERE c.parcel_id = :p GROUP BY c.id ORDER BY c.happened_on, c.id"""),
        {"p": pid},
    ).mappings()
    stages = [
        {
            "kind": r["kind"],
            "stage": r["to_stage"],
            "from_stage": r["from_stage"],
            "date": r["happened_on"].isoformat(),
            "recorded_at": r["recorded_at"].isoformat(),
            "user": r["recorded_by"],
            "note": r["note"],
            "correction": r["correction"],
            "reason": r["reason"],
            "change_set": str(r["change_set"]),
            "documents": r["documents"],
        }
        for r in rows
    ]
    entries = stages + history_entries(session, pid)
    return sorted(entries, key=lambda e: (e["date"], e["recorded_at"]))


# --- progress ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Disputes(Result):
    parcels: int
    mu: float


@dataclass(frozen=True)
class ClearedOn(Result):
    """A point of the progress series: mu cleared on a day."""

    date: dt.date
    cleared_mu: float


@dataclass(frozen=True)
class Progress(Result):
    """A project's or a batch's acquisition as of a day (see progress). Mu rounded once with
    mu2; a total is the rounded exact sum."""

    project_id: int
    project: str
    batch_id: int | None  # None: the whole project
    batch: str | None
    target_mu: float  # the batches' targets (a project without any: its parcels' mu)
    due: dt.date | None  # the last batch's due date for a project
    as_of: dt.date
    area_mu: float
    cleared_mu: float
    mu_by_stage: dict[str, float]  # every stage, in order
    disputes: Disputes
    pace_mu_per_day: float
    projected_completion: dt.date | None  # None: not at this pace within PROJECTION_YEARS
    on_track: bool  # projected by the due date
    started: dt.date  # the first recorded change (as_of when there is none)
    series: tuple[ClearedOn, ...]  # cleared mu at each month end up to as_of


@dataclass(frozen=True)
class _Target:
    project_id: int
    project: str
    batch_id: int | None
    batch: str | None
    target_mu: float | None  # None: a project without batches (its parcels' mu, see progress)
    due: dt.date | None


def last_day_with_data(session: Session) -> dt.date:
    """The day progress is shown as of when no day is asked for: the last day any stage move
    or dispute in the register is dated (today at the latest; today when there is none).
    Nothing has been recorded since, so the register stands as it stood then, and the pace is
    measured over the time it was kept, not over empty years after it (the demo's history
    ends in 2011). The whole register's day, not the project's: a project that stood still
    while others moved on is shown as standing still."""
    last = session.execute(text("SELECT max(happened_on) FROM stage_change")).scalar()
    return min(last, today()) if last else today()


def _month_ends(start: dt.date, end: dt.date) -> list[dt.date]:
    """Each month's last day from start to end, and end itself; at most SERIES_YEARS of
    months, whatever the data: an earlier start is cut off."""
    days, day = [], max(start, dt.date(max(end.year - SERIES_YEARS, 1), end.month, 1))
    while day < end:
        next_month = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        month_end = next_month - dt.timedelta(days=1)
        days.append(min(month_end, end))
        day = month_end + dt.timedelta(days=1)
    if not days or days[-1] != end:
        days.append(end)
    return days


@dataclass(frozen=True)
class _Figures:
    """A scope's exact figures as of a day, before pace and rounding: parcels and mu at each
    stage (every stage, in order), the series (cleared mu at each of _month_ends; its last
    point, as_of, is the cleared mu), the first change and the first clearing up to the day,
    and the disputed parcels and their mu."""

    stages: dict[str, StageFigure]
    series: list[ClearedOn]
    first_event: dt.date | None
    first_cleared: dt.date | None
    disputes: tuple[int, float]


def _kept_scope(batch_id: int | None) -> str:
    """The rows of progress_delta (migration 0021) of a project or one of its batches, of the
    parcels in force on :as_of."""
    batch = "d.batch_id = :batch_id" if batch_id is not None else "d.batch_id IS NULL"
    return f"d.project_id = :project_id AND {batch} AND {in_force_sql('d')}"


def _kept_rows(batch_id: int | None, *parts: str) -> str:
    """The scope's rows of each of ``parts`` (conditions on progress_delta ``d``)."""
    return " UNION ALL ".join(
        f"(SELECT d.* FROM progress_delta d WHERE {_kept_scope(batch_id)} AND {part})"
        for part in parts
    )


# what the totals as of :as_of read: the months before its own, and its month's days up to it
_UP_TO_THE_DAY = (
    "d.period = 'month' AND d.starts < :month",
    "d.period = 'day' AND d.starts >= :month AND d.starts <= :as_of",
)
_CLEARED_BY_MONTH = "d.period = 'month' AND d.starts < :month AND d.measure = 'cleared'"
# the first entry (of a measure) up to :as_of, by the partial indexes of 0021 (ordered by
# batch_id too, which is one value: so the index's order serves a project's NULL as well)
_FIRST = """(SELECT d.starts FROM progress_delta d
    WHERE {scope} AND d.period = 'day' AND d.events > 0 AND {measure} d.starts <= :as_of
    ORDER BY d.batch_id, d.starts LIMIT 1)"""


def _kept_sql(batch_id: int | None) -> str:
    """One statement for the figures: ('total', measure, parcels, mu) as of :as_of, ('month',
    first day (NULL: where the parcels started), mu cleared in it) before :as_of's month,
    and ('first', 'any' | 'cleared', the first entry's day)."""
    scope = _kept_scope(batch_id)
    firsts = [_FIRST.format(scope=scope, measure=m) for m in ("", "d.measure = 'cleared' AND")]
    return f"""
        SELECT 'total' AS part, r.measure, NULL::date AS day, sum(r.parcels) AS parcels,
               sum(r.mu) AS mu
        FROM ({_kept_rows(batch_id, *_UP_TO_THE_DAY)}) r GROUP BY r.measure
        UNION ALL
        SELECT 'month', NULL, nullif(r.starts, '-infinity'), NULL, sum(r.mu)
        FROM ({_kept_rows(batch_id, _CLEARED_BY_MONTH)}) r GROUP BY r.starts
        UNION ALL SELECT 'first', 'any', {firsts[0]}, NULL, NULL
        UNION ALL SELECT 'first', 'cleared', {firsts[1]}, NULL, NULL
        ORDER BY 1, 3 NULLS FIRST"""


def _kept(session: Session, project_id: int, batch_id: int | None, as_of: dt.date) -> _Figures:
    """The figures from progress_delta: the months before as_of's month and its days up to
    as_of, of the parcels in force that day."""
    params = {"project_id": project_id, "batch_id": batch_id, "as_of": as_of}
    rows = session.execute(text(_kept_sql(batch_id)), {**params, "month": as_of.replace(day=1)})
    totals, months, firsts = {}, [], {}
    for row in rows:
        if row.part == "total":
            totals[row.measure] = StageFigure(row.parcels, float(row.mu))
        elif row.part == "month":
            months.append(row)
        else:
            firsts[row.measure] = row.day
    stages = {s.value: totals.get(s.value, StageFigure(0, 0.0)) for s in Stage}
    series: list[ClearedOn] = []
    if sum(figure.parcels for figure in stages.values()):
        series = _cumulated(months, _month_ends(firsts["any"] or as_of, as_of))
        series[-1] = ClearedOn(as_of, stages[Stage.CLEARED.value].mu)
    disputed = totals.get("disputed", StageFigure(0, 0.0))
    return _Figures(
        stages, series, firsts["any"], firsts["cleared"], (disputed.parcels, disputed.mu)
    )


def _cumulated(months: Sequence[Any], days: list[dt.date]) -> list[ClearedOn]:
    """Cleared mu at each of ``days`` from the cleared mu gained in each month (``months``:
    rows of its first ``day`` and ``mu``, in order; the first day may be None: where the
    parcels started): a day's is the exact sum of the months up to its own."""
    points, total, at = [], Decimal(0), 0
    for day in days:
        while at < len(months) and (months[at].day is None or months[at].day <= day):
            total += months[at].mu
            at += 1
        points.append(ClearedOn(day, float(total)))
    return points


def _rescanned(session: Session, project_id: int, batch_id: int | None, as_of: dt.date) -> _Figures:
    """The figures by rescanning every parcel's history (lm_stage_as_of, lm_dispute_as_of),
    at each month end of the series: the definition progress_delta keeps to."""
    selection = ParcelFilter(project_id=project_id, batch_id=batch_id, as_of=as_of)
    stages = by_stage(session, selection)
    clauses, params = filter_sql(selection)
    where = " AND ".join(clauses)
    first_event, first_cleared = session.execute(
        text(f"""SELECT min(c.happened_on), min(c.happened_on) FILTER (
                     WHERE c.to_stage = 'cleared')
                 FROM stage_change c JOIN parcel p ON p.id = c.parcel_id
                 WHERE {where} AND c.happened_on <= :as_of"""),
        params,
    ).one()
    rows = session.execute(
        text(f"""
        SELECT d::date AS day, coalesce(sum(p.area_mu) FILTER (
                   WHERE lm_stage_as_of(p.id, p.stage, d::date) = 'cleared'), 0) AS mu
        FROM unnest(CAST(:days AS date[])) AS d CROSS JOIN parcel p
        WHERE {where} GROUP BY d ORDER BY d"""),
        {**params, "days": _month_ends(first_event or as_of, as_of)},
    )
    series = [ClearedOn(row.day, row.mu) for row in rows]
    if series:  # its last day is as_of: the same sum as the stage's, to the last bit
        series[-1] = ClearedOn(as_of, stages[Stage.CLEARED.value].mu)
    disputes = session.execute(
        text(f"""SELECT count(*), coalesce(sum(p.area_mu), 0) FROM parcel p
                 WHERE {where} AND lm_dispute_as_of(p.id, p.dispute, :as_of)"""),
        params,
    ).one()
    return _Figures(stages, series, first_event, first_cleared, tuple(disputes))


def _pace(
    series: list[ClearedOn], cleared: float, first_cleared: dt.date | None, as_of: dt.date
) -> float:
    """Exact cleared mu a day: gained over the PACE_WINDOW_DAYS before ``as_of``; if none
    was, the average since the first parcel was cleared."""
    window_start = as_of - dt.timedelta(days=PACE_WINDOW_DAYS)
    before = next(
        (point.cleared_mu for point in reversed(series) if point.date <= window_start), 0.0
    )
    gained = cleared - before
    # sums of the same parcels' mu in another order differ in the last bits: a gain below
    # what a person can see (0.005 mu) is no gain
    pace = gained / PACE_WINDOW_DAYS if gained >= NO_GAIN_MU else 0.0
    if pace <= 0 and first_cleared and first_cleared < as_of:
        pace = cleared / (as_of - first_cleared).days
    return pace


def _projection(target: float, cleared: float, pace: float, as_of: dt.date) -> dt.date | None:
    """The day ``pace`` reaches ``target``; None when it does not within PROJECTION_YEARS."""
    remaining = max(target - cleared, 0.0)
    if remaining <= 0.005:
        return as_of
    if pace > 0 and remaining / pace <= PROJECTION_YEARS * 365:
        return as_of + dt.timedelta(days=math.ceil(remaining / pace))
    return None


def progress(
    session: Session, project_id: int, batch_id: int | None = None, as_of: dt.date | None = None
) -> Progress | None:
    """Target, mu at each stage, cleared mu, the pace and where it leads, as of a date (by
    default the register's last day with data, see last_day_with_data); None for an unknown
    project, or a batch not of it.

    Pace: cleared mu gained over the PACE_WINDOW_DAYS before ``as_of`` (per day); if none was
    gained then, the average since the first parcel was cleared. The projected completion is
    the date at which that pace reaches the target; on_track says whether it is by the due date.
    Mu are computed exactly and each figure returned is rounded once (geo.units.mu2); a total
    is the rounded exact sum.

    The figures come from progress_delta (kept by the database's triggers, migration 0021),
    a few thousand rows whatever the length of the history (scripts/bench_progress.py);
    progress_rescanned computes the same from the history itself.
    """
    as_of = as_of or last_day_with_data(session)
    head = _target(session, project_id, batch_id)
    if head is None:
        return None
    if head.target_mu is None:  # a project without batches: its parcels' mu now
        mu = session.execute(
            text(f"""SELECT sum(d.mu) FROM progress_delta d
                     WHERE d.project_id = :p AND d.batch_id IS NULL AND d.period = 'month'
                       AND d.measure <> 'disputed' AND {in_force_sql("d", "now")}"""),
            {"p": project_id, "now": None},
        ).scalar()
        head = replace(head, target_mu=float(mu or 0))
    return _progress(head, as_of, _kept(session, project_id, batch_id, as_of))


def progress_rescanned(
    session: Session, project_id: int, batch_id: int | None = None, as_of: dt.date | None = None
) -> Progress | None:
    """progress() by rescanning every parcel's history on each call: the definition the kept
    figures are checked against (tests, scripts/bench_progress.py). Slow: its cost grows with
    parcels times month ends (at 100,000 parcels with ten years of history, a minute or more;
    ~400 ms with a history of a few months)."""
    as_of = as_of or last_day_with_data(session)
    head = _target(session, project_id, batch_id)
    if head is None:
        return None
    if head.target_mu is None:
        mu = session.execute(
            text("SELECT sum(area_mu) FROM parcel WHERE project_id = :p AND retired_on IS NULL"),
            {"p": project_id},
        ).scalar()
        head = replace(head, target_mu=float(mu or 0))
    return _progress(head, as_of, _rescanned(session, project_id, batch_id, as_of))


def _progress(head: _Target, as_of: dt.date, figures: _Figures) -> Progress:
    stages, series = figures.stages, figures.series
    cleared = stages[Stage.CLEARED.value].mu
    start = figures.first_event or as_of
    pace = _pace(series, cleared, figures.first_cleared, as_of) if figures.first_event else 0.0
    target = head.target_mu or 0.0
    projected = _projection(target, cleared, pace, as_of)
    return Progress(
        project_id=head.project_id,
        project=head.project,
        batch_id=head.batch_id,
        batch=head.batch,
        target_mu=mu2(target),
        due=head.due,
        as_of=as_of,
        area_mu=mu2(sum(figure.mu for figure in stages.values())),
        cleared_mu=mu2(cleared),
        mu_by_stage={stage: mu2(figure.mu) for stage, figure in stages.items()},
        disputes=Disputes(figures.disputes[0], mu2(figures.disputes[1])),
        pace_mu_per_day=round(pace, 3),
        projected_completion=projected,
        on_track=bool(projected and head.due and projected <= head.due),
        started=start,
        series=tuple(ClearedOn(point.date, mu2(point.cleared_mu)) for point in series),
    )


def _target(session: Session, project_id: int, batch_id: int | None) -> _Target | None:
    """A batch's target and due date; a project's, the sum of its batches' targets and the
    last due date (target None: it has no batches)."""
    if batch_id is not None:
        row = session.execute(
            text("""SELECT b.id, b.name, b.target_mu, b.due, p.id AS project_id,
                           p.name AS project FROM acquisition_batch b
                    JOIN project p ON p.id = b.project_id
                    WHERE b.id = :b AND b.project_id = :p"""),
            {"b": batch_id, "p": project_id},
        ).first()
        if row is None:
            return None
        return _Target(row.project_id, row.project, row.id, row.name, float(row.target_mu), row.due)
    row = session.execute(
        text("""SELECT p.id, p.name, sum(b.target_mu) AS target, max(b.due) AS due
            FROM project p LEFT JOIN acquisition_batch b ON b.project_id = p.id
            WHERE p.id = :p GROUP BY p.id"""),
        {"p": project_id},
    ).first()
    if row is None:
        return None
    target = float(row.target) if row.target is not None else None
    return _Target(row.id, row.name, None, None, target, row.due)


def parcels_in(session: Session, geometry: dict[str, Any]) -> dict[str, Any]:
    """The parcels a drawn polygon (GeoJSON geometry in EPSG:4326) touches; Refused (400)
    for anything but a valid polygon of at most MAX_SELECTION_VERTICES positions."""
    lonlat_polygon(geometry, MAX_SELECTION_VERTICES)
    try:
        with session.begin_nested():
            valid, reason = session.execute(
                text(
                    "SELECT ST_IsValid(g), ST_IsValidReason(g) "
                    "FROM ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326) AS g"
                ),
                {"g": json.dumps(geometry)},
            ).one()
            if not valid:
                raise Refused(
                    msg("polygon_not_valid", "the polygon is not valid: %(why)s", why=reason)
                )
            rows = session.execute(
                text("""
                WITH g AS (SELECT ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326),
                                               lm_storage_srid()) AS geom)
                SELECT p.code, p.area_mu FROM parcel p, g
                WHERE ST_Intersects(p.geom, g.geom) AND NOT ST_Touches(p.geom, g.geom)
                  AND p.retired_on IS NULL
                ORDER BY p.code LIMIT :over"""),
                {"g": json.dumps(geometry), "over": MAX_SELECTED + 1},
            ).all()
    except DBAPIError as exc:
        why = pg_message(exc)
        raise Refused(msg("polygon_not_usable", "not a usable polygon: %(why)s", why=why)) from exc
    if len(rows) > MAX_SELECTED:
        raise Refused(
            msg(
                "polygon_takes_too_many",
                "the polygon takes in more than %(most)s parcels: draw a smaller one",
                most=MAX_SELECTED,
            )
        )
    return {
        "codes": [r.code for r in rows],
        "count": len(rows),
        "mu": mu2(sum(r.area_mu for r in rows)),
    }


def parcels_named(session: Session, codes: Sequence[str]) -> dict[str, Any]:
    """The parcels of a list of codes (pasted by a person): those found, how many and their
    mu, and the codes that are not in the register."""
    wanted = list(dict.fromkeys(c.strip() for c in codes if c and c.strip()))
    if not wanted:
        raise Refused(NO_CODES)
    if len(wanted) > MAX_SELECTED:
        raise Refused(
            msg("too_many_codes", "at most %(most)s parcel codes at once", most=MAX_SELECTED)
        )
    rows = session.execute(
        text(
            "SELECT code, area_mu FROM parcel WHERE code = ANY(:c) AND retired_on IS NULL "
            "ORDER BY code"
        ),
        {"c": wanted},
    ).all()
    found = {r.code for r in rows}
    return {
        "codes": [r.code for r in rows],
        "count": len(rows),
        "mu": mu2(sum(r.area_mu for r in rows)),
        "unknown": [c for c in wanted if c not in found],
    }
