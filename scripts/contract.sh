#!/usr/bin/env bash
# The contract job: schemathesis against the real binary, from the document the binary serves,
# on each backend (SQLite in a temp dir, PostgreSQL in a fresh database), as an admin.
#
#   scripts/contract.sh              both backends (what `make contract` and .ci/run run)
#   scripts/contract.sh sqlite       one backend
#
# Every setting of the run (checks, phases, seed, time budget, what is turned off and why) is
# in tests/contract/schemathesis.toml; this script only starts the server, mints the
# credentials the settings refer to, and runs `st` with that file. It fails on any failure.
#
# Environment:
#   TERRANE_BIN          the binary (default target/debug/terrane, built first with the same
#                        command the tests build with)
#   CONTRACT_PYTHON_BIN  where `st` is (default .venv/bin; `make contract-deps` installs it)
#   CONTRACT_PG_URL_BASE PostgreSQL server URL without database
#                        (default postgres://postgres@127.0.0.1:5432)
#   CONTRACT_KEEP=1      keep the temp dir (server logs, schemathesis reports)

set -euo pipefail
export LC_ALL=C.UTF-8

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$PWD
CONFIG=$REPO_ROOT/tests/contract/schemathesis.toml
ST=${CONTRACT_PYTHON_BIN:-$REPO_ROOT/.venv/bin}/st
PG_URL_BASE=${CONTRACT_PG_URL_BASE:-postgres://postgres@127.0.0.1:5432}
BACKENDS=("$@")
((${#BACKENDS[@]})) || BACKENDS=(sqlite postgres)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'contract: %s\n' "$*" >&2; exit 1; }

[[ -x $ST ]] || die "no schemathesis at $ST (run \`make contract-deps\`)"
for tool in curl python3; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

if [[ -z ${TERRANE_BIN:-} ]]; then
    # The same build command as the tests, so nothing is rebuilt with other features.
    if cargo nextest --version >/dev/null 2>&1; then
        cargo nextest run --workspace --no-run >&2
    else
        cargo build -p terrane >&2
    fi
    TERRANE_BIN=$REPO_ROOT/target/debug/terrane
fi
[[ -x $TERRANE_BIN ]] || die "no terrane binary at $TERRANE_BIN"

WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/terrane-contract.XXXXXX")
SERVER_PID=""
PG_DB=""
FAILED=1

stop_server() {
    local pid=$SERVER_PID
    [[ -n $pid ]] || return 0
    SERVER_PID=""
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

drop_pg_db() {
    [[ -n $PG_DB ]] || return 0
    local db=$PG_DB
    PG_DB=""
    psql "$PG_URL_BASE/postgres" -qAt -v ON_ERROR_STOP=1 \
        -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null \
        || echo "contract: could not drop database $db" >&2
}

cleanup() {
    local status=$?
    stop_server
    drop_pg_db
    if [[ ${CONTRACT_KEEP:-0} == 1 || $FAILED == 1 ]]; then
        echo "contract: logs and reports kept in $WORK_DIR" >&2
    else
        rm -rf "$WORK_DIR"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# One secret for serve and token.
TERRANE_JWT_SECRET=$(random_hex 32)
export TERRANE_JWT_SECRET

start_server() {
    local backend=$1 url=$2 port
    port=$(free_port)
    BASE_URL="http://127.0.0.1:$port"
    log "$backend: terrane serve --listen 127.0.0.1:$port"
    # schemathesis sends wrong credentials on purpose (ignored_auth), all from 127.0.0.1: with
    # the default allowance of failed logins, the dialects would lock the whole run out.
    "$TERRANE_BIN" serve --listen "127.0.0.1:$port" --database-url "$url" --login-free-failures 1000000 \
        >"$WORK_DIR/serve-$backend.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 600); do
        kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 30 "$WORK_DIR/serve-$backend.log" >&2; die "$backend: server exited"; }
        [[ $(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL/readyz" || true) == 200 ]] && return 0
        sleep 0.1
    done
    die "$backend: /readyz not 200 after 60 s"
}

TIMES=()
run_backend() {
    local backend=$1 url
    case $backend in
        sqlite) url="sqlite://$WORK_DIR/contract.db" ;;
        postgres)
            command -v psql >/dev/null || die "psql not found (needed for the postgres backend)"
            PG_DB="terrane_contract_$(random_hex 6)"
            psql "$PG_URL_BASE/postgres" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$PG_DB\"" >/dev/null \
                || die "cannot create database $PG_DB on $PG_URL_BASE"
            url="$PG_URL_BASE/$PG_DB"
            ;;
        *) die "unknown backend '$backend' (sqlite, postgres)" ;;
    esac
    start_server "$backend" "$url"

    # An admin token: /api/v1 and the dialects take it.
    local tenant subject
    tenant=$(cat /proc/sys/kernel/random/uuid)
    subject=$(cat /proc/sys/kernel/random/uuid)
    TERRANE_CONTRACT_TOKEN=$("$TERRANE_BIN" token --tenant "$tenant" --subject "$subject" --role admin)
    export TERRANE_CONTRACT_TOKEN

    log "$backend: st run (settings: ${CONFIG#"$REPO_ROOT"/})"
    local start status=0
    start=$(date +%s)
    "$ST" --config-file "$CONFIG" run "$BASE_URL/api-docs/openapi.json" \
        --report junit,ndjson --report-dir "$WORK_DIR/report-$backend" || status=$?
    TIMES+=("$backend: $(($(date +%s) - start)) s, exit $status")
    stop_server
    drop_pg_db
    ((status == 0)) || die "$backend: schemathesis found failures (exit $status; server log $WORK_DIR/serve-$backend.log)"
}

for backend in "${BACKENDS[@]}"; do
    run_backend "$backend"
done
printf 'contract: %s\n' "${TIMES[@]}"
FAILED=0
