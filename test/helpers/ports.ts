// Ports for test daemons on 127.0.0.1. A port from listen(0) is an ephemeral one: between the moment a
// test reserves it and the moment its daemon listens (or listens again after a SIGKILL restart), any
// outgoing connection on the machine may be given that very port, and the daemon dies with EADDRINUSE
// (it happened to the Raft crash test in CI). Ports below the kernel's ephemeral range are never handed
// to outgoing connections, so they are picked there, at random, and checked free.
import * as fs from 'node:fs';
import * as net from 'node:net';

/** Where random test ports come from: [10000, start of the ephemeral range). */
function portWindow(): [number, number] {
  let low = 32768;
  try {
    low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // not Linux: keep the IANA default
  }
  return low > 12_000 ? [10_000, low] : [61_000, 65_000];
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A base port P with P..P+count-1 all free on 127.0.0.1, outside the ephemeral range. */
export async function freePortRange(count: number): Promise<number> {
  const [from, to] = portWindow();
  for (;;) {
    const p = from + Math.floor(Math.random() * (to - from - count));
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = await portFree(p + i);
    if (ok) return p;
  }
}

/** A free port on 127.0.0.1 that no outgoing connection can take before the daemon listens on it. */
export function freePort(): Promise<number> {
  return freePortRange(1);
}
