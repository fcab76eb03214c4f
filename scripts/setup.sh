#!/usr/bin/env bash
# Set up everything landmap needs on Debian 12, idempotently:
#   - Debian packages that are missing (PostgreSQL 15 + PostGIS 3; with --test also Chromium),
#   - the virtualenv .venv with requirements.txt,
#   - unless DATABASE_URL is set: a project-local PostGIS cluster in .pgdata/ (git-ignored),
#     started on 127.0.0.1:$LANDMAP_PGPORT (default 54329) as a non-root OS user, with the
#     databases "landmap" and "landmap_test". Its URL is written to .pgdata/database_url,
#     which landmap reads when DATABASE_URL is unset.
# Run as root or as a user with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Debian packages
# fonts-wqy-zenhei: the TrueType font with Chinese glyphs that PDF briefings embed
pkgs=(postgresql-15 postgresql-15-postgis-3 python3-venv fonts-wqy-zenhei)
[ "$want_test" = 1 ] && pkgs+=(chromium gdal-bin)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# python3-venv is only needed when the running python3 cannot make a venv by itself.
if python3 -c 'import venv, ensurepip' 2>/dev/null; then
  missing=("${missing[@]/python3-venv}")
fi
missing=($(printf '%s\n' "${missing[@]}" | sed '/^$/d'))
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  # another apt (unattended upgrades on a fresh machine) may hold the dpkg lock: wait for it
  lock_wait=${LANDMAP_APT_LOCK_WAIT:-600}
  if command -v fuser >/dev/null && fuser /var/lib/dpkg/lock-frontend >/dev/null 2>&1; then
    say "another apt process holds the dpkg lock: waiting up to ${lock_wait}s for it"
  fi
  apt_opts=(-o "DPkg::Lock::Timeout=$lock_wait")
  as_root apt-get "${apt_opts[@]}" update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. Python virtualenv
py=${LANDMAP_PYTHON:-python3.11}
command -v "$py" >/dev/null || py=python3
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $($py --version)"
  "$py" -m venv .venv
fi
stamp=.venv/.requirements.sha256
if [ ! -f "$stamp" ] || ! sha256sum -c --status "$stamp" 2>/dev/null; then
  say "installing requirements.txt into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  sha256sum requirements.txt > "$stamp"
fi

# 3. Database
if [ -n "${DATABASE_URL:-}" ]; then
  say "using DATABASE_URL; no local cluster"
  exit 0
fi
exec "$root/scripts/localdb.sh" start
