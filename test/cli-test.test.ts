import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { parseParams } from '../src/cli/chain-options.js';
import {
  type CliIO,
  formatKey,
  formatRecordLine,
  formatRuntimeError,
  looksBinary,
  NonUtf8ValueError,
  UsageError,
} from '../src/cli/format.js';
import { main } from '../src/cli/main.js';
import {
  lookbackHistory,
  planTest,
  readFirstLine,
  splitLines,
  type TestCommandOptions,
} from '../src/cli/test-command.js';
import { resolveUses, UnknownModuleError } from '../src/coordinator/resolve.js';
import { EddyError } from '../src/errors.js';
import { printingPassThrough } from './helpers/printing-module.js';
import { wasmPath } from './helpers/wasm.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root (tests run from dist/test). */
const root = resolve(here, '..', '..');
const bin = join(root, 'bin', 'eddy.js');

const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string) => enc.encode(s);

// ---------------------------------------------------------------------------------------- helpers

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs main() in-process with captured streams. */
async function runMain(args: string[], opts: { stdin?: string; cwd?: string } = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdout: {
      write: (c) => {
        stdout += typeof c === 'string' ? c : dec.decode(c);
        return true;
      },
    },
    stderr: {
      write: (c) => {
        stderr += typeof c === 'string' ? c : dec.decode(c);
        return true;
      },
    },
    stdin: Readable.from([Buffer.from(opts.stdin ?? '')]),
    cwd: opts.cwd ?? process.cwd(),
  };
  const code = await main(['node', 'eddy', ...args], io);
  return { code, stdout, stderr };
}

/** Runs the real CLI in a child process. */
function runCli(args: string[], opts: { stdin?: string | Uint8Array; cwd?: string } = {}): Promise<Run> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: opts.cwd ?? root, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', rej);
    child.on('close', (code) =>
      res({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    child.stdin.end(opts.stdin ?? '');
  });
}

const base: TestCommandOptions = { wasmFile: 'm.wasm', text: 'x' };

// ---------------------------------------------------------------------------------------- printing

test('formatKey: null, binary (NUL in the first KiB), lossy text', (t) => {
  t.is(formatKey(null), 'null');
  t.is(formatKey(b('user-1')), 'user-1');
  t.is(formatKey(new Uint8Array([0x61, 0, 0x62])), 'binary: (3 bytes)');
  t.is(formatKey(new Uint8Array([0x61, 0xff, 0x62])), 'a\uFFFDb');
  const lateNul = new Uint8Array(1100).fill(0x61);
  lateNul[1024] = 0;
  t.false(looksBinary(lateNul));
  lateNul[1023] = 0;
  t.true(looksBinary(lateNul));
  t.is(formatKey(new Uint8Array(0)), '');
});

test('formatRecordLine: value, or [key] value; non-UTF-8 values refuse', (t) => {
  t.is(formatRecordLine(null, b('apple'), false), 'apple');
  t.is(formatRecordLine(null, b('apple'), true), '[null] apple');
  t.is(formatRecordLine(b('k'), b('apple'), true), '[k] apple');
  t.is(formatRecordLine(new Uint8Array([0, 1]), b('v'), true), '[binary: (2 bytes)] v');
  const err = t.throws(() => formatRecordLine(null, new Uint8Array([0xff, 0x61]), false, 3), {
    instanceOf: NonUtf8ValueError,
  })!;
  t.is(err.index, 3);
  t.true(err instanceof EddyError);
  t.regex(err.message, /output record 3 .*not valid UTF-8/);
});

test('formatRuntimeError renders as Fluvio does (hint, blank line, info block)', (t) => {
  t.is(
    formatRuntimeError({ hint: 'Oops something went wrong', offset: 10, kind: 'filter', key: null, value: b('ten') }),
    'Oops something went wrong\n\nSmartModule Info: \n    Type: Filter\n    Offset: 10\n    Key: NULL\n    Value: ten',
  );
  t.is(
    formatRuntimeError({
      hint: 'h',
      offset: 101,
      kind: 'array_map',
      key: b('k1'),
      value: new Uint8Array([0xff, 0x61]),
      module: 'm',
    }),
    'h\n\nSmartModule Info: \n    Module: m\n    Type: ArrayMap\n    Offset: 101\n    Key: k1\n    Value: Binary: 2 bytes',
  );
});

