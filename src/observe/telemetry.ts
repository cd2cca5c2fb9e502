import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { SessionMetrics, SessionState } from '../coordinator/chain-session.js';
import type { DerivedEvents, DerivedInfo } from '../coordinator/derived.js';
import type { EddyError } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import { LatencyCounts, type LatencySeries } from './latency.js';
import type {
  ConnectorStatus,
  LastError,
  ModuleStatus,
  PartitionStatus,
  ProcessStatus,
  Status,
  StreamStatus,
  TopicStatus,
} from './status.js';

/** What the telemetry reads of a running connector (the connectors' RunningConnector has it; observe does not import that room). */
export interface ObservedConnector {
  readonly config: { name: string; direction: 'source' | 'sink' };
  readonly summary: string;
  readonly stats: { records: number; bytes: number; errors: number; lastError: string | null };
  readonly done: Promise<unknown>;
}

/**
 * What the telemetry reads of a running derived stream, over Eddy topics or over Kafka: its
 * events (`commit`, `error`, `skip`), its partitions' errors, session states and counters.
 * A Kafka stream also lists the partitions other processes run (state `not running`).
 */
export interface ObservedStream {
  readonly config: { name: string };
  readonly errors: ReadonlyMap<number, EddyError>;
  on<E extends 'commit' | 'error' | 'skip'>(event: E, listener: (...args: DerivedEvents[E]) => void): unknown;
  states(): Map<number, SessionState | 'not running'>;
  metrics(): Map<number, SessionMetrics>;
}

/**
 * The one place the numbers of a running Eddy come from: `/metrics`, `/api/status`, the status
 * page and `eddy derive list` all read them here or from the same committed checkpoints
 * (`listDerived()`). Counting happens per committed result, never per record: each commit adds one
 * histogram observation; everything else is read from counters the streams keep anyway, when a
 * scrape or the page asks (the HTTP thread asks at most once per FRESH_MS, however many clients
 * wait: see server.ts).
 */

export interface TelemetryHost {
  readonly storage: Storage;
  listDerived(): DerivedInfo[];
  /** Worker threads of the pool (0 before it is started). */
  poolSize(): number;
}

interface Tracked {
  stream: ObservedStream;
  opened: boolean;
  startError: EddyError | null;
  /** Per source partition: its batch latency counts, whose count is also its commits. */
  latency: Map<number, LatencySeries>;
  lastError: LastError | null;
}

/**
 * How long one snapshot answers every reader (scrapes, the page, /api/status): numbers are at
 * most this old. Prometheus scrapes at 1 s or slower, so it always gets a fresh one; a crowd of
 * clients at once shares one.
 */
export const FRESH_MS = 200;
/**
 * Event-loop delay sampling period: each sample is a timer that wakes the loop (~3 ms of CPU a
 * second at 10 ms, ~1 ms at 50 ms), and the delays worth an operator's look are longer anyway.
 */
const LOOP_DELAY_RESOLUTION_MS = 50;
/** Samples kept for the page's charts: 5 minutes at one a second. */
const HISTORY = 300;
const SAMPLE_MS = 1000;

export class Telemetry {
  /** Source offset to commit, per result; buckets from 1 ms to 10 s. */
  readonly latency = new LatencyCounts();

  private readonly tracked = new Map<string, Tracked>();
  private readonly connectors = new Map<string, { c: ObservedConnector; failed: string | null }>();
  private readonly history = new Map<string, [number, number, number][]>();
  private holds = 0;
  private sampler: NodeJS.Timeout | null = null;
  private loopDelay: IntervalHistogram | null = null;
  private delay = { p50Seconds: 0, p99Seconds: 0, maxSeconds: 0 };
  private utilization = 0;
  /** LMDB's map size and fill, read by the sampler: once a second is fresh enough, and it costs ~0.1 ms. */
  private lmdb: ProcessStatus['lmdb'] | null = null;
  private lastBusy: { at: number; ms: number } | null = null;
  private readonly startedAt = Date.now();

  constructor(private readonly host: TelemetryHost) {}

  /** Follows a derived stream from its start; `started` settles when every partition is open. */
  track(stream: ObservedStream, started: Promise<void>): void {
    const name = stream.config.name;
    const t: Tracked = {
      stream,
      opened: false,
      startError: null,
      latency: new Map(),
      lastError: null,
    };
    this.tracked.set(name, t);
    // The only work per committed result: a bucket count and a sum (see latency.ts).
    stream.on('commit', (c) => {
      let h = t.latency.get(c.partition);
      if (!h) t.latency.set(c.partition, (h = this.latency.series(name, c.partition)));
      this.latency.record(h, c.seconds);
    });
    const remember = (e: EddyError, partition: number | null, offset: number | null) => {
      t.lastError = { code: e.code, message: e.message, partition, offset, at: Date.now() };
    };
    stream.on('error', (e, p) => remember(e, p, null));
    stream.on('skip', (s) => {
      if (t.lastError?.message !== s.error.message) remember(s.error, s.partition, s.offset);
    });
    started.then(
      () => {
        t.opened = true;
      },
      (e: EddyError) => {
        t.startError = e;
        remember(e, null, null);
      },
    );
  }

