"""Keeping the parcels of the register: attribute corrections (with a reason), splits (分割),
merges (合并) and geometry corrections, each all or nothing, in PostGIS.

A split or a merge retires the parcels it replaces on its day (their rows, codes, history and
every reference to them stay) and creates the new ones in force from that day (migration
0015: lm_parcel_in_force); parcel_lineage says which became which. The new parcels carry the
old one's stage, project, batch, dispute, owner, land user and attributes; their zone is the
zone holding most of each (lm_zone_of). Areas are checked in mu in the storage SRID: the parts
of a split sum to the parcel within TOLERANCE_MU, nothing overlaps by more than that.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from landmap.db.errors import pg_message
from landmap.domain import today
from landmap.geo.units import mu2
from landmap.messages import Term, msg, term
from landmap.services import Refused
from landmap.services.acquisition import before_last_change, event_day_problem
from landmap.services.parcels import get_feature, lonlat_polygon

TOLERANCE_MU = 0.01  # areas agree, overlaps are allowed, up to this (6.67 m²)
ADJACENT_M = 0.05  # parcels whose boundaries lie this close (in metres) are adjacent
MAX_VERTICES = 10_000  # positions of a line or of the parts sent
MAX_PARTS = 50  # parts of one split, parcels of one merge
MAX_TEXT = 500  # characters of a corrected text field
MAX_REASON = 2000

# ZDDM 宗地代码: county 6 + district 3 + sub-district 3 + feature code 2, then a 5-digit
# sequence within the feature code's block
ZDDM = re.compile(r"^(\w{14})([0-9]{5})$")
CODE = re.compile(r"^\S{1,40}$")
LAND_USE_CODE = re.compile(r"^[0-9A-Za-z]{0,16}$")


@dataclass(frozen=True)
class Correctable:
    """A field a correction may set: its column (or key of ``attributes``), its label."""

    column: str
    label: Term
    in_attributes: bool = False


# request field -> what it corrects
CORRECTABLE: dict[str, Correctable] = {
    "owner": Correctable("owner", term("owner")),
    "name": Correctable("name", term("name")),
    "location": Correctable("location", term("location")),
    "land_use_code": Correctable("land_use_code", term("land-use code")),
    "land_use_name": Correctable("land_use_name", term("land-use class")),
    "official_area_m2": Correctable("official_area_m2", term("registered area (m²)")),
    "rights_type": Correctable("QLLX", term("rights type"), True),  # 权利类型
    "rights_nature": Correctable("QLXZ", term("rights nature"), True),  # 权利性质
}

NEEDS_REASON = msg("correction_needs_reason", "a correction needs a reason")
# the columns a split or merge carries from the old parcel to the new
CARRIED = (
    "name",
    "owner",
    "location",
    "land_use_code",
    "land_use_name",
    "stage",
    "project_id",
    "batch_id",
    "attributes",
    "dispute",
    "dispute_reason",
    "land_user_id",
)


# --- the parcels an edit works on -----------------------------------------------------------


def _lock(session: Session, codes: Sequence[str]) -> list[Any]:
    """The parcels of ``codes`` in force now, locked, in the order given; Refused 404 for a
    code not in the register, 409 for a retired one."""
    rows = session.execute(
        text("""
        SELECT p.id, p.code, p.stage, p.project_id, p.batch_id, p.zone_id, p.dispute,
               p.created_on, p.retired_on, p.area_mu,
               (SELECT max(c.happened_on) FROM stage_change c WHERE c.parcel_id = p.id) AS last
        FROM parcel p WHERE p.code = ANY(:codes) ORDER BY p.code FOR UPDATE OF p"""),
        {"codes": list(codes)},
    ).all()
    found = {row.code: row for row in rows}
    for code in codes:
        row = found.get(code)
        if row is None:
            raise Refused(msg("no_such_parcel", "there is no parcel %(code)s", code=code), 404)
        if row.retired_on is not None:
            raise Refused(
                msg(
                    "parcel_retired",
                    "parcel %(code)s was retired on %(day)s: edit the parcels that replaced it",
                    code=code,
                    day=row.retired_on,
                ),
                409,
            )
    return [found[code] for code in codes]


def _check_day(day: dt.date, parcels: Sequence[Any]) -> None:
    """A split or merge happens on a day the register accepts, not before the parcels' last
    recorded change or their own creation."""
    why = event_day_problem(day)
    if why:
        raise Refused(why)
    for parcel in parcels:
        last = max(d for d in (parcel.last, parcel.created_on, dt.date.min) if d is not None)
        if day < last:
            raise Refused(
                msg(
                    "parcel_problem",
                    "%(code)s: %(why)s",
                    code=parcel.code,
                    why=before_last_change(day, last),
                ),
                409,
            )


def _write(session: Session, sql: str, params: dict[str, Any] | list[dict[str, Any]]) -> Any:
    """A write the database may refuse (a constraint, a trigger): Refused 409 saying why."""
    try:
        with session.begin_nested():
            return session.execute(text(sql), params)
    except DBAPIError as exc:
        why = pg_message(exc)
        raise Refused(
            msg("register_refused_change", "the register refused the change: %(why)s", why=why),
            409,
        ) from exc


# --- attribute corrections --------------------------------------------------------------------


def _value(name: str, value: Any) -> Any:
    """A corrected field's new value, checked: text without surrounding blanks, bounded; a
    land-use code of letters and digits; a certificate area (a Decimal, m²) above 0 or None."""
    label = CORRECTABLE[name].label
    if name == "official_area_m2":
        if value is not None and not (isinstance(value, Decimal) and value > 0):
            raise Refused(msg("area_positive", "%(field)s must be above 0", field=label))
        return value
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise Refused(
            msg(
                "text_field_bad",
                "%(field)s must be text of at most %(most)s characters",
                field=label,
                most=MAX_TEXT,
            )
        )
    value = value.strip()
    if name == "land_use_code" and not LAND_USE_CODE.match(value):
        raise Refused(
            msg("land_use_code_bad", "a land-use code is up to 16 letters and digits (e.g. 0601)")
        )
    return value


def check_correction(fields: dict[str, Any], reason: str) -> dict[str, Any]:
    """The fields of a correction, checked: known fields only (Refused 400 naming the
    unknown and the known), at least one, and a reason."""
    unknown = sorted(set(fields) - set(CORRECTABLE))
    if unknown:
        raise Refused(
            msg(
                "unknown_correction_fields",
                "cannot correct %(fields)s; the fields are %(known)s",
                fields=unknown,
                known=list(CORRECTABLE),
            )
        )
    if not fields:
        raise Refused(msg("correction_empty", "name at least one field to correct"))
    if not reason.strip():
        raise Refused(NEEDS_REASON)
    if len(reason) > MAX_REASON:
        raise Refused(
            msg("reason_too_long", "the reason is longer than %(most)s characters", most=MAX_REASON)
        )
    return {name: _value(name, value) for name, value in fields.items()}


def _current_values(session: Session, parcel_id: int) -> dict[str, Any]:
    row = (
        session.execute(
            text("""SELECT owner, name, location, land_use_code, land_use_name, official_area_m2,
                       attributes ->> 'QLLX' AS rights_type, attributes ->> 'QLXZ' AS rights_nature
                FROM parcel WHERE id = :id"""),
            {"id": parcel_id},
        )
        .mappings()
        .one()
    )
    return dict(row)


def _shown_value(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def correct(
    session: Session,
    code: str,
    fields: dict[str, Any],
    reason: str,
    user: str,
    day: dt.date | None = None,
) -> dict[str, Any]:
    """Correct a parcel's attributes (CORRECTABLE) with a reason: the parcel is updated (and
    audited by its trigger) and the correction recorded in its history, both or neither.
    Returns the parcel as GeoJSON and what changed ({field: {before, after}})."""
    values = check_correction(fields, reason)
    day = day or today()
    why = event_day_problem(day)
    if why:
        raise Refused(why)
    (parcel,) = _lock(session, [code])
    now = _current_values(session, parcel.id)
    changed = {k: v for k, v in values.items() if (now[k] or None) != (v or None)}
    if not changed:
        raise Refused(msg("correction_changes_nothing", "the correction changes nothing"), 409)
    sets, params = _set_clauses(changed)
    _write(
        session,
        f"UPDATE parcel SET {', '.join(sets)}, updated_at = now() WHERE id = :id",
        {**params, "id": parcel.id},
    )
    diff = {
        k: {"before": _shown_value(now[k]), "after": _shown_value(v)} for k, v in changed.items()
    }
    _record_correction(session, parcel.id, "attributes", diff, reason.strip(), day, user)
    return {"parcel": get_feature(session, code), "changed": diff}


def _set_clauses(changed: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """The SET clauses of a correction (field names from CORRECTABLE only, values bound)."""
    sets, params, attributes = [], {}, "attributes"
    for name, value in changed.items():
        spec = CORRECTABLE[name]
        params[name] = value
        if spec.in_attributes:
            key = "{" + spec.column + "}"
            attributes = f"jsonb_set({attributes}, '{key}', to_jsonb(CAST(:{name} AS text)))"
        else:
            sets.append(f"{spec.column} = :{name}")
    if attributes != "attributes":
        sets.append(f"attributes = {attributes}")
    return sets, params


def _record_correction(
    session: Session, parcel_id: int, kind: str, diff: dict, reason: str, day: dt.date, user: str
) -> None:
    before = {k: v["before"] for k, v in diff.items()}
    after = {k: v["after"] for k, v in diff.items()}
    _write(
        session,
        """INSERT INTO parcel_correction (parcel_id, kind, before, after, reason, happened_on,
               recorded_by)
           VALUES (:p, :k, CAST(:b AS jsonb), CAST(:a AS jsonb), :r, :d, :u)""",
        {
            "p": parcel_id,
            "k": kind,
            "b": json.dumps(before, default=str),
            "a": json.dumps(after, default=str),
            "r": reason,
            "d": day,
            "u": user,
        },
    )


# --- geometries sent in EPSG:4326 -------------------------------------------------------------

_LOCAL = "ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326), lm_storage_srid())"
_HEX = "ST_GeomFromEWKB(decode(:h, 'hex'))"  # a geometry passed on as hex EWKB, exactly


def _lonlat_line(line: Any) -> None:
    """A GeoJSON LineString in EPSG:4326: its positions checked as a polygon's are
    (parcels.lonlat_polygon: 2-D, on the globe, at most MAX_VERTICES), at least two."""
    coords = line.get("coordinates") if isinstance(line, dict) else None
    if (
        not isinstance(line, dict)
        or line.get("type") != "LineString"
        or not isinstance(coords, list)
    ):
        raise Refused(msg("line_not_linestring", "the line must be a GeoJSON LineString"))
    if "crs" in line:
        raise Refused(
            msg("crs_not_accepted", "GeoJSON is EPSG:4326 (RFC 7946): a crs member is not accepted")
        )
    if len(coords) < 2:
        raise Refused(msg("line_too_short", "a line has at least two positions"))
    lonlat_polygon({"type": "Polygon", "coordinates": [coords]}, MAX_VERTICES)


def _local_polygon(session: Session, geometry: Any, parcel_id: int | None = None) -> Any:
    """A GeoJSON (Multi)Polygon in EPSG:4326 as a valid MultiPolygon of the storage SRID:
    its hex EWKB, and (with ``parcel_id``) the part of it inside that parcel and the mu
    outside. Refused (400) for anything else, saying why PostGIS finds it invalid."""
    lonlat_polygon(geometry, MAX_VERTICES)
    try:
        with session.begin_nested():
            row = session.execute(
                text(f"""
                SELECT ST_IsValid(g) AS valid, ST_IsValidReason(g) AS why,
                       encode(ST_AsEWKB(ST_Multi(g)), 'hex') AS hex,
                       encode(ST_AsEWKB(ST_Multi(ST_CollectionExtract(
                           ST_Intersection(g, o.geom), 3))), 'hex') AS inside,
                       lm_area_mu(ST_Difference(g, o.geom)) AS outside_mu
                FROM (SELECT {_LOCAL} AS g) x
                LEFT JOIN parcel o ON o.id = CAST(:id AS integer) AND ST_IsValid(x.g)"""),
                {"g": json.dumps(geometry), "id": parcel_id},
            ).one()
    except DBAPIError as exc:
        raise Refused(
            msg("polygon_not_usable", "not a usable polygon: %(why)s", why=pg_message(exc))
        ) from exc
    if not row.valid:
        raise Refused(msg("polygon_not_valid", "the polygon is not valid: %(why)s", why=row.why))
    return row


# --- splits and merges ------------------------------------------------------------------------


def _parts_by_line(session: Session, parcel_id: int, line: Any) -> list[str]:
    """The pieces ST_Split cuts the parcel into along the line (EPSG:4326), north first."""
    _lonlat_line(line)
    try:
        with session.begin_nested():
            return list(
                session.execute(
                    text(f"""
                    SELECT encode(ST_AsEWKB(ST_Multi(d.geom)), 'hex')
                    FROM parcel o, ST_Dump(ST_Split(o.geom, {_LOCAL})) d
                    WHERE o.id = :id
                    ORDER BY ST_Y(ST_PointOnSurface(d.geom)) DESC,
                             ST_X(ST_PointOnSurface(d.geom))"""),
                    {"g": json.dumps(line), "id": parcel_id},
                ).scalars()
            )
    except DBAPIError as exc:
        raise Refused(
            msg("line_not_usable", "the line cannot split the parcel: %(why)s", why=pg_message(exc))
        ) from exc


def _parts_given(session: Session, parcel_id: int, parts: Any) -> list[str]:
    """The parts sent (GeoJSON polygons, EPSG:4326), each clipped to the parcel; Refused
    when one reaches outside it by more than TOLERANCE_MU."""
    if not isinstance(parts, list) or not 2 <= len(parts) <= MAX_PARTS:
        raise Refused(
            msg(
                "split_parts_list",
                "parts must be a list of 2 to %(most)s GeoJSON polygons",
                most=MAX_PARTS,
            )
        )
    found = []
    for number, part in enumerate(parts, 1):
        row = _local_polygon(session, part, parcel_id)
        if row.outside_mu > TOLERANCE_MU:
            raise Refused(
                msg(
                    "split_part_outside",
                    "part %(n)s reaches %(mu)s mu outside the parcel",
                    n=number,
                    mu=mu2(row.outside_mu),
                ),
                409,
            )
        found.append(row.inside)
    return found


def _check_tiling(session: Session, parcel: Any, hexes: list[str]) -> None:
    """The parts tile the parcel: at least two, none a sliver, no two overlapping and their
    mu summing to the parcel's, each within TOLERANCE_MU."""
    if len(hexes) < 2:
        raise Refused(msg("split_no_cut", "the line does not cut the parcel in two"), 409)
    if len(hexes) > MAX_PARTS:
        raise Refused(msg("split_too_many", "more than %(most)s parts", most=MAX_PARTS))
    total, smallest, overlap = session.execute(
        text("""
        WITH part AS (SELECT n, ST_GeomFromEWKB(decode(h, 'hex')) AS g
                      FROM unnest(CAST(:hexes AS text[])) WITH ORDINALITY AS t(h, n))
        SELECT (SELECT sum(lm_area_mu(g)) FROM part), (SELECT min(lm_area_mu(g)) FROM part),
               (SELECT coalesce(max(lm_area_mu(ST_Intersection(a.g, b.g))), 0)
                FROM part a JOIN part b ON a.n < b.n AND ST_Intersects(a.g, b.g))"""),
        {"hexes": hexes},
    ).one()
    if smallest < TOLERANCE_MU:
        raise Refused(
            msg("split_sliver", "a part would be a sliver of under %(mu)s mu", mu=TOLERANCE_MU), 409
        )
    if overlap > TOLERANCE_MU:
        raise Refused(
            msg("split_parts_overlap", "the parts overlap by %(mu)s mu", mu=mu2(overlap)), 409
        )
    if abs(total - parcel.area_mu) > TOLERANCE_MU:
        raise Refused(
            msg(
                "split_parts_sum",
                "the parts make %(parts)s mu, the parcel %(whole)s mu: they must tile it",
                parts=mu2(total),
                whole=mu2(parcel.area_mu),
            ),
            409,
        )


