#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite, on loopback only.
#
#   scripts/postgres-test.sh start   # prints the database URL on stdout (messages go to stderr)
#   scripts/postgres-test.sh url     # prints the URL of the running cluster
#   scripts/postgres-test.sh status  # exit 0 when running
#   scripts/postgres-test.sh stop    # stops the cluster and removes its directory
#
# The cluster lives in a fresh ${TMPDIR:-/tmp}/s4a-pg-XXXXXX directory owned by the
# `postgres` OS user (PostgreSQL refuses to run as root), listens on 127.0.0.1 only
# (S4A_PG_PORT, default 55432, or the next free port), trusts local and loopback
# connections, and holds one database, s4a_test. Its state (directory, port, URL) is
# recorded under .build-pg/ (S4A_PG_STATE_DIR) so `stop` and `make` can find it.
# `start` while a recorded cluster runs reuses it with a freshly recreated database.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR=${S4A_PG_STATE_DIR:-$ROOT/.build-pg}
STATE_FILE=$STATE_DIR/state
URL_FILE=$STATE_DIR/url
BASE_PORT=${S4A_PG_PORT:-55432}
DB=s4a_test
PG_USER=postgres

say() { echo "postgres-test: $*" >&2; }
die() { say "error: $*"; exit 1; }

pg_bindir() {
    if [[ -n ${PG_BIN:-} ]]; then echo "$PG_BIN"; return; fi
    local d
    # Prefer 15 (Debian 12's), else the newest installed major version.
    for d in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x $d/initdb && -x $d/pg_ctl ]]; then echo "$d"; return; fi
    done
    if command -v pg_config >/dev/null 2>&1 && [[ -x $(pg_config --bindir)/initdb ]]; then
        pg_config --bindir; return
    fi
    die "no PostgreSQL server binaries found (apt-get install -y postgresql, or set PG_BIN)"
}

# Run a command as the postgres OS user (directly when we are not root).
as_pg() {
    if [[ $(id -u) -eq 0 ]]; then
        id -u "$PG_USER" >/dev/null 2>&1 || die "OS user '$PG_USER' is missing (apt-get install -y postgresql creates it)"
        (cd / && runuser -u "$PG_USER" -- "$@")
    else
        (cd / && "$@")
    fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
    local p
    for ((p = BASE_PORT; p < BASE_PORT + 100; p++)); do
        port_in_use "$p" || { echo "$p"; return; }
    done
    die "no free port in $BASE_PORT..$((BASE_PORT + 99))"
}

load_state() {
    PG_DIR='' PG_PORT=''
    [[ -f $STATE_FILE ]] || return 1
    PG_DIR=$(sed -n 's/^dir=//p' "$STATE_FILE")
    PG_PORT=$(sed -n 's/^port=//p' "$STATE_FILE")
    [[ -n $PG_DIR && -n $PG_PORT ]]
}

is_running() {
    load_state || return 1
    [[ -d $PG_DIR/data ]] || return 1
    as_pg "$BIN/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1 &&
        "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 5
}

url_for() { echo "postgres://$PG_USER@127.0.0.1:$1/$DB?sslmode=disable"; }

# Only ever delete directories this script created.
remove_dir() {
    local d=$1
    [[ -n $d && $(basename "$d") == s4a-pg-* && -d $d ]] || return 0
    rm -rf -- "$d"
}

recreate_db() {
    local psql=(env PGOPTIONS="-c client_min_messages=warning" "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres)
    "${psql[@]}" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
    "${psql[@]}" -c "CREATE DATABASE $DB" >/dev/null
    "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -tA "$(url_for "$PG_PORT")" -c 'SELECT 1' >/dev/null
}

cmd_stop() {
    if load_state; then
        if [[ -d $PG_DIR/data ]]; then
            as_pg "$BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
        fi
        remove_dir "$PG_DIR"
        say "stopped the cluster on port $PG_PORT and removed $PG_DIR"
    else
        say "no cluster recorded in $STATE_FILE"
    fi
    rm -f "$STATE_FILE" "$URL_FILE"
}

cmd_start() {
    mkdir -p "$STATE_DIR"
    if is_running; then
        say "reusing the running cluster in $PG_DIR on port $PG_PORT"
        recreate_db
        url_for "$PG_PORT" | tee "$URL_FILE"
        return
    fi
    # Something recorded but not answering: clear it away and start clean.
    [[ -f $STATE_FILE ]] && cmd_stop

    PG_PORT=$(free_port)
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/s4a-pg-XXXXXX")
    if [[ $(id -u) -eq 0 ]]; then
        id -u "$PG_USER" >/dev/null 2>&1 || { rmdir "$PG_DIR"; die "OS user '$PG_USER' is missing"; }
        chown "$PG_USER:" "$PG_DIR"
    fi
    chmod 0700 "$PG_DIR"
    printf 'dir=%s\nport=%s\n' "$PG_DIR" "$PG_PORT" >"$STATE_FILE"

    say "initdb in $PG_DIR/data ($("$BIN/postgres" --version))"
    if ! as_pg "$BIN/initdb" -D "$PG_DIR/data" -U "$PG_USER" --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 --no-instructions >"$PG_DIR/initdb.log" 2>&1; then
        cat "$PG_DIR/initdb.log" >&2
        cmd_stop
        die "initdb failed"
    fi
    # Loopback only, trust for local and loopback (initdb's --auth=trust writes exactly
    # those pg_hba lines), sockets in our own directory, no durability (throwaway).
    cat >>"$PG_DIR/data/postgresql.conf" <<EOF

# scripts/postgres-test.sh
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DIR'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    if ! as_pg "$BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start >/dev/null; then
        cat "$PG_DIR/server.log" >&2 || true
        cmd_stop
        die "the server did not start"
    fi
    recreate_db
    say "PostgreSQL is up on 127.0.0.1:$PG_PORT (data in $PG_DIR)"
    url_for "$PG_PORT" | tee "$URL_FILE"
}

BIN=$(pg_bindir)
case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status)
        if is_running; then say "running on port $PG_PORT ($PG_DIR)"; else say "not running"; exit 1; fi ;;
    url)
        is_running || die "not running"
        url_for "$PG_PORT" ;;
    *)
        echo "usage: $0 start|stop|status|url" >&2
        exit 2 ;;
esac
