/**
 * CRC-32 (the IEEE / zlib polynomial, reflected 0xEDB88320): the trailer checksum of batches
 * stored from this version on (flag bit 5; older batches keep their CRC32C, see batch-format.ts).
 * @node-rs/crc32 computes it with carry-less multiplication (PCLMULQDQ) at ~25 GB/s on the
 * development machine, five times its CRC32C, which the CPU's CRC32 instruction bounds to one
 * 8-byte step per ~3 cycles. Both are 32-bit CRCs over the same bytes: every burst of up to 32
 * bits and all but 2^-32 of other corruptions are detected either way. A table-driven version
 * covers the 8-byte key and platforms without the addon.
 */
import { createRequire } from 'node:module';

const TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** Table-driven CRC-32 of `bytes`, continuing from `crc` (the result of an earlier call; 0 to start). */
export function crc32Small(bytes: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

type Crc = (bytes: Uint8Array, crc?: number) => number;

function loadNative(): Crc | null {
  try {
    const mod = createRequire(import.meta.url)('@node-rs/crc32') as {
      crc32: (b: Uint8Array, initial?: number) => number;
    };
    const f: Crc = (b, crc = 0) => mod.crc32(b, crc) >>> 0;
    // The check value of CRC-32 (the bytes "123456789"), and continuing from an earlier result.
    const probe = Buffer.from('123456789');
    return f(probe) === 0xcbf43926 && f(probe.subarray(4), f(probe.subarray(0, 4))) === 0xcbf43926 ? f : null;
  } catch {
    return null;
  }
}

/** CRC-32 of `bytes`, continuing from `crc`. */
export const crc32: Crc = loadNative() ?? crc32Small;
