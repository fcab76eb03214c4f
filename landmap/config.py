"""Typed settings, read from the environment once, when the app or CLI is created."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCAL_DB_URL_FILE = PROJECT_ROOT / ".pgdata" / "database_url"


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message says which and how to fix it."""


def _bbox(text: str, name: str) -> tuple[float, float, float, float]:
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4 or not (parts[0] < parts[2] and parts[1] < parts[3]):
        raise ConfigError(f"{name} must be minlon,minlat,maxlon,maxlat; got {text!r}")
    return parts  # type: ignore[return-value]


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ConfigError(f"{name} must be a whole number; got {raw!r}")
    return int(raw)


_OFF = ("0", "false", "no", "off")


def _stale_seconds(env: dict[str, str]) -> int:
    seconds = _int(env, "LANDMAP_TILE_STALE_SECONDS", 5)
    if seconds > 60:
        raise ConfigError("LANDMAP_TILE_STALE_SECONDS must be 0 to 60 (a bounded few seconds)")
    return seconds


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise ConfigError(f"{name} must be seconds between 0 and 3600, e.g. 5; got {raw!r}")
    return value


def _read_urls(env: dict[str, str]) -> tuple[str, ...]:
    """DATABASE_READ_URL: the replicas' URLs, separated by commas or spaces."""
    urls = tuple(u for u in re.split(r"[\s,]+", env.get("DATABASE_READ_URL", "")) if u)
    for url in urls:
        if not url.startswith(("postgresql://", "postgresql+psycopg2://", "postgres://")):
            raise ConfigError("DATABASE_READ_URL must be postgresql:// URLs, comma-separated")
    if len(urls) > 16:
        raise ConfigError("DATABASE_READ_URL names more than 16 replicas")
    return urls


RATELIMIT_STORAGES = ("landmap+postgresql://", "memory://")


def _ratelimit_storage(env: dict[str, str]) -> str:
    raw = env.get("LANDMAP_RATELIMIT_STORAGE", "").strip() or RATELIMIT_STORAGES[0]
    if raw not in RATELIMIT_STORAGES:
        raise ConfigError(f"LANDMAP_RATELIMIT_STORAGE must be one of {RATELIMIT_STORAGES}")
    return raw


# Seconds a server keeps an idle keep-alive connection open (gunicorn's `keepalive`, default
# 2; waitress's `channel_timeout`). Behind a load balancer it must outlast the balancer's own
# idle timeout (nginx upstream keepalive_timeout and AWS ALB: 60 s), so that the balancer,
# never landmap, closes an idle connection: a request it sends on one just as landmap closed
# it would fail.
KEEPALIVE_DEFAULT_S = 75
KEEPALIVE_MAX_S = 3600


def keepalive_seconds(env: dict[str, str] | None = None) -> int:
    """LANDMAP_KEEPALIVE (whole seconds, 1 to KEEPALIVE_MAX_S), else KEEPALIVE_DEFAULT_S."""
    env = os.environ if env is None else env
    seconds = _int(env, "LANDMAP_KEEPALIVE", KEEPALIVE_DEFAULT_S)
    if not 1 <= seconds <= KEEPALIVE_MAX_S:
        raise ConfigError(f"LANDMAP_KEEPALIVE must be 1 to {KEEPALIVE_MAX_S} seconds")
    return seconds


NO_DATABASE = (
    "DATABASE_URL is not set and there is no project-local cluster this user may read: "
    "run scripts/setup.sh, or set DATABASE_URL=postgresql://user:pass@host/db"
)


def _read(path: Path) -> str:
    """A URL file's content; "" when it is missing or this OS user may not read it."""
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def local_database_url() -> str:
    """The project-local cluster's URL for the owner of landmap's tables, written by
    scripts/localdb.sh."""
    url = _read(LOCAL_DB_URL_FILE)
    if not url:
        raise ConfigError(NO_DATABASE)
    return url


def local_app_database_url() -> str:
    """The project-local cluster's URL for the web app's own login role (landmap_app), written
    by scripts/localdb.sh beside the owner's; "" when there is none this user may read."""
    return _read(LOCAL_DB_URL_FILE.with_name("app_database_url"))


