"""The typed models are the migrated schema: the same tables, columns, types, nullability,
generated columns, defaults, keys and unique constraints. A migration that changes a table
fails here until landmap/db/models.py says the same."""

from __future__ import annotations

from typing import Any

import pytest
from geoalchemy2 import Geometry
from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Double,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    inspect,
)
from sqlalchemy.dialects.postgresql import JSON, JSONB
from sqlalchemy.orm import configure_mappers
from sqlalchemy.types import TypeEngine

from landmap.db.models import Base

NOT_OURS = {"alembic_version", "spatial_ref_sys"}  # Alembic's and PostGIS's

MODELS = Base.metadata.tables


def type_shape(t: TypeEngine) -> tuple[Any, ...]:
    """What the database stores, whichever class says it: VARCHAR(16) and String(16) alike."""
    match t:
        case Geometry():
            return ("geometry", t.geometry_type)
        case JSONB():
            return ("jsonb",)
        case JSON():
            return ("json",)
        case Uuid():
            return ("uuid",)
        case Text():
            return ("text",)
        case CHAR():
            return ("char", t.length)
        case String():
            return ("varchar", t.length)
        case BigInteger():
            return ("bigint",)
        case SmallInteger():
            return ("smallint",)
        case Integer():
            return ("integer",)
        case Double():
            return ("double precision",)
        case Float():
            return ("float", t.precision)
        case Numeric():
            return ("numeric", t.precision, t.scale)
        case DateTime():
            return ("timestamptz" if t.timezone else "timestamp",)
        case Date():
            return ("date",)
        case Boolean():
            return ("boolean",)
        case LargeBinary():
            return ("bytea",)
    return ("unknown", repr(t))  # never equal to a known shape: extend the match above


Fact = tuple[Any, ...]


def column_fact(name: str, type_: TypeEngine, nullable: bool, generated: bool, default: bool):
    filled = "generated" if generated else "default" if default else ""
    return ("column", name, type_shape(type_), "NULL" if nullable else "NOT NULL", filled)


def fk_fact(columns, table: str, referred, ondelete: str | None) -> Fact:
    on_delete = f"ON DELETE {ondelete.upper()}" if ondelete else ""
    return ("foreign key", tuple(columns), f"{table}({', '.join(referred)})", on_delete)


def model_facts(table: Table) -> set[Fact]:
    serial = table.autoincrement_column
    return {
        *(
            column_fact(
                c.name,
                c.type,
                c.nullable,
                c.computed is not None,
                c is serial or c.default is not None or c.server_default is not None,
            )
            for c in table.columns
        ),
        ("primary key", tuple(c.name for c in table.primary_key.columns)),
        *(
            fk_fact(
                fk.column_keys,
                fk.referred_table.name,
                [e.column.name for e in fk.elements],
                fk.ondelete,
            )
            for fk in table.foreign_key_constraints
        ),
        *(
            ("unique", tuple(c.name for c in u.columns))
            for u in table.constraints
            if isinstance(u, UniqueConstraint)
        ),
    }


@pytest.fixture(scope="module")
def database(engine, settings) -> dict[str, set[Fact]]:
    """The facts of every table of the migrated test schema, reflected in one go."""
    insp = inspect(engine)
    schema = settings.db_schema

    def by_table(multi: dict) -> dict[str, Any]:
        return {name: value for (_schema, name), value in multi.items() if name not in NOT_OURS}

    columns = by_table(insp.get_multi_columns(schema=schema))
    pks = by_table(insp.get_multi_pk_constraint(schema=schema))
    fks = by_table(insp.get_multi_foreign_keys(schema=schema))
    uniques = by_table(insp.get_multi_unique_constraints(schema=schema))
    return {
        name: {
            *(
                column_fact(
                    c["name"],
                    c["type"],
                    c["nullable"],
                    bool(c.get("computed")),
                    c["default"] is not None,
                )
                for c in columns[name]
            ),
            ("primary key", tuple(pks[name]["constrained_columns"])),
            *(
                fk_fact(
                    fk["constrained_columns"],
                    fk["referred_table"],
                    fk["referred_columns"],
                    fk["options"].get("ondelete"),
                )
                for fk in fks[name]
            ),
            *(("unique", tuple(u["column_names"])) for u in uniques[name]),
        }
        for name in columns
    }


def test_every_table_has_a_model(database):
    assert sorted(database) == sorted(MODELS)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_is_the_table(database, name):
    assert name in database, f"{name} has a model but no table in the migrated schema"
    model, schema = model_facts(MODELS[name]), database[name]
    assert model == schema, (
        f"{name}: only in the schema: {sorted(schema - model, key=repr)}; "
        f"only in the model: {sorted(model - schema, key=repr)}"
    )


def test_mappers_configure():
    """Every relationship resolves (and, the suite's warnings being errors, none overlaps)."""
    configure_mappers()


def test_type_shapes_tell_types_apart():
    """The comparison can fail: the shapes that tell a wrong model from the schema differ."""
    pairs = [
        (String(16), String(24)),
        (String(64), CHAR(64)),
        (String(16), Text()),
        (Numeric(12, 2), Numeric(14, 4)),
        (Numeric(12, 2), Double()),
        (Integer(), BigInteger()),
        (DateTime(timezone=True), DateTime()),
        (Geometry("MULTIPOLYGON"), Geometry("POLYGON")),
        (JSONB(), JSON()),
        (LargeBinary(), Text()),
    ]
    for a, b in pairs:
        assert type_shape(a) != type_shape(b), (a, b)
