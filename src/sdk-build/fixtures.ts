import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildHash, eddyRoot, sourceFiles } from './compile.js';

/** One AssemblyScript module the repository builds for tests, benches and docs. */
export interface FixtureModule {
  /** Name used by `wasmPath(name)`: the example folder name or the fixture file name. */
  name: string;
  entry: string;
  /** Files whose content decides the build hash (the SDK is always added). */
  sources: string[];
  origin: 'example' | 'fixture';
}

/** Where built fixture modules go (gitignored). */
export function wasmCacheDir(): string {
  return join(eddyRoot(), '.cache', 'wasm');
}

/** Every example (`examples/<name>/assembly/index.ts`) and every `test/fixtures/modules/<name>.ts`. */
export function listFixtureModules(): FixtureModule[] {
  const root = eddyRoot();
  const out: FixtureModule[] = [];
  const examples = join(root, 'examples');
  if (existsSync(examples)) {
    for (const name of readdirSync(examples).sort()) {
      const entry = join(examples, name, 'assembly', 'index.ts');
      if (existsSync(entry))
        out.push({ name, entry, sources: sourceFiles(join(examples, name, 'assembly')), origin: 'example' });
    }
  }
  const modules = join(root, 'test', 'fixtures', 'modules');
  if (existsSync(modules)) {
    for (const file of readdirSync(modules).sort()) {
      if (!file.endsWith('.ts')) continue;
      const entry = join(modules, file);
      out.push({ name: basename(file, '.ts'), entry, sources: [entry], origin: 'fixture' });
    }
  }
  return out;
}

const checked = new Set<string>();

/**
 * Path of the built fixture module `name` (an example folder name or a test/fixtures/modules file
 * name), for tests and benches. Builds it first (build-fixtures.ts, in a child process: this stays
 * synchronous) when the cache is missing or stale, so one test file or bench can run alone.
 */
export function wasmPath(name: string): string {
  const out = join(wasmCacheDir(), `${name}.wasm`);
  if (checked.has(name)) return out;
  const mod = listFixtureModules().find((m) => m.name === name);
  if (!mod) throw new Error(`no example or fixture module named ${name}`);
  const stamp = `${out}.hash`;
  const fresh = existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === buildHash(mod.sources);
  if (!fresh) {
    execFileSync(process.execPath, [fileURLToPath(new URL('./build-fixtures.js', import.meta.url)), name], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  checked.add(name);
  return out;
}

export function wasmBytes(name: string): Uint8Array {
  return readFileSync(wasmPath(name));
}
