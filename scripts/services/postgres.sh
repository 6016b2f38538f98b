# shellcheck shell=bash
# postgres: PostgreSQL on 127.0.0.1:55432 (data in /tmp/ccp-pg), db/user ccp.
# Sourced after common.sh.

PG_PORT=55432
PG_ROOT=/tmp/ccp-pg
PG_DATA=$PG_ROOT/data
PG_SOCKDIR=$PG_ROOT/run
PG_LOG=/tmp/ccp-postgres.log
PG_URL="postgresql+psycopg://ccp:ccp@127.0.0.1:$PG_PORT/ccp"

pg_bin() {
    local d
    # shellcheck disable=SC2012  # PostgreSQL's own paths: no odd file names
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
    [ -n "$d" ] || fail postgres "no /usr/lib/postgresql/*/bin: run scripts/install-system-packages.sh"
    echo "$d"
}

pg_up() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

# PostgreSQL refuses to run as root: as root, run its tools as `postgres`.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# psql as the superuser over the Unix socket in $PG_SOCKDIR (trust auth).
pg_admin_sql() {
    as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKDIR" -p "$PG_PORT" -U postgres -d postgres -tA "$@"
}

start_postgres() {
    local fresh=0
    PGBIN=$(pg_bin)
    if ! pg_up; then
        fresh=1
        mkdir -p "$PG_ROOT"
        [ "$(id -u)" -ne 0 ] || chown postgres: "$PG_ROOT"
        if [ ! -s "$PG_DATA/PG_VERSION" ]; then
            log "postgres: initdb $PG_DATA"
            rm -rf "$PG_DATA"
            # Unix socket: trust (the admin steps below); TCP: password.
            as_pg "$PGBIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
                --auth-local=trust --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1 ||
                fail postgres "initdb failed" "$PG_LOG"
        fi
        as_pg mkdir -p "$PG_SOCKDIR"
        touch "$PG_LOG"
        [ "$(id -u)" -ne 0 ] || chown postgres: "$PG_LOG"
        log "postgres: starting on 127.0.0.1:$PG_PORT"
        # -k: socket in our own dir, not /var/run/postgresql (may not exist);
        # only its owner may use it, since it trusts without a password.
        as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$STARTUP_TIMEOUT" \
            -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_SOCKDIR -c unix_socket_permissions=0700" \
            start >/dev/null ||
            fail postgres "pg_ctl start failed" "$PG_LOG"
    fi

    if [ "$(pg_admin_sql -c "SELECT 1 FROM pg_roles WHERE rolname = 'ccp'")" != 1 ]; then
        fresh=1
        # CREATEDB so that tests may make throw-away databases.
        pg_admin_sql -c "CREATE ROLE ccp LOGIN CREATEDB PASSWORD 'ccp'" >/dev/null ||
            fail postgres "CREATE ROLE ccp failed" "$PG_LOG"
    fi
    if [ "$(pg_admin_sql -c "SELECT 1 FROM pg_database WHERE datname = 'ccp'")" != 1 ]; then
        fresh=1
        pg_admin_sql -c "CREATE DATABASE ccp OWNER ccp" >/dev/null ||
            fail postgres "CREATE DATABASE ccp failed" "$PG_LOG"
    fi

    if should_verify "$fresh"; then
        verify_postgres
    fi
    summary postgres "ok  PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}')  $PG_URL"
}

# A query over TCP with the password, as the tests connect, with psql and
# with psycopg.
verify_postgres() {
    local out
    out=$(PGPASSWORD=ccp "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U ccp -d ccp -tA \
          -c "CREATE TEMP TABLE t (x int); INSERT INTO t VALUES (41); SELECT x + 1 FROM t" 2>&1) &&
        [ "$out" = 42 ] || fail postgres "psql as ccp over TCP failed: $out" "$PG_LOG"
    ensure_venv
    out=$("$CCP_VENV/bin/python" -c '
import sys, psycopg
with psycopg.connect(sys.argv[1]) as c:
    print(c.execute("select current_user").fetchone()[0])' "${PG_URL/+psycopg/}" 2>&1) &&
        [ "$out" = ccp ] || fail postgres "psycopg connect failed: $out" "$PG_LOG"
}

# Lines of /tmp/ccp-services.env.
postgres_env() { echo "export CCP_TEST_PG_URL=$PG_URL"; }

stop_postgres() {
    local pgbin
    # shellcheck disable=SC2012  # PostgreSQL's own paths: no odd file names
    pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
    if [ -n "$pgbin" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
        log "postgres: stopping (port $PG_PORT)"
        local as_pg=()
        [ "$(id -u)" -ne 0 ] || as_pg=(runuser -u postgres --)
        "${as_pg[@]}" "$pgbin/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null ||
            log "postgres: pg_ctl stop failed"
    else
        log "postgres: not running"
    fi
    if [ "$PURGE" = 1 ] && [ -d "$PG_ROOT" ]; then
        rm -rf "$PG_ROOT"
        log "postgres: removed $PG_ROOT"
    fi
}
