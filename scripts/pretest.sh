#!/usr/bin/env bash
# Provisions what the test suite needs on a Debian 12 machine where we are root: system packages and a
# running PostgreSQL 15 with the `polly_test` role and database. Idempotent, and quick (well under 2 s)
# when everything is already in place. Runs with no stdin and under CI=true. Concurrent runs are
# serialised by a lock file, so two at once never race on apt or on the database.
set -euo pipefail

PACKAGES=(btrfs-progs xfsprogs e2fsprogs util-linux postgresql-15 docker.io busybox-static iproute2 chromium bash-completion zsh fish
  ceph-mon ceph-osd ceph-mgr ceph-mds ceph-common rbd-fuse ceph-fuse
  cinder-api cinder-scheduler cinder-volume rabbitmq-server python3-psycopg2
  keystone uwsgi-core uwsgi-plugin-python3)
PG_VERSION=15
PG_CLUSTER=main
PG_HOST=127.0.0.1
PG_PORT=5432
TEST_ROLE=polly_test
TEST_PASSWORD=polly_test
TEST_DB=polly_test
PG_READY_TIMEOUT_S=60

started_at=$(date +%s%N)
log() { printf 'pretest: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (installs packages and starts PostgreSQL)"
exec </dev/null

# One run at a time: apt and cluster creation must not interleave. A second run waits, then finds
# everything done and leaves quickly.
lock_dir=/run/lock
[[ -d $lock_dir && -w $lock_dir ]] || lock_dir=/tmp
# Commands that may leave a daemon behind (apt maintainer scripts, pg_ctlcluster) run with `9>&-`:
# a daemon inheriting fd 9 would hold the lock forever.
exec 9>"$lock_dir/polly-pretest.lock"
if ! flock -w 900 9; then
  die "another pretest run has held $lock_dir/polly-pretest.lock for 15 minutes"
fi

# --- Debian packages --------------------------------------------------------------------------------
missing=()
for pkg in "${PACKAGES[@]}"; do
  # `dpkg -s` succeeds for removed-but-configured packages too; require the installed state.
  if ! dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -qx installed; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]} > 0)); then
  log "installing ${missing[*]} (first run only; this can take a few minutes)"
  export DEBIAN_FRONTEND=noninteractive
  # Cinder's and Keystone's packages would otherwise configure a database, an admin and endpoints of
  # their own; the tests run both by hand with private configurations.
  debconf-set-selections <<'SEL'
cinder-common cinder/configure_db boolean false
cinder-api cinder/register-endpoint boolean false
keystone keystone/configure_db boolean false
keystone keystone/create-admin-tenant boolean false
keystone keystone/register-endpoint boolean false
SEL
  apt-get update -qq >/dev/null 9>&- || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null 9>&- ||
    die "apt-get install ${missing[*]} failed"
  pkg_summary="installed ${missing[*]}"
else
  pkg_summary="packages present"
fi

# --- PostgreSQL 15 ----------------------------------------------------------------------------------
cluster_status() {
  pg_lsclusters --no-header 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c { print $4 }'
}

status=$(cluster_status)
if [[ -z $status ]]; then
  log "creating PostgreSQL cluster $PG_VERSION/$PG_CLUSTER"
  pg_createcluster --port="$PG_PORT" "$PG_VERSION" "$PG_CLUSTER" >/dev/null 9>&-
  status=$(cluster_status)
fi
pg_summary="postgresql $PG_VERSION/$PG_CLUSTER running"
if [[ $status != online* ]]; then
  if ! pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" start 9>&-; then
    tail -n 20 "/var/log/postgresql/postgresql-$PG_VERSION-$PG_CLUSTER.log" >&2 || true
    die "could not start PostgreSQL $PG_VERSION/$PG_CLUSTER"
  fi
  pg_summary="postgresql $PG_VERSION/$PG_CLUSTER started"
fi

deadline=$((SECONDS + PG_READY_TIMEOUT_S))
until pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2; do
  ((SECONDS < deadline)) || die "PostgreSQL not accepting connections on $PG_HOST:$PG_PORT after ${PG_READY_TIMEOUT_S}s"
  sleep 0.2
done

# Runs psql as the postgres superuser over the local socket (peer auth). `cd /` avoids a warning when
# the current directory is not readable by postgres.
as_postgres_psql() {
  (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" "$@")
}

# Fast path: the test role can log in over TCP with its password, to its database, and may create
# databases. One connection proves all of that.
probe_test_role() {
  PGPASSWORD=$TEST_PASSWORD PGCONNECT_TIMEOUT=5 psql -X -q -At -h "$PG_HOST" -p "$PG_PORT" -U "$TEST_ROLE" -d "$TEST_DB" \
    -c "select rolcreatedb and pg_has_role(current_user, 'pg_signal_backend', 'member') from pg_roles where rolname = current_user" 2>/dev/null || true
}

if [[ $(probe_test_role) != t ]]; then
  log "creating role and database $TEST_ROLE"
  as_postgres_psql -d postgres <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$TEST_ROLE') THEN
    CREATE ROLE $TEST_ROLE LOGIN CREATEDB PASSWORD '$TEST_PASSWORD';
  ELSE
    ALTER ROLE $TEST_ROLE LOGIN CREATEDB PASSWORD '$TEST_PASSWORD';
  END IF;
END
\$\$;
SELECT 'CREATE DATABASE $TEST_DB OWNER $TEST_ROLE'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$TEST_DB')
\gexec
ALTER DATABASE $TEST_DB OWNER TO $TEST_ROLE;
-- Tests drop their databases with (force); that may need to end a background worker on it.
GRANT pg_signal_backend TO $TEST_ROLE;
SQL
  [[ $(probe_test_role) == t ]] || die "role $TEST_ROLE still cannot log in to $TEST_DB on $PG_HOST:$PG_PORT"
fi

elapsed_ms=$((($(date +%s%N) - started_at) / 1000000))
printf 'pretest: %s; %s; test db postgres://%s:%s@%s:%s/%s ready (%d ms)\n' \
  "$pkg_summary" "$pg_summary" "$TEST_ROLE" "$TEST_PASSWORD" "$PG_HOST" "$PG_PORT" "$TEST_DB" "$elapsed_ms"
