#!/usr/bin/env bash
# Starts a working single-member keelson (`keelson server` with its embedded store) in the
# foreground, serving the etcd v3 API on 127.0.0.1:2379. Installs missing system packages
# and builds first. Data goes to ./keelson-data (override with KEELSON_DATA_DIR).
# Try it from another terminal:  ETCDCTL_API=3 etcdctl --endpoints=127.0.0.1:2379 put hello world
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/keelson-target}"
cargo build --bin keelson
exec "$CARGO_TARGET_DIR/debug/keelson" server --name keelson --data-dir "${KEELSON_DATA_DIR:-keelson-data}" "$@"
