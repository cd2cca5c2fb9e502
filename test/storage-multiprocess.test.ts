import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { DataDirLockedError, openStorage } from '../src/storage/index.js';
import { crashValue, TOPIC } from './fixtures/storage-crash-child.js';
import { tempDir } from './helpers/storage.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'storage-crash-child.js');

/** Starts the writer child and resolves once it reported ready. */
function startWriter(dir: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CHILD, dir, '7'], { stdio: ['ignore', 'pipe', 'inherit'] });
    proc.stdout!.setEncoding('utf8');
    let buf = '';
    const onData = (d: string) => {
      buf += d;
      if (buf.includes('ready')) {
        proc.stdout!.off('data', onData);
        proc.stdout!.resume();
        resolve(proc);
      }
    };
    proc.stdout!.on('data', onData);
    proc.on('error', reject);
    proc.on('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
  });
}

test('a second process: a writer is refused naming the holder; a reader follows the live writer, woken without polling', async (t) => {
  const dir = tempDir(t, 'eddy-mp-');
  const writer = await startWriter(dir);
  t.teardown(() => void writer.kill('SIGKILL'));

  const err = await t.throwsAsync(openStorage(dir), { instanceOf: DataDirLockedError });
  t.is(err?.pid, writer.pid!);
  t.regex(
    err!.message,
    new RegExp(
      `data directory .* is in use: process ${writer.pid} on .* holds it for writing\\. A second process may open it with \\{ readOnly: true \\}`,
    ),
  );

  const reader = await openStorage(dir, { readOnly: true });
  t.teardown(() => reader.close());
  const startNext = reader.partition(TOPIC, 0).nextOffset;
  const ac = new AbortController();
  const timeout = setTimeout(() => ac.abort(), 10_000);
  let expect = 0;
  let bad = '';
  for await (const r of reader.consume(TOPIC, 0, { follow: true, signal: ac.signal })) {
    if (r.offset !== expect) bad ||= `offset ${r.offset}, expected ${expect}`;
    const v = Buffer.from(r.value).toString();
    const m = /^(\d+):(\d+):/.exec(v);
    if (!m || crashValue(Number(m[1]), Number(m[2])) !== v) bad ||= `bad value at ${r.offset}`;
    expect++;
    if (expect >= startNext + 500) break;
  }
  clearTimeout(timeout);
  t.false(ac.signal.aborted, 'the reader kept receiving the writer’s records');
  t.is(bad, '');
  t.true(expect >= startNext + 500);
  writer.kill('SIGKILL');
  await new Promise((r) => writer.once('exit', r));
  // The writer is gone: its lock is stale and a new writer takes over (after this process's
  // reader is closed: lmdb-js keeps one environment per directory and process).
  await reader.close();
  const next = await openStorage(dir, { retentionCheckMs: 0 });
  t.true(next.partition(TOPIC, 0).nextOffset >= expect);
  await next.close();
});

test('opening a directory that has no data read-only is a clear error', async (t) => {
  const dir = tempDir(t);
  await t.throwsAsync(openStorage(join(dir, 'nothing'), { readOnly: true }), {
    code: 'EDDY_NO_DATA_DIR',
    message: /no Eddy data directory at .*nothing/,
  });
});

test('in one process, a writer after an open reader gets a clear error (one LMDB environment per process)', async (t) => {
  const dir = tempDir(t);
  const w = await openStorage(dir, { retentionCheckMs: 0 });
  await w.createTopic('t');
  await w.close();
  const r = await openStorage(dir, { readOnly: true });
  await t.throwsAsync(openStorage(dir), { code: 'EDDY_DATA_DIR_READ_ONLY', message: /already has it open read-only/ });
  await r.close();
  const again = await openStorage(dir, { retentionCheckMs: 0 });
  t.is(again.partition('t', 0).nextOffset, 0);
  await again.close();
});
