// CHAP for iSCSI login (RFC 1994, RFC 7143 12.1.3), target side, with the SHA algorithms Linux uses
// (open-iscsi, LIO, iscsi-scst: CHAP_A 5 = MD5, 6 = SHA1, 7 = SHA-256, 8 = SHA3-256).
// Pure apart from hashing: randomness is injected so tests are deterministic.
import { createHash, randomBytes as cryptoRandomBytes, timingSafeEqual } from 'node:crypto';
import type { ChapAccount } from './target-port';

export type RandomSource = (n: number) => Buffer;

export interface ChapAlgorithm {
  /** node:crypto hash name */
  hash: string;
  digestSize: number;
}

export const CHAP_ALGORITHMS: Readonly<Record<number, ChapAlgorithm>> = Object.freeze({
  5: { hash: 'md5', digestSize: 16 },
  6: { hash: 'sha1', digestSize: 20 },
  7: { hash: 'sha256', digestSize: 32 },
  8: { hash: 'sha3-256', digestSize: 32 },
});

/** Algorithms the target accepts; the initiator's CHAP_A order decides among them. */
export const SUPPORTED_CHAP_ALGORITHMS: readonly number[] = [5, 6, 7, 8];

/** Longest challenge we accept from an initiator (binary bytes), as LIO does. */
export const MAX_INITIATOR_CHALLENGE = 1024;

/** RFC 1994 response: H(identifier || secret || challenge). */
export function chapDigest(
  algorithm: number,
  id: number,
  secret: string | Buffer,
  challenge: Buffer,
): Buffer {
  const alg = CHAP_ALGORITHMS[algorithm];
  if (!alg) throw new RangeError(`unknown CHAP algorithm ${algorithm}`);
  if (!Number.isInteger(id) || id < 0 || id > 255)
    throw new RangeError(`CHAP identifier ${id} is not 0..255`);
  return createHash(alg.hash)
    .update(Buffer.from([id]))
    .update(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret)
    .update(challenge)
    .digest();
}

/** Challenge length: the digest size (as LIO), never under 16 bytes (RFC 7143 12.1.3 recommends >= 16). */
export function challengeLength(algorithm: number): number {
  const alg = CHAP_ALGORITHMS[algorithm];
  if (!alg) throw new RangeError(`unknown CHAP algorithm ${algorithm}`);
  return Math.max(16, alg.digestSize);
}

/** First algorithm of the initiator's CHAP_A list that we support; non-numeric entries are skipped. */
export function selectChapAlgorithm(
  offer: string,
  supported: readonly number[] = SUPPORTED_CHAP_ALGORITHMS,
): number | undefined {
  for (const item of offer.split(',')) {
    if (!/^[0-9]{1,3}$/.test(item)) continue;
    const n = Number(item);
    if (supported.includes(n) && CHAP_ALGORITHMS[n]) return n;
  }
  return undefined;
}

/**
 * RFC 7143 6.1 binary-value: "0x"/"0X" + hex digits (an odd count implies a leading zero nibble) or
 * "0b"/"0B" + base64 (padding optional). Returns undefined when malformed or empty.
 */
export function decodeChapBinary(value: string): Buffer | undefined {
  const prefix = value.slice(0, 2).toLowerCase();
  const body = value.slice(2);
  if (prefix === '0x') {
    if (!/^[0-9a-fA-F]+$/.test(body)) return undefined;
    return Buffer.from(body.length % 2 === 1 ? `0${body}` : body, 'hex');
  }
  if (prefix === '0b') {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 === 1) return undefined;
    // Padding is optional on input; compare against the canonical padded form.
    const padded = body.length % 4 === 0 ? body : body + '='.repeat(4 - (body.length % 4));
    const bytes = Buffer.from(padded, 'base64');
    // Round-tripping rejects non-canonical encodings (stray bits in the last character, bad padding).
    return bytes.length > 0 && bytes.toString('base64') === padded ? bytes : undefined;
  }
  return undefined;
}

export function encodeChapHex(bytes: Buffer): string {
  return `0x${bytes.toString('hex')}`;
}

/** CHAP_I as sent by an initiator: a decimal or hex number 0..255. */
export function parseChapIdentifier(value: string): number | undefined {
  let n: number;
  if (/^[0-9]{1,3}$/.test(value)) n = Number(value);
  else if (/^0[xX][0-9a-fA-F]{1,2}$/.test(value)) n = Number.parseInt(value.slice(2), 16);
  else return undefined;
  return n <= 255 ? n : undefined;
}

export type ChapStepResult =
  { ok: true; pairs: Array<[string, string]>; user?: string } | { ok: false; reason: string };

