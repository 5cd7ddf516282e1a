# shellcheck shell=bash
# shellcheck disable=SC2034  # PG_MAJOR and PG_DATABASE_URL are read by scripts/test
# Sourced by scripts/test: a throwaway PostgreSQL server for one test run.
#
#   pg_start   installs Debian's postgresql package if its server is missing, creates a cluster
#              in a new temporary folder, starts it on 127.0.0.1 on a free port, creates a role
#              and a database, and sets PG_MAJOR and PG_DATABASE_URL.
#   pg_stop    stops the server and removes the folder; safe to call more than once.
#
# As root, the server runs as the unprivileged `postgres` user (PostgreSQL refuses root);
# otherwise as the current user. Authentication is `trust`: it listens on loopback only and
# lives for one run.

# shellcheck source=SCRIPTDIR/system.sh
source scripts/lib/system.sh

PG_BINDIR=""
PG_MAJOR=""
PG_TMPDIR=""
PG_DATABASE_URL=""
PG_ROLE=oneapp
PG_DB=oneapp

_pg_find_bindir() {
    local dir
    PG_BINDIR=""
    # The newest installed major version wins.
    for dir in $(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V); do
        if [[ -x $dir/postgres && -x $dir/initdb && -x $dir/pg_ctl && -x $dir/psql ]]; then
            PG_BINDIR=$dir
        fi
    done
    [[ -n $PG_BINDIR ]]
}

# Run a server command as the user the cluster belongs to, from inside the cluster's folder
# (initdb fails when it cannot read the current directory).
_pg_as_owner() {
    if [[ $EUID -eq 0 ]]; then
        (cd "$PG_TMPDIR" && runuser -u postgres -- "$@")
    else
        (cd "$PG_TMPDIR" && "$@")
    fi
}

pg_start() {
    if ! _pg_find_bindir; then
        apt_install "the PostgreSQL server (no /usr/lib/postgresql/*/bin/postgres)" postgresql
        _pg_find_bindir || {
            echo "error: postgresql was installed but no server was found in /usr/lib/postgresql/*/bin" >&2
            return 1
        }
    fi
    PG_MAJOR=$(basename "$(dirname "$PG_BINDIR")")

    if [[ $EUID -eq 0 ]] && ! id -u postgres >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin postgres
    fi

    PG_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/oneapp-test-pg.XXXXXX")
    mkdir "$PG_TMPDIR/socket"
    [[ $EUID -ne 0 ]] || chown -R postgres: "$PG_TMPDIR"

    _pg_as_owner "$PG_BINDIR/initdb" --pgdata="$PG_TMPDIR/data" --username=postgres \
        --auth=trust --encoding=UTF8 --no-locale --no-sync >"$PG_TMPDIR/initdb.log" 2>&1 || {
        cat "$PG_TMPDIR/initdb.log" >&2
        return 1
    }

    # Loopback only; durability off, since the data is thrown away after the run.
    # (pg_ctl hands these options to a shell on one line.)
    local opts="-c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_TMPDIR/socket"
    opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"

    # A free port can be taken between choosing and binding it: try a few.
    local port attempt
    for attempt in 1 2 3 4 5; do
        port=$(free_loopback_port)
        if _pg_as_owner "$PG_BINDIR/pg_ctl" --pgdata="$PG_TMPDIR/data" --log="$PG_TMPDIR/server.log" \
            --wait --timeout=60 --silent start \
            -o "$opts -c port=$port"; then
            break
        fi
        if [[ $attempt -eq 5 ]]; then
            echo "error: PostgreSQL did not start; its log follows" >&2
            cat "$PG_TMPDIR/server.log" >&2
            return 1
        fi
    done

    "$PG_BINDIR/psql" --quiet --no-psqlrc -v ON_ERROR_STOP=1 \
        --host=127.0.0.1 --port="$port" --username=postgres --dbname=postgres \
        -c "CREATE ROLE $PG_ROLE LOGIN CREATEDB" \
        -c "CREATE DATABASE $PG_DB OWNER $PG_ROLE" >/dev/null
    PG_DATABASE_URL="postgres://$PG_ROLE@127.0.0.1:$port/$PG_DB"
}

pg_stop() {
    [[ -n $PG_TMPDIR && -d $PG_TMPDIR ]] || return 0
    if [[ -f $PG_TMPDIR/data/postmaster.pid ]]; then
        _pg_as_owner "$PG_BINDIR/pg_ctl" --pgdata="$PG_TMPDIR/data" --mode=immediate --wait \
            --silent stop >/dev/null 2>&1 || true
    fi
    rm -rf "$PG_TMPDIR"
    PG_TMPDIR=""
}
