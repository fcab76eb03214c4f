"""`python -m landmap COMMAND`: each command a few lines calling loaders and services."""

from __future__ import annotations

import getpass
import os
import sys
from datetime import date
from pathlib import Path

import click
from sqlalchemy.exc import OperationalError

from landmap.config import ConfigError, Settings
from landmap.db import make_engine, make_sessionmaker, migrate, session_scope
from landmap.domain import Refused, Role
from landmap.messages import Message, cli_locale, msg


class Ctx:
    """Settings and sessions, made on first use so that --help needs no database."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self._factory = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = Settings.from_env()
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from exc
        return self._settings

    def session(self):
        if self._factory is None:
            self._factory = make_sessionmaker(make_engine(self.settings))
        return session_scope(self._factory, actor=f"cli:{getpass.getuser()}")


pass_ctx = click.make_pass_decorator(Ctx, ensure=True)


class Commands(click.Group):
    """The command group: a refusal (landmap.services.Refused) by any command is printed as
    its message, not as a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Refused as exc:
            text = exc.render(cli_locale())
            hint = cli_hint(exc.code)
            if hint is not None:
                text += "\n" + hint.render(cli_locale())
            raise click.ClickException(text) from exc


_CRS_CODES = {"crs_not_stated", "crs_no_fit", "crs_no_coordinates", "crs_unreadable"}
_ENCODING_CODES = {"encoding_not_valid", "encoding_not_told", "encoding_garbled"}


def cli_hint(code: str) -> Message | None:
    """What a refusal the loader words for everyone means on the command line: the option to
    give (messages from the loader never name options; here they are parameters)."""
    if code in _CRS_CODES or code == "load_outside_region":
        return msg(
            "cli_hint_crs",
            "on the command line: give the coordinate system with %(option)s, or set "
            "%(setting)s to the central meridian",
            option="--srs EPSG:N",
            setting="LANDMAP_GK_CENTRAL_MERIDIAN",
        )
    if code in _ENCODING_CODES:
        return msg(
            "cli_hint_encoding",
            "on the command line: give the encoding with %(option)s",
            option="--encoding GBK",
        )
    if code == "load_bad_records":
        return msg(
            "cli_hint_repair",
            "on the command line: %(option)s makes valid what can be and sets the rest aside",
            option="--repair",
        )
    if code == "gpkg_choose_layer":
        return msg(
            "cli_hint_layer", "on the command line: choose it with %(option)s", option="--layer"
        )
    return None


@click.group(cls=Commands)
@click.pass_context
def main(ctx: click.Context) -> None:
    """landmap: the land register and maps of the development zone."""
    ctx.ensure_object(Ctx)


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@pass_ctx
def db_upgrade(ctx: Ctx, revision: str) -> None:
    """Bring the schema up to REVISION (default: the newest)."""
    try:
        migrate.upgrade(ctx.settings, revision)
    except OperationalError as exc:
        raise click.ClickException(f"cannot reach the database: {exc.orig}") from exc
    click.echo(f"schema at revision {migrate.current(ctx.settings)}")


@db.command("downgrade")
@click.argument("revision")
@pass_ctx
def db_downgrade(ctx: Ctx, revision: str) -> None:
    """Take the schema back to REVISION ("base" drops every landmap table)."""
    migrate.downgrade(ctx.settings, revision)
    click.echo(f"schema at revision {migrate.current(ctx.settings) or 'base'}")


@db.command("gis-reader")
@click.argument("name")
@pass_ctx
def db_gis_reader(ctx: Ctx, name: str) -> None:
    """A read-only database login NAME for QGIS or ArcGIS straight to PostGIS (the views of
    the register, nothing else); prints its password (a new one each time)."""
    from sqlalchemy.engine import make_url

    schema, password = migrate.add_gis_reader(ctx.settings, name)
    url = make_url(ctx.settings.database_url)
    lines = msg(
        "gis_reader_made",
        "read-only login for other GIS: host %(host)s, port %(port)s, database %(database)s, "
        "schema %(schema)s, user %(user)s, password %(password)s",
        host=url.host or "localhost",
        port=str(url.port or 5432),
        database=url.database or "",
        schema=schema,
        user=name,
        password=password,
    )
    click.echo(lines.render(cli_locale()))


