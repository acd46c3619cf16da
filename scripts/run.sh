#!/usr/bin/env bash
# Starts a working single-member keelson (`keelson server`: embedded store + Kubernetes API
# server) in the foreground: the etcd v3 API on 127.0.0.1:2379 and the Kubernetes API on
# https://127.0.0.1:6443. Installs missing system packages and builds first. Data goes to
# ./keelson-data (override with KEELSON_DATA_DIR); the admin kubeconfig is written there.
# Try it from another terminal:  KUBECONFIG=keelson-data/admin.kubeconfig kubectl get ns
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/keelson-target}"
cargo build --bin keelson
exec "$CARGO_TARGET_DIR/debug/keelson" server --name keelson --data-dir "${KEELSON_DATA_DIR:-keelson-data}" "$@"
