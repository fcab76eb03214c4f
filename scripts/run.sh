#!/usr/bin/env bash
# Set up everything, load the demo zone and serve the map at http://127.0.0.1:5000
# (LANDMAP_HOST / LANDMAP_PORT change where).
# Started as root, the server runs as the unprivileged OS user "landmap" (a system user,
# created if missing): it alone may read var/ (the session key, documents, tile cache) and
# .pgdata/app_database_url. The project must then be readable by that user (every parent
# directory searchable): under /root it is not, and run.sh says so and stops. When only the
# venv's interpreter is out of its reach (a pyenv Python under /root), the system's Python of
# the same version runs the venv's packages.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
die() { printf 'run: %s\n' "$*" >&2; exit 1; }
./scripts/setup.sh
.venv/bin/python -m landmap db upgrade
.venv/bin/python -m landmap demo
.venv/bin/python -m landmap users demo-accounts
serve=(-m landmap serve --host "${LANDMAP_HOST:-127.0.0.1}" --port "${LANDMAP_PORT:-5000}")
[ "$(id -u)" = 0 ] || exec .venv/bin/python "${serve[@]}"

user=landmap
if ! id "$user" >/dev/null 2>&1; then
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "$user"
fi
for f in landmap/__init__.py templates/base.html static/css/landmap.css; do
  runuser -u "$user" -- test -r "$root/$f" ||
    die "the OS user '$user' cannot read $root/$f: move the project where it can (e.g. /opt/landmap) or make every directory above it searchable (chmod o+x)"
done
py=("$root/.venv/bin/python")
if ! runuser -u "$user" -- "${py[@]}" -c 'import flask, landmap' 2>/dev/null; then
  version=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
  py=(env "PYTHONPATH=$site" "/usr/bin/python$version")
  runuser -u "$user" -- "${py[@]}" -c 'import flask, landmap' 2>/dev/null ||
    die "the OS user '$user' can run neither $(readlink -f .venv/bin/python) nor /usr/bin/python$version with the packages of $site"
fi
var=${LANDMAP_VAR_DIR:-$root/var}
docs=${LANDMAP_DOCUMENTS_DIR:-$var/documents}
mkdir -p "$var" "$docs"
chown -R "$user:" "$var" "$docs"
chmod 700 "$var"
[ -f "$var/secret_key" ] && chmod 600 "$var/secret_key"
if [ -z "${DATABASE_URL:-}" ]; then
  appurl=${LANDMAP_PGDATA:-$root/.pgdata}/app_database_url
  chown "$user:" "$appurl"
  chmod 600 "$appurl"
fi
# setpriv execs (no root parent left waiting, as runuser would)
exec setpriv --reuid="$user" --regid="$user" --init-groups \
  env HOME=/nonexistent USER="$user" LOGNAME="$user" "${py[@]}" "${serve[@]}"
