"""Views of the register for other GIS: a schema of their own, read by a read-only role.

People who connect QGIS or ArcGIS straight to PostGIS, and the OGC API Features service, read
the register through four views in a schema beside landmap's (``landmap_gis`` for the public
schema, ``<schema>_gis`` otherwise; ``lm_gis_schema()`` names it): ``parcels`` (in force, with
zone, project, batch and stage), ``zones`` (the boundaries in force), ``landuse`` and
``farmland``. The views answer for today, or for the day in the setting ``landmap.as_of``
(``SET LOCAL landmap.as_of = '2011-06-30'``): parcels in force on that day with their stage on
that day, and the boundaries in force then. ``stage_label`` (refreshed by every ``db upgrade``
from landmap.domain.Stage) gives each stage its label.

The read-only group role ``landmap_gis`` (created by ``db upgrade`` in landmap.db.migrate, with
the grants) may use this schema and SELECT from it, nothing else.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""

from alembic import op
from sqlalchemy import text

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _schemas() -> tuple[str, str]:
    schema = op.get_bind().execute(text("SELECT current_schema()")).scalar()
    return schema, "landmap_gis" if schema == "public" else f"{schema}_gis"


def upgrade() -> None:
    schema, gis = _schemas()
    op.execute(f"""
    CREATE FUNCTION lm_gis_schema() RETURNS text LANGUAGE sql IMMUTABLE RETURN '{gis}';
    -- the day the GIS views answer for: landmap.as_of when set, else NULL (now)
    CREATE FUNCTION lm_gis_day() RETURNS date LANGUAGE sql STABLE
        RETURN CAST(nullif(current_setting('landmap.as_of', true), '') AS date);

    -- a parcel's stage on a day for the views: as the owner, since the readers of the views
    -- may read the views only (not stage_change), and with the register's search_path
    CREATE FUNCTION lm_gis_stage_as_of(p_parcel integer, p_current text, p_day date)
        RETURNS text LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = "{schema}", public
        RETURN lm_stage_as_of(p_parcel, p_current, p_day);

    CREATE SCHEMA "{gis}";
    CREATE TABLE "{gis}".stage_label (
        stage varchar(24) PRIMARY KEY,
        ord integer NOT NULL,
        label text NOT NULL,
        label_en text NOT NULL
    );
    COMMENT ON TABLE "{gis}".stage_label IS '征地拆迁阶段名称';

    CREATE VIEW "{gis}".parcels AS
    SELECT p.code, p.name, z.code AS zone, z.name AS zone_name, p.owner, p.location,
           p.land_use_code, p.land_use_name, p.official_area_m2,
           round(p.area_mu::numeric, 2) AS area_mu, s.stage, sl.label AS stage_label,
           pr.name AS project, pr.id AS project_id, b.name AS batch, b.id AS batch_id,
           p.created_on, p.geom
    FROM parcel p
    CROSS JOIN LATERAL (SELECT CASE WHEN lm_gis_day() IS NULL THEN p.stage
                        ELSE lm_gis_stage_as_of(p.id, p.stage, lm_gis_day()) END AS stage) s
    LEFT JOIN "{gis}".stage_label sl ON sl.stage = s.stage
    LEFT JOIN zone z ON z.id = p.zone_id
    LEFT JOIN project pr ON pr.id = p.project_id
    LEFT JOIN acquisition_batch b ON b.id = p.batch_id
    WHERE lm_parcel_in_force(p.created_on, p.retired_on, lm_gis_day());
    COMMENT ON VIEW "{gis}".parcels IS '宗地（现行，或 landmap.as_of 当日）';
    COMMENT ON COLUMN "{gis}".parcels.code IS '宗地代码';
    COMMENT ON COLUMN "{gis}".parcels.name IS '宗地名称';
    COMMENT ON COLUMN "{gis}".parcels.zone IS '园区';
    COMMENT ON COLUMN "{gis}".parcels.owner IS '权利人名称';
    COMMENT ON COLUMN "{gis}".parcels.location IS '土地坐落';
    COMMENT ON COLUMN "{gis}".parcels.land_use_code IS '土地用途代码';
    COMMENT ON COLUMN "{gis}".parcels.land_use_name IS '土地用途';
    COMMENT ON COLUMN "{gis}".parcels.official_area_m2 IS '宗地面积（平方米，权属证书）';
    COMMENT ON COLUMN "{gis}".parcels.area_mu IS '面积（亩，按图形计算）';
    COMMENT ON COLUMN "{gis}".parcels.stage IS '征地拆迁阶段代码';
    COMMENT ON COLUMN "{gis}".parcels.stage_label IS '征地拆迁阶段';
    COMMENT ON COLUMN "{gis}".parcels.project IS '项目名称';
    COMMENT ON COLUMN "{gis}".parcels.batch IS '批次名称';

    CREATE VIEW "{gis}".zones AS
    SELECT z.code, z.name, z.name_en, zb.valid_from, round(zb.area_mu::numeric, 2) AS area_mu,
           zb.geom
    FROM zone z JOIN zone_boundary zb ON zb.zone_id = z.id
    WHERE CASE WHEN lm_gis_day() IS NULL THEN zb.status = 'current'
          ELSE zb.status <> 'draft' AND zb.valid_from <= lm_gis_day()
               AND (zb.valid_to IS NULL OR zb.valid_to > lm_gis_day()) END;
    COMMENT ON VIEW "{gis}".zones IS '园区边界（现行，或 landmap.as_of 当日）';
    COMMENT ON COLUMN "{gis}".zones.code IS '园区代码';
    COMMENT ON COLUMN "{gis}".zones.name IS '园区名称';
    COMMENT ON COLUMN "{gis}".zones.valid_from IS '生效日期';
    COMMENT ON COLUMN "{gis}".zones.area_mu IS '面积（亩）';

    CREATE VIEW "{gis}".landuse AS
    SELECT code, patch_no, land_use_code, land_use_name, ownership, owner_unit, location_unit,
           official_area_m2, round(area_mu::numeric, 2) AS area_mu, geom
    FROM landuse_patch;
    COMMENT ON VIEW "{gis}".landuse IS '土地利用现状图斑';
    COMMENT ON COLUMN "{gis}".landuse.code IS '图斑标识码';
    COMMENT ON COLUMN "{gis}".landuse.patch_no IS '图斑编号';
    COMMENT ON COLUMN "{gis}".landuse.land_use_code IS '地类编码';
    COMMENT ON COLUMN "{gis}".landuse.land_use_name IS '地类名称';
    COMMENT ON COLUMN "{gis}".landuse.ownership IS '权属性质';
    COMMENT ON COLUMN "{gis}".landuse.area_mu IS '面积（亩）';

    CREATE VIEW "{gis}".farmland AS
    SELECT code, land_use_code, official_area_m2, round(area_mu::numeric, 2) AS area_mu, geom
    FROM farmland;
    COMMENT ON VIEW "{gis}".farmland IS '永久基本农田';
    COMMENT ON COLUMN "{gis}".farmland.code IS '图斑标识码';
    COMMENT ON COLUMN "{gis}".farmland.land_use_code IS '地类编码';
    COMMENT ON COLUMN "{gis}".farmland.area_mu IS '面积（亩）';
    """)


def downgrade() -> None:
    _schema, gis = _schemas()
    op.execute(f"""
    DROP SCHEMA "{gis}" CASCADE;
    DROP FUNCTION lm_gis_stage_as_of(integer, text, date);
    DROP FUNCTION lm_gis_day();
    DROP FUNCTION lm_gis_schema();
    """)
