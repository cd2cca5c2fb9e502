import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildHash, eddyRoot } from '../../src/sdk-build/compile.js';
import { listFixtureModules, wasmCacheDir } from '../../src/sdk-build/fixtures.js';

const checked = new Set<string>();

/**
 * Path of the built fixture module `name` (an example folder name or a test/fixtures/modules file
 * name). Builds it first when the cache is missing or stale, so one test file can run alone.
 */
export function wasmPath(name: string): string {
  const out = join(wasmCacheDir(), `${name}.wasm`);
  if (checked.has(name)) return out;
  const mod = listFixtureModules().find((m) => m.name === name);
  if (!mod) throw new Error(`no example or fixture module named ${name}`);
  const stamp = `${out}.hash`;
  const fresh = existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === buildHash(mod.sources);
  if (!fresh) {
    execFileSync(process.execPath, [join(eddyRoot(), 'dist', 'test', 'fixtures', 'build-fixtures.js'), name], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  checked.add(name);
  return out;
}

export function wasmBytes(name: string): Uint8Array {
  return readFileSync(wasmPath(name));
}
