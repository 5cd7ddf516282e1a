# shellcheck shell=bash
# shellcheck disable=SC2034  # REDIS_URL_FOR_TESTS is read by scripts/test
# Sourced by scripts/test: a throwaway Redis server for one test run.
#
#   redis_start   installs Debian's redis-server package if it is missing, starts a server on
#                 127.0.0.1 on a free port, without persistence, in a new temporary folder, and
#                 sets REDIS_URL_FOR_TESTS.
#   redis_stop    stops the server and removes the folder; safe to call more than once.
#
# No password: it listens on loopback only and lives for one run.

# shellcheck source=SCRIPTDIR/system.sh
source scripts/lib/system.sh

REDIS_TMPDIR=""
REDIS_URL_FOR_TESTS=""

redis_start() {
    if ! command -v redis-server >/dev/null 2>&1; then
        apt_install redis-server redis-server || return 1
    fi
    REDIS_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/oneapp-test-redis.XXXXXX")
    # A free port can be taken between choosing and binding it: try a few.
    local port attempt
    for attempt in 1 2 3 4 5; do
        port=$(free_loopback_port)
        cat >"$REDIS_TMPDIR/redis.conf" <<EOF
bind 127.0.0.1
port $port
dir $REDIS_TMPDIR
pidfile $REDIS_TMPDIR/redis.pid
logfile $REDIS_TMPDIR/redis.log
daemonize yes
save ""
appendonly no
EOF
        redis-server "$REDIS_TMPDIR/redis.conf" >/dev/null 2>&1 || true
        if _redis_wait "$port"; then
            REDIS_URL_FOR_TESTS="redis://127.0.0.1:$port/0"
            return 0
        fi
        if [[ $attempt -eq 5 ]]; then
            echo "error: redis-server did not start; its log follows" >&2
            cat "$REDIS_TMPDIR/redis.log" >&2 || true
            return 1
        fi
    done
}

# Whether a server answers PING on the port within about 10 s.
_redis_wait() {
    local port=$1
    for _ in $(seq 100); do
        if [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

redis_stop() {
    [[ -n $REDIS_TMPDIR && -d $REDIS_TMPDIR ]] || return 0
    local pid
    if [[ -f $REDIS_TMPDIR/redis.pid ]]; then
        pid=$(cat "$REDIS_TMPDIR/redis.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 100); do # it ends within a moment; then it is killed
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -rf "$REDIS_TMPDIR"
    REDIS_TMPDIR=""
}
