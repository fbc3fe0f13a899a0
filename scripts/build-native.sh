#!/usr/bin/env bash
# What `npm ci` / `npm install` run (the package's install script): build the optional native addons
# under native/ with node-gyp. They only make things faster (native/crc32c: CRC32C with the SSE4.2
# instruction in three streams, ~3x @node-rs/crc32 on 4 KiB; native/sockopt: SO_RCVLOWAT, which the iSCSI
# target raises while solicited Data-Out is owed); when one cannot be built (no compiler, no Node
# headers), this says so and the code falls back (@node-rs/crc32; no low-water mark), so installation
# still succeeds.
set -uo pipefail
cd "$(dirname "$0")/.."
for dir in native/*/; do
  name=$(basename "$dir")
  if out=$(node-gyp rebuild --directory "$dir" 2>&1); then
    echo "native addon $name: built"
  else
    echo "native addon $name: NOT built, falling back to the portable implementation. node-gyp said:" >&2
    tail -n 5 <<<"$out" >&2
  fi
done
exit 0
