#!/usr/bin/env bash
# Long-running soaks: SOAK_SEEDS (default 20000) seeds of the deterministic Raft simulator, then the
# full iscsi-test-cu run on a curve LUN.
# Later soaks are appended below; the script stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
node dist/src/bin/raft-sim.js --seeds "${SOAK_SEEDS:-20000}"
# libiscsi's whole conformance suite on a curve-backed LUN (npm test runs a subset; 5-10 minutes).
CU_CURVE_TESTS=ALL npx tap --timeout=1500 --disable-coverage --allow-empty-coverage \
  dist/test/conformance/iscsi-test-cu-curve.test.js
