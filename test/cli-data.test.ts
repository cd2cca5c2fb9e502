import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import test from 'ava';
import type { CliIO } from '../src/cli/format.js';
import { main } from '../src/cli/main.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * The data commands run in-process through main(), each test on its own data directory:
 * topic, smart-module, produce, consume, derive and run, with their outputs and exit codes.
 * (Commands that must run at the same time as another writer are in e2e-cli.test.ts, as processes.)
 */

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function fresh(): { dir: string; work: string } {
  const work = mkdtempSync(join(tmpdir(), 'eddy-cli-'));
  return { dir: join(work, 'data'), work };
}

/** `stopWhen` interrupts the command (as Ctrl-C) once its output so far satisfies it. */
async function eddy(
  dir: string,
  args: string[],
  opts: {
    stdin?: string | Buffer;
    cwd?: string;
    signal?: AbortSignal;
    stopWhen?: (out: { stdout: string; stderr: string }) => boolean;
  } = {},
): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const dec = new TextDecoder();
  const stop = opts.stopWhen ? new AbortController() : undefined;
  const signal = stop ? stop.signal : opts.signal;
  const check = () => {
    if (stop && !stop.signal.aborted && opts.stopWhen!({ stdout, stderr })) stop.abort();
  };
  const io: CliIO = {
    stdout: {
      write: (c) => {
        stdout += typeof c === 'string' ? c : dec.decode(c);
        check();
        return true;
      },
    },
    stderr: {
      write: (c) => {
        stderr += typeof c === 'string' ? c : dec.decode(c);
        check();
        return true;
      },
    },
    stdin: Readable.from([Buffer.from(opts.stdin ?? '')]),
    cwd: opts.cwd ?? process.cwd(),
    env: { EDDY_DATA_DIR: dir, EDDY_WORKERS: '2' },
    ...(signal ? { signal } : {}),
  };
  const code = await main(['node', 'eddy', ...args], io);
  return { code, stdout, stderr };
}

