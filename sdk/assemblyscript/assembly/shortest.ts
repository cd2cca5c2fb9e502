// The shortest decimal digits that read back as a given f64, and among those the closest to it
// (ties to an even last digit): what serde_json (ryu, now zmij), JavaScript's Number#toString and
// Rust's Display all print. Digits are generated exactly (Steele & White / Burger & Dybvig's
// free-format algorithm): in u64 arithmetic for doubles from about 1/64 to 1e17, where the scaled
// numbers fit, else on fixed big integers. Far from 1, the runtime's own printer (Grisu2) answers
// first when its digits are 15 or fewer on a normal double, which makes them the only possible
// answer; longer ones it may get wrong (0.1 + 0.2 would be 0.30000000000000007, not …04), so
// those are worked out.
/** Digits of the last `shortestDigits` call, without leading or trailing zeros. */
export let shortDigits = "";
/** Where the decimal point goes: value = 0.<shortDigits> × 10^shortPoint. */
export let shortPoint: i32 = 0;

// @ts-ignore: decorator
@lazy const MIN_NORMAL: f64 = 2.2250738585072014e-308;

/** Shortest round-trip digits of a finite x > 0, into `shortDigits` and `shortPoint`. */
export function shortestDigits(x: f64): void {
  let k = setUp(x);
  if (s.n == 1 || (s.n == 2 && unchecked(s.w[1]) < 1 << 28)) { digits64(k); return; }
  fromRuntime(x);
  // Distinct decimals of at most 15 significant digits read as distinct normal doubles, so a
  // round-tripping answer that short is the only one of its length and none shorter exists.
  if (shortDigits.length > 15 || x < MIN_NORMAL) digitsBig(k);
}

/** The runtime printer's digits (they always read back as x), taken apart from its text. */
function fromRuntime(x: f64): void {
  let s = x.toString();
  let mant = s;
  let e = 0;
  let ei = s.indexOf("e");
  if (ei >= 0) {
    mant = s.substring(0, ei);
    e = I32.parseInt(s.substring(ei + 1));
  }
  let dot = mant.indexOf(".");
  let intPart = dot >= 0 ? mant.substring(0, dot) : mant;
  let all = dot >= 0 ? intPart + mant.substring(dot + 1) : intPart;
  let point = intPart.length + e;
  let lead = 0;
  while (lead < all.length - 1 && all.charCodeAt(lead) == 0x30) lead++;
  let end = all.length;
  while (end > lead + 1 && all.charCodeAt(end - 1) == 0x30) end--;
  shortDigits = all.substring(lead, end);
  shortPoint = point - lead;
}

// Unsigned integers of up to 40 little-endian u32 limbs (the largest here is about 2^1100), in
// fixed arrays reused from call to call, so the digit loop allocates nothing.
const LIMBS = 40;

class Num {
  w: StaticArray<u32> = new StaticArray<u32>(LIMBS);
  n: i32 = 1;

  set(x: u64): Num {
    unchecked(this.w[0] = <u32>x);
    unchecked(this.w[1] = <u32>(x >> 32));
    this.n = x >> 32 ? 2 : 1;
    return this;
  }

  /** this = this × m. */
  mul(m: u32): Num {
    let w = this.w;
    let carry: u64 = 0;
    for (let i = 0, n = this.n; i < n; i++) {
      let v = <u64>unchecked(w[i]) * m + carry;
      unchecked(w[i] = <u32>v);
      carry = v >> 32;
    }
    if (carry) { unchecked(w[this.n] = <u32>carry); this.n++; }
    return this;
  }

  mulPow5(k: i32): Num {
    while (k >= 13) { this.mul(1220703125); k -= 13; }
    let m: u32 = 1;
    while (k-- > 0) m *= 5;
    return this.mul(m);
  }

  /** this = this × 2^k. */
  shl(k: i32): Num {
    let w = this.w;
    let words = k >> 5;
    let bits = k & 31;
    let n = this.n;
    if (bits) {
      let carry: u32 = 0;
      for (let i = 0; i < n; i++) {
        let v = unchecked(w[i]);
        unchecked(w[i] = (v << bits) | carry);
        carry = v >> (32 - bits);
      }
      if (carry) { unchecked(w[n] = carry); n++; }
    }
    if (words) {
      for (let i = n - 1; i >= 0; i--) unchecked(w[i + words] = w[i]);
      for (let i = 0; i < words; i++) unchecked(w[i] = 0);
      n += words;
    }
    this.n = n;
    return this;
  }

  /** this = this − o (o not larger). */
  sub(o: Num): void {
    let w = this.w, v = o.w;
    let borrow: i64 = 0;
    let m = o.n;
    for (let i = 0, n = this.n; i < n; i++) {
      let d = <i64>unchecked(w[i]) - (i < m ? <i64>unchecked(v[i]) : 0) - borrow;
      borrow = d < 0 ? 1 : 0;
      unchecked(w[i] = <u32>(d + (borrow << 32)));
    }
    while (this.n > 1 && unchecked(w[this.n - 1]) == 0) this.n--;
  }

  /** this = a + b. */
  setSum(a: Num, b: Num): Num {
    let x = a.w, y = b.w, w = this.w;
    let an = a.n, bn = b.n;
    let n = max(an, bn);
    let carry: u64 = 0;
    for (let i = 0; i < n; i++) {
      let v = (i < an ? <u64>unchecked(x[i]) : 0) + (i < bn ? <u64>unchecked(y[i]) : 0) + carry;
      unchecked(w[i] = <u32>v);
      carry = v >> 32;
    }
    if (carry) { unchecked(w[n] = <u32>carry); n++; }
    this.n = n;
    return this;
  }

