import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { TransformInput } from '../eddy.js';
import type { TransformStep } from '../smartmodule/transforms.js';

/**
 * Transform steps as files and command lines write them: `uses` is a registered SmartModule name
 * or a `.wasm` path. A path is relative to the file that names it (a transforms.yaml, a connector
 * config) — so it is anchored here, before the steps are run or saved elsewhere.
 */

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Each step's `uses`, made absolute when it is not a registered module and names a file relative
 * to `baseDir` (as given, or with `.wasm` added). Registered names and unknown names are kept (an
 * unknown name fails later with how to register it).
 */
export function anchorUses(registry: { info(name: string): unknown }, steps: readonly TransformStep[], baseDir: string): TransformStep[] {
  return steps.map((s) => {
    if (registry.info(s.uses) || isAbsolute(s.uses)) return s;
    const base = resolve(baseDir, s.uses);
    for (const candidate of [base, `${base}.wasm`]) {
      if (existsSync(candidate) && isFile(candidate)) return { ...s, uses: candidate };
    }
    return s;
  });
}

/** Steps as the Eddy API takes them. */
export function toTransformInputs(steps: readonly TransformStep[]): TransformInput[] {
  return steps.map((s) => ({ uses: s.uses, params: { ...s.params }, lookback: s.lookback }));
}
