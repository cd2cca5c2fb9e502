import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'ava';
import { bin } from './helpers/cli-process.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * Each command loads only its own code: a real `eddy` process, watched by a module-resolution hook,
 * must not load the libraries it has no use for (the Kafka client, prom-client, LMDB), which
 * together took most of every command's start-up when the CLI imported the whole library.
 */

/** The packages (and Eddy's own files) an `eddy` process resolved while running `args`. */
function loaded(work: string, args: string[], env: NodeJS.ProcessEnv = {}): string[] {
  const log = join(work, `resolved-${Math.random().toString(36).slice(2)}.txt`);
  const hooks = join(work, 'hooks.mjs');
  writeFileSync(
    hooks,
    "import { appendFileSync } from 'node:fs';\n" +
      'export async function resolve(specifier, context, next) {\n' +
      '  const r = await next(specifier, context);\n' +
      '  appendFileSync(process.env.EDDY_TEST_RESOLVED, `${r.url}\\n`);\n' +
      '  return r;\n' +
      '}\n',
  );
  const register = join(work, 'register.mjs');
  writeFileSync(
    register,
    `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
  );
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(register).href, bin, ...args], {
    cwd: work,
    env: { ...process.env, EDDY_DATA_DIR: join(work, 'data'), EDDY_WORKERS: '1', EDDY_TEST_RESOLVED: log, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`eddy ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

const packages = (urls: string[]) =>
  new Set(urls.flatMap((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1] ?? []));

test('eddy --version, transform and consume load only what they use', (t) => {
  const work = mkdtempSync(join(tmpdir(), 'eddy-startup-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));

  const version = packages(loaded(work, ['--version']));
  t.true(version.has('commander'), 'the hook sees what the process loads');
  for (const heavy of ['kafkajs', 'prom-client', 'lmdb', 'piscina', 'msgpackr'])
    t.false(version.has(heavy), `eddy --version loads ${heavy}`);

  writeFileSync(join(work, 'in.txt'), 'a line\nanother\n');
  const transform = packages(loaded(work, ['transform', 'in.txt', '--filter', wasmPath('drop-debug-bytes')]));
  t.true(transform.has('piscina'), 'transform runs on the pool');
  for (const heavy of ['kafkajs', 'prom-client', 'lmdb'])
    t.false(transform.has(heavy), `eddy transform loads ${heavy}`);

  loaded(work, ['topic', 'create', 'words']);
  const consume = packages(loaded(work, ['consume', 'words', '-B', '-d', '--filter', wasmPath('drop-debug-bytes')]));
  t.true(consume.has('lmdb'), 'consume reads the data directory');
  for (const heavy of ['kafkajs', 'prom-client']) t.false(consume.has(heavy), `eddy consume loads ${heavy}`);
});