def _new_codes(session: Session, base: str, n: int, given: Any) -> list[str]:
    """The codes of ``n`` new parcels: ``given`` (checked: new, distinct, no blanks), else
    the next free sequence numbers of ``base``'s ZDDM block (its first 14 characters)."""
    if given is not None:
        ok = isinstance(given, list) and len(given) == n and len(set(given)) == n
        if not ok or not all(isinstance(c, str) and CODE.match(c) for c in given):
            raise Refused(msg("new_codes_bad", "codes must be %(n)s distinct parcel codes", n=n))
        taken = session.execute(
            text("SELECT array_agg(code ORDER BY code) FROM parcel WHERE code = ANY(:c)"),
            {"c": given},
        ).scalar()
        if taken:
            raise Refused(msg("codes_taken", "the codes %(codes)s are taken", codes=taken), 409)
        return list(given)
    block = ZDDM.match(base)
    if block is None:
        raise Refused(
            msg(
                "new_codes_needed", "%(code)s is not a ZDDM: give the new parcels' codes", code=base
            )
        )
    prefix = block.group(1)
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:p))"), {"p": prefix})
    last = session.execute(
        text("""SELECT coalesce(max(right(code, 5)::integer), 0) FROM parcel
                WHERE left(code, 14) = :p AND length(code) = 19
                  AND right(code, 5) ~ '^[0-9]{5}$'"""),
        {"p": prefix},
    ).scalar_one()
    if last + n > 99_999:
        raise Refused(
            msg("codes_exhausted", "the block %(block)s has no free codes", block=prefix), 409
        )
    return [f"{prefix}{last + i:05d}" for i in range(1, n + 1)]


