"""Every table of the land register, mirrored from the migrations (which hold the constraints:
CHECKs, triggers, exclusion constraints; tests/db/test_models.py keeps the two in step).

Geometries are in the storage SRID, fixed when the schema is created (LANDMAP_STORAGE_SRID,
default EPSG:4546) and available in SQL as lm_storage_srid(); land layers are MultiPolygons.
Areas in mu come from the SQL function lm_area_mu(geom) (see landmap.geo.units). Generated
columns (Computed) are NULL when their inputs are, so they are typed ``X | None``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    Computed,
    Date,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


# The SRID lives in the column's typmod in the database; the ORM does not need to repeat it.
# One Geometry per column: GeoAlchemy2 copies a column's nullability into its type (and from a
# NOT NULL type into the next column that shares it).
def multipolygon() -> Geometry:
    return Geometry("MULTIPOLYGON", spatial_index=False)


def polygon() -> Geometry:
    return Geometry("POLYGON", spatial_index=False)


Mu = Numeric(12, 2)  # a target in mu, as entered
LedgerMu = Numeric(14, 4)  # an amount in the quota ledger, in mu
AreaM2 = Numeric(14, 2)  # an area on a certificate or survey record, in m²
Sha256 = CHAR(64)  # lower-case hex
Timestamptz = DateTime(timezone=True)


class Base(DeclarativeBase):
    pass


# --- the register: zones, projects, parcels (0001, 0003, 0006, 0011) ----------------------


class Zone(Base):
    """A zone (区块) of the development area; its shape lives in its boundary versions."""

    __tablename__ = "zone"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text, default="")

    boundaries: Mapped[list[ZoneBoundary]] = relationship(back_populates="zone")


class ZoneBoundary(Base):
    """A version of a zone's boundary: current (one per zone, valid_from set, valid_to NULL),
    superseded (valid_from < valid_to) or draft (no dates). Versions in force never overlap in
    time. A draft is drawn on a base version of the same zone (set by a trigger when omitted)
    and only a draft on the current boundary can be approved (lm_approve_draft); approved_by
    and approved_at are set together."""

    __tablename__ = "zone_boundary"
    __table_args__ = (
        UniqueConstraint("id", "zone_id"),
        ForeignKeyConstraint(["base_id", "zone_id"], ["zone_boundary.id", "zone_boundary.zone_id"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id"))
    status: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())
    geom: Mapped[WKBElement] = mapped_column(multipolygon())
    area_mu: Mapped[float | None] = mapped_column(Double, Computed("lm_area_mu(geom)"))
    approved_by: Mapped[str | None] = mapped_column(Text)
    approved_at: Mapped[dt.datetime | None] = mapped_column(Timestamptz)
    base_id: Mapped[int | None] = mapped_column(Integer)
    # how geom was made from the base: replace (替换: geom is what was drawn),
    # add (增加: base ∪ drawn) or subtract (减去: base − drawn)
    op: Mapped[str] = mapped_column(String(16), default="replace")
    # the shape drawn for an add or subtract draft (NULL for replace), kept for rebasing
    drawn: Mapped[WKBElement | None] = mapped_column(multipolygon())
    # the stale draft this one was rebased from
    rebased_from: Mapped[int | None] = mapped_column(ForeignKey("zone_boundary.id"))

    zone: Mapped[Zone] = relationship(back_populates="boundaries")


class Enterprise(Base):
    """An enterprise (企业): a project's enterprise, a parcel's land user. credit_code is the
    unified social credit code (统一社会信用代码, GB 32100-2015), unique when given, its check
    digit verified by the database (lm_credit_code_ok) and by services.enterprises."""

    __tablename__ = "enterprise"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    industry: Mapped[str] = mapped_column(Text, default="")
    contact: Mapped[str] = mapped_column(Text, default="")
    phone: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")


class Project(Base):
    """A project (项目) that needs land: industrial, commercial, housing, infrastructure ...
    A closed project (closed_on set) is kept; nothing that refers to a project lets it be
    deleted (ON DELETE RESTRICT)."""

    __tablename__ = "project"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(24))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"))
    partner: Mapped[str] = mapped_column(Text, default="")
    financing: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    enterprise_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprise.id", ondelete="RESTRICT")
    )

    zone: Mapped[Zone | None] = relationship()
    enterprise: Mapped[Enterprise | None] = relationship()
    targets: Mapped[list[ProjectTarget]] = relationship(
        back_populates="project", order_by="ProjectTarget.due"
    )
    batches: Mapped[list[AcquisitionBatch]] = relationship(
        back_populates="project", order_by="AcquisitionBatch.due"
    )


class ProjectTarget(Base):
    """A dated target of a project: start construction by, commission by, mu ready by..."""

    __tablename__ = "project_target"
    __table_args__ = (UniqueConstraint("project_id", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(Text)
    due: Mapped[dt.date] = mapped_column(Date)
    target_mu: Mapped[Decimal | None] = mapped_column(Mu)

    project: Mapped[Project] = relationship(back_populates="targets")


class AcquisitionBatch(Base):
    """An acquisition batch (批次) of a project: target mu, due date."""

    __tablename__ = "acquisition_batch"
    __table_args__ = (UniqueConstraint("project_id", "name"), UniqueConstraint("id", "project_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(Text)
    target_mu: Mapped[Decimal] = mapped_column(Mu)
    due: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    # the batch's compensation budget (元) and resettlement flats planned for it (0024)
    budget_yuan: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    flats_planned: Mapped[int | None] = mapped_column(Integer)

    project: Mapped[Project] = relationship(back_populates="batches")


class Parcel(Base):
    """A cadastral parcel (宗地) or commercial plot, keyed by its code (ZDDM or plot number).

    stage and dispute change only through the parcel's history (StageChange); a batch, when
    set, is one of the parcel's own project."""

    __tablename__ = "parcel"
    __table_args__ = (
        ForeignKeyConstraint(
            ["batch_id", "project_id"], ["acquisition_batch.id", "acquisition_batch.project_id"]
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(Text, default="")
    land_use_code: Mapped[str] = mapped_column(String(16), default="")
    land_use_name: Mapped[str] = mapped_column(Text, default="")
    official_area_m2: Mapped[Decimal | None] = mapped_column(AreaM2)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"))
    stage: Mapped[str] = mapped_column(String(24), default="not_started")
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id", ondelete="RESTRICT"))
    batch_id: Mapped[int | None] = mapped_column(Integer)
    # the enterprise using the land (土地使用者)
    land_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprise.id", ondelete="RESTRICT")
    )
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    geom: Mapped[WKBElement] = mapped_column(multipolygon())
    area_mu: Mapped[float | None] = mapped_column(Double, Computed("lm_area_mu(geom)"))
    # the computed area is more than 1% off official_area_m2
    area_mismatch: Mapped[bool | None] = mapped_column(
        Boolean, Computed("lm_area_mismatch(geom, official_area_m2)")
    )
    created_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())
    # disputed (争议/钉子户): then dispute_reason is not blank
    dispute: Mapped[bool] = mapped_column(Boolean, default=False)
    dispute_reason: Mapped[str] = mapped_column(Text, default="")
    # in force from created_on (None: since ever) until retired_on (None: now), see 0015
    created_on: Mapped[dt.date | None] = mapped_column(Date)
    retired_on: Mapped[dt.date | None] = mapped_column(Date)

    zone: Mapped[Zone | None] = relationship()
    project: Mapped[Project | None] = relationship()
    commercial: Mapped[CommercialPlot | None] = relationship(back_populates="parcel")


