import './wasm-globals.js'; // WebAssembly types for the published .d.ts
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { SmartModuleKind } from '../protocol/messages.js';
import { MAX_MODULE_BYTES, readUserFile, UserFileError } from '../user-file.js';
import { SMARTMODULE_DEFAULTS } from './defaults.js';
import { ModuleLoadError } from './errors.js';
import { SmartModuleInstance } from './instance.js';
import { ensureWasi, WASI_MODULE, WASI_PREVIEW1_FUNCTIONS } from './sandbox.js';
import type { InstanceOptions } from './types.js';
import {
  capMemory,
  DEALLOC_ANY_SIZE_SECTION,
  formatType,
  parseWasm,
  sameType,
  WasmFormatError,
  type WasmInfo,
} from './wasm-binary.js';

/** Kind detection order (spec §1.1): the first export with one of these names decides. */
export const TRANSFORM_EXPORTS: readonly SmartModuleKind[] = ['filter', 'map', 'filter_map', 'array_map', 'aggregate'];

/** Fluvio's engine default memory limit (spec §9). */
export const DEFAULT_MEMORY_LIMIT = SMARTMODULE_DEFAULTS.memoryLimitBytes;
export const DEFAULT_RECYCLE_AFTER = SMARTMODULE_DEFAULTS.recycleAfterBytes;
export const WASM_PAGE = 65536;

/** What validation learned about a module: plain data, so it can travel to worker threads. */
export interface ModuleDescriptor {
  name: string;
  kind: SmartModuleKind;
  hasInit: boolean;
  hasLookBack: boolean;
  hasDealloc: boolean;
  /** `dealloc` frees a block whatever length it is given (the module says so; see DEALLOC_ANY_SIZE_SECTION). */
  deallocAnySize: boolean;
  usesWasi: boolean;
  /** Initial memory in bytes, as declared. */
  initialMemory: number;
  size: number;
  sha256: string;
  memoryLimit: number;
  /** Growth in bytes past which a fresh instance replaces one that keeps its outputs; 0: never (see Chain). */
  recycleAfter: number;
}

export interface LoadOptions {
  /** Name used in errors and logs. Default: the file's base name (without .wasm), or "module". */
  name?: string;
  /** The file bytes given to loadModule were read from, for errors (default: the name). */
  file?: string;
  /** Memory cap in bytes, compiled into the module (spec §9). Default 1 000 000 000. */
  memoryLimit?: number;
  /**
   * Recycle an instance that cannot free its outputs (as Rust-built modules: see `freeOutput`) once
   * its memory has grown by this many bytes since init, between batches; `false` or 0 keeps every
   * instance for the stream's life, as Fluvio does, until `memoryLimit` stops it. Default 32 MiB.
   */
  recycleAfter?: number | false;
}

/**
 * A validated, compiled SmartModule. Load once, instantiate many times (one instance per stream).
 * The compiled `WebAssembly.Module` can be posted to worker threads and wrapped again there with
 * `SmartModule.fromCompiled`, so a process compiles each module once.
 */
export class SmartModule {
  private constructor(
    readonly descriptor: ModuleDescriptor,
    readonly compiled: WebAssembly.Module,
  ) {}

  get name(): string {
    return this.descriptor.name;
  }
  get kind(): SmartModuleKind {
    return this.descriptor.kind;
  }
  get hasInit(): boolean {
    return this.descriptor.hasInit;
  }
  get hasLookBack(): boolean {
    return this.descriptor.hasLookBack;
  }
  get size(): number {
    return this.descriptor.size;
  }
  get sha256(): string {
    return this.descriptor.sha256;
  }

  /** Rewraps a module compiled elsewhere (e.g. received by a worker thread). */
  static async fromCompiled(descriptor: ModuleDescriptor, compiled: WebAssembly.Module): Promise<SmartModule> {
    if (descriptor.usesWasi) await ensureWasi();
    return new SmartModule(descriptor, compiled);
  }

