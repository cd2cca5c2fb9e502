import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { readConnectorConfig, startConnector } from '../src/connectors/index.js';
import {
  anchorSteps,
  type Eddy,
  open,
  readTransformsFile,
  type TransformStep,
  UnknownModuleError,
} from '../src/index.js';
import { read, setup, until } from './helpers/cli-process.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * A step's `uses` means the same wherever it is written: a registered name and a path to the same
 * .wasm give the same module and the same output from the command line (a real `eddy` process), a
 * transforms file, a connector config and the API; a missing name and a missing file give the same
 * error (EDDY_UNKNOWN_MODULE) naming the step, everywhere.
 */

const INPUT = ['apple', 'kiwi', 'banana', 'plum', 'zanzibar'];
/** What the filter keeps (values with an `a`); the last one marks the end of the input. */
const KEPT = ['apple', 'banana', 'zanzibar'];
const lines = (s: string) => s.split('\n').filter((l) => l !== '');

/** A work directory with topic `fruit`, the filter registered as `keep-a` and copied to mods/keep.wasm. */
async function prepare(t: ExecutionContext) {
  const cli = setup(t, 'eddy-step-');
  const mods = join(cli.work, 'mods');
  mkdirSync(mods);
  copyFileSync(wasmPath('filter'), join(mods, 'keep.wasm'));
  await cli.ok(['topic', 'create', 'fruit']);
  await cli.ok(['produce', 'fruit'], `${INPUT.join('\n')}\n`);
  await cli.ok(['smart-module', 'create', 'keep-a', '--wasm-file', 'mods/keep.wasm']);
  const yaml = (name: string, uses: string) => {
    writeFileSync(join(mods, name), `transforms:\n  - uses: ${uses}\n`);
    return `mods/${name}`;
  };
  return { ...cli, mods, yaml };
}

async function values(eddy: Eddy, transforms: TransformStep[]): Promise<string[]> {
  const out: string[] = [];
  for await (const r of eddy.consume('fruit', { transforms, from: 'beginning', follow: false }))
    out.push(Buffer.from(r.value).toString());
  return out;
}

test('the command line: a registered name and a path (flag, --transform, transforms file) give the same output; missing ones the same error naming the step', async (t) => {
  const { ok, eddy, yaml } = await prepare(t);
  const consume = (...args: string[]) => ok(['consume', 'fruit', '-B', '-d', ...args]);
  // Paths on the command line start at the working directory; in a transforms file, at the file.
  for (const [name, path] of [
    ['keep-a', './mods/keep.wasm'],
    ['keep-a', 'mods/keep'],
  ]) {
    t.deepEqual(lines(await consume('--smartmodule', name!)), KEPT);
    t.deepEqual(lines(await consume('--smartmodule', path!)), KEPT);
    t.deepEqual(lines(await consume('--transform', JSON.stringify({ uses: name }))), KEPT);
    t.deepEqual(lines(await consume('--transform', JSON.stringify({ uses: path }))), KEPT);
  }
  t.deepEqual(lines(await consume('--transforms-file', yaml('by-name.yaml', 'keep-a'))), KEPT);
  t.deepEqual(lines(await consume('--transforms-file', yaml('by-path.yaml', 'keep.wasm'))), KEPT);
  t.deepEqual(lines(await consume('--transforms-file', yaml('by-bare-path.yaml', 'keep'))), KEPT);

  const refused = async (args: string[], stderr: RegExp) => {
    const r = await eddy(['consume', 'fruit', '-B', '-d', ...args]);
    t.is(r.code, 1);
    t.is(r.stdout, '');
    t.regex(r.stderr, stderr);
  };
  const noName =
    /SmartModule "nope" is not registered and is not a \.wasm file; register it with `eddy smart-module create nope --wasm-file <path>`/;
  const noFile =
    /SmartModule file \.\/nope\.wasm does not exist \(and no SmartModule is registered under that name\); check the path\n$/;
  await refused(
    ['--transforms-file', yaml('missing-name.yaml', 'nope')],
    new RegExp(`^Error: mods/missing-name\\.yaml: transforms\\[0\\]\\.uses: ${noName.source}`),
  );
  await refused(
    ['--transforms-file', yaml('missing-file.yaml', './nope.wasm')],
    new RegExp(`^Error: mods/missing-file\\.yaml: transforms\\[0\\]\\.uses: ${noFile.source}`),
  );
  await refused(
    ['--transform', '{"uses":"keep-a"}', '--transform', '{"uses":"nope"}'],
    new RegExp(`^Error: --transform\\[1\\]\\.uses: ${noName.source}`),
  );
  await refused(['--smartmodule', './nope.wasm'], new RegExp(`^Error: --smartmodule: ${noFile.source}`));
  // A path is relative to the file that names it, not to the working directory.
  await refused(
    ['--transforms-file', yaml('cwd-relative.yaml', './mods/keep.wasm')],
    /^Error: mods\/cwd-relative\.yaml: transforms\[0\]\.uses: SmartModule file \.\/mods\/keep\.wasm does not exist/,
  );
});

