import type { Registry } from 'prom-client';
import { familyRows, type Rows } from './metrics.js';
import type { Status } from './status.js';

/**
 * The bodies of `/metrics` and `/api/status`, rendered in the HTTP thread once per telemetry
 * snapshot and shared by every request that arrives meanwhile, including those that arrive while
 * it is being rendered: 100 scrapers at once cost one render and 100 socket writes.
 *
 * The thread has nothing else to do, so a render runs in one go. A metric family whose rows
 * (labels and values) are the same as at its last render keeps its last text: most of them
 * (errors, kills, restarts, workers, LMDB's map…) rarely change, prom-client's work is per
 * series, and the thread's CPU comes from the same cores as the streams'.
 */
export class Renderings {
  private snapshot: Status | null = null;
  private json: Buffer | null = null;
  private text: Promise<Buffer> | null = null;
  /** The snapshot the metrics' collect callbacks read while a render runs. */
  private rendering: Status | null = null;
  /** Each family's last text and the rows it was rendered from. */
  private readonly texts = new Map<string, { rows: ReturnType<Rows>; text: string }>();
  private readonly rows: ReadonlyMap<string, Rows>;

  constructor(private readonly registry: Registry) {
    this.rows = familyRows(registry);
  }

  /** What the registry's collect callbacks read: the snapshot being rendered. */
  readonly source = (): Status => {
    if (!this.rendering) throw new Error('metrics are collected only while a snapshot is rendered');
    return this.rendering;
  };

  /** `/api/status` of snapshot `s` as JSON bytes. */
  status(s: Status): Buffer {
    this.use(s);
    this.json ??= Buffer.from(JSON.stringify(s));
    return this.json;
  }

  /** `/metrics` of snapshot `s` in Prometheus' text format. */
  metrics(s: Status): Promise<Buffer> {
    this.use(s);
    this.text ??= this.render(s);
    return this.text;
  }

  private use(s: Status): void {
    if (s === this.snapshot) return;
    this.snapshot = s;
    this.json = null;
    this.text = null;
  }

  private async render(s: Status): Promise<Buffer> {
    const parts: string[] = [];
    for (const metric of this.registry.getMetricsAsArray()) {
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
    return Buffer.from(`${parts.join('\n\n')}\n`);
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
