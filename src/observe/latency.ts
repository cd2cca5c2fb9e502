import { Histogram } from 'prom-client';

/**
 * `eddy_batch_latency_seconds`: time from submitting a batch range to a worker until its result
 * is committed, per derived stream and source partition. A commit adds one observation to plain
 * per-series counters (a bucket index, three additions: ~20 ns), instead of prom-client's
 * `observe`, which validates and hashes the labels on every call (1–5 µs). prom-client still
 * writes the text: `getForPromString` hands its registry the values in the shape its own
 * histograms do, with each series' labels as one object it formats once and caches.
 */

type Label = 'stream' | 'partition';
type Got = Awaited<ReturnType<Histogram<Label>['get']>>;
type Value = Got['values'][number] & { sharedLabels?: Record<Label, string> };

/**
 * The counts as the coordinator hands them to the HTTP thread (http-thread.ts), which loads them
 * into its own BatchLatency to render: `version` tells it whether anything was recorded since.
 */
export interface LatencySnapshot {
  version: number;
  series: LatencySeries[];
}

/** One stream partition's counts; the telemetry keeps it and records into it at each commit. */
export interface LatencySeries {
  readonly labels: Record<Label, string>;
  /** Observations per bucket, not cumulative (the last slot is above the highest bound). */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

const NAME = 'eddy_batch_latency_seconds';
const HELP =
  'Time from submitting a batch range to a worker until its result is committed, per derived stream and source partition';
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class BatchLatency extends Histogram<Label> {
  private readonly all = new Map<string, LatencySeries>();
  /** Observations recorded so far: the text changes only when this does. */
  version = 0;
  readonly name = NAME;

  constructor() {
    super({
      name: NAME,
      help: HELP,
      labelNames: ['stream', 'partition'] as const,
      buckets: BUCKETS,
      registers: [],
    });
  }

  /** The series of a stream partition, made on first use. */
  series(stream: string, partition: number): LatencySeries {
    const key = `${stream}\u0000${partition}`;
    let s = this.all.get(key);
    if (!s) {
      s = {
        labels: { stream, partition: String(partition) },
        counts: new Float64Array(BUCKETS.length + 1),
        sum: 0,
        count: 0,
      };
      this.all.set(key, s);
    }
    return s;
  }

  record(s: LatencySeries, seconds: number): void {
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    s.counts[i]!++;
    s.sum += seconds;
    s.count++;
    this.version++;
  }

  /**
   * The live series, not copies: posting them to the HTTP thread copies them (structured clone),
   * so the coordinator does no more than that.
   */
  snapshot(): LatencySnapshot {
    return { version: this.version, series: [...this.all.values()] };
  }

  /** Takes the counts of a snapshot (the HTTP thread's copy), replacing all it had. */
  load(s: LatencySnapshot): void {
    const last = new Map(this.all);
    this.all.clear();
    for (const x of s.series) {
      const key = `${x.labels.stream}\u0000${x.labels.partition}`;
      // A series' labels stay the same object from load to load: prom-client caches their text per object.
      const labels = last.get(key)?.labels ?? x.labels;
      this.all.set(key, { labels, counts: x.counts, sum: x.sum, count: x.count });
    }
    this.version = s.version;
  }

  override reset(): void {
    // prom-client's constructor calls it too, before this class's fields exist.
    this.all?.clear();
    this.version++;
  }

  /** What prom-client's registry formats: cumulative buckets, +Inf, sum and count per series. */
  async getForPromString(): Promise<Got> {
    const values: Value[] = [];
    const bucket = `${NAME}_bucket`;
    for (const s of this.all.values()) {
      let acc = 0;
      for (let i = 0; i < BUCKETS.length; i++) {
        acc += s.counts[i]!;
        values.push(value(bucket, { le: BUCKETS[i]! }, acc, s.labels));
      }
      values.push(value(bucket, { le: '+Inf' }, s.count, s.labels));
      values.push(value(`${NAME}_sum`, {}, s.sum, s.labels));
      values.push(value(`${NAME}_count`, {}, s.count, s.labels));
    }
    // prom-client's typings give `type` as a numeric enum; its registry prints the string.
    return { name: NAME, help: HELP, type: 'histogram' as unknown as Got['type'], aggregator: 'sum', values } as Got;
  }

  /** As prom-client's: each value with its series' labels merged in (getMetricsAsJSON). */
  override async get(): Promise<Got> {
    const data = await this.getForPromString();
    data.values = (data.values as Value[]).map(({ sharedLabels, ...rest }) => ({
      ...rest,
      labels: { ...rest.labels, ...sharedLabels },
    }));
    return data;
  }
}

/** prom-client's registry prints `labels` and then `sharedLabels`, the latter cached per object. */
function value(
  metricName: string,
  labels: Record<string, string | number>,
  v: number,
  shared: Record<Label, string>,
): Value {
  return { metricName, labels: labels as Value['labels'], value: v, sharedLabels: shared };
}
