import { STORAGE_DEFAULTS } from './defaults.js';
import type { Storage } from './storage.js';

/**
 * When a named consumer commits while it delivers. A commit starts once `intervalMs` has passed
 * or `records` records were delivered since the last one, whichever comes first; and delivery
 * waits for a commit rather than run more than `records` records ahead of the last durable one.
 * So a consumer killed with SIGKILL re-delivers at most `records` records (or one batch, when a
 * single batch is larger), and at most what it delivered in the last `intervalMs`.
 */
export interface CommitPolicy {
  /** Default 1000 ms. */
  intervalMs?: number;
  /** Default 1000 records. */
  records?: number;
}

export const DEFAULT_COMMIT_INTERVAL_MS = STORAGE_DEFAULTS.commitIntervalMs;
export const DEFAULT_COMMIT_RECORDS = STORAGE_DEFAULTS.commitRecords;

/**
 * Tracks what a named consumer has delivered, per partition, and commits exactly that: never an
 * offset past a record that was not delivered. The caller marks records delivered where they
 * leave its hands (yielded to the application, written to stdout); `settle` (optional) waits
 * until what was delivered is really out (stdout accepted the bytes) before each commit.
 */
export class DeliveryCommitter {
  /** Next undelivered offset, per partition. */
  private readonly delivered = new Map<number, number>();
  private readonly committed = new Map<number, number>();
  private readonly intervalMs: number;
  private readonly maxRecords: number;
  /**
   * Records handed on in all (counted by reserve: stdout confirms writes late, so the bound counts
   * what was written, not what was confirmed); records covered by the last commit started / finished.
   */
  private count = 0;
  private started = 0;
  private durable = 0;
  private inflight: Promise<void> | null = null;
  private failure: unknown = null;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly store: Storage,
    private readonly name: string,
    private readonly topic: string,
    policy: CommitPolicy = {},
    private readonly settle: () => Promise<void> = () => Promise.resolve(),
  ) {
    this.intervalMs = policy.intervalMs ?? DEFAULT_COMMIT_INTERVAL_MS;
    this.maxRecords = Math.max(1, policy.records ?? DEFAULT_COMMIT_RECORDS);
    this.timer = setInterval(() => {
      if (this.inflight === null && this.pending()) void this.start();
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Where `partition` starts (and what is committed for it, if anything): a start position the caller chose is committed even when nothing is delivered. */
  begin(partition: number, position: number, committed: number | undefined): void {
    this.delivered.set(partition, position);
    if (committed !== undefined) this.committed.set(partition, committed);
  }

  /**
   * Call before delivering `n` records: resolves at once (undefined) unless delivering them would
   * put more than the record bound between the last durable commit and the output; then the
   * promise resolves once what was delivered before is committed.
   */
  reserve(n: number): Promise<void> | undefined {
    if (this.failure) throw this.failure;
    if (this.count > this.durable && this.count - this.durable + n > this.maxRecords) {
      return this.commit().then(() => {
        this.count += n;
      });
    }
    this.count += n;
    // Start the next commit early (half the bound) so that delivery rarely waits for one.
    if (this.inflight === null && this.count - this.started >= this.maxRecords / 2) void this.start();
    return undefined;
  }

  /** The records of `partition` before `next` were delivered (after reserve() for them). */
  deliver(partition: number, next: number): void {
    if (this.failure) throw this.failure;
    if (next > (this.delivered.get(partition) ?? -1)) this.delivered.set(partition, next);
  }

  /** Commits everything delivered so far (after any commit already running). */
  async commit(): Promise<void> {
    while (this.inflight) await this.inflight.catch(() => undefined);
    if (this.failure) throw this.failure;
    if (!this.pending()) return;
    await this.start();
    if (this.failure) throw this.failure;
  }

  /** The final commit; stops the timer. A commit that fails throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    if (this.store.isClosed) return;
    const failure = this.failure;
    this.failure = null; // what was delivered before a failed commit is still worth committing
    try {
      await this.commit();
    } finally {
      this.failure ??= failure;
    }
  }

  /** Records handed on since the last commit, or a position not committed yet. */
  private pending(): boolean {
    if (this.count > this.durable) return true;
    for (const [p, next] of this.delivered) if (this.committed.get(p) !== next) return true;
    return false;
  }

  private start(): Promise<void> {
    const count = this.count;
    this.started = count;
    const run = async () => {
      // What was handed on before now is out (or failed) once settled.
      await this.settle();
      const upTo = new Map(this.delivered);
      for (const [p, next] of upTo) {
        if (this.committed.get(p) === next) continue;
        await this.store.commitOffset(this.name, this.topic, p, next);
        this.committed.set(p, next);
      }
      this.durable = count;
    };
    const p = run()
      .catch((err) => {
        this.failure ??= err;
      })
      .finally(() => {
        this.inflight = null;
      });
    this.inflight = p;
    return p;
  }
}
