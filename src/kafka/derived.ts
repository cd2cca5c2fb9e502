import { EventEmitter } from 'eventemitter3';
import type { Admin, Consumer, EachBatchPayload, Kafka, Message, PartitionOffset, Producer } from 'kafkajs';
import {
  ChainSession,
  type SessionMetrics,
  type SessionResult,
  type SessionState,
  type SessionStep,
} from '../coordinator/chain-session.js';
import { skippedRecords } from '../coordinator/dead-letter.js';
import { COORDINATOR_DEFAULTS } from '../coordinator/defaults.js';
import { deadLetterTopic } from '../coordinator/derive-checks.js';
import type { DeriveCheckpoint, DeriveConfig, DerivedEvents, DerivedInfo } from '../coordinator/derived.js';
import { SessionStoppedError } from '../coordinator/errors.js';
import type { WorkerPool } from '../coordinator/pool.js';
import type { ModuleResolver } from '../coordinator/resolve.js';
import { EddyError } from '../errors.js';
import {
  changelogKey,
  changelogTopic,
  encodeState,
  ensureChangelog,
  restoreState,
  stateMetadata,
  stateOffset,
} from './changelog.js';
import { kafkaClient, kafkaSession, topicPartitions, withAdmin } from './client.js';
import { ensureDeadLetterTopic, kafkaDeadLetters } from './dead-letters.js';
import { kafkaEnds } from './endpoint.js';
import {
  isFenced,
  isPermanent,
  KafkaRecordTooLargeError,
  KafkaUnsupportedError,
  kafkaError,
  kafkaErrorType,
} from './errors.js';
import { readKafkaLookback } from './lookback.js';
import { groupProgress, type KafkaPartitionProgress } from './progress.js';
import { batchInput, chunkMessages, outputMessages } from './records.js';

/**
 * A derived stream between Kafka topics, exactly once. Every process running it joins the
 * consumer group named after the stream; Kafka spreads the source partitions over them. Each
 * assigned partition runs as its own ChainSession on the worker pool (one ordered stream), and
 * each batch's output and the group's next offset are written in ONE Kafka transaction.
 *
 * Transactions use one transactional id per source partition (`<name>-<partition>`), not one per
 * process: the process that gets a partition opens its producer first, which fences the
 * partition's previous owner (its open transaction is aborted, a late commit is refused), and only
 * then reads the committed offset and starts there. So a partition moving between processes
 * (rebalance, crash, a cut-off host) never commits a batch twice. The client (kafkajs) has no
 * group-generation fencing (KIP-447), which is why the id is per partition. Readers of the target
 * must read with isolation read_committed (the default of most clients), as this stream does.
 * Source partition p writes to target partition p mod (target partitions), keeping order.
 *
 * The client fences only when a producer starts its first transaction (connecting it asks for a
 * plain idempotent producer id), so taking a partition on starts and ends an empty transaction
 * before reading anything.
 *
 * Where a partition goes on is decided here, not by the client's fetch position: after fencing it
 * is the committed offset (or an aggregate's newest state), after that the offset of this
 * process's own last commit. The client re-reads the committed offset at every rebalance, without
 * fencing, and that read may not yet include the offsets of a transaction that is committing, so
 * records it hands over below that point are dropped here instead of processed again.
 * A fenced producer (the partition was taken over meanwhile) drops the partition's state; its
 * next batch here, if it is still ours, fences again and starts from the committed offset.
 *
 * State goes with the partition. An aggregate chain's accumulators are written to the stream's
 * compacted changelog topic (changelog.ts) in the same transaction as the output and the offsets,
 * and read back, with the source offset they reach, when a process takes the partition on (after
 * fencing, before its first batch). A look-back step gets its records from the source partition
 * then too (lookback.ts), once per partition taken on.
 */

/** One assigned source partition: its stream on the pool and its transactional producer. */
interface Owned {
  partition: number;
  stream: ChainSession;
  producer: Producer;
  /** The next source offset to process: the committed offset (or state) read after fencing, then our own commits. */
  next: number;
  /** The batch in hand (a partition has at most one at a time); released partitions wait for it. */
  busy: Promise<void>;
}

