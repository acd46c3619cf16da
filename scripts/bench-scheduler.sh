#!/usr/bin/env bash
# Scheduler benchmark: `keelson bench scheduler` (fake nodes, pods created through the API
# server, pods/s bound, next to kube-scheduler's scheduler_perf threshold).
#
#   scripts/bench-scheduler.sh [--quick] [-- BENCH-ARGS...]
#
# Builds keelson, then for each case (500 and 5,000 nodes; 100 and 500 with --quick) starts a
# fresh `keelson server` (store + API server + in-process scheduler; controllers disabled) on
# free 127.0.0.1 ports in a scratch directory, runs the benchmark against it and stops it.
# BENCH-ARGS go to `keelson bench scheduler` as they are (e.g. `-- --pods 5000`).
#
# Environment:
#   CARGO_TARGET_DIR    where keelson is built (default: $HOME/.cache/keelson-target)
#   BENCH_TIME_LIMIT    seconds for everything after the build (default 240 quick, 900 full)
#   BENCH_RESULTS_DIR   if set, the JSON results and the server logs are copied there
set -euo pipefail

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }

QUICK=""
EXTRA=()
args=("$@")
while [ "$#" -gt 0 ]; do
    case "$1" in
        --quick) QUICK="--quick" ;;
        --) shift; EXTRA=("$@"); break ;;
        -h | --help) usage; exit 0 ;;
        *) echo "bench-scheduler: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/keelson-target}"
KEELSON="$CARGO_TARGET_DIR/debug/keelson"

log() { echo "== bench-scheduler: $*" >&2; }

if [ -z "${BENCH_SCHED_INNER:-}" ]; then
    for tool in timeout python3 curl; do
        command -v "$tool" >/dev/null 2>&1 || { log "$tool is needed"; exit 1; }
    done
    log "building keelson (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    (cd "$ROOT" && timeout 3600 cargo build --bin keelson)
    if [ -n "$QUICK" ]; then limit="${BENCH_TIME_LIMIT:-240}"; else limit="${BENCH_TIME_LIMIT:-900}"; fi
    log "running (time limit ${limit}s)"
    export BENCH_SCHED_INNER=1
    exec timeout -k 30 "$limit" bash "${BASH_SOURCE[0]}" "${args[@]}"
fi

WORK="$(mktemp -d /tmp/keelson-bench-sched.XXXXXX)"
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

start_server() { # case name
    read -r CPORT PPORT APORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
')
    DATA="$WORK/data-$1"
    log "starting keelson server for case $1: API https://127.0.0.1:$APORT, data $DATA"
    "$KEELSON" server --name bench --data-dir "$DATA" \
        --listen-client-urls "http://127.0.0.1:$CPORT" \
        --advertise-client-urls "http://127.0.0.1:$CPORT" \
        --listen-peer-urls "http://127.0.0.1:$PPORT" \
        --initial-advertise-peer-urls "http://127.0.0.1:$PPORT" \
        --initial-cluster "bench=http://127.0.0.1:$PPORT" \
        --bind-address 127.0.0.1 --secure-port "$APORT" --disable-controllers \
        >"$WORK/server-$1.log" 2>&1 &
    PID=$!
    local deadline=$((SECONDS + 60))
    until curl -fsS --max-time 3 --cacert "$DATA/pki/ca.crt" "https://127.0.0.1:$APORT/readyz" >/dev/null 2>&1; do
        if ! alive "$PID"; then
            log "the server exited during startup:"
            tail -n 30 "$WORK/server-$1.log" >&2
            exit 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "the server was not ready after 60 s:"
            tail -n 30 "$WORK/server-$1.log" >&2
            exit 1
        fi
        sleep 0.5
    done
}

if [ -n "$QUICK" ]; then cases=(100 500); else cases=(500 5000); fi
rc=0
for n in "${cases[@]}"; do
    start_server "$n"
    bench=("$KEELSON" bench scheduler --kubeconfig "$DATA/admin.kubeconfig" --nodes "$n"
        --json "$WORK/bench-scheduler-$n.json")
    [ -n "$QUICK" ] && bench+=(--pods 1000 --init-pods 100)
    bench+=("${EXTRA[@]}")
    log "${bench[*]}"
    "${bench[@]}" || rc=$?
    if ! alive "$PID"; then
        log "the server had exited by the end of the case; tail of its log:"
        tail -n 30 "$WORK/server-$n.log" >&2
        rc=1
    fi
    stop_server
    [ "$rc" = 0 ] || break
done
exit "$rc"
