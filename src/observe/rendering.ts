import type { Registry } from 'prom-client';
import type { Status } from './status.js';
import type { Telemetry } from './telemetry.js';

/**
 * The bodies of `/metrics` and `/api/status`, rendered once per telemetry snapshot (a snapshot is
 * reused for FRESH_MS, see telemetry.ts) and shared by every request that arrives meanwhile,
 * including those that arrive while it is being rendered: 100 scrapers at once cost one render
 * and 100 socket writes.
 *
 * The metrics text is rendered one metric family at a time, yielding to the event loop whenever a
 * slice has run for SLICE_MS, so a render never holds the coordinator's loop (and the commits
 * waiting on it) for long, however many series there are.
 */

const SLICE_MS = 0.25;

export class Renderings {
  private snapshot: Status | null = null;
  private json: Buffer | null = null;
  private text: Promise<Buffer> | null = null;
  /** The snapshot the metrics' collect callbacks read while a render runs. */
  private rendering: Status | null = null;
  /** Longest synchronous stretch of the work here (a snapshot, a JSON encoding, a render slice), in ms. */
  maxBlockMs = 0;

  constructor(
    private readonly telemetry: Telemetry,
    private readonly registry: Registry,
  ) {}

  /** What the registry's collect callbacks read: the snapshot being rendered. */
  readonly source = (): Status => this.rendering ?? this.current();

  /** `/api/status` as JSON bytes. */
  status(): Buffer {
    const s = this.current();
    if (!this.json) {
      const t0 = performance.now();
      this.json = Buffer.from(JSON.stringify(s));
      this.took(t0);
    }
    return this.json;
  }

  /** `/metrics` in Prometheus' text format. */
  metrics(): Promise<Buffer> {
    const s = this.current();
    this.text ??= this.render(s);
    return this.text;
  }

  private current(): Status {
    const t0 = performance.now();
    const s = this.telemetry.status();
    if (s !== this.snapshot) {
      this.snapshot = s;
      this.json = null;
      this.text = null;
      this.took(t0);
    }
    return s;
  }

  private async render(s: Status): Promise<Buffer> {
    const parts: string[] = [];
    // Not in the request's own turn: that one took the snapshot.
    await new Promise((resolve) => setImmediate(resolve));
    let t0 = performance.now();
    for (const metric of this.registry.getMetricsAsArray()) {
      if (performance.now() - t0 > SLICE_MS) {
        this.took(t0);
        await new Promise((resolve) => setImmediate(resolve));
        t0 = performance.now();
      }
      // Collect callbacks run synchronously inside this call; they read `s` through `source`.
      this.rendering = s;
      const text = this.registry.getSingleMetricAsString(metric.name);
      this.rendering = null;
      parts.push(await text);
    }
    // As Registry#metrics() joins them (Prometheus' text format, version 0.0.4).
    const body = Buffer.from(`${parts.join('\n\n')}\n`);
    this.took(t0);
    return body;
  }

  private took(t0: number): void {
    this.maxBlockMs = Math.max(this.maxBlockMs, performance.now() - t0);
  }
}
