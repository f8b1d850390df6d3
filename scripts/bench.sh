#!/usr/bin/env bash
# HTTP benchmark of terrane on SQLite and PostgreSQL, with wrk.
#
#   make bench                      (or: bash scripts/bench.sh)
#   BENCH_DURATION=3 make bench     shorter runs
#
# For each backend: start `terrane serve` on a fresh database (SQLite file in a temp dir,
# PostgreSQL database terrane_bench_<random>, dropped at the end), mint an admin token,
# create BENCH_ENVS environments, then run wrk against
#   GET  /healthz                         the ceiling: no auth, no database
#   GET  /api/v1/environments/{id}        one row
#   GET  /api/v1/environments?take=N      the whole list (N = BENCH_ENVS)
#   POST /api/v1/environments             a unique name per request
# and print req/s, p50/p99 latency, non-2xx counts and the server's peak RSS (VmHWM).
#
# Then, per backend on another fresh database, the deployments phase: `terrane seed` loads
# BENCH_COMPONENTS components, BENCH_DEPLOY_ENVS environments and BENCH_DEPLOYMENTS
# deployments (with their latest_deployments rows) into one tenant, and wrk measures
#   GET  /api/v1/deployments/matrix
#   GET  /api/v1/deployments/matrix?asOf=<half a year ago> (the matrix as it was then)
#   GET  /api/v1/deployments/latest?componentId=...
#   GET  /api/v1/deployments?environmentId=...&take=20
#   the sequence POST /api/v1/deployments, PATCH in_progress, PATCH succeeded
#        (its req/s column is sequences per second; p50/p99 are per request)
# against the targets matrix p99 < 50 ms, matrix asOf p99 < 100 ms, list p99 < 20 ms,
# >= 1000 sequences/s.
#
# Settings (environment):
#   BENCH_DURATION     wrk duration per endpoint, wrk syntax (default 10s)
#   BENCH_THREADS      wrk threads (default 2)
#   BENCH_CONNECTIONS  wrk connections (default 64)
#   BENCH_BACKENDS     backends to run (default "sqlite postgres")
#   BENCH_ENVS         environments created before measuring (default 50, at most 100)
#   BENCH_PHASES       phases to run (default "inventory deployments")
#   BENCH_DEPLOYMENTS  deployments seeded for the deployments phase (default 1000000)
#   BENCH_COMPONENTS   components seeded (default 200)
#   BENCH_DEPLOY_ENVS  environments seeded (default 20)
#   BENCH_VIEW_CONNECTIONS    wrk connections for the matrix, latest and list (default 4: a
#                      dashboard's concurrency; with N connections a closed loop's p99 is at
#                      least N / throughput, so 64 measures queueing, not the request)
#   BENCH_SEQUENCE_CONNECTIONS  wrk connections for the sequences (default BENCH_CONNECTIONS)
#   BENCH_DB_POOL_SIZE passed as --db-pool-size when set
#   BENCH_PG_URL_BASE  PostgreSQL server URL without database
#                      (default postgres://postgres@127.0.0.1:5432)
#   BENCH_SKIP_BUILD=1 do not run cargo build (use TERRANE_BIN as it is)
#   TERRANE_BIN        binary to run (default target/release/terrane)
#   TERRANE_WORKERS, RUST_LOG  passed through to the server (defaults: one worker per core, info)
#   BENCH_ALLOW_ERRORS=1  exit 0 even when a run saw non-2xx responses or socket errors
#   BENCH_KEEP=1       keep the temp dir (server logs, wrk outputs)
#
# Exit status: non-zero if any step fails, or if any run saw errors (unless BENCH_ALLOW_ERRORS=1).
# Results also go to target/bench/results-<timestamp>.tsv.
# wrk and the server share the machine's cores: figures are relative, not absolute.

set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$PWD

