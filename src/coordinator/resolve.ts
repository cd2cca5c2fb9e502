import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { EddyError } from '../errors.js';
import { loadModule, type SmartModule } from '../smartmodule/index.js';
import type { ModuleRegistry } from '../storage/registry.js';

/** A transform named a module that is neither registered nor a readable `.wasm` path. */
export class UnknownModuleError extends EddyError {
  constructor(readonly uses: string) {
    super('EDDY_UNKNOWN_MODULE',
      `SmartModule "${uses}" is not registered and is not a .wasm file; register it with ` +
      `\`eddy smart-module create ${uses} --wasm-file <path>\` or give a path to the .wasm`);
  }
}

/**
 * Turns a transform's `uses` (a registered name or a file path) into a compiled SmartModule.
 * Modules are compiled once per process, keyed by content hash and name, and shared by every
 * stream and worker that uses them.
 */
export class ModuleResolver {
  private readonly cache = new Map<string, Promise<SmartModule>>();

  constructor(private readonly registry: ModuleRegistry | null, private readonly baseDir = process.cwd()) {}

  async resolve(uses: string): Promise<SmartModule> {
    const registered = this.registry?.bytes(uses);
    if (registered) return this.compileBytes(registered, uses);
    const path = isAbsolute(uses) ? uses : resolve(this.baseDir, uses);
    for (const candidate of [path, `${path}.wasm`]) {
      if (existsSync(candidate)) return this.compileFile(candidate);
    }
    throw new UnknownModuleError(uses);
  }

  /** A module given as bytes (by a process that read the file itself), compiled once per content. */
  compileBytes(bytes: Uint8Array, name: string): Promise<SmartModule> {
    const key = `${name}\0${createHash('sha256').update(bytes).digest('hex')}`;
    let m = this.cache.get(key);
    if (!m) {
      m = loadModule(bytes, { name });
      this.cache.set(key, m);
      m.catch(() => this.cache.delete(key));
    }
    return m;
  }

  private compileFile(path: string): Promise<SmartModule> {
    let m = this.cache.get(path);
    if (!m) {
      m = loadModule(path);
      this.cache.set(path, m);
      m.catch(() => this.cache.delete(path));
    }
    return m;
  }
}
