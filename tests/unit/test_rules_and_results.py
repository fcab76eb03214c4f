"""Pure rules decided in one place, and the JSON form of the typed results they return."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from landmap.domain import CHINA, QuotaKind, QuotaSource, Refused, today
from landmap.geo.crs import CRSError
from landmap.geo.encoding import EncodingError
from landmap.loaders import LoadRefused
from landmap.loaders.reader import Problem
from landmap.loaders.source import SourceError
from landmap.services import Result, plain
from landmap.services.acquisition import (
    PROJECTION_YEARS,
    SERIES_YEARS,
    ClearedOn,
    MoveRefused,
    _month_ends,
    _pace,
    _projection,
)
from landmap.services.adjustment import CheckProblem, DraftRefused, StaleDraft, _across
from landmap.services.projects import CatalogError
from landmap.services.quota import QuotaRefused
from landmap.services.tiles import TileError
from landmap.services.users import UserError
from landmap.web.errors import ApiError

D = dt.date


@dataclass(frozen=True)
class _Inner(Result):
    day: dt.date
    note: str | None = field(default=None, metadata={"omit_if_none": True})


@dataclass(frozen=True)
class _Outer(Result):
    when: dt.datetime
    inner: tuple[_Inner, ...]
    by_key: dict[str, _Inner]
    nothing: None = None


def test_the_json_form_has_iso_days_lists_and_no_optional_nulls():
    at = dt.datetime(2011, 11, 30, 9, 30, tzinfo=CHINA)
    found = _Outer(
        at, (_Inner(D(2011, 1, 2)), _Inner(D(2011, 1, 3), "x")), {"a": _Inner(D(2011, 1, 4))}
    ).as_dict()
    assert found == {
        "when": "2011-11-30T09:30:00+08:00",
        "inner": [{"day": "2011-01-02"}, {"day": "2011-01-03", "note": "x"}],
        "by_key": {"a": {"day": "2011-01-04"}},
        "nothing": None,  # only fields that say so are left out
    }
    assert plain((D(2011, 1, 1), {"k": (1, 2)})) == ["2011-01-01", {"k": [1, 2]}]


def test_a_check_problem_sends_its_figure_only_when_it_has_one():
    assert CheckProblem("invalid", "Self-intersection").as_dict() == {
        "kind": "invalid",
        "message": "Self-intersection",
    }
    assert CheckProblem("farmland", "takes 2.00 mu", mu=2.0).as_dict()["mu"] == 2.0


def test_the_progress_series_is_each_month_end_and_the_day_itself():
    assert _month_ends(D(2011, 9, 15), D(2011, 11, 20)) == [
        D(2011, 9, 30),
        D(2011, 10, 31),
        D(2011, 11, 20),
    ]
    assert _month_ends(D(2011, 11, 20), D(2011, 11, 20)) == [D(2011, 11, 20)]
    long = _month_ends(D(1950, 1, 1), D(2011, 11, 20))
    assert long[0] == D(2011 - SERIES_YEARS, 11, 30) and len(long) == SERIES_YEARS * 12 + 1


def test_the_pace_is_of_the_last_ninety_days_else_since_the_first_clearing():
    as_of = D(2011, 11, 30)
    series = [ClearedOn(D(2011, 8, 31), 10.0), ClearedOn(as_of, 100.0)]
    assert _pace(series, 100.0, D(2011, 1, 1), as_of) == pytest.approx(90 / 90)
    flat = [ClearedOn(D(2011, 8, 31), 100.0), ClearedOn(as_of, 100.0)]
    since = (as_of - D(2011, 1, 1)).days
    assert _pace(flat, 100.0, D(2011, 1, 1), as_of) == pytest.approx(100 / since)
    # the same mu summed in another row order: 130.4766345483466 against ...3467. The suite
    # found it when earlier tests had moved the rows: the page then said "no pace"
    noise = [ClearedOn(D(2011, 8, 31), 130.4766345483466), ClearedOn(as_of, 130.4766345483466)]
    cleared = 130.4766345483466 + 3e-14
    assert _pace(noise, cleared, D(2011, 6, 28), as_of) == pytest.approx(cleared / 155)


def test_the_projection_reaches_the_target_at_the_pace_or_not_at_all():
    as_of = D(2011, 11, 30)
    assert _projection(100.0, 100.0, 0.0, as_of) == as_of  # done
    assert _projection(100.0, 50.0, 2.0, as_of) == as_of + dt.timedelta(days=25)
    assert _projection(100.0, 50.0, 2.5, as_of) == as_of + dt.timedelta(days=20)
    assert _projection(100.0, 50.0, 0.0, as_of) is None  # standing still
    too_slow = 50.0 / (PROJECTION_YEARS * 365 + 1)
    assert _projection(100.0, 50.0, too_slow, as_of) is None


def test_parcels_entering_leaving_and_cut_by_a_new_line():
    def parcel(code, before, after, area=10.0):
        return SimpleNamespace(
            code=code,
            name="",
            owner="",
            project=None,
            area_mu=area,
            before_mu=before,
            after_mu=after,
        )

    moved = _across(
        [
            parcel("IN", 0.0, 10.0),
            parcel("OUT", 10.0, 0.0),
            parcel("CUT", 10.0, 4.0),
            parcel("STAYS", 10.0, 10.0),
        ]
    )
    assert {way: [p.code for p in rows] for way, rows in moved.items()} == {
        "entering": ["IN"],
        "leaving": ["OUT"],
        "cut": ["CUT"],
    }
    (cut,) = moved["cut"]
    assert (cut.inside_mu, cut.outside_mu) == (4.0, 6.0)


def test_quota_kinds_and_sources_have_their_labels():
    assert QuotaKind.parse("冲正") is QuotaKind.CORRECT
    assert QuotaSource.parse("Linkage savings") is QuotaSource.LINKAGE
    assert (
        QuotaKind.CONSUME.label("en") == "Consume" and QuotaKind.CONSUME.label("zh") == "报批使用"
    )
    assert [source.value for source in QuotaSource] == ["plan", "linkage", "other"]
    with pytest.raises(ValueError, match="one of: Grant, Reserve") as caught:
        QuotaKind.parse("borrow")
    assert "报批使用" in caught.value.render("zh_CN") and "consume" not in caught.value.render("zh")


def test_today_is_the_date_in_china():
    before = dt.datetime.now(CHINA).date()
    assert today() in (before, before + dt.timedelta(days=1))


@pytest.mark.parametrize(
    "refusal",
    [
        ApiError,
        CatalogError,
        CRSError,
        DraftRefused,
        EncodingError,
        LoadRefused,
        MoveRefused,
        QuotaRefused,
        SourceError,
        TileError,
        UserError,
    ],
)
def test_every_refusal_a_user_can_get_is_a_refused(refusal):
    """The web answers a Refused with its message and status, the CLI prints it."""
    exc = refusal("what is wrong")
    assert isinstance(exc, Refused) and exc.message == "what is wrong" and exc.status >= 400


def test_a_load_refusal_lists_its_bad_records_under_the_message():
    exc = LoadRefused("bad file", [Problem(3, "A-1", "empty geometry")])
    assert str(exc) == "bad file\n  - record 3 (A-1): empty geometry" and exc.message == "bad file"


def test_a_stale_draft_says_what_replaced_its_base():
    from landmap.services.adjustment import Supersession

    why = Supersession(7, 1, 9, True, "admin", D(2011, 5, 1), D(2011, 5, 1))
    exc = StaleDraft(12, why)
    assert exc.status == 409 and exc.code == "draft_stale"
    assert exc.extra["superseded_by"]["on"] == "2011-05-01"
    assert "version 1" in exc.message and "draft 9 (approved by admin on 2011-05-01)" in exc.message
