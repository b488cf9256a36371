#!/usr/bin/env bash
# The whole test suite. Uses FLOODWATCH_TEST_DATABASE_URL where given (a PostgreSQL + PostGIS
# server where the user may create databases); otherwise installs and starts a local
# PostgreSQL with PostGIS and creates a test role and a PostGIS template database in it.
# Extra arguments go to pytest.
source "$(dirname "$0")/setup.sh"
setup_venv test
apt_install chromium  # the browser tests drive the system Chromium through Playwright
cd "$ROOT"

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

local_postgis() {
  command -v pg_lsclusters >/dev/null 2>&1 || apt_install postgresql
  local ver port
  ver="$(pg_lsclusters --no-header | awk 'NR==1 {print $1}')"
  if [ -z "$ver" ]; then
    ver="$(ls /usr/lib/postgresql | sort -n | tail -1)"
    as_root pg_createcluster "$ver" main >/dev/null
  fi
  apt_install "postgresql-$ver-postgis-3"
  port="$(pg_lsclusters --no-header | awk -v v="$ver" '$1==v {print $3; exit}')"
  if ! pg_lsclusters --no-header | awk -v v="$ver" '$1==v && $4=="online" {f=1} END {exit !f}'; then
    log "starting PostgreSQL $ver"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || [ $? = 2 ]
  fi
  as_postgres psql -q -p "$port" -v ON_ERROR_STOP=1 -d postgres >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'floodwatch_test') THEN
    CREATE ROLE floodwatch_test LOGIN CREATEDB PASSWORD 'floodwatch_test';
  END IF;
END \$\$;
SQL
  if ! as_postgres psql -tA -p "$port" -d postgres -c \
      "SELECT 1 FROM pg_database WHERE datname = 'floodwatch_test_template'" | grep -q 1; then
    log "creating the PostGIS template database floodwatch_test_template"
    as_postgres psql -q -p "$port" -v ON_ERROR_STOP=1 -d postgres \
      -c "CREATE DATABASE floodwatch_test_template OWNER floodwatch_test"
    as_postgres psql -q -p "$port" -v ON_ERROR_STOP=1 -d floodwatch_test_template \
      -c "CREATE EXTENSION IF NOT EXISTS postgis" \
      -c "ALTER DATABASE floodwatch_test_template IS_TEMPLATE true"
  fi
  export FLOODWATCH_TEST_DATABASE_URL="postgresql+psycopg://floodwatch_test:floodwatch_test@127.0.0.1:$port/postgres"
  export FLOODWATCH_TEST_TEMPLATE="floodwatch_test_template"
}

if [ -z "${FLOODWATCH_TEST_DATABASE_URL:-}" ]; then
  local_postgis
fi
log "running the tests (PostGIS: ${FLOODWATCH_TEST_DATABASE_URL%%@*}@…)"
exec python -m pytest "$@"
