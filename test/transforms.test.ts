import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import { EddyError } from '../src/errors.js';
import {
  parseTransformStep,
  parseTransformSteps,
  parseTransformsYaml,
  readTransformsFile,
  stepConfig,
  TransformsConfigError,
} from '../src/smartmodule/transforms.js';

const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function yamlError(t: import('ava').ExecutionContext, text: string, source = 't.yaml'): TransformsConfigError {
  const err = t.throws(() => parseTransformsYaml(text, source), { instanceOf: TransformsConfigError })!;
  t.true(err instanceof EddyError);
  t.is(err.code, 'EDDY_TRANSFORMS');
  t.true(err.message.startsWith(source), err.message);
  return err;
}

test('the spec example', (t) => {
  const steps = parseTransformsYaml(`transforms:                     # required list; unknown top-level keys ignored
  - uses: acme/redact@0.2.0     # required string
    lookback:                   # optional
      last: 10                  # u64, default 0
      age: 12s                  # optional humantime duration
    with:                       # optional map: parameter name -> value
      rules:                    # non-string value: becomes JSON text
        - field: email
          mask: true
      threshold: "5"            # strings pass through unchanged
`);
  t.deepEqual(plain(steps), [
    {
      uses: 'acme/redact@0.2.0',
      with: { rules: '[{"field":"email","mask":true}]', threshold: '5' },
      lookback: { last: 10, ageMs: 12_000 },
    },
  ]);
});

test('mappings become compact JSON with keys sorted at every level', (t) => {
  const [step] = parseTransformsYaml(`transforms:
  - uses: m
    with:
      geo: {zone: b, area: {y: 1, x: null}}
`);
  t.is(step!.with.geo, '{"area":{"x":null,"y":1},"zone":"b"}');
});

test('keys are sorted byte-wise (UTF-8), not by UTF-16 or locale', (t) => {
  const [step] = parseTransformsYaml(`transforms:
  - uses: m
    with:
      o: {"b": 1, "B": 2, "é": 3, "z": 4, "\\U0001F600": 5, "\\uFF61": 6, "": 7, "a b": 8}
`);
  // U+FF61 (EF BD A1) sorts before U+1F600 (F0 9F 98 80) byte-wise, after it in UTF-16.
  t.is(step!.with.o, '{"":7,"B":2,"a b":8,"b":1,"z":4,"é":3,"｡":6,"😀":5}');
});

test('nested scalars keep their JSON form; numbers as written', (t) => {
  const [step] = parseTransformsYaml(`transforms:
  - uses: m
    with:
      n: [1, 1.0, 2.50, -3, 0, 1e3, 1.5E-2, 12345678901234567890123, 0.1]
      fixed: [+5, 007, .5, -.5, 1., 0x1F, 0o17, -0]
      b: [true, false, True, FALSE, yes, no, on, off, y, n]
      z: [null, ~, Null, ""]
      s: ["5", '6', "tab\\there", "quote\\"d", "back\\\\slash", "nl\\n", "\\u0001"]
`);
  const p = step!.with;
  t.is(p.n, '[1,1.0,2.50,-3,0,1e3,1.5E-2,12345678901234567890123,0.1]');
  // Forms JSON does not allow are rewritten without changing the value.
  t.is(p.fixed, '[5,7,0.5,-0.5,1.0,31,15,-0]');
  // YAML 1.2 core schema: only true/false (any case form) are booleans; yes/no/on/off are text.
  t.is(p.b, '[true,false,true,false,"yes","no","on","off","y","n"]');
  t.is(p.z, '[null,null,null,""]');
  t.is(p.s, '["5","6","tab\\there","quote\\"d","back\\\\slash","nl\\n","\\u0001"]');
});

test('every with value is valid JSON when it is a collection', (t) => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 3 }), (v) => {
      const wrapped = { list: [v] };
      const [step] = parseTransformSteps([JSON.stringify({ uses: 'm', with: wrapped })]);
      const back = JSON.parse(step!.with.list!);
      t.deepEqual(back, JSON.parse(JSON.stringify([v])));
    }),
  );
});

