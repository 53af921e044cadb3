# Throw-away PostgreSQL for the test suite, on 127.0.0.1 only.
#
#   source .ci/pg.sh          # starts a server, exports PENDO_TUI_TEST_PG_URL, prints it
#   pendo_pg_stop             # stops it and deletes its data directory
#
# Meant to be sourced (by developers and by .ci/run), so it sets no shell options and
# never exits the caller's shell: failures return non-zero. Set PENDO_PG_ALLOW_INSTALL=1
# to let it `apt-get install postgresql` when no server binaries are found (CI does).
# The server is tuned for tests only (fsync off): never point it at data you keep.

_pendo_pg_log() { printf 'pg.sh: %s\n' "$*" >&2; }

_pendo_pg_bindir() {
    local dir
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    # Debian/Ubuntu keep them off PATH, one folder per major version: take the newest.
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

_pendo_pg_free_port() {
    python3 - <<'PY'
import socket
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
PY
}

# Run a PostgreSQL binary as the postgres user when we are root (initdb refuses root).
_pendo_pg_as_owner() {
    if [ "$(id -u)" = "0" ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pendo_pg_stop() {
    if [ -n "${PENDO_PG_DATA:-}" ] && [ -d "$PENDO_PG_DATA" ]; then
        _pendo_pg_as_owner "$PENDO_PG_BIN/pg_ctl" -D "$PENDO_PG_DATA" -m fast -w stop \
            >/dev/null 2>&1 || true
        rm -rf "$PENDO_PG_DATA"
        _pendo_pg_log "stopped the test server and removed $PENDO_PG_DATA"
    fi
    unset PENDO_PG_DATA PENDO_TUI_TEST_PG_URL
}

pendo_pg_start() {
    local bindir port data
    if ! bindir="$(_pendo_pg_bindir)"; then
        if [ "${PENDO_PG_ALLOW_INSTALL:-0}" = "1" ] && command -v apt-get >/dev/null 2>&1; then
            _pendo_pg_log "no PostgreSQL binaries found: installing the postgresql package"
            DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null ||
                return 1
            bindir="$(_pendo_pg_bindir)" || return 1
        else
            _pendo_pg_log "no initdb/pg_ctl found. Install PostgreSQL (e.g. apt-get install" \
                "postgresql) or set PENDO_TUI_TEST_PG_URL to a server you own."
            return 1
        fi
    fi
    if [ "$(id -u)" = "0" ] && ! id postgres >/dev/null 2>&1; then
        _pendo_pg_log "running as root but there is no 'postgres' user to own the server"
        return 1
    fi
    port="$(_pendo_pg_free_port)" || return 1
    data="$(mktemp -d "${TMPDIR:-/tmp}/pendo-tui-pg.XXXXXX")" || return 1
    chmod 700 "$data"
    [ "$(id -u)" = "0" ] && chown postgres "$data"
    if ! _pendo_pg_as_owner "$bindir/initdb" -D "$data" -A trust -U postgres -E UTF8 \
        >"$data.initdb.log" 2>&1; then
        _pendo_pg_log "initdb failed:"; cat "$data.initdb.log" >&2
        rm -rf "$data" "$data.initdb.log"
        return 1
    fi
    rm -f "$data.initdb.log"
    # TCP on loopback only; the unix socket lives in the data dir, not /var/run.
    if ! _pendo_pg_as_owner "$bindir/pg_ctl" -D "$data" -w -t 60 -l "$data/server.log" \
        -o "-h 127.0.0.1 -p $port -k $data -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null; then
        _pendo_pg_log "the server did not start:"; cat "$data/server.log" >&2
        rm -rf "$data"
        return 1
    fi
    export PENDO_PG_BIN="$bindir"
    export PENDO_PG_DATA="$data"
    export PENDO_TUI_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
    _pendo_pg_log "PostgreSQL $("$bindir/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port" \
        "(data $data); stop it with: pendo_pg_stop"
    echo "export PENDO_TUI_TEST_PG_URL=$PENDO_TUI_TEST_PG_URL"
}

# Sourced: start now. Executed (bash .ci/pg.sh): explain, since the export would be lost.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    pendo_pg_start
else
    echo "Source this file instead: source .ci/pg.sh (then pendo_pg_stop when done)" >&2
    exit 2
fi
