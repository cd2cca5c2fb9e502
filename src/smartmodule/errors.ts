import type { EddyErrorCode } from '../error-codes.js';
import { EddyError } from '../errors.js';
import { kindName } from '../protocol/messages.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Renders record bytes for a message: UTF-8 text, or `Binary: N bytes` (as Fluvio's CLI does). */
export function renderBytes(b: Uint8Array | null): string {
  if (b === null) return 'NULL';
  try {
    return utf8.decode(b);
  } catch {
    return `Binary: ${b.length} bytes`;
  }
}

export type ModuleLoadReason =
  | 'not-wasm'
  | 'truncated'
  | 'invalid'
  | 'missing-memory'
  | 'missing-alloc'
  | 'no-transform'
  | 'bad-signature'
  | 'missing-copy-records'
  | 'unsupported-import'
  | 'memory-too-large'
  | 'unreadable';

/** A `.wasm` that cannot be a SmartModule. `file` names it; `reason` is stable for programs. */
export class ModuleLoadError extends EddyError {
  constructor(
    readonly file: string,
    readonly reason: ModuleLoadReason,
    detail: string,
  ) {
    super('EDDY_MODULE_INVALID', `${file}: ${detail}`);
  }
}

/** Base of errors raised while a module runs; `module` names it. */
export class SmartModuleError extends EddyError {
  constructor(
    code: EddyErrorCode,
    readonly module: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** `init` returned an error (rc −2): `hint` is the module's own message. */
export class SmartModuleInitError extends SmartModuleError {
  constructor(
    module: string,
    readonly hint: string,
  ) {
    super('EDDY_SM_INIT', module, `${module}: init failed: ${hint}\n\nInit Error`);
  }
}

/** `look_back` returned an error (rc −99) on one of the history records. */
export class SmartModuleLookbackError extends SmartModuleError {
  constructor(
    module: string,
    readonly hint: string,
    readonly offset: number,
    readonly key: Uint8Array | null,
    readonly value: Uint8Array,
  ) {
    super(
      'EDDY_SM_LOOKBACK',
      module,
      `${module}: look_back failed: ${hint}\n\nSmartModule Lookback Error:\n    Offset: ${offset}\n    Key: ${renderBytes(key)}\n    Value: ${renderBytes(value)}`,
    );
  }
}

/**
 * The user function failed on one record (spec §5.8). The records before it were kept: they are
 * in the batch output beside this error.
 */
export class SmartModuleRuntimeError extends SmartModuleError {
  readonly kind: string;
  constructor(
    module: string,
    readonly hint: string,
    readonly offset: number,
    kindTag: number,
    readonly key: Uint8Array | null,
    readonly value: Uint8Array,
  ) {
    const kind = kindName(kindTag);
    super(
      'EDDY_SM_RUNTIME',
      module,
      `${module}: ${hint}\n\nSmartModule Info: \n    Type: ${kind}\n    Offset: ${offset}\n    Key: ${renderBytes(key)}\n    Value: ${renderBytes(value)}`,
    );
    this.kind = kind;
  }
}

/** A negative status code from a module export (spec §5.10): the whole batch failed. */
export class SmartModuleStatusError extends SmartModuleError {
  constructor(
    module: string,
    readonly fn: string,
    readonly status: number,
    readonly description: string,
    readonly firstOffset?: number,
  ) {
    const where = firstOffset === undefined ? '' : ` on the batch at offset ${firstOffset}`;
    super('EDDY_SM_STATUS', module, `${module}: ${fn} returned status ${status}${where}: ${description}`);
  }
}

/** The module trapped (panic, unreachable, out-of-bounds, stack overflow); the instance is discarded. */
export class SmartModuleTrapError extends SmartModuleError {
  constructor(
    module: string,
    readonly fn: string,
    readonly firstOffset: number | undefined,
    readonly trap: string,
    cause: unknown,
  ) {
    const where = firstOffset === undefined ? '' : ` on the batch at offset ${firstOffset}`;
    super(
      'EDDY_SM_TRAP',
      module,
      `${module}: trapped in ${fn}${where}: ${trap}. The instance was discarded; create a new one to continue.`,
      { cause },
    );
  }
}

/** The module needed more memory than its limit allows. */
export class SmartModuleMemoryLimitError extends SmartModuleError {
  constructor(
    module: string,
    readonly fn: string,
    readonly limit: number,
    readonly current: number,
    readonly requested: number | undefined,
    readonly firstOffset?: number,
    /** The instance kept every output it returned (see recycleAfter): likely why its memory grew. */
    readonly keptOutputs = false,
  ) {
    const req = requested === undefined ? '' : ` (requested ${requested} more bytes)`;
    const where = firstOffset === undefined ? '' : ` on the batch at offset ${firstOffset}`;
    const kept = keptOutputs
      ? " The instance kept every output it returned in its memory, as modules built with Fluvio's crate do;" +
        ' Eddy recycles such instances once they grow by recycleAfter (CLI: --recycle-after), except modules' +
        ' that export look_back, or when recycling is off.'
      : '';
    super(
      'EDDY_SM_MEMORY_LIMIT',
      module,
      `${module}: memory limit exceeded in ${fn}${where}: ${current} bytes in use, limit ${limit} bytes${req}.${kept} ` +
        'Raise the limit with open(dir, { memoryLimit }) (CLI: --memory-limit) if the module really needs more.',
    );
  }
}

/** The module's output could not be decoded (or was never announced). */
export class SmartModuleOutputError extends SmartModuleError {
  constructor(module: string, fn: string, detail: string, cause?: unknown) {
    super('EDDY_SM_OUTPUT', module, `${module}: ${fn} produced undecodable output: ${detail}`, { cause });
  }
}

/** Using an instance that was disposed, or discarded after a trap. */
export class SmartModuleInstanceGoneError extends SmartModuleError {
  constructor(module: string, why: string) {
    super('EDDY_SM_INSTANCE_GONE', module, `${module}: this instance ${why}; instantiate the module again`);
  }
}
