#!/usr/bin/env bash
# What `npm start` runs: the whole system on this machine in the foreground (src/bin/curve-cluster.ts):
# an MDS, 3 chunkservers in 3 zones and tgtd exporting the Curve volume /vol0 as
# iqn.2026-11.io.curve:vol0 LUN 1 on 127.0.0.1:3260. Data in ./data, kept across restarts.
# Options pass through: npm start -- --port 3270 --data-dir /tmp/c1 --size 20GiB (see docs/cluster.md).
#   env: PORT sets the default iSCSI port (as before; --port wins).
set -euo pipefail
cd "$(dirname "$0")/.."

# Install dependencies on a fresh checkout (npm ci also builds the optional native addons; a checkout
# installed before an addon existed builds it here).
[ -d node_modules ] || npm ci
[ -f native/crc32c/build/Release/crc32c.node ] || bash scripts/build-native.sh

# Build when dist is missing or older than any source.
LAUNCHER=dist/src/bin/curve-cluster.js
if [ ! -f "$LAUNCHER" ] || [ ! -f dist/src/bin/tgtd.js ] ||
  [ -n "$(find src proto -newer "$LAUNCHER" \( -name '*.ts' -o -name '*.proto' \) -print -quit 2>/dev/null)" ]; then
  npm run build
fi

# The iSCSI port: --port N / --port=N from the arguments, else $PORT, else 3260.
port=${PORT:-3260}
port_args=(--port "$port")
listen=127.0.0.1
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
  --port)
    port=${args[$((i + 1))]:-$port}
    port_args=()
    ;;
  --port=*)
    port=${args[$i]#--port=}
    port_args=()
    ;;
  --listen) listen=${args[$((i + 1))]:-$listen} ;;
  --listen=*) listen=${args[$i]#--listen=} ;;
  esac
done
probe=$listen
[ "$probe" = 0.0.0.0 ] && probe=127.0.0.1
if (exec 3<>"/dev/tcp/${probe}/${port}") 2>/dev/null; then
  echo "port ${port} on ${probe} is already in use (Debian's system tgt listens on 3260)." >&2
  echo "Stop that service or choose another port: npm start -- --port 3270" >&2
  exit 1
fi

# The launcher replaces this shell (same PID), so Ctrl-C and SIGTERM reach it directly.
exec node "$LAUNCHER" "${port_args[@]}" "$@"
