"""The land register's tables, mirrored from the migrations (which hold the constraints).

Geometries are MultiPolygons in the storage SRID, fixed when the schema is created
(LANDMAP_STORAGE_SRID, default EPSG:4546) and available in SQL as lm_storage_srid().
Areas in mu come from the SQL function lm_area_mu(geom) (see landmap.geo.units).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    Boolean,
    Computed,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# The SRID lives in the column's typmod in the database; the ORM does not need to repeat it.
MultiPolygon = Geometry("MULTIPOLYGON", spatial_index=False)


class Base(DeclarativeBase):
    pass


class Zone(Base):
    __tablename__ = "zone"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)

    boundaries: Mapped[list[ZoneBoundary]] = relationship(back_populates="zone")


class ZoneBoundary(Base):
    """A version of a zone's boundary: current (one per zone), superseded, or draft."""

    __tablename__ = "zone_boundary"

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id"))
    status: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    geom: Mapped[WKBElement] = mapped_column(MultiPolygon)
    area_mu: Mapped[float] = mapped_column(Double, Computed("lm_area_mu(geom)"))

    zone: Mapped[Zone] = relationship(back_populates="boundaries")


class Project(Base):
    __tablename__ = "project"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(24))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"))
    partner: Mapped[str] = mapped_column(Text, default="")
    financing: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")

    zone: Mapped[Zone | None] = relationship()
    targets: Mapped[list[ProjectTarget]] = relationship(
        back_populates="project", order_by="ProjectTarget.due"
    )
    batches: Mapped[list[AcquisitionBatch]] = relationship(
        back_populates="project", order_by="AcquisitionBatch.due"
    )


class ProjectTarget(Base):
    """A dated target of a project: start construction by, commission by, mu ready by..."""

    __tablename__ = "project_target"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(Text)
    due: Mapped[dt.date] = mapped_column(Date)
    target_mu: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))

    project: Mapped[Project] = relationship(back_populates="targets")


class AcquisitionBatch(Base):
    """An acquisition batch (批次) of a project: target mu, due date."""

    __tablename__ = "acquisition_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    name: Mapped[str] = mapped_column(Text)
    target_mu: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    due: Mapped[dt.date] = mapped_column(Date)

    project: Mapped[Project] = relationship(back_populates="batches")


class Parcel(Base):
    """A cadastral parcel (宗地) or commercial plot, keyed by its code (ZDDM or plot number)."""

    __tablename__ = "parcel"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(Text, default="")
    land_use_code: Mapped[str] = mapped_column(String(16), default="")
    land_use_name: Mapped[str] = mapped_column(Text, default="")
    official_area_m2: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"))
    stage: Mapped[str] = mapped_column(String(24), default="not_started")
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id"))
    batch_id: Mapped[int | None] = mapped_column(Integer)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    geom: Mapped[WKBElement] = mapped_column(MultiPolygon)
    area_mu: Mapped[float] = mapped_column(Double, Computed("lm_area_mu(geom)"))
    area_mismatch: Mapped[bool] = mapped_column(
        Boolean, Computed("lm_area_mismatch(geom, official_area_m2)")
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    zone: Mapped[Zone | None] = relationship()
    project: Mapped[Project | None] = relationship()
    commercial: Mapped[CommercialPlot | None] = relationship(back_populates="parcel")


class CommercialPlot(Base):
    """Facts of a parcel offered for commercial development (经营性用地), e.g. plot 2011-2."""

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
    sha256: Mapped[str] = mapped_column(String(64))
    run_by: Mapped[str] = mapped_column(Text)
    run_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
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
