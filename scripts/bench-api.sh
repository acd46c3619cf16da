#!/usr/bin/env bash
# API server benchmark: `keelson bench api` (create, get, list, watch fan-out and delete of
# pods over HTTP, next to raw store puts on the same store and the Kubernetes SLOs).
#
#   scripts/bench-api.sh [--quick] [--insecure-http] [-- BENCH-ARGS...]
#   scripts/bench-api.sh --server URL [--ca-file PEM] [--store-endpoint URL] [--server-pid PID] [--quick] [-- BENCH-ARGS...]
#
# Without --server it builds keelson, starts its own `keelson server` (store + API server, one
# process, in-process controllers and scheduler disabled) on free 127.0.0.1 ports in a scratch directory,
# serving HTTPS with the generated CA (or plain HTTP with --insecure-http), runs the benchmark
# against it and stops it. With --server it only runs the benchmark against that (loopback)
# API server. BENCH-ARGS go to `keelson bench api` as they are (e.g. `-- --watch-rate 0`).
#
# Environment:
#   CARGO_TARGET_DIR    where keelson is built (default: $HOME/.cache/keelson-target)
#   BENCH_TIME_LIMIT    seconds for everything after the build (default 180 quick, 420 full)
#   BENCH_RESULTS_DIR   if set, the JSON results and the server log are copied there
set -euo pipefail

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }

QUICK=""
INSECURE=""
SERVER=""
CA_FILE=""
STORE_EP=""
SERVER_PID=""
EXTRA=()
args=("$@")
while [ "$#" -gt 0 ]; do
    case "$1" in
        --quick) QUICK="--quick" ;;
        --insecure-http) INSECURE=1 ;;
        --server) SERVER="${2:?--server needs a URL}"; shift ;;
        --ca-file) CA_FILE="${2:?--ca-file needs a path}"; shift ;;
        --store-endpoint) STORE_EP="${2:?--store-endpoint needs a URL}"; shift ;;
        --server-pid) SERVER_PID="${2:?--server-pid needs a pid}"; shift ;;
        --) shift; EXTRA=("$@"); break ;;
        -h | --help) usage; exit 0 ;;
        *) echo "bench-api: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/keelson-target}"
KEELSON="$CARGO_TARGET_DIR/debug/keelson"

log() { echo "== bench-api: $*" >&2; }

# --------------------------------------------------------------------------------------
# Outer part: build, then re-run this script under `timeout`.
if [ -z "${BENCH_API_INNER:-}" ]; then
    for tool in timeout python3 curl; do
        command -v "$tool" >/dev/null 2>&1 || { log "$tool is needed"; exit 1; }
    done
    log "building keelson (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    (cd "$ROOT" && timeout 3600 cargo build --bin keelson)
    if [ -n "$QUICK" ]; then limit="${BENCH_TIME_LIMIT:-180}"; else limit="${BENCH_TIME_LIMIT:-420}"; fi
    log "running (time limit ${limit}s)"
    export BENCH_API_INNER=1
    # timeout signals the whole process group (server included) when the limit is hit; the
    # inner script's trap then stops whatever is left.
    exec timeout -k 30 "$limit" bash "${BASH_SOURCE[0]}" "${args[@]}"
fi

# --------------------------------------------------------------------------------------
# Inner part: server and bench.
WORK="$(mktemp -d /tmp/keelson-bench-api.XXXXXX)"
PID=""

alive() { # pid: running and not a zombie
    local st
    st="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

stop_server() {
    [ -n "$PID" ] || return 0
    kill -TERM "$PID" 2>/dev/null || true
    local i
    for i in $(seq 1 75); do
        alive "$PID" || break
        sleep 0.2
    done
    if alive "$PID"; then
        log "server pid $PID ignored SIGTERM for 15 s; SIGKILL"
        kill -KILL "$PID" 2>/dev/null || true
    fi
    wait "$PID" 2>/dev/null || true
    PID=""
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_server
    if [ -n "${BENCH_RESULTS_DIR:-}" ]; then
        mkdir -p "$BENCH_RESULTS_DIR"
        cp -f "$WORK"/*.json "$WORK"/*.log "$BENCH_RESULTS_DIR"/ 2>/dev/null || true
        log "results copied to $BENCH_RESULTS_DIR"
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# 1,000 watchers are 1,000 connections on each side.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 8192 ]; then
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    [ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 2600 ] ||
        log "warning: open-file limit $(ulimit -n) is low for 1,000 watchers"
fi

if [ -z "$SERVER" ]; then
    read -r CPORT PPORT APORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
')
    DATA="$WORK/data"
    flags=()
    if [ -n "$INSECURE" ]; then
        flags+=(--insecure-http)
        SERVER="http://127.0.0.1:$APORT"
        CURL=(curl -fsS --max-time 3)
    else
        SERVER="https://127.0.0.1:$APORT"
        CA_FILE="$DATA/pki/ca.crt"
        CURL=(curl -fsS --max-time 3 --cacert "$CA_FILE")
    fi
    STORE_EP="http://127.0.0.1:$CPORT"
    # The API server is what is measured: no in-process controllers or scheduler reacting
    # to the pods.
    for role in controllers scheduler; do
        if "$KEELSON" server --help 2>/dev/null | grep -q -- "--disable-$role"; then
            flags+=("--disable-$role")
        fi
    done
    log "starting keelson server: API $SERVER, store $STORE_EP, data $DATA"
    "$KEELSON" server --name bench --data-dir "$DATA" \
        --listen-client-urls "$STORE_EP" --advertise-client-urls "$STORE_EP" \
        --listen-peer-urls "http://127.0.0.1:$PPORT" \
        --initial-advertise-peer-urls "http://127.0.0.1:$PPORT" \
        --initial-cluster "bench=http://127.0.0.1:$PPORT" \
        --bind-address 127.0.0.1 --secure-port "$APORT" "${flags[@]}" \
        >"$WORK/server.log" 2>&1 &
    PID=$!
    SERVER_PID="$PID"
    deadline=$((SECONDS + 60))
    until "${CURL[@]}" "$SERVER/readyz" >/dev/null 2>&1; do
        if ! alive "$PID"; then
            log "the server exited during startup:"
            tail -n 30 "$WORK/server.log" >&2
            exit 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "the server was not ready after 60 s:"
            tail -n 30 "$WORK/server.log" >&2
            exit 1
        fi
        sleep 0.5
    done
    log "server ready (pid $PID)"
fi

bench=("$KEELSON" bench api --server "$SERVER" --json "$WORK/bench-api.json")
[ -n "$CA_FILE" ] && bench+=(--ca-file "$CA_FILE")
[ -n "$STORE_EP" ] && bench+=(--store-endpoint "$STORE_EP")
[ -n "$SERVER_PID" ] && bench+=(--server-pids "$SERVER_PID")
[ -n "$QUICK" ] && bench+=("$QUICK")
bench+=("${EXTRA[@]}")
log "${bench[*]}"
rc=0
"${bench[@]}" || rc=$?
if [ -n "$PID" ] && ! alive "$PID"; then
    log "the server had exited by the end of the bench; tail of its log:"
    tail -n 30 "$WORK/server.log" >&2
    rc=1
fi
exit "$rc"
