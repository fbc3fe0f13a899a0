#!/usr/bin/env bash
# `npm run bench`: every benchmark, each printing its own table. BENCH_ONLY=iscsi,curve,raft,rpc,chunkserver,mds
# picks a subset; extra arguments go to each program (e.g. --quick). BENCH_PROFILE=1 adds CPU profiles
# of tgtd and the chunkservers under 4 KiB writes to the curve benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
only=${BENCH_ONLY:-iscsi,curve,raft,rpc,chunkserver,mds}
run() { # name file
  case ",$only," in *",$1,"*) ;; *) return 0 ;; esac
  if [ ! -f "$2" ]; then
    echo "== $1: $2 not built" >&2
    return 1
  fi
  echo "== $1 benchmark ($2)"
  node "$2" "${@:3}"
}
status=0
run iscsi dist/test/bench/bench.js "$@" || status=1
run curve dist/test/bench/curve-bench.js "$@" || status=1
run raft dist/test/bench/raft-bench.js "$@" || status=1
run rpc dist/test/bench/rpc-bench.js "$@" || status=1
[ -f dist/test/bench/chunkserver-bench.js ] && { run chunkserver dist/test/bench/chunkserver-bench.js "$@" || status=1; }
run mds dist/test/bench/mds-bench.js || status=1
exit $status
