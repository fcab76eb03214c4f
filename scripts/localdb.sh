#!/usr/bin/env bash
# The project-local PostGIS cluster: scripts/localdb.sh start|stop|status|url|allow-replication
# The cluster lives in .pgdata/ (or $LANDMAP_PGDATA), listens on 127.0.0.1:$LANDMAP_PGPORT
# (default 54329) and runs as a non-root OS user: PostgreSQL refuses to run as root, so as root
# it runs as "postgres" (created by Debian's postgresql-common). Superuser "landmap" with a
# random password; the URL of the "landmap" database is kept in .pgdata/database_url (mode 600).
# The web app logs in as "landmap_app" (LOGIN, no superuser, owns nothing), with a password
# of its own: its URL is in .pgdata/app_database_url (mode 600; scripts/run.sh hands it to the
# OS user the server runs as).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
pgdir=${LANDMAP_PGDATA:-$root/.pgdata}
port=${LANDMAP_PGPORT:-54329}
bin=/usr/lib/postgresql/15/bin
say() { printf '\033[1mlocaldb:\033[0m %s\n' "$*"; }
die() { printf 'localdb: %s\n' "$*" >&2; exit 1; }

[ -x "$bin/pg_ctl" ] || die "PostgreSQL 15 is not installed: run scripts/setup.sh"

if [ "$(id -u)" = 0 ]; then
  pguser=postgres
  id "$pguser" >/dev/null 2>&1 || die "no OS user 'postgres' to run the cluster as"
  as_pg() { runuser -u "$pguser" -- "$@"; }
else
  pguser=$(id -un)
  as_pg() { "$@"; }
fi

mkdir -p "$pgdir"
chmod 700 "$pgdir"
# Where the cluster files go: inside .pgdata, unless the cluster's OS user cannot reach it
# (a project under /root, say); then under /var/lib/landmap, linked from .pgdata/data.
cluster=$pgdir/data
if [ ! -e "$cluster" ]; then
  if [ "$(id -u)" = 0 ] && ! runuser -u "$pguser" -- test -x "$(dirname "$pgdir")"; then
    alt=/var/lib/landmap/$(printf '%s' "$pgdir" | sha256sum | cut -c1-12)
    mkdir -p "$alt/data"
    ln -s "$alt/data" "$cluster"
  else
    mkdir -p "$cluster"
  fi
fi
cluster=$(readlink -f "$cluster")
run=$cluster/../run
mkdir -p "$run"
run=$(readlink -f "$run")
if [ "$(id -u)" = 0 ]; then
  chown "$pguser" "$cluster" "$run"
  # the cluster's OS user must be able to traverse into .pgdata
  chmod 711 "$pgdir"
fi
chmod 700 "$cluster"
urlfile=$pgdir/database_url
appurlfile=$pgdir/app_database_url
log=$run/postgres.log

pgctl() { as_pg "$bin/pg_ctl" -D "$cluster" "$@"; }
running() { pgctl status >/dev/null 2>&1; }

init_cluster() {
  say "initialising a PostGIS cluster in $cluster (OS user $pguser)"
  local pw pwfile
  pw=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  pwfile=$(mktemp)
  printf '%s\n' "$pw" > "$pwfile"
  chmod 644 "$pwfile"
  as_pg "$bin/initdb" -D "$cluster" -U landmap --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  (umask 077; printf 'postgresql://landmap:%s@127.0.0.1:%s/landmap\n' "$pw" "$port" > "$urlfile")
}

# the web app's login role: created, or made a plain LOGIN role with the password of
# app_database_url (a new one when the file is missing); the password goes through stdin
app_role() {
  local pw=""
  [ -f "$appurlfile" ] && pw=$(sed -n 's|^postgresql://landmap_app:\([0-9a-f]*\)@.*|\1|p' "$appurlfile")
  if [ -z "$pw" ]; then
    pw=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    rm -f "$appurlfile"
  fi
  printf '%s\n' "SET client_min_messages = warning;" \
    "SELECT format('%s ROLE landmap_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
       NOBYPASSRLS PASSWORD %L', CASE WHEN EXISTS (SELECT 1 FROM pg_roles
       WHERE rolname = 'landmap_app') THEN 'ALTER' ELSE 'CREATE' END, '$pw') \\gexec" |
    as_pg "$bin/psql" -q -X -v ON_ERROR_STOP=1 -h "$run" -p "$port" -U landmap -d postgres \
      >/dev/null
  if [ ! -f "$appurlfile" ]; then
    (umask 077
     printf 'postgresql://landmap_app:%s@127.0.0.1:%s/landmap\n' "$pw" "$port" > "$appurlfile")
  fi
}

# streaming replicas (pg_basebackup -R; tests/db/test_replicas.py makes one) connect from
# 127.0.0.1 with a password, as a role with REPLICATION: initdb writes this line, a cluster
# without it gets it added (and reloaded when running)
allow_replication() {
  local hba=$cluster/pg_hba.conf
  grep -Eq '^host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32' "$hba" && return
  printf 'host    replication     all             127.0.0.1/32            scram-sha-256\n' >> "$hba"
  if running; then pgctl reload >/dev/null; fi
  say "replication connections from 127.0.0.1 allowed ($hba)"
}

start() {
  [ -f "$cluster/PG_VERSION" ] || init_cluster
  allow_replication
  [ -f "$urlfile" ] || die "$urlfile is missing; remove $pgdir to start afresh"
  if ! running; then
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      die "port $port is taken by another server: set LANDMAP_PGPORT"
    fi
    say "starting PostgreSQL on 127.0.0.1:$port"
    pgctl -l "$log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $run -c synchronous_commit=off" \
      >/dev/null || { tail -20 "$log" >&2; die "PostgreSQL did not start (log: $log)"; }
  fi
  for db in landmap landmap_test; do
    if ! as_pg "$bin/psql" -h "$run" -p "$port" -U landmap -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
      as_pg "$bin/createdb" -h "$run" -p "$port" -U landmap "$db"
    fi
    as_pg "$bin/psql" -q -h "$run" -p "$port" -U landmap -d "$db" \
      -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
  done
  app_role
  say "ready: databases landmap and landmap_test on 127.0.0.1:$port"
}

case "${1:-status}" in
  start) start ;;
  stop) running && pgctl -m fast stop >/dev/null; say "stopped" ;;
  status) if running; then say "running on 127.0.0.1:$port"; else say "not running"; exit 3; fi ;;
  allow-replication) allow_replication ;;
  url) cat "$urlfile" ;;
  app-url) cat "$appurlfile" ;;
  *) die "usage: scripts/localdb.sh start|stop|status|url|app-url|allow-replication" ;;
esac