class CommercialPlot(Base):
    """Facts of a parcel offered for commercial development (经营性用地), e.g. plot 2011-2:
    plot ratio (容积率, floor area / plot area), building density and green ratio in percent,
    height in m, reserve price in 10,000 yuan (万元)."""

    __tablename__ = "commercial_plot"

    parcel_id: Mapped[int] = mapped_column(
        ForeignKey("parcel.id", ondelete="CASCADE"), primary_key=True
    )
    planned_use: Mapped[str] = mapped_column(Text, default="")
    plot_ratio_max: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    building_density_max: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    green_ratio_min: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    height_limit_m: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    transfer_status: Mapped[str] = mapped_column(String(16), default="planned")
    transfer_date: Mapped[dt.date | None] = mapped_column(Date)
    reserve_price_wan: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))

    parcel: Mapped[Parcel] = relationship(back_populates="commercial")


class ImportRun(Base):
    """A file loaded into the register: what, by whom, how it was read, what it changed."""

    __tablename__ = "import_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    layer: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(Sha256)
    run_by: Mapped[str] = mapped_column(Text)
    run_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())
    crs: Mapped[str] = mapped_column(Text)
    crs_reason: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(Text)
    encoding_reason: Mapped[str] = mapped_column(Text)
    records_read: Mapped[int] = mapped_column(Integer)
    inserted: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    total_mu: Mapped[float] = mapped_column(Double)
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # the report as people read it, per locale (0016)
    report: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