test('strings pass through unchanged, including YAML 1.1 booleans and block scalars', (t) => {
  const [step] = parseTransformsYaml(`transforms:
  - uses: m
    with:
      a: yes
      b: "5"
      c: 'true'
      d: |
        line 1
        line 2
      e: hello world
      f: "{\\"already\\": \\"json\\"}"
      g: ""
      __proto__: safe
`);
  t.deepEqual(plain(step!.with), {
    a: 'yes',
    b: '5',
    c: 'true',
    d: 'line 1\nline 2\n',
    e: 'hello world',
    f: '{"already": "json"}',
    g: '',
    ['__proto__']: 'safe',
  });
  t.is(Object.getPrototypeOf(step!.with), null);
  // biome-ignore lint/suspicious/noProto: the test is that a `__proto__` key stays a plain key
  t.is(step!.with['__proto__'], 'safe');
});

test('a bare number, boolean or null at the top of a with entry is an error that says to quote it', (t) => {
  for (const [value, shown] of [
    ['5', '5'],
    ['1.0', '1.0'],
    ['true', 'true'],
    ['null', 'null'],
    ['~', '~'],
  ] as const) {
    const err = yamlError(t, `transforms:\n  - uses: m\n    with:\n      threshold: ${value}\n`);
    t.is(err.step, 0);
    t.is(err.field, 'with.threshold');
    t.is(err.line, 4);
    t.regex(err.message, /^t\.yaml:4: transforms\[0\]\.with\.threshold: /);
    t.true(err.message.includes(`threshold: "${shown}"`), err.message);
  }
  const empty = yamlError(t, `transforms:\n  - uses: m\n    with:\n      threshold:\n`);
  t.regex(empty.message, /has no value/);
});

test('keys must be strings', (t) => {
  const top = yamlError(t, `transforms:\n  - uses: m\n    with:\n      1: x\n`);
  t.is(top.field, 'with');
  t.regex(top.message, /keys must be strings.*quote it/);
  const nested = yamlError(t, `transforms:\n  - uses: m\n    with:\n      n: {a: {true: x}}\n`);
  t.is(nested.field, 'with.n.a');
  const complex = yamlError(t, `transforms:\n  - uses: m\n    with:\n      ? [a]\n      : x\n`);
  t.regex(complex.message, /keys must be strings/);
});

test('infinity and NaN have no JSON form', (t) => {
  const err = yamlError(t, `transforms:\n  - uses: m\n    with:\n      n: [1, .inf]\n`);
  t.is(err.field, 'with.n[1]');
  t.regex(err.message, /\.inf has no JSON form; quote it/);
});

test('lookback: last defaults to 0, age makes it an Age lookback, absent means none', (t) => {
  const steps = parseTransformsYaml(`transforms:
  - uses: a
  - uses: b
    lookback:
      last: 3
  - uses: c
    lookback:
      age: 1h 30m
  - uses: d
    lookback: {}
  - uses: e
    lookback:
      last: 0
      age: 1w
  - uses: f
    lookback:
`);
  t.deepEqual(plain(steps.map((s) => s.lookback)), [
    null,
    { last: 3 },
    { last: 0, ageMs: 5_400_000 },
    { last: 0 },
    { last: 0, ageMs: 604_800_000 },
    null,
  ]);
  t.false('ageMs' in steps[1]!.lookback!);
});

test('lookback errors name the field', (t) => {
  const cases: [string, string, RegExp][] = [
    ['last: -1', 'lookback.last', /0 or more/],
    ['last: 1.5', 'lookback.last', /whole number/],
    ['last: "10"', 'lookback.last', /whole number/],
    ['last: 99999999999999999999', 'lookback.last', /too large/],
    ['age: 12', 'lookback.age', /no unit/],
    ['age: twelve', 'lookback.age', /invalid duration "twelve".*"12s"/],
    ['age: [1s]', 'lookback.age', /must be a duration/],
  ];
  for (const [line, field, re] of cases) {
    const err = yamlError(t, `transforms:\n  - uses: m\n  - uses: n\n    lookback:\n      ${line}\n`);
    t.is(err.step, 1, line);
    t.is(err.field, field, line);
    t.is(err.line, 5, line);
    t.regex(err.message, re, line);
  }
  t.is(yamlError(t, `transforms:\n  - uses: m\n    lookback: 5\n`).field, 'lookback');
});

