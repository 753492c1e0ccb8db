#!/usr/bin/env bash
# Start or stop a throw-away PostgreSQL server for the test suite:
#   postgres.sh start DIR PORT   installs the Debian package if needed, initdb in DIR, starts it,
#                                creates role ccflare/ccflare (CREATEDB) and database ccflare
#   postgres.sh stop DIR PORT
set -euo pipefail
action="$1" dir="$2" port="$3"

as_postgres() {
    if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}

bindir() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

install_if_missing() {
    if [ -z "$(bindir)" ]; then
        export DEBIAN_FRONTEND=noninteractive
        SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
        $SUDO apt-get update -q
        $SUDO apt-get install -y -q postgresql
    fi
}

case "$action" in
start)
    install_if_missing
    bin="$(bindir)"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_postgres "$bin/initdb -D '$dir/data' -U postgres -A trust >/dev/null"
    as_postgres "$bin/pg_ctl -D '$dir/data' -o '-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off' -l '$dir/log' -w start"
    as_postgres "$bin/psql -h 127.0.0.1 -p $port -U postgres -v ON_ERROR_STOP=1 -q \
        -c \"CREATE ROLE ccflare LOGIN PASSWORD 'ccflare' CREATEDB\" \
        -c \"CREATE DATABASE ccflare OWNER ccflare\""
    ;;
stop)
    bin="$(bindir)"
    as_postgres "$bin/pg_ctl -D '$dir/data' -m fast -w stop" || true
    rm -rf "$dir"
    ;;
esac