  /** @internal used by loadModule */
  static create(descriptor: ModuleDescriptor, compiled: WebAssembly.Module): SmartModule {
    return new SmartModule(descriptor, compiled);
  }

  /** Creates an instance and runs `init` (throws SmartModuleInitError with the module's hint). */
  instantiate(options: InstanceOptions = {}): SmartModuleInstance {
    return new SmartModuleInstance(this, options);
  }
}

/** The name a module file goes by in errors and logs: its base name without `.wasm`. */
export function moduleName(path: string): string {
  return basename(path).replace(/\.wasm$/, '');
}

/** The bytes of a module file: a regular file of at most MAX_MODULE_BYTES, else a ModuleLoadError. */
export async function readModuleFile(path: string): Promise<Uint8Array> {
  try {
    return await readUserFile(path, MAX_MODULE_BYTES);
  } catch (err) {
    if (!(err instanceof UserFileError)) throw err;
    const why =
      err.problem === 'missing'
        ? 'no such file'
        : err.problem === 'directory'
          ? 'is a directory, not a .wasm file'
          : `cannot read the file: ${err.detail}`;
    throw new ModuleLoadError(path, 'unreadable', `${why}; give the path of a SmartModule .wasm`);
  }
}

/** Reads, validates and compiles a SmartModule `.wasm`. Every refusal is a ModuleLoadError naming the file. */
export async function loadModule(source: string | Uint8Array, options: LoadOptions = {}): Promise<SmartModule> {
  const file = typeof source === 'string' ? source : (options.file ?? options.name ?? 'module');
  const bytes = typeof source === 'string' ? await readModuleFile(source) : source;
  const name = options.name ?? (typeof source === 'string' ? moduleName(source) : 'module');
  const memoryLimit = options.memoryLimit ?? DEFAULT_MEMORY_LIMIT;
  const { descriptor, capped } = describe(bytes, file, name, memoryLimit);
  const recycleAfter = options.recycleAfter === false ? 0 : (options.recycleAfter ?? DEFAULT_RECYCLE_AFTER);
  if (!(recycleAfter >= 0))
    throw new RangeError(`recycleAfter must be a number of bytes (0 or false: never), not ${recycleAfter}`);
  descriptor.recycleAfter = recycleAfter;
  let compiled: WebAssembly.Module;
  try {
    compiled = await WebAssembly.compile(capped);
  } catch (err) {
    throw new ModuleLoadError(file, 'invalid', `not a valid WebAssembly module: ${(err as Error).message}`);
  }
  if (descriptor.usesWasi) await ensureWasi();
  return SmartModule.create(descriptor, compiled);
}

/**
 * Checks a binary against the SmartModule ABI (spec §1) and returns its descriptor and the bytes
 * to compile (memory maximum capped). Synchronous and compile-free, so the registry can use it.
 */
