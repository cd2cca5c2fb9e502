// Just enough arbitrary-precision arithmetic to decide how a long decimal number rounds to f64:
// unsigned integers as little-endian u32 limbs, multiplied by small numbers, shifted, compared.

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
