import { toErrorCode } from '../error-codes.js';
import { EddyError } from '../errors.js';
import { SmartModuleKindTag } from '../protocol/messages.js';
import {
  SmartModuleError,
  SmartModuleInitError,
  SmartModuleLookbackError,
  SmartModuleMemoryLimitError,
  SmartModuleRuntimeError,
  SmartModuleStatusError,
  SmartModuleTrapError,
} from '../smartmodule/errors.js';

/** Errors cross threads as data, and are rebuilt as the same typed errors on the other side. */
export interface WireError {
  type: 'runtime' | 'trap' | 'status' | 'memory' | 'init' | 'lookback' | 'other';
  code: string;
  message: string;
  module?: string;
  hint?: string;
  offset?: number;
  kind?: string;
  key?: Uint8Array | null;
  value?: Uint8Array;
  fn?: string;
  status?: number;
  description?: string;
  firstOffset?: number;
  limit?: number;
  current?: number;
  requested?: number;
  keptOutputs?: boolean;
}

export function errorToWire(err: unknown): WireError {
  if (err instanceof SmartModuleRuntimeError) {
    return {
      type: 'runtime',
      code: err.code,
      message: err.message,
      module: err.module,
      hint: err.hint,
      offset: err.offset,
      kind: err.kind,
      key: err.key,
      value: err.value,
    };
  }
  if (err instanceof SmartModuleTrapError) {
    return {
      type: 'trap',
      code: err.code,
      message: err.message,
      module: err.module,
      fn: err.fn,
      hint: err.trap,
      ...(err.firstOffset === undefined ? {} : { firstOffset: err.firstOffset }),
    };
  }
  if (err instanceof SmartModuleStatusError) {
    return {
      type: 'status',
      code: err.code,
      message: err.message,
      module: err.module,
      fn: err.fn,
      status: err.status,
      description: err.description,
      ...(err.firstOffset === undefined ? {} : { firstOffset: err.firstOffset }),
    };
  }
  if (err instanceof SmartModuleMemoryLimitError) {
    const w: WireError = {
      type: 'memory',
      code: err.code,
      message: err.message,
      module: err.module,
      fn: err.fn,
      limit: err.limit,
      current: err.current,
    };
    if (err.requested !== undefined) w.requested = err.requested;
    if (err.firstOffset !== undefined) w.firstOffset = err.firstOffset;
    if (err.keptOutputs) w.keptOutputs = true;
    return w;
  }
  if (err instanceof SmartModuleInitError)
    return { type: 'init', code: err.code, message: err.message, module: err.module, hint: err.hint };
  if (err instanceof SmartModuleLookbackError) {
    return {
      type: 'lookback',
      code: err.code,
      message: err.message,
      module: err.module,
      hint: err.hint,
      offset: err.offset,
      key: err.key,
      value: err.value,
    };
  }
  const e = err as Error;
  const w: WireError = {
    type: 'other',
    code: err instanceof EddyError ? err.code : 'EDDY_WORKER',
    message: e?.message ?? String(err),
  };
  if (err instanceof SmartModuleError) w.module = err.module;
  return w;
}

/** A wire error rebuilt on the coordinator side, keeping its code and message. */
export class WorkerSideError extends EddyError {}

export function errorFromWire(w: WireError): EddyError {
  const module = w.module ?? 'unknown';
  const bytes = (b: Uint8Array | null | undefined) => (b ? new Uint8Array(b) : null);
  switch (w.type) {
    case 'runtime':
      return new SmartModuleRuntimeError(
        module,
        w.hint!,
        w.offset!,
        SmartModuleKindTag[w.kind as keyof typeof SmartModuleKindTag] ?? 6,
        bytes(w.key),
        bytes(w.value) ?? new Uint8Array(0),
      );
    case 'trap':
      return new SmartModuleTrapError(module, w.fn!, w.firstOffset, w.hint!, undefined);
    case 'memory':
      return new SmartModuleMemoryLimitError(
        module,
        w.fn!,
        w.limit!,
        w.current!,
        w.requested,
        w.firstOffset,
        w.keptOutputs === true,
      );
    case 'init':
      return new SmartModuleInitError(module, w.hint!);
    case 'lookback':
      return new SmartModuleLookbackError(
        module,
        w.hint!,
        w.offset!,
        bytes(w.key),
        bytes(w.value) ?? new Uint8Array(0),
      );
    case 'status':
      return new SmartModuleStatusError(module, w.fn!, w.status!, w.description!, w.firstOffset);
    default:
      return new WorkerSideError(toErrorCode(w.code), w.message);
  }
}