  untrack(name: string): void {
    this.tracked.delete(name);
  }

  trackConnector(c: ObservedConnector): void {
    const entry = { c, failed: null as string | null };
    this.connectors.set(c.config.name, entry);
    c.done.catch((e: unknown) => {
      entry.failed = (e as Error)?.message ?? String(e);
    });
  }

  /** Not ready until the returned function is called (`eddy run` holds it while it starts the streams). */
  hold(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (!released) {
        released = true;
        this.holds--;
      }
    };
  }

  /** Ready: nothing holds it and every tracked stream has opened all its partitions. */
  readiness(): { ready: boolean; waiting: string[] } {
    const waiting = [...this.tracked].filter(([, t]) => !t.opened).map(([n]) => n);
    return { ready: this.holds === 0 && waiting.length === 0, waiting };
  }

  /** Healthy unless a tracked stream (or connector) stopped on an error. */
  health(): {
    healthy: boolean;
    errors: { stream: string; partition: number | null; code: string; message: string }[];
  } {
    const errors: { stream: string; partition: number | null; code: string; message: string }[] = [];
    for (const [name, t] of this.tracked) {
      if (t.startError)
        errors.push({ stream: name, partition: null, code: t.startError.code, message: t.startError.message });
      for (const [p, e] of t.stream.errors)
        errors.push({ stream: name, partition: p, code: e.code, message: e.message });
    }
    for (const [name, { failed }] of this.connectors)
      if (failed !== null)
        errors.push({ stream: `connector ${name}`, partition: null, code: 'EDDY_CONNECTOR', message: failed });
    return { healthy: errors.length === 0, errors };
  }

  /** Samples throughput for the charts, event-loop delay and pool utilisation, once a second until stopped. */
  startSampling(): () => void {
    if (this.sampler) return () => {};
    this.loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
    this.loopDelay.enable();
    let ticks = 0;
    this.sample();
    this.sampler = setInterval(() => {
      this.sample();
      // Delay over the last ~10 s, so one old stall does not stay in the numbers for ever.
      if (++ticks % 10 === 0) this.loopDelay!.reset();
    }, SAMPLE_MS);
    this.sampler.unref();
    return () => {
      if (this.sampler) clearInterval(this.sampler);
      this.sampler = null;
      this.loopDelay?.disable();
    };
  }

  private sample(): void {
    this.lmdb = this.readLmdb();
    const s = this.status();
    const push = (key: string, a: number, b: number) => {
      let h = this.history.get(key);
      if (!h) this.history.set(key, (h = []));
      h.push([s.time, a, b]);
      if (h.length > HISTORY) h.shift();
    };
    for (const st of s.streams) push(`stream:${st.name}`, st.recordsIn, st.recordsOut);
    for (const c of s.connectors) push(`connector:${c.name}`, c.records, c.errors);
    if (this.loopDelay) {
      const d = this.loopDelay;
      const sec = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0);
      this.delay = { p50Seconds: sec(d.percentile(50)), p99Seconds: sec(d.percentile(99)), maxSeconds: sec(d.max) };
    }
    // Pool utilisation: module time spent on the workers over the wall time they had.
    const busy = s.streams.reduce((a, st) => a + st.modules.reduce((b, m) => b + m.timeSeconds * 1000, 0), 0);
    if (this.lastBusy && s.process.workers > 0) {
      const dt = s.time - this.lastBusy.at;
      if (dt > 0) this.utilization = Math.min(1, Math.max(0, (busy - this.lastBusy.ms) / (dt * s.process.workers)));
    }
    this.lastBusy = { at: s.time, ms: busy };
  }

  /** The status of everything this process runs, and of the saved streams it does not. */
  status(): Status {
    const now = Date.now();
    return {
      version: 1,
      time: now,
      ...this.readiness(),
      ...this.health(),
      streams: this.host.listDerived().map((d) => this.streamStatus(d)),
      connectors: [...this.connectors.values()].map(({ c, failed }) => this.connectorStatus(c, failed)),
      topics: this.topicStatus(),
      process: this.processStatus(now),
    };
  }

  private streamStatus(d: DerivedInfo): StreamStatus {
    const t = this.tracked.get(d.config.name);
    const live = t?.stream.metrics() ?? new Map();
    const states = t?.stream.states() ?? new Map();
    const partitions: PartitionStatus[] = d.partitions.map((p) => {
      const m = live.get(p.partition);
      const failed = p.failure !== null || t?.stream.errors.has(p.partition);
      return {
        partition: p.partition,
        state: failed ? 'failed' : t ? (states.get(p.partition) ?? 'starting') : 'not running',
        recordsIn: p.offset,
        recordsOut: p.written,
        skipped: p.skipped,
        lag: p.lag,
        errors: m?.errors ?? 0,
        bytesIn: m?.bytesIn ?? 0,
        bytesOut: m?.bytesOut ?? 0,
        deadlineKills: m?.timeouts ?? 0,
        restarts: m?.restarts ?? 0,
        commits: t?.latency.get(p.partition)?.count ?? 0,
        failure: p.failure,
        modules: d.config.transforms.map((step, i) => {
          const x = m?.modules[i];
          return {
            step: i,
            module: x?.module ?? step.uses,
            deadlineKills: x?.deadlineKills ?? 0,
            restarts: x?.restarts ?? 0,
          };
        }),
      };
    });
    const sum = (f: (p: PartitionStatus) => number) => partitions.reduce((a, p) => a + f(p), 0);
    const modules: ModuleStatus[] = d.config.transforms.map((step, i) => {
      const m: ModuleStatus = {
        step: i,
        module: step.uses,
        invocations: 0,
        recordsIn: 0,
        recordsOut: 0,
        errors: 0,
        timeSeconds: 0,
        nsPerRecord: 0,
        memoryBytes: 0,
        recycles: 0,
        deadlineKills: 0,
        restarts: 0,
      };
      for (const sm of live.values()) {
        const x = sm.modules[i];
        if (!x) continue;
        m.module = x.module;
        m.invocations += x.invocations;
        m.recordsIn += x.recordsIn;
        m.recordsOut += x.recordsOut;
        m.errors += x.errors;
        m.timeSeconds += x.timeMs / 1000;
        m.memoryBytes = Math.max(m.memoryBytes, x.memoryBytes);
        m.recycles += x.recycles;
        m.deadlineKills += x.deadlineKills;
        m.restarts += x.restarts;
      }
      m.nsPerRecord = m.recordsIn > 0 ? (m.timeSeconds * 1e9) / m.recordsIn : 0;
      return m;
    });
    const failure = d.partitions.filter((p) => p.failure).sort((a, b) => b.failure!.at - a.failure!.at)[0];
    const lastError =
      t?.lastError ??
      (failure
        ? {
            code: failure.failure!.code,
            message: failure.failure!.message,
            partition: failure.partition,
            offset: failure.failure!.offset,
            at: failure.failure!.at,
          }
        : null);
    return {
      name: d.config.name,
      source: d.config.source,
      target: d.config.target,
      policy: d.config.policy ?? 'stop',
      deadLetterTopic: d.deadLetterTopic,
      state: partitions.some((p) => p.state === 'failed')
        ? 'failed'
        : t
          ? t.opened
            ? 'running'
            : 'starting'
          : 'not running',
      recordsIn: sum((p) => p.recordsIn),
      recordsOut: sum((p) => p.recordsOut),
      skipped: sum((p) => p.skipped),
      lag: sum((p) => p.lag),
      errors: sum((p) => p.errors),
      commits: sum((p) => p.commits),
      lastError,
      partitions,
      modules,
      history: this.history.get(`stream:${d.config.name}`) ?? [],
    };
  }

  private connectorStatus(c: ObservedConnector, failed: string | null): ConnectorStatus {
    return {
      name: c.config.name,
      direction: c.config.direction,
      summary: c.summary,
      state: failed !== null ? 'failed' : 'running',
      records: c.stats.records,
      bytes: c.stats.bytes,
      errors: c.stats.errors,
      lastError: failed ?? c.stats.lastError,
      history: this.history.get(`connector:${c.config.name}`) ?? [],
    };
  }

  /** `eddy topic describe` of every topic: the same storage call, so the same numbers. */
  private topicStatus(): TopicStatus[] {
    const storage = this.host.storage;
    if (storage.isClosed) return [];
    // Names only: describeTopic reads each partition once (listTopics would read them all before it).
    return storage.topicNames().map((name) => {
      const d = storage.describeTopic(name);
      return { name: d.name, records: d.records, bytes: d.bytes, partitions: d.partitionInfo.map((p) => ({ ...p })) };
    });
  }

  private processStatus(now: number): ProcessStatus {
    return {
      pid: process.pid,
      uptimeSeconds: (now - this.startedAt) / 1000,
      workers: this.host.poolSize(),
      workerUtilization: this.utilization,
      lmdb: this.host.storage.isClosed ? { mapSizeBytes: 0, usedBytes: 0, fill: 0 } : (this.lmdb ?? this.readLmdb()),
      eventLoopDelay: this.delay,
    };
  }

  private readLmdb(): ProcessStatus['lmdb'] {
    if (this.host.storage.isClosed) return { mapSizeBytes: 0, usedBytes: 0, fill: 0 };
    // The environment's own counters: one call, no walk over the databases.
    const s = this.host.storage.env.getStats() as { pageSize: number; mapSize: number; lastPageNumber: number };
    const used = (s.lastPageNumber + 1) * s.pageSize;
    return { mapSizeBytes: s.mapSize, usedBytes: used, fill: s.mapSize > 0 ? used / s.mapSize : 0 };
  }
}
