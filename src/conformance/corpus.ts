import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Lookback } from '../protocol/messages.js';
import { listFixtureModules, wasmCacheDir } from '../sdk-build/fixtures.js';
import { conformanceCacheDir } from './fluvio-engine.js';

/**
 * The modules the project builds, as one corpus for the conformance tests and the Fluvio
 * comparison bench: every example and test fixture (AssemblyScript, built by
 * src/sdk-build/build-fixtures) and the Rust modules of conformance/fluvio-modules (built with
 * Fluvio's own SmartModule crate by conformance/build-fluvio-engine.sh).
 */
export interface CorpusModule {
  name: string;
  origin: 'example' | 'fixture' | 'rust';
  path: string;
  /** Parameters the module needs to initialise (its init fails without them). */
  params?: Record<string, string>;
  /** A lookback to configure, for modules that export look_back. */
  lookback?: Lookback;
  /** Values that end the module's instance (traps, the memory cap, endless loops): fed only on purpose. */
  hostile?: string[];
}

/** Rust crate folder → its .wasm file name (cargo turns dashes into underscores). */
export const RUST_MODULES = [
  'filter',
  'map',
  'filter-map',
  'array-map',
  'aggregate',
  'filter-param',
  'look-back',
  'json-array-map',
  'regex-filter',
  'filter-json',
  'map-json',
  'aggregate-average',
] as const;

export function rustModuleDir(): string {
  return join(conformanceCacheDir(), 'fluvio-modules-target', 'wasm32-unknown-unknown', 'release');
}

export function rustModulePath(name: string): string {
  return join(rustModuleDir(), `fluvio_sm_${name.replace(/-/g, '_')}.wasm`);
}

/** What a module needs beyond records, by corpus name. */
const SETTINGS: Record<string, Omit<CorpusModule, 'name' | 'origin' | 'path'>> = {
  'filter-param': { params: { key: 'a' } },
  'filter-look-back': { lookback: { last: 3 } },
  'look-back-age': { lookback: { last: 10, ageMs: 3_600_000 } },
  'eat-memory': { hostile: ['eat'] },
  spin: { hostile: ['loop'] },
  trap: { hostile: ['boom'] },
  'rust-filter-param': { params: { contains: 'a' } },
  'rust-look-back': { lookback: { last: 5 } },
};

/** The whole corpus; `rust` false leaves out the Rust-built modules. */
export function corpus(options: { rust?: boolean } = {}): CorpusModule[] {
  const out: CorpusModule[] = listFixtureModules().map((m) => ({
    name: m.name,
    origin: m.origin,
    path: join(wasmCacheDir(), `${m.name}.wasm`),
    ...SETTINGS[m.name],
  }));
  if (options.rust !== false) {
    for (const r of RUST_MODULES)
      out.push({ name: `rust-${r}`, origin: 'rust', path: rustModulePath(r), ...SETTINGS[`rust-${r}`] });
  }
  return out;
}

/** The Rust-built modules that are missing (not built yet, or the wasm32 target was not available). */
export function missingRustModules(): string[] {
  return RUST_MODULES.filter((r) => !existsSync(rustModulePath(r)));
}
