import { EventEmitter } from 'eventemitter3';
import { EddyError } from './errors.js';
import {
  DerivedStream, deriveDefKey, deriveFailureKey, deriveStateKey, ensureDeadLetterTopic, type DeriveCheckpoint, type DeriveConfig, type DeriveFailure,
} from './coordinator/derived.js';
import { checkDeriveName, checkNoCycle, deadLetterTopic } from './coordinator/derive-checks.js';
import { WorkerPool, type PoolOptions } from './coordinator/pool.js';
import { ModuleResolver } from './coordinator/resolve.js';
import type { StreamMetrics, StreamState } from './coordinator/stream.js';
import { TransformedConsumer, type TransformEvents, type TransformedConsumeOptions } from './coordinator/transformed-consumer.js';
import { Chain } from './smartmodule/chain.js';
import type { TransformStep } from './smartmodule/transforms.js';
import { openStorage, type StorageOptions, type Storage } from './storage/storage.js';
import { commitPolicy, type ConsumeOptions, type ConsumedRecord, type Consumer } from './storage/consumer.js';
import { DeliveryCommitter } from './storage/offset-committer.js';
import { mergeAsync } from './coordinator/merge.js';
import type { ProduceAck, Producer, ProducerOptions, ProducerRecord } from './storage/producer.js';
import type { ModuleRegistry } from './storage/registry.js';
import { isKafkaDerive } from './kafka/endpoint.js';
import { checkKafkaDerive, KafkaDerivedStream } from './kafka/derived.js';

/** A running derived stream: over Eddy topics, or over Kafka topics (`kafka://` endpoints). */
export type RunningDerived = DerivedStream | KafkaDerivedStream;

/** A transform as users write it: transforms.yaml's step (`with` or `params`). */
export interface TransformInput {
  uses: string;
  /** The module's wasm bytes, read by the caller: then `uses` only names it (nothing is looked up). */
  wasm?: Uint8Array;
  with?: Record<string, string>;
  params?: Record<string, string>;
  lookback?: { last?: number; ageMs?: number } | null;
}

export interface OpenOptions extends StorageOptions {
  /** Worker threads for SmartModule streams (default: the machine's cores). Started on first use. */
  workers?: number;
  /** Directory relative `.wasm` paths in transforms resolve against. Default: the working directory. */
  baseDir?: string;
  /** How often the `metrics` event fires while it has listeners (ms). Default 1000. */
  metricsIntervalMs?: number;
  /** Memory cap of each SmartModule instance, in bytes (CLI: --memory-limit). Default 1 000 000 000, as Fluvio. */
  memoryLimit?: number;
  /** Default per-batch deadline of consumes with transforms, in ms (CLI: --timeout). Default 5000. */
  deadlineMs?: number;
}

export interface EddyEvents {
  /** A transformed batch was delivered (consume with transforms, or a derived stream). */
  batch: [info: { stream: string; baseOffset: number; recordsOut: number }];
  /** A derived stream's distance to the end of its source partition after a commit. */
  lag: [info: { stream: string; partition: number; lag: number }];
  /**
   * A module error, timeout or stream failure. A derived stream's failure that no listener hears
   * is not lost: it goes out as a process warning (`EddyWarning`), and `listDerived()` shows it.
   */
  error: [info: { stream: string; error: EddyError }];
  /** A derived stream (policy skip) skipped a source record and kept it in its dead-letter topic. */
  skip: [info: { stream: string; partition: number; offset: number; error: EddyError; deadLetterTopic: string }];
  state: [info: { stream: string; state: StreamState }];
  /** Metrics of every live stream, every `metricsIntervalMs` while someone listens. */
  metrics: [metrics: StreamMetricsEntry[]];
}

export interface StreamMetricsEntry extends StreamMetrics {
  stream: string;
  state: StreamState;
  workers: number[];
}

export interface ConsumeWithTransforms extends TransformedConsumeOptions {
  transforms?: TransformInput[];
  /** One partition; default all (merged). */
  partition?: number;
}

export interface DerivedInfo {
  config: DeriveConfig;
  /** Running in this process: false once every partition stopped (or failed), or before it is started. */
  running: boolean;
  /** Policy skip: where skipped records are kept. */
  deadLetterTopic: string | null;
  /**
   * Per source partition: next offset to process, lag, output records written, source records
   * skipped (kept in the dead-letter topic), and why it stopped when it failed (until started again).
   */
  partitions: { partition: number; offset: number; lag: number; written: number; skipped: number; failure: DeriveFailure | null }[];
}

