import { createRequire } from 'node:module';

/** A 32-bit CRC of `bytes`, continuing from `crc` (the result of an earlier call; 0 to start). */
export type Crc = (bytes: Uint8Array, crc?: number) => number;

/** Table-driven reflected CRC-32 with `polynomial` (reflected form): for short inputs and platforms without the addon. */
export function tableCrc(polynomial: number): Crc {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ polynomial : c >>> 1;
    table[n] = c;
  }
  return (bytes, crc = 0) => {
    let c = ~crc;
    for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
    return ~c >>> 0;
  };
}

/**
 * @node-rs/crc32's `name` (a prebuilt native addon), or null when it cannot be loaded or gives a
 * wrong check value (the CRC of "123456789", whole and continued from its first four bytes).
 */
export function nativeCrc(name: 'crc32' | 'crc32c', checkValue: number): Crc | null {
  try {
    const mod = createRequire(import.meta.url)('@node-rs/crc32') as Record<
      string,
      (b: Uint8Array, initial?: number) => number
    >;
    const native = mod[name]!;
    const f: Crc = (b, crc = 0) => native(b, crc) >>> 0;
    const probe = Buffer.from('123456789');
    return f(probe) === checkValue && f(probe.subarray(4), f(probe.subarray(0, 4))) === checkValue ? f : null;
  } catch {
    return null;
  }
}
