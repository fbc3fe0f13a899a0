// V8 flags every data-path daemon (tgtd, curve-mds, curve-chunkserver) runs with. They are in each
// daemon's shebang (`#!/usr/bin/env -S node <flags>`, so `tgtd`, systemd units and npm's bin links get
// them) and are passed explicitly wherever a daemon is started as `node <file>` (the cluster launcher,
// tgtd's own daemonizing fork, the test and benchmark harnesses).
//
// --initial-old-space-size=64: without a configured old-generation size V8 shrinks its first limits to
// the surviving heap plus a small step when few young objects survive, which is exactly a daemon moving
// data: tiny heap (~11 MB), hundreds of MB/s of short-lived Buffers. Every MB promoted then starts a full
// mark-compact, which promotes the live young objects of the I/O in flight, and so on: ~30 mark-compacts
// per second under 1 MiB iSCSI writes (GC 37% of tgtd's busy time), 10-20 per second in chunkservers.
// With the size configured: no mark-compact during the same runs; tgtd 1 MiB writes to a null LUN
// 3.7 s -> 3.2-3.3 s per 2,000 writes, chunkserver 1 MiB writes 78 -> 105-112 MB/s.
export const DAEMON_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=64'];
