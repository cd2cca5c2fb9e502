import { formatBytes, formatCount } from './units.js';

/**
 * Progress of a long write (`eddy produce --file big.txt`) on stderr: bytes read, records stored
 * (acknowledged, so a line printed before a kill never overstates what was kept). On a terminal: one bar
 * redrawn in place, shown only once the job has run for a moment (small files finish without
 * one). Elsewhere (`--progress` into a log): a plain line every few seconds. Always ends with a
 * summary line when it was shown.
 */
export class Progress {
  private bytes = 0;
  private records = 0;
  private readonly started = Date.now();
  private lastDraw = 0;
  private drawnRecords = -1;
  private shown = false;

  constructor(
    private readonly out: { write(s: string): unknown },
    private readonly options: {
      total: number | null;
      tty: boolean;
      force: boolean;
      delayMs?: number;
      everyMs?: number;
    },
  ) {}

  add(bytes: number, records: number): void {
    this.bytes += bytes;
    this.records += records;
    const now = Date.now();
    const delay = this.options.force ? 0 : (this.options.delayMs ?? 400);
    if (now - this.started < delay) return;
    const every = this.options.tty ? 100 : (this.options.everyMs ?? 2000);
    if (this.shown && now - this.lastDraw < every) return;
    this.draw(now);
  }

  /** Final state; prints the summary if anything was shown (or if forced). */
  finish(): void {
    if (!this.shown && !this.options.force) return;
    if (this.options.tty || this.drawnRecords !== this.records) this.draw(Date.now());
    if (this.options.tty) this.out.write('\n');
  }

  /** Clears the bar before something else is printed on stderr. */
  clear(): void {
    if (this.shown && this.options.tty) this.out.write('\r\x1b[K');
  }

  line(now = Date.now()): string {
    const secs = Math.max((now - this.started) / 1000, 0.001);
    const rate = `${formatCount(this.records / secs)} records/s`;
    const total = this.options.total;
    if (total !== null && total > 0) {
      const frac = Math.min(1, this.bytes / total);
      const pct = `${Math.floor(frac * 100)}%`.padStart(4);
      const amount = `${formatBytes(this.bytes)} / ${formatBytes(total)}`;
      if (this.options.tty) {
        const width = 24;
        const fill = Math.round(frac * width);
        return `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${pct}  ${amount}  ${formatCount(this.records)} records  ${rate}`;
      }
      return `stored ${formatCount(this.records)} records (${pct.trim()}, ${amount}, ${rate})`;
    }
    return `stored ${formatCount(this.records)} records (${formatBytes(this.bytes)}, ${rate})`;
  }

  private draw(now: number): void {
    this.shown = true;
    this.lastDraw = now;
    this.drawnRecords = this.records;
    this.out.write(this.options.tty ? `\r\x1b[K${this.line(now)}` : `${this.line(now)}\n`);
  }
}