// ---------------------------------------------------------------------------------------- options

test('parseParams: split at the first =, last wins, empty values allowed', (t) => {
  const p = parseParams(['a=1', 'b=x=y', 'a=2', 'c=', '=v']);
  t.deepEqual({ ...p }, { a: '2', b: 'x=y', c: '', '': 'v' });
  t.is(Object.getPrototypeOf(p), null);
  const err = t.throws(() => parseParams(['novalue']), { instanceOf: UsageError })!;
  t.regex(err.message, /KEY=VALUE.*"novalue=value"/);
});

test('planTest: exactly one input', (t) => {
  t.deepEqual(planTest(base).input, { kind: 'text', text: 'x' });
  t.deepEqual(planTest({ wasmFile: 'm', stdin: true }).input, { kind: 'stdin' });
  t.deepEqual(planTest({ wasmFile: 'm', file: 'f', raw: true }).input, { kind: 'file', path: 'f', raw: true });
  t.deepEqual(planTest({ wasmFile: 'm', text: '' }).input, { kind: 'text', text: '' });
  t.regex(t.throws(() => planTest({ wasmFile: 'm' }), { instanceOf: UsageError })!.message, /no input/);
  t.regex(t.throws(() => planTest({ ...base, stdin: true }))!.message, /--text and --stdin cannot be used together/);
  t.regex(t.throws(() => planTest({ ...base, raw: true }))!.message, /--raw applies to --file/);
});

test('planTest: module or chain, and their conflicts', (t) => {
  t.deepEqual(planTest({ ...base, params: ['k=v'] }).modules, {
    kind: 'module',
    flag: '--wasm-file',
    uses: 'm.wasm',
    params: Object.assign(Object.create(null), { k: 'v' }),
  });
  t.deepEqual(planTest({ text: 'x', transformsFile: 't.yaml' }).modules, { kind: 'transforms-file', path: 't.yaml' });
  t.deepEqual(planTest({ text: 'x', transforms: 't.yaml' }).modules, { kind: 'transforms-file', path: 't.yaml' });
  t.deepEqual(planTest({ text: 'x', transform: ['{"uses":"a"}', '{"uses":"b"}'] }).modules, {
    kind: 'inline',
    steps: ['{"uses":"a"}', '{"uses":"b"}'],
  });
  t.regex(t.throws(() => planTest({ text: 'x' }))!.message, /no module: give --wasm-file/);
  t.regex(
    t.throws(() => planTest({ text: 'x', transformsFile: 't', params: ['a=b'] }))!.message,
    /-e\/--params cannot be used with transforms/,
  );
  t.regex(
    t.throws(() => planTest({ text: 'x', transform: ['{}'], params: ['a=b'] }))!.message,
    /-e\/--params cannot be used with transforms/,
  );
  t.regex(
    t.throws(() => planTest({ text: 'x', transformsFile: 't', transform: ['{}'] }))!.message,
    /cannot be used together/,
  );
  t.regex(
    t.throws(() => planTest({ ...base, transformsFile: 't' }))!.message,
    /--transforms-file and --wasm-file cannot be used together/,
  );
  t.regex(t.throws(() => planTest({ ...base, packageName: 'p' }))!.message, /--wasm-file PATH/);
});

test('planTest: lookback from -l and --lookback-age', (t) => {
  t.is(planTest(base).lookback, null);
  t.deepEqual(planTest({ ...base, lookbackLast: '3' }).lookback, { last: 3 });
  t.deepEqual(planTest({ ...base, lookbackLast: '0' }).lookback, { last: 0 });
  t.deepEqual(planTest({ ...base, lookbackAge: '1h' }).lookback, { last: 0, ageMs: 3_600_000 });
  t.deepEqual(planTest({ ...base, lookbackAge: '12 s', lookbackLast: '5' }).lookback, { last: 5, ageMs: 12_000 });
  for (const bad of ['-1', '1.5', 'ten', '']) {
    t.regex(
      t.throws(() => planTest({ ...base, lookbackLast: bad }), { instanceOf: UsageError })!.message,
      /-l\/--lookback-last expects a number/,
    );
  }
  t.regex(
    t.throws(() => planTest({ ...base, lookbackAge: '12' }), { instanceOf: UsageError })!.message,
    /^--lookback-age: invalid duration "12".*no unit/,
  );
});

