import type { ProduceTransform } from '../storage/producer.js';
import { ChainSession, type SessionStep } from './chain-session.js';
import { COORDINATOR_DEFAULTS } from './defaults.js';
import { fanOutInFlight } from './fan-out.js';
import type { WorkerPool } from './pool.js';

/**
 * Producer-side SmartModules on the worker pool: a stateless chain's session fanned out over every
 * worker, handed to the producer as a pipelined transform (it orders its own results, so the
 * producer submits each batch as soon as it is dispatched). As with the chain on the main
 * thread, a module error rejects that batch's produce and stores none of it; later batches go on.
 * So the session skips (it stays open) and a batch with a skipped record is refused as a whole.
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
  const transform: ProduceTransform = async (batch) => {
    const ticket = queue.then(() => session.submit(batch));
    queue = ticket.catch(() => {});
    const r = await (await ticket).result;
    const b = r.batches[0]!;
    const refused = b.error ?? b.skipped[0];
    if (refused) {
      r.release();
      throw refused;
    }
    // The output is a view into the result frame: the producer copies it into the stored batch,
    // then hands the frame back for the workers to write the next results into.
    return { raw: b.raw, count: b.count, error: null, release: () => r.release() };
  };
  return { transform, close: () => session.close() };
}
