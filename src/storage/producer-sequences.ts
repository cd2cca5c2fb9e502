import type { Database } from 'lmdb';

/**
 * Idempotent produce through a writer process. A producer that hands its batches to another
 * process (`eddy produce` joining the one that holds the data directory) numbers them; the writer
 * stores, per partition, the highest number it stored for that producer, in the same LMDB
 * transaction as the batch. When the writer dies, the producer cannot know whether its
 * unanswered batches were stored: the next writer tells it the numbers stored, and it sends
 * again only what came after. Per partition, because a partition's batches commit in the order
 * they were issued (each is conditional on the one before), while different partitions' batches
 * may commit in another order: one number for all would claim batches not stored yet.
 *
 * Kept in the `meta` database under `producer-seq/<id>/<partition>` (ids are random per producer
 * process); entries not written for a day are removed when a writer starts serving.
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

  /** The highest sequence number of `id` stored in each partition it wrote: [partition, seq] pairs. */
  stored(id: string): [number, number][] {
    const out: [number, number][] = [];
    const prefix = `${PREFIX}${id}/`;
    for (const { key, value } of this.meta.getRange({ start: prefix, end: `${prefix}\uffff` })) {
      const partition = Number(key.slice(prefix.length));
      if (Number.isInteger(partition)) out.push([partition, (value as ProducerSequence).seq]);
    }
    return out;
  }

  /**
   * Records that batch `seq` of `id` is stored in `partition`. Call it inside that batch's
   * `alsoWrite`, so it commits with the batch or not at all.
   */
  note(id: string, partition: number, seq: number): void {
    void this.meta.put(`${PREFIX}${id}/${partition}`, { seq, at: Date.now() } satisfies ProducerSequence);
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
