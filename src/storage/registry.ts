import { createHash } from 'node:crypto';
import type { Database } from 'lmdb';
import { EddyError } from '../errors.js';
import { MAX_MODULE_BYTES, readUserFile, UserFileError } from '../user-file.js';
import {
  InvalidArgumentError,
  InvalidModuleError,
  ModuleExistsError,
  NoModuleValidatorError,
  ReadOnlyStorageError,
  UnknownModuleError,
} from './errors.js';
import { isModuleName, RESOURCE_NAME_RULE } from './names.js';

/** What registration learns about a module. */
export interface ModuleValidation {
  kind: string;
  size: number;
  sha256: string;
}

/** Validates module bytes; throws (any error) when they are not a usable SmartModule. */
export type ModuleValidator = (bytes: Uint8Array, name: string) => Promise<ModuleValidation>;

export interface ModuleInfo extends ModuleValidation {
  name: string;
  registeredAt: number;
}

interface RegistryHost {
  readonly readOnly: boolean;
  readonly dir: string;
  readonly durability: 'flush' | 'commit';
  readonly env: { flushed: PromiseLike<boolean>; batch(action: () => unknown): Promise<boolean> };
}

/**
 * SmartModules registered by name: bytes in `module-bytes`, metadata (kind, size, SHA-256,
 * registration time) in `modules`, written in one transaction. Registration runs the engine's
 * validation first, so nothing invalid is ever stored. The validation is handed in (the engine's
 * `engineValidator` when opened through the package's `open` / `openStorage`): storage does not
 * import the engine.
 */
export class ModuleRegistry {
  /** @internal built by Storage (its parameters are lmdb-js handles). */
  constructor(
    private readonly host: RegistryHost,
    private readonly meta: Database<ModuleInfo, string>,
    private readonly bytesDb: Database<Uint8Array, string>,
    private readonly validate: ModuleValidator | undefined,
  ) {}

  /** @internal the registry's databases (storage accounting). */
  databases(): Database<unknown, string>[] {
    return [this.meta as Database<unknown, string>, this.bytesDb as Database<unknown, string>];
  }

  /**
   * Registers `source` (wasm bytes, or a file path) under `name`. Throws InvalidModuleError when
   * the engine refuses it, ModuleExistsError when the name is taken (unless `replace`).
   */
  async register(name: string, source: Uint8Array | string, options: { replace?: boolean } = {}): Promise<ModuleInfo> {
    if (this.host.readOnly) throw new ReadOnlyStorageError('register a SmartModule', this.host.dir);
    if (typeof name !== 'string' || !isModuleName(name)) {
      throw new InvalidArgumentError(
        `invalid SmartModule name ${JSON.stringify(name)}: use ${RESOURCE_NAME_RULE}, ` +
          'or a Hub package name group/name@version (e.g. infinyon/regex-filter@0.1.0); nothing was registered',
      );
    }
    if (!options.replace && this.meta.get(name)) throw new ModuleExistsError(name);
    let bytes: Uint8Array;
    if (typeof source === 'string') {
      try {
        bytes = await readUserFile(source, MAX_MODULE_BYTES);
      } catch (err) {
        if (!(err instanceof UserFileError)) throw err;
        throw new InvalidModuleError(name, `cannot read ${source}: ${err.detail}`, err);
      }
    } else if (source instanceof Uint8Array) {
      bytes = source;
    } else {
      throw new InvalidArgumentError('a SmartModule source must be wasm bytes (Uint8Array) or a file path');
    }
    if (!this.validate) throw new NoModuleValidatorError(name);
    let v: ModuleValidation;
    try {
      v = await this.validate(bytes, name);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new InvalidModuleError(name, reason, err);
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (v.sha256 && v.sha256 !== sha256)
      throw new EddyError('EDDY_INTERNAL', `validator hash ${v.sha256} differs from ${sha256}`);
    const info: ModuleInfo = { name, kind: v.kind, size: bytes.length, sha256, registeredAt: Date.now() };
    const copy = Buffer.from(bytes);
    await this.host.env.batch(() => {
      this.bytesDb.put(name, copy);
      this.meta.put(name, info);
    });
    if (this.host.durability === 'flush') await this.host.env.flushed;
    return info;
  }

  /** Registered modules, sorted by name. */
  list(): ModuleInfo[] {
    return [...this.meta.getRange({})].map((e) => e.value);
  }

  info(name: string): ModuleInfo | undefined {
    return this.meta.get(name);
  }

  /** The module's wasm bytes (a copy), or undefined. */
  bytes(name: string): Uint8Array | undefined {
    const b = this.bytesDb.getBinary(name);
    return b ? new Uint8Array(b) : undefined;
  }

  /** Metadata and bytes, or undefined. */
  get(name: string): (ModuleInfo & { bytes: Uint8Array }) | undefined {
    const info = this.info(name);
    const bytes = info && this.bytes(name);
    return info && bytes ? { ...info, bytes } : undefined;
  }

  /** Deletes a module; throws UnknownModuleError when there is none by that name. */
  async delete(name: string): Promise<void> {
    if (this.host.readOnly) throw new ReadOnlyStorageError('delete a SmartModule', this.host.dir);
    if (!this.meta.get(name)) throw new UnknownModuleError(name, null, true, [], true);
    await this.host.env.batch(() => {
      this.meta.remove(name);
      this.bytesDb.remove(name);
    });
    if (this.host.durability === 'flush') await this.host.env.flushed;
  }

  /** The table `fluvio smart-module list` prints: NAME, STATUS, SIZE (bytes), or "no smart modules". */
  formatList(): string {
    return formatModuleTable(this.list());
  }
}

/**
 * Renders NAME / STATUS / SIZE columns as Fluvio's table does (cells padded by one space, content
 * right-aligned, SIZE in bytes). Fluvio's STATUS column prints a placeholder; Eddy prints `ready`
 * (every registered module passed the engine's validation).
 */
export function formatModuleTable(modules: readonly ModuleInfo[]): string {
  if (modules.length === 0) return 'no smart modules\n';
  const rows = [['NAME', 'STATUS', 'SIZE'], ...modules.map((m) => [m.name, 'ready', String(m.size)])];
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  return `${rows
    .map((r, i) =>
      r
        .map((cell, c) => ` ${i === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)} `)
        .join('')
        .trimEnd(),
    )
    .join('\n')}\n`;
}
