/**
 * SipHash-2-4 on 32-bit halves (no BigInt on the hot path), and the key → partition rule Fluvio's
 * producer uses: `SiphashRoundRobinPartitioner` hashes a key with `siphasher::sip::SipHasher`
 * (SipHash-2-4, all-zero 128-bit key) through Rust's `Hash for [u8]`, which feeds the length as a
 * native-endian `usize` (8 bytes, little-endian on the 64-bit hosts Fluvio runs on) and then the
 * bytes; partition = hash mod partition count. Keyless records go round-robin.
 */

/** 64-bit result as two unsigned 32-bit halves. */
export interface U64 {
  hi: number;
  lo: number;
}

let scratch = new Uint8Array(64);

/**
 * SipHash-2-4 of the concatenation `prefix ‖ msg` (prefix may be empty) under the 16-byte key
 * (k0 = bytes 0..7 little-endian, k1 = bytes 8..15). Writes the result into `out`.
 */
export function sipHash24Into(out: U64, msg: Uint8Array, key?: Uint8Array, lengthPrefix = false): U64 {
  let input = msg;
  if (lengthPrefix) {
    const need = msg.length + 8;
    if (scratch.length < need) scratch = new Uint8Array(Math.max(need, scratch.length * 2));
    const len = msg.length;
    scratch[0] = len & 0xff;
    scratch[1] = (len >>> 8) & 0xff;
    scratch[2] = (len >>> 16) & 0xff;
    scratch[3] = (len >>> 24) & 0xff;
    const hiLen = Math.floor(len / 0x1_0000_0000);
    scratch[4] = hiLen & 0xff;
    scratch[5] = (hiLen >>> 8) & 0xff;
    scratch[6] = (hiLen >>> 16) & 0xff;
    scratch[7] = (hiLen >>> 24) & 0xff;
    scratch.set(msg, 8);
    input = scratch.subarray(0, need);
  }
  const k0lo = key ? le32(key, 0) : 0,
    k0hi = key ? le32(key, 4) : 0;
  const k1lo = key ? le32(key, 8) : 0,
    k1hi = key ? le32(key, 12) : 0;
  // "somepseudorandomlygeneratedbytes"
  let v0hi = (0x736f6d65 ^ k0hi) >>> 0,
    v0lo = (0x70736575 ^ k0lo) >>> 0;
  let v1hi = (0x646f7261 ^ k1hi) >>> 0,
    v1lo = (0x6e646f6d ^ k1lo) >>> 0;
  let v2hi = (0x6c796765 ^ k0hi) >>> 0,
    v2lo = (0x6e657261 ^ k0lo) >>> 0;
  let v3hi = (0x74656462 ^ k1hi) >>> 0,
    v3lo = (0x79746573 ^ k1lo) >>> 0;

  const n = input.length;
  const whole = n - (n % 8);
  let mhi = 0,
    mlo = 0;
  let t = 0,
    c = 0;
  for (let i = 0; i <= whole; i += 8) {
    if (i < whole) {
      mlo = le32(input, i);
      mhi = le32(input, i + 4);
    } else {
      // Last block: the remaining bytes, with the message length (mod 256) in the top byte.
      mlo = 0;
      mhi = (n & 0xff) << 24;
      const rem = n - whole;
      for (let j = 0; j < rem; j++) {
        const b = input[whole + j]!;
        if (j < 4) mlo |= b << (8 * j);
        else mhi |= b << (8 * (j - 4));
      }
      mlo >>>= 0;
      mhi >>>= 0;
    }
    v3hi = (v3hi ^ mhi) >>> 0;
    v3lo = (v3lo ^ mlo) >>> 0;
    const rounds = 2;
    for (let r = 0; r < rounds; r++) {
      // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
      t = (v0lo + v1lo) >>> 0;
      c = t < v0lo ? 1 : 0;
      v0lo = t;
      v0hi = (v0hi + v1hi + c) >>> 0;
      t = ((v1hi << 13) | (v1lo >>> 19)) >>> 0;
      v1lo = ((v1lo << 13) | (v1hi >>> 19)) >>> 0;
      v1hi = t;
      v1hi = (v1hi ^ v0hi) >>> 0;
      v1lo = (v1lo ^ v0lo) >>> 0;
      t = v0hi;
      v0hi = v0lo;
      v0lo = t;
      // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
      t = (v2lo + v3lo) >>> 0;
      c = t < v2lo ? 1 : 0;
      v2lo = t;
      v2hi = (v2hi + v3hi + c) >>> 0;
      t = ((v3hi << 16) | (v3lo >>> 16)) >>> 0;
      v3lo = ((v3lo << 16) | (v3hi >>> 16)) >>> 0;
      v3hi = t;
      v3hi = (v3hi ^ v2hi) >>> 0;
      v3lo = (v3lo ^ v2lo) >>> 0;
      // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
      t = (v0lo + v3lo) >>> 0;
      c = t < v0lo ? 1 : 0;
      v0lo = t;
      v0hi = (v0hi + v3hi + c) >>> 0;
      t = ((v3hi << 21) | (v3lo >>> 11)) >>> 0;
      v3lo = ((v3lo << 21) | (v3hi >>> 11)) >>> 0;
      v3hi = t;
      v3hi = (v3hi ^ v0hi) >>> 0;
      v3lo = (v3lo ^ v0lo) >>> 0;
      // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
      t = (v2lo + v1lo) >>> 0;
      c = t < v2lo ? 1 : 0;
      v2lo = t;
      v2hi = (v2hi + v1hi + c) >>> 0;
      t = ((v1hi << 17) | (v1lo >>> 15)) >>> 0;
      v1lo = ((v1lo << 17) | (v1hi >>> 15)) >>> 0;
      v1hi = t;
      v1hi = (v1hi ^ v2hi) >>> 0;
      v1lo = (v1lo ^ v2lo) >>> 0;
      t = v2hi;
      v2hi = v2lo;
      v2lo = t;
    }
    v0hi = (v0hi ^ mhi) >>> 0;
    v0lo = (v0lo ^ mlo) >>> 0;
  }
  v2lo = (v2lo ^ 0xff) >>> 0;
  for (let r = 0; r < 4; r++) {
    t = (v0lo + v1lo) >>> 0;
    c = t < v0lo ? 1 : 0;
    v0lo = t;
    v0hi = (v0hi + v1hi + c) >>> 0;
    t = ((v1hi << 13) | (v1lo >>> 19)) >>> 0;
    v1lo = ((v1lo << 13) | (v1hi >>> 19)) >>> 0;
    v1hi = t;
    v1hi = (v1hi ^ v0hi) >>> 0;
    v1lo = (v1lo ^ v0lo) >>> 0;
    t = v0hi;
    v0hi = v0lo;
    v0lo = t;
    t = (v2lo + v3lo) >>> 0;
    c = t < v2lo ? 1 : 0;
    v2lo = t;
    v2hi = (v2hi + v3hi + c) >>> 0;
    t = ((v3hi << 16) | (v3lo >>> 16)) >>> 0;
    v3lo = ((v3lo << 16) | (v3hi >>> 16)) >>> 0;
    v3hi = t;
    v3hi = (v3hi ^ v2hi) >>> 0;
    v3lo = (v3lo ^ v2lo) >>> 0;
    t = (v0lo + v3lo) >>> 0;
    c = t < v0lo ? 1 : 0;
    v0lo = t;
    v0hi = (v0hi + v3hi + c) >>> 0;
    t = ((v3hi << 21) | (v3lo >>> 11)) >>> 0;
    v3lo = ((v3lo << 21) | (v3hi >>> 11)) >>> 0;
    v3hi = t;
    v3hi = (v3hi ^ v0hi) >>> 0;
    v3lo = (v3lo ^ v0lo) >>> 0;
    t = (v2lo + v1lo) >>> 0;
    c = t < v2lo ? 1 : 0;
    v2lo = t;
    v2hi = (v2hi + v1hi + c) >>> 0;
    t = ((v1hi << 17) | (v1lo >>> 15)) >>> 0;
    v1lo = ((v1lo << 17) | (v1hi >>> 15)) >>> 0;
    v1hi = t;
    v1hi = (v1hi ^ v2hi) >>> 0;
    v1lo = (v1lo ^ v2lo) >>> 0;
    t = v2hi;
    v2hi = v2lo;
    v2lo = t;
  }
  out.hi = (v0hi ^ v1hi ^ v2hi ^ v3hi) >>> 0;
  out.lo = (v0lo ^ v1lo ^ v2lo ^ v3lo) >>> 0;
  return out;
}

function le32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

/** SipHash-2-4 as a bigint (tests, tools). */
export function sipHash24(msg: Uint8Array, key?: Uint8Array): bigint {
  const r = sipHash24Into({ hi: 0, lo: 0 }, msg, key);
  return (BigInt(r.hi) << 32n) | BigInt(r.lo);
}

const h: U64 = { hi: 0, lo: 0 };

/** The 64-bit hash Fluvio's producer computes for a record key (SipHash-2-4 of `u64le(len) ‖ key`). */
export function fluvioKeyHash(key: Uint8Array): bigint {
  const r = sipHash24Into({ hi: 0, lo: 0 }, key, undefined, true);
  return (BigInt(r.hi) << 32n) | BigInt(r.lo);
}

/** Partition for a keyed record, as Fluvio computes it: `siphash(key) mod partitionCount`. */
export function partitionForKey(key: Uint8Array, partitionCount: number): number {
  sipHash24Into(h, key, undefined, true);
  // (hi·2^32 + lo) mod n without leaving the exact-integer range: every product stays < n·2^16 ≤ 2^47.
  const n = partitionCount;
  let r = h.hi % n;
  r = (r * 0x10000) % n;
  r = (r * 0x10000) % n;
  return (r + (h.lo % n)) % n;
}
