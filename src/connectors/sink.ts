import type { ConsumedRecord, ConsumeOptions } from '../storage/consumer.js';
import type { ConnectorContext } from './contract.js';

/**
 * The reading side every sink shares: follows the topic (all partitions, or
 * `meta.consumer.partition`) through the transforms, hands each record to `deliver`, and commits
 * the named consumer's offsets only after delivery (and `flush`), so a sink stopped or killed
 * resumes at the first record not yet delivered: at least once, never skipping. Offsets are
 * committed every `meta.consumer.offset.flush-period` (default 1 s) and when the sink stops.
 */
export interface SinkHandlers {
  deliver(record: ConsumedRecord): Promise<void>;
  /** Makes what was delivered durable (a file sink's buffered lines); called before each commit. */
  flush?(): Promise<void>;
}

export async function runSink(ctx: ConnectorContext, handlers: SinkHandlers): Promise<void> {
  const { eddy, config, signal } = ctx;
  const id = config.consumer.commit ? config.consumer.id : null;
  const options: ConsumeOptions = {
    from: config.consumer.start,
    follow: true,
    signal,
    ...(config.consumer.id !== null ? { consumer: config.consumer.id, autoCommit: false } : {}),
  };
  const partition = config.consumer.partition;
  const stream = eddy.consume(config.topic, {
    ...options,
    ...(ctx.transforms.length > 0 ? { transforms: ctx.transforms } : {}),
    ...(partition !== undefined ? { partition } : {}),
  });

  const delivered = new Map<number, number>();
  const committed = new Map<number, number>();
  let lastCommit = Date.now();
  const commit = async () => {
    await handlers.flush?.();
    if (id === null) return;
    for (const [p, offset] of delivered) {
      if (committed.get(p) === offset) continue;
      await eddy.storage.commitOffset(id, config.topic, p, offset);
      committed.set(p, offset);
    }
    lastCommit = Date.now();
  };
  try {
    for await (const r of stream) {
      await handlers.deliver(r);
      ctx.stats.records++;
      ctx.stats.bytes += r.value.length + (r.key?.length ?? 0);
      delivered.set(r.partition, Math.max(delivered.get(r.partition) ?? 0, r.offset + 1));
      if (Date.now() - lastCommit >= config.consumer.flushPeriodMs) await commit();
      // A stop waits for the record being delivered, then ends here (the next read sees the abort).
      if (signal.aborted) break;
    }
  } finally {
    await commit();
  }
}