test('unknown keys are ignored, at the top and in a step', (t) => {
  const steps = parseTransformsYaml(`apiVersion: 0.1.0
meta: {name: x}
transforms:
  - uses: m
    invoke: insert
    lookback: {last: 1, extra: 2}
`);
  t.deepEqual(plain(steps), [{ uses: 'm', with: {}, lookback: { last: 1 } }]);
});

test('structure errors', (t) => {
  t.regex(yamlError(t, '').message, /empty.*transforms:/s);
  t.regex(yamlError(t, '# only a comment\n').message, /empty/);
  t.regex(yamlError(t, 'steps: []\n').message, /required `transforms:` list is missing/);
  t.regex(yamlError(t, '- uses: m\n').message, /top level must be a mapping/);
  t.regex(yamlError(t, 'transforms: m.wasm\n').message, /transforms: must be a list/);
  t.regex(yamlError(t, 'transforms:\n').message, /transforms: must be a list/);
  const noUses = yamlError(t, 'transforms:\n  - uses: a\n  - with: {k: v}\n');
  t.is(noUses.step, 1);
  t.is(noUses.field, 'uses');
  t.regex(noUses.message, /^t\.yaml:3: transforms\[1\]\.uses: missing/);
  t.is(yamlError(t, 'transforms:\n  - uses: 5\n').field, 'uses');
  t.is(yamlError(t, 'transforms:\n  - uses: ""\n').field, 'uses');
  t.is(yamlError(t, 'transforms:\n  - m.wasm\n').step, 0);
  t.is(yamlError(t, 'transforms:\n  - uses: m\n    with: [a]\n').field, 'with');
  t.regex(yamlError(t, 'transforms:\n  - uses: m\n    with: {a: "x", a: "y"}\n').message, /invalid YAML.*unique/);
  t.regex(yamlError(t, 'transforms: [\n').message, /^t\.yaml:\d+: invalid YAML/);
});

test('an empty list is an empty chain', (t) => {
  t.deepEqual(parseTransformsYaml('transforms: []\n'), []);
});

test('aliases are followed', (t) => {
  const steps = parseTransformsYaml(`common: &rules {b: 1, a: [x]}
transforms:
  - uses: m
    with:
      rules: *rules
      name: &n hello
      again: *n
`);
  t.deepEqual(plain(steps[0]!.with), { rules: '{"a":["x"],"b":1}', name: 'hello', again: 'hello' });
});