test('planTest: key, records, accumulator, flags', (t) => {
  const p = planTest({ ...base, key: 'k', record: ['1', '2'], aggregateInitial: 'acc', verbose: true, keyValue: true });
  t.deepEqual(p.key, b('k'));
  t.deepEqual(p.records, ['1', '2']);
  t.deepEqual(p.initialAccumulator, b('acc'));
  t.true(p.verbose);
  t.true(p.keyValue);
  const q = planTest(base);
  t.is(q.key, null);
  t.is(q.initialAccumulator, undefined);
});

test('lookbackHistory: the last N -r values, deltas 0; age keeps them all', (t) => {
  const vals = (rs: ReturnType<typeof lookbackHistory>) => rs.map((r) => dec.decode(r.value));
  t.deepEqual(vals(lookbackHistory(['1', '2', '3'], { last: 2 })), ['2', '3']);
  t.deepEqual(vals(lookbackHistory(['1', '2', '3'], { last: 10 })), ['1', '2', '3']);
  t.deepEqual(vals(lookbackHistory(['1', '2', '3'], { last: 0 })), []);
  t.deepEqual(vals(lookbackHistory(['1', '2', '3'], { last: 0, ageMs: 1000 })), ['1', '2', '3']);
  t.deepEqual(vals(lookbackHistory(['1', '2', '3'], { last: 1, ageMs: 1000 })), ['3']);
  t.deepEqual(vals(lookbackHistory(['1', '2'], null)), []);
  const [r] = lookbackHistory(['x'], { last: 1 });
  t.deepEqual(Object.keys(r!), ['value']);
});

test('splitLines: as Rust BufRead::lines', (t) => {
  const lines = (s: string | Uint8Array) =>
    splitLines(typeof s === 'string' ? b(s) : s).lines.map((l) => dec.decode(l));
  t.deepEqual(lines(''), []);
  t.deepEqual(lines('a'), ['a']);
  t.deepEqual(lines('a\n'), ['a']);
  t.deepEqual(lines('a\nb'), ['a', 'b']);
  t.deepEqual(lines('a\n\nb\n'), ['a', '', 'b']);
  t.deepEqual(lines('\n'), ['']);
  t.deepEqual(lines('\n\n'), ['', '']);
  t.deepEqual(lines('a\r\nb\r\n'), ['a', 'b']);
  t.deepEqual(lines('a\r'), ['a\r']);
  t.deepEqual(lines('a\r\r\n'), ['a\r']);
  const bad = splitLines(new Uint8Array([0x61, 0x0a, 0xff, 0x0a, 0x62, 0x0a]));
  t.deepEqual(
    bad.lines.map((l) => dec.decode(l)),
    ['a'],
  );
  t.is(bad.stoppedAt, 1);
  t.is(splitLines(b('ok\n')).stoppedAt, null);
});

test('readFirstLine: first line with its newline; empty input is one empty record', async (t) => {
  t.is(dec.decode(await readFirstLine(Readable.from([Buffer.from('hello\nworld\n')]))), 'hello\n');
  t.is(
    dec.decode(await readFirstLine(Readable.from([Buffer.from('he'), Buffer.from('llo'), Buffer.from('\nx')]))),
    'hello\n',
  );
  t.is(dec.decode(await readFirstLine(Readable.from([Buffer.from('no newline')]))), 'no newline');
  t.is((await readFirstLine(Readable.from([]))).length, 0);
  await t.throwsAsync(readFirstLine(Readable.from([Buffer.from([0xff, 0x0a])])), {
    instanceOf: UsageError,
    message: /not UTF-8/,
  });
});

