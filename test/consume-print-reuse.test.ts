import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { openStorage } from '../src/storage/index.js';
import { bin } from './helpers/cli-process.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * `eddy consume` without a module reads stored batches into reused buffers and, when stdout takes
 * each write at once (a file), reuses its output chunks: several MiB through a real process, into
 * a file and into a pipe, over merged partitions, come out byte for byte; so do the same lines
 * through a chain, whose result frames go back to the workers once printed.
 */

test('consume -B -d prints several MiB from reused read and output buffers exactly, into a file and a pipe', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'eddy-print-reuse-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const data = join(work, 'data');
  const store = await openStorage(data, { retentionCheckMs: 0 });
  await store.createTopic('lines', { partitions: 3 });
  // 3 × 12 000 lines of 60–160 bytes: ~4 MiB, so the 1 MiB output chunks and the reads turn over.
  const expected: string[][] = [[], [], []];
  for (let p = 0; p < 3; p++) {
    const values = Array.from(
      { length: 12_000 },
      (_, i) => `p${p} line ${i} ${'abcdefghij'.repeat(5 + ((i * 7 + p) % 11))}`,
    );
    // Batches of 100: a partition is 120 stored batches, more than one worker submission (64).
    for (let i = 0; i < values.length; i += 100)
      await store.append(
        'lines',
        p,
        values.slice(i, i + 100).map((value) => ({ value })),
      );
    expected[p] = values;
  }
  await store.close();

  const env = { ...process.env, EDDY_DATA_DIR: data };
  const args = [bin, 'consume', 'lines', '-B', '-d'];
  const check = (out: string, how: string) => {
    const lines = out.split('\n');
    t.is(lines.pop(), '', `${how}: ends with a newline`);
    // Partitions are merged; each keeps its order.
    for (let p = 0; p < 3; p++)
      t.deepEqual(
        lines.filter((l) => l.startsWith(`p${p} `)),
        expected[p],
        `${how}: partition ${p}`,
      );
    t.is(lines.length, 36_000, how);
  };

  const file = join(work, 'out.txt');
  const fd = openSync(file, 'w');
  const toFile = spawnSync(process.execPath, args, { env, stdio: ['ignore', fd, 'pipe'], timeout: 120_000 });
  closeSync(fd);
  t.is(toFile.status, 0, toFile.stderr?.toString());
  check(readFileSync(file, 'utf8'), 'into a file');

  const toPipe = spawnSync(process.execPath, args, { env, maxBuffer: 64 << 20, timeout: 120_000 });
  t.is(toPipe.status, 0, toPipe.stderr?.toString());
  check(toPipe.stdout.toString('utf8'), 'into a pipe');

  // Through a chain that keeps every line: the workers' result frames are handed back for reuse
  // once printed. Lines made on the workers, and (with --max-records) records printed here.
  const keepAll = ['--filter', wasmPath('drop-debug-bytes')];
  for (const extra of [[], ['--max-records', '36000']]) {
    const how = `through a chain${extra.length ? ' (records)' : ''}`;
    const chained = spawnSync(process.execPath, [...args, ...keepAll, ...extra], {
      env,
      maxBuffer: 64 << 20,
      timeout: 120_000,
    });
    t.is(chained.status, 0, chained.stderr?.toString());
    check(chained.stdout.toString('utf8'), how);
  }
});
