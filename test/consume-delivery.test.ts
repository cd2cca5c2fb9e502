import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import test from 'ava';
import type { CliIO } from '../src/cli/format.js';
import { main } from '../src/cli/main.js';
import { type Eddy, open, SmartModuleRuntimeError } from '../src/index.js';
import { openStorage } from '../src/storage/index.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * A named consumer commits exactly what it delivered, whatever ends the consume: the API's
 * iterators (merged partitions, transforms, a runtime error, a break) and the CLI's
 * --max-records, --end-offset and several -p. (Ctrl-C, SIGKILL and a closed pipe, with real
 * processes, are in consume-kill.test.ts.)
 */

const fresh = async (): Promise<Eddy> =>
  open(mkdtempSync(join(tmpdir(), 'eddy-delivery-')), { workers: 2, retentionCheckMs: 0 });
const str = (b: Uint8Array) => Buffer.from(b).toString();
const values = (list: string[]) => list.map((v) => ({ value: Buffer.from(v) }));
const committed = (eddy: Eddy, name: string) =>
  Object.fromEntries(
    eddy.storage
      .listCommittedOffsets()
      .filter((o) => o.consumer === name)
      .map((o) => [`${o.topic}/${o.partition}`, o.offset]),
  );

test('API: a runtime error commits up to the failing record, not past it (batches() and the iterator)', async (t) => {
  const eddy = await fresh();
  await eddy.createTopic('t', { partitions: 1 });
  // Offsets 0..7 in one stored batch; offset 3 fails.
  await eddy.produce('t', values(['a0', 'a1', 'a2', 'bad', 'a4', 'a5', 'a6', 'a7']));
  const transforms = [{ uses: wasmPath('fail-on') }];
  const got: string[] = [];
  let error: unknown = null;
  for await (const b of eddy.consume('t', { consumer: 'c', transforms }).batches()) {
    if (b.error) error = b.error;
    got.push(`${b.count}`);
  }
  t.true(error instanceof SmartModuleRuntimeError);
  t.deepEqual(committed(eddy, 'c'), { 't/0': 3 }, 'offsets 0..2 delivered, 3 failed: 4..7 are still to come');
  await t.throwsAsync(
    async () => {
      for await (const _ of eddy.consume('t', { consumer: 'i', transforms }));
    },
    { instanceOf: SmartModuleRuntimeError },
  );
  t.deepEqual(committed(eddy, 'i'), { 't/0': 3 });
  await eddy.close();
});

test('API: breaking out of a merged or transformed iterator commits the records delivered and nothing read ahead', async (t) => {
  const eddy = await fresh();
  await eddy.createTopic('m', { partitions: 3 });
  await eddy.produce(
    'm',
    Array.from({ length: 30 }, (_, i) => ({ value: Buffer.from(`a${i}`), partition: i % 3 })),
  );
  // The plain iterator over every partition, in several sittings of 4 records: each record exactly once.
  const seen: string[] = [];
  for (let round = 0; round < 20 && seen.length < 30; round++) {
    let n = 0;
    for await (const r of eddy.consume('m', { consumer: 'plain' })) {
      seen.push(str(r.value));
      if (++n === 4) break;
    }
  }
  t.deepEqual([...seen].sort(), Array.from({ length: 30 }, (_, i) => `a${i}`).sort());
  // Through a filter (one output per input): a break after the 2nd record of a batch commits it and no more.
  const filtered: string[] = [];
  for (let round = 0; round < 40 && filtered.length < 30; round++) {
    let n = 0;
    for await (const r of eddy.consume('m', { consumer: 'tf', transforms: [{ uses: wasmPath('filter') }] })) {
      filtered.push(str(r.value));
      if (++n === 2) break;
    }
  }
  t.deepEqual([...filtered].sort(), Array.from({ length: 30 }, (_, i) => `a${i}`).sort());
  t.deepEqual(committed(eddy, 'tf'), { 'm/0': 10, 'm/1': 10, 'm/2': 10 });
  await eddy.close();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function eddy(dir: string, args: string[], stdin = ''): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdout: {
      write: (c) => {
        stdout += typeof c === 'string' ? c : Buffer.from(c).toString();
        return true;
      },
    },
    stderr: {
      write: (c) => {
        stderr += typeof c === 'string' ? c : Buffer.from(c).toString();
        return true;
      },
    },
    stdin: Readable.from([Buffer.from(stdin)]),
    cwd: process.cwd(),
    env: { EDDY_DATA_DIR: dir, EDDY_WORKERS: '2' },
  };
  const code = await main(['node', 'eddy', ...args], io);
  return { code, stdout, stderr };
}

const lines = (s: string) => s.split('\n').filter((l) => l !== '');

