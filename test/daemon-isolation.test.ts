import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { derivedState } from '../src/coordinator/derived.js';
import { openStorage, type Storage } from '../src/storage/index.js';
import { eddyProcesses, until } from './helpers/eddy-process.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * A looping module under `--policy skip` next to a healthy derived stream in one `eddy run`
 * (real processes, two workers): every batch of the looper runs until its deadline and its
 * worker is killed, over and over. The healthy stream must keep going (never stand still behind
 * a kill), and Ctrl-C must stop the daemon within the deadline and a margin.
 */

const RECORDS = 150_000;
const LOOP_TIMEOUT_MS = 3000;

function setup(t: ExecutionContext) {
  const work = mkdtempSync(join(tmpdir(), 'eddy-isolation-'));
  const data = join(work, 'data');
  const env = { ...process.env, EDDY_DATA_DIR: data, EDDY_WORKERS: '2' };
  return { data, ...eddyProcesses(t, work, env) };
}

/** Committed source offset of a derived stream's partition 0, read from another process. */
function committed(store: Storage, name: string): number {
  store.env.resetReadTxn();
  return derivedState(store).checkpoint(name, 0)?.offset ?? 0;
}

/**
 * Produces RECORDS lines into `topic` through the running daemon while watching `stream`. Returns
 * its rate (records/s) between 10 % and 90 % of them committed (start-up and the tail left out),
 * and the longest time its committed offset stood still while records were waiting for it.
 */
async function measure(
  ok: (args: string[], stdin?: string) => Promise<void>,
  store: Storage,
  topic: string,
  stream: string,
): Promise<{ rate: number; longestWaitMs: number }> {
  const lines = `${Array.from({ length: RECORDS }, (_, i) => `record-${i}`).join('\n')}\n`;
  const source = store.partition(topic, 0);
  let from: { at: number; offset: number } | null = null;
  let to: { at: number; offset: number } | null = null;
  let last = { at: performance.now(), offset: 0 };
  let longestWaitMs = 0;
  const produced = ok(['produce', topic], lines);
  await until(() => {
    const now = performance.now();
    const offset = committed(store, stream);
    source.refresh();
    if (offset !== last.offset || source.nextOffset === offset) last = { at: now, offset };
    else longestWaitMs = Math.max(longestWaitMs, now - last.at);
    if (!from && offset >= RECORDS * 0.1) from = { at: now, offset };
    if (!to && offset >= RECORDS * 0.9) to = { at: now, offset };
    return offset >= RECORDS;
  });
  await produced;
  return { rate: ((to!.offset - from!.offset) * 1000) / (to!.at - from!.at), longestWaitMs };
}

test('a looping module under policy skip does not starve a healthy stream of the same daemon, and Ctrl-C stops the daemon within its deadline', async (t) => {
  t.timeout(180_000);
  const { data, start, ok } = setup(t);
  for (const topic of ['solo-in', 'solo-out', 'in', 'out', 'loops', 'loops-out']) await ok(['topic', 'create', topic]);
  const spin = JSON.stringify({ uses: wasmPath('spin') }); // keeps every value but "loop", on which it never returns
  await ok(['derive', 'create', 'solo', '--source', 'solo-in', '--target', 'solo-out', '--transform', spin]);
  await ok(['derive', 'create', 'healthy', '--source', 'in', '--target', 'out', '--transform', spin]);
  await ok([
    'derive',
    'create',
    'looper',
    '--source',
    'loops',
    '--target',
    'loops-out',
    '--transform',
    spin,
    '--policy',
    'skip',
    '--timeout',
    `${LOOP_TIMEOUT_MS}ms`,
  ]);
  // One record per batch: the looper's submissions (16 batches each) all loop, one deadline after the other.
  const LOOPS = 16 * 40;
  await ok(['produce', 'loops', '--batch-size', '1'], 'loop\n'.repeat(LOOPS));
  const store = await openStorage(data, { readOnly: true });
  t.teardown(() => store.close());

  // The healthy stream's pace alone.
  const alone = start(['run', '--only', 'solo']);
  await until(() => alone.err().includes('Ctrl-C stops'));
  const solo = await measure(ok, store, 'solo-in', 'solo');
  alone.child.kill('SIGINT');
  t.is(await alone.exited, 0, alone.err());

  // The same stream next to the looper, measured once the looper's worker kills have begun.
  const both = start(['run', '--only', 'healthy', '--only', 'looper']);
  await until(() => committed(store, 'looper') > 0);
  const shared = await measure(ok, store, 'in', 'healthy');
  const looped = committed(store, 'looper');
  t.true(looped < LOOPS, 'the looper was still looping while the healthy stream was measured');
  const ratio = shared.rate / solo.rate;
  t.log(
    `healthy stream: ${Math.round(solo.rate)} records/s alone, ${Math.round(shared.rate)} next to the looper (ratio ${ratio.toFixed(2)}); ` +
      `longest wait ${Math.round(solo.longestWaitMs)} ms alone, ${Math.round(shared.longestWaitMs)} ms next to it; looper skipped ${looped} records meanwhile`,
  );
  // The ratio is logged, not asserted: the two rates are measured at different moments, and on a
  // shared machine other jobs change the pace in between (0.18 was seen for that reason alone).
  // What starvation would look like, and what is asserted: the healthy stream's records waiting
  // behind a deadline kill of the looper's worker, that is, its progress standing still for most
  // of a deadline while records wait.
  // Records of the healthy stream never wait behind a deadline kill of the looper's worker.
  t.true(
    shared.longestWaitMs < LOOP_TIMEOUT_MS * 0.75,
    `the healthy stream stood still for ${Math.round(shared.longestWaitMs)} ms with records waiting`,
  );

  // Ctrl-C while the looper is inside a batch: the daemon stops within the deadline and a margin.
  const sent = performance.now();
  both.child.kill('SIGINT');
  t.is(await both.exited, 0, both.err());
  const stopMs = performance.now() - sent;
  t.log(`stopped ${Math.round(stopMs)} ms after SIGINT`);
  t.true(stopMs < LOOP_TIMEOUT_MS + 3000, `stopping took ${Math.round(stopMs)} ms`);
});
