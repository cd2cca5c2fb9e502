import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { buildCommand } from '../src/cli/build.js';
import { type GenerateKind, generateCommand } from '../src/cli/generate.js';
import { decodeRecords, encodeRecords } from '../src/protocol/index.js';
import { compilerVersion, eddyRoot } from '../src/sdk-build/compile.js';
import { loadModule } from '../src/smartmodule/index.js';

// `eddy generate` + `eddy build`: generated projects build to valid SmartModules that do what
// their README says, through the engine and through `eddy test`.

const root = mkdtempSync(join(tmpdir(), 'eddy-gen-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

function capture(): {
  io: { stdout: { write(s: string): void }; stderr: { write(s: string): void }; cwd: string };
  out: () => string;
  err: () => string;
} {
  let out = '',
    err = '';
  return {
    io: {
      stdout: {
        write: (s: string) => {
          out += s;
        },
      },
      stderr: {
        write: (s: string) => {
          err += s;
        },
      },
      cwd: root,
    },
    out: () => out,
    err: () => err,
  };
}

const CASES: {
  kind: GenerateKind;
  params: boolean;
  lookback: boolean;
  json?: boolean;
  input: string[];
  param?: string;
  expect: string[];
}[] = [
  { kind: 'filter', params: false, lookback: false, input: ['apple', 'kiwi'], expect: ['apple'] },
  { kind: 'map', params: true, lookback: false, input: ['apple'], param: 'fruit', expect: ['APPLE'] },
  {
    kind: 'filter-map',
    params: false,
    lookback: true,
    input: ['apple', 'kiwi', 'banana'],
    expect: ['APPLE', 'BANANA'],
  },
  { kind: 'array-map', params: true, lookback: false, input: ['a,b', 'c'], param: ',', expect: ['a', 'b', 'c'] },
  { kind: 'aggregate', params: true, lookback: true, input: ['x', 'y'], param: '+', expect: ['x', 'x+y'] },
  // JSON templates: the on-demand reader, output written as serde_json writes it
  {
    kind: 'filter',
    params: false,
    lookback: true,
    json: true,
    input: ['{"level":"error","m":1}', '{"level":"info"}', 'kiwi', '{"level": "error"}'],
    expect: ['{"level":"error","m":1}', '{"level": "error"}'],
  },
  {
    kind: 'map',
    params: true,
    json: true,
    lookback: false,
    input: ['{"ts":1,"message":"a\\u00e9\\n","level":"warn","x":[1]}'],
    param: 'fruit',
    expect: ['{"level":"warn","message":"aé\\n"}'],
  },
  {
    kind: 'filter-map',
    params: true,
    lookback: false,
    json: true,
    input: ['{"level":"warn","message":"w"}', '{"level":"error","message":"e"}'],
    param: 'warn',
    expect: ['{"message":"w"}'],
  },
  {
    kind: 'array-map',
    params: false,
    lookback: false,
    json: true,
    input: ['[1, "a\\"b", {"k": [true]} ]', '[]', '[null]'],
    expect: ['1', '"a\\"b"', '{"k": [true]}', 'null'],
  },
  {
    kind: 'aggregate',
    params: true,
    lookback: false,
    json: true,
    input: ['{"n":0.1}', '{"n":0.2}', '{"n":1e21}'],
    param: 'n',
    expect: ['0.1', '0.30000000000000004', '1e+21'],
  },
];

for (const c of CASES) {
  const name = `gen-${c.kind}${c.params ? '-p' : ''}${c.lookback ? '-l' : ''}${c.json ? '-json' : ''}`;
  test.serial(`generate + build: ${name}`, async (t) => {
    const g = capture();
    t.is(
      await generateCommand(
        name,
        { kind: c.kind, params: c.params, lookback: c.lookback, json: c.json ?? false },
        g.io,
      ),
      0,
      g.err(),
    );
    const dir = join(root, name);
    for (const f of ['package.json', 'asconfig.json', 'README.md', 'assembly/index.ts'])
      t.true(existsSync(join(dir, f)), f);
    const b = capture();
    t.is(await buildCommand({ dir: name }, b.io), 0, b.err());
    const wasm = join(dir, 'build', `${name}.wasm`);
    t.regex(b.out(), new RegExp(`${name}\\.wasm \\(\\d+ bytes\\)`));

    const mod = await loadModule(wasm);
    t.is(mod.kind, c.kind.replace('-', '_') as typeof mod.kind);
    t.is(mod.hasInit, c.params);
    t.is(mod.hasLookBack, c.lookback);
    const inst = mod.instantiate({
      ...(c.params ? { params: { key: c.param! } } : {}),
      ...(c.lookback ? { lookback: { last: 1 } } : {}),
    });
    if (c.lookback) inst.lookBack(encodeRecords([{ value: Buffer.from('kiwi') }]));
    const out = inst.process({
      baseOffset: 0,
      baseTimestamp: Date.now(),
      raw: encodeRecords(c.input.map((v) => ({ value: Buffer.from(v) }))),
    });
    t.deepEqual(
      decodeRecords(out.raw).map((r) => Buffer.from(r.value).toString()),
      c.expect,
    );
    if (c.kind === 'map')
      t.deepEqual(
        decodeRecords(out.raw).map((r) => Buffer.from(r.key!).toString()),
        ['fruit'],
      );
    inst.dispose();

    // The README's command, through the real CLI.
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts: { test: string } };
    const args = pkg.scripts.test
      .replace(/^eddy build && eddy /, '')
      .match(/'[^']*'|\S+/g)!
      .map((a) => a.replace(/^'|'$/g, ''));
    const printed = execFileSync(process.execPath, [join(eddyRoot(), 'bin', 'eddy.js'), ...args], {
      cwd: dir,
      encoding: 'utf8',
    });
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    const expected = readme.split('prints\n\n```\n')[1]!.split('\n```')[0]!;
    t.is(printed.trimEnd(), expected);
  });
}

test.serial('generate refuses an existing non-empty folder and bad names', async (t) => {
  const g = capture();
  t.is(await generateCommand('gen-filter', { kind: 'filter', params: false, lookback: false }, g.io), 1);
  t.regex(g.err(), /already exists/);
  t.is(await generateCommand('../x', { kind: 'filter', params: false, lookback: false }, g.io), 1);
});

test.serial('build reports compile errors and non-SmartModules', async (t) => {
  const g = capture();
  t.is(await generateCommand('gen-broken', { kind: 'filter', params: false, lookback: false }, g.io), 0);
  const src = join(root, 'gen-broken', 'assembly', 'index.ts');
  const good = readFileSync(src, 'utf8');
  writeFileSync(src, good.replace('return r.value.includes(key);', 'return r.value.includes(nope);'));
  let b = capture();
  t.is(await buildCommand({ dir: 'gen-broken' }, b.io), 1);
  t.regex(b.err(), /compilation failed[\s\S]*nope/);
  writeFileSync(src, good.replace(/^export \{ alloc, dealloc \}.*$/m, ''));
  b = capture();
  t.is(await buildCommand({ dir: 'gen-broken', out: 'x.wasm' }, b.io), 1);
  t.regex(b.err(), /not a SmartModule[\s\S]*alloc/);
  b = capture();
  t.is(await buildCommand({ dir: 'does-not-exist' }, b.io), 1);
});

test.serial(
  'a generated project depends on eddy and the compiler by version, and its assembly type-checks',
  async (t) => {
    const g = capture();
    t.is(await generateCommand('gen-travel', { kind: 'filter', params: true, lookback: true }, g.io), 0, g.err());
    const dir = join(root, 'gen-travel');
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
      dependencies?: unknown;
    };
    const eddyVersion = (JSON.parse(readFileSync(join(eddyRoot(), 'package.json'), 'utf8')) as { version: string })
      .version;
    t.deepEqual(pkg.devDependencies, { eddy: `^${eddyVersion}`, assemblyscript: compilerVersion() });
    t.is(pkg.dependencies, undefined);
    // What an editor does with assembly/: the SDK import and AssemblyScript's types resolve, no errors.
    const tsc = join(eddyRoot(), 'node_modules', 'typescript', 'bin', 'tsc');
    t.notThrows(() =>
      execFileSync(process.execPath, [tsc, '--noEmit', '-p', join(dir, 'assembly', 'tsconfig.json')], {
        encoding: 'utf8',
      }),
    );
  },
);

test.serial('generate --eddy with a tarball copies it into the project and depends on that copy', async (t) => {
  const tgz = join(root, 'eddy-9.9.9.tgz');
  writeFileSync(tgz, 'not really a tarball; generate only copies it');
  const g = capture();
  t.is(
    await generateCommand(
      'gen-vendored',
      { kind: 'map', params: false, lookback: false, eddy: 'eddy-9.9.9.tgz' },
      g.io,
    ),
    0,
    g.err(),
  );
  const dir = join(root, 'gen-vendored');
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  };
  t.is(pkg.devDependencies['eddy'], 'file:vendor/eddy-9.9.9.tgz');
  t.is(readFileSync(join(dir, 'vendor', 'eddy-9.9.9.tgz'), 'utf8'), readFileSync(tgz, 'utf8'));
  t.is(
    await generateCommand('gen-missing', { kind: 'map', params: false, lookback: false, eddy: 'nowhere.tgz' }, g.io),
    1,
  );
  t.regex(g.err(), /nowhere\.tgz: no such tarball/);
});
