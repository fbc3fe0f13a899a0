// Loads the optional CRC32C addon built from native/crc32c by `npm ci` (scripts/build-native.sh): the
// SSE4.2 crc32 instruction in three interleaved streams, ~3x faster than @node-rs/crc32 on 4 KiB. Absent
// when it could not be built (no compiler, another architecture) or on a CPU without SSE4.2.
import { loadNativeAddon, nativeAddonPath } from '../common/native-addon';

export type Crc32cFn = (input: Uint8Array, initial?: number) => number;

/** The addon's crc32c, or undefined when it is not built or not usable on this CPU. */
export function loadCrc32cAddon(): Crc32cFn | undefined {
  const mod = loadNativeAddon('crc32c');
  return typeof mod?.crc32c === 'function' ? (mod.crc32c as Crc32cFn) : undefined;
}

/** Where the addon is expected (for messages and tests). */
export function crc32cAddonPath(): string | undefined {
  return nativeAddonPath('crc32c');
}
