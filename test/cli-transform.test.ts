import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { setup } from './helpers/cli-process.js';
import { wasmPath } from './helpers/wasm.js';

/** `eddy transform` end to end, as child processes: stdin, files, --output, both error policies. */

const N = 40_000; // several batches, so a fanned-out chain spreads them over both workers
const numbers = Array.from({ length: N }, (_, i) => String(i));

test('stdin through a stateless map on 2 workers: every output, in input order, and no data directory', async (t) => {
  const { eddy, data } = setup(t, 'eddy-transform-');
  const r = await eddy(['--workers', '2', 'transform', '--map', wasmPath('map-double')], `${numbers.join('\n')}\n`);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(
    r.stdout.split('\n').slice(0, -1),
    numbers.map((n) => String(Number(n) * 2)),
  );
  t.false(existsSync(data), 'nothing stored');
});

test('files in order to --output, empty lines skipped; a registered name is read from the data directory', async (t) => {
  const { eddy, ok, work } = setup(t, 'eddy-transform-');
  writeFileSync(join(work, 'a.txt'), 'apple\nkiwi\n\nbanana\n');
  writeFileSync(join(work, 'b.txt'), 'plum\r\ngrape'); // CRLF, and no final newline
  const r = await eddy([
    '--workers',
    '2',
    'transform',
    'a.txt',
    'b.txt',
    '--filter',
    wasmPath('filter'),
    '--output',
    'out.txt',
  ]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '');
  t.is(readFileSync(join(work, 'out.txt'), 'utf8'), 'apple\nbanana\ngrape\n');
  await ok(['smart-module', 'create', 'keep-a', '--wasm-file', wasmPath('filter')]);
  t.is(await ok(['transform', 'a.txt', '--filter', 'keep-a']), 'apple\nbanana\n');
});

test('a module error under --policy stop: what came before is printed, the record is named, exit 1', async (t) => {
  const { eddy } = setup(t, 'eddy-transform-');
  const lines = [...numbers.slice(0, 20_000), 'bad', ...numbers.slice(20_000, 20_100)];
  const r = await eddy(['--workers', '2', 'transform', '--smartmodule', wasmPath('fail-on')], `${lines.join('\n')}\n`);
  t.is(r.code, 1);
  t.deepEqual(r.stdout.split('\n').slice(0, -1), numbers.slice(0, 20_000));
  t.regex(r.stderr, /cannot parse bad/);
  t.regex(r.stderr, /Input: line 20001/);
});

test('a module error under --policy skip: the rest goes through, skipped records are counted and kept in the side file', async (t) => {
  const { eddy, work } = setup(t, 'eddy-transform-');
  const lines = [...numbers];
  for (const at of [5, 17_000, 33_333]) lines.splice(at, 0, 'bad');
  const r = await eddy(
    ['--workers', '2', 'transform', '--smartmodule', wasmPath('fail-on'), '--policy', 'skip', '-o', 'out.txt'],
    `${lines.join('\n')}\n`,
  );
  t.is(r.code, 0, r.stderr);
  t.deepEqual(readFileSync(join(work, 'out.txt'), 'utf8').split('\n').slice(0, -1), numbers);
  t.regex(r.stderr, /skipped 3 of 40003 records/);
  const side = readFileSync(join(work, 'out.txt.skipped'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { line: number; value: string; error: { code: string } });
  t.deepEqual(
    side.map((s) => s.line),
    [6, 17_001, 33_334],
  );
  t.true(side.every((s) => s.value === 'bad' && s.error.code === 'EDDY_SM_RUNTIME'));
});

test('--json-records carries keys through; --raw makes each file one record; an aggregate runs in order', async (t) => {
  const { eddy, ok, work } = setup(t, 'eddy-transform-');
  const json = '{"key":"k1","value":"apple"}\n{"value":"kiwi"}\n{"key":"k3","value":{"n":"banana"}}\n';
  t.is(
    await ok(['transform', '--json-records', '--map', wasmPath('map-uppercase')], json),
    '{"key":"k1","value":"APPLE"}\n{"key":null,"value":"KIWI"}\n{"key":"k3","value":"{\\"N\\":\\"BANANA\\"}"}\n',
  );
  writeFileSync(join(work, 'x.txt'), 'one\ntwo\n');
  t.is(await ok(['transform', '--raw', 'x.txt', '--map', wasmPath('map-uppercase')]), 'ONE\nTWO\n\n');
  t.is(
    await ok(
      ['--workers', '2', 'transform', '--aggregate', wasmPath('aggregate-sum'), '--aggregate-initial', '10'],
      '1\n2\n3\n',
    ),
    '11\n13\n16\n',
  );
  const bad = await eddy(['transform', '--raw', '--json-records', '--map', wasmPath('map-uppercase')]);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /cannot be used together/);
});

test('several MiB of lines to --output on 2 workers, in pieces growing to 1 MiB: each output exactly once, in order', async (t) => {
  const { eddy, work } = setup(t, 'eddy-transform-');
  // Values are written from the results' memory, which goes back to the workers once written.
  const many = Array.from({ length: 700_000 }, (_, i) => `${i}`.padStart(7, '0'));
  writeFileSync(join(work, 'in.txt'), `${many.join('\n')}\n`);
  const r = await eddy(['--workers', '2', 'transform', 'in.txt', '--map', wasmPath('map-double'), '-o', 'out.txt']);
  t.is(r.code, 0, r.stderr);
  const out = readFileSync(join(work, 'out.txt'), 'utf8').split('\n');
  t.is(out.pop(), '');
  t.is(out.length, many.length);
  t.true(
    out.every((v, i) => v === String(i * 2)),
    'every line doubled, in input order',
  );
});