# --- reference layers (0002) -------------------------------------------------------------


class LandusePatch(Base):
    """A land-use patch of the third national land survey (三调 地类图斑, DLTB)."""

    __tablename__ = "landuse_patch"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    patch_no: Mapped[str] = mapped_column(Text, default="")
    land_use_code: Mapped[str] = mapped_column(String(16))
    land_use_name: Mapped[str] = mapped_column(Text, default="")
    ownership: Mapped[str] = mapped_column(Text, default="")
    owner_unit: Mapped[str] = mapped_column(Text, default="")
    location_unit: Mapped[str] = mapped_column(Text, default="")
    official_area_m2: Mapped[Decimal | None] = mapped_column(AreaM2)
    deduction_m2: Mapped[Decimal | None] = mapped_column(AreaM2)
    net_area_m2: Mapped[Decimal | None] = mapped_column(AreaM2)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    geom: Mapped[WKBElement] = mapped_column(multipolygon())
    area_mu: Mapped[float | None] = mapped_column(Double, Computed("lm_area_mu(geom)"))
    area_mismatch: Mapped[bool | None] = mapped_column(
        Boolean, Computed("lm_area_mismatch(geom, official_area_m2)")
    )
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())


class Farmland(Base):
    """A patch of permanent basic farmland (永久基本农田)."""

    __tablename__ = "farmland"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    land_use_code: Mapped[str] = mapped_column(String(16), default="")
    official_area_m2: Mapped[Decimal | None] = mapped_column(AreaM2)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    geom: Mapped[WKBElement] = mapped_column(multipolygon())
    area_mu: Mapped[float | None] = mapped_column(Double, Computed("lm_area_mu(geom)"))
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())


# --- acquisition history (0003): append-only ---------------------------------------------


class StageChange(Base):
    """An entry of a parcel's acquisition history (征地拆迁台账), append-only: kind 'stage'
    moves the parcel from from_stage to to_stage, 'dispute' flags it (reason required),
    'resolve' clears the flag. Entries of one parcel never go back in time (happened_on, a day
    in China time, from 1949-10-01 to the day it was recorded); a mistake is put right by a
    correcting entry (correction, with a reason)."""

    __tablename__ = "stage_change"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id"))
    # the parcels moved together by one request, and the documents that back them
    change_set: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(16))
    from_stage: Mapped[str | None] = mapped_column(String(24))
    to_stage: Mapped[str | None] = mapped_column(String(24))
    happened_on: Mapped[dt.date] = mapped_column(Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())
    recorded_by: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")
    correction: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text, default="")

    parcel: Mapped[Parcel] = relationship()


class StageDocument(Base):
    """An agreement scan or photo (PDF, JPEG, PNG) backing every entry of its change set,
    append-only; its bytes are its DocumentContent (0022; one recorded before may lack it)."""

    __tablename__ = "stage_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    change_set: Mapped[uuid.UUID] = mapped_column(Uuid)
    file_name: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(Sha256, ForeignKey("document_content.sha256"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())


class DocumentContent(Base):
    """The bytes of one distinct document, keyed by their sha256 (checked by the database),
    append-only; read a slice at a time (landmap.services.documents)."""

    __tablename__ = "document_content"

    sha256: Mapped[str] = mapped_column(Sha256, primary_key=True)
    content_type: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    stored_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())


# --- parcel edits (0015): append-only ------------------------------------------------------