test('CLI: --consumer with --max-records, --end-offset and several -p commits what was printed', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'eddy-delivery-cli-')), 'data');
  await eddy(dir, ['topic', 'create', 'n']);
  await eddy(dir, ['produce', 'n'], '1\n2\n3\n4\n5\n');
  await eddy(dir, ['produce', 'n'], '6\n7\n');
  // The case: 1 2, then 3..7 (3-5 were lost: the whole first batch was committed).
  t.is((await eddy(dir, ['consume', 'n', '-B', '-d', '--consumer', 'c', '--max-records', '2'])).stdout, '1\n2\n');
  t.is((await eddy(dir, ['consume', 'n', '-d', '--consumer', 'c'])).stdout, '3\n4\n5\n6\n7\n');
  t.is((await eddy(dir, ['consume', 'n', '-B', '-d', '--consumer', 'e', '--end-offset', '2'])).stdout, '1\n2\n3\n');
  t.is((await eddy(dir, ['consume', 'n', '-d', '--consumer', 'e', '--max-records', '3'])).stdout, '4\n5\n6\n');

  await eddy(dir, ['topic', 'create', 'p3', '-p', '3']);
  await eddy(dir, ['produce', 'p3'], Array.from({ length: 12 }, (_, i) => `r${i}\n`).join(''));
  // Several -p: every partition given, not only the last one.
  const two = lines(
    (await eddy(dir, ['consume', 'p3', '-B', '-d', '-p', '0', '-p', '2', '--format', '{{partition}}'])).stdout,
  );
  t.deepEqual([...new Set(two)].sort(), ['0', '2']);
  t.is(two.length, 8);
  // Merged partitions, a record at a time: every record once (the read-ahead of the other partitions is not committed).
  const seen: string[] = [];
  for (let i = 0; i < 30 && seen.length < 12; i++)
    seen.push(
      ...lines((await eddy(dir, ['consume', 'p3', '-B', '-d', '--consumer', 'one', '--max-records', '1'])).stdout),
    );
  t.deepEqual(seen.sort(), Array.from({ length: 12 }, (_, i) => `r${i}`).sort());
  const both = await eddy(dir, ['consume', 'p3', '-B', '-d', '-A', '-p', '1']);
  t.is(both.code, 1);
  t.regex(both.stderr, /-A\/--all-partitions and -p\/--partition cannot be used together/);
});

test('CLI output: on a terminal control bytes are escaped, into a pipe they stay raw; a slow stdout leaks no listeners', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'eddy-delivery-tty-')), 'data');
  const store = await openStorage(dir, { retentionCheckMs: 0 });
  await store.createTopic('ctl', { partitions: 1 });
  await store.append('ctl', 0, [
    { key: Buffer.from('k\x1b[2J'), value: Buffer.from('a\x00b\x1b[31mred\rx\x7f\u0085 tab\tok') },
  ]);
  // Many small batches: many writes into the slow stdout below.
  for (let i = 0; i < 40; i++) await store.append('ctl', 0, [{ value: Buffer.from(`v${i}`) }]);
  await store.close();
  const run = async (stdout: CliIO['stdout'], args: string[]) =>
    main(['node', 'eddy', 'consume', 'ctl', '-B', '-d', ...args], {
      stdout,
      stderr: { write: () => true },
      stdin: Readable.from([]),
      cwd: process.cwd(),
      env: { EDDY_DATA_DIR: dir, EDDY_WORKERS: '1' },
    });
  let screen = '';
  const tty = {
    isTTY: true,
    write: (c: string | Uint8Array) => {
      screen += typeof c === 'string' ? c : Buffer.from(c).toString();
      return true;
    },
  };
  // The value holds a NUL, so fluvio's default output would hex-dump it: print it as text.
  const asText = ['-O', 'text', '--suppress-unknown'];
  t.is(await run(tty, ['-k', '--max-records', '1', ...asText]), 0);
  t.is(screen, '[k\\x1b[2J] a\\x00b\\x1b[31mred\\x0dx\\x7f\\x85 tab\tok\n');
  screen = '';
  await run(tty, ['--max-records', '1', '--format', '{{value}}']);
  t.is(screen, 'a\\x00b\\x1b[31mred\\x0dx\\x7f\\x85 tab\tok\n');
  let piped = Buffer.alloc(0);
  await run(
    {
      write: (c) => {
        piped = Buffer.concat([piped, Buffer.from(c)]);
        return true;
      },
    },
    ['--max-records', '1', ...asText],
  );
  t.deepEqual(piped, Buffer.from('a\x00b\x1b[31mred\rx\x7f\u0085 tab\tok\n'), 'a pipe gets the bytes as stored');

  // A stdout that takes one chunk at a time and drains late: every write waits for 'drain'.
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  const slow = new Writable({ highWaterMark: 1, write: (_c, _e, cb) => setImmediate(cb) });
  try {
    t.is(await run(slow, ['--consumer', 'slow']), 0);
  } finally {
    process.off('warning', onWarning);
  }
  t.is(slow.listenerCount('close'), 0, 'no listener left behind per write');
  t.is(slow.listenerCount('drain'), 0);
  t.false(warnings.includes('MaxListenersExceededWarning'));
});
