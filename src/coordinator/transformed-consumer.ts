import type { EventEmitter } from 'eventemitter3';
import { EddyError } from '../errors.js';
import { indexRecords } from '../protocol/record.js';
import type { ErrorPolicy } from '../smartmodule/chain.js';
import type { SmartModule } from '../smartmodule/module.js';
import type { TransformStep } from '../smartmodule/transforms.js';
import type { ConsumeOptions, ConsumedRecord } from '../storage/consumer.js';
import type { Storage } from '../storage/storage.js';
import { AsyncQueue } from './async-queue.js';
import { readLookback } from './lookback.js';
import type { WorkerPool } from './pool.js';
import { ModuleStream, type StreamBatchResult, type StreamState } from './stream.js';
import { planRange } from './range-plan.js';

/** Events a consume-with-transforms reports (forwarded by the Eddy facade). */
export interface TransformEvents {
  state: [info: { stream: string; state: StreamState }];
  batch: [info: { stream: string; baseOffset: number; recordsOut: number }];
  error: [info: { stream: string; error: EddyError }];
}

export interface TransformedConsumeOptions extends ConsumeOptions {
  /** Partitions to read; default all, merged (each partition in order). */
  partitions?: number[];
  policy?: ErrorPolicy;
  deadlineMs?: number;
  maxInFlight?: number;
  /** Initial accumulator for aggregate steps (`--aggregate-initial`). */
  aggregateInitial?: Uint8Array;
  /** Mark the chain stateless to fan each partition's batches over every worker. */
  stateless?: boolean;
  /** Stored batches per submission to a worker (default 16): fewer, larger messages. */
  batchesPerSubmission?: number;
}

/** One transformed batch of one partition. */
export interface TransformedBatch extends StreamBatchResult {
  topic: string;
  partition: number;
}

/**
 * Consumes partitions through a SmartModule chain on the worker pool: stored batches go to the
 * partition's stream as raw bytes; outputs come back in order and are decoded only here, at the
 * edge. A runtime error (policy stop) yields the records before it and then throws.
 */
export class TransformedConsumer {
  constructor(
    private readonly storage: Storage,
    private readonly pool: WorkerPool,
    private readonly topic: string,
    private readonly steps: TransformStep[],
    private readonly modules: SmartModule[],
    private readonly options: TransformedConsumeOptions,
    private readonly events: EventEmitter<TransformEvents>,
  ) {}

  async *batches(): AsyncGenerator<TransformedBatch, void, undefined> {
    const partitions = this.options.partitions ?? Array.from({ length: this.storage.describeTopic(this.topic).partitions }, (_, p) => p);
    const queue = new AsyncQueue<TransformedBatch>();
    const inner = new AbortController();
    const outer = this.options.signal;
    const onAbort = () => inner.abort();
    outer?.addEventListener('abort', onAbort, { once: true });
    let live = partitions.length;
    const pumps = partitions.map((p) => this.pump(p, queue, inner.signal).then(
      () => { if (--live === 0) queue.end(); },
      (err) => { inner.abort(); queue.fail(err); },
    ));
    try {
      yield* queue;
    } finally {
      inner.abort();
      outer?.removeEventListener('abort', onAbort);
      await Promise.allSettled(pumps);
    }
  }

  async *records(): AsyncGenerator<ConsumedRecord, void, undefined> {
    for await (const b of this.batches()) {
      const idx = indexRecords(b.raw);
      for (let i = 0; i < idx.count; i++) {
        yield {
          topic: b.topic, partition: b.partition,
          offset: b.baseOffset + idx.offsetDelta(i), timestamp: b.baseTimestamp + idx.timestampDelta(i),
          key: idx.key(i), value: idx.value(i), headers: [],
        };
      }
      if (b.error) throw b.error;
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<ConsumedRecord, void, undefined> {
    return this.records();
  }

  private async pump(partition: number, queue: AsyncQueue<TransformedBatch>, signal: AbortSignal): Promise<void> {
    const o = this.options;
    const stream = new ModuleStream(this.pool, {
      id: `${this.topic}/${partition}:consume`,
      steps: this.steps.map((s, i) => ({ module: this.modules[i]!, params: s.params, lookback: s.lookback })),
      policy: o.policy ?? 'stop',
      deadlineMs: o.deadlineMs ?? 5000,
      maxInFlight: o.maxInFlight ?? 4,
      stateless: o.stateless ?? false,
      ...(o.aggregateInitial ? { initialAccumulator: o.aggregateInitial } : {}),
      history: (_i, lb) => readLookback(this.storage, this.topic, partition, lb),
    });
    stream.on('state', (state) => this.events.emit('state', { stream: stream.id, state }));
    stream.on('error', (error) => this.events.emit('error', { stream: stream.id, error }));
    await stream.start();
    const { partitions: _p, policy: _q, deadlineMs: _d, maxInFlight: _m, aggregateInitial: _a, stateless: _s, batchesPerSubmission: _b, ...consumeOptions } = o;
    // The storage consumer resolves the start position (from, a named consumer's commit) and checks
    // the options; the batches themselves are read by the workers, by offset range.
    const start = this.storage.consume(this.topic, partition, { ...consumeOptions, signal });
    const log = this.storage.partition(this.topic, partition);
    const source = this.storage.partitionSource(this.topic, partition);
    let pos = start.position;
    const endOffset = Math.min(o.endOffset ?? Infinity, o.limit !== undefined ? pos + o.limit - 1 : Infinity);
    const commitAs = o.consumer !== undefined && o.autoCommit !== false && !this.storage.readOnly ? o.consumer : null;
    let committedAt = 0;
    let delivered = pos;
    const commit = async (force: boolean) => {
      if (commitAs === null || (!force && Date.now() - committedAt < (o.autoCommitIntervalMs ?? 1000))) return;
      committedAt = Date.now();
      await this.storage.commitOffset(commitAs, this.topic, partition, delivered);
    };
    const maxInFlight = o.maxInFlight ?? 4;
    let order: Promise<void> = Promise.resolve();
    let stopped = false;
    try {
      while (!signal.aborted && !stopped && stream.state !== 'failed') {
        log.refresh();
        if (pos < log.startOffset) pos = log.startOffset; // overtaken by retention: continue at the new start
        if (pos > endOffset) break;
        const range = planRange(log, pos, o.batchesPerSubmission ?? 16, endOffset);
        if (!range) {
          if (!(o.follow ?? false)) break;
          await log.waitFor(pos, signal);
          continue;
        }
        // A slow reader holds the pump: at most a few transformed submissions wait per partition.
        await queue.room(2 * maxInFlight);
        const ticket = await stream.submitRange({ source, ...range });
        pos = range.end;
        order = order.then(async () => {
          if (stopped) return;
          const r = await ticket.result;
          for (const b of r.batches) {
            for (const error of b.skipped) this.events.emit('error', { stream: stream.id, error });
            this.events.emit('batch', { stream: stream.id, baseOffset: b.baseOffset, recordsOut: b.count });
            queue.push({ ...b, topic: this.topic, partition });
            if (b.error) stopped = true;
          }
          delivered = range.end;
          await commit(false);
        });
        order.catch(() => {});
        if (stream.inFlight >= maxInFlight) await order;
      }
      await order;
      await commit(true);
    } finally {
      await stream.close();
    }
  }
}
