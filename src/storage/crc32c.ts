/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of Kafka's and Fluvio's
 * record batches. Batch values go to @node-rs/crc32 (prebuilt native addon using the CPU's CRC32
 * instruction: GB/s); a table-driven version covers the 8-byte key and platforms without the addon.
 */
import { createRequire } from 'node:module';

const TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** Table-driven CRC32C of `bytes`, continuing from `crc` (the result of an earlier call; 0 to start). */
export function crc32cSmall(bytes: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

type Crc = (bytes: Uint8Array, crc?: number) => number;

function loadNative(): Crc | null {
  try {
    const mod = createRequire(import.meta.url)('@node-rs/crc32') as {
      crc32c: (b: Uint8Array, initial?: number) => number;
    };
    const f: Crc = (b, crc = 0) => mod.crc32c(b, crc) >>> 0;
    return f(Buffer.from('123456789')) === 0xe3069283 ? f : null;
  } catch {
    return null;
  }
}

/** CRC32C of `bytes`, continuing from `crc`. */
export const crc32c: Crc = loadNative() ?? crc32cSmall;
