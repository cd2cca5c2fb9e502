import type { Registry } from 'prom-client';
import type { BlockMeter } from './blocking.js';
import { familyRows, type Rows } from './metrics.js';
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
 * waiting on it) for long, however many series there are. A family whose rows (labels and
 * values) are the same as at its last render keeps its last text: most of them (errors, kills,
 * restarts, workers, LMDB's map…) rarely change, and prom-client's work is per series.
 */

/** The longest a render slice (or a slice of answers written, outbox.ts) runs before it yields. */
export const SLICE_MS = 0.25;

export class Renderings {
  private snapshot: Status | null = null;
  private json: Buffer | null = null;
  private text: Promise<Buffer> | null = null;
  /** The snapshot the metrics' collect callbacks read while a render runs. */
  private rendering: Status | null = null;
  /** Each family's last text and the rows it was rendered from. */
  private readonly texts = new Map<string, { rows: ReturnType<Rows>; text: string }>();
  private readonly rows: ReadonlyMap<string, Rows>;

  /** `meter` times the render's slices (the snapshot and the JSON are taken inside a request handler, timed there). */
  constructor(
    private readonly telemetry: Telemetry,
    private readonly registry: Registry,
    private readonly meter: BlockMeter,
  ) {
    this.rows = familyRows(registry);
  }

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
      const rows = this.rows.get(metric.name)?.(s);
      const last = this.texts.get(metric.name);
      if (rows && last && sameRows(rows, last.rows)) {
        parts.push(last.text);
        continue;
      }
      // Collect callbacks run synchronously inside this call; they read `s` through `source`.
      this.rendering = s;
      const pending = this.registry.getSingleMetricAsString(metric.name);
      this.rendering = null;
      const text = await pending;
      if (rows) this.texts.set(metric.name, { rows, text });
      parts.push(text);
    }
    // As Registry#metrics() joins them (Prometheus' text format, version 0.0.4).
    const body = Buffer.from(`${parts.join('\n\n')}\n`);
    this.meter.end(mark);
    return body;
  }
}

function sameRows(a: ReturnType<Rows>, b: ReturnType<Rows>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const [la, va] = a[i]!;
    const [lb, vb] = b[i]!;
    if (va !== vb) return false;
    for (const k in la) if (la[k] !== lb[k]) return false;
  }
  return true;
}
