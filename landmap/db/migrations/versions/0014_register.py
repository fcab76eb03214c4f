"""Projects, batches and enterprises kept through the web.

- enterprise (企业): name (unique), unified social credit code (统一社会信用代码, unique when
  given, its check digit verified by lm_credit_code_ok: GB 32100-2015, 18 characters of
  0-9 A-H J-N P-R T-U W-Y, the 18th the mod-31 check of the first 17 with the weights
  3^i mod 31), industry, contact person, phone, note. Audited.
- project gains closed_on (a closed project is kept) and enterprise_id (its enterprise);
  acquisition_batch gains a note; parcel gains land_user_id (the enterprise using the land).
- A project, and an enterprise, cannot be deleted while anything refers to it: every foreign
  key to them is ON DELETE RESTRICT (project_target goes with its project, as before).
- project_target is now edited by people: audited too.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: no I, O, S, V, Z
WEIGHTS = "1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28"
EARLIEST = "1949-10-01"
# table -> (entity name, key expression over the row ``r``, primary key column), as in 0005
AUDITED = {
    "enterprise": ("enterprise", "r.name", "id"),
    "project_target": ("target", "r.project_id || '/' || r.label", "id"),
}
# (table, column) referring to project: RESTRICT from here on, NO ACTION before
PROJECT_REFS = [
    ("parcel", "project_id"),
    ("acquisition_batch", "project_id"),
    ("quota_entry", "project_id"),
]


def _project_refs(action: str) -> None:
    for table, column in PROJECT_REFS:
        name = f"{table}_{column}_fkey"
        op.execute(f"""
        ALTER TABLE {table} DROP CONSTRAINT {name},
            ADD CONSTRAINT {name} FOREIGN KEY ({column}) REFERENCES project (id) {action}""")


def upgrade() -> None:
    op.execute(f"""
    CREATE FUNCTION lm_credit_code_ok(code text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN code ~ '^[0-9A-HJ-NPQRTUW-Y]{{18}}$' AND substr('{ALPHABET}',
        (31 - (SELECT sum((strpos('{ALPHABET}', substr(code, i, 1)) - 1)
                          * (ARRAY[{WEIGHTS}])[i])
               FROM generate_series(1, 17) AS i)::integer % 31) % 31 + 1, 1)
        = substr(code, 18, 1);

    CREATE TABLE enterprise (
        id serial PRIMARY KEY,
        name text NOT NULL UNIQUE CHECK (btrim(name) <> '' AND length(name) <= 200),
        credit_code varchar(18) UNIQUE CHECK (lm_credit_code_ok(credit_code)),
        industry text NOT NULL DEFAULT '' CHECK (length(industry) <= 200),
        contact text NOT NULL DEFAULT '' CHECK (length(contact) <= 200),
        phone text NOT NULL DEFAULT '' CHECK (length(phone) <= 40),
        note text NOT NULL DEFAULT '' CHECK (length(note) <= 2000)
    );

    ALTER TABLE project
        ADD COLUMN closed_on date CHECK (closed_on >= DATE '{EARLIEST}'),
        ADD COLUMN enterprise_id integer REFERENCES enterprise (id) ON DELETE RESTRICT;
    CREATE INDEX project_enterprise ON project (enterprise_id);
    ALTER TABLE acquisition_batch
        ADD COLUMN note text NOT NULL DEFAULT '' CHECK (length(note) <= 2000);
    ALTER TABLE parcel
        ADD COLUMN land_user_id integer REFERENCES enterprise (id) ON DELETE RESTRICT;
    CREATE INDEX parcel_land_user ON parcel (land_user_id);
    """)
    _project_refs("ON DELETE RESTRICT")
    for table, (entity, key, pk) in AUDITED.items():
        args = f"'{entity}', '{key.replace(chr(39), chr(39) * 2)}', '{pk}'"
        op.execute(f"""
        CREATE TRIGGER {table}_audit_insert AFTER INSERT ON {table}
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
            EXECUTE FUNCTION lm_audit({args});
        CREATE TRIGGER {table}_audit_update AFTER UPDATE ON {table}
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
            EXECUTE FUNCTION lm_audit({args});
        CREATE TRIGGER {table}_audit_delete AFTER DELETE ON {table}
            REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
            EXECUTE FUNCTION lm_audit({args});
        """)


def downgrade() -> None:
    for table in AUDITED:
        for op_name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER {table}_audit_{op_name} ON {table}")
    _project_refs("")
    op.execute("""
    ALTER TABLE parcel DROP COLUMN land_user_id;
    ALTER TABLE acquisition_batch DROP COLUMN note;
    ALTER TABLE project DROP COLUMN enterprise_id, DROP COLUMN closed_on;
    DROP TABLE enterprise;
    DROP FUNCTION lm_credit_code_ok(text);
    """)
