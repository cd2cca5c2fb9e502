import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { wasmPath } from './helpers/wasm.js';

/**
 * The README's quickstart story, end to end, through the real command line (`node bin/eddy.js`)
 * in child processes: topics, a registered SmartModule, produce, consume with --filter by name
 * and by path, a transforms.yaml chain with look_back, an aggregate with an initial value, a
 * derived stream run by `eddy run` in the background and stopped with SIGINT, an http source
 * connector fed by a local server, and a file sink.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'eddy.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function setup() {
  const work = mkdtempSync(join(tmpdir(), 'eddy-e2e-'));
  const env = { ...process.env, EDDY_DATA_DIR: join(work, 'data'), EDDY_WORKERS: '2' };
  const start = (
    args: string[],
    stdin?: string,
  ): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number> } => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: work, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const exited = new Promise<number>((res, rej) => {
      child.on('error', rej);
      child.on('close', (code, signal) => res(code ?? (signal ? -1 : 0)));
    });
    child.stdin!.end(stdin ?? '');
    return { child, out: () => out, err: () => err, exited };
  };
  const eddy = async (args: string[], stdin?: string): Promise<Run> => {
    const p = start(args, stdin);
    const code = await p.exited;
    return { code, stdout: p.out(), stderr: p.err() };
  };
  const ok = async (args: string[], stdin?: string): Promise<string> => {
    const r = await eddy(args, stdin);
    if (r.code !== 0) throw new Error(`eddy ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
    return r.stdout;
  };
  return { work, start, eddy, ok };
}

async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error(`timed out; last value: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const lines = (s: string) => s.split('\n').filter(Boolean);

test('the quickstart story through the real CLI', async (t) => {
  t.timeout(90_000);
  const { work, start, eddy, ok } = setup();
  copyFileSync(wasmPath('filter'), join(work, 'filter.wasm'));
  copyFileSync(wasmPath('map-uppercase'), join(work, 'map-uppercase.wasm'));
  copyFileSync(wasmPath('filter-look-back'), join(work, 'filter-look-back.wasm'));
  copyFileSync(wasmPath('aggregate-sum'), join(work, 'aggregate-sum.wasm'));

  // Topics and a registered SmartModule.
  t.is(await ok(['topic', 'create', 'fruit']), 'topic "fruit" created\n');
  t.is(
    await ok(['topic', 'create', 'numbers', '--partitions', '1', '--retention-time', '1d']),
    'topic "numbers" created\n',
  );
  t.regex(
    await ok(['smart-module', 'create', 'keep-a', '--wasm-file', 'filter.wasm']),
    /^smartmodule "keep-a" has been created \(filter, \d+ bytes\)\n$/,
  );
  t.regex(await ok(['sm', 'list']), /^ NAME +STATUS +SIZE\n keep-a +ready +\d+\n$/);

  // Produce and consume: all of it, the tail with keys, one record with a template; an unknown topic.
  await ok(['produce', 'fruit'], 'apple\nkiwi\nbanana\nplum\ngrape\n');
  t.is(await ok(['consume', 'fruit', '-B', '-d']), 'apple\nkiwi\nbanana\nplum\ngrape\n');
  const unknown = await eddy(['consume', 'vegetables', '-B', '-d']);
  t.is(unknown.code, 1);
  t.is(
    unknown.stderr,
    'Error: topic "vegetables" does not exist; create it with `eddy topic create vegetables` (`eddy topic list` shows the topics)\n',
  );
  t.is(await ok(['consume', 'fruit', '-T', '2', '-d', '-k']), '[null] plum\n[null] grape\n');
  await ok(['produce', 'fruit', '--key', 'dessert'], 'apple pie\n');
  t.is(
    await ok(['consume', 'fruit', '-o', '-1', '-d', '--format', '{{offset}} [{{key}}] {{value}}']),
    '5 [dessert] apple pie\n',
  );

  // Through a filter by registered name and by path, a map by path.
  t.is(await ok(['consume', 'fruit', '-B', '-d', '--filter', 'keep-a']), 'apple\nbanana\ngrape\napple pie\n');
  t.is(await ok(['consume', 'fruit', '-B', '-d', '--filter', 'filter.wasm']), 'apple\nbanana\ngrape\napple pie\n');
  t.is(
    await ok(['consume', 'fruit', '-B', '-d', '--map', 'map-uppercase.wasm']),
    'APPLE\nKIWI\nBANANA\nPLUM\nGRAPE\nAPPLE PIE\n',
  );

  // A transforms.yaml chain with look_back, and an aggregate with an initial value.
  await ok(['produce', 'numbers'], '4\n9\n2\n12\n6\n');
  writeFileSync(
    join(work, 'rising-sum.yaml'),
    'transforms:\n  - uses: filter-look-back.wasm\n    lookback:\n      last: 1\n  - uses: aggregate-sum.wasm\n',
  );
  t.is(await ok(['consume', 'numbers', '-B', '-d', '--transforms-file', 'rising-sum.yaml']), '9\n21\n');
  t.is(
    await ok(['consume', 'numbers', '-B', '-d', '--aggregate', 'aggregate-sum.wasm', '--aggregate-initial', '100']),
    '104\n113\n115\n127\n133\n',
  );

  // A derived stream, run by `eddy run` in the background, stopped with SIGINT.
  await ok(['topic', 'create', 'loud-fruit']);
  writeFileSync(join(work, 'shout.yaml'), 'transforms:\n  - uses: keep-a\n  - uses: map-uppercase.wasm\n');
  t.regex(
    await ok([
      'derive',
      'create',
      'shout',
      '--source',
      'fruit',
      '--target',
      'loud-fruit',
      '--transforms-file',
      'shout.yaml',
    ]),
    /^derived stream "shout" created/,
  );
  const run = start(['run', '--status-interval', '300ms']);
  await until(
    () => ok(['consume', 'loud-fruit', '-B', '-d']),
    (s) => lines(s).length >= 4,
  );
  // While `eddy run` holds the data directory, `eddy produce` writes through it.
  await ok(['produce', 'fruit'], 'banana split\n');
  const loud = await until(
    () => ok(['consume', 'loud-fruit', '-B', '-d']),
    (s) => lines(s).length >= 5,
  );
  t.is(loud, 'APPLE\nBANANA\nGRAPE\nAPPLE PIE\nBANANA SPLIT\n');
  run.child.kill('SIGINT');
  t.is(await run.exited, 0, run.err());
  t.regex(run.err(), /^eddy run: shout \(fruit → loud-fruit\); Ctrl-C stops\n/);
  t.regex(run.err(), /eddy run stopped \(shout wrote 5 records\)\n$/);
  t.regex(
    await ok(['derive', 'list']),
    /\n {2}shout +fruit +loud-fruit +keep-a \| map-uppercase\.wasm +stop +7 +5 +0 +0 +ok\n$/,
  );

  // An http source connector polling a local server into a topic it creates.
  let n = 0;
  const server = createServer((_req, res) => {
    n++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ fact: `cats sleep ${n * 2} hours` }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fact`;
  writeFileSync(
    join(work, 'cat-facts.yml'),
    [
      'apiVersion: 0.1.0',
      'meta:',
      '  version: 0.1.0',
      '  name: cat-facts',
      '  type: http-source',
      '  topic: cat-facts',
      '  create-topic: true',
      'http:',
      `  endpoint: ${url}`,
      '  interval: 200ms',
      'transforms:',
      '  - uses: map-uppercase.wasm',
      '',
    ].join('\n'),
  );
  const source = start(['connector', 'run', '--config', 'cat-facts.yml']);
  const facts = await until(
    () => eddy(['consume', 'cat-facts', '-B', '-d']),
    (r) => r.code === 0 && lines(r.stdout).length >= 3,
  );
  source.child.kill('SIGINT');
  t.is(await source.exited, 0, source.err());
  server.close();
  t.deepEqual(
    lines(facts.stdout).slice(0, 3),
    [1, 2, 3].map((i) => `{"FACT":"CATS SLEEP ${i * 2} HOURS"}`),
  );
  t.regex(
    source.err(),
    /^\[cat-facts\] http-source: polling GET http:\/\/127\.0\.0\.1:\d+\/fact every 200 ms into topic "cat-facts"; Ctrl-C stops\n/,
  );
  t.regex(source.err(), /\[cat-facts\] stopped: \d+ records produced, 0 errors\n$/);

  // A file sink writing a topic to a file, one line per record.
  writeFileSync(
    join(work, 'fruit-file.yml'),
    [
      'apiVersion: 0.1.0',
      'meta:',
      '  version: 0.1.0',
      '  name: fruit-file',
      '  type: file-sink',
      '  topic: loud-fruit',
      '  consumer:',
      '    offset:',
      '      start: beginning',
      'file:',
      '  path: loud-fruit.txt',
      '',
    ].join('\n'),
  );
  const sink = start(['connector', 'run', '--config', 'fruit-file.yml']);
  const file = join(work, 'loud-fruit.txt');
  await until(
    async () => (existsSync(file) ? readFileSync(file, 'utf8') : ''),
    (s) => lines(s).length >= 5,
  );
  sink.child.kill('SIGINT');
  t.is(await sink.exited, 0, sink.err());
  t.is(readFileSync(file, 'utf8'), 'APPLE\nBANANA\nGRAPE\nAPPLE PIE\nBANANA SPLIT\n');
  t.regex(sink.err(), /\[fruit-file\] stopped: 5 records delivered, 0 errors\n$/);

  const topics = await ok(['topic', 'list']);
  const row = (name: string, partitions: number, retention: string, records: number) =>
    new RegExp(
      `\\n  ${name} +computed +${partitions} +1 +${retention} +none +none +resolution::provisioned +${records} +\\d+ B +100 GB\\n`,
    );
  t.regex(
    topics,
    /^ {2}NAME +TYPE +PARTITIONS +REPLICAS +RETENTION TIME +COMPRESSION +DEDUPLICATION +STATUS +REASON +RECORDS +SIZE +MAX PARTITION SIZE\n {2}cat-facts +computed +1 /,
  );
  t.regex(topics, row('fruit', 1, '7d', 7));
  t.regex(topics, row('loud-fruit', 1, '7d', 5));
  t.regex(topics, row('numbers', 1, '1d', 5));
});