def _secret_key(var_dir: Path, name: str = "secret_key") -> str:
    path = var_dir / name
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _personal_key(env: dict[str, str], var_dir: Path) -> str:
    """LANDMAP_PERSONAL_KEY (64 hex digits), else var/personal_key, made on first use."""
    key = env.get("LANDMAP_PERSONAL_KEY", "").strip().lower()
    if key:
        if not re.fullmatch(r"[0-9a-f]{64}", key):
            raise ConfigError("LANDMAP_PERSONAL_KEY must be 64 hexadecimal digits (32 bytes)")
        return key
    return _secret_key(var_dir, "personal_key")


def personal_key(settings: Settings) -> str:
    """The settings' personal key, or (settings made in code) var/personal_key's."""
    return settings.personal_key or _secret_key(settings.var_dir, "personal_key")


def _database_urls(env: dict[str, str]) -> tuple[str, str]:
    """The owner's URL and the web app's. Without DATABASE_URL both come from the local
    cluster's files; the web server's OS user may read only the app's (the owner's is "")."""
    url = env.get("DATABASE_URL", "")
    app_url = env.get("LANDMAP_APP_DATABASE_URL", "")
    if not url:
        app_url = app_url or local_app_database_url()
        url = _read(LOCAL_DB_URL_FILE)
        if not url and not app_url:
            raise ConfigError(NO_DATABASE)
    for name, value in (("DATABASE_URL", url), ("LANDMAP_APP_DATABASE_URL", app_url)):
        if value and not value.startswith(
            ("postgresql://", "postgresql+psycopg2://", "postgres://")
        ):
            raise ConfigError(f"{name} must be a postgresql:// URL")
    return url, app_url


