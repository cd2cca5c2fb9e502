import type { BlockMeter } from './blocking.js';
import { SLICE_MS } from './rendering.js';

/**
 * The answers to write once a render is done. A crowd of scrapers waits on the same render, and
 * writing 100 answers costs a few ms: written from one promise, they would all run in one
 * microtask drain, holding the loop for all of them. The outbox writes them in slices of at most
 * SLICE_MS, letting the event loop (and the commits waiting on it) run between slices; each slice
 * is timed as one hold.
 */
export class Outbox {
  private readonly jobs: (() => void)[] = [];
  private next = 0;
  private scheduled = false;

  constructor(private readonly meter: BlockMeter) {}

  push(job: () => void): void {
    this.jobs.push(job);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }

  private readonly drain = (): void => {
    const mark = this.meter.start();
    const t0 = performance.now();
    do {
      try {
        this.jobs[this.next++]!();
      } catch {
        // A client gone meanwhile: nothing to write to; the others still get theirs.
      }
    } while (this.next < this.jobs.length && performance.now() - t0 < SLICE_MS);
    this.meter.end(mark);
    if (this.next < this.jobs.length) return void setImmediate(this.drain);
    this.jobs.length = 0;
    this.next = 0;
    this.scheduled = false;
  };
}
