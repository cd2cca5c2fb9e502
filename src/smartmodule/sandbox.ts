import './wasm-globals.js'; // WebAssembly types for the published .d.ts
import { openSync } from 'node:fs';
import type { WASI as WasiClass } from 'node:wasi';
import type { ModuleLogger, SandboxGrants } from './types.js';

/**
 * The WASI preview 1 world a module gets. Fluvio links all of preview 1 into every instance
 * (spec §1.2); Eddy does the same through node:wasi but sandboxed: no preopened directories,
 * no environment, no arguments, stdin at end-of-file, and stdout/stderr captured line by line into
 * a logger instead of the host's file descriptors. Anything more must be granted explicitly.
 */

export const WASI_MODULE = 'wasi_snapshot_preview1';

/** The preview 1 functions Node provides (and Fluvio links); any other WASI import is refused. */
export const WASI_PREVIEW1_FUNCTIONS: ReadonlySet<string> = new Set([
  'args_get',
  'args_sizes_get',
  'clock_res_get',
  'clock_time_get',
  'environ_get',
  'environ_sizes_get',
  'fd_advise',
  'fd_allocate',
  'fd_close',
  'fd_datasync',
  'fd_fdstat_get',
  'fd_fdstat_set_flags',
  'fd_fdstat_set_rights',
  'fd_filestat_get',
  'fd_filestat_set_size',
  'fd_filestat_set_times',
  'fd_pread',
  'fd_prestat_get',
  'fd_prestat_dir_name',
  'fd_pwrite',
  'fd_read',
  'fd_readdir',
  'fd_renumber',
  'fd_seek',
  'fd_sync',
  'fd_tell',
  'fd_write',
  'path_create_directory',
  'path_filestat_get',
  'path_filestat_set_times',
  'path_link',
  'path_open',
  'path_readlink',
  'path_remove_directory',
  'path_rename',
  'path_symlink',
  'path_unlink_file',
  'poll_oneoff',
  'proc_exit',
  'proc_raise',
  'random_get',
  'sched_yield',
  'sock_accept',
  'sock_recv',
  'sock_send',
  'sock_shutdown',
]);

let WASI: typeof WasiClass | null = null;
let devNull = -1;

/**
 * Loads node:wasi once, only for modules that import WASI (most SmartModules import none), and
 * without its ExperimentalWarning on the user's terminal.
 */
export async function ensureWasi(): Promise<void> {
  if (WASI) return;
  const emit = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (/WASI/.test(text)) return;
    (emit as (...a: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    WASI = (await import('node:wasi')).WASI;
  } finally {
    process.emitWarning = emit;
  }
}

export const defaultLogger: ModuleLogger = (stream, line, module) => {
  process.stderr.write(`[${module}] ${stream === 'stderr' ? 'stderr: ' : ''}${line}\n`);
};

export interface WasiBinding {
  imports: Record<string, unknown>;
  /** Called once the instance exists: gives WASI the module's memory, flushes nothing yet. */
  bind(memory: WebAssembly.Memory): void;
  /** Emits any partial line still buffered (at dispose). */
  flush(): void;
}

export function createWasi(module: string, grants: SandboxGrants, logger: ModuleLogger): WasiBinding {
  if (!WASI) throw new Error('ensureWasi() must be awaited before instantiating a WASI module');
  if (devNull < 0) devNull = openSync('/dev/null', 'r');
  const wasi = new WASI({
    version: 'preview1',
    args: grants.args ?? [],
    env: grants.env ?? {},
    preopens: grants.preopens ?? {},
    stdin: devNull,
    returnOnExit: true,
  });
  const base = (wasi.getImportObject() as Record<string, unknown>)[WASI_MODULE] as Record<
    string,
    (...a: number[]) => number
  >;
  let memory: WebAssembly.Memory | null = null;
  const pending = { stdout: '', stderr: '' };
  const decoder = new TextDecoder();

  const emit = (stream: 'stdout' | 'stderr', text: string) => {
    const lines = (pending[stream] + text).split('\n');
    pending[stream] = lines.pop()!;
    for (const line of lines) logger(stream, line, module);
  };

  // fd 1 and 2 go to the logger; every other descriptor is handled (and sandboxed) by node:wasi.
  const fd_write = (fd: number, iovs: number, iovsLen: number, nwritten: number): number => {
    if ((fd !== 1 && fd !== 2) || !memory) return base.fd_write!(fd, iovs, iovsLen, nwritten);
    const view = new DataView(memory.buffer);
    const bytes = new Uint8Array(memory.buffer);
    let total = 0;
    let text = '';
    for (let i = 0; i < iovsLen; i++) {
      const ptr = view.getUint32(iovs + i * 8, true);
      const len = view.getUint32(iovs + i * 8 + 4, true);
      text += decoder.decode(bytes.subarray(ptr, ptr + len), { stream: true });
      total += len;
    }
    emit(fd === 1 ? 'stdout' : 'stderr', text);
    view.setUint32(nwritten, total, true);
    return 0;
  };

  return {
    imports: { ...base, fd_write },
    bind(mem) {
      memory = mem;
      wasi.initialize({ exports: { memory: mem } });
    },
    flush() {
      for (const stream of ['stdout', 'stderr'] as const) {
        if (pending[stream]) logger(stream, pending[stream], module);
        pending[stream] = '';
      }
    },
  };
}