test('resolveUses without a registry: relative to the base directory, with or without .wasm', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'eddy-uses-'));
  try {
    await writeFile(join(dir, 'm.wasm'), '');
    const files = { registry: null, baseDir: dir };
    t.deepEqual(resolveUses('m.wasm', files), { file: join(dir, 'm.wasm') });
    t.deepEqual(resolveUses('m', files), { file: join(dir, 'm.wasm') });
    t.deepEqual(resolveUses(join(dir, 'm'), { registry: null, baseDir: '/elsewhere' }), { file: join(dir, 'm.wasm') });
    const err = t.throws(() => resolveUses('acme/redact@0.2.0', files, 't.yaml: transforms[0].uses'), {
      instanceOf: UnknownModuleError,
    });
    t.regex(
      err!.message,
      /^t\.yaml: transforms\[0\]\.uses: SmartModule file acme\/redact@0\.2\.0 not found \(looked for .*acme\/redact@0\.2\.0 and .*acme\/redact@0\.2\.0\.wasm\)/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------- main()

test('main: help says what Eddy is and exits 0', async (t) => {
  const r = await runMain(['--help']);
  t.is(r.code, 0);
  t.regex(r.stdout, /Usage: eddy/);
  t.regex(r.stdout, /stream processor/);
  t.regex(r.stdout, /SmartModules/);
  t.regex(r.stdout, /test \[options\]/);
  const h = await runMain(['test', '--help']);
  t.is(h.code, 0);
  for (const opt of [
    '--wasm-file',
    '--text',
    '--stdin',
    '--file',
    '--raw',
    '--key',
    '--key-value',
    '--params',
    '--transforms-file',
    '--transform',
    '--record',
    '--lookback-last',
    '--lookback-age',
    '--aggregate-initial',
    '--verbose',
  ]) {
    t.true(h.stdout.includes(opt), opt);
  }
});

test('main: usage errors are one clear line on stderr, exit 1', async (t) => {
  const r = await runMain(['test', '--wasm-file', 'm.wasm']);
  t.is(r.code, 1);
  t.is(r.stdout, '');
  t.is(r.stderr, 'Error: no input: give one of --text TEXT, --stdin or --file PATH\n');
  const u = await runMain(['test', '--bogus']);
  t.is(u.code, 1);
  t.regex(u.stderr, /unknown option '--bogus'/);
  const c = await runMain(['tset']);
  t.is(c.code, 1);
  t.regex(c.stderr, /Did you mean test\?/);
});

test('main: a missing module file names it', async (t) => {
  const r = await runMain(['test', '--wasm-file', 'does-not-exist.wasm', '--text', 'a']);
  t.is(r.code, 1);
  t.regex(r.stderr, /^Error: does-not-exist\.wasm: no such file; give the path of a SmartModule \.wasm/);
});

test('main: a bad transforms file names file, step and field', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'eddy-cli-'));
  try {
    await writeFile(join(dir, 't.yaml'), 'transforms:\n  - uses: m.wasm\n    with:\n      n: 5\n');
    const r = await runMain(['test', '-t', 't.yaml', '--text', 'a'], { cwd: dir });
    t.is(r.code, 1);
    t.regex(
      r.stderr,
      /^Error: .*t\.yaml:4: transforms\[0\]\.with\.n: the number 5 is not a string; .*quote it: n: "5"\n$/,
    );
    await writeFile(join(dir, 't.yaml'), 'transforms:\n  - uses: m.wasm\n');
    const missing = await runMain(['test', '--transforms', 't.yaml', '--text', 'a'], { cwd: dir });
    t.regex(missing.stderr, /t\.yaml: transforms\[0\]\.uses: SmartModule file m\.wasm not found/);
    const inline = await runMain(
      ['test', '--transform', '{"uses":"m.wasm"}', '--transforms-line', '{"uses": 1}', '--text', 'a'],
      { cwd: dir },
    );
    t.regex(inline.stderr, /^Error: --transform\[1\]: uses: must be a module name/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the real launcher runs and reports usage errors', async (t) => {
  const r = await runCli(['test', '--text', 'a']);
  t.is(r.code, 1);
  t.regex(r.stderr, /^Error: no module: give --wasm-file PATH/);
  const v = await runCli(['--version']);
  t.is(v.code, 0);
  t.regex(v.stdout, /^\d+\.\d+\.\d+\n$/);
});

// ---------------------------------------------------------------------------------------- real modules

/** Fluvio's `filter` example (keeps values containing "a"; a non-UTF-8 value is a runtime error). */
const filterWasm = () => wasmPath('filter');

test('real filter: --text keeps or drops the record', async (t) => {
  const keep = await runCli(['test', '--wasm-file', filterWasm(), '--text', 'apple']);
  t.deepEqual(keep, { code: 0, stdout: 'apple\n', stderr: '' });
  const drop = await runCli(['test', '--wasm-file', filterWasm(), '--text', 'hello']);
  t.deepEqual(drop, { code: 0, stdout: '', stderr: '' });
  const verbose = await runCli(['test', '--wasm-file', filterWasm(), '--text', 'hello', '-v']);
  t.deepEqual(verbose, { code: 0, stdout: '0 records outputted\n', stderr: '' });
});

test('--file fanned out over workers prints byte for byte what one thread prints: module output per batch in input order, outputs, a runtime error or a trap mid-file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'eddy-cli-'));
  try {
    // 4 500 records (5 batches): a module that writes each batch's first value to stdout, then a
    // filter that fails on "bad" (a runtime error) or traps on "boom", in the fourth batch.
    await writeFile(join(dir, 'print.wasm'), printingPassThrough());
    const values = Array.from({ length: 4500 }, (_, i) => `v${String(i).padStart(4, '0')}`);
    for (const [name, bad] of [
      ['error', 'bad'],
      ['trap', 'boom'],
      ['clean', null],
    ] as const) {
      await writeFile(join(dir, `${name}.txt`), `${values.map((v, i) => (i === 3210 && bad ? bad : v)).join('\n')}\n`);
    }
    const chain = (second: string) => ['--transform', '{"uses":"print.wasm"}', '--transform', `{"uses":"${second}"}`];
    for (const [file, second, code] of [
      ['error.txt', wasmPath('fail-on'), 1],
      ['trap.txt', wasmPath('trap'), 1],
      ['clean.txt', wasmPath('fail-on'), 0],
    ] as const) {
      const args = ['test', '--file', file, ...chain(second), '-v'];
      const spread = await runCli(['--workers', '2', ...args], { cwd: dir });
      const one = await runCli(['--workers', '2', ...args, '--no-fan-out'], { cwd: dir });
      t.deepEqual(spread, one, file);
      t.is(spread.code, code, file);
      const printed = spread.stderr.split('\n').filter((l) => l.startsWith('[print.wasm] '));
      const batches = code === 0 ? 5 : 4; // batches after the failing one print nothing
      t.deepEqual(
        printed,
        Array.from({ length: batches }, (_, i) => `[print.wasm] v${String(i * 1000).padStart(4, '0')}`),
        file,
      );
      const outputs = code === 0 ? 4500 : file === 'trap.txt' ? 3000 : 3210;
      t.is(spread.stdout, `${outputs} records outputted\n${values.slice(0, outputs).join('\n')}\n`, file);
    }
    t.regex(
      (await runCli(['test', '--file', 'error.txt', ...chain(wasmPath('fail-on'))], { cwd: dir })).stderr,
      /Error: cannot parse bad/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('real filter: --file lines, -k with and without --key, -v', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'eddy-cli-'));
  try {
    await writeFile(join(dir, 'in.txt'), 'apple\nhello\nbanana\r\n\ncat\n');
    const r = await runCli(['test', '--wasm-file', filterWasm(), '--file', 'in.txt', '-v', '-k'], { cwd: dir });
    t.deepEqual(r, { code: 0, stdout: '3 records outputted\n[null] apple\n[null] banana\n[null] cat\n', stderr: '' });
    const k = await runCli(['test', '--wasm-file', filterWasm(), '--file', 'in.txt', '--key', 'user', '--key-value'], {
      cwd: dir,
    });
    t.is(k.stdout, '[user] apple\n[user] banana\n[user] cat\n');
    const noK = await runCli(['test', '--wasm-file', filterWasm(), '--file', 'in.txt', '--key', 'user'], { cwd: dir });
    t.is(noK.stdout, 'apple\nbanana\ncat\n');
    // --raw: the whole file is one record (it contains "a").
    const raw = await runCli(['test', '--wasm-file', filterWasm(), '--file', 'in.txt', '--raw'], { cwd: dir });
    t.is(raw.stdout, 'apple\nhello\nbanana\r\n\ncat\n\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('real filter: --file stops at the first non-UTF-8 line, with a warning', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'eddy-cli-'));
  try {
    await writeFile(join(dir, 'in.txt'), Buffer.from([...b('banana\n'), 0xff, 0x61, 0x0a, ...b('apple\n')]));
    const r = await runCli(['test', '--wasm-file', filterWasm(), '--file', 'in.txt'], { cwd: dir });
    t.is(r.code, 0);
    t.is(r.stdout, 'banana\n');
    t.regex(r.stderr, /^warning: --file in\.txt: line 2 is not UTF-8 text; reading stopped there/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('real filter: --stdin takes the first line with its newline', async (t) => {
  const r = await runCli(['test', '--wasm-file', filterWasm(), '--stdin'], { stdin: 'abc\nxyz-a\n' });
  t.deepEqual(r, { code: 0, stdout: 'abc\n\n', stderr: '' });
  const none = await runCli(['test', '--wasm-file', filterWasm(), '--stdin'], { stdin: 'xyz\n' });
  t.is(none.stdout, '');
});

test('real filter: a runtime error goes to stderr as Fluvio renders it, exit 1', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'eddy-cli-'));
  try {
    await writeFile(join(dir, 'bin.dat'), Buffer.from([0x61, 0xff, 0x61]));
    const r = await runCli(['test', '--wasm-file', filterWasm(), '--file', 'bin.dat', '--raw', '--key', 'k1'], {
      cwd: dir,
    });
    t.is(r.code, 1);
    t.is(r.stdout, '');
    t.regex(
      r.stderr,
      /^Error: .*utf-8.*\n\nSmartModule Info: \n {4}Module: filter\n {4}Type: Filter\n {4}Offset: 0\n {4}Key: k1\n {4}Value: Binary: 3 bytes\n$/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('real filter: chains from a transforms file (uses relative to it, .wasm optional) and inline steps', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'eddy-cli-'));
  try {
    await writeFile(join(dir, 'f.wasm'), await readFile(filterWasm()));
    await writeFile(
      join(dir, 'transforms.yaml'),
      'transforms:\n  - uses: f.wasm\n  - uses: f\n    lookback: {last: 2}\n    with: {unused: "x"}\n',
    );
    const other = await mkdtemp(join(tmpdir(), 'eddy-cwd-'));
    try {
      const r = await runCli(['test', '-t', join(dir, 'transforms.yaml'), '--text', 'banana', '-v'], { cwd: other });
      t.deepEqual(r, { code: 0, stdout: '1 records outputted\nbanana\n', stderr: '' });
    } finally {
      await rm(other, { recursive: true, force: true });
    }
    const inline = await runCli(
      ['test', '--transform', '{"uses":"f.wasm"}', '--transforms-line', '{"uses":"f"}', '--text', 'cherry'],
      { cwd: dir },
    );
    t.deepEqual(inline, { code: 0, stdout: '', stderr: '' });
    const empty = await runCli(['test', '--transform', '{"uses":"f"}', '--text', 'a', '-k'], { cwd: dir });
    t.is(empty.stdout, '[null] a\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('real filter: -r without a lookback is ignored with a warning; -l on a module without look_back is harmless', async (t) => {
  const r = await runCli(['test', '--wasm-file', filterWasm(), '--text', 'apple', '-r', 'x']);
  t.is(r.code, 0);
  t.is(r.stdout, 'apple\n');
  t.regex(r.stderr, /^warning: --record values feed look_back only with --lookback-last/);
  const l = await runCli([
    'test',
    '--wasm-file',
    filterWasm(),
    '--text',
    'apple',
    '-l',
    '1',
    '-r',
    'x',
    '--lookback-age',
    '1h',
    '-e',
    'k=v',
  ]);
  t.deepEqual(l, { code: 0, stdout: 'apple\n', stderr: '' });
});

test('docs example: a look_back filter keeps values above the last history value', async (t) => {
  const m = wasmPath('filter-look-back');
  t.deepEqual(
    await runCli(['test', '--wasm-file', m, '--text', '4', '--lookback-last', '1', '--record', '2', '--record', '3']),
    { code: 0, stdout: '4\n', stderr: '' },
  );
  t.deepEqual(
    await runCli(['test', '--wasm-file', m, '--text', '1', '--lookback-last', '1', '--record', '2', '--record', '3']),
    { code: 0, stdout: '', stderr: '' },
  );
  // -l keeps the LAST N records: with -l 2 the history is 3, 0 and look_back stores 0.
  t.is(
    (await runCli(['test', '--wasm-file', m, '--text', '1', '-l', '2', '-r', '2', '-r', '3', '-r', '0'])).stdout,
    '1\n',
  );
  // -l 0: no history records; without -l: look_back is not called.
  t.is((await runCli(['test', '--wasm-file', m, '--text', '1', '-l', '0', '-r', '5'])).stdout, '1\n');
  // --lookback-age alone counts as a lookback: every -r record is history.
  t.is(
    (await runCli(['test', '--wasm-file', m, '--text', '4', '--lookback-age', '1h', '-r', '5', '-r', '3'])).stdout,
    '4\n',
  );
  t.is(
    (await runCli(['test', '--wasm-file', m, '--text', '4', '--lookback-age', '1h', '-r', '3', '-r', '5'])).stdout,
    '',
  );
});

test('a look_back error is reported with its record, exit 1', async (t) => {
  const r = await runCli(['test', '--wasm-file', wasmPath('filter-look-back'), '--text', '3', '-l', '1', '-r', 'x']);
  t.is(r.code, 1);
  t.is(r.stdout, '');
  t.regex(
    r.stderr,
    /^Error: filter-look-back: look_back failed: invalid digit found in string\n\n.*\n {4}Offset: 0\n {4}Key: NULL\n {4}Value: x\n$/,
  );
});

test('look_back sees -r records at timestamp 0 under --lookback-age; the batch is stamped now', async (t) => {
  const r = await runCli([
    'test',
    '--wasm-file',
    wasmPath('look-back-age'),
    '--text',
    'x',
    '--lookback-age',
    '1h',
    '-r',
    'a',
  ]);
  t.deepEqual(r, { code: 0, stdout: 'x\n', stderr: '' });
});

test('-e parameters reach init: last wins, split at the first =; a missing one is an init error', async (t) => {
  const echo = await runCli([
    'test',
    '--wasm-file',
    wasmPath('echo-params'),
    '--text',
    'a',
    '-e',
    'b=2',
    '-e',
    'a=1',
    '--params',
    'b=3',
    '-e',
    'c=x=y',
  ]);
  t.deepEqual(echo, { code: 0, stdout: 'a=1;b=3;c=x=y\n', stderr: '' });
  const m = wasmPath('filter-param');
  t.deepEqual(await runCli(['test', '--wasm-file', m, '--text', 'apple', '-e', 'key=pp']), {
    code: 0,
    stdout: 'apple\n',
    stderr: '',
  });
  t.deepEqual(await runCli(['test', '--wasm-file', m, '--text', 'apple', '-e', 'key=zz']), {
    code: 0,
    stdout: '',
    stderr: '',
  });
  const missing = await runCli(['test', '--wasm-file', m, '--text', 'apple']);
  t.is(missing.code, 1);
  t.is(missing.stdout, '');
  t.regex(missing.stderr, /^Error: filter-param: init failed: Missing param key\n/);
  t.regex(missing.stderr, /hint: .*-e KEY=VALUE\n$/);
});

test('transforms with: values reach init; the YAML lookback is dropped unless -l is given', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'eddy-cli-'));
  try {
    await writeFile(join(dir, 'echo.wasm'), await readFile(wasmPath('echo-params')));
    await writeFile(join(dir, 'lb.wasm'), await readFile(wasmPath('filter-look-back')));
    await writeFile(
      join(dir, 't.yaml'),
      'transforms:\n  - uses: echo\n    with:\n      z: "1"\n      rules: {b: [1.0, true], a: null}\n',
    );
    t.deepEqual(await runCli(['test', '-t', 't.yaml', '--text', 'v'], { cwd: dir }), {
      code: 0,
      stdout: 'rules={"a":null,"b":[1.0,true]};z=1\n',
      stderr: '',
    });
    await writeFile(join(dir, 'lb.yaml'), 'transforms:\n  - uses: lb\n    lookback: {last: 5}\n');
    await writeFile(join(dir, 'pm.wasm'), await readFile(wasmPath('filter-param')));
    await writeFile(join(dir, 'pm.yaml'), 'transforms:\n  - uses: pm\n');
    const init = await runCli(['test', '-t', 'pm.yaml', '--text', 'v'], { cwd: dir });
    t.is(init.code, 1);
    t.regex(init.stderr, /^Error: pm: init failed: Missing param key\n[\s\S]*hint: .*`with:`\n$/);
    // An empty chain returns its input.
    await writeFile(join(dir, 'empty.yaml'), 'transforms: []\n');
    t.is(
      (await runCli(['test', '-t', 'empty.yaml', '--text', 'v', '--key', 'k', '-k'], { cwd: dir })).stdout,
      '[k] v\n',
    );
    // Without -l the YAML lookback is dropped: look_back is not called, 1 > 0 passes.
    t.is((await runCli(['test', '-t', 'lb.yaml', '--text', '1', '-r', '3'], { cwd: dir })).stdout, '1\n');
    // -l replaces it.
    t.is((await runCli(['test', '-t', 'lb.yaml', '--text', '1', '-r', '3', '-l', '1'], { cwd: dir })).stdout, '');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('runtime error mid-batch: the records before it on stdout, the error on stderr, exit 1', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'eddy-cli-'));
  try {
    await writeFile(join(dir, 'in.txt'), 'ok1\nbad\nok2\n');
    const r = await runCli(
      ['test', '--wasm-file', wasmPath('fail-on'), '--file', 'in.txt', '-v', '-k', '--key', 'kk'],
      { cwd: dir },
    );
    t.is(r.code, 1);
    t.is(r.stdout, '1 records outputted\n[kk] ok1\n');
    t.is(
      r.stderr,
      'Error: cannot parse bad\n\nSmartModule Info: \n    Module: fail-on\n    Type: Filter\n    Offset: 0\n    Key: kk\n    Value: bad\n',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a value that is not UTF-8 stops printing with an error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'eddy-cli-'));
  try {
    await writeFile(join(dir, 'bin.dat'), Buffer.from([0x61, 0xff, 0x62]));
    const r = await runCli(['test', '--wasm-file', wasmPath('fail-on'), '--file', 'bin.dat', '--raw'], { cwd: dir });
    t.is(r.code, 1);
    t.is(r.stdout, '');
    t.regex(r.stderr, /^Error: output record 0 has a value that is not valid UTF-8 text \(3 bytes\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a trap is "Error: ..." on stderr, exit 1, nothing on stdout', async (t) => {
  const r = await runCli(['test', '--wasm-file', wasmPath('trap'), '--text', 'boom']);
  t.is(r.code, 1);
  t.is(r.stdout, '');
  t.regex(r.stderr, /^Error: trap: trapped in filter.*unreachable/);
});

test('other kinds: map, array_map, aggregate with --aggregate-initial', async (t) => {
  t.is(
    (await runCli(['test', '--wasm-file', wasmPath('map-uppercase'), '--text', 'abc', '--key', 'k', '-k'])).stdout,
    '[k] ABC\n',
  );
  t.is(
    (await runCli(['test', '--wasm-file', wasmPath('array-map-json'), '--text', '[1,{"b":2,"a":1},"x"]', '-v'])).stdout,
    '3 records outputted\n1\n{"a":1,"b":2}\n"x"\n',
  );
  const dir = await mkdtemp(join(tmpdir(), 'eddy-cli-'));
  try {
    await writeFile(join(dir, 'n.txt'), '1\n2\n3\n');
    t.is(
      (await runCli(['test', '--wasm-file', wasmPath('aggregate-sum'), '--file', 'n.txt'], { cwd: dir })).stdout,
      '1\n3\n6\n',
    );
    t.is(
      (
        await runCli(
          ['test', '--wasm-file', wasmPath('aggregate-sum'), '--file', 'n.txt', '--aggregate-initial', '100'],
          { cwd: dir },
        )
      ).stdout,
      '101\n103\n106\n',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
