import type { BatchInput } from '../smartmodule/types.js';
import type { ProduceTransform, TransformOutput } from '../storage/producer.js';
import { ChainSession, type SessionResult, type SessionStep } from './chain-session.js';
import { COORDINATOR_DEFAULTS } from './defaults.js';
import { fanOutInFlight } from './fan-out.js';
import type { WorkerPool } from './pool.js';

/**
 * Producer-side SmartModules on the worker pool: a stateless chain's session fanned out over every
 * worker, handed to the producer as a pipelined transform (it orders its own results, so the
 * producer submits each batch as soon as it is dispatched). As with the chain on the main
 * thread, a module error rejects that batch's produce and stores none of it; later batches go on.
 * So the session skips (it stays open) and a batch with a skipped record is refused as a whole.
 *
 * The batches the producer asks for in one turn of the event loop (a 64 KiB read of input
 * fills four 16 KiB batches) go to a worker as one submission: one message each way instead of
 * one per batch, which made most of the main thread's time. A trap or an overrun fails a whole
 * submission; then its batches are sent again one by one, so that only the batch at fault is
 * refused, as when each went alone.
 */
export async function produceSession(
  pool: WorkerPool,
  topic: string,
  steps: SessionStep[],
  deadlineMs?: number,
): Promise<{ transform: ProduceTransform; close(): Promise<void> }> {
  const session = new ChainSession(pool, {
    id: `${topic}:produce`,
    steps,
    stateless: true,
    policy: 'skip',
    deadlineMs: deadlineMs ?? COORDINATOR_DEFAULTS.deadlineMs,
    maxInFlight: fanOutInFlight(pool.size),
  });
  await session.start();
  // Submissions in call order: a call never overtakes an earlier one waiting for a free slot.
  let queue: Promise<unknown> = Promise.resolve();
  const submit = (batches: BatchInput[]): Promise<SessionResult> => {
    const ticket = queue.then(() => session.submit(batches));
    queue = ticket.catch(() => {});
    return ticket.then((t) => t.result);
  };

  let group: Waiting[] = [];
  const send = (): void => {
    const g = group;
    group = [];
    submit(g.map((w) => w.batch)).then(
      (r) => {
        if (g.length > 1 && failedWhole(r)) {
          // Alone, each batch gets its own verdict (in order: submissions are queued).
          for (const w of g) submit([w.batch]).then((one) => w.settle(one, 0), w.fail);
          return;
        }
        // The frame goes back to the workers once every batch's output has been stored.
        let left = g.length;
        const shared: SessionResult = {
          ...r,
          release: () => {
            if (--left === 0) r.release();
          },
        };
        for (let i = 0; i < g.length; i++) g[i]!.settle(shared, i);
      },
      (err) => {
        for (const w of g) w.fail(err);
      },
    );
  };

  const transform: ProduceTransform = (batch) =>
    new Promise<TransformOutput>((resolve, reject) => {
      if (group.length === 0) setImmediate(send);
      group.push({
        batch,
        settle: (r, i) => {
          const b = r.batches[i]!;
          const refused = b.error ?? b.skipped[0];
          if (refused) {
            r.release();
            reject(refused);
            return;
          }
          // The output is a view into the result frame: the producer copies it into the stored
          // batch, then hands the frame back for the workers to write the next results into.
          resolve({ raw: b.raw, count: b.count, error: null, release: r.release });
        },
        fail: reject,
      });
    });
  return { transform, close: () => session.close() };
}

interface Waiting {
  batch: BatchInput;
  /** The batch's verdict: the `i`-th result of `r`. */
  settle(r: SessionResult, i: number): void;
  fail(err: unknown): void;
}

/** Every batch skipped by one and the same error: the submission failed as a whole (a trap, an overrun). */
function failedWhole(r: SessionResult): boolean {
  const first = r.batches[0]?.skipped[0];
  return (
    first !== undefined && r.batches.every((b) => b.count === 0 && b.skipped.length === 1 && b.skipped[0] === first)
  );
}
