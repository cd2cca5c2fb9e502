import test from 'ava';
import type { ModuleMetrics } from '../src/smartmodule/chain.js';
import { type ResultFrame, ResultFrameWriter, readResultFrame } from '../src/wire/result-frame.js';
import type { WireError } from '../src/wire/wire-error.js';

const metrics = (module: string, k: number): ModuleMetrics => ({
  module,
  invocations: k,
  recordsIn: 1000 * k,
  recordsOut: 500 * k,
  bytesIn: 1e9 + k,
  bytesOut: 2 ** 40 + k,
  errors: k - 1,
  timeMs: 1.25 * k,
  accumulatorBytes: 7,
  memoryBytes: 65536 * k,
  recycles: k + 2,
});

function roundTrip(frame: ResultFrame, outputs: Uint8Array[], capacity = 16): ResultFrame {
  const w = new ResultFrameWriter(capacity);
  const wire = { ...frame, results: frame.results.map((r, i) => ({ ...r, raw: w.add(outputs[i]!) })) };
  const bytes = w.finish(wire);
  // The coordinator reads it from a transferred buffer: a copy at another offset must read the same.
  const moved = new Uint8Array(bytes.length + 3);
  moved.set(bytes, 3);
  return readResultFrame(moved.subarray(3));
}

test('result frames carry outputs, offsets, counts and metrics through the binary header', (t) => {
  const outputs = [new Uint8Array([0, 0, 0, 1, 9, 9]), new Uint8Array(0), new Uint8Array(3000).fill(7)];
  const frame: ResultFrame = {
    seq: 2 ** 40 + 3,
    results: outputs.map((raw, i) => ({
      baseOffset: 2 ** 50 + i * 1000,
      baseTimestamp: 1_700_000_000_000 + i,
      lastOffset: 2 ** 50 + i * 1000 + 999,
      raw,
      count: i * 10,
      accumulators: [null, null],
      error: null,
      skipped: [],
    })),
    metrics: [metrics('filter', 1), metrics('naïve-map ✓', 2)],
    fatal: null,
  };
  const back = roundTrip(frame, outputs);
  t.is(back.seq, frame.seq);
  t.deepEqual(back.metrics, frame.metrics);
  t.is(back.fatal, null);
  t.is(back.results.length, 3);
  back.results.forEach((r, i) => {
    const { raw, ...rest } = frame.results[i]!;
    t.deepEqual({ ...r, raw: [...r.raw] }, { ...rest, raw: [...raw] });
  });
});

test('result frames keep the rare parts: accumulators, runtime errors, skipped records, a fatal failure', (t) => {
  const error: WireError = {
    type: 'runtime',
    code: 'EDDY_SM_RUNTIME',
    message: 'boom at 12',
    module: 'm',
    hint: 'bad',
    offset: 12,
    kind: 'Filter',
    key: new Uint8Array([1]),
    value: new Uint8Array([2, 3]),
  };
  const skipped: WireError[] = [
    { ...error, offset: 3 },
    { ...error, offset: 5, key: null },
  ];
  const fatal: WireError = {
    type: 'trap',
    code: 'EDDY_SM_TRAP',
    message: 'unreachable',
    module: 'm',
    fn: 'filter',
    hint: 'unreachable',
  };
  const frame: ResultFrame = {
    seq: 9,
    results: [
      {
        baseOffset: 0,
        baseTimestamp: 5,
        lastOffset: 9,
        raw: new Uint8Array([1]),
        count: 1,
        accumulators: [null, new Uint8Array([4, 2])],
        error: null,
        skipped,
      },
      {
        baseOffset: 10,
        baseTimestamp: 5,
        lastOffset: 19,
        raw: new Uint8Array([2]),
        count: 1,
        accumulators: [null, null],
        error,
        skipped: [],
      },
    ],
    metrics: [metrics('a', 1)],
    fatal,
  };
  const back = roundTrip(
    frame,
    frame.results.map((r) => r.raw),
  );
  t.deepEqual(back.fatal, fatal);
  t.deepEqual(
    back.results[0]!.accumulators.map((a) => (a ? [...a] : a)),
    [null, [4, 2]],
  );
  t.deepEqual(
    back.results[0]!.skipped.map((e) => [e.offset, e.key ? [...e.key] : e.key]),
    [
      [3, [1]],
      [5, null],
    ],
  );
  t.is(back.results[0]!.error, null);
  t.is(back.results[1]!.error!.message, 'boom at 12');
  t.deepEqual([...back.results[1]!.error!.value!], [2, 3]);
  t.deepEqual(back.results[1]!.skipped, []);
  t.deepEqual(back.results[1]!.accumulators, [null, null]);
});

test('a frame with an unknown header is refused with a clear error', (t) => {
  const w = new ResultFrameWriter(64);
  w.add(new Uint8Array([1, 2]));
  const bytes = w.finish({
    seq: 1,
    results: [
      {
        baseOffset: 0,
        baseTimestamp: 0,
        lastOffset: 0,
        raw: new Uint8Array(0),
        count: 1,
        accumulators: [],
        error: null,
        skipped: [],
      },
    ],
    metrics: [],
    fatal: null,
  });
  const headerAt = bytes.length - 4 - new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 4);
  bytes[headerAt] = 99;
  t.throws(() => readResultFrame(bytes), { message: /unknown header/ });
});
