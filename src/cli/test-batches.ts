import { ChainSession, moduleLogOf, type SessionStep, type Ticket } from '../coordinator/chain-session.js';
import { fanOutInFlight } from '../coordinator/fan-out.js';
import { WorkerPool } from '../coordinator/pool.js';
import type { EddyError } from '../errors.js';
import { encodeRecords, type RecordInput } from '../protocol/index.js';
import type { Chain } from '../smartmodule/index.js';
import type { BatchInput } from '../smartmodule/types.js';
import type { ModuleLogLine } from '../wire/messages.js';

/**
 * The records of `eddy test` in batches, as a stream would deliver them, run either in this
 * thread or fanned out over worker threads. Both ways cut the input the same way and hand each
 * batch's outputs and module output lines over in input order, so what the command prints is
 * byte for byte the same whichever way ran it (a module that prints once per call prints once
 * per batch in both). One difference remains: a last line without a newline is printed when the
 * instance is dropped, which in one thread is at the end and on workers is after the run, unseen.
 */

/** Records per batch at most (and about this many value bytes, below). */
const BATCH_RECORDS = 1000;
const BATCH_BYTES = 1 << 20;

/** `input` cut into batches. Every record has offset 0, as in one call over all of them (`smdk test` gives deltas 0 too). */
export function testBatches(input: RecordInput[]): BatchInput[] {
  const out: BatchInput[] = [];
  let start = 0;
  while (start < input.length || (start === 0 && out.length === 0)) {
    let end = start;
    let bytes = 0;
    while (end < input.length && end - start < BATCH_RECORDS && (bytes < BATCH_BYTES || end === start)) {
      bytes += input[end]!.value.length;
      end++;
    }
    out.push({ baseOffset: 0, baseTimestamp: Date.now(), raw: encodeRecords(input.slice(start, end)) });
    if (end === start) break; // no input at all: one empty batch, as a single call would see
    start = end;
  }
  return out;
}

/** Where a run hands its results, in input order. */
export interface TestSink {
  /** Module output lines of one call (init or a batch), in the order written. */
  log(lines: readonly ModuleLogLine[]): void;
  /** One batch's output records (`Vec<Record>` bytes). */
  outputs(raw: Uint8Array): void;
}

/**
 * Runs the batches through a chain in this thread. The chain's logger prints as the module
 * writes, which is already input order. Returns the runtime error that stopped the run, if any;
 * traps and other failures throw.
 */
export function runHere(chain: Chain, batches: BatchInput[], sink: TestSink): EddyError | null {
  for (const b of batches) {
    const out = chain.process(b);
    sink.outputs(out.raw);
    if (out.error) return out.error;
  }
  return null;
}

/**
 * Runs the batches of a stateless chain over `workers` threads. Workers keep each call's module
 * output with its result (captureLog); it is handed to the sink with that batch's outputs, in
 * input order, and init's once (every worker runs init; the first one's stands for all). Output of
 * batches after a stop is dropped, as those batches would not have run in one thread. Init errors
 * and failures throw, after the sink has their module output.
 */
export async function runFannedOut(
  steps: SessionStep[],
  workers: number,
  batches: BatchInput[],
  sink: TestSink,
): Promise<EddyError | null> {
  const pool = new WorkerPool({ workers });
  const maxInFlight = fanOutInFlight(workers);
  const session = new ChainSession(pool, {
    id: 'test',
    steps,
    policy: 'stop',
    // `eddy test` in one thread has no deadline; neither does it here (a day stands for none).
    deadlineMs: 24 * 3600_000,
    maxInFlight,
    stateless: true,
    captureLog: true,
  });
  try {
    try {
      await session.start();
    } catch (err) {
      sink.log(moduleLogOf(err));
      throw err;
    }
    sink.log(session.initLog);
    const window: Ticket[] = [];
    const drainOne = async (): Promise<EddyError | null> => {
      const ticket = window.shift()!;
      let r: Awaited<Ticket['result']>;
      try {
        r = await ticket.result;
      } catch (err) {
        sink.log(moduleLogOf(err));
        throw err;
      }
      for (const b of r.batches) {
        sink.log(b.log ?? []);
        sink.outputs(b.raw);
        if (b.error) return b.error;
      }
      return null;
    };
    let refused: unknown = null;
    for (const b of batches) {
      try {
        window.push(await session.submit(b));
      } catch (err) {
        // The session stopped on a batch still in the window: draining it reports that in order.
        refused = err;
        break;
      }
      if (window.length >= maxInFlight) {
        const stop = await drainOne();
        if (stop) return stop;
      }
    }
    while (window.length > 0) {
      const stop = await drainOne();
      if (stop) return stop;
    }
    if (refused) throw refused;
    return null;
  } finally {
    await session.close();
    await pool.close();
  }
}