/**
 * Eddy embedded in a program: one data directory (topics, SmartModules, consumer offsets,
 * derived streams) and a worker pool that runs SmartModule chains on every core.
 *
 * ```ts
 * const eddy = await open('./data');
 * await eddy.createTopic('events', { partitions: 2 });
 * await eddy.produce('events', [{ value: Buffer.from('apple') }]);
 * for await (const r of eddy.consume('events', { transforms: [{ uses: 'filter.wasm' }] })) { … }
 * ```
 */
export class Eddy extends EventEmitter<EddyEvents> {
  private poolInstance: WorkerPool | null = null;
  private readonly resolver: ModuleResolver;
  private readonly derived = new Map<string, RunningDerived>();
  private readonly forward: EventEmitter<TransformEvents>;

  constructor(readonly storage: Storage, private readonly options: OpenOptions = {}) {
    super();
    this.resolver = new ModuleResolver(storage.modules, options.baseDir, options.memoryLimit !== undefined ? { memoryLimit: options.memoryLimit } : {});
    this.forward = new EventEmitter<TransformEvents>();
    this.forward.on('batch', (i) => this.emit('batch', i));
    this.forward.on('error', (i) => this.emit('error', i));
    this.forward.on('state', (i) => this.emit('state', i));
    this.metricsTimer = setInterval(() => {
      if (this.listenerCount('metrics') > 0 && this.poolInstance) this.emit('metrics', this.metrics());
    }, options.metricsIntervalMs ?? 1000);
    this.metricsTimer.unref();
  }

  private readonly metricsTimer: NodeJS.Timeout;

  /**
   * Per stream and per module: submissions, batches, records and bytes in/out, errors, skipped,
   * timeouts, restarts, module time, accumulator size and module memory.
   */
  metrics(): StreamMetricsEntry[] {
    if (!this.poolInstance) return [];
    return [...this.poolInstance.streams].map((s) => ({ stream: s.id, state: s.state, workers: s.workerIds, ...s.snapshotMetrics() }));
  }

  /** The worker pool, started on first use. */
  get pool(): WorkerPool {
    const opts: PoolOptions = {};
    if (this.options.workers !== undefined) opts.workers = this.options.workers;
    this.poolInstance ??= new WorkerPool(opts);
    return this.poolInstance;
  }

  /** The SmartModule registry (register, list, delete). */
  get modules(): ModuleRegistry {
    return this.storage.modules;
  }

  createTopic(...args: Parameters<Storage['createTopic']>) { return this.storage.createTopic(...args); }
  listTopics() { return this.storage.listTopics(); }
  describeTopic(name: string) { return this.storage.describeTopic(name); }
  deleteTopic(name: string) { return this.storage.deleteTopic(name); }
  /** Checks a topic as createTopic would, writing nothing (a dry run). */
  validateTopic(...args: Parameters<Storage['validateTopic']>) { return this.storage.validateTopic(...args); }
  addPartitions(name: string, count?: number) { return this.storage.addPartitions(name, count); }
  /** Named consumers' committed offsets (`offset`: the next offset each reads). */
  listConsumerOffsets() { return this.storage.listCommittedOffsets(); }
  deleteConsumerOffsets(...args: Parameters<Storage['deleteCommittedOffsets']>) { return this.storage.deleteCommittedOffsets(...args); }

  /** Resolves transforms (registered names or `.wasm` paths) to steps and compiled modules. */
  async resolveTransforms(transforms: TransformInput[]) {
    const steps: TransformStep[] = transforms.map((t) => ({
      uses: t.uses,
      params: { ...(t.params ?? {}), ...(t.with ?? {}) },
      lookback: t.lookback ? { last: t.lookback.last ?? 0, ...(t.lookback.ageMs != null ? { ageMs: t.lookback.ageMs } : {}) } : null,
    }));
    const modules = await Promise.all(transforms.map((t) => (t.wasm ? this.resolver.compileBytes(t.wasm, t.uses) : this.resolver.resolve(t.uses))));
    return { steps, modules };
  }

  /**
   * A producer (linger, batch size, partitioner). With `transforms`, records go through the chain
   * before they are stored, as Fluvio's producer-side SmartModules; a module error rejects the
   * produce and stores nothing.
   */
  async producer(topic: string, options: ProducerOptions & { transforms?: TransformInput[] } = {}): Promise<Producer> {
    const { transforms, ...rest } = options;
    if (transforms && transforms.length > 0) {
      const { steps, modules } = await this.resolveTransforms(transforms);
      const chain = Chain.create(steps.map((s, i) => ({ module: modules[i]!, params: s.params, lookback: s.lookback })));
      rest.transform = (batch) => {
        const out = chain.process(batch);
        if (out.error) throw out.error;
        return out;
      };
    }
    return this.storage.producer(topic, rest);
  }