class ParcelLineage(Base):
    """Which parcel became which: a split (分割) or merge (合并) on a day; the old parcel is
    retired that day, the new one in force from it."""

    __tablename__ = "parcel_lineage"
    __table_args__ = (UniqueConstraint("old_parcel_id", "new_parcel_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    change_set: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(8))
    old_parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id"))
    new_parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id"))
    happened_on: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())


class ParcelCorrection(Base):
    """A correction of a parcel's attributes or geometry, with its reason: the fields before
    and after (a geometry as its area_mu and geom_md5)."""

    __tablename__ = "parcel_correction"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id"))
    kind: Mapped[str] = mapped_column(String(16))
    before: Mapped[dict[str, Any]] = mapped_column(JSONB)
    after: Mapped[dict[str, Any]] = mapped_column(JSONB)
    reason: Mapped[str] = mapped_column(Text)
    happened_on: Mapped[dt.date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())


# --- the quota ledger (0004) -------------------------------------------------------------


class QuotaYear(Base):
    """A year's target of land-use quota to obtain, in mu (1990-2100)."""

    __tablename__ = "quota_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    target_mu: Mapped[Decimal] = mapped_column(Mu)
    note: Mapped[str] = mapped_column(Text, default="")


class QuotaBalance(Base):
    """A year's quota from one source (plan 年度计划指标, linkage 增减挂钩, other), in mu.
    Moved only by the ledger's trigger, under a row lock; remaining_mu never goes below 0."""

    __tablename__ = "quota_balance"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    granted_mu: Mapped[Decimal] = mapped_column(LedgerMu, default=Decimal(0))
    reserved_mu: Mapped[Decimal] = mapped_column(LedgerMu, default=Decimal(0))
    consumed_mu: Mapped[Decimal] = mapped_column(LedgerMu, default=Decimal(0))
    remaining_mu: Mapped[Decimal | None] = mapped_column(
        LedgerMu, Computed("granted_mu - reserved_mu - consumed_mu")
    )


class QuotaEntry(Base):
    """An entry of the land-use quota ledger (用地指标台账), append-only; its d_* columns are
    what it adds to the year's granted, reserved and consumed mu. A correction (冲正) exactly
    reverses the entry it names. entry_date is the day of the document (grant, approval)."""

    __tablename__ = "quota_entry"
    __table_args__ = (
        ForeignKeyConstraint(["year", "source"], ["quota_balance.year", "quota_balance.source"]),
        ForeignKeyConstraint(
            ["batch_id", "project_id"], ["acquisition_batch.id", "acquisition_batch.project_id"]
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    mu: Mapped[Decimal] = mapped_column(LedgerMu)
    d_granted: Mapped[Decimal] = mapped_column(LedgerMu)
    d_reserved: Mapped[Decimal] = mapped_column(LedgerMu)
    d_consumed: Mapped[Decimal] = mapped_column(LedgerMu)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id", ondelete="RESTRICT"))
    batch_id: Mapped[int | None] = mapped_column(Integer)
    reverses: Mapped[int | None] = mapped_column(ForeignKey("quota_entry.id"), unique=True)
    ref: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    entry_date: Mapped[dt.date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())


# --- people, sessions, audit (0005, 0009) ------------------------------------------------


class AppUser(Base):
    """An account: role viewer, officer, planner or admin."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(Text, default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())


class ApiToken(Base):
    """An API token of an account, kept as the sha256 of the token; once revoked, it stays
    revoked and its row is kept."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    token_hash: Mapped[str] = mapped_column(Sha256, unique=True)
    label: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(Timestamptz)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(Timestamptz)

    user: Mapped[AppUser] = relationship()


class UserSession(Base):
    """A sign-in, keyed by the sha256 of the session id the browser holds; once ended, it
    stays ended."""

    __tablename__ = "user_session"

    id_hash: Mapped[str] = mapped_column(Sha256, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())
    last_seen_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())
    ended_at: Mapped[dt.datetime | None] = mapped_column(Timestamptz)
    address: Mapped[str] = mapped_column(Text, default="")

    user: Mapped[AppUser] = relationship()


class AuditLog(Base):
    """A change to the register, written by triggers in the same transaction; append-only.
    before/after are the row without secrets, geometries as an md5 (``<column>_md5``)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())
    tx: Mapped[int] = mapped_column(BigInteger, server_default=func.txid_current())
    actor: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(Text, default="")
    entity: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


# --- acquisition progress kept by the database (0021) ------------------------------------


class ProgressDelta(Base):
    """What the history adds to a project's (batch_id None) or a batch's progress, for the
    parcels of one (created_on, retired_on), on a day or in a month (``period``; ``starts``:
    the day or the month's first day, -infinity where the parcels started), at a ``measure``
    (a stage, or 'disputed'): parcels, exact mu and history entries. Kept by triggers only
    (the app reads it); the sum of the rows up to a day is the figure as of that day."""

    __tablename__ = "progress_delta"
    __table_args__ = (
        UniqueConstraint(
            "project_id",
            "batch_id",
            "period",
            "starts",
            "created_on",
            "retired_on",
            "measure",
            name="progress_delta_key",
            postgresql_nulls_not_distinct=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    project_id: Mapped[int] = mapped_column(Integer)
    batch_id: Mapped[int | None] = mapped_column(Integer)
    created_on: Mapped[dt.date | None] = mapped_column(Date)
    retired_on: Mapped[dt.date | None] = mapped_column(Date)
    period: Mapped[str] = mapped_column(String(5))
    starts: Mapped[dt.date] = mapped_column(Date)
    measure: Mapped[str] = mapped_column(String(24))
    parcels: Mapped[int] = mapped_column(Integer)
    mu: Mapped[Decimal] = mapped_column(Numeric)
    events: Mapped[int] = mapped_column(Integer)


# --- map tiles (0007) --------------------------------------------------------------------


class TileChange(Base):
    """The extent a statement on a tiled layer touched (the rows' bounding rectangle grown by
    1 m, a Polygon): a cached tile is served only while no new change lies under it."""

    __tablename__ = "tile_change"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    layer: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())
    geom: Mapped[WKBElement] = mapped_column(polygon())


# --- from cleared land to working land (migration 0018) -----------------------------------

Money = Numeric(14, 2)  # 万元, or m² of a building


class LandSupply(Base):
    """A parcel's supply (供地): transfer (出让: tender, auction, listing or agreement) or
    allocation (划拨), append-only; a correction is a new row naming the one it corrects. The
    supply in force on a day: lm_supply_in_force(parcel, day)."""

    __tablename__ = "land_supply"

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id", ondelete="RESTRICT"))
    method: Mapped[str] = mapped_column(String(16))
    transfer_way: Mapped[str | None] = mapped_column(String(16))
    supplied_on: Mapped[dt.date] = mapped_column(Date)
    contract_no: Mapped[str] = mapped_column(Text)
    enterprise_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprise.id", ondelete="RESTRICT")
    )
    price_wan: Mapped[Decimal] = mapped_column(Money)
    start_due: Mapped[dt.date] = mapped_column(Date)
    completion_due: Mapped[dt.date] = mapped_column(Date)
    investment_wan: Mapped[Decimal | None] = mapped_column(Money)
    floor_area_m2: Mapped[Decimal | None] = mapped_column(Money)
    note: Mapped[str] = mapped_column(Text, server_default="")
    corrects: Mapped[int | None] = mapped_column(ForeignKey("land_supply.id"), unique=True)
    # the first supply of its correction chain (set by the database): events recorded under
    # a supply stay with its corrections
    origin: Mapped[int] = mapped_column(ForeignKey("land_supply.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())
    recorded_by: Mapped[str] = mapped_column(Text, server_default="")


class ConstructionEvent(Base):
    """动工 (started), 竣工 (completed), 投产 (commissioned), 停工/中止 (stopped, with its reason),
    复工 (resumed): append-only, of the supply in force on its day."""

    __tablename__ = "construction_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id", ondelete="RESTRICT"))
    supply_id: Mapped[int] = mapped_column(ForeignKey("land_supply.id"))
    event: Mapped[str] = mapped_column(String(16))
    happened_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, server_default="")
    developed_m2: Mapped[Decimal | None] = mapped_column(Money)
    invested_wan: Mapped[Decimal | None] = mapped_column(Money)
    recorded_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())
    recorded_by: Mapped[str] = mapped_column(Text, server_default="")


class ParcelBuilding(Base):
    """A parcel's building facts as measured on a day (append-only; the latest by a day
    applies: lm_building_as_of)."""

    __tablename__ = "parcel_building"

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id", ondelete="RESTRICT"))
    measured_on: Mapped[dt.date] = mapped_column(Date)
    floor_area_m2: Mapped[Decimal] = mapped_column(Money)
    footprint_m2: Mapped[Decimal] = mapped_column(Money)
    industrial_cover_m2: Mapped[Decimal | None] = mapped_column(Money)
    note: Mapped[str] = mapped_column(Text, server_default="")
    recorded_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())
    recorded_by: Mapped[str] = mapped_column(Text, server_default="")


class EnterpriseStatistic(Base):
    """An enterprise's figures of one month (月统计), in 万元 but employees and energy (tce)."""

    __tablename__ = "enterprise_statistic"
    __table_args__ = (UniqueConstraint("enterprise_id", "year", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="RESTRICT"))
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    output_wan: Mapped[Decimal] = mapped_column(Money)
    revenue_wan: Mapped[Decimal] = mapped_column(Money)
    tax_wan: Mapped[Decimal] = mapped_column(Money)
    investment_wan: Mapped[Decimal] = mapped_column(Money, server_default="0")
    employees: Mapped[int] = mapped_column(Integer, server_default="0")
    energy_tce: Mapped[Decimal | None] = mapped_column(Money)
    source: Mapped[str] = mapped_column(String(16), server_default="form")
    recorded_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())
    recorded_by: Mapped[str] = mapped_column(Text, server_default="")


class EfficiencyClass(Base):
    """The least tax per mu (万元/亩) of 亩均效益 classes A, B and C; D is the rest."""

    __tablename__ = "efficiency_class"

    class_: Mapped[str] = mapped_column("class", CHAR(1), primary_key=True)
    min_tax_per_mu: Mapped[Decimal] = mapped_column(Money)


class RateLimit(Base):
    """A rate limit's counter in its fixed window, shared by every server process (0019)."""

    __tablename__ = "rate_limit"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[dt.datetime] = mapped_column(Timestamptz, index=True)


# --- backups and their verification (0023) -----------------------------------------------


class BackupRun(Base):
    """A `db backup`, `db restore` or `db verify` that ran: recorded by the owner (the command
    line) only, append-only. ``file_name`` is the file's name without its directory;
    ``problems`` are messages ({code, text, params}); ``ok`` when there are none."""

    __tablename__ = "backup_run"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(Timestamptz)
    finished_at: Mapped[dt.datetime] = mapped_column(Timestamptz)
    ok: Mapped[bool] = mapped_column(Boolean)
    file_name: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    dump_sha256: Mapped[str | None] = mapped_column(Sha256, index=True)
    revision: Mapped[str | None] = mapped_column(Text)
    landmap_version: Mapped[str | None] = mapped_column(Text)
    made_at: Mapped[dt.datetime | None] = mapped_column(Timestamptz)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB)
    checksums: Mapped[dict[str, Any]] = mapped_column(JSONB)
    checks: Mapped[list[Any]] = mapped_column(JSONB)
    problems: Mapped[list[Any]] = mapped_column(JSONB)
    run_by: Mapped[str] = mapped_column(Text)
    host: Mapped[str] = mapped_column(Text)