def _replace(
    session: Session,
    kind: str,
    old: Sequence[Any],
    codes: list[str],
    hexes: list[str],
    edit: Edit,
) -> list[dict[str, Any]]:
    """Retire ``old`` on the edit's day and create the parcels ``codes`` with the geometries
    ``hexes``, carrying the first old parcel's CARRIED columns; the lineage between them.
    Returns the new parcels as GeoJSON features."""
    carried = ", ".join(CARRIED)
    created = (
        _write(
            session,
            f"""INSERT INTO parcel (code, zone_id, geom, created_on, {carried})
            SELECT t.code, lm_zone_of(t.g), t.g, :day, {", ".join("o." + c for c in CARRIED)}
            FROM parcel o, (SELECT c AS code, ST_GeomFromEWKB(decode(h, 'hex')) AS g
                 FROM unnest(CAST(:codes AS text[]), CAST(:hexes AS text[])) AS x(c, h)) t
            WHERE o.id = :id RETURNING id""",
            {"day": edit.day, "codes": codes, "hexes": hexes, "id": old[0].id},
        )
        .scalars()
        .all()
    )
    ids = [row.id for row in old]
    _write(
        session,
        "UPDATE parcel SET retired_on = :day, updated_at = now() WHERE id = ANY(:ids)",
        {"day": edit.day, "ids": ids},
    )
    change_set = uuid.uuid4()
    _write(
        session,
        """INSERT INTO parcel_lineage (change_set, kind, old_parcel_id, new_parcel_id,
               happened_on, reason, recorded_by)
           VALUES (:s, :k, :old, :new, :day, :reason, :user)""",
        [
            {
                "s": change_set,
                "k": kind,
                "old": o,
                "new": n,
                "day": edit.day,
                "reason": edit.reason,
                "user": edit.user,
            }
            for o in ids
            for n in created
        ],
    )
    return [get_feature(session, code) for code in codes]