async function ok(dir: string, args: string[], opts: Parameters<typeof eddy>[2] = {}): Promise<string> {
  const r = await eddy(dir, args, opts);
  if (r.code !== 0) throw new Error(`eddy ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

const lines = (s: string) => s.split('\n').filter((l) => l !== '');

test('topic create, list (table and JSON), describe, delete, and the errors of each', async (t) => {
  const { dir } = fresh();
  t.is(await ok(dir, ['topic', 'list']), 'No topics found\n');
  t.is(
    await ok(dir, ['topic', 'create', 'greetings', '-p', '2', '--retention-time', '1d', '--max-partition-size', '1GB']),
    'topic "greetings" created\n',
  );
  await ok(dir, ['topic', 'create', 'plain']);
  t.is(
    await ok(dir, ['topic', 'list']),
    '  NAME       TYPE      PARTITIONS  REPLICAS  RETENTION TIME  COMPRESSION  DEDUPLICATION  STATUS                   REASON  RECORDS  SIZE  MAX PARTITION SIZE\n' +
      '  greetings  computed  2           1         1d              none         none           resolution::provisioned          0        0 B   1 GB\n' +
      '  plain      computed  1           1         7d              none         none           resolution::provisioned          0        0 B   100 GB\n',
  );
  const json = JSON.parse(await ok(dir, ['topic', 'list', '-O', 'json'])) as {
    name: string;
    partitions: number;
    retentionMs: number;
    maxPartitionBytes: number;
  }[];
  t.deepEqual(
    json.map((x) => [x.name, x.partitions, x.retentionMs, x.maxPartitionBytes]),
    [
      ['greetings', 2, 86_400_000, 1e9],
      ['plain', 1, 604_800_000, 100e9],
    ],
  );
  t.deepEqual(JSON.parse(await ok(dir, ['topic', 'list', '--json'])), json);
  const d = JSON.parse(await ok(dir, ['topic', 'describe', 'greetings', '--json'])) as { partitionInfo: unknown[] };
  t.is(d.partitionInfo.length, 2);
  t.regex(await ok(dir, ['topic', 'describe', 'greetings']), /^ Name +: {2}greetings\n Partition Count +: {2}2\n/);

  const again = await eddy(dir, ['topic', 'create', 'greetings']);
  t.is(again.code, 1);
  t.is(
    again.stderr,
    'Error: topic "greetings" already exists; use it as it is, or delete it first with `eddy topic delete greetings`\n',
  );
  const missing = await eddy(dir, ['topic', 'describe', 'nope']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /create it with `eddy topic create nope`/);
  const bad = await eddy(dir, ['topic', 'create', 'x', '--retention-time', 'forever']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /^Error: --retention-time: invalid duration "forever"/);
  t.is(await ok(dir, ['topic', 'delete', 'greetings', 'plain']), 'topic "greetings" deleted\ntopic "plain" deleted\n');
  t.is(await ok(dir, ['topic', 'list']), 'No topics found\n');
});

test('smart-module create, list (NAME STATUS SIZE and JSON), delete; invalid modules are refused', async (t) => {
  const { dir, work } = fresh();
  t.is(await ok(dir, ['sm', 'list']), 'no smart modules\n');
  t.regex(
    await ok(dir, ['smart-module', 'create', 'keep-a', '--wasm-file', wasmPath('filter')]),
    /^smartmodule "keep-a" has been created \(filter, \d+ bytes\)\n$/,
  );
  await ok(dir, ['smartmodule', 'create', 'upper', '--wasm-file', wasmPath('map-uppercase')]);
  t.regex(await ok(dir, ['sm', 'list']), /^ NAME +STATUS +SIZE\n keep-a +ready +\d+\n {2}upper +ready +\d+\n$/);
  const list = JSON.parse(await ok(dir, ['sm', 'list', '-O', 'json'])) as { name: string; kind: string }[];
  t.deepEqual(
    list.map((m) => [m.name, m.kind]),
    [
      ['keep-a', 'filter'],
      ['upper', 'map'],
    ],
  );
  writeFileSync(join(work, 'junk.wasm'), 'not wasm');
  const junk = await eddy(dir, ['sm', 'create', 'junk', '--wasm-file', join(work, 'junk.wasm')]);
  t.is(junk.code, 1);
  t.regex(junk.stderr, /^Error: SmartModule "junk" is not valid: .*nothing was registered/);
  const dup = await eddy(dir, ['sm', 'create', 'keep-a', '--wasm-file', wasmPath('filter')]);
  t.regex(dup.stderr, /delete it first with `eddy smart-module delete keep-a`/);
  t.is(await ok(dir, ['sm', 'delete', 'upper']), 'smartmodule "upper" deleted\n');
  t.is((await eddy(dir, ['sm', 'delete', 'upper'])).code, 1);
});

test('produce lines and consume them back: -B -d, keys, -o from the end, -T, --end-offset, --format, --max-records', async (t) => {
  const { dir } = fresh();
  await ok(dir, ['topic', 'create', 'fruit']);
  t.is(await ok(dir, ['produce', 'fruit'], { stdin: 'apple\nkiwi\n\nbanana\r\nplum\ngrape' }), '');
  // The empty line is an empty record, as fluvio produce sends it.
  t.is(await ok(dir, ['consume', 'fruit', '-B', '-d']), 'apple\nkiwi\n\nbanana\nplum\ngrape\n');
  t.is(await ok(dir, ['consume', 'fruit', '-d']), '', 'default start is the end');
  t.is(await ok(dir, ['consume', 'fruit', '-o', '-2', '-d']), 'plum\ngrape\n');
  t.is(await ok(dir, ['consume', 'fruit', '-o', '1', '-d', '--end-offset', '3']), 'kiwi\n\nbanana\n');
  t.is(await ok(dir, ['consume', 'fruit', '-T', '1', '-d']), 'grape\n');
  t.is(await ok(dir, ['consume', 'fruit', '-B', '-d', '--max-records', '2']), 'apple\nkiwi\n');
  t.regex(
    await ok(dir, [
      'consume',
      'fruit',
      '-B',
      '-d',
      '--end',
      '0',
      '--format',
      '{{offset}}@{{partition}} {{key}}={{value}} {{time}}',
    ]),
    /^0@0 null=apple \d{4}-\d\d-\d\dT[\d:.]+Z\n$/,
  );

  await ok(dir, ['topic', 'create', 'users', '-p', '3']);
  await ok(dir, ['produce', 'users', '--key-separator', ':'], { stdin: 'alice:1\nbob:2\nalice:3\ncarol:4\n' });
  const kv = lines(await ok(dir, ['consume', 'users', '-B', '-d', '-k']));
  t.deepEqual([...kv].sort(), ['[alice] 1', '[alice] 3', '[bob] 2', '[carol] 4']);
  t.true(kv.indexOf('[alice] 1') < kv.indexOf('[alice] 3'), 'one key stays in order (one partition)');
  await ok(dir, ['produce', 'users', '--partition', '2', '--key', 'dave'], { stdin: 'five\n' });
  t.is(await ok(dir, ['consume', 'users', '-p', '2', '-T', '1', '-d', '-k']), '[dave] five\n');
  const noSep = await eddy(dir, ['produce', 'users', '--key-separator', ':'], { stdin: 'x:1\nnokey\n' });
  t.is(noSep.code, 0, 'the other lines are sent');
  t.regex(noSep.stderr, /line 2 has no key separator ":"/);
  const badPart = await eddy(dir, ['consume', 'users', '-p', '7', '-d']);
  t.regex(badPart.stderr, /-p\/--partition 7: topic "users" has 3 partitions \(0\.\.2\)/);
  const unknown = await eddy(dir, ['produce', 'nope'], { stdin: 'x\n' });
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /topic "nope" does not exist; create it with `eddy topic create nope`/);
});

test('produce --file (lines, or --raw as one record) with --progress on stderr', async (t) => {
  const { dir, work } = fresh();
  await ok(dir, ['topic', 'create', 'nums']);
  const file = join(work, 'nums.txt');
  writeFileSync(file, `${Array.from({ length: 5000 }, (_, i) => String(i)).join('\n')}\n`);
  const r = await eddy(dir, ['produce', 'nums', '--file', file, '--progress']);
  t.is(r.code, 0);
  // Lines count stored records (acknowledged), so an early line may say fewer; the last says all.
  t.regex(r.stderr, /(^|\n)stored 5,000 records \(100%, 23\.9 kB \/ 23\.9 kB, [\d,]+ records\/s\)\n$/);
  t.is(await ok(dir, ['consume', 'nums', '-T', '2', '-d']), '4998\n4999\n');
  t.is((await eddy(dir, ['produce', 'nums', '--file', file])).stderr, '', 'no progress when stderr is not a terminal');
  await ok(dir, ['produce', 'nums', '--file', file, '--raw']);
  t.is((await ok(dir, ['consume', 'nums', '-T', '1', '-d'])).length, 23891);
  const missing = await eddy(dir, ['produce', 'nums', '--file', join(work, 'nope.txt')]);
  t.regex(missing.stderr, /--file .*nope\.txt: cannot read it \(ENOENT\)/);
});

test('consume through SmartModules: --filter by registered name and by path, --map, kind checks, -e params, --aggregate with an initial value', async (t) => {
  const { dir } = fresh();
  await ok(dir, ['topic', 'create', 'fruit']);
  await ok(dir, ['produce', 'fruit'], { stdin: 'apple\nkiwi\nbanana\nplum\ngrape\n' });
  await ok(dir, ['sm', 'create', 'keep-a', '--wasm-file', wasmPath('filter')]);
  t.is(await ok(dir, ['consume', 'fruit', '-B', '-d', '--filter', 'keep-a']), 'apple\nbanana\ngrape\n');
  t.is(await ok(dir, ['consume', 'fruit', '-B', '-d', '--filter', wasmPath('filter')]), 'apple\nbanana\ngrape\n');
  t.is(
    await ok(dir, ['consume', 'fruit', '-B', '-d', '--map', wasmPath('map-uppercase'), '-k']),
    '[null] APPLE\n[null] KIWI\n[null] BANANA\n[null] PLUM\n[null] GRAPE\n',
  );
  const wrongKind = await eddy(dir, ['consume', 'fruit', '-B', '-d', '--map', 'keep-a']);
  t.is(wrongKind.code, 1);
  t.is(wrongKind.stderr, 'Error: --map keep-a: that module is a filter, not a map; use --filter keep-a\n');
  t.is(
    await ok(dir, ['consume', 'fruit', '-B', '-d', '--smartmodule', wasmPath('filter-param'), '-e', 'key=an']),
    'banana\n',
  );
  const noParam = await eddy(dir, ['consume', 'fruit', '-B', '-d', '--filter', wasmPath('filter-param')]);
  t.is(noParam.code, 1);
  t.regex(noParam.stderr, /Missing param key/);
  const missing = await eddy(dir, ['consume', 'fruit', '-B', '-d', '--filter', 'nope']);
  t.regex(
    missing.stderr,
    /^Error: --filter: SmartModule "nope" is not registered and is not a \.wasm file; register it with `eddy smart-module create nope --wasm-file <path>`/,
  );

  await ok(dir, ['topic', 'create', 'numbers']);
  await ok(dir, ['produce', 'numbers'], { stdin: '4\n9\n2\n12\n6\n' });
  t.is(
    await ok(dir, [
      'consume',
      'numbers',
      '-B',
      '-d',
      '--aggregate',
      wasmPath('aggregate-sum'),
      '--aggregate-initial',
      '100',
    ]),
    '104\n113\n115\n127\n133\n',
  );
  t.is(await ok(dir, ['consume', 'numbers', '-B', '-d', '--filter-map', wasmPath('filter-map')]), '2\n1\n6\n3\n');
  await ok(dir, ['topic', 'create', 'arrays']);
  await ok(dir, ['produce', 'arrays'], { stdin: '["a","b"]\n[1,2,3]\n' });
  t.is(
    await ok(dir, ['consume', 'arrays', '-B', '-d', '--array-map', wasmPath('array-map-json')]),
    '"a"\n"b"\n1\n2\n3\n',
  );
});

test('consume with a transforms.yaml chain: uses relative to the file, look_back from the stored topic; --transform inline; runtime errors print the records before them', async (t) => {
  const { dir, work } = fresh();
  await ok(dir, ['topic', 'create', 'numbers']);
  await ok(dir, ['produce', 'numbers'], { stdin: '4\n9\n2\n12\n6\n' });
  copyFileSync(wasmPath('filter-look-back'), join(work, 'monotonic.wasm'));
  await ok(dir, ['sm', 'create', 'sum', '--wasm-file', wasmPath('aggregate-sum')]);
  writeFileSync(
    join(work, 'chain.yaml'),
    'transforms:\n  - uses: monotonic.wasm\n    lookback:\n      last: 1\n  - uses: sum\n',
  );
  // look_back sees the last stored value (6): then 9 and 12 pass the monotonic filter, summed.
  t.is(await ok(dir, ['consume', 'numbers', '-B', '-d', '--transforms-file', join(work, 'chain.yaml')]), '9\n21\n');
  writeFileSync(join(work, 'nolb.yaml'), 'transforms:\n  - uses: ./monotonic\n  - uses: sum\n');
  t.is(
    await ok(dir, ['consume', 'numbers', '-B', '-d', '--transforms-file', 'nolb.yaml'], { cwd: work }),
    '4\n13\n25\n',
  );
  t.is(
    await ok(
      dir,
      [
        'consume',
        'numbers',
        '-B',
        '-d',
        '--transform',
        '{"uses":"monotonic.wasm","lookback":{"last":1}}',
        '--transform',
        '{"uses":"sum"}',
      ],
      { cwd: work },
    ),
    '9\n21\n',
  );
  const badYaml = await eddy(dir, ['consume', 'numbers', '-B', '-d', '--transforms-file', join(work, 'missing.yaml')]);
  t.regex(badYaml.stderr, /missing\.yaml: cannot read the transforms file: no such file/);

  await ok(dir, ['topic', 'create', 'mixed']);
  await ok(dir, ['produce', 'mixed'], { stdin: 'a1\na2\nbad\na3\n' });
  const failed = await eddy(dir, ['consume', 'mixed', '-B', '-d', '--filter', wasmPath('fail-on')]);
  t.is(failed.code, 1);
  t.is(failed.stdout, 'a1\na2\n');
  t.is(
    failed.stderr,
    `Error: fail-on: cannot parse bad\n\nSmartModule Info: \n    Type: Filter\n    Offset: 2\n    Key: NULL\n    Value: bad\n`,
  );
});

test('--consumer resumes where the named consumer stopped', async (t) => {
  const { dir } = fresh();
  await ok(dir, ['topic', 'create', 'log', '-p', '2']);
  await ok(dir, ['produce', 'log'], { stdin: 'a\nb\nc\nd\n' });
  t.deepEqual(lines(await ok(dir, ['consume', 'log', '-B', '-d', '--consumer', 'reader'])).sort(), [
    'a',
    'b',
    'c',
    'd',
  ]);
  t.is(await ok(dir, ['consume', 'log', '-B', '-d', '--consumer', 'reader']), '');
  await ok(dir, ['produce', 'log'], { stdin: 'e\nf\n' });
  t.deepEqual(lines(await ok(dir, ['consume', 'log', '-B', '-d', '--consumer', 'reader'])).sort(), ['e', 'f']);
  t.deepEqual(
    lines(await ok(dir, ['consume', 'log', '-B', '-d', '--consumer', 'other', '--filter', wasmPath('filter')])),
    ['a'],
  );
  t.is(
    await ok(dir, ['consume', 'log', '-B', '-d', '--consumer', 'other', '--filter', wasmPath('filter')]),
    '',
    'through a filter too',
  );
  t.is(lines(await ok(dir, ['consume', 'log', '-B', '-d'])).length, 6, 'unnamed consumers are not affected');
});

test('producer-side transforms run before records are stored; a module error stores nothing and exits 1', async (t) => {
  const { dir, work } = fresh();
  await ok(dir, ['topic', 'create', 'fruit']);
  copyFileSync(wasmPath('filter'), join(work, 'keep-a.wasm'));
  writeFileSync(
    join(work, 'clean.yaml'),
    `transforms:\n  - uses: keep-a.wasm\n  - uses: ${wasmPath('map-uppercase')}\n`,
  );
  await ok(dir, ['produce', 'fruit', '--transforms-file', join(work, 'clean.yaml')], {
    stdin: 'apple\nkiwi\nbanana\n',
  });
  t.is(await ok(dir, ['consume', 'fruit', '-B', '-d']), 'APPLE\nBANANA\n');
  await ok(dir, ['produce', 'fruit', '--smartmodule', wasmPath('filter-param'), '-e', 'key=gr'], {
    stdin: 'grape\nplum\n',
  });
  await ok(dir, ['produce', 'fruit', '--transform', `{"uses":"${wasmPath('map-uppercase')}"}`], { stdin: 'fig\n' });
  t.is(await ok(dir, ['consume', 'fruit', '-B', '-d']), 'APPLE\nBANANA\ngrape\nFIG\n');
  const failed = await eddy(dir, ['produce', 'fruit', '--smartmodule', wasmPath('fail-on')], { stdin: 'ok\nbad\n' });
  t.is(failed.code, 1);
  t.is(
    failed.stderr,
    'Error: producer-side SmartModule failed for fruit/0, so none of that batch was stored:\nfail-on: cannot parse bad\n\nSmartModule Info: \n    Type: Filter\n    Offset: 1\n    Key: NULL\n    Value: bad\n0 of the 2 records read were stored\n',
  );
  t.is(lines(await ok(dir, ['consume', 'fruit', '-B', '-d'])).length, 4);
});

test('continuous consume waits for records and ends cleanly (exit 0) when interrupted', async (t) => {
  const { dir } = fresh();
  await ok(dir, ['topic', 'create', 'live']);
  await ok(dir, ['produce', 'live'], { stdin: 'old\n' });
  const ac = new AbortController();
  const started = Date.now();
  setTimeout(() => ac.abort(), 400);
  const r = await eddy(dir, ['consume', 'live', '-B', '--filter', wasmPath('filter')], { signal: ac.signal });
  t.is(r.code, 0);
  t.is(r.stdout, '');
  t.true(Date.now() - started >= 350);
  const plain = await eddy(dir, ['consume', 'live', '-B'], { stopWhen: ({ stdout }) => stdout.includes('\n') });
  t.is(plain.code, 0);
  t.is(plain.stdout, 'old\n');
});

test('derive create, list, run until interrupted (status on stderr), output in the target; delete', async (t) => {
  const { dir, work } = fresh();
  const nothing = await eddy(dir, ['run']);
  t.is(nothing.code, 1);
  t.regex(nothing.stderr, /nothing to run: no derived streams in .*; create one with `eddy derive create/);
  await ok(dir, ['topic', 'create', 'numbers', '-p', '2']);
  await ok(dir, ['topic', 'create', 'sums']);
  await ok(dir, ['produce', 'numbers', '--partition', '0'], { stdin: '4\n9\n2\n12\n6\n' });
  await ok(dir, ['sm', 'create', 'sum', '--wasm-file', wasmPath('aggregate-sum')]);
  copyFileSync(wasmPath('filter-map'), join(work, 'halve-evens.wasm'));
  writeFileSync(join(work, 'chain.yaml'), 'transforms:\n  - uses: halve-evens.wasm\n  - uses: sum\n');
  t.is(
    await ok(dir, [
      'derive',
      'create',
      'evens',
      '--source',
      'numbers',
      '--target',
      'sums',
      '--transforms-file',
      join(work, 'chain.yaml'),
    ]),
    'derived stream "evens" created: numbers → 2 SmartModules → sums; start it with `eddy run`\n',
  );
  const dup = await eddy(dir, [
    'derive',
    'create',
    'evens',
    '--source',
    'numbers',
    '--target',
    'sums',
    '--transform',
    '{"uses":"sum"}',
  ]);
  t.regex(dup.stderr, /already exists; delete it first with `eddy derive delete evens`/);
  const noTarget = await eddy(dir, [
    'derive',
    'create',
    'x',
    '--source',
    'numbers',
    '--target',
    'nope',
    '--transform',
    '{"uses":"sum"}',
  ]);
  t.regex(noTarget.stderr, /topic "nope" does not exist; create it with `eddy topic create nope`/);
  const noChain = await eddy(dir, ['derive', 'create', 'x', '--source', 'numbers', '--target', 'sums']);
  t.regex(noChain.stderr, /no chain: give --transforms-file/);
  t.regex(
    await ok(dir, ['derive', 'list']),
    /^ {2}NAME +SOURCE +TARGET +TRANSFORMS +POLICY +PROCESSED +WRITTEN +SKIPPED +LAG +STATUS\n {2}evens +numbers +sums +halve-evens\.wasm \| sum +stop +0 +0 +0 +5 +ok\n$/,
  );

  // Stopped once a status line shows the stream caught up, however long that takes on a busy machine.
  const run = await eddy(dir, ['run', '--status-interval', '200ms'], {
    stopWhen: ({ stderr }) => /records\/s · lag evens 0 · /.test(stderr),
  });
  t.is(run.code, 0, run.stderr);
  t.regex(run.stderr, /^eddy run: evens \(numbers → sums\); Ctrl-C stops\n/);
  t.regex(run.stderr, /eddy run: [\d,]+ records\/s · lag evens 0 · 0 errors\n/);
  t.regex(run.stderr, /eddy run stopped \(evens wrote 4 records\)\n$/);
  t.is(await ok(dir, ['consume', 'sums', '-B', '-d']), '2\n3\n9\n12\n');
  const listed = JSON.parse(await ok(dir, ['derive', 'list', '--json'])) as {
    name: string;
    partitions: { offset: number; lag: number; written: number }[];
  }[];
  t.deepEqual(
    listed[0]!.partitions.map((p) => [p.offset, p.lag, p.written]),
    [
      [5, 0, 4],
      [0, 0, 0],
    ],
  );
  t.is(await ok(dir, ['derive', 'delete', 'evens']), 'derived stream "evens" deleted\n');
  t.is(await ok(dir, ['derive', 'list']), 'No derived streams found\n');
});