DURATION=${BENCH_DURATION:-10s}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
ENVS=${BENCH_ENVS:-50}
PHASES=${BENCH_PHASES:-inventory deployments}
DEPLOYMENTS=${BENCH_DEPLOYMENTS:-1000000}
COMPONENTS=${BENCH_COMPONENTS:-200}
DEPLOY_ENVS=${BENCH_DEPLOY_ENVS:-20}
VIEW_CONNECTIONS=${BENCH_VIEW_CONNECTIONS:-4}
SEQUENCE_CONNECTIONS=${BENCH_SEQUENCE_CONNECTIONS:-$CONNECTIONS}
PG_URL_BASE=${BENCH_PG_URL_BASE:-postgres://postgres@127.0.0.1:5432}
TERRANE_BIN=${TERRANE_BIN:-$REPO_ROOT/target/release/terrane}
WRK_LUA=$REPO_ROOT/scripts/bench/wrk.lua

# Plain digits mean seconds to wrk as well; keep them as given.
if [[ ! $DURATION =~ ^[0-9]+[smh]?$ ]]; then
    echo "BENCH_DURATION must look like 10, 10s, 2m (got '$DURATION')" >&2
    exit 2
fi
if [[ ! $ENVS =~ ^[0-9]+$ ]] || ((ENVS < 1 || ENVS > 100)); then
    echo "BENCH_ENVS must be between 1 and 100 (the list's maximum take)" >&2
    exit 2
fi

for setting in DEPLOYMENTS COMPONENTS DEPLOY_ENVS VIEW_CONNECTIONS SEQUENCE_CONNECTIONS; do
    [[ ${!setting} =~ ^[0-9]+$ ]] || { echo "BENCH_$setting must be a whole number" >&2; exit 2; }
done
for phase in $PHASES; do
    [[ $phase == inventory || $phase == deployments ]] \
        || { echo "unknown phase '$phase' in BENCH_PHASES (inventory, deployments)" >&2; exit 2; }
done

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
new_uuid() { cat /proc/sys/kernel/random/uuid; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# ---------------------------------------------------------------------------------------------
# State and cleanup

WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/terrane-bench.XXXXXX")
SERVER_PID=""
PG_DB=""          # set while a bench database exists
FAILED=1          # cleared on success; decides whether the temp dir is kept

stop_server() {
    # SIGTERM, then wait up to 15 s for a graceful exit; SIGKILL after that.
    local pid=$SERVER_PID status=0
    [[ -n $pid ]] || return 0
    SERVER_PID=""
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "bench: server $pid ignored SIGTERM for 15 s, killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || status=$?
    if ((status != 0)); then
        echo "bench: server exited with status $status after SIGTERM (expected 0)" >&2
    fi
    return 0
}

drop_pg_db() {
    [[ -n $PG_DB ]] || return 0
    local db=$PG_DB
    PG_DB=""
    psql "$PG_URL_BASE/postgres" -qAt -v ON_ERROR_STOP=1 \
        -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null \
        || echo "bench: could not drop database $db" >&2
}

cleanup() {
    local status=$?
    stop_server
    drop_pg_db
    if [[ ${BENCH_KEEP:-0} == 1 || $FAILED == 1 ]]; then
        echo "bench: logs kept in $WORK_DIR" >&2
    else
        rm -rf "$WORK_DIR"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Prerequisites

ensure_wrk() {
    command -v wrk >/dev/null && return 0
    log "installing wrk"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
    command -v wrk >/dev/null || die "wrk is still missing after apt-get install"
}

pg_ready() {
    if command -v pg_isready >/dev/null; then
        pg_isready -q -h 127.0.0.1 -p 5432
    else
        psql "$PG_URL_BASE/postgres" -qAt -c 'SELECT 1' >/dev/null 2>&1
    fi
}

ensure_postgres() {
    command -v psql >/dev/null || die "psql not found (needed for the postgres backend)"
    pg_ready && return 0
    if command -v pg_ctlcluster >/dev/null && [[ -d /etc/postgresql ]]; then
        local version
        for version in /etc/postgresql/*/; do
            version=$(basename "$version")
            log "starting PostgreSQL $version"
            as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
        done
    fi
    for _ in $(seq 60); do
        pg_ready && return 0
        sleep 0.5
    done
    die "PostgreSQL is not accepting connections on 127.0.0.1:5432"
}

for tool in curl od; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
ensure_wrk
if [[ " $PHASES " == *" deployments "* ]]; then
    command -v jq >/dev/null || die "jq not found (needed for the deployments phase)"
fi
[[ " $BACKENDS " == *" postgres "* ]] && ensure_postgres

if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
    log "cargo build --release -p terrane"
    cargo build --release -p terrane
fi
[[ -x $TERRANE_BIN ]] || die "no terrane binary at $TERRANE_BIN"

# One secret for serve and token: no dependence on where the server keeps its own.
TERRANE_JWT_SECRET=$(random_hex 32)
export TERRANE_JWT_SECRET
RUN_ID=$(random_hex 3)

# ---------------------------------------------------------------------------------------------
# Helpers

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
        && return 0
    # Fallback without python: a random high port nobody listens on.
    local port
    for _ in $(seq 50); do
        port=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    die "no free port found"
}

# start_server BACKEND DATABASE_URL -> sets SERVER_PID and BASE_URL
start_server() {
    local backend=$1 url=$2 port
    port=$(free_port)
    BASE_URL="http://127.0.0.1:$port"
    local args=(serve --listen "127.0.0.1:$port" --database-url "$url")
    [[ -n ${BENCH_DB_POOL_SIZE:-} ]] && args+=(--db-pool-size "$BENCH_DB_POOL_SIZE")
    log "$backend: terrane ${args[*]}"
    "$TERRANE_BIN" "${args[@]}" >"$WORK_DIR/serve-$backend.log" 2>&1 &
    SERVER_PID=$!
    local code
    for _ in $(seq 600); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            tail -n 30 "$WORK_DIR/serve-$backend.log" >&2 || true
            SERVER_PID=""
            die "$backend: server exited before it was ready"
        fi
        code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL/readyz" || true)
        [[ $code == 200 ]] && return 0
        sleep 0.1
    done
    tail -n 30 "$WORK_DIR/serve-$backend.log" >&2 || true
    die "$backend: /readyz not 200 after 60 s (last status: ${code:-none})"
}

# api METHOD PATH [BODY] -> prints the body; fails unless the status is 2xx
api() {
    local method=$1 path=$2 body=${3:-} out=$WORK_DIR/response code
    local args=(-sS -o "$out" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $TOKEN")
    [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data "$body")
    code=$(curl "${args[@]}" "$BASE_URL$path") || die "curl $method $path failed"
    if [[ $code != 2* ]]; then
        echo "bench: $method $path -> HTTP $code" >&2
        head -c 2000 "$out" >&2 || true
        echo >&2
        return 1
    fi
    cat "$out"
}

json_id() {
    # The top-level "id" of a JSON object (the POST response).
    if command -v jq >/dev/null; then
        jq -er '.id'
    else
        grep -o '"id"[[:space:]]*:[[:space:]]*"[^"]*"' | head -n1 | sed 's/.*"\([^"]*\)"$/\1/'
    fi
}

peak_rss_kib() {
    awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true
}

RESULTS=()       # "backend<TAB>endpoint<TAB>rps<TAB>p50<TAB>p99<TAB>non2xx<TAB>sockerr"
RSS=()           # "backend<TAB>KiB"
SEEDS=()         # "backend<TAB>deployments<TAB>seconds<TAB>deployments per second"
ERRORS_SEEN=0

# run_wrk BACKEND LABEL MODE URL [AUTH]   (RUN_CONNECTIONS overrides BENCH_CONNECTIONS)
run_wrk() {
    local backend=$1 label=$2 mode=$3 url=$4 auth=${5:-}
    local out="$WORK_DIR/wrk-$backend-${label//[^a-zA-Z0-9]/_}.txt"
    local connections=${RUN_CONNECTIONS:-$CONNECTIONS}
    local args=(-t "$THREADS" -c "$connections" -d "$DURATION" --latency -s "$WRK_LUA")
    [[ -n $auth ]] && args+=(-H "Authorization: Bearer $TOKEN")
    log "$backend: wrk $label (${DURATION}, ${THREADS} threads, ${connections} connections)"
    BENCH_MODE=$mode BENCH_RUN_ID=$RUN_ID wrk "${args[@]}" "$url" >"$out" 2>&1 \
        || { cat "$out" >&2; die "wrk failed for $backend $label"; }
    kill -0 "$SERVER_PID" 2>/dev/null || die "$backend: server died during $label"

    local line
    line=$(grep '^BENCH ' "$out" | tail -n1) || die "no BENCH line in $out"
    local requests rps p50 p99 non2xx connect read write timeout
    requests=$(field requests "$line"); rps=$(field rps "$line")
    p50=$(field p50_ms "$line");        p99=$(field p99_ms "$line")
    non2xx=$(field non2xx "$line")
    connect=$(field connect "$line");   read=$(field read "$line")
    write=$(field write "$line");       timeout=$(field timeout "$line")
    local sockerr=$((connect + read + write + timeout))
    if [[ $mode == sequence ]]; then
        # Sequences per second take the place of requests per second.
        local sequences seconds
        sequences=$(sed -n 's/^BENCH_SEQUENCES sequences=\([0-9]*\).*/\1/p' "$out" | tail -n1)
        seconds=$(field duration_us "$line")
        rps=$(awk -v n="${sequences:-0}" -v us="$seconds" 'BEGIN { printf "%.2f", (us > 0 ? n / (us / 1e6) : 0) }')
    fi
    if ((non2xx > 0 || sockerr > 0 || requests == 0)); then
        ERRORS_SEEN=1
    fi
    RESULTS+=("$backend"$'\t'"$label"$'\t'"$rps"$'\t'"$p50"$'\t'"$p99"$'\t'"$non2xx"$'\t'"$sockerr"$'\t'"$requests")
}

# settle_disk BACKEND URL: writes the seed left in memory reach the disk before measuring,
# so that writing them back does not compete with the run (on this 2-core machine the
# sequences of the backend seeded next measured a third lower while the previous seed was
# still being written out). PostgreSQL checkpoints first, which writes its dirty buffers.
settle_disk() {
    local backend=$1 url=$2
    if [[ $backend == postgres ]]; then
        psql "$url" -qAt -c CHECKPOINT >/dev/null || die "$backend: CHECKPOINT failed"
    fi
    sync
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

# ---------------------------------------------------------------------------------------------
# One backend

bench_backend() {
    local backend=$1 url
    case $backend in
        sqlite)
            mkdir -p "$WORK_DIR/sqlite"
            url="sqlite://$WORK_DIR/sqlite/terrane.db"
            ;;
        postgres)
            PG_DB="terrane_bench_$(random_hex 4)"
            log "postgres: creating database $PG_DB"
            psql "$PG_URL_BASE/postgres" -qAt -v ON_ERROR_STOP=1 \
                -c "CREATE DATABASE \"$PG_DB\"" >/dev/null
            url="$PG_URL_BASE/$PG_DB"
            ;;
        *) die "unknown backend '$backend' (expected sqlite or postgres)" ;;
    esac

    start_server "$backend" "$url"

    local tenant subject
    tenant=$(new_uuid)
    subject=$(new_uuid)
    TOKEN=$("$TERRANE_BIN" token --database-url "$url" --tenant "$tenant" --subject "$subject" \
        --role admin --expires-in 24h) || die "$backend: terrane token failed"
    TOKEN=${TOKEN//[[:space:]]/}
    [[ -n $TOKEN ]] || die "$backend: terrane token printed nothing"

    log "$backend: creating $ENVS environments"
    local i id first_id=""
    for ((i = 1; i <= ENVS; i++)); do
        id=$(api POST /api/v1/environments "{\"name\":\"seed-$RUN_ID-$i\"}" | json_id) \
            || die "$backend: creating environment $i failed"
        [[ -n $id ]] || die "$backend: no id in the POST response"
        [[ -n $first_id ]] || first_id=$id
    done
    # Sanity checks before measuring: both GETs answer 2xx.
    api GET "/api/v1/environments/$first_id" >/dev/null || die "$backend: GET by id failed"
    local listed
    listed=$(api GET "/api/v1/environments?take=$ENVS") || die "$backend: list failed"
    if command -v jq >/dev/null; then
        local count
        count=$(jq 'if type == "array" then length else "not an array" end' <<<"$listed" || echo "not JSON")
        [[ $count == "$ENVS" ]] || echo "bench: warning: the list returned $count items, expected $ENVS" >&2
    fi

    run_wrk "$backend" "GET /healthz" get "$BASE_URL/healthz"
    run_wrk "$backend" "GET /api/v1/environments/{id}" get "$BASE_URL/api/v1/environments/$first_id" auth
    run_wrk "$backend" "GET /api/v1/environments?take=$ENVS" get "$BASE_URL/api/v1/environments?take=$ENVS" auth
    run_wrk "$backend" "POST /api/v1/environments" create "$BASE_URL/api/v1/environments" auth

    RSS+=("$backend"$'\t'"$(peak_rss_kib "$SERVER_PID")")
    stop_server
    drop_pg_db
}

# ---------------------------------------------------------------------------------------------
# The deployments phase of one backend

bench_deployments() {
    local backend=$1 url
    case $backend in
        sqlite)
            mkdir -p "$WORK_DIR/sqlite-deployments"
            url="sqlite://$WORK_DIR/sqlite-deployments/terrane.db"
            ;;
        postgres)
            PG_DB="terrane_bench_$(random_hex 4)"
            log "postgres: creating database $PG_DB"
            psql "$PG_URL_BASE/postgres" -qAt -v ON_ERROR_STOP=1 \
                -c "CREATE DATABASE \"$PG_DB\"" >/dev/null
            url="$PG_URL_BASE/$PG_DB"
            ;;
        *) die "unknown backend '$backend' (expected sqlite or postgres)" ;;
    esac

    local tenant subject seed=$WORK_DIR/seed-$backend.json
    tenant=$(new_uuid)
    subject=$(new_uuid)
    log "$backend: terrane seed $COMPONENTS components x $DEPLOY_ENVS environments x $DEPLOYMENTS deployments"
    "$TERRANE_BIN" seed --database-url "$url" --tenant "$tenant" --components "$COMPONENTS" \
        --environments "$DEPLOY_ENVS" --deployments "$DEPLOYMENTS" \
        >"$seed" 2>"$WORK_DIR/seed-$backend.log" \
        || { tail -n 30 "$WORK_DIR/seed-$backend.log" >&2; die "$backend: terrane seed failed"; }
    local seconds rate component environment components environments
    seconds=$(jq -r '.totalSeconds' "$seed")
    rate=$(jq -r '.deploymentsPerSecond' "$seed")
    SEEDS+=("$backend"$'\t'"$DEPLOYMENTS"$'\t'"$seconds"$'\t'"$rate")
    component=$(jq -r '.components[0]' "$seed")
    environment=$(jq -r '.environments[0]' "$seed")
    components=$(jq -r '.components | join(",")' "$seed")
    environments=$(jq -r '.environments | join(",")' "$seed")
    settle_disk "$backend" "$url"

    start_server "$backend" "$url"
    TOKEN=$("$TERRANE_BIN" token --database-url "$url" --tenant "$tenant" --subject "$subject" \
        --role admin --expires-in 24h) || die "$backend: terrane token failed"
    TOKEN=${TOKEN//[[:space:]]/}

    local matrix="/api/v1/deployments/matrix"
    # Half way through the seed's year of deployments.
    local matrix_as_of="/api/v1/deployments/matrix?asOf=$(date -u -d '-180 days' +%Y-%m-%dT%H:%M:%SZ)"
    local latest="/api/v1/deployments/latest?componentId=$component"
    local list="/api/v1/deployments?environmentId=$environment&take=20"
    # Sanity checks before measuring.
    local rows
    rows=$(api GET "$matrix" | jq 'length') || die "$backend: GET $matrix failed"
    [[ $rows == "$COMPONENTS" ]] || echo "bench: warning: the matrix has $rows rows, expected $COMPONENTS" >&2
    rows=$(api GET "$matrix_as_of" | jq 'length') || die "$backend: GET $matrix_as_of failed"
    [[ $rows == "$COMPONENTS" ]] || echo "bench: warning: the matrix asOf has $rows rows, expected $COMPONENTS" >&2
    api GET "$latest" >/dev/null || die "$backend: GET latest failed"
    api GET "$list" >/dev/null || die "$backend: GET the list failed"

    RUN_CONNECTIONS=$VIEW_CONNECTIONS run_wrk "$backend" "GET /api/v1/deployments/matrix c=$VIEW_CONNECTIONS" get "$BASE_URL$matrix" auth
    RUN_CONNECTIONS=$VIEW_CONNECTIONS run_wrk "$backend" "GET /api/v1/deployments/matrix?asOf c=$VIEW_CONNECTIONS" get "$BASE_URL$matrix_as_of" auth
    RUN_CONNECTIONS=$VIEW_CONNECTIONS run_wrk "$backend" "GET /api/v1/deployments/latest c=$VIEW_CONNECTIONS" get "$BASE_URL$latest" auth
    RUN_CONNECTIONS=$VIEW_CONNECTIONS run_wrk "$backend" "GET /api/v1/deployments?envId c=$VIEW_CONNECTIONS" get "$BASE_URL$list" auth
    RUN_CONNECTIONS=$SEQUENCE_CONNECTIONS BENCH_COMPONENT_IDS=$components BENCH_ENVIRONMENT_IDS=$environments \
        run_wrk "$backend" "sequences/s c=$SEQUENCE_CONNECTIONS" sequence "$BASE_URL/api/v1/deployments" auth

    RSS+=("$backend deployments"$'\t'"$(peak_rss_kib "$SERVER_PID")")
    stop_server
    drop_pg_db
}