@dataclass(frozen=True)
class Edit:
    """Who reshapes the register, on what day (the old parcels' last, the new ones' first),
    why."""

    user: str
    day: dt.date
    reason: str = ""


def _edit(user: str, day: dt.date | None, reason: str) -> Edit:
    if len(reason) > MAX_REASON:
        raise Refused(
            msg("reason_too_long", "the reason is longer than %(most)s characters", most=MAX_REASON)
        )
    return Edit(user, day or today(), reason.strip())


def split(
    session: Session,
    code: str,
    user: str,
    line: Any = None,
    parts: Any = None,
    codes: Any = None,
    reason: str = "",
    day: dt.date | None = None,
) -> dict[str, Any]:
    """Split (分割) a parcel along a line drawn across it (GeoJSON LineString, EPSG:4326)
    or into the polygons given that tile it; the parts get ``codes`` or the next free codes
    of its ZDDM block. The parcel is retired on ``day`` (today by default)."""
    edit = _edit(user, day, reason)
    if (line is None) == (parts is None):
        raise Refused(msg("split_line_or_parts", 'send {"line": <LineString>} or {"parts": [...]}'))
    (parcel,) = _lock(session, [code])
    _check_day(edit.day, [parcel])
    hexes = (
        _parts_by_line(session, parcel.id, line)
        if line is not None
        else _parts_given(session, parcel.id, parts)
    )
    _check_tiling(session, parcel, hexes)
    new_codes = _new_codes(session, code, len(hexes), codes)
    created = _replace(session, "split", [parcel], new_codes, hexes, edit)
    return {"retired": [code], "date": edit.day, "parcels": created}