  /** -1, 0 or 1 as this <, =, > o (neither has leading zero limbs). */
  compare(o: Num): i32 {
    if (this.n != o.n) return this.n < o.n ? -1 : 1;
    let w = this.w, v = o.w;
    for (let i = this.n - 1; i >= 0; i--) {
      let a = unchecked(w[i]), b = unchecked(v[i]);
      if (a != b) return a < b ? -1 : 1;
    }
    return 0;
  }
}

// @ts-ignore: decorator
@lazy const r = new Num();
// @ts-ignore: decorator
@lazy const s = new Num();
// @ts-ignore: decorator
@lazy const mPlus = new Num();
// @ts-ignore: decorator
@lazy const mMinus = new Num();
// @ts-ignore: decorator
@lazy const sum = new Num();

/** Whether r + m reaches s (or passes it, when the bound itself does not read back as x). */
function pastHigh(inclusive: bool): bool {
  let c = sum.setSum(r, mPlus).compare(s);
  return inclusive ? c >= 0 : c > 0;
}

// Exact digit generation. x = r/s; the doubles next to x are a distance 2·mMinus/s below and
// 2·mPlus/s above, so anything strictly between (r − mMinus)/s and (r + mPlus)/s reads back as x
// (the bounds too when x's mantissa is even, as reading rounds ties to even).
let even = false;

/** Sets r, s, mPlus, mMinus and `even` for x, scaled so that (r + mPlus)/s lies in (0.1, 1]; returns that scale k (x ≈ r/s × 10^k). */
function setUp(x: f64): i32 {
  let bits = reinterpret<u64>(x);
  let be = <i32>(bits >> 52);
  let f = bits & 0xfffffffffffff;
  let e: i32 = -1074;
  if (be > 0) { f |= <u64>1 << 52; e = be - 1075; }
  even = (f & 1) == 0;
  // at a power of two the double below is half as far away as the one above
  let unequal = be > 1 && f == <u64>1 << 52 ? 1 : 0;
  if (e >= 0) {
    r.set(f).shl(e + 1 + unequal);
    s.set(2 << unequal);
    mPlus.set(1).shl(e + unequal);
    mMinus.set(1).shl(e);
  } else {
    r.set(f).shl(1 + unequal);
    s.set(1).shl(1 - e + unequal);
    mPlus.set(1 << unequal);
    mMinus.set(1);
  }
  let k = <i32>Math.ceil(Math.log10(x));
  if (k >= 0) s.mulPow5(k).shl(k);
  else {
    r.mulPow5(-k).shl(-k);
    mPlus.mulPow5(-k).shl(-k);
    mMinus.mulPow5(-k).shl(-k);
  }
  while (pastHigh(even)) { s.mul(10); k++; }
  while (true) {
    sum.setSum(r, mPlus).mul(10);
    if (even ? sum.compare(s) >= 0 : sum.compare(s) > 0) break;
    r.mul(10); mPlus.mul(10); mMinus.mul(10); k--;
  }
  return k;
}

function value64(a: Num): u64 {
  return a.n == 1 ? <u64>unchecked(a.w[0]) : <u64>unchecked(a.w[0]) | (<u64>unchecked(a.w[1]) << 32);
}

/** The digit loop in u64 when s < 2^60 (then r, mPlus and mMinus, all below s, stay below 2^64 times ten). */
function digits64(k: i32): void {
  let rr = value64(r), ss = value64(s), mp = value64(mPlus), mm = value64(mMinus);
  let n: u64 = 0;
  while (true) {
    rr *= 10; mp *= 10; mm *= 10;
    let d = rr / ss;
    rr -= d * ss;
    let low = even ? rr <= mm : rr < mm;                   // stopping at d reads back as x
    let high = even ? rr + mp >= ss : rr + mp > ss;         // so does d + 1
    if (!low && !high) { n = n * 10 + d; continue; }
    if (low && high) {
      // both read back: the closer one, or the even one when x is exactly halfway
      if (rr * 2 > ss || (rr * 2 == ss && (d & 1) == 1)) d++;
    } else if (high) d++;
    n = n * 10 + d;
    break;
  }
  finish(n, k);
}

/** The same loop on big integers, for doubles far from 1. */
function digitsBig(k: i32): void {
  let n: u64 = 0; // at most 17 digits
  while (true) {
    r.mul(10); mPlus.mul(10); mMinus.mul(10);
    let d: u32 = 0;
    while (r.compare(s) >= 0) { r.sub(s); d++; }
    let c = r.compare(mMinus);
    let low = even ? c <= 0 : c < 0;
    let high = pastHigh(even);
    if (!low && !high) { n = n * 10 + d; continue; }
    if (low && high) {
      let half = sum.setSum(r, r).compare(s);
      if (half > 0 || (half == 0 && (d & 1) == 1)) d++;
    } else if (high) d++;
    n = n * 10 + d;
    break;
  }
  finish(n, k);
}

function finish(n: u64, k: i32): void {
  while (n % 10 == 0) n /= 10;
  shortDigits = n.toString();
  shortPoint = k;
}
