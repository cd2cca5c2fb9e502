/**
 * `eddy_batch_latency_seconds`' counts: time from submitting a batch range to a worker until its
 * result is committed, per derived stream and source partition. A commit adds one observation to
 * plain per-series counters (a bucket index, three additions: ~20 ns), instead of prom-client's
 * `observe`, which validates and hashes the labels on every call (1–5 µs). The coordinator keeps
 * them here, without prom-client (loaded only by the HTTP thread: latency-metric.ts writes them).
 */

export type LatencyLabel = 'stream' | 'partition';

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
  readonly labels: Record<LatencyLabel, string>;
  /** Observations per bucket, not cumulative (the last slot is above the highest bound). */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export const LATENCY_NAME = 'eddy_batch_latency_seconds';
export const LATENCY_HELP =
  'Time from submitting a batch range to a worker until its result is committed, per derived stream and source partition';
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The counts per stream partition, as the coordinator records them and the HTTP thread loads them. */
export class LatencyCounts {
  private readonly all = new Map<string, LatencySeries>();
  /** Observations recorded (or series loaded) so far: the text changes only when this does. */
  version = 0;

  /** The series of a stream partition, made on first use. */
  series(stream: string, partition: number): LatencySeries {
    const key = `${stream}\u0000${partition}`;
    let s = this.all.get(key);
    if (!s) {
      s = {
        labels: { stream, partition: String(partition) },
        counts: new Float64Array(LATENCY_BUCKETS.length + 1),
        sum: 0,
        count: 0,
      };
      this.all.set(key, s);
    }
    return s;
  }

  record(s: LatencySeries, seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
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

  clear(): void {
    this.all.clear();
    this.version++;
  }

  values(): IterableIterator<LatencySeries> {
    return this.all.values();
  }
}