def _check_alike(parcels: Sequence[Any]) -> None:
    """Parcels merged are of one zone and at one stage, project, batch and dispute flag."""
    first = parcels[0]
    for name, label in (
        ("zone_id", term("zone")),
        ("stage", term("stage")),
        ("project_id", term("project")),
        ("batch_id", term("batch")),
        ("dispute", term("dispute")),
    ):
        if any(getattr(p, name) != getattr(first, name) for p in parcels):
            raise Refused(
                msg(
                    "merge_differ",
                    "parcels of different %(what)s cannot be merged",
                    what=label,
                ),
                409,
            )


def _merged(session: Session, parcels: Sequence[Any]) -> str:
    """The union of adjacent parcels (within ADJACENT_M) that overlap by at most
    TOLERANCE_MU, as hex EWKB; Refused 409 otherwise."""
    groups, overlap, merged, mu, total = session.execute(
        text("""
        WITH m AS (SELECT id, geom, area_mu FROM parcel WHERE id = ANY(:ids))
        SELECT ST_NumGeometries(ST_Union(ST_Buffer(geom, :half))),
               (SELECT coalesce(max(lm_area_mu(ST_Intersection(a.geom, b.geom))), 0)
                FROM m a JOIN m b ON a.id < b.id AND ST_Intersects(a.geom, b.geom)),
               encode(ST_AsEWKB(ST_Multi(ST_Union(geom))), 'hex'),
               lm_area_mu(ST_Union(geom)), sum(area_mu)
        FROM m"""),
        {"ids": [p.id for p in parcels], "half": ADJACENT_M / 2},
    ).one()
    if groups != 1:
        raise Refused(msg("merge_not_adjacent", "the parcels are not adjacent"), 409)
    if overlap > TOLERANCE_MU:
        raise Refused(
            msg("merge_overlap", "the parcels overlap by %(mu)s mu", mu=mu2(overlap)), 409
        )
    return merged


