import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { type Eddy, open } from '../src/index.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * The guarantees of derived streams, through the real command line (`node bin/eddy.js`) in child
 * processes: a submission commits all or nothing and stops at the record that cannot be stored;
 * policy skip counts, reports and keeps every skipped record in a dead-letter topic; names and
 * cycles are refused at `derive create`. Runs are stopped on a condition (the counts reached),
 * never after a fixed time.
 */

const bin = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'bin', 'eddy.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
interface Listed {
  name: string;
  partitions: {
    offset: number;
    written: number;
    skipped: number;
    lag: number;
    failure: { code: string; offset: number } | null;
  }[];
}

function cli(t: ExecutionContext) {
  const dir = join(mkdtempSync(join(tmpdir(), 'eddy-derive-g-')), 'data');
  // Progress is polled through a read-only handle in this process (cheaper than a process per poll).
  let reader: Eddy | null = null;
  t.teardown(() => reader?.close());
  const progress = async (name: string): Promise<Listed> => {
    reader ??= await open(dir, { readOnly: true });
    const d = reader.listDerived().find((x) => x.config.name === name)!;
    return { name, partitions: d.partitions };
  };
  const env = { ...process.env, EDDY_DATA_DIR: dir, EDDY_WORKERS: '2' };
  /** Starts `eddy args`; for `eddy run`, `stopWhen` is polled and SIGINT sent once it holds. */
  const run = (args: string[], stdin = '', stopWhen?: () => Promise<boolean>): Promise<Run> =>
    new Promise((res, rej) => {
      const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let exited = false;
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      child.on('error', rej);
      child.on('close', (code, signal) => {
        exited = true;
        res({ code: code ?? (signal ? -1 : 0), stdout, stderr });
      });
      child.stdin.end(stdin);
      if (stopWhen) {
        void (async () => {
          // SIGINT only once `eddy run` has started its streams (it handles the signal from then on).
          while (!exited && !(stderr.includes('Ctrl-C stops') && (await stopWhen())))
            await new Promise((r) => setTimeout(r, 100));
          if (!exited) child.kill('SIGINT');
        })();
      }
    });
  const ok = async (args: string[], stdin = ''): Promise<string> => {
    const r = await run(args, stdin);
    if (r.code !== 0) throw new Error(`eddy ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
    return r.stdout;
  };
  const listed = async (): Promise<Listed[]> => JSON.parse(await ok(['derive', 'list', '--json'])) as Listed[];
  const stream = async (name: string) => (await listed()).find((d) => d.name === name)!;
  const total = (d: Listed, f: keyof Listed['partitions'][number]) =>
    d.partitions.reduce((s, p) => s + (p[f] as number), 0);
  return { run, ok, listed, stream, total, progress };
}

const transform = (name: string) => JSON.stringify({ uses: wasmPath(name) });

test('policy stop: an output record over the size limit commits nothing of its submission, the stream stops there, and the advised rerun writes it', async (t) => {
  t.timeout(180_000);
  const { run, ok, stream, total, progress } = cli(t);
  await ok(['topic', 'create', 'in']);
  await ok(['topic', 'create', 'out']);
  // Four batches (one produce each): the third record's output is over the limit the run is given.
  const sent = ['a1', 'a2', 'b'.repeat(2000), 'a4'];
  for (const v of sent) await ok(['produce', 'in'], `${v}\n`);
  await ok(['derive', 'create', 'up', '--source', 'in', '--target', 'out', '--transform', transform('map-uppercase')]);

  const failed = await run(['--max-record-bytes', '1000', 'run']);
  t.is(failed.code, 1, failed.stderr);
  t.regex(
    failed.stderr,
    /the output of source offsets 0\.\.3 could not be stored: .* over the 1000-byte limit; raise the limit with --max-record-bytes 2048\. Nothing of it was stored; the stream stopped at source offset 0/,
  );
  let d = await stream('up');
  t.deepEqual(
    [total(d, 'offset'), total(d, 'written')],
    [0, 0],
    'neither outputs nor checkpoint went past the failing record',
  );
  t.is(d.partitions[0]!.failure?.code, 'EDDY_DERIVE_COMMIT');
  t.is(d.partitions[0]!.failure?.offset, 0);
  t.is(await ok(['consume', 'out', '-B', '-d']), '', 'nothing stored');
  t.regex(
    await ok(['derive', 'list']),
    /\n {2}up +in +out +map-uppercase\.wasm +stop +0 +0 +0 +4 +failed\n {2}up\/0 stopped at source offset 0: EDDY_DERIVE_COMMIT: .*--max-record-bytes 2048/,
  );

  // The rerun with the default limit (1 MiB) writes every record once, the big one included.
  const again = await run(['run'], '', async () => total(await progress('up'), 'offset') === 4);
  t.is(again.code, 0, again.stderr);
  d = await stream('up');
  t.deepEqual([total(d, 'offset'), total(d, 'written')], [4, 4]);
  t.is(d.partitions[0]!.failure, null, 'a new start clears the failure');
  t.deepEqual(
    (await ok(['consume', 'out', '-B', '-d'])).split('\n').filter(Boolean),
    sent.map((v) => v.toUpperCase()),
  );
});

test('policy skip: every skipped record (rejected, trapped, over the deadline) is counted, reported and kept in the dead-letter topic', async (t) => {
  t.timeout(180_000);
  const { run, ok, stream, total, progress } = cli(t);
  for (const topic of ['in1', 'in2', 'in3', 'out1', 'out2', 'out3']) await ok(['topic', 'create', topic]);
  await ok(['topic', 'create', 'lost-loops']);
  await ok(['produce', 'in1'], 'a1\nbad\na2\nbad\n');
  await ok(['produce', 'in2'], 'ok\nboom\n');
  await ok(['produce', 'in3'], 'go\nloop\n');
  t.regex(
    await ok([
      'derive',
      'create',
      'rejects',
      '--source',
      'in1',
      '--target',
      'out1',
      '--policy',
      'skip',
      '--transform',
      transform('fail-on'),
    ]),
    /created: in1 → 1 SmartModule → out1; skipped records go to rejects-dlq;/,
  );
  await ok([
    'derive',
    'create',
    'traps',
    '--source',
    'in2',
    '--target',
    'out2',
    '--policy',
    'skip',
    '--transform',
    transform('trap'),
  ]);
  await ok([
    'derive',
    'create',
    'loops',
    '--source',
    'in3',
    '--target',
    'out3',
    '--policy',
    'skip',
    '--timeout',
    '500ms',
    '--dead-letter-topic',
    'lost-loops',
    '--transform',
    transform('spin'),
  ]);
  const bad = await run([
    'derive',
    'create',
    'x',
    '--source',
    'in1',
    '--target',
    'out1',
    '--dead-letter-topic',
    'lost-loops',
    '--transform',
    transform('fail-on'),
  ]);
  t.regex(bad.stderr, /--dead-letter-topic keeps the records --policy skip skips: give --policy skip too/);

  const processed = async (names: string[]) =>
    (await Promise.all(names.map(async (n) => total(await progress(n), 'offset')))).join();
  // The looping stream runs on its own: a deadline kill replaces a worker other streams may share.
  const r = await run(
    ['run', '--only', 'rejects', '--only', 'traps', '--status-interval', '100ms'],
    '',
    async () => (await processed(['rejects', 'traps'])) === '4,2',
  );
  t.is(r.code, 0, r.stderr);
  const loops = await run(
    ['run', '--only', 'loops', '--status-interval', '100ms'],
    '',
    async () => (await processed(['loops'])) === '2',
  );
  t.is(loops.code, 0, loops.stderr);
  const counts = async (n: string) => {
    const d = await stream(n);
    return [total(d, 'offset'), total(d, 'written'), total(d, 'skipped')];
  };
  t.deepEqual(await counts('rejects'), [4, 2, 2]);
  // A trap or an overrun drops the whole submission (both records, one batch): both are kept.
  t.deepEqual(await counts('traps'), [2, 0, 2]);
  t.deepEqual(await counts('loops'), [2, 0, 2]);
  t.regex(r.stderr, /skipped: rejects\/0 offset 1, kept in rejects-dlq: fail-on: cannot parse bad/);
  t.regex(r.stderr, /skipped: traps\/0 offset 0, kept in traps-dlq: .*trapped/);
  t.regex(
    loops.stderr,
    /skipped: loops\/0 offset 0, kept in lost-loops: .*did not finish the batch at offset 0 within 500 ms/,
  );
  t.regex(r.stderr, / · 4 skipped · 0 errors\n/);
  t.regex(r.stderr, /rejects wrote 2 records, skipped 2 into rejects-dlq/);
  t.regex(
    await ok(['derive', 'list']),
    /\n {2}rejects +in1 +out1 +fail-on\.wasm +skip → rejects-dlq +4 +2 +2 +0 +ok\n/,
  );
  t.is(await ok(['consume', 'out1', '-B', '-d']), 'a1\na2\n');

  // The dead letters: key <partition>/<offset>, value a JSON envelope with the source record and the error.
  const letters = (topic: string) =>
    ok(['consume', topic, '-B', '-d', '--format', '{{key}} {{value}}']).then((s) =>
      s
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const space = l.indexOf(' ');
          return {
            at: l.slice(0, space),
            ...(JSON.parse(l.slice(space + 1)) as {
              stream: string;
              topic: string;
              partition: number;
              offset: number;
              error: { code: string; message: string };
              encoding: string;
              key: string | null;
              value: string;
            }),
          };
        }),
    );
  const rejected = await letters('rejects-dlq');
  t.deepEqual(
    rejected.map((l) => [l.at, l.stream, l.topic, l.partition, l.offset, l.error.code, l.encoding, l.key, l.value]),
    [
      ['0/1', 'rejects', 'in1', 0, 1, 'EDDY_SM_RUNTIME', 'utf8', null, 'bad'],
      ['0/3', 'rejects', 'in1', 0, 3, 'EDDY_SM_RUNTIME', 'utf8', null, 'bad'],
    ],
  );
  t.regex(rejected[0]!.error.message, /cannot parse bad/);
  t.deepEqual(
    (await letters('traps-dlq')).map((l) => [l.offset, l.value, l.error.code]),
    [
      [0, 'ok', 'EDDY_SM_TRAP'],
      [1, 'boom', 'EDDY_SM_TRAP'],
    ],
  );
  t.deepEqual(
    (await letters('lost-loops')).map((l) => [l.offset, l.value, l.error.code]),
    [
      [0, 'go', 'EDDY_SESSION_TIMEOUT'],
      [1, 'loop', 'EDDY_SESSION_TIMEOUT'],
    ],
  );

  // A restart resumes after them: nothing skipped twice, nothing written twice.
  const again = await run(
    ['run', '--only', 'rejects'],
    '',
    async () => (await progress('rejects')).partitions[0]!.lag === 0,
  );
  t.is(again.code, 0, again.stderr);
  t.deepEqual(await counts('rejects'), [4, 2, 2]);
  t.is((await letters('rejects-dlq')).length, 2);
});

test('derive create refuses invalid names and any chain of derived streams that forms a cycle', async (t) => {
  t.timeout(60_000);
  const { run, ok, listed } = cli(t);
  for (const topic of ['a', 'b', 'c', 'd']) await ok(['topic', 'create', topic]);
  const create = (name: string, source: string, target: string, ...more: string[]) =>
    run([
      'derive',
      'create',
      name,
      '--source',
      source,
      '--target',
      target,
      '--transform',
      transform('map-uppercase'),
      ...more,
    ]);
  for (const name of ['', '../x', 'x'.repeat(300), 'Upper', 'x-', 'x_y']) {
    const r = await create(name, 'a', 'b');
    t.is(r.code, 1, name);
    t.regex(
      r.stderr,
      /^Error: invalid derived stream name .*: use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters\n$/,
      name,
    );
  }
  const long = await create('x'.repeat(62), 'a', 'b', '--policy', 'skip');
  t.regex(
    long.stderr,
    /its dead-letter topic would be "x{62}-dlq", over 63 characters; use a name of at most 59 characters, or name the topic/,
  );

  const self = await create('loop', 'a', 'a');
  t.is(self.code, 1);
  t.regex(
    self.stderr,
    /^Error: derived stream loop would feed its own source: a → \(loop\) → a is a cycle, so its records would go round forever;/,
  );
  await ok(['derive', 'create', 'ab', '--source', 'a', '--target', 'b', '--transform', transform('map-uppercase')]);
  await ok(['derive', 'create', 'bc', '--source', 'b', '--target', 'c', '--transform', transform('map-uppercase')]);
  const ring = await create('ca', 'c', 'a');
  t.regex(
    ring.stderr,
    /derived stream ca would feed its own source: c → \(ca\) → a → \(ab\) → b → \(bc\) → c is a cycle/,
  );
  // Through a dead-letter topic too.
  const viaDlq = await create('cx', 'c', 'd', '--policy', 'skip', '--dead-letter-topic', 'a');
  t.regex(viaDlq.stderr, /c → \(cx\) → a → \(ab\) → b → \(bc\) → c is a cycle/);
  t.deepEqual(
    (await listed()).map((d) => d.name),
    ['ab', 'bc'],
    'nothing refused was saved',
  );
  t.is((await create('a'.repeat(63), 'a', 'c')).code, 0, '63 characters are allowed');
});
