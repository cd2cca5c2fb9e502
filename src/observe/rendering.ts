import type { Registry } from 'prom-client';
import type { BlockMeter } from './blocking.js';
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

  /** `meter` times the render's slices (the snapshot and the JSON are taken inside a request handler, timed there). */
  constructor(
    private readonly telemetry: Telemetry,
    private readonly registry: Registry,
    private readonly meter: BlockMeter,
  ) {}

  /** What the registry's collect callbacks read: the snapshot being rendered. */
  readonly source = (): Status => this.rendering ?? this.current();

  /** `/api/status` as JSON bytes. */
  status(): Buffer {
    const s = this.current();
    this.json ??= Buffer.from(JSON.stringify(s));
    return this.json;
  }

  /** `/metrics` in Prometheus' text format. */
  metrics(): Promise<Buffer> {
    const s = this.current();
    this.text ??= this.render(s);
    return this.text;
  }

  private current(): Status {
    const s = this.telemetry.status();
    if (s !== this.snapshot) {
      this.snapshot = s;
      this.json = null;
      this.text = null;
    }
    return s;
  }

  private async render(s: Status): Promise<Buffer> {
    const parts: string[] = [];
    // Not in the request's own turn: that one took the snapshot.
    await new Promise((resolve) => setImmediate(resolve));
    let mark = this.meter.start();
    let t0 = performance.now();
    for (const metric of this.registry.getMetricsAsArray()) {
      if (performance.now() - t0 > SLICE_MS) {
        this.meter.end(mark);
        await new Promise((resolve) => setImmediate(resolve));
        mark = this.meter.start();
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
    this.meter.end(mark);
    return body;
  }
}
