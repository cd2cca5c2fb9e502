import type { Database, Key, RootDatabase } from 'lmdb';

/**
 * What storage keeps for each derived stream, in the `derived-streams` database: its definition, and per
 * source partition a checkpoint (where it resumes) and the failure that stopped it. The shapes are
 * the coordinator's; storage only owns the keys, so nothing above it lays out LMDB keys.
 */
const DEFINITION = 'derive';
const CHECKPOINT = 'derive-state';
const FAILURE = 'derive-failure';

const definitionKey = (name: string): Key => [DEFINITION, name];
const checkpointKey = (name: string, partition: number): Key => [CHECKPOINT, name, partition];
const failureKey = (name: string, partition: number): Key => [FAILURE, name, partition];

export class DerivedStateStore<Definition = unknown, Checkpoint = unknown, Failure = unknown> {
  /** @internal built by Storage (its parameters are lmdb-js handles). */
  constructor(
    private readonly env: RootDatabase,
    private readonly db: Database<unknown, Key>,
  ) {}

  definition(name: string): Definition | undefined {
    return this.db.get(definitionKey(name)) as Definition | undefined;
  }

  /** Every saved definition, in name order. */
  definitions(): Definition[] {
    const out: Definition[] = [];
    for (const { key, value } of this.db.getRange({ start: [DEFINITION], end: [DEFINITION, '\uffff'] })) {
      if (Array.isArray(key) && key[0] === DEFINITION) out.push(value as Definition);
    }
    return out;
  }

  async saveDefinition(name: string, definition: Definition): Promise<void> {
    await this.db.put(definitionKey(name), definition);
  }

  checkpoint(name: string, partition: number): Checkpoint | undefined {
    return this.db.get(checkpointKey(name, partition)) as Checkpoint | undefined;
  }

  /**
   * Queues the checkpoint's write. Called from an append's `alsoWrite`, it commits in the same
   * transaction as the batch it describes.
   */
  saveCheckpoint(name: string, partition: number, checkpoint: Checkpoint): Promise<boolean> {
    return this.db.put(checkpointKey(name, partition), checkpoint);
  }

  failure(name: string, partition: number): Failure | undefined {
    return this.db.get(failureKey(name, partition)) as Failure | undefined;
  }

  async saveFailure(name: string, partition: number, failure: Failure): Promise<void> {
    await this.db.put(failureKey(name, partition), failure);
  }

  async clearFailure(name: string, partition: number): Promise<void> {
    if (this.db.get(failureKey(name, partition))) await this.db.remove(failureKey(name, partition));
  }

  /** Removes the definition and every partition's checkpoint and failure, in one transaction. */
  async delete(name: string): Promise<void> {
    await this.env.batch(() => {
      void this.db.remove(definitionKey(name));
      for (const kind of [CHECKPOINT, FAILURE]) {
        for (const { key } of this.db.getRange({ start: [kind, name], end: [kind, name, Number.MAX_SAFE_INTEGER] }))
          void this.db.remove(key);
      }
    });
  }
}
