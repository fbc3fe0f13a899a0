// RFC 1982 serial number arithmetic on 32-bit sequence numbers (CmdSN, StatSN, DataSN), as RFC 7143
// requires for every comparison of them.

export function snAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** a < b in serial arithmetic. */
export function snLt(a: number, b: number): boolean {
  return a !== b && (b - a) >>> 0 < 0x80000000;
}

export function snLe(a: number, b: number): boolean {
  return a === b || snLt(a, b);
}

/** Distance from a forward to b (b - a mod 2^32). */
export function snDiff(b: number, a: number): number {
  return (b - a) >>> 0;
}