export interface KafkaGroupEvents {
  /** The source partitions this process owns after a rebalance. */
  assigned: [partitions: number[]];
  /** A batch of partition p was not committed here: another process had taken the partition over (fenced this one's producer). */
  fenced: [partition: number];
}

/** How often a running stream reads its group's offsets and the source's end offsets (for the lag it reports). */
const PROGRESS_MS = 1000;

export class KafkaDerivedStream extends EventEmitter<DerivedEvents> {
  readonly errors = new Map<number, EddyError>();
  /** When each partition's error happened, and at which source offset (for listDerived's failure). */
  private readonly failures = new Map<number, { offset: number; at: number }>();
  /** Group membership news (which partitions this process owns). */
  readonly group = new EventEmitter<KafkaGroupEvents>();
  private readonly ends: ReturnType<typeof kafkaEnds>;
  private readonly kafka: Kafka;
  private consumer: Consumer | null = null;
  private steps: SessionStep[] = [];
  private targetPartitions = 1;
  /** Aggregate chains: the changelog topic and its partition count. */
  private changelog: { topic: string; partitions: number } | null = null;
  /** Policy skip: the dead-letter topic and its partition count. */
  private deadLetters: { topic: string; partitions: number } | null = null;
  private readonly owned = new Map<number, Owned>();
  private assignment: number[] = [];
  /** What this process committed per source partition (the group's offsets live in Kafka). */
  private readonly commits = new Map<number, DeriveCheckpoint>();
  /** Every source partition's group progress, as last read from the cluster. */
  private progressRead: KafkaPartitionProgress[] = [];
  private progressTimer: NodeJS.Timeout | null = null;
  private reading: Promise<void> | null = null;
  /** One admin connection for the stream's reads (progress each second; state and look-back when a partition is taken on). */
  private adminConn: Promise<Admin> | null = null;
  private ended: Promise<void> = Promise.resolve();
  private endedResolve: () => void = () => {};
  private live = false;
  private stopping = false;

  constructor(
    readonly config: DeriveConfig,
    private readonly pool: WorkerPool,
    private readonly resolver: ModuleResolver,
  ) {
    super();
    this.ends = kafkaEnds(config.source, config.target);
    this.kafka = kafkaClient(this.ends.brokers, this.ends.clientId ?? `eddy-${config.name}`, this.ends.security);
  }

  get running(): boolean {
    return this.live;
  }

  /** Source partitions this process owns now. */
  get partitions(): number[] {
    return [...this.assignment];
  }

  /** The last commit this process made for source partition p (next offset, records written by this process). */
  checkpoint(partition: number): DeriveCheckpoint | undefined {
    return this.commits.get(partition);
  }

  metrics(): Map<number, SessionMetrics> {
    return new Map([...this.owned].map(([p, o]) => [p, o.stream.snapshotMetrics()]));
  }

  /** State of each source partition: its chain session's where this process runs it, else `not running` (another process has it). */
  states(): Map<number, SessionState | 'not running'> {
    const out = new Map<number, SessionState | 'not running'>();
    for (const { partition } of this.progressRead) out.set(partition, 'not running');
    for (const p of this.assignment) out.set(p, this.owned.get(p)?.stream.state ?? 'starting');
    return out;
  }

  /**
   * Every source partition's progress, as `listDerived()` reports it: the group's committed
   * offset and lag read from the cluster (at most a second old; this process's own commits are
   * newer), the records this process wrote, and why a partition stopped here.
   */
  progress(): DerivedInfo['partitions'] {
    return this.progressRead.map(({ partition, offset, lag }) => {
      const mine = this.commits.get(partition);
      const at = Math.max(offset, mine?.offset ?? 0);
      const e = this.errors.get(partition);
      const f = this.failures.get(partition);
      return {
        partition,
        offset: at,
        lag: Math.max(0, lag - (at - offset)),
        written: mine?.written ?? 0,
        skipped: mine?.skipped ?? 0,
        failure: e && f ? { code: e.code, message: e.message, offset: f.offset, at: f.at } : null,
      };
    });
  }