@db.command("backup")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@pass_ctx
def db_backup(ctx: Ctx, path: str) -> None:
    """Write landmap's schema (pg_dump) and a manifest of what it holds to FILE."""
    from landmap.db import backup

    made = backup.backup(ctx.settings, path)
    written = msg(
        "backup_written",
        "backup written to %(file)s: revision %(revision)s, %(parcels)s parcels, "
        "%(audit)s audit rows",
        file=path,
        revision=made["revision"] or "",
        parcels=str(made["counts"].get(f"{ctx.settings.db_schema}.parcel", 0)),
        audit=str(made["counts"].get(f"{ctx.settings.db_schema}.audit_log", 0)),
    )
    click.echo(written.render(cli_locale()))


@db.command("restore")
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--into", "into_url", help="restore into this (new) database instead")
@pass_ctx
def db_restore(ctx: Ctx, path: str, into_url: str | None) -> None:
    """Restore a backup (refused if it is of a newer landmap, or damaged), then check the
    restored register against its manifest; fails when a check does."""
    from landmap.db import backup

    done = backup.restore(ctx.settings, path, into_url)
    locale = cli_locale()
    click.echo(
        msg(
            "backup_restored",
            "restored the backup made %(made_at)s (revision %(revision)s); checked:",
            made_at=done["made_at"],
            revision=done["revision"] or "",
        ).render(locale)
    )
    _print_checks(done["checks"], locale)
    if done["recorded_in_configured"]:
        click.echo(
            msg(
                "restore_recorded_in_source",
                "the verification is recorded in the configured database too, which made "
                "this backup",
            ).render(locale)
        )
    failed = sum(not c["ok"] for c in done["checks"])
    if failed:
        raise click.ClickException(
            msg(
                "restore_check_failed",
                "%(n)s checks of the restored register do not match its backup",
                n=str(failed),
            ).render(locale)
        )


@db.command("verify")
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@pass_ctx
def db_verify(ctx: Ctx, path: str) -> None:
    """Check a backup without restoring it: its manifest and dump as written, its revision
    known, its dump's contents readable (pg_restore --list); recorded for the backups page."""
    from landmap.db import backup

    done = backup.verify_file(ctx.settings, path)
    locale = cli_locale()
    _print_checks(done["checks"], locale)
    failed = sum(not c["ok"] for c in done["checks"])
    if failed:
        raise click.ClickException(
            msg("verify_check_failed", "%(n)s checks of the backup failed", n=str(failed)).render(
                locale
            )
        )
    click.echo(
        msg(
            "backup_verified",
            "the backup made %(made_at)s (revision %(revision)s) is intact and its dump readable",
            made_at=done["made_at"],
            revision=done["revision"] or "",
        ).render(locale)
    )


def _print_checks(checks: list[dict], locale: str) -> None:
    for check in checks:
        click.echo(f"  {'✓' if check['ok'] else '✗'} {check['name']}: {check['found']}")
        if not check["ok"]:
            expected = msg(
                "restore_check_expected",
                "expected %(expected)s, found %(found)s",
                expected=str(check["expected"]),
                found=str(check["found"]),
            )
            click.echo("    " + expected.render(locale))


@main.command()
@pass_ctx
def demo(ctx: Ctx) -> None:
    """Load the illustrative demo zone (data/demo/); running it again changes nothing."""
    from landmap.demo import load_demo

    with ctx.session() as session:
        result = load_demo(session, ctx.settings)
    if not result.changed:
        click.echo("demo zone already loaded: nothing changed")
        return
    parcels, zones = result.parcels, result.zones
    click.echo(
        f"demo zone loaded: {result.catalogue_changes} zone/project rows, "
        f"{zones.inserted} zone boundaries, parcels {parcels.inserted} new, "
        f"{parcels.updated} updated, {parcels.total_mu:.2f} mu; "
        f"{result.works} supply, construction, building and statistics rows"
    )


