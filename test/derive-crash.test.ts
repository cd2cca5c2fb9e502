import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { decodeRecords } from '../src/protocol/index.js';
import { Chain, loadModule } from '../src/smartmodule/index.js';
import { openStorage } from '../src/storage/index.js';
import { wasmPath } from './helpers/wasm.js';

const child = fileURLToPath(new URL('./fixtures/derive-child.js', import.meta.url));
const PARTITIONS = 2;
const BATCHES = 400;
const PER_BATCH = 10;

/**
 * Runs the child; kills it with SIGKILL after `kill.afterCommits` commit lines (mid-run, whatever
 * the machine's speed) or after `kill.afterMs` (e.g. during start-up), or lets it finish.
 */
function runChild(
  dir: string,
  kill: { afterCommits?: number; afterMs?: number } | null,
  modules = ['filter-map', 'aggregate-sum'],
): Promise<{ done: boolean; commits: number; out: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, dir, ...modules.map((m) => wasmPath(m))], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let commits = 0;
    proc.stdout.on('data', (d) => {
      out += d;
      commits = (out.match(/^committed/gm) ?? []).length;
      if (kill?.afterCommits !== undefined && commits >= kill.afterCommits) proc.kill('SIGKILL');
    });
    proc.stderr.on('data', (d) => {
      err += d;
    });
    const timer = kill?.afterMs === undefined ? null : setTimeout(() => proc.kill('SIGKILL'), kill.afterMs);
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal === null && code !== 0) return reject(new Error(`child exited ${code}: ${out}\n${err}`));
      resolve({ done: out.includes('done'), commits, out });
    });
  });
}

/** Stores the source topic; returns, per partition, what the chain gives run directly by the engine, uninterrupted. */
async function prepare(dir: string, modules: string[]): Promise<string[][]> {
  const store = await openStorage(dir, { retentionCheckMs: 0 });
  await store.createTopic('numbers', { partitions: PARTITIONS });
  await store.createTopic('sums', { partitions: PARTITIONS });
  let n = 0;
  for (let b = 0; b < BATCHES; b++) {
    for (let p = 0; p < PARTITIONS; p++) {
      await store.append(
        'numbers',
        p,
        Array.from({ length: PER_BATCH }, () => ({ value: Buffer.from(String(n++ % 97)) })),
      );
    }
  }
  const loaded = await Promise.all(modules.map((m) => loadModule(wasmPath(m))));
  const expected: string[][] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const chain = Chain.create(loaded.map((module) => ({ module })));
    const vals: string[] = [];
    for (const b of store.readBatches('numbers', p, 0, { maxBytes: 1 << 30 })) {
      const out = chain.process({ baseOffset: b.baseOffset, baseTimestamp: b.baseTimestamp, raw: b.raw });
      vals.push(...decodeRecords(out.raw).map((r) => Buffer.from(r.value).toString()));
    }
    expected.push(vals);
  }
  await store.close();
  return expected;
}

test('derived stream with an aggregate: output after repeated SIGKILLs equals an uninterrupted run', async (t) => {
  t.timeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), 'eddy-derive-'));
  const expected = await prepare(dir, ['filter-map', 'aggregate-sum']);

  await killAndCheck(t, dir, expected, ['filter-map', 'aggregate-sum'], 16);
});

test('derived stream with a stateless chain fanned out over 2 workers: exactly once under repeated SIGKILLs', async (t) => {
  t.timeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), 'eddy-derive-fan-'));
  const expected = await prepare(dir, ['filter-map']);
  const outs = await killAndCheck(t, dir, expected, ['filter-map'], 10);
  t.true(
    outs.some((o) => o.includes('started on 2 workers')),
    'the partitions fanned out over both workers',
  );
});

/**
 * Kills the child `kills` times (most mid-commit, some at start-up), lets the last run finish, and
 * checks the target topic equals the uninterrupted run: nothing lost, nothing duplicated, in order.
 * Returns each run's output.
 */
async function killAndCheck(
  t: ExecutionContext,
  dir: string,
  expected: string[][],
  modules: string[],
  KILLS: number,
): Promise<string[]> {
  const outs: string[] = [];
  let kills = 0;
  let killedMidway = 0;
  for (let round = 0; round <= KILLS; round++) {
    const last = round === KILLS;
    // Most kills land after a random number of commits (mid-batch, mid-commit); every fourth
    // lands at a random moment of start-up (opening storage, starting workers, look-back).
    const kill = last
      ? null
      : round % 4 === 3
        ? { afterMs: Math.floor(Math.random() * 300) }
        : { afterCommits: 1 + Math.floor(Math.random() * 30) };
    const r = await runChild(dir, kill, modules);
    outs.push(r.out);
    if (r.done) {
      t.true(last, `the run finished early, after ${kills} kills`);
      break;
    }
    kills++;
    if (r.commits > 0) killedMidway++;
  }
  t.is(kills, KILLS);
  t.true(killedMidway >= KILLS / 2, `${killedMidway} kills landed while commits were happening`);

  const check = await openStorage(dir, { retentionCheckMs: 0 });
  for (let p = 0; p < PARTITIONS; p++) {
    const got: string[] = [];
    let next = 0;
    for (const b of check.readBatches('sums', p, 0, { maxBytes: 1 << 30 })) {
      t.is(b.baseOffset, next, 'target offsets are contiguous');
      next = b.lastOffset + 1;
      got.push(...decodeRecords(b.raw).map((r) => Buffer.from(r.value).toString()));
    }
    t.is(got.length, expected[p]!.length, `partition ${p}: nothing lost, nothing duplicated`);
    t.deepEqual(got, expected[p]);
  }
  await check.close();
  return outs;
}
