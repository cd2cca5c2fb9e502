// The shortest decimal digits that read back as a given f64, and among those the closest to it
// (ties to an even last digit): what ryu (serde_json), JavaScript's Number#toString and Rust's
// Display all print. The runtime's own printer (Grisu2) is fast but, for some doubles that need
// 16–17 digits, picks a round-tripping digit string that is not the closest (0.1 + 0.2 comes out
// as 0.30000000000000007, not …04), so its answer is kept only where it provably is the shortest
// and closest, and the rest are worked out exactly with big integers (Steele & White / Burger &
// Dybvig's free-format digit generation).
import { Big } from "./bignum";

/** Digits of the last `shortestDigits` call, without leading or trailing zeros. */
export let shortDigits = "";
/** Where the decimal point goes: value = 0.<shortDigits> × 10^shortPoint. */
export let shortPoint: i32 = 0;

// @ts-ignore: decorator
@lazy const MIN_NORMAL: f64 = 2.2250738585072014e-308;

/** Shortest round-trip digits of a finite x > 0, into `shortDigits` and `shortPoint`. */
export function shortestDigits(x: f64): void {
  fromRuntime(x);
  // Distinct decimals of at most 15 significant digits read as distinct normal doubles, so a
  // round-tripping answer that short is the only one of its length and none shorter exists.
  if (shortDigits.length > 15 || x < MIN_NORMAL) exact(x);
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

// @ts-ignore: decorator
@lazy const sum = new Big();

/** Whether r + m reaches s (or passes it, when the bound itself does not read back as x). */
function pastHigh(r: Big, m: Big, s: Big, inclusive: bool): bool {
  let c = sum.setSum(r, m).compare(s);
  return inclusive ? c >= 0 : c > 0;
}

/**
 * Exact digit generation. x = r/s; the doubles next to x are a distance 2·mMinus/s below and
 * 2·mPlus/s above, so anything strictly between (r − mMinus)/s and (r + mPlus)/s reads back as x
 * (the bounds too when x's mantissa is even, as reading rounds ties to even).
 */
function exact(x: f64): void {
  let bits = reinterpret<u64>(x);
  let be = <i32>(bits >> 52);
  let f = bits & 0xfffffffffffff;
  let e: i32 = -1074;
  if (be > 0) { f |= <u64>1 << 52; e = be - 1075; }
  let even = (f & 1) == 0;
  // at a power of two the double below is half as far away as the one above
  let unequal = be > 1 && f == <u64>1 << 52 ? 1 : 0;
  let r: Big, s: Big, mPlus: Big, mMinus: Big;
  if (e >= 0) {
    r = Big.of(f).shl(e + 1 + unequal);
    s = Big.of(2 << unequal);
    mPlus = Big.of(1).shl(e + unequal);
    mMinus = Big.of(1).shl(e);
  } else {
    r = Big.of(f).shl(1 + unequal);
    s = Big.of(1).shl(1 - e + unequal);
    mPlus = Big.of(1 << unequal);
    mMinus = Big.of(1);
  }
  // scale by 10^k so that the upper bound lies in (0.1, 1]
  let k = <i32>Math.ceil(Math.log10(x));
  if (k >= 0) s.mulPow5(k).shl(k);
  else {
    r.mulPow5(-k).shl(-k);
    mPlus.mulPow5(-k).shl(-k);
    mMinus.mulPow5(-k).shl(-k);
  }
  while (pastHigh(r, mPlus, s, even)) { s.mulAdd(10, 0); k++; }
  while (true) {
    sum.setSum(r, mPlus).mulAdd(10, 0);
    if (even ? sum.compare(s) >= 0 : sum.compare(s) > 0) break;
    r.mulAdd(10, 0); mPlus.mulAdd(10, 0); mMinus.mulAdd(10, 0); k--;
  }
  let n: u64 = 0; // at most 17 digits
  while (true) {
    r.mulAdd(10, 0); mPlus.mulAdd(10, 0); mMinus.mulAdd(10, 0);
    let d: u32 = 0;
    while (r.compare(s) >= 0) { r.sub(s); d++; }
    let c = r.compare(mMinus);
    let low = even ? c <= 0 : c < 0;      // stopping at d reads back as x
    let high = pastHigh(r, mPlus, s, even); // so does d + 1
    if (!low && !high) { n = n * 10 + d; continue; }
    if (low && high) {
      // both read back: the closer one, or the even one when x is exactly halfway
      let half = sum.setSum(r, r).compare(s);
      if (half > 0 || (half == 0 && (d & 1) == 1)) d++;
    } else if (high) d++;
    n = n * 10 + d;
    break;
  }
  while (n % 10 == 0) n /= 10;
  shortDigits = n.toString();
  shortPoint = k;
}