  /** Produces records and resolves once they are committed. */
  async produce(topic: string, records: ProducerRecord | ProducerRecord[], options: ProducerOptions & { transforms?: TransformInput[] } = {}): Promise<ProduceAck[]> {
    const p = await this.producer(topic, { lingerMs: 0, ...options });
    try {
      return await p.sendAll(Array.isArray(records) ? records : [records]);
    } finally {
      await p.close();
    }
  }

  /**
   * Consumes a topic: with transforms, through the worker pool (an async iterable of records, with
   * `.batches()` for raw output batches); without, straight from storage.
   */
  consume(topic: string, options: ConsumeWithTransforms & { transforms: TransformInput[] }): AsyncIterable<ConsumedRecord> & { batches(): ReturnType<TransformedConsumer['batches']> };
  consume(topic: string, options: ConsumeOptions & { partition: number }): Consumer;
  consume(topic: string, options?: ConsumeOptions): AsyncIterable<ConsumedRecord> & { records(): AsyncGenerator<ConsumedRecord, void, undefined> };
  consume(topic: string, options: ConsumeWithTransforms = {}): unknown {
    const { transforms, partition, ...rest } = options;
    if (!transforms || transforms.length === 0) {
      if (partition !== undefined) return this.storage.consume(topic, partition, rest);
      return mergePartitions(this.storage, topic, rest);
    }
    const self = this;
    const make = async () => {
      const { steps, modules } = await self.resolveTransforms(transforms);
      const opts: TransformedConsumeOptions = { ...rest };
      if (opts.deadlineMs === undefined && self.options.deadlineMs !== undefined) opts.deadlineMs = self.options.deadlineMs;
      if (partition !== undefined) opts.partitions = [partition];
      return new TransformedConsumer(self.storage, self.pool, topic, steps, modules, opts, self.forward);
    };
    return {
      async *batches() { yield* (await make()).batches(); },
      async *[Symbol.asyncIterator]() { yield* (await make()).records(); },
    };
  }

  /**
   * Saves a derived stream's definition (run by `startDerived` / `eddy run`). Refused when the
   * name is not a valid resource name or the stream would feed its own source (directly or
   * through other derived streams). Policy skip creates the dead-letter topic if needed.
   */
  async createDerived(config: DeriveConfig): Promise<void> {
    this.checkDerived(config);
    if (this.storage.streams.get(deriveDefKey(config.name))) {
      throw new EddyError('EDDY_DERIVE_EXISTS', `derived stream ${config.name} already exists; delete it first with \`eddy derive delete ${config.name}\``);
    }
    if (isKafkaDerive(config)) {
      await checkKafkaDerive(config, (await this.resolveTransforms(config.transforms)).modules);
    } else {
      this.storage.describeTopic(config.source);
      this.storage.describeTopic(config.target);
      await this.resolveTransforms(config.transforms);
      await ensureDeadLetterTopic(this.storage, config);
    }
    await this.storage.streams.put(deriveDefKey(config.name), config);
  }

  private savedDerived(): DeriveConfig[] {
    const out: DeriveConfig[] = [];
    for (const { key, value } of this.storage.streams.getRange({ start: ['derive'], end: ['derive', '\uffff'] })) {
      if (Array.isArray(key) && key[0] === 'derive') out.push(value as DeriveConfig);
    }
    return out;
  }

  /** Name and cycle checks, against the saved streams and those running in this process. */
  private checkDerived(config: DeriveConfig, check = { name: true }): void {
    if (check.name) checkDeriveName(config);
    const others = new Map(this.savedDerived().map((c) => [c.name, c]));
    for (const d of this.derived.values()) others.set(d.config.name, d.config);
    checkNoCycle(config, [...others.values()]);
  }

  listDerived(): DerivedInfo[] {
    return this.savedDerived().map((config) => {
      let partitions: DerivedInfo['partitions'] = [];
      try {
        const n = this.storage.describeTopic(config.source).partitions;
        partitions = Array.from({ length: n }, (_, p) => {
          const c = this.storage.streams.get(deriveStateKey(config.name, p)) as DeriveCheckpoint | undefined;
          const failure = (this.storage.streams.get(deriveFailureKey(config.name, p)) as DeriveFailure | undefined) ?? null;
          const offset = c?.offset ?? 0;
          return { partition: p, offset, lag: Math.max(0, this.storage.partition(config.source, p).nextOffset - offset), written: c?.written ?? 0, skipped: c?.skipped ?? 0, failure };
        });
      } catch { /* source deleted: no partitions to report */ }
      return { config, running: this.derived.get(config.name)?.running ?? false, deadLetterTopic: deadLetterTopic(config), partitions };
    });
  }