def merge(
    session: Session,
    codes: Any,
    user: str,
    code: Any = None,
    reason: str = "",
    day: dt.date | None = None,
) -> dict[str, Any]:
    """Merge (合并) adjacent parcels of one zone, stage, project and batch into one: ``code``
    or the next free code of the first's ZDDM block; its other facts are the first's. The
    parcels are retired on ``day`` (today by default)."""
    edit = _edit(user, day, reason)
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        raise Refused(msg("codes_not_a_list", "codes must be a non-empty list of parcel codes"))
    codes = list(dict.fromkeys(c.strip() for c in codes))
    if not 2 <= len(codes) <= MAX_PARTS:
        raise Refused(msg("merge_count", "merge 2 to %(most)s parcels", most=MAX_PARTS))
    parcels = _lock(session, codes)
    _check_day(edit.day, parcels)
    _check_alike(parcels)
    merged = _merged(session, parcels)
    new_code = _new_codes(session, codes[0], 1, None if code is None else [code])
    created = _replace(session, "merge", parcels, new_code, [merged], edit)
    return {"retired": codes, "date": edit.day, "parcel": created[0]}


# --- geometry corrections ---------------------------------------------------------------------


def correct_geometry(
    session: Session, code: str, geometry: Any, reason: str, user: str, day: dt.date | None = None
) -> dict[str, Any]:
    """Replace a parcel's geometry (GeoJSON (Multi)Polygon, EPSG:4326) with a reason;
    Refused 409 when it would overlap a neighbour in force by more than TOLERANCE_MU."""
    if not reason.strip():
        raise Refused(NEEDS_REASON)
    edit = _edit(user, day, reason)
    why = event_day_problem(edit.day)
    if why:
        raise Refused(why)
    (parcel,) = _lock(session, [code])
    found = _local_polygon(session, geometry)
    neighbours = session.execute(
        text(f"""SELECT array_agg(p.code ORDER BY p.code) FROM parcel p
                 WHERE p.id <> :id AND p.retired_on IS NULL AND ST_Intersects(p.geom, {_HEX})
                   AND lm_area_mu(ST_Intersection(p.geom, {_HEX})) > :tol"""),
        {"id": parcel.id, "h": found.hex, "tol": TOLERANCE_MU},
    ).scalar()
    if neighbours:
        raise Refused(
            msg(
                "geometry_overlaps",
                "the new boundary overlaps %(codes)s by more than %(mu)s mu",
                codes=neighbours,
                mu=TOLERANCE_MU,
            ),
            409,
        )
    before = _fingerprint(session, parcel.id)
    _write(
        session,
        f"UPDATE parcel SET geom = {_HEX}, zone_id = lm_zone_of({_HEX}), updated_at = now() "
        "WHERE id = :id",
        {"h": found.hex, "id": parcel.id},
    )
    after = _fingerprint(session, parcel.id)
    diff = {k: {"before": before[k], "after": after[k]} for k in before}
    _record_correction(session, parcel.id, "geometry", diff, edit.reason, edit.day, user)
    return {"parcel": get_feature(session, code), "changed": diff}


