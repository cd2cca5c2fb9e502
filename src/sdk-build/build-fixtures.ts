/**
 * Builds every example and every AssemblyScript module under test/fixtures/modules/ to
 * .cache/wasm/<name>.wasm (optimized), skipping modules whose sources, SDK and compiler are
 * unchanged. Run by `npm test`'s pretest (`node dist/test/fixtures/build-fixtures.js [name...]`,
 * which runs `buildFixturesMain`) and by `wasmPath` for one missing module.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileCached } from './compile.js';
import { listFixtureModules, wasmCacheDir } from './fixtures.js';

export async function buildFixtures(
  names: readonly string[] = [],
  log: (line: string) => void = () => {},
): Promise<number> {
  const all = listFixtureModules();
  const wanted = names.length ? all.filter((m) => names.includes(m.name)) : all;
  const missing = names.filter((n) => !all.some((m) => m.name === n));
  if (missing.length) throw new Error(`unknown fixture module(s): ${missing.join(', ')}`);
  let built = 0;
  for (const m of wanted) {
    const out = join(wasmCacheDir(), `${m.name}.wasm`);
    const r = await compileCached(m.entry, out, m.sources);
    if (r.built) {
      built++;
      log(`built ${m.name} (${Math.round(r.ms)} ms)`);
    }
  }
  log(`${wanted.length} modules, ${built} built, ${wanted.length - built} up to date`);
  return built;
}

/** The command: builds the named modules (all when none), logging each build. */
export function buildFixturesMain(names: readonly string[]): Promise<void> {
  return buildFixtures(names, (l) => console.log(`[fixtures] ${l}`)).then(
    () => undefined,
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    },
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void buildFixturesMain(process.argv.slice(2));
