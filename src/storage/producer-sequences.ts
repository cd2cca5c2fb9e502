import type { Database } from 'lmdb';

/**
 * Idempotent produce through a writer process. A producer that hands its batches to another
 * process (`eddy produce` joining the one that holds the data directory) numbers them; the writer
 * stores the highest number it stored for that producer in the same LMDB transaction as the
 * batch. When the writer dies, the producer cannot know whether its unanswered batches were
 * stored: the next writer tells it the number stored, and it sends again only what came after.
 *
 * Kept in the `meta` database under `producer-seq/<id>` (ids are random per producer process);
 * entries of producers not heard of for a day are removed when a writer starts serving.
 */
export interface ProducerSequence {
  seq: number;
  at: number;
}

const PREFIX = 'producer-seq/';
/** A producer's number outlives it by this long (a failover takes seconds). */
export const PRODUCER_SEQUENCE_TTL_MS = 24 * 60 * 60 * 1000;

export class ProducerSequences {
  constructor(private readonly meta: Database<unknown, string>) {}

  /** The highest sequence number stored for `id`, or -1 when none was. */
  stored(id: string): number {
    const e = this.meta.get(PREFIX + id) as ProducerSequence | undefined;
    return e?.seq ?? -1;
  }

  /**
   * Records that batch `seq` of `id` is stored. Call it inside an append's `alsoWrite`, so it
   * commits with the batch or not at all; numbers issued in order commit in order.
   */
  note(id: string, seq: number): void {
    void this.meta.put(PREFIX + id, { seq, at: Date.now() } satisfies ProducerSequence);
  }

  /** Removes the entries of producers not heard of since `now - ttlMs`. */
  async prune(now = Date.now(), ttlMs = PRODUCER_SEQUENCE_TTL_MS): Promise<number> {
    const stale: string[] = [];
    for (const { key, value } of this.meta.getRange({ start: PREFIX, end: `${PREFIX}\uffff` })) {
      if (((value as ProducerSequence | undefined)?.at ?? 0) < now - ttlMs) stale.push(key);
    }
    if (stale.length)
      await this.meta.transaction(() => {
        for (const k of stale) this.meta.remove(k);
      });
    return stale.length;
  }
}
