// Just enough arbitrary-precision arithmetic to decide how a long decimal number rounds to f64, and
// which decimal digits are the shortest for an f64: unsigned integers as little-endian u32 limbs,
// multiplied by small numbers, shifted, added, subtracted, compared.

export class Big {
  limbs: u32[] = [0];

  static of(x: u64): Big {
    let b = new Big();
    b.limbs[0] = <u32>x;
    if (x >> 32) b.limbs.push(<u32>(x >> 32));
    return b;
  }

  /** this = this × m + a. */
  mulAdd(m: u32, a: u32): Big {
    let carry: u64 = a;
    let l = this.limbs;
    for (let i = 0; i < l.length; i++) {
      let v = <u64>l[i] * m + carry;
      l[i] = <u32>v;
      carry = v >> 32;
    }
    if (carry) l.push(<u32>carry);
    return this;
  }

  mulPow5(k: i32): Big {
    while (k >= 13) { this.mulAdd(1220703125, 0); k -= 13; }
    let m: u32 = 1;
    while (k-- > 0) m *= 5;
    return this.mulAdd(m, 0);
  }

  shl(k: i32): Big {
    let l = this.limbs;
    let words = k >> 5;
    let bits = k & 31;
    if (bits) {
      let carry: u32 = 0;
      for (let i = 0; i < l.length; i++) {
        let v = l[i];
        l[i] = (v << bits) | carry;
        carry = v >> (32 - bits);
      }
      if (carry) l.push(carry);
    }
    if (words) {
      let n = l.length;
      l.length = n + words;
      for (let i = n - 1; i >= 0; i--) l[i + words] = l[i];
      for (let i = 0; i < words; i++) l[i] = 0;
    }
    return this;
  }

  /** this = this − o; o must not be larger. */
  sub(o: Big): Big {
    let l = this.limbs, m = o.limbs;
    let borrow: i64 = 0;
    for (let i = 0; i < l.length; i++) {
      let v = <i64>l[i] - (i < m.length ? <i64>m[i] : 0) - borrow;
      borrow = v < 0 ? 1 : 0;
      l[i] = <u32>(v + (borrow << 32));
    }
    return this;
  }

  /** this = a + b. */
  setSum(a: Big, b: Big): Big {
    let x = a.limbs, y = b.limbs;
    let n = max(x.length, y.length);
    let l = this.limbs;
    l.length = n;
    let carry: u64 = 0;
    for (let i = 0; i < n; i++) {
      let v = (i < x.length ? <u64>x[i] : 0) + (i < y.length ? <u64>y[i] : 0) + carry;
      l[i] = <u32>v;
      carry = v >> 32;
    }
    if (carry) l.push(<u32>carry);
    return this;
  }

  /** -1, 0 or 1 as this <, =, > other. */
  compare(o: Big): i32 {
    let a = this.limbs, b = o.limbs;
    let n = a.length, m = b.length;
    while (n > 1 && a[n - 1] == 0) n--;
    while (m > 1 && b[m - 1] == 0) m--;
    if (n != m) return n < m ? -1 : 1;
    for (let i = n - 1; i >= 0; i--) {
      if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    }
    return 0;
  }
}