  /**
   * Runs `f` on the stream's admin connection, connected on first use. The client reconnects to
   * a broker by itself on the next request, so a failed call leaves the connection to the others;
   * only a failed first connect is dropped, to be tried again.
   */
  private async admin<T>(f: (a: Admin) => Promise<T>): Promise<T> {
    const conn = (this.adminConn ??= (async () => {
      const a = this.kafka.admin();
      await a.connect();
      return a;
    })());
    try {
      return await f(
        await conn.catch((err: unknown) => {
          if (this.adminConn === conn) this.adminConn = null;
          throw err;
        }),
      );
    } catch (err) {
      throw kafkaError(err, this.ends.brokers, 'Kafka admin');
    }
  }

  /** Reads the group's progress from the cluster (one admin round trip; concurrent calls share it). */
  async refreshProgress(): Promise<void> {
    this.reading ??= this.admin((a) => groupProgress(a, this.config.name, this.ends.source))
      .then(
        (read) => {
          this.progressRead = read;
        },
        () => {}, // the next read tries again; a cluster that stays away fails the consumer, which reports it
      )
      .finally(() => {
        this.reading = null;
      });
    await this.reading;
  }

  async done(): Promise<void> {
    await this.ended;
  }

  /** Checks the topics and the chain, joins the group and starts consuming (resolves once joined the first time). */
  async start(): Promise<void> {
    const { brokers, source, target } = this.ends;
    this.steps = await this.resolver.steps(this.config.transforms, this.config.name);
    const session = kafkaSession();
    const stateful = this.steps.some((s) => s.module.kind === 'aggregate');
    const dlq = deadLetterTopic(this.config);
    const [sourceCount, targetCount, changelogCount, dlqCount] = await withAdmin(this.kafka, brokers, async (a) => {
      const counts = await topicPartitions(a, brokers, [source, target]);
      const topic = changelogTopic(this.config.name);
      return [
        ...counts,
        stateful ? await ensureChangelog(a, topic, counts[0]!) : undefined,
        dlq ? await ensureDeadLetterTopic(a, dlq) : undefined,
      ];
    });
    this.targetPartitions = targetCount!;
    if (dlq && dlqCount !== undefined) this.deadLetters = { topic: dlq, partitions: dlqCount };
    if (changelogCount !== undefined)
      this.changelog = { topic: changelogTopic(this.config.name), partitions: changelogCount };
    const consumer = this.kafka.consumer({
      groupId: this.config.name,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 200,
      ...session,
    });
    this.consumer = consumer;
    this.ended = new Promise<void>((r) => {
      this.endedResolve = r;
    });
    let joined!: () => void;
    const firstJoin = new Promise<void>((r) => {
      joined = r;
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const mine = (e.payload.memberAssignment[source] ?? []).slice().sort((a, b) => a - b);
      void this.reassigned(mine);
      joined();
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (e.payload.restart) return; // the client rejoins by itself; uncommitted work is redone
      this.failAll(kafkaError(e.payload.error, brokers, `derived stream ${this.config.name}`));
      joined();
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: source, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: sourceCount!,
        eachBatch: (payload) => this.onBatch(payload),
      });
    } catch (err) {
      await consumer.disconnect().catch(() => {});
      this.endedResolve();
      throw kafkaError(err, brokers, `derived stream ${this.config.name}`);
    }
    this.live = true;
    await this.refreshProgress();
    this.progressTimer = setInterval(() => void this.refreshProgress(), PROGRESS_MS);
    this.progressTimer.unref();
    await firstJoin;
  }

  /** `await using`: stops the stream when the scope ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Leaves the group (the batch in hand is committed or aborted first) and closes the partitions' streams and producers. */
  async stop(): Promise<void> {
    if (this.stopping) return this.done();
    this.stopping = true;
    if (this.progressTimer) clearInterval(this.progressTimer);
    await this.consumer?.disconnect().catch(() => {});
    await Promise.all([...this.owned.keys()].map((p) => this.release(p)));
    // What listDerived() keeps showing once stopped; a cluster that is gone does not hold the stop up.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.refreshProgress(),
      new Promise<void>((r) => {
        timer = setTimeout(r, 2000);
      }),
    ]);
    clearTimeout(timer);
    const admin = this.adminConn;
    this.adminConn = null;
    await admin?.then((a) => a.disconnect()).catch(() => {});
    this.live = false;
    this.endedResolve();
  }

  /** After a rebalance: partitions no longer ours are released (their next owner fences them anyway). */
  private async reassigned(mine: number[]): Promise<void> {
    this.assignment = mine;
    this.group.emit('assigned', mine);
    await Promise.all([...this.owned.keys()].filter((p) => !mine.includes(p)).map((p) => this.release(p)));
  }

  /** Drops partition p after its batch in hand ended (committed, or refused because fenced). */
  private async release(p: number): Promise<void> {
    const o = this.owned.get(p);
    if (!o) return;
    this.owned.delete(p);
    await o.busy;
    await this.close(o);
  }

  private async close(o: Owned): Promise<void> {
    if (this.owned.get(o.partition) === o) this.owned.delete(o.partition);
    await Promise.all([o.stream.close(), o.producer.disconnect().catch(() => {})]);
  }

  /**
   * Opens partition p: its producer first (fencing any previous owner), then where to go on from
   * (the committed offset, or the offset the restored aggregate state reaches), the look-back
   * records, and its stream on the pool. `first` is where to start when nothing was committed.
   */
  private async own(p: number, first: number): Promise<Owned> {
    const have = this.owned.get(p);
    if (have) return have;
    const { name } = this.config;
    const { source } = this.ends;
    const producer = this.kafka.producer({
      transactionalId: `${name}-${p}`,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    let stream: ChainSession | null = null;
    try {
      // The client asks for the transactional id's epoch (which fences the previous owner) only
      // when its first transaction starts; connect() alone fences nothing. So an empty
      // transaction is started and ended here, before anything is read.
      const fence = await producer.transaction();
      await fence.abort();
      // Fenced now: what the previous owner committed is final.
      const { offset: committed, metadata } = await this.committed(p);
      const cl = this.changelog;
      const state = cl
        ? await this.admin((a) =>
            restoreState(
              this.kafka,
              a,
              cl.topic,
              p % cl.partitions,
              changelogKey(source, p),
              name,
              stateOffset(metadata),
            ),
          )
        : null;
      const history = new Map<number, Uint8Array>();
      for (const [i, s] of this.steps.entries())
        if (s.lookback && s.module.hasLookBack)
          history.set(i, await this.admin((a) => readKafkaLookback(this.kafka, a, source, p, s.lookback!, name)));
      stream = new ChainSession(this.pool, {
        id: `${name}/${p}`,
        steps: this.steps,
        policy: this.config.policy ?? 'stop',
        deadlineMs: this.config.deadlineMs ?? COORDINATOR_DEFAULTS.deadlineMs,
        maxInFlight: this.config.maxInFlight ?? COORDINATOR_DEFAULTS.maxInFlight,
        ...(state ? { accumulators: state.accumulators } : {}),
        // Read once per partition taken on; a session restored on another worker gets the same records.
        history: (i) => history.get(i) ?? new Uint8Array(4),
      });
      stream.on('state', (s) => this.emit('state', s, p));
      await stream.start();
      // The state is written with the offsets, so it is never behind them; it may be ahead of a stale offset read.
      const next = state ? Math.max(state.offset, committed ?? 0) : (committed ?? first);
      const o: Owned = { partition: p, stream, producer, next, busy: Promise.resolve() };
      this.owned.set(p, o);
      return o;
    } catch (err) {
      await stream?.close();
      await producer.disconnect().catch(() => {});
      throw err;
    }
  }

  /** One fetched batch of one partition: run the chain, then commit output + next offset in one transaction. */
  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const p = payload.batch.partition;
    // A batch fetched before a rebalance for a partition given away since: its new owner has it.
    if (payload.batch.messages.length === 0 || this.errors.has(p) || this.stopping || !this.assignment.includes(p))
      return;
    const { brokers } = this.ends;
    let o: Owned;
    try {
      o = await this.own(p, Number(payload.batch.messages[0]!.offset));
    } catch (err) {
      throw kafkaError(err, brokers, `derived stream ${this.config.name}, partition ${p}`);
    }
    // Given away (or stopping) while it was being opened: its new owner has it.
    if (this.stopping || !this.assignment.includes(p)) return this.release(p);
    let done!: () => void;
    o.busy = new Promise<void>((r) => {
      done = r;
    });
    try {
      await this.runBatch(p, o, payload);
    } finally {
      done();
    }
  }

  private async runBatch(
    p: number,
    o: Owned,
    { batch, resolveOffset, heartbeat, isRunning }: EachBatchPayload,
  ): Promise<void> {
    const { brokers, source, target } = this.ends;
    const where = `derived stream ${this.config.name}, partition ${p}`;
    const from = o.next;
    const fresh = batch.messages.filter((m) => Number(m.offset) >= from);
    if (fresh.length === 0) {
      // All committed already (the client's position was behind): move its position past them.
      resolveOffset(String(from - 1));
      return;
    }
    if (!isRunning()) return;

    const submittedAt = performance.now();
    let result: SessionResult;
    try {
      result = await o.stream.process(batchInput(fresh));
    } catch (err) {
      // Closed underneath (stopping, or released): the batch is redone by whoever owns the partition.
      if (err instanceof SessionStoppedError && (this.stopping || this.owned.get(p) !== o)) return;
      return this.fail(p, err instanceof EddyError ? err : kafkaError(err, brokers, where));
    }
    const tp = p % this.targetPartitions;
    const messages: Message[] = [];
    let next = Number(batch.lastOffset()) + 1;
    let error: EddyError | null = null;
    for (const b of result.batches) {
      for (const m of outputMessages(b.raw, b.baseTimestamp, tp)) messages.push(m);
      if (b.error) {
        // Policy stop: the outputs before the failing record commit; the partition stops at it.
        const at = (b.error as { offset?: unknown }).offset;
        next = typeof at === 'number' ? at : b.baseOffset;
        error = b.error;
        break;
      }
    }
    // Policy skip: each record a module rejected (or of a batch dropped) is kept in the dead-letter topic.
    const dlq = this.deadLetters;
    // One input batch, sent as bytes: its results do not know its last offset, which a dropped batch needs.
    const lastFresh = Number(fresh[fresh.length - 1]!.offset);
    const skipped = dlq
      ? skippedRecords(
          result.batches.map((b) => (b.lastOffset < 0 ? { ...b, lastOffset: lastFresh } : b)),
          from,
        )
      : [];
    const letters = dlq
      ? kafkaDeadLetters(this.config.name, { topic: source, partition: p }, skipped, fresh, p % dlq.partitions)
      : [];
    const cl = this.changelog;
    const state = cl && {
      topic: cl.topic,
      acks: -1,
      messages: [
        {
          key: changelogKey(source, p),
          value: encodeState({ offset: next, accumulators: result.accumulators }),
          partition: p % cl.partitions,
        },
      ],
    };
    try {
      const tx = await o.producer.transaction();
      try {
        for (const chunk of chunkMessages(messages)) await tx.send({ topic: target, messages: chunk, acks: -1 });
        if (dlq)
          for (const chunk of chunkMessages(letters)) await tx.send({ topic: dlq.topic, messages: chunk, acks: -1 });
        // The offset commit names the state record, so the next owner reads from there on, not the whole topic.
        let metadata: string | null = null;
        if (state) {
          const [sent] = await tx.send(state);
          const at = Number(sent?.baseOffset ?? sent?.offset);
          if (Number.isSafeInteger(at) && at >= 0) metadata = stateMetadata(at);
        }
        // The client's types leave the metadata out; its TxnOffsetCommit request sends it.
        const commit: PartitionOffset & { metadata: string | null } = { partition: p, offset: String(next), metadata };
        await tx.sendOffsets({ consumerGroupId: this.config.name, topics: [{ topic: source, partitions: [commit] }] });
        await tx.commit();
      } catch (err) {
        // A request that failed otherwise (timed out while this host was cut off) and whose abort
        // is refused as fenced: the partition was taken over meanwhile, which is what to report.
        const aborted = await tx.abort().then(
          () => null,
          (e: unknown) => e,
        );
        throw isFenced(aborted) && !isFenced(err) ? aborted : err;
      }
    } catch (err) {
      await this.close(o);
      // Taken over meanwhile: nothing of this batch was committed; if the partition is still ours,
      // its next batch fences the other owner and starts from the committed offset.
      if (isFenced(err)) {
        this.group.emit('fenced', p);
        return;
      }
      // A request the broker refuses for what it is (not for a passing fault) would be refused
      // again on every retry: the partition stops here, saying why; its committed progress stays.
      if (kafkaErrorType(err) === 'MESSAGE_TOO_LARGE')
        return this.fail(p, new KafkaRecordTooLargeError(this.config.name, p, target));
      if (isPermanent(err)) return this.fail(p, kafkaError(err, brokers, where));
      throw kafkaError(err, brokers, where);
    } finally {
      // The messages are views into the result's memory: handed back only once the sends encoded them.
      result.release();
    }
    o.next = next;
    if (next > 0) resolveOffset(String(next - 1));
    const before = this.commits.get(p);
    const written = (before?.written ?? 0) + messages.length;
    const skippedTotal = (before?.skipped ?? 0) + skipped.length;
    this.commits.set(p, {
      offset: next,
      accumulators: result.accumulators,
      written,
      skipped: skippedTotal,
      updatedAt: Date.now(),
    });
    for (const d of skipped)
      this.emit('skip', { partition: p, offset: d.offset, error: d.error, deadLetterTopic: dlq!.topic });
    this.emit('commit', {
      partition: p,
      records: next - from,
      recordsOut: messages.length,
      seconds: (performance.now() - submittedAt) / 1000,
    });
    this.emit('batch', { partition: p, sourceOffset: next, recordsOut: messages.length, targetPartition: tp });
    const high = Number(batch.highWatermark);
    if (Number.isFinite(high)) this.emit('lag', { partition: p, lag: Math.max(0, high - next) });
    if (error) this.fail(p, error);
    await heartbeat();
  }

  /** The group's committed offset of source partition p (null when none was committed yet) and its metadata. */
  private async committed(p: number): Promise<{ offset: number | null; metadata: string | null }> {
    const { source } = this.ends;
    const offsets = await this.admin((a) => a.fetchOffsets({ groupId: this.config.name, topics: [source] }));
    const x = offsets[0]?.partitions.find((y) => y.partition === p);
    const at = x?.offset;
    return { offset: at === undefined || Number(at) < 0 ? null : Number(at), metadata: x?.metadata ?? null };
  }

  /** Partition p stops (kept stopped for this run): its fetching pauses and the error is reported. */
  private fail(p: number, err: EddyError): void {
    if (this.errors.has(p)) return;
    this.errors.set(p, err);
    this.failures.set(p, { offset: this.owned.get(p)?.next ?? this.commits.get(p)?.offset ?? 0, at: Date.now() });
    this.consumer?.pause([{ topic: this.ends.source, partitions: [p] }]);
    this.emit('error', err, p);
  }

  private failAll(err: EddyError): void {
    this.errors.set(-1, err);
    this.emit('error', err, -1);
    this.live = false;
    void this.stop();
  }
}

/** What Kafka endpoints run: a Kafka source with a Kafka target on the same cluster. Returns both ends, resolved. */
export function checkKafkaChain(config: DeriveConfig): ReturnType<typeof kafkaEnds> {
  if (!config.source.startsWith('kafka://'))
    throw new KafkaUnsupportedError(config.name, 'an Eddy source topic with a Kafka target');
  return kafkaEnds(config.source, config.target);
}

/** What `createDerived` checks for Kafka endpoints: the chain, and that the cluster answers and has both topics. */
export async function checkKafkaDerive(config: DeriveConfig): Promise<void> {
  const { brokers, source, target, clientId, security } = checkKafkaChain(config);
  await withAdmin(kafkaClient(brokers, clientId ?? `eddy-${config.name}`, security), brokers, (a) =>
    topicPartitions(a, brokers, [source, target]),
  );
}