@main.command()
@pass_ctx
def info(ctx: Ctx) -> None:
    """Parcels and mu per zone: each parcel counts with its part inside the boundary (the
    figures of /api/zones); then the parts outside every zone."""
    from landmap.services import zones

    with ctx.session() as session:
        rows = zones.summary(session)
        outside = zones.outside_every_zone(session)
    click.echo(f"{'zone':<6}{'boundary mu':>14}{'parcels':>10}{'parcels mu':>14}  name")
    for zone in rows:
        zone_mu = f"{zone.area_mu:.2f}" if zone.area_mu is not None else "-"
        click.echo(
            f"{zone.code:<6}{zone_mu:>14}{zone.parcel_count:>10}"
            f"{zone.parcels_mu_inside:>14.2f}  {zone.name}"
        )
    if outside[0]:
        click.echo(f"{'-':<6}{'-':>14}{outside[0]:>10}{outside[1]:>14.2f}  outside every zone")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@pass_ctx
def serve(ctx: Ctx, host: str, port: int, threads: int) -> None:
    """Serve the web app (waitress). An idle keep-alive connection stays open for
    LANDMAP_KEEPALIVE seconds (landmap.config.keepalive_seconds), as under gunicorn."""
    from waitress import serve as waitress_serve

    from landmap import create_app
    from landmap.config import keepalive_seconds

    app = create_app(ctx.settings)
    try:
        idle = keepalive_seconds()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"landmap at http://{host}:{port}/")
    waitress_serve(
        app, host=host, port=port, threads=threads, ident="landmap", channel_timeout=idle
    )


def _print_report(report) -> None:
    dry = " (dry run: nothing written)" if report.dry_run else ""
    click.echo(f"{report.file_name}: {report.layer}{dry}")
    click.echo(f"  CRS       {report.crs}: {report.crs_reason}")
    click.echo(f"  encoding  {report.encoding}: {report.encoding_reason}")
    click.echo(
        f"  records   {report.records_read} read, {report.inserted} loaded, "
        f"{report.updated} updated, {report.unchanged} unchanged, {len(report.rejected)} rejected"
    )
    click.echo(f"  area      {report.total_mu:.2f} mu")
    for problem in report.repaired:
        click.echo(f"  repaired  {problem}")
    for problem in report.rejected:
        click.echo(f"  set aside {problem}")
    if report.rejects_path:
        click.echo(f"  rejects written to {report.rejects_path}")
    made = "would be created" if report.dry_run else "created"
    for name in report.created_projects:
        click.echo(f"  project   {name} {made}")
    for project, batch in report.created_batches:
        click.echo(f"  batch     {project} / {batch} {made}")
    if report.mismatches:
        click.echo(f"  {len(report.mismatches)} parcel(s) differ from the certificate by >1%:")
        for code, official, mu in report.mismatches:
            click.echo(f"    {code}: certificate {official:.2f} mu, computed {mu:.2f} mu")


def _load_options(f):
    for opt in reversed(
        [
            click.option("--srs", help="CRS of the file, e.g. EPSG:4525 (overrides the .prj)"),
            click.option(
                "--encoding", help="text encoding of the .dbf, e.g. GBK (overrides detection)"
            ),
            click.option("--layer", help="layer of a GeoPackage"),
            click.option("--dry-run", is_flag=True, help="check and report; write nothing"),
            click.option(
                "--repair",
                is_flag=True,
                help="make valid what can be; set the rest aside in a rejects file",
            ),
            click.option(
                "--rejects",
                type=click.Path(dir_okay=False, path_type=Path),
                help="where --repair writes the records set aside (CSV)",
            ),
            click.option(
                "--field",
                "fields",
                multiple=True,
                metavar="REGISTER=FILEFIELD",
                help="read a register field from a field of the file, e.g. --field code=DKH "
                "(repeatable; before the built-in names)",
            ),
        ]
    ):
        f = opt(f)
    return f


def _field_pairs(given: tuple[str, ...]) -> dict[str, str]:
    """--field REGISTER=FILEFIELD options as a mapping (checked as the web's is)."""
    from landmap.loaders.core import field_mapping

    pairs = [item.partition("=")[::2] if "=" in item else (item, "") for item in given]
    return field_mapping(pairs)