# --- compensation and resettlement (0024) ------------------------------------------------

Yuan = Numeric(14, 2)


class CompensationStandard(Base):
    """A compensation standard of a year, in force from a day, for the whole zone (area "")
    or one zone (its code): never edited; a new one is issued."""

    __tablename__ = "compensation_standard"
    __table_args__ = (UniqueConstraint("area", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[dt.date] = mapped_column(Date)
    area: Mapped[str] = mapped_column(Text, server_default="")
    note: Mapped[str] = mapped_column(Text, server_default="")
    recorded_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())
    recorded_by: Mapped[str] = mapped_column(Text)


class CompensationRate(Base):
    """One rate of a standard: kind (land, crops, social_security, house, attachment,
    relocation, transition, early_award), class, unit and 元 per unit."""

    __tablename__ = "compensation_rate"
    __table_args__ = (UniqueConstraint("standard_id", "kind", "class"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    standard_id: Mapped[int] = mapped_column(ForeignKey("compensation_standard.id"))
    kind: Mapped[str] = mapped_column(String(16))
    class_: Mapped[str] = mapped_column("class", Text, server_default="")
    unit: Mapped[str] = mapped_column(String(16))
    rate_yuan: Mapped[Decimal] = mapped_column(Yuan)
    months: Mapped[int | None] = mapped_column(Integer)
    until: Mapped[dt.date | None] = mapped_column(Date)


class Household(Base):
    """A household (户) to be compensated and resettled; its ID number and phone sealed by
    the application (services.personal), id_digest keeping one household per person."""

    __tablename__ = "household"

    id: Mapped[int] = mapped_column(primary_key=True)
    head: Mapped[str] = mapped_column(Text)
    id_sealed: Mapped[str] = mapped_column(Text)
    id_digest: Mapped[str] = mapped_column(Sha256, unique=True)
    phone_sealed: Mapped[str | None] = mapped_column(Text)
    members: Mapped[int] = mapped_column(Integer)
    resettlement: Mapped[str] = mapped_column(String(8))
    flat_area_m2: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    note: Mapped[str] = mapped_column(Text, server_default="")
    recorded_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())
    recorded_by: Mapped[str] = mapped_column(Text)


class HouseholdParcel(Base):
    __tablename__ = "household_parcel"

    household_id: Mapped[int] = mapped_column(
        ForeignKey("household.id", ondelete="CASCADE"), primary_key=True
    )
    parcel_id: Mapped[int] = mapped_column(
        ForeignKey("parcel.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class HouseholdHouse(Base):
    __tablename__ = "household_house"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("household.id", ondelete="CASCADE"), index=True
    )
    structure: Mapped[str] = mapped_column(String(16))
    area_m2: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    storeys: Mapped[int] = mapped_column(Integer, server_default="1")
    legal: Mapped[bool] = mapped_column(Boolean, server_default="true")


class HouseholdAttachment(Base):
    __tablename__ = "household_attachment"
    __table_args__ = (UniqueConstraint("household_id", "item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"))
    item: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 2))


class HouseholdBalance(Base):
    """What a household is agreed and has been paid: moved by the database's triggers only."""

    __tablename__ = "household_balance"

    household_id: Mapped[int] = mapped_column(
        ForeignKey("household.id", ondelete="CASCADE"), primary_key=True
    )
    agreed_yuan: Mapped[Decimal] = mapped_column(Yuan, server_default="0")
    paid_yuan: Mapped[Decimal] = mapped_column(Yuan, server_default="0")


class CompensationAgreement(Base):
    """A household's agreement (协议), append-only; a correction is a new version naming the
    one it supersedes."""

    __tablename__ = "compensation_agreement"
    __table_args__ = (UniqueConstraint("household_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"))
    version: Mapped[int] = mapped_column(Integer)
    supersedes: Mapped[int | None] = mapped_column(
        ForeignKey("compensation_agreement.id"), unique=True
    )
    number: Mapped[str] = mapped_column(Text, index=True)
    signed_on: Mapped[dt.date] = mapped_column(Date)
    standard_id: Mapped[int] = mapped_column(ForeignKey("compensation_standard.id"))
    computed_yuan: Mapped[Decimal] = mapped_column(Yuan)
    adjustments: Mapped[list[Any]] = mapped_column(JSONB, server_default="[]")
    amount_yuan: Mapped[Decimal] = mapped_column(Yuan)
    note: Mapped[str] = mapped_column(Text, server_default="")
    recorded_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())
    recorded_by: Mapped[str] = mapped_column(Text)


class CompensationPayment(Base):
    """A payment (兑付) to a household, append-only; a correction reverses one exactly."""

    __tablename__ = "compensation_payment"
    __table_args__ = (Index("compensation_payment_household", "household_id", "paid_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"))
    agreement_id: Mapped[int] = mapped_column(ForeignKey("compensation_agreement.id"))
    paid_on: Mapped[dt.date] = mapped_column(Date)
    amount_yuan: Mapped[Decimal] = mapped_column(Yuan)
    voucher: Mapped[str] = mapped_column(Text, unique=True)
    reverses: Mapped[int | None] = mapped_column(ForeignKey("compensation_payment.id"), unique=True)
    note: Mapped[str] = mapped_column(Text, server_default="")
    recorded_at: Mapped[dt.datetime] = mapped_column(Timestamptz, server_default=func.now())
    recorded_by: Mapped[str] = mapped_column(Text)
