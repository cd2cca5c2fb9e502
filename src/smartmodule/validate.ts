import { loadModule } from './module.js';

/**
 * The engine's check of a module at registration (ABI checks and compilation), in the shape of
 * storage's `ModuleValidator`: storage does not import the engine, it is handed this.
 */
export async function engineValidator(
  bytes: Uint8Array,
  name: string,
): Promise<{ kind: string; size: number; sha256: string }> {
  const m = await loadModule(bytes, { name });
  return { kind: m.kind, size: m.size, sha256: m.sha256 };
}
