import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { openStorage } from '../../src/open-storage.js';
import type { Storage, StorageOptions } from '../../src/storage/index.js';

/** A fresh temporary data directory, removed when the test ends. */
export function tempDir(t: ExecutionContext, prefix = 'eddy-storage-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Opens a storage in a fresh temporary directory; closed (if still open) when the test ends. */
export async function tempStorage(
  t: ExecutionContext,
  options: StorageOptions = {},
): Promise<{ store: Storage; dir: string }> {
  const dir = tempDir(t);
  const store = await openStorage(dir, { retentionCheckMs: 0, ...options });
  t.teardown(() => store.close());
  return { store, dir };
}

export const text = (b: Uint8Array | null): string | null =>
  b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

/** Collects an async iterable. */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