# ---------------------------------------------------------------------------------------------
# Main

log "terrane $("$TERRANE_BIN" --version 2>/dev/null || echo '(version unknown)'), $(git rev-parse --short HEAD 2>/dev/null || echo 'no git'), $(nproc) cores"
for backend in $BACKENDS; do
    if [[ " $PHASES " == *" inventory "* ]]; then
        bench_backend "$backend"
    fi
    if [[ " $PHASES " == *" deployments "* ]]; then
        bench_deployments "$backend"
    fi
done

# Table
mkdir -p "$REPO_ROOT/target/bench"
TSV="$REPO_ROOT/target/bench/results-$(date +%Y%m%d-%H%M%S).tsv"
{
    printf 'backend\tendpoint\treq_per_s\tp50_ms\tp99_ms\tnon2xx\tsocket_errors\trequests\n'
    printf '%s\n' "${RESULTS[@]}"
} >"$TSV"

echo
echo "terrane bench: wrk -t$THREADS -c$CONNECTIONS -d$DURATION on $(nproc) cores (wrk and server share them)"
echo
fmt='| %-8s | %-38s | %10s | %9s | %8s | %8s | %8s |%s\n'
# shellcheck disable=SC2059
printf "$fmt" backend endpoint 'req/s' 'x healthz' 'p50 ms' 'p99 ms' 'non-2xx' ''
# shellcheck disable=SC2059
printf "$fmt" -------- "$(printf -- '-%.0s' {1..38})" ---------- --------- -------- -------- -------- ''
# The ceiling of each backend's run: every figure is also shown as a ratio to it.
declare -A CEILING=()
for row in "${RESULTS[@]}"; do
    IFS=$'\t' read -r backend label rps _ <<<"$row"
    [[ $label == "GET /healthz" ]] && CEILING[$backend]=$rps