  async deleteDerived(name: string): Promise<void> {
    const config = this.storage.streams.get(deriveDefKey(name)) as DeriveConfig | undefined;
    if (!config) throw new EddyError('EDDY_DERIVE_UNKNOWN', `no derived stream named ${name}; \`eddy derive list\` shows them`);
    await this.stopDerived(name);
    await this.storage.env.batch(() => {
      void this.storage.streams.remove(deriveDefKey(name));
      for (const kind of ['derive-state', 'derive-failure']) {
        for (const { key } of this.storage.streams.getRange({ start: [kind, name], end: [kind, name, Number.MAX_SAFE_INTEGER] })) void this.storage.streams.remove(key);
      }
    });
  }

  /** Starts a derived stream (a saved one by name, or a config) and returns it. */
  async startDerived(nameOrConfig: string | DeriveConfig): Promise<RunningDerived> {
    const config = typeof nameOrConfig === 'string' ? (this.storage.streams.get(deriveDefKey(nameOrConfig)) as DeriveConfig | undefined) : nameOrConfig;
    if (!config) throw new EddyError('EDDY_DERIVE_UNKNOWN', `no derived stream named ${String(nameOrConfig)}; create it with \`eddy derive create\``);
    if (this.derived.has(config.name)) return this.derived.get(config.name)!;
    // A saved stream was checked when created; its cycle check runs again, as others may have come since.
    this.checkDerived(config, { name: typeof nameOrConfig !== 'string' });
    const d = isKafkaDerive(config) ? new KafkaDerivedStream(config, this.pool, this.resolver) : new DerivedStream(config, this.storage, this.pool, this.resolver);
    const stream = (p: number) => `${config.name}/${p}`;
    d.on('batch', (b) => this.emit('batch', { stream: stream(b.partition), baseOffset: b.sourceOffset, recordsOut: b.recordsOut }));
    d.on('lag', (l) => this.emit('lag', { stream: stream(l.partition), partition: l.partition, lag: l.lag }));
    d.on('error', (error, p) => this.derivedError({ stream: stream(p), error }));
    d.on('skip', (s) => this.emit('skip', { stream: stream(s.partition), ...s }));
    d.on('state', (state, p) => this.emit('state', { stream: stream(p), state }));
    this.derived.set(config.name, d);
    await d.start();
    return d;
  }

  /** As Node's emitter never drops an unheard 'error', a derived stream's failure with no listener becomes a process warning. */
  private derivedError(info: { stream: string; error: EddyError }): void {
    if (this.listenerCount('error') > 0) {
      this.emit('error', info);
      return;
    }
    process.emitWarning(`derived stream ${info.stream} stopped: ${info.error.message}`, { type: 'EddyWarning', code: info.error.code });
  }

  async stopDerived(name: string): Promise<void> {
    const d = this.derived.get(name);
    if (!d) return;
    this.derived.delete(name);
    await d.stop();
  }

  /** Stops derived streams, the worker pool and the storage. */
  async close(): Promise<void> {
    clearInterval(this.metricsTimer);
    for (const name of [...this.derived.keys()]) await this.stopDerived(name);
    await this.poolInstance?.close();
    this.poolInstance = null;
    await this.storage.close();
  }
}

/**
 * Every partition of a topic read at once; each partition's records stay in order. A named
 * consumer commits here, where records reach the caller (the merge reads ahead of the caller).
 */
function mergePartitions(storage: Storage, topic: string, options: ConsumeOptions) {
  const records = async function* (): AsyncGenerator<ConsumedRecord, void, undefined> {
    const stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    const named = options.consumer !== undefined && options.autoCommit !== false && !storage.readOnly;
    const n = storage.describeTopic(topic).partitions;
    const consumers = Array.from({ length: n }, (_, p) => storage.consume(topic, p, { ...options, signal, ...(named ? { autoCommit: false } : {}) }));
    const committer = named ? new DeliveryCommitter(storage, options.consumer!, topic, commitPolicy(options)) : null;
    for (const c of consumers) committer?.begin(c.partition, c.position, c.committed);
    try {
      for await (const r of mergeAsync(consumers.map((c) => c.records()), () => stop.abort())) {
        const wait = committer?.reserve(1);
        if (wait) await wait;
        committer?.deliver(r.partition, r.offset + 1);
        yield r;
      }
    } finally {
      await committer?.close();
    }
  };
  return { records, [Symbol.asyncIterator]: records };
}

/** Opens (creating if needed) a data directory. */
export async function open(dir: string, options: OpenOptions = {}): Promise<Eddy> {
  const { workers: _w, baseDir: _b, ...storageOptions } = options;
  return new Eddy(await openStorage(dir, storageOptions), options);
}
