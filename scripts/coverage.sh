#!/usr/bin/env bash
# Line coverage of the agent per module, measured over the whole test suite with
# cargo-tarpaulin's LLVM engine, written to docs/COVERAGE.md.
#
#   cargo install cargo-tarpaulin      # once (about 10 minutes)
#   scripts/coverage.sh
#
# The whole workspace is measured; the simulator (crates/nbu-sim/) is reported apart: it is
# the test double, not the agent. Child processes (the command-line tests run the binary)
# write their own profiles, which are counted too. Instrumented tests run several times slower: the per-test timeout is long.
set -euo pipefail

cd "$(dirname "$0")/.."
command -v cargo-tarpaulin >/dev/null || {
    echo "coverage: cargo-tarpaulin is needed (cargo install cargo-tarpaulin)" >&2
    exit 2
}
out=${OUT:-target/coverage}
mkdir -p "$out"
cargo tarpaulin --workspace --engine llvm --skip-clean --target-dir target/tarpaulin \
    --timeout 1200 --follow-exec --no-fail-fast --out Lcov --output-dir "$out"
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown) \
    python3 scripts/coverage-report.py "$out/lcov.info" >docs/COVERAGE.md
cat docs/COVERAGE.md