def _fingerprint(session: Session, parcel_id: int) -> dict[str, Any]:
    row = session.execute(
        text("SELECT area_mu, md5(geom::text) AS md5 FROM parcel WHERE id = :id"),
        {"id": parcel_id},
    ).one()
    return {"area_mu": mu2(row.area_mu), "geom_md5": row.md5}


# --- what the history shows ---------------------------------------------------------------


def history_entries(session: Session, parcel_id: int) -> list[dict[str, Any]]:
    """A parcel's corrections and lineage, as entries of its history (acquisition.history):
    kind 'correction' or 'geometry' (with before and after), 'split' or 'merge' (with the
    codes it came ``from`` or went ``into``)."""
    corrections = session.execute(
        text("""SELECT kind, before, after, reason, happened_on, recorded_at, recorded_by
                FROM parcel_correction WHERE parcel_id = :p ORDER BY happened_on, id"""),
        {"p": parcel_id},
    ).all()
    lineage = session.execute(
        text("""
        SELECT l.kind, l.change_set, l.happened_on, min(l.recorded_at) AS recorded_at,
               min(l.recorded_by) AS recorded_by, min(l.reason) AS reason,
               l.new_parcel_id = :p AS came,
               array_agg(DISTINCT CASE WHEN l.new_parcel_id = :p THEN o.code ELSE n.code END)
                   AS codes
        FROM parcel_lineage l JOIN parcel o ON o.id = l.old_parcel_id
        JOIN parcel n ON n.id = l.new_parcel_id
        WHERE l.old_parcel_id = :p OR l.new_parcel_id = :p
        GROUP BY l.kind, l.change_set, l.happened_on, l.new_parcel_id = :p"""),
        {"p": parcel_id},
    ).all()
    came = [
        _entry(r, r.kind, False, change_set=str(r.change_set), **{"from": sorted(r.codes)})
        for r in lineage
        if r.came
    ]
    went = [
        _entry(r, r.kind, False, change_set=str(r.change_set), into=sorted(r.codes))
        for r in lineage
        if not r.came
    ]
    fixed = [
        _entry(c, CORRECTION_KINDS[c.kind], True, before=c.before, after=c.after)
        for c in corrections
    ]
    return came + fixed + went  # on one day: where it came from first, where it went last


CORRECTION_KINDS = {"attributes": "correction", "geometry": "geometry"}


def _entry(row: Any, kind: str, correction: bool, **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "stage": None,
        "from_stage": None,
        "date": row.happened_on.isoformat(),
        "recorded_at": row.recorded_at.isoformat(),
        "user": row.recorded_by,
        "note": "",
        "correction": correction,
        "reason": row.reason,
        "change_set": None,
        "documents": [],
        **extra,
    }