test('the API, a transforms file read through it and a connector config: the same module and output by name and by path; the same error naming the step', async (t) => {
  const { data, work, mods, yaml } = await prepare(t);
  const api = await open(data, { baseDir: mods, workers: 1 });
  t.teardown(() => api.close());

  // The API: paths start at `baseDir`.
  const byName = await api.resolveTransforms([{ uses: 'keep-a' }]);
  for (const uses of ['keep.wasm', 'keep', join(mods, 'keep.wasm')]) {
    const byPath = await api.resolveTransforms([{ uses }]);
    t.is(byPath[0]!.module.sha256, byName[0]!.module.sha256, uses);
    t.deepEqual(await values(api, [{ uses }]), KEPT, uses);
  }
  t.deepEqual(await values(api, [{ uses: 'keep-a' }]), KEPT);

  // A transforms file: anchored at its own directory, whatever `baseDir` is.
  for (const name of ['by-name.yaml', 'by-path.yaml']) {
    const file = join(work, yaml(name, name === 'by-name.yaml' ? 'keep-a' : 'keep.wasm'));
    const steps = anchorSteps(await readTransformsFile(file), { registry: api.modules, baseDir: dirname(file) }, file);
    t.deepEqual(await values(api, steps), KEPT, name);
  }

  const unknown = async (run: () => Promise<unknown>, step: string, uses: string) => {
    const err = await t.throwsAsync(run, { instanceOf: UnknownModuleError, code: 'EDDY_UNKNOWN_MODULE' });
    t.is(err!.step, step);
    t.is(err!.uses, uses);
    t.true(err!.message.startsWith(`${step}: SmartModule `), err!.message);
  };
  await unknown(() => values(api, [{ uses: 'keep-a' }, { uses: 'nope' }]), 'transforms[1].uses', 'nope');
  await unknown(() => values(api, [{ uses: './nope.wasm' }]), 'transforms[0].uses', './nope.wasm');
  await unknown(
    () => api.produce('fruit', [{ value: Buffer.from('x') }], { transforms: [{ uses: 'nope' }] }),
    'transforms[0].uses',
    'nope',
  );
  const missing = join(work, yaml('missing.yaml', 'nope'));
  await unknown(
    async () => anchorSteps(await readTransformsFile(missing), { registry: api.modules, baseDir: mods }, missing),
    `${missing}: transforms[0].uses`,
    'nope',
  );

  // A connector config: paths start at the config's directory.
  const connector = (name: string, uses: string) => {
    const path = join(mods, `${name}.yaml`);
    writeFileSync(
      path,
      `meta:\n  name: ${name}\n  type: file-sink\n  topic: fruit\n  consumer: { offset: { start: beginning } }\n` +
        `file:\n  path: ${join(work, `${name}.txt`)}\ntransforms:\n  - uses: ${uses}\n`,
    );
    return path;
  };
  for (const [name, uses] of [
    ['sink-by-name', 'keep-a'],
    ['sink-by-path', 'keep.wasm'],
    ['sink-by-bare-path', 'keep'],
  ]) {
    const stop = new AbortController();
    const running = await startConnector(api, await readConnectorConfig(connector(name!, uses!)), {
      signal: stop.signal,
    });
    const out = join(work, `${name}.txt`);
    await until(() => read(out).includes('zanzibar'));
    stop.abort();
    await running.done;
    t.deepEqual(lines(read(out)), KEPT, name);
  }
  for (const [name, uses] of [
    ['sink-no-name', 'nope'],
    ['sink-no-file', './nope.wasm'],
  ]) {
    const path = connector(name!, uses!);
    await unknown(
      async () => startConnector(api, await readConnectorConfig(path), { signal: new AbortController().signal }),
      `${path}: transforms[0].uses`,
      uses!,
    );
  }
});