def _run_load(ctx: Ctx, kind: str, path: str, **kw) -> None:
    from rich.progress import Progress

    from landmap import loaders
    from landmap.loaders import LoadOptions

    options = LoadOptions(
        srs=kw.get("srs"),
        encoding=kw.get("encoding"),
        layer=kw.get("layer"),
        dry_run=kw.get("dry_run", False),
        repair=kw.get("repair", False),
        rejects_path=kw.get("rejects"),
        run_by=getpass.getuser(),
        zone=kw.get("zone"),
        draft=kw.get("draft", False),
        valid_from=kw.get("valid_from"),
        note=kw.get("note") or "",
        fields=_field_pairs(kw.get("fields", ())),
        create_projects=kw.get("create_projects", False),
    )
    with Progress(transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(f"loading {Path(path).name}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        with ctx.session() as session:
            report = loaders.load(session, ctx.settings, kind, path, options, progress)
    _print_report(report)


@main.group()
def load() -> None:
    """Load a layer from a .shp, a folder, a .zip, a GeoPackage layer or a GeoJSON file."""


def _load_command(kind: str, doc: str) -> None:
    @load.command(kind, help=doc)
    @click.argument("path", type=click.Path(exists=True))
    @_load_options
    @pass_ctx
    def command(ctx: Ctx, path: str, **kw) -> None:
        _run_load(ctx, kind, path, **kw)


@load.command("parcels")
@click.argument("path", type=click.Path(exists=True))
@click.option(
    "--create-projects",
    is_flag=True,
    help="create the projects and batches (XMMC/PCMC) the file names that are not "
    "registered: industrial, pre-stage; --dry-run lists them",
)
@_load_options
@pass_ctx
def load_parcels(ctx: Ctx, path: str, **kw) -> None:
    """Cadastral parcels (宗地) and commercial plots, matched by code."""
    _run_load(ctx, "parcels", path, **kw)


_load_command(
    "landuse", "Land-use patches of the third national land survey (三调 DLTB), matched by BSM."
)
_load_command(
    "farmland", "Permanent basic farmland (永久基本农田) patches, matched by their identifier."
)


@load.command("zones")
@click.argument("path", type=click.Path(exists=True))
@click.option("--zone", help="the zone every feature belongs to (else the file's QYDM field)")
@click.option("--draft", is_flag=True, help="store as a draft, not the current boundary")
@click.option(
    "--valid-from",
    type=click.DateTime(["%Y-%m-%d"]),
    help="date the boundary is in force from (default today)",
)
@click.option("--note", help="what this boundary is")
@_load_options
@pass_ctx
def load_zones(ctx: Ctx, path: str, valid_from, **kw) -> None:
    """Zone boundaries: a new current version (the old one kept) or a draft."""
    vf: date | None = valid_from.date() if valid_from else None
    _run_load(ctx, "zones", path, valid_from=vf, **kw)


@main.group("users")
def users_group() -> None:
    """Accounts (roles: viewer, officer, planner, admin) and API tokens."""


def _password(confirm: bool = True) -> str:
    return os.environ.get("LANDMAP_PASSWORD") or click.prompt(
        "Password", hide_input=True, confirmation_prompt=confirm
    )


@users_group.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--display-name", default="")
@pass_ctx
def users_add(ctx: Ctx, name: str, role: str, display_name: str) -> None:
    """Add an account; the password comes from LANDMAP_PASSWORD or a prompt."""
    from landmap.services import users

    with ctx.session() as session:
        users.add(session, name, role, _password(), display_name)
    click.echo(f"user {name} added ({role})")


@users_group.command("passwd")
@click.argument("name")
@pass_ctx
def users_passwd(ctx: Ctx, name: str) -> None:
    """Set a new password (LANDMAP_PASSWORD or a prompt); the user's sessions end."""
    from landmap.services import users

    with ctx.session() as session:
        users.set_password(session, name, _password())
    click.echo(f"password of {name} changed")


@users_group.command("token")
@click.argument("name")
@click.option("--label", default="", help="what the token is for")
@pass_ctx
def users_token(ctx: Ctx, name: str, label: str) -> None:
    """Print a new API token for NAME (shown once; send it as 'Authorization: Bearer ...')."""
    from landmap.services import users

    with ctx.session() as session:
        token = users.new_token(session, name, label)
    click.echo(token)


@users_group.command("revoke")
@click.argument("token")
@pass_ctx
def users_revoke(ctx: Ctx, token: str) -> None:
    """Revoke an API token."""
    from landmap.services import users

    with ctx.session() as session:
        if not users.revoke_token(session, token):
            raise click.ClickException("no such active token")
    click.echo("token revoked")


@users_group.command("list")
@pass_ctx
def users_list(ctx: Ctx) -> None:
    """List the accounts."""
    from landmap.services import users

    with ctx.session() as session:
        rows = users.list_users(session)
    click.echo(f"{'name':<16}{'role':<10}{'active':<8}{'tokens':>6}  display name")
    for user in rows:
        active = "yes" if user["active"] else "no"
        click.echo(
            f"{user['name']:<16}{user['role']:<10}{active:<8}{user['tokens']:>6}  "
            f"{user['display_name']}"
        )


@users_group.command("disable")
@click.argument("name")
@pass_ctx
def users_disable(ctx: Ctx, name: str) -> None:
    """Disable an account: its sessions end and its tokens stop working."""
    from landmap.services import users

    with ctx.session() as session:
        users.disable(session, name)
    click.echo(f"user {name} disabled")


@users_group.command("demo-accounts")
@pass_ctx
def users_demo(ctx: Ctx) -> None:
    """One account per role for trying landmap out; prints their passwords (kept in
    var/demo_accounts.txt, readable by its owner only)."""
    import secrets

    from landmap.services import users

    path = ctx.settings.var_dir / "demo_accounts.txt"
    known = {}
    if path.exists():
        known = dict(line.split(" ", 1) for line in path.read_text().splitlines() if " " in line)
    with ctx.session() as session:
        for role in (r.value for r in Role):
            name = f"demo_{role}"
            if users.get(session, name) is None:
                known[name] = secrets.token_urlsafe(9)
                users.add(session, name, role, known[name], f"示例{role}")
    ctx.settings.var_dir.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{n} {p}\n" for n, p in known.items()))
    path.chmod(0o600)
    click.echo("demo accounts (user / password):")
    for name, password in known.items():
        click.echo(f"  {name:<14} {password}")


@main.group("tiles")
def tiles_group() -> None:
    """Vector tiles: their change log."""


@tiles_group.command("prune")
@click.option("--days", default=30, show_default=True, type=click.IntRange(min=0))
@pass_ctx
def tiles_prune(ctx: Ctx, days: int) -> None:
    """Delete the tile change log's entries older than DAYS days (tiles over them are drawn
    again once, never served stale)."""
    from landmap.services.tiles import prune_tile_changes

    with ctx.session() as session:
        gone = prune_tile_changes(session, older_than_days=days)
    done = msg(
        "tile_changes_pruned",
        "%(n)s tile change entries older than %(days)s days deleted",
        n=str(gone),
        days=str(days),
    )
    click.echo(done.render(cli_locale()))


@main.command("export")
@click.argument("layer", metavar="LAYER")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--zone")
@click.option("--stage")
@click.option("--format", "fmt", default="gpkg", show_default=True)
@click.option("--encoding", default="gbk", show_default=True)
@click.option("--srs", default=None, help="EPSG:4490|4545|4546|4547 (default: the storage CRS)")
@pass_ctx
def export(ctx: Ctx, layer: str, path: str, zone, stage, fmt, encoding, srs) -> None:
    """Write LAYER (parcels, zones, landuse, farmland or drafts/ID), filtered by zone (and
    parcels by stage), to PATH (landmap.services.exports)."""
    import shutil
    import tempfile

    from landmap.domain import Stage
    from landmap.services import exports
    from landmap.services.parcels import ParcelFilter

    options = exports.ExportOptions(
        exports.parse_format(fmt), exports.parse_encoding(encoding), exports.parse_srs(srs)
    )
    selection = ParcelFilter(
        zone=zone.upper() if zone else None,
        stage=Stage.parse(stage).value if stage else None,
    )
    with ctx.session() as session, tempfile.TemporaryDirectory() as directory:
        found = exports.layer_of(session, layer)
        made = exports.export(session, found, selection, options, Path(directory))
        shutil.copyfile(made, path)
    click.echo(f"{layer} written to {path} ({fmt})")
