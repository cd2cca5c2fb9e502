import { decodeRecords, encodeRecords, indexRecords } from '../src/protocol/index.js';
import { wasmPath } from '../src/sdk-build/fixtures.js';
import { loadModule } from '../src/smartmodule/index.js';
import { rate, table, versus, writeResult } from './lib/harness.js';
import { moduleAlone } from './lib/module-alone.js';
import { sampleBatch, sampleRecords } from './lib/records.js';

/**
 * bench/engine: (a) the codec in MB/s against memcpy of the same bytes (its physical floor);
 * (b) a filter batch through the engine against the module alone (same pre-encoded input copied in
 * and the function called, output ignored). Target: engine ≥ 0.9 of module-alone for 100-byte
 * records in 1000-record batches.
 */

export async function runEngineBench(): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};

  // (a) codec
  const records = sampleRecords(1000, 100);
  const { raw } = sampleBatch(1000, 100);
  const mb = raw.length / 1e6;
  const scratch = new Uint8Array(raw.length);
  const memcpy = rate(() => scratch.set(raw));
  const index = versus(
    () => indexRecords(raw),
    () => scratch.set(raw),
  );
  const objects = rate(() => decodeRecords(raw));
  const encode = rate(() => encodeRecords(records));
  results['codec'] = {
    batch_bytes: raw.length,
    decode_index_mb_s: index.a * mb,
    decode_objects_mb_s: objects * mb,
    encode_mb_s: encode * mb,
    memcpy_mb_s: memcpy * mb,
    decode_vs_memcpy: index.ratio,
  };

  // (b) engine vs module alone
  const path = wasmPath('filter');
  const mod = await loadModule(path);
  const rows: (string | number)[][] = [
    [
      'record size',
      'module alone rec/s',
      'engine rec/s',
      'ratio',
      'spread',
      'engine (owned copy) rec/s',
      'ratio',
      'ns/record',
    ],
  ];
  const engine: Record<string, unknown>[] = [];
  for (const size of [10, 100, 1000]) {
    const b = sampleBatch(1000, size);
    const alone = moduleAlone(path, 'filter');
    // As the pool's workers run it: the output is a view into guest memory, copied once into the
    // result frame; and as a library caller gets it by default: an owned copy.
    const borrowed = mod.instantiate({ borrowOutput: true });
    const owned = mod.instantiate();
    const batch = { baseOffset: b.baseOffset, baseTimestamp: b.baseTimestamp, raw: b.raw };
    const r = versus(
      () => borrowed.process(batch),
      () => alone(b.input),
      9,
      250,
    );
    const c = versus(
      () => owned.process(batch),
      () => alone(b.input),
      9,
      250,
    );
    rows.push([`${size} B`, r.b * 1000, r.a * 1000, r.ratio, r.spread, c.a * 1000, c.ratio, 1e9 / (r.a * 1000)]);
    engine.push({
      record_bytes: size,
      batch_records: 1000,
      module_alone_records_per_sec: r.b * 1000,
      engine_records_per_sec: r.a * 1000,
      ratio: r.ratio,
      spread: r.spread,
      engine_owned_copy_records_per_sec: c.a * 1000,
      owned_copy_ratio: c.ratio,
      owned_copy_spread: c.spread,
    });
  }
  results['engine_vs_module_alone'] = engine;

  const c = results['codec'] as Record<string, number>;
  console.log('codec (1000 × 100-byte records, %s bytes)', raw.length);
  console.log(
    table([
      ['operation', 'MB/s', 'vs memcpy'],
      ['decode (index)', c['decode_index_mb_s']!, c['decode_vs_memcpy']!],
      ['decode (objects)', c['decode_objects_mb_s']!, c['decode_objects_mb_s']! / c['memcpy_mb_s']!],
      ['encode (from objects)', c['encode_mb_s']!, c['encode_mb_s']! / c['memcpy_mb_s']!],
      ['memcpy (floor)', c['memcpy_mb_s']!, 1],
    ]),
  );
  console.log('\nfilter through the engine vs the module alone (1000-record batches)');
  console.log(table(rows));
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await runEngineBench();
  console.log(`\nwrote ${writeResult('engine', r)}`);
}
