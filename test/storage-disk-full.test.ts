import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { DiskFullError, openStorage } from '../src/storage/index.js';

/**
 * A full disk, for real: a 20 MiB tmpfs (needs root and mount(8); skipped otherwise, with the
 * reason). Writes end in EDDY_STORAGE_FULL with every acknowledged record intact, and deleting a
 * topic and retention still work on the full disk, through the CLI too.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'eddy.js');

function mountTmpfs(): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-full-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', dir]);
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  return dir;
}

const probe = mountTmpfs();
if (probe) {
  spawnSync('umount', [probe]);
  rmSync(probe, { recursive: true, force: true });
}
const fullDiskTest = probe ? test : test.skip;
if (!probe) console.log('disk-full tests skipped: mounting a 20 MiB tmpfs needs root and mount(8)');

function tmpfs(t: { teardown(f: () => void): void }): string {
  const dir = mountTmpfs()!;
  t.teardown(() => {
    spawnSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

function eddy(dataDir: string, args: string[], stdin = '') {
  const r = spawnSync(process.execPath, [bin, '--data-dir', dataDir, ...args], {
    input: stdin,
    encoding: 'utf8',
    env: { ...process.env, EDDY_WORKERS: '1' },
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const value = (i: number) => `${String(i).padStart(8, '0')}:`.padEnd(100, 'x');

/** Sends 1000-record calls until the disk is full; returns how many records were acknowledged. */
async function fill(dir: string, topic: string, timestamp?: number): Promise<{ acked: number; error: unknown }> {
  const store = await openStorage(dir, { retentionCheckMs: 0 });
  const producer = store.producer(topic, { lingerMs: 0 });
  let acked = 0;
  let error: unknown = null;
  try {
    for (;;) {
      await producer.sendAll(
        Array.from({ length: 1000 }, (_, i) => ({ value: value(acked + i), ...(timestamp ? { timestamp } : {}) })),
      );
      acked += 1000;
    }
  } catch (err) {
    error = err;
  }
  await store.close();
  return { acked, error };
}

fullDiskTest(
  'a full disk: EDDY_STORAGE_FULL, acknowledged records intact, topic delete and retention still work',
  async (t) => {
    t.timeout(120_000);
    const dir = join(tmpfs(t), 'data');
    let store = await openStorage(dir, { retentionCheckMs: 0 });
    await store.createTopic('big');
    await store.createTopic('old', { retentionMs: 60_000 });
    await store.close();

    const first = await fill(dir, 'big');
    t.true(first.error instanceof DiskFullError, String(first.error));
    t.is((first.error as DiskFullError).code, 'EDDY_STORAGE_FULL');
    t.true(first.acked > 100_000, `${first.acked} acknowledged`);
    store = await openStorage(dir, { readOnly: true });
    let i = 0;
    for await (const r of store.consume('big', 0)) {
      if (i < first.acked && Buffer.from(r.value).toString() !== value(i)) t.fail(`offset ${r.offset} differs`);
      i++;
    }
    t.true(i >= first.acked, `${i} stored, ${first.acked} acknowledged`);
    await store.close();

    // The CLI on the full disk: a clean error, not a crash.
    const produced = eddy(dir, ['produce', 'big'], 'one more\n'.repeat(20_000));
    t.is(produced.code, 1);
    t.regex(produced.stderr, /storage full: the disk holding .* has \d+ bytes free/);
    t.notRegex(produced.stderr, /unexpected failure|Commit failed|Input\/output error/);

    // Deleting a topic frees space on the full disk; no lock files are left behind.
    const deleted = eddy(dir, ['topic', 'delete', 'big']);
    t.is(deleted.code, 0, deleted.stderr);
    t.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith('eddy.lock')),
      [],
    );

    // Retention on a full disk: fill a topic with old records, then let retention remove them.
    const second = await fill(dir, 'old', Date.now() - 3_600_000);
    t.true(second.error instanceof DiskFullError, String(second.error));
    store = await openStorage(dir, { retentionCheckMs: 0 });
    t.true((await store.enforceRetention()) > 0);
    t.true(store.partition('old', 0).records < 2000, 'only the newest batch is kept');
    await store.append('old', 0, [{ value: 'after retention' }]);
    await store.close();
    t.is(eddy(dir, ['check']).code, 0);
  },
);

fullDiskTest(
  'a disk filled by another program: every command ends in a stated error and leaves no lock files',
  async (t) => {
    t.timeout(60_000);
    const mount = tmpfs(t);
    const dir = join(mount, 'data');
    t.is(eddy(dir, ['topic', 'create', 't']).code, 0);
    t.is(eddy(dir, ['produce', 't'], 'a\nb\n').code, 0);
    // Fill what is left, as another program would.
    const chunk = Buffer.alloc(1 << 16, 1);
    let n = 0;
    try {
      for (;;) writeFileSync(join(mount, `filler-${n++}`), chunk);
    } catch (err) {
      t.is((err as NodeJS.ErrnoException).code, 'ENOSPC');
    }
    for (const args of [
      ['topic', 'delete', 't'],
      ['produce', 't'],
      ['topic', 'create', 'u'],
    ]) {
      const r = eddy(dir, args, 'c\n');
      t.is(r.code, 1, args.join(' '));
      t.regex(r.stderr, /storage full: the disk holding .* has \d+ bytes free/, args.join(' '));
    }
    t.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith('eddy.lock')),
      [],
    );
    t.is(eddy(dir, ['consume', 't', '-B', '-d']).stdout, 'a\nb\n', 'reading still works');
    for (let i = 0; i < n; i++) rmSync(join(mount, `filler-${i}`), { force: true });
    t.is(eddy(dir, ['topic', 'delete', 't']).code, 0);
  },
);