export interface ChapResponseKeys {
  CHAP_N?: string;
  CHAP_R?: string;
  CHAP_I?: string;
  CHAP_C?: string;
}

export interface ChapServerOptions {
  /** Accounts an initiator may authenticate as (CHAP_N selects one). */
  incoming: readonly ChapAccount[];
  /** Our identity for mutual CHAP; without it a mutual challenge is refused. */
  outgoing?: ChapAccount;
  randomBytes?: RandomSource;
  algorithms?: readonly number[];
}

/**
 * The target's half of one CHAP exchange: `challenge` answers CHAP_A, `verify` checks CHAP_N/CHAP_R
 * and, when the initiator challenges us back (CHAP_I + CHAP_C), answers with our CHAP_N/CHAP_R.
 * Each step may be taken once, in order.
 */
export class ChapServer {
  private readonly random: RandomSource;
  private algorithm?: number;
  private id?: number;
  private sentChallenge?: Buffer;
  private state: 'idle' | 'challenged' | 'finished' = 'idle';

  constructor(private readonly options: ChapServerOptions) {
    this.random = options.randomBytes ?? cryptoRandomBytes;
  }

  challenge(chapA: string): ChapStepResult {
    if (this.state !== 'idle') return this.failed('CHAP_A received twice');
    const algorithm = selectChapAlgorithm(chapA, this.options.algorithms);
    if (algorithm === undefined) return this.failed(`no supported CHAP algorithm in CHAP_A=${chapA}`);
    this.algorithm = algorithm;
    this.id = this.random(1)[0];
    this.sentChallenge = Buffer.from(this.random(challengeLength(algorithm)));
    this.state = 'challenged';
    return {
      ok: true,
      pairs: [
        ['CHAP_A', String(algorithm)],
        ['CHAP_I', String(this.id)],
        ['CHAP_C', encodeChapHex(this.sentChallenge)],
      ],
    };
  }

  verify(keys: ChapResponseKeys): ChapStepResult {
    if (this.state !== 'challenged') return this.failed('CHAP response without a pending challenge');
    this.state = 'finished';
    const algorithm = this.algorithm as number;
    const ourChallenge = this.sentChallenge as Buffer;
    const { CHAP_N: name, CHAP_R: response } = keys;
    if (name === undefined || response === undefined) return this.failed('CHAP_N or CHAP_R missing');
    const account = this.options.incoming.find((a) => a.user === name);
    if (!account) return this.failed(`unknown CHAP user ${JSON.stringify(name)}`);
    const received = decodeChapBinary(response);
    const expected = chapDigest(algorithm, this.id as number, account.password, ourChallenge);
    if (!received || received.length !== expected.length || !timingSafeEqual(received, expected)) {
      return this.failed(`CHAP response of user ${JSON.stringify(name)} does not match`);
    }
    if (keys.CHAP_I === undefined && keys.CHAP_C === undefined) return { ok: true, pairs: [], user: name };
    return this.answerMutual(keys, algorithm, ourChallenge, received, name);
  }

  private answerMutual(
    keys: ChapResponseKeys,
    algorithm: number,
    ourChallenge: Buffer,
    received: Buffer,
    user: string,
  ): ChapStepResult {
    if (keys.CHAP_I === undefined || keys.CHAP_C === undefined) {
      return this.failed('mutual CHAP needs both CHAP_I and CHAP_C');
    }
    const outgoing = this.options.outgoing;
    if (!outgoing) return this.failed('initiator asked for mutual CHAP but no outgoing account is bound');
    const id = parseChapIdentifier(keys.CHAP_I);
    if (id === undefined) return this.failed(`malformed CHAP_I=${keys.CHAP_I}`);
    const theirChallenge = decodeChapBinary(keys.CHAP_C);
    if (!theirChallenge || theirChallenge.length > MAX_INITIATOR_CHALLENGE) {
      return this.failed('malformed or oversized CHAP_C');
    }
    // RFC 7143 12.1.3: never answer our own challenge back (reflection attack).
    if (theirChallenge.equals(ourChallenge)) return this.failed('initiator reflected the target challenge');
    // RFC 7143 12.1.3: a response we would have produced ourselves means one secret serves both directions.
    const ours = chapDigest(algorithm, this.id as number, outgoing.password, ourChallenge);
    if (timingSafeEqual(ours, received))
      return this.failed('same CHAP secret configured for both directions');
    return {
      ok: true,
      user,
      pairs: [
        ['CHAP_N', outgoing.user],
        ['CHAP_R', encodeChapHex(chapDigest(algorithm, id, outgoing.password, theirChallenge))],
      ],
    };
  }

  private failed(reason: string): ChapStepResult {
    this.state = 'finished';
    return { ok: false, reason };
  }
}
