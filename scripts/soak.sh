#!/usr/bin/env bash
# Long-running soaks. SOAK_SEEDS (default 20000) seeds of the deterministic Raft simulator.
# Later soaks are appended below; the script stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
node dist/src/bin/raft-sim.js --seeds "${SOAK_SEEDS:-20000}"
