import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { type LoadOptions, loadModule, type SmartModule } from '../smartmodule/index.js';
import { moduleName, readModuleFile } from '../smartmodule/module.js';
import { stepConfig, type TransformStep } from '../smartmodule/transforms.js';
import { UnknownModuleError } from '../storage/errors.js';
import type { ModuleRegistry } from '../storage/registry.js';
import type { SessionStep } from './chain-session.js';

export { UnknownModuleError };

/** Where a step's module is: registered under a name, or a `.wasm` file (an absolute path). */
export type ModuleRef = { registered: string } | { file: string };

export interface UsesContext {
  /** The registered modules; null where there is no data directory (`eddy test`, `eddy bench`). */
  registry: Pick<ModuleRegistry, 'info'> | null;
  /**
   * Where a relative path starts: the directory of the file that names the step, or the working
   * directory. null: no file is looked at (the writer never opens a path a client names).
   */
  baseDir: string | null;
}

/** 'file', 'other' (a directory, a FIFO, a device: reading it says why it is refused) or null (nothing there). */
function entryKind(path: string): 'file' | 'other' | null {
  try {
    return statSync(path).isFile() ? 'file' : 'other';
  } catch {
    return null;
  }
}

/**
 * The one place `uses` is resolved: a registered name first (Hub-style `group/name@version`
 * names are registered names), else a file relative to `baseDir`, as given or with `.wasm` added
 * (a regular file first; a directory, FIFO or device is returned so that reading it refuses it).
 * Throws UnknownModuleError naming `step` when it is neither.
 */
export function resolveUses(uses: string, ctx: UsesContext, step: string | null = null): ModuleRef {
  if (ctx.registry?.info(uses)) return { registered: uses };
  const tried: string[] = [];
  if (ctx.baseDir !== null) {
    const path = isAbsolute(uses) ? uses : resolve(ctx.baseDir, uses);
    tried.push(path);
    if (!path.endsWith('.wasm')) tried.push(`${path}.wasm`);
    // A regular file wins; else something that is there (the read then says what is wrong with it).
    const file = tried.find((p) => entryKind(p) === 'file') ?? tried.find((p) => entryKind(p) !== null);
    if (file !== undefined) return { file };
  }
  throw new UnknownModuleError(uses, step, ctx.registry !== null, tried);
}

/**
 * Steps with each file `uses` made absolute (registered names kept), so they mean the same from
 * any directory: a derived stream is saved and run later by `eddy run`, a connector's steps are
 * run far from its config. `source` prefixes each step's name in errors (`t.yaml: `).
 */
export function anchorSteps(steps: readonly TransformStep[], ctx: UsesContext, source = ''): TransformStep[] {
  return steps.map((s, i) => {
    if (s.wasm) return s;
    const ref = resolveUses(s.uses, ctx, stepName(source, i));
    return 'file' in ref ? { ...s, uses: ref.file } : s;
  });
}

/** How errors name step `i`: `transforms[i].uses` after `source` (a file), `--transform[i].uses`, or the flag (`--filter`). */
export function stepName(source: string, i: number): string {
  if (source === '--transform') return `--transform[${i}].uses`;
  if (source.startsWith('-')) return source; // the one module of a flag (`--filter`, `--smartmodule`)
  return `${source ? `${source}: ` : ''}transforms[${i}].uses`;
}

/**
 * Turns steps into what the engine runs (compiled module, parameters, look-back). Modules are
 * compiled once per process, keyed by content hash and name (registered, given as bytes, or read
 * from a path), and shared by every stream and worker that uses them.
 */
export class ModuleResolver {
  private readonly cache = new Map<string, Promise<SmartModule>>();
  /** Cache key of each path's newest content, so that a rebuilt file's old module is let go. */
  private readonly fileKeys = new Map<string, string>();

  constructor(
    private readonly registry: ModuleRegistry | null,
    private readonly baseDir = process.cwd(),
    private readonly load: Pick<LoadOptions, 'memoryLimit' | 'recycleAfter'> = {},
  ) {}

  /** Each step's module resolved and compiled, with its `with` and look-back (errors name the step: `source` as in stepName). */
  steps(steps: readonly TransformStep[], source = ''): Promise<SessionStep[]> {
    return Promise.all(
      steps.map(async (s, i) => ({ module: await this.module(s, stepName(source, i)), ...stepConfig(s) })),
    );
  }

  private module(s: TransformStep, step: string): Promise<SmartModule> {
    if (s.wasm) return this.compileBytes(s.wasm, s.uses);
    const ref = resolveUses(s.uses, { registry: this.registry, baseDir: this.baseDir }, step);
    if ('file' in ref) return this.compileFile(ref.file);
    const bytes = this.registry!.bytes(ref.registered);
    if (!bytes) throw new UnknownModuleError(s.uses, step); // deleted meanwhile
    return this.compileBytes(bytes, ref.registered);
  }

  /** A module given as bytes, compiled once per content. */
  private compileBytes(bytes: Uint8Array, name: string): Promise<SmartModule> {
    return this.cached(`${name}\0${createHash('sha256').update(bytes).digest('hex')}`, () =>
      loadModule(bytes, { ...this.load, name }),
    );
  }

  /** A module file, compiled once per content: rebuilding it at the same path takes effect. */
  private async compileFile(path: string): Promise<SmartModule> {
    const bytes = await readModuleFile(path);
    const key = `${path}\0${createHash('sha256').update(bytes).digest('hex')}`;
    const old = this.fileKeys.get(path);
    if (old !== undefined && old !== key) this.cache.delete(old);
    this.fileKeys.set(path, key);
    return this.cached(key, () => loadModule(bytes, { ...this.load, name: moduleName(path), file: path }));
  }

  private cached(key: string, compile: () => Promise<SmartModule>): Promise<SmartModule> {
    let m = this.cache.get(key);
    if (!m) {
      m = compile();
      this.cache.set(key, m);
      m.catch(() => this.cache.delete(key));
    }
    return m;
  }
}
