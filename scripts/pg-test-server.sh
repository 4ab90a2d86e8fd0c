#!/usr/bin/env bash
# Start a local PostgreSQL for the storage tests and print its URL on stdout (all else goes to stderr):
#
#   export KB_TEST_POSTGRES_URL="$(sudo bash scripts/pg-test-server.sh)"
#   .venv/bin/pytest tests/store tests/caselog tests/identity tests/integrations
#
# Debian/Ubuntu, as root. Installs the server with apt-get if it is missing, creates and starts the
# "main" cluster of the newest installed version, and creates role firstline (password firstline)
# owning database firstline_test. Safe to run again: it only does what is not done yet.
set -euo pipefail

ROLE=firstline
PASSWORD=firstline
DATABASE=firstline_test

say() { echo "pg-test-server: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    say "run this as root (it installs and starts PostgreSQL), e.g. sudo bash $0"
    exit 1
fi

newest_version() {
    ls /usr/lib/postgresql 2>/dev/null | sort -V | while read -r v; do
        [ -x "/usr/lib/postgresql/$v/bin/postgres" ] && echo "$v"
    done | tail -n 1
}

if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(newest_version)" ]; then
    say "installing postgresql with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q postgresql >&2
fi
VERSION="$(newest_version)"
if [ -z "$VERSION" ]; then
    say "no PostgreSQL server binaries under /usr/lib/postgresql after installing; giving up"
    exit 1
fi

if ! pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main" {found = 1} END {exit !found}'; then
    say "creating cluster $VERSION/main"
    pg_createcluster "$VERSION" main >&2
fi
if ! pg_ctlcluster "$VERSION" main status >/dev/null 2>&1; then
    say "starting cluster $VERSION/main"
    pg_ctlcluster "$VERSION" main start >&2
fi
PORT="$(pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main" {print $3}')"

for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p "$PORT" && break
    sleep 1
done
pg_isready -q -h 127.0.0.1 -p "$PORT" || { say "the server does not answer on 127.0.0.1:$PORT"; exit 1; }

psql_admin() { runuser -u postgres -- psql -p "$PORT" -X -q -v ON_ERROR_STOP=1 "$@"; }

if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != "1" ]; then
    say "creating role $ROLE"
    psql_admin -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'" >&2
fi
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != "1" ]; then
    say "creating database $DATABASE"
    psql_admin -c "CREATE DATABASE $DATABASE OWNER $ROLE" >&2
fi

echo "postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