// A runtime error under policy stop: the records before it are written, the partition stops at it,
// `eddy run` prints the error and exits 1.
test('eddy run reports a failing stream and exits 1', async (t) => {
  const { dir } = fresh();
  await ok(dir, ['topic', 'create', 'in']);
  await ok(dir, ['topic', 'create', 'out']);
  await ok(dir, ['produce', 'in'], { stdin: 'a1\nbad\na2\n' });
  await ok(dir, [
    'derive',
    'create',
    'fragile',
    '--source',
    'in',
    '--target',
    'out',
    '--transform',
    JSON.stringify({ uses: wasmPath('fail-on') }),
  ]);
  // The run ends by itself once its only partition stops; the interrupt is only a safety net.
  const run = await eddy(dir, ['run'], { stopWhen: ({ stderr }) => /error: fragile\//.test(stderr) });
  t.is(run.code, 1);
  t.regex(run.stderr, /error: fragile\/0: .*cannot parse bad/);
  t.is(await ok(dir, ['consume', 'out', '-B', '-d']), 'a1\n');
});

test('messages send the user to flags and commands that exist: --memory-limit, --timeout, a missing .wasm path, a directory, deletes of unknown names', async (t) => {
  const { dir, work } = fresh();
  await ok(dir, ['topic', 'create', 'm']);
  await ok(dir, ['produce', 'm'], { stdin: 'eat\nloop\n' });

  // The memory cap: --memory-limit is a flag, and it sets the cap (consume, eddy test).
  const mem = await eddy(dir, [
    'consume',
    'm',
    '-B',
    '-d',
    '--filter',
    wasmPath('eat-memory'),
    '--memory-limit',
    '64MB',
  ]);
  t.is(mem.code, 1);
  t.regex(mem.stderr, /limit 64000000 bytes.*Raise the limit with --memory-limit <size> \(default 1GB\)/s);
  t.notRegex(mem.stderr, /memoryLimit|open\(dir/);
  const memTest = await eddy(dir, [
    'test',
    '--wasm-file',
    wasmPath('eat-memory'),
    '--text',
    'eat',
    '--memory-limit',
    '32MB',
  ]);
  t.regex(memTest.stderr, /limit 32000000 bytes/);

  // The deadline: --timeout, and it sets the deadline.
  const slow = await eddy(dir, ['consume', 'm', '-o', '1', '-d', '--filter', wasmPath('spin'), '--timeout', '300ms']);
  t.is(slow.code, 1);
  t.regex(
    slow.stderr,
    /within 300 ms; its worker was terminated and replaced\. If the module is just slow, raise the deadline with --timeout <duration> \(default 5s\)/,
  );
  t.notRegex(slow.stderr, /deadlineMs/);
  t.regex(
    (await eddy(dir, ['consume', 'm', '-B', '-d', '--filter', wasmPath('spin'), '--timeout', '0s'])).stderr,
    /--timeout must be longer than 0/,
  );

  // A path that does not exist is a path problem, not something to register.
  const missing = await eddy(dir, ['consume', 'm', '-B', '-d', '--filter', './nosuch.wasm']);
  t.is(
    missing.stderr,
    'Error: --filter: SmartModule file ./nosuch.wasm does not exist (and no SmartModule is registered under that name); check the path\n',
  );
  // A directory is not a module, and --wasm-file is not a flag of consume.
  const folder = await eddy(dir, ['consume', 'm', '-B', '-d', '--filter', work]);
  t.is(folder.stderr, `Error: ${work}: is a directory, not a .wasm file; give the path of a SmartModule .wasm\n`);

  // Deleting what does not exist says so; it does not suggest creating it.
  const smDelete = await eddy(dir, ['smart-module', 'delete', 'nosuch']);
  t.is(smDelete.code, 1);
  t.is(
    smDelete.stderr,
    'Error: SmartModule "nosuch" does not exist, so nothing was deleted (`eddy smart-module list` shows them)\n',
  );
  const topicDelete = await eddy(dir, ['topic', 'delete', 'nope']);
  t.is(topicDelete.code, 1);
  t.is(
    topicDelete.stderr,
    'Error: topic "nope" does not exist, so nothing was deleted (`eddy topic list` shows the topics)\n',
  );
});

test("the library's unknown-topic error names the API it has (eddy.createTopic)", async (t) => {
  const { dir } = fresh();
  const { open } = await import('../src/index.js');
  const e = await open(dir, { workers: 1 });
  const err = await t.throwsAsync(e.produce('nope', [{ value: Buffer.from('x') }]));
  t.is(
    err!.message,
    'topic "nope" does not exist; create it first, e.g. eddy.createTopic("nope", { partitions: 1 }) (CLI: eddy topic create nope)',
  );
  t.is(typeof (e as unknown as Record<string, unknown>)['createTopic'], 'function');
  await e.close();
});
