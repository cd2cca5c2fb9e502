import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { indexRecords } from '../src/protocol/record.js';
import { openStorage, type Storage } from '../src/storage/index.js';
import { crashValue, TOPIC } from './fixtures/storage-crash-child.js';
import { tempDir } from './helpers/storage.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'storage-crash-child.js');
const RUNS = 50;

interface RunResult {
  lines: string[];
  stderr: string;
  signal: NodeJS.Signals | null;
  code: number | null;
}

/** Starts the child, SIGKILLs it at a random point, returns its complete stdout lines. */
function runAndKill(dir: string, run: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CHILD, dir, String(run)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | null = null;
    const kill = () => proc.kill('SIGKILL');
    // Odd runs: a random moment after spawn (often during start-up and recovery);
    // even runs: a random moment after the child's first acknowledged write (in the middle of
    // writing), however long a busy machine takes to get there.
    if (run % 2 === 1) timer = setTimeout(kill, Math.random() * 250);
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d: string) => {
      stdout += d;
      if (run % 2 === 0 && timer === null && /^ack /m.test(stdout)) timer = setTimeout(kill, Math.random() * 120);
    });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d: string) => (stderr += d));
    // Only for a child that never acknowledges anything (the test then fails on the count below).
    const guard = setTimeout(kill, 30_000);
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      clearTimeout(guard);
      if (timer) clearTimeout(timer);
      const lines = stdout.split('\n');
      lines.pop(); // an incomplete last line is not an acknowledgement we can rely on
      resolve({ lines, stderr, signal, code });
    });
  });
}

/** Reads both partitions completely and checks every invariant; returns offset → value per partition. */
function verify(store: Storage, t: { fail(m: string): void }): Map<number, string>[] {
  const out: Map<number, string>[] = [];
  for (const p of [0, 1]) {
    const log = store.partition(TOPIC, p);
    const values = new Map<number, string>();
    let expect = log.startOffset;
    if (expect !== 0) t.fail(`partition ${p} starts at ${expect}, expected 0 (no retention configured)`);
    for (;;) {
      const batches = log.readBatches(expect, { maxBytes: 4 << 20 });
      if (batches.length === 0) break;
      for (const b of batches) {
        if (b.baseOffset !== expect)
          t.fail(`partition ${p}: batch at ${b.baseOffset}, expected ${expect} (gap or overlap)`);
        const idx = indexRecords(b.raw);
        if (idx.count !== b.count)
          t.fail(`partition ${p} batch ${b.baseOffset}: header says ${b.count} records, raw holds ${idx.count}`);
        if (idx.end !== b.raw.length)
          t.fail(`partition ${p} batch ${b.baseOffset}: raw has ${b.raw.length - idx.end} trailing bytes`);
        for (let i = 0; i < idx.count; i++) {
          if (idx.offsetDelta(i) !== i)
            t.fail(`partition ${p} batch ${b.baseOffset}: record ${i} has offset delta ${idx.offsetDelta(i)}`);
          const v = Buffer.from(idx.value(i)).toString('utf8');
          const m = /^(\d+):(\d+):/.exec(v);
          if (!m || crashValue(Number(m[1]), Number(m[2])) !== v)
            t.fail(`partition ${p} offset ${b.baseOffset + i}: malformed value ${JSON.stringify(v.slice(0, 40))}`);
          values.set(b.baseOffset + i, v);
        }
        expect = b.lastOffset + 1;
      }
    }
    if (expect !== log.nextOffset) t.fail(`partition ${p}: read up to ${expect}, next offset is ${log.nextOffset}`);
    out.push(values);
  }
  return out;
}

test(`storage survives ${RUNS} SIGKILLs at random points: every acknowledged record present, offsets contiguous, no half batch`, async (t) => {
  t.timeout(600_000);
  const dir = tempDir(t, 'eddy-crash-');
  const acked = [new Map<number, string>(), new Map<number, string>()];
  const seenNext = [0, 0];
  let lastCommit = -1;
  let kills = 0;
  let killsWhileWriting = 0;
  for (let run = 1; run <= RUNS; run++) {
    const r = await runAndKill(dir, run);
    if (r.signal !== 'SIGKILL') {
      t.fail(`run ${run}: child ended with code ${r.code} signal ${r.signal}\n${r.stderr}`);
      return;
    }
    kills++;
    let acks = 0;
    for (const line of r.lines) {
      const f = line.split(' ');
      if (f[0] === 'ack') {
        const [p, base, count, rn, first] = f.slice(1).map(Number) as [number, number, number, number, number];
        for (let i = 0; i < count; i++) {
          const prev = acked[p]!.get(base + i);
          const v = crashValue(rn, first + i);
          if (prev !== undefined && prev !== v)
            t.fail(`run ${run}: offset ${base + i} of partition ${p} acknowledged twice with different records`);
          acked[p]!.set(base + i, v);
        }
        acks++;
      } else if (f[0] === 'commit') {
        lastCommit = Math.max(lastCommit, Number(f[1]));
      }
    }
    if (acks > 0) killsWhileWriting++;

    // Read-only check after every kill (the killed writer's lock file is still there).
    let store: Storage;
    try {
      store = await openStorage(dir, { readOnly: true });
    } catch (err) {
      // Killed before the first writer finished creating the directory: fine if nothing was acknowledged.
      if ((err as { code?: string }).code === 'EDDY_NO_DATA_DIR' && acked[0]!.size + acked[1]!.size === 0) continue;
      throw err;
    }
    try {
      if (!store.topic(TOPIC)) {
        if (acks > 0 || acked[0]!.size > 0) t.fail(`run ${run}: topic missing after acknowledged writes`);
        continue;
      }
      const stored = verify(store, t);
      for (const p of [0, 1]) {
        const next = store.partition(TOPIC, p).nextOffset;
        if (next < seenNext[p]!) t.fail(`run ${run}: partition ${p} shrank from ${seenNext[p]} to ${next} records`);
        seenNext[p] = next;
        for (const [offset, v] of acked[p]!) {
          if (stored[p]!.get(offset) !== v) {
            t.fail(
              `run ${run}: acknowledged record ${p}/${offset} is ${stored[p]!.has(offset) ? 'different' : 'missing'}`,
            );
            break;
          }
        }
      }
      const committed = store.committedOffset('crash', TOPIC, 0);
      if (lastCommit >= 0 && (committed === undefined || committed < lastCommit)) {
        t.fail(`run ${run}: committed offset ${committed} is behind the acknowledged commit ${lastCommit}`);
      }
    } finally {
      await store.close();
    }
  }

  // A writer takes over the stale lock and continues the offsets without a gap.
  const store = await openStorage(dir, { retentionCheckMs: 0 });
  try {
    verify(store, t);
    const before = store.partition(TOPIC, 0).nextOffset;
    const r = await store.append(TOPIC, 0, [{ value: crashValue(999, 0) }]);
    t.is(r.baseOffset, before);
    verify(store, t);
  } finally {
    await store.close();
  }
  t.is(kills, RUNS);
  const total = acked[0]!.size + acked[1]!.size;
  t.log(
    `${kills} kills (${killsWhileWriting} after acknowledged writes), ${total} acknowledged records checked, ${seenNext[0]! + seenNext[1]!} stored`,
  );
  t.true(killsWhileWriting >= RUNS / 2, 'every even run was killed after an acknowledged write');
  t.true(total > 1000, 'enough records were acknowledged');
});
