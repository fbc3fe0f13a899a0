// Errors the Curve client returns to its user. Transient trouble (leader changes, outages, MDS failover,
// a lost session lease) is never one of them until the hold limit runs out ('held-too-long').

export type CurveClientErrorKind =
  /** A newer opener increased the volume epoch: this client may no longer write. */
  | 'fenced'
  /** The I/O was held through failures for longer than the configured limit. */
  | 'held-too-long'
  /** The volume or its path does not exist (or the owner may not open it). */
  | 'notfound'
  | 'nospace'
  | 'range'
  | 'readonly'
  | 'closed'
  /** Too many I/Os waiting for an in-flight slot. */
  | 'overload'
  /** A permanent error from the MDS or a chunkserver (invalid request, owner check, ...). */
  | 'io';

export class CurveClientError extends Error {
  constructor(
    readonly kind: CurveClientErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'CurveClientError';
  }
}