export function describe(
  bytes: Uint8Array,
  file: string,
  name: string,
  memoryLimit = DEFAULT_MEMORY_LIMIT,
): { descriptor: ModuleDescriptor; capped: Uint8Array } {
  let info: WasmInfo;
  try {
    info = parseWasm(bytes);
  } catch (err) {
    if (!(err instanceof WasmFormatError)) throw err;
    if (bytes.length === 0) throw new ModuleLoadError(file, 'not-wasm', 'the file is empty, not a WebAssembly module');
    throw new ModuleLoadError(
      file,
      err.truncated ? 'truncated' : 'not-wasm',
      err.truncated ? `truncated WebAssembly module: ${err.message}` : `not a WebAssembly module: ${err.message}`,
    );
  }
  const exported = (n: string) => info.exports.find((e) => e.name === n);
  const exportList = info.exports.map((e) => `${e.name} (${e.kind})`).join(', ') || 'nothing';

  const mem = exported('memory');
  if (mem?.kind !== 'memory') {
    throw new ModuleLoadError(
      file,
      'missing-memory',
      `does not export its memory as "memory"; a SmartModule must (it exports: ${exportList})`,
    );
  }
  const alloc = exported('alloc');
  if (alloc?.kind !== 'function') {
    throw new ModuleLoadError(
      file,
      'missing-alloc',
      `does not export an "alloc" function; a SmartModule must (it exports: ${exportList})`,
    );
  }
  if (!sameType(alloc.type, ['i32'], ['i32'])) {
    throw new ModuleLoadError(
      file,
      'bad-signature',
      `export "alloc" has type ${formatType(alloc.type)}; expected (i32) -> i32`,
    );
  }

  // The transform export first: a module without one is not a SmartModule, whatever it imports.
  const kind = TRANSFORM_EXPORTS.find((k) => exported(k)?.kind === 'function');
  if (!kind) {
    throw new ModuleLoadError(
      file,
      'no-transform',
      `exports no SmartModule function (filter, map, filter_map, array_map or aggregate); it exports: ${exportList}`,
    );
  }

  // Imports: copy_records is required (found by field name, any module); WASI preview 1 is linked; nothing else.
  let hasCopyRecords = false;
  let usesWasi = false;
  for (const imp of info.imports) {
    if (imp.name === 'copy_records' && imp.kind === 'function') {
      if (!sameType(imp.type, ['i32', 'i32'], [])) {
        throw new ModuleLoadError(
          file,
          'bad-signature',
          `import "${imp.module}.copy_records" has type ${formatType(imp.type)}; expected (i32, i32) -> ()`,
        );
      }
      hasCopyRecords = true;
    } else if (imp.module === WASI_MODULE && imp.kind === 'function' && WASI_PREVIEW1_FUNCTIONS.has(imp.name)) {
      usesWasi = true;
    } else {
      throw new ModuleLoadError(
        file,
        'unsupported-import',
        `imports ${imp.kind} "${imp.module}.${imp.name}", which Eddy cannot provide (a SmartModule may import only copy_records and WASI preview 1 functions)`,
      );
    }
  }
  if (!hasCopyRecords) {
    throw new ModuleLoadError(
      file,
      'missing-copy-records',
      'does not import "copy_records"; Fluvio refuses such modules (was it built with the fluvio-smartmodule crate or Eddy\'s SDK?)',
    );
  }

  const checkFn = (fname: string) => {
    const e = exported(fname);
    if (e?.kind !== 'function') return false;
    if (!sameType(e.type, ['i32', 'i32', 'i32'], ['i32'])) {
      const old = sameType(e.type, ['i32', 'i32'], ['i32'])
        ? ' (a module built before Nov 2021, without the version argument: rebuild it with a current fluvio-smartmodule)'
        : '';
      throw new ModuleLoadError(
        file,
        'bad-signature',
        `export "${fname}" has type ${formatType(e.type)}; expected (i32, i32, i32) -> i32${old}`,
      );
    }
    return true;
  };
  checkFn(kind);
  const hasInit = checkFn('init');
  const hasLookBack = checkFn('look_back');
  const dealloc = exported('dealloc');
  const hasDealloc = dealloc?.kind === 'function' && sameType(dealloc.type, ['i32', 'i32'], []);

  const memory = info.memories[0];
  if (!memory) {
    throw new ModuleLoadError(
      file,
      'missing-memory',
      'exports "memory" but does not define it (an imported memory cannot be provided)',
    );
  }
  const maxPages = Math.floor(memoryLimit / WASM_PAGE);
  if (memory.min > maxPages) {
    throw new ModuleLoadError(
      file,
      'memory-too-large',
      `declares ${memory.min * WASM_PAGE} bytes of initial memory, above the ${memoryLimit}-byte limit; raise memoryLimit`,
    );
  }
  const descriptor: ModuleDescriptor = {
    name,
    kind,
    hasInit,
    hasLookBack,
    hasDealloc,
    usesWasi,
    deallocAnySize: hasDealloc && info.customSections.includes(DEALLOC_ANY_SIZE_SECTION),
    initialMemory: memory.min * WASM_PAGE,
    size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    memoryLimit,
    recycleAfter: DEFAULT_RECYCLE_AFTER,
  };
  return { descriptor, capped: capMemory(bytes, info, maxPages) };
}
