import test from 'ava';
import { FrameBufferPool, sizeClass } from '../src/wire/frame-buffers.js';

test('sizeClass rounds up to four sizes per power of two', (t) => {
  t.is(sizeClass(1), 4096);
  t.is(sizeClass(4097), 5120);
  t.is(sizeClass(1 << 20), 1 << 20);
  t.is(sizeClass((1 << 20) + 1), 1.25 * (1 << 20));
  t.is(sizeClass(1_111_342), 1.25 * (1 << 20));
  for (let n = 1; n < 5e6; n = Math.ceil(n * 1.37)) {
    const c = sizeClass(n);
    t.true(c >= n && c <= Math.max(4096, n * 1.25 + 1), `${n} → ${c}`);
  }
});

test('take reuses the smallest spare that fits and follows frames that grow', (t) => {
  const pool = new FrameBufferPool(3);
  const small = new ArrayBuffer(8192),
    mid = new ArrayBuffer(65536),
    big = new ArrayBuffer(1 << 20);
  pool.give([big, small, mid, new ArrayBuffer(0)]);
  t.is(pool.size, 3, 'empty (detached) buffers are not kept');
  t.is(pool.take(5000), small);
  t.is(pool.take(5000), mid);
  pool.give([small, mid, new ArrayBuffer(4096)]);
  t.is(pool.size, 3, 'no more than maxBuffers');
  // Nothing fits 2 MiB: a new buffer, and the smallest spare is dropped.
  const fresh = pool.take(2 << 20);
  t.true(fresh.byteLength >= 2 << 20);
  t.is(pool.size, 2);
  t.deepEqual(
    pool
      .takeSome(5)
      .map((b) => b.byteLength)
      .sort((a, b) => a - b),
    [65536, 1 << 20],
  );
  t.is(pool.size, 0);
});