@dataclass(frozen=True)
class Settings:
    # the owner of landmap's tables: migrations and the CLI ("" = not readable by this user)
    database_url: str
    # PostgreSQL schema holding landmap's tables (PostGIS itself stays in public).
    db_schema: str = "public"
    # Role to work as on database_url's connections (SET ROLE at connect); "" = the login role.
    db_role: str = ""
    # The web app's own login (a role that owns nothing); "" = database_url with db_role,
    # which is weaker: SQL run through the app could RESET ROLE to the owner.
    app_database_url: str = field(default="", repr=False)
    # hot-standby replicas that serve the requests which only read, each as the web app logs
    # in there (landmap.db.replicas); () = every read from the primary
    read_database_urls: tuple[str, ...] = field(default=(), repr=False)
    # a replica further behind the primary than this is not read from; after a write, that
    # user's reads go to the primary until a replica has replayed it, for at most this long
    replica_max_lag_seconds: float = 5.0
    # a signed-in session not used for this long ends
    session_idle_minutes: int = 480
    # Served over HTTPS (directly or behind a proxy): cookies are marked Secure.
    https: bool = False
    # SRID of every stored land geometry; used when the schema is created (db upgrade).
    storage_srid: int = 4546
    # Where parcels may lie: lon/lat box of the zone's region (Yongding District, Zhangjiajie).
    region_bbox: tuple[float, float, float, float] = (110.0, 28.8, 111.0, 29.5)
    map_center: tuple[float, float] = (29.09, 110.53)  # lat, lon
    # Central meridian (degrees E) assumed for 6-digit Gauss-Krüger eastings without a .prj;
    # None: such files are refused until --srs is given.
    gk_central_meridian: int | None = None
    # XYZ basemap URL template; empty = no basemap (parcels still render).
    basemap_url: str = ""
    basemap_attribution: str = ""
    secret_key: str = field(default="", repr=False)
    # seals households' ID numbers and phones (services.personal): 64 hex digits, the same on
    # every server; kept apart from the database (a dump alone does not reveal them)
    personal_key: str = field(default="", repr=False)
    default_locale: str = "zh_CN"
    var_dir: Path = PROJECT_ROOT / "var"
    # where agreement scans and photos were kept as files before they moved into the database:
    # read by migration 0022, written back by its downgrade
    documents_dir: Path = PROJECT_ROOT / "var" / "documents"
    max_upload_mb: int = 50
    # zone drafts: parts narrower than this (metres) are reported as slivers
    sliver_width_m: float = 5.0
    # in-process cache of vector tiles, per worker
    tile_cache_mb: int = 128
    # vector tiles on disk (var/tiles), shared by the processes; least recently used go first
    tile_disk_mb: int = 512
    # a tile at zoom 14 or lower may be served in its previous version this many seconds after
    # a write under it, while it is drawn again (0: never)
    tile_stale_seconds: float = 5.0
    # each server process listens for the database's notifications and keeps caches by them
    # (off: every cached tile, token and session is checked with the database each time)
    listen: bool = True
    # the backups page warns when the last backup is older than this (hours)
    backup_warn_hours: int = 24
    # where the login rate limit counts attempts: in the database, shared by every server
    # process ("landmap+postgresql://"), or "memory://" (each process its own)
    ratelimit_storage: str = "landmap+postgresql://"
    # who made a printed map or PDF briefing (制图单位), printed beside the date it was made
    maker: str = "landmap"
    # a TrueType font with Chinese glyphs for PDFs (embedded); None: the first of
    # landmap.maps.pdf.FONT_PATHS found (Debian's fonts-wqy-zenhei, installed by setup.sh)
    pdf_font: Path | None = None
    testing: bool = False

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        url, app_url = _database_urls(env)
        # the local cluster's migrations create landmap_app; elsewhere it is opt-in
        role = env.get("LANDMAP_DB_ROLE", "" if env.get("DATABASE_URL") else "landmap_app")
        var_dir = Path(env.get("LANDMAP_VAR_DIR", str(PROJECT_ROOT / "var")))
        try:
            srid = int(env.get("LANDMAP_STORAGE_SRID", "4546"))
        except ValueError as exc:
            raise ConfigError("LANDMAP_STORAGE_SRID must be an EPSG code such as 4546") from exc
        cm = env.get("LANDMAP_GK_CENTRAL_MERIDIAN", "").strip()
        if cm and not cm.isdigit():
            raise ConfigError("LANDMAP_GK_CENTRAL_MERIDIAN must be whole degrees, e.g. 111")
        return cls(
            database_url=url,
            app_database_url=app_url,
            read_database_urls=_read_urls(env),
            replica_max_lag_seconds=_seconds(env, "LANDMAP_REPLICA_MAX_LAG_SECONDS", 5.0),
            session_idle_minutes=_int(env, "LANDMAP_SESSION_IDLE_MINUTES", 480),
            gk_central_meridian=int(cm) if cm else None,
            db_schema=env.get("LANDMAP_DB_SCHEMA", "public"),
            db_role=role,
            https=env.get("LANDMAP_HTTPS", "") in ("1", "true", "yes"),
            storage_srid=srid,
            region_bbox=_bbox(
                env.get("LANDMAP_REGION_BBOX", "110.0,28.8,111.0,29.5"), "LANDMAP_REGION_BBOX"
            ),
            basemap_url=env.get("LANDMAP_BASEMAP_URL", ""),
            basemap_attribution=env.get("LANDMAP_BASEMAP_ATTRIBUTION", ""),
            secret_key=env.get("LANDMAP_SECRET_KEY") or _secret_key(var_dir),
            personal_key=_personal_key(env, var_dir),
            var_dir=var_dir,
            documents_dir=Path(env.get("LANDMAP_DOCUMENTS_DIR", str(var_dir / "documents"))),
            max_upload_mb=_int(env, "LANDMAP_MAX_UPLOAD_MB", 50),
            sliver_width_m=float(_int(env, "LANDMAP_SLIVER_WIDTH_M", 5)),
            tile_cache_mb=_int(env, "LANDMAP_TILE_CACHE_MB", 128),
            tile_disk_mb=_int(env, "LANDMAP_TILE_DISK_MB", 512),
            tile_stale_seconds=float(_stale_seconds(env)),
            listen=env.get("LANDMAP_LISTEN", "1").strip().lower() not in _OFF,
            backup_warn_hours=_int(env, "LANDMAP_BACKUP_WARN_HOURS", 24),
            ratelimit_storage=_ratelimit_storage(env),
            maker=env.get("LANDMAP_MAKER", "").strip()[:200] or "landmap",
            pdf_font=Path(env["LANDMAP_PDF_FONT"]) if env.get("LANDMAP_PDF_FONT") else None,
        )

    def with_(self, **changes) -> Settings:
        """A copy with some settings changed. Another database_url without an
        app_database_url for it drops the app's: the web app never stays on the old database."""
        if "database_url" in changes and changes["database_url"] != self.database_url:
            changes.setdefault("app_database_url", "")
        return replace(self, **changes)
