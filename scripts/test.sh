#!/usr/bin/env bash
# Runs keelson's whole test suite: unit tests, the store's contract tests, and the
# multi-process tests that start real `keelson store` processes and drive them with the
# real etcdctl and the etcd-client crate. Installs missing system packages first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/keelson-target}"
exec cargo nextest run --workspace --profile ci "$@"
