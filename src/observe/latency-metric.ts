import { Histogram } from 'prom-client';
import { LATENCY_BUCKETS, LATENCY_HELP, LATENCY_NAME, LatencyCounts, type LatencyLabel } from './latency.js';

/**
 * `eddy_batch_latency_seconds` for prom-client's registry, written from plain counts (latency.ts):
 * `getForPromString` hands the registry the values in the shape prom-client's own histograms do,
 * with each series' labels as one object it formats once and caches.
 */

type Got = Awaited<ReturnType<Histogram<LatencyLabel>['get']>>;
type Value = Got['values'][number] & { sharedLabels?: Record<LatencyLabel, string> };

export class BatchLatency extends Histogram<LatencyLabel> {
  readonly name = LATENCY_NAME;
  /** Set after super(): prom-client's constructor calls reset() before this class's fields exist. */
  readonly counts: LatencyCounts;

  constructor(counts: LatencyCounts = new LatencyCounts()) {
    super({
      name: LATENCY_NAME,
      help: LATENCY_HELP,
      labelNames: ['stream', 'partition'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [],
    });
    this.counts = counts;
  }

  /** Observations so far (see LatencyCounts.version). */
  get version(): number {
    return this.counts.version;
  }

  override reset(): void {
    this.counts?.clear();
  }

  /** What prom-client's registry formats: cumulative buckets, +Inf, sum and count per series. */
  async getForPromString(): Promise<Got> {
    const values: Value[] = [];
    const bucket = `${LATENCY_NAME}_bucket`;
    for (const s of this.counts.values()) {
      let acc = 0;
      for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
        acc += s.counts[i]!;
        values.push(value(bucket, { le: LATENCY_BUCKETS[i]! }, acc, s.labels));
      }
      values.push(value(bucket, { le: '+Inf' }, s.count, s.labels));
      values.push(value(`${LATENCY_NAME}_sum`, {}, s.sum, s.labels));
      values.push(value(`${LATENCY_NAME}_count`, {}, s.count, s.labels));
    }
    // prom-client's typings give `type` as a numeric enum; its registry prints the string.
    return {
      name: LATENCY_NAME,
      help: LATENCY_HELP,
      type: 'histogram' as unknown as Got['type'],
      aggregator: 'sum',
      values,
    } as Got;
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
  shared: Record<LatencyLabel, string>,
): Value {
  return { metricName, labels: labels as Value['labels'], value: v, sharedLabels: shared };
}
