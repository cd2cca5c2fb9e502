import type { EventEmitter } from 'eventemitter3';
import { EddyError } from '../errors.js';
import { indexRecords } from '../protocol/record.js';
import type { ErrorPolicy } from '../smartmodule/chain.js';
import type { SmartModule } from '../smartmodule/module.js';
import type { TransformStep } from '../smartmodule/transforms.js';
import type { ConsumeOptions, ConsumedRecord } from '../storage/consumer.js';
import type { Storage } from '../storage/storage.js';
import { mergeAsync } from './merge.js';
import { readLookback } from './lookback.js';
import type { WorkerPool } from './pool.js';
import { ModuleStream, type StreamBatchResult, type StreamState, type Ticket } from './stream.js';
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
    const stop = new AbortController();
    const signal = this.options.signal ? AbortSignal.any([this.options.signal, stop.signal]) : stop.signal;
    yield* mergeAsync(partitions.map((p) => this.partitionBatches(p, signal)), () => stop.abort());
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

  /**
   * One partition's transformed batches, in order. Up to `maxInFlight` submissions are kept in
   * flight while the reader keeps up; a slow reader holds the generator, and so the reads.
   */
  private async *partitionBatches(partition: number, signal: AbortSignal): AsyncGenerator<TransformedBatch, void, undefined> {
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
    try {
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
      const commit = async (delivered: number, force: boolean) => {
        if (commitAs === null || (!force && Date.now() - committedAt < (o.autoCommitIntervalMs ?? 1000))) return;
        committedAt = Date.now();
        await this.storage.commitOffset(commitAs, this.topic, partition, delivered);
      };
      const maxInFlight = o.maxInFlight ?? 4;
      const inFlight: { ticket: Ticket; end: number }[] = [];
      let delivered = pos;
      for (;;) {
        // Keep the window full with what is stored now.
        while (!signal.aborted && inFlight.length < maxInFlight && pos <= endOffset) {
          log.refresh();
          if (pos < log.startOffset) pos = log.startOffset; // overtaken by retention: continue at the new start
          const range = planRange(log, pos, o.batchesPerSubmission ?? 16, endOffset);
          if (!range) break;
          inFlight.push({ ticket: await stream.submitRange({ source, ...range }), end: range.end });
          pos = range.end;
        }
        const next = inFlight.shift();
        if (!next) {
          if (signal.aborted || pos > endOffset || !(o.follow ?? false)) break;
          await log.waitFor(pos, signal);
          continue;
        }
        const r = await next.ticket.result;
        let failed = false;
        for (const b of r.batches) {
          for (const error of b.skipped) this.events.emit('error', { stream: stream.id, error });
          this.events.emit('batch', { stream: stream.id, baseOffset: b.baseOffset, recordsOut: b.count });
          yield { ...b, topic: this.topic, partition };
          if (b.error) failed = true;
        }
        delivered = next.end;
        if (failed) break;
        await commit(delivered, false);
      }
      await commit(delivered, true);
    } finally {
      await stream.close();
    }
  }
}
