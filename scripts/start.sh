#!/usr/bin/env bash
# What `npm start` runs (until the Curve stack lands): our tgtd in the foreground on 127.0.0.1,
# with one demo target whose LUN 1 is a 1 GiB sparse file.
#   env: PORT (default 3260), DEMO_DIR (default /var/lib/curve-tgt),
#        CONTROL_PORT (default 0, as tgt), TGT_IPC_SOCKET (default /var/run/tgtd/socket)
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-3260}
CONTROL_PORT=${CONTROL_PORT:-0}
DEMO_DIR=${DEMO_DIR:-/var/lib/curve-tgt}
IQN=iqn.2026-11.io.curve:demo
SOCKET="${TGT_IPC_SOCKET:-/var/run/tgtd/socket}.${CONTROL_PORT}"

# Install dependencies on a fresh checkout.
[ -d node_modules ] || npm ci

# Build when dist is missing or older than any source.
if [ ! -f dist/src/bin/tgtd.js ] || [ ! -f dist/src/bin/tgtadm.js ] ||
  [ -n "$(find src -name '*.ts' -newer dist/src/bin/tgtd.js -print -quit)" ]; then
  npm run build
fi

if (exec 3<>"/dev/tcp/127.0.0.1/${PORT}") 2>/dev/null; then
  echo "port ${PORT} on 127.0.0.1 is already in use (Debian's system tgt listens on 3260)." >&2
  echo "Stop that service or choose another port: PORT=3261 npm start" >&2
  exit 1
fi
if [ -S "$SOCKET" ] && node -e "require('net').connect(process.argv[1]).on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))" "$SOCKET"; then
  echo "management socket ${SOCKET} is in use by another tgtd; choose another: CONTROL_PORT=1 npm start" >&2
  exit 1
fi

if ! mkdir -p "$DEMO_DIR" "$(dirname "$SOCKET")" 2>/dev/null; then
  echo "cannot create ${DEMO_DIR} or $(dirname "$SOCKET"); run as root or set DEMO_DIR and TGT_IPC_SOCKET" >&2
  exit 1
fi
IMG="${DEMO_DIR}/demo.img"
[ -f "$IMG" ] || truncate -s 1G "$IMG"

admin() { node dist/src/bin/tgtadm.js -C "$CONTROL_PORT" --lld iscsi "$@"; }

# Configure from the background once the daemon's management socket is up; the daemon itself
# replaces this shell below (same PID), so a failed configuration stops it.
daemon_pid=$$
(
  for _ in $(seq 1 300); do
    [ -S "$SOCKET" ] && break
    sleep 0.1
  done
  if admin --op new --mode target --tid 1 -T "$IQN" &&
    admin --op new --mode logicalunit --tid 1 --lun 1 -E rdwr -b "$IMG" &&
    admin --op bind --mode target --tid 1 -I ALL; then
    cat <<MSG
tgtd is serving ${IQN} (LUN 1: ${IMG}) on 127.0.0.1:${PORT}. Connect with
  open-iscsi: iscsiadm -m discovery -t st -p 127.0.0.1:${PORT}
              iscsiadm -m node -T ${IQN} -p 127.0.0.1:${PORT} --login
  libiscsi:   iscsi-inq iscsi://127.0.0.1:${PORT}/${IQN}/1
Stop with Ctrl-C.
MSG
  else
    echo "configuring the demo target failed; stopping tgtd" >&2
    kill -TERM "$daemon_pid"
  fi
) &

exec node dist/src/bin/tgtd.js -f -C "$CONTROL_PORT" --iscsi "portal=127.0.0.1:${PORT}"
