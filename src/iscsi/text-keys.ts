// iSCSI text key=value codec (RFC 7143 6.1): each pair is UTF-8 "key=value" followed by a NUL.
// Pure: the caller reassembles C-bit continued PDUs and hands us the whole data segment.

/** RFC 7143 6.1: key names are at most 63 bytes. */
export const MAX_KEY_BYTES = 63;
/** Longest value we accept. RFC 7143 6.1 caps most values at 255 bytes but lets keys allow more
 *  (encoded CHAP challenges run past 2 KiB); one generous bound keeps the parser key-agnostic. */
export const MAX_VALUE_BYTES = 8192;

export interface ParsedTextKeys {
  pairs: Array<[string, string]>;
  /** Set when the data segment is malformed; `pairs` then holds what was parsed before the error. */
  error?: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Buffer): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Split a text data segment into ordered pairs. Tolerates a missing final NUL and empty strings
 * between NULs (padding some initiators leave in the segment). A key repeated in one request is an
 * error: RFC 7143 6.2 forbids offering a key twice in one negotiation step.
 */
export function parseTextKeys(data: Buffer): ParsedTextKeys {
  const pairs: Array<[string, string]> = [];
  const seen = new Set<string>();
  let start = 0;
  while (start < data.length) {
    let end = data.indexOf(0, start);
    if (end < 0) end = data.length;
    const item = data.subarray(start, end);
    start = end + 1;
    if (item.length === 0) continue;
    const eq = item.indexOf(0x3d); // '='
    if (eq < 0) return { pairs, error: `text item without '=': ${printable(item)}` };
    if (eq === 0) return { pairs, error: 'text item with an empty key' };
    const keyBytes = item.subarray(0, eq);
    const valueBytes = item.subarray(eq + 1);
    if (keyBytes.length > MAX_KEY_BYTES) {
      return {
        pairs,
        error: `key longer than ${MAX_KEY_BYTES} bytes: ${printable(keyBytes.subarray(0, 64))}`,
      };
    }
    const key = decodeUtf8(keyBytes);
    if (key === undefined) return { pairs, error: 'key is not valid UTF-8' };
    if (valueBytes.length > MAX_VALUE_BYTES) {
      return { pairs, error: `value of ${key} longer than ${MAX_VALUE_BYTES} bytes` };
    }
    const value = decodeUtf8(valueBytes);
    if (value === undefined) return { pairs, error: `value of ${key} is not valid UTF-8` };
    if (seen.has(key)) return { pairs, error: `key ${key} appears twice in one request` };
    seen.add(key);
    pairs.push([key, value]);
  }
  return { pairs };
}

/** Encode pairs in order, each NUL-terminated. Duplicate keys are kept (SendTargets responses need them). */
export function encodeTextKeys(pairs: Array<[string, string]>): Buffer {
  return Buffer.concat(pairs.map(([key, value]) => Buffer.from(`${key}=${value}\0`, 'utf8')));
}

function printable(bytes: Buffer): string {
  return JSON.stringify(bytes.toString('latin1'));
}
