import { prng } from '../../src/bench/input.js';
import { encodeInput, encodeRecords, type RecordInput } from '../../src/protocol/index.js';

export { prng };

/**
 * `count` records of `size`-byte lowercase values; every other one contains an 'a' (so the
 * "contains a" filter keeps half), the rest use b–z only.
 */
export function sampleRecords(count: number, size: number, seed = 42): RecordInput[] {
  const rnd = prng(seed);
  return Array.from({ length: count }, (_, i) => {
    const v = new Uint8Array(size);
    for (let j = 0; j < size; j++) v[j] = 0x62 + Math.floor(rnd() * 25);
    if (i % 2 === 0) v[Math.floor(rnd() * size)] = 0x61;
    return { value: v, offsetDelta: i, timestampDelta: i };
  });
}

export function sampleBatch(
  count: number,
  size: number,
  seed = 42,
): { raw: Uint8Array; input: Uint8Array; baseOffset: number; baseTimestamp: number } {
  const raw = encodeRecords(sampleRecords(count, size, seed));
  const baseOffset = 1000;
  const baseTimestamp = 1_700_000_000_000;
  return { raw, input: encodeInput({ baseOffset, baseTimestamp, raw }), baseOffset, baseTimestamp };
}
