#!/usr/bin/env bash
# What `npm test` runs: make sure the real initiators and Debian's tgt (the reference peer) are
# installed, build, lint, then run every compiled test file with node-tap.
# TGTD_IMPL=debian runs the integration and conformance tests against Debian's tgtd instead of ours.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
want() { # package, then the check that proves it is installed
  local pkg=$1
  shift
  if ! "$@" >/dev/null 2>&1; then
    case " ${missing[*]-} " in *" $pkg "*) ;; *) missing+=("$pkg") ;; esac
  fi
}
want libiscsi-bin command -v iscsi-test-cu
want libiscsi-bin command -v iscsi-perf
want qemu-utils command -v qemu-img
want qemu-block-extra compgen -G '/usr/lib/*/qemu/block-iscsi.so'
want tgt test -x /usr/sbin/tgtd
want etcd-server command -v etcd

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    # Only the packages are needed: our tests start private tgtd instances on random ports and never
    # use a system tgtd (if the package's postinst starts one on 3260, it is left alone).
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y "${missing[@]}"
  else
    echo "missing Debian packages: ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

[ -d node_modules ] || npm ci
# The optional native addons (npm ci builds them; a checkout installed before one existed builds it here).
[ -f native/crc32c/build/Release/crc32c.node ] || bash scripts/build-native.sh
# A clean build, so compiled tests of deleted sources cannot linger in dist/.
rm -rf dist
npm run build
npm run lint

mapfile -t files < <(find dist/test -name '*.test.js' | sort)
if [ ${#files[@]} -eq 0 ]; then
  echo "no compiled test files under dist/test" >&2
  exit 1
fi

log=$(mktemp "${TMPDIR:-/tmp}/tap-output.XXXXXX")
trap 'rm -f "$log"' EXIT
# Per-file limit: the conformance suite alone may take up to its own 20-minute cap.
set +e
npx tap --timeout=1500 --disable-coverage --allow-empty-coverage "${files[@]}" 2>&1 | tee "$log"
code=${PIPESTATUS[0]}
set -e

# tap's closing "# { total: N, pass: N, fail: N, ... }" as a plain summary line.
summary=$(grep -E '^# \{ total: [0-9]+' "$log" | tail -1 || true)
pass=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary")
fail=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
echo "tests: ${pass:-0} passed, ${fail:-0} failed"
exit "$code"
