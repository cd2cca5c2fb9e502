import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { eddyRoot, sourceFiles } from './compile.js';

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
      if (existsSync(entry)) out.push({ name, entry, sources: sourceFiles(join(examples, name, 'assembly')), origin: 'example' });
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