done
for row in "${RESULTS[@]}"; do
    IFS=$'\t' read -r backend label rps p50 p99 non2xx sockerr requests <<<"$row"
    ratio=$(awk -v r="$rps" -v c="${CEILING[$backend]:-0}" 'BEGIN { if (c > 0) printf "%.3f", r / c; else print "-" }')
    flag=""
    ((non2xx > 0)) && flag+=" <-- ${non2xx} non-2xx"
    ((sockerr > 0)) && flag+=" <-- ${sockerr} socket errors"
    ((requests == 0)) && flag+=" <-- no requests completed"
    # shellcheck disable=SC2059
    printf "$fmt" "$backend" "$label" "$(printf '%.0f' "$rps")" "$ratio" "$p50" "$p99" "$non2xx" "$flag"
done
echo
for row in "${RSS[@]}"; do
    IFS=$'\t' read -r backend kib <<<"$row"
    if [[ -n $kib ]]; then
        printf 'peak RSS %-8s %8.1f MiB (VmHWM %s kB)\n' "$backend" "$(awk -v k="$kib" 'BEGIN { print k / 1024 }')" "$kib"
    else
        printf 'peak RSS %-8s unknown\n' "$backend"
    fi
done
for row in "${SEEDS[@]}"; do
    IFS=$'\t' read -r backend count seconds rate <<<"$row"
    printf 'seed     %-8s %d deployments in %.1f s (%.0f deployments/s)\n' "$backend" "$count" "$seconds" "$rate"
done
echo
echo "results: ${TSV#"$REPO_ROOT"/}"

FAILED=0
if ((ERRORS_SEEN)); then
    echo "bench: some runs saw non-2xx responses or socket errors (flagged above); wrk outputs in $WORK_DIR" >&2
    if [[ ${BENCH_ALLOW_ERRORS:-0} != 1 ]]; then
        FAILED=1
        exit 1
    fi
fi