test('aliases may not expand the document past the limit, and collections may not nest without end', (t) => {
  // Within the limit: 100 copies of a 50-item list are 5,000 nodes.
  const list = `[${Array.from({ length: 50 }, (_, i) => i).join(', ')}]`;
  const fine = parseTransformsYaml(
    `l: &l ${list}\ntransforms:\n  - uses: m\n    with:\n      p: [${Array(100).fill('*l').join(', ')}]\n`,
  );
  t.is(JSON.parse(fine[0]!.with.p!).length, 100);
  // Past it: each level holds nine aliases of the level below (9^6 nodes).
  const levels = ['a0: &a0 [x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 7; i++)
    levels.push(
      `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(', ')}]`,
    );
  const bomb = yamlError(t, `${levels.join('\n')}\ntransforms:\n  - uses: m\n    with:\n      p: *a6\n`);
  t.regex(bomb.message, /^t\.yaml: aliases \(\*name\) expand the document by more than 10000 nodes/);
  const deep = yamlError(t, `transforms:\n  - uses: m\n    with:\n      p: ${'['.repeat(100)}${']'.repeat(100)}\n`);
  t.regex(deep.message, /^t\.yaml:4: collections nested more than 64 deep/);
});

test('merge keys are not special in YAML 1.2', (t) => {
  const [step] = parseTransformsYaml(`transforms:
  - uses: m
    with:
      o: {<<: {a: 1}, b: 2}
`);
  t.is(step!.with.o, '{"<<":{"a":1},"b":2}');
});

test('inline JSON steps', (t) => {
  const steps = parseTransformSteps([
    '{"uses":"first.wasm","with":{"rules":[{"mask":true,"field":"email"}],"threshold":"5"}}',
    '{"uses":"second.wasm","lookback":{"last":2,"age":"10s"},"invoke":"x"}',
    '  { "uses" : "third.wasm", "with": {"f": [1.0], "n": {"y": 1, "x": null}} }  ',
  ]);
  t.deepEqual(plain(steps), [
    { uses: 'first.wasm', with: { rules: '[{"field":"email","mask":true}]', threshold: '5' }, lookback: null },
    { uses: 'second.wasm', with: {}, lookback: { last: 2, ageMs: 10_000 } },
    { uses: 'third.wasm', with: { f: '[1.0]', n: '{"x":null,"y":1}' }, lookback: null },
  ]);
});

test('inline step errors name --transform[i] and the field', (t) => {
  const bad = (text: string, re: RegExp, field?: string) => {
    const err = t.throws(() => parseTransformSteps(['{"uses":"ok"}', text]), { instanceOf: TransformsConfigError })!;
    t.regex(err.message, /^--transform\[1\]: /);
    t.regex(err.message, re, text);
    if (field !== undefined) t.is(err.field, field);
  };
  bad('{"uses": "m",}', /not valid JSON/);
  bad('uses: m', /not valid JSON/);
  bad('[1]', /must be a mapping/);
  bad('"m.wasm"', /must be a mapping/);
  bad('{}', /uses: missing/, 'uses');
  bad('{"uses":"m","with":{"n":5}}', /with\.n: the number 5 is not a string.*"n": "5"/, 'with.n');
  bad('{"uses":"m","lookback":{"age":"soon"}}', /lookback\.age: invalid duration "soon"/, 'lookback.age');
  t.throws(() => parseTransformStep('{"uses":"a","uses":"b"}'), { message: /unique/ });
  t.is(parseTransformStep('{"uses":"x"}', 3).uses, 'x');
});

test('readTransformsFile names the path', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'eddy-transforms-'));
  try {
    const file = join(dir, 'transforms.yaml');
    await writeFile(file, 'transforms:\n  - uses: m\n    with:\n      n: 1\n');
    const err = await t.throwsAsync(readTransformsFile(file), { instanceOf: TransformsConfigError });
    t.true(err!.message.startsWith(`${file}:4: transforms[0].with.n:`), err!.message);
    await writeFile(file, 'transforms:\n  - uses: m\n');
    t.deepEqual(plain(await readTransformsFile(file)), [{ uses: 'm', with: {}, lookback: null }]);
    const missing = await t.throwsAsync(readTransformsFile(join(dir, 'nope.yaml')), {
      instanceOf: TransformsConfigError,
    });
    t.regex(missing!.message, /nope\.yaml: cannot read the transforms file: no such file/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('stepConfig: the one conversion of a step for the engine (with, look-back; the older params name still read)', (t) => {
  t.deepEqual(stepConfig({ uses: 'm' }), { params: {}, lookback: null });
  t.deepEqual(stepConfig(parseTransformSteps(['{"uses":"m","with":{"k":"v"},"lookback":{"age":"1s"}}'])[0]!), {
    params: { k: 'v' },
    lookback: { last: 0, ageMs: 1000 },
  });
  t.deepEqual(stepConfig({ uses: 'm', lookback: { last: 3 } }), { params: {}, lookback: { last: 3 } });
  // Derived streams saved before `with` was the field's name carry `params`.
  t.deepEqual(stepConfig({ uses: 'm', params: { a: '1', b: '1' }, with: { b: '2' } }), {
    params: { a: '1', b: '2' },
    lookback: null,
  });
});
