/**
 * Just enough of the WebAssembly binary format to validate a SmartModule before compiling it:
 * function types of imports and exports (Node 20 has no type reflection), the memory declaration,
 * and a rewrite of the memory maximum (how Eddy caps a module's memory, spec §9).
 */

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref' | `0x${string}`;
export interface FuncType {
  params: ValType[];
  results: ValType[];
}
export type ExternKind = 'function' | 'table' | 'memory' | 'global' | 'tag';

export interface ImportEntry {
  module: string;
  name: string;
  kind: ExternKind;
  type?: FuncType;
  memory?: MemoryLimits;
}
export interface ExportEntry {
  name: string;
  kind: ExternKind;
  index: number;
  type?: FuncType;
}
export interface MemoryLimits {
  min: number;
  max: number | null;
  shared: boolean;
  memory64: boolean;
}

export interface WasmInfo {
  imports: ImportEntry[];
  exports: ExportEntry[];
  /** Memories defined by the module (not imported). */
  memories: MemoryLimits[];
  /** Byte range of the memory section's payload, for rewriting. */
  memorySection: { headerStart: number; start: number; end: number } | null;
  /** Names of the custom sections, in order. */
  customSections: string[];
}

/** Thrown for structurally broken binaries; `truncated` tells a cut-off file from a malformed one. */
export class WasmFormatError extends Error {
  constructor(
    message: string,
    readonly truncated: boolean,
  ) {
    super(message);
  }
}

const VALTYPES: Record<number, ValType> = {
  127: 'i32',
  126: 'i64',
  125: 'f32',
  124: 'f64',
  123: 'v128',
  112: 'funcref',
  111: 'externref',
};
const KINDS: ExternKind[] = ['function', 'table', 'memory', 'global', 'tag'];
const SECTION_NAMES = [
  'custom',
  'type',
  'import',
  'function',
  'table',
  'memory',
  'global',
  'export',
  'start',
  'element',
  'code',
  'data',
  'data count',
  'tag',
];

class Cursor {
  constructor(
    readonly b: Uint8Array,
    public p: number,
    readonly end: number,
    readonly where: string,
  ) {}
  byte(): number {
    if (this.p >= this.end)
      throw new WasmFormatError(`${this.where}: unexpected end at byte ${this.p}`, this.end === this.b.length);
    return this.b[this.p++]!;
  }
  u32(): number {
    let result = 0,
      shift = 0;
    for (;;) {
      const byte = this.byte();
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return result;
      shift += 7;
      if (shift > 35) throw new WasmFormatError(`${this.where}: LEB128 too long at byte ${this.p}`, false);
    }
  }
  name(): string {
    const len = this.u32();
    if (this.p + len > this.end)
      throw new WasmFormatError(`${this.where}: name runs past the end`, this.end === this.b.length);
    const s = new TextDecoder().decode(this.b.subarray(this.p, this.p + len));
    this.p += len;
    return s;
  }
  limits(): MemoryLimits {
    const flags = this.byte();
    const min = this.u32();
    const max = flags & 1 ? this.u32() : null;
    return { min, max, shared: (flags & 2) !== 0, memory64: (flags & 4) !== 0 };
  }
}

export function isWasmMagic(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x00 && b[1] === 0x61 && b[2] === 0x73 && b[3] === 0x6d;
}

export function parseWasm(b: Uint8Array): WasmInfo {
  if (!isWasmMagic(b)) throw new WasmFormatError('not a WebAssembly binary (no \\0asm magic)', false);
  if (b.length < 8) throw new WasmFormatError(`only ${b.length} bytes: the 8-byte header is cut off`, true);
  const version = b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24);
  if (version !== 1) throw new WasmFormatError(`binary format version ${version}; only version 1 is supported`, false);

  const types: FuncType[] = [];
  const funcTypes: number[] = []; // function index space → type index
  const info: WasmInfo = { imports: [], exports: [], memories: [], memorySection: null, customSections: [] };
  const top = new Cursor(b, 8, b.length, 'module');
  while (top.p < b.length) {
    const headerStart = top.p;
    const id = top.byte();
    const size = top.u32();
    const start = top.p;
    const end = start + size;
    const sname = SECTION_NAMES[id] ?? `unknown(${id})`;
    if (end > b.length) {
      throw new WasmFormatError(
        `the ${sname} section declares ${size} bytes but only ${b.length - start} remain: the file is truncated`,
        true,
      );
    }
    const c = new Cursor(b, start, end, `${sname} section`);
    switch (id) {
      case 1: {
        const n = c.u32();
        for (let i = 0; i < n; i++) {
          const form = c.byte();
          if (form !== 0x60) {
            types.push({ params: [], results: [`0x${form.toString(16)}`] });
            break;
          }
          const params = Array.from({ length: c.u32() }, () => valtype(c.byte()));
          const results = Array.from({ length: c.u32() }, () => valtype(c.byte()));
          types.push({ params, results });
        }
        break;
      }
      case 2: {
        const n = c.u32();
        for (let i = 0; i < n; i++) {
          const module = c.name();
          const name = c.name();
          const kind = KINDS[c.byte()] ?? 'tag';
          const entry: ImportEntry = { module, name, kind };
          if (kind === 'function') {
            const t = c.u32();
            funcTypes.push(t);
            entry.type = types[t];
          } else if (kind === 'table') {
            c.byte();
            c.limits();
          } else if (kind === 'memory') {
            entry.memory = c.limits();
          } else if (kind === 'global') {
            c.byte();
            c.byte();
          } else {
            c.byte();
            c.u32();
          }
          info.imports.push(entry);
        }
        break;
      }
      case 3: {
        const n = c.u32();
        for (let i = 0; i < n; i++) funcTypes.push(c.u32());
        break;
      }
      case 5: {
        const n = c.u32();
        for (let i = 0; i < n; i++) info.memories.push(c.limits());
        info.memorySection = { headerStart, start, end };
        break;
      }
      case 7: {
        const n = c.u32();
        for (let i = 0; i < n; i++) {
          const name = c.name();
          const kind = KINDS[c.byte()] ?? 'tag';
          const index = c.u32();
          const entry: ExportEntry = { name, kind, index };
          if (kind === 'function') {
            const t = funcTypes[index];
            if (t !== undefined) entry.type = types[t];
          }
          info.exports.push(entry);
        }
        break;
      }
      case 0:
        info.customSections.push(c.name());
        break;
      default:
        break;
    }
    top.p = end;
  }
  return info;
}

function valtype(byte: number): ValType {
  return VALTYPES[byte] ?? `0x${byte.toString(16)}`;
}

export function formatType(t: FuncType | undefined): string {
  if (!t) return '(unknown type)';
  return `(${t.params.join(', ')}) -> ${t.results.length === 0 ? '()' : t.results.join(', ')}`;
}

export function sameType(t: FuncType | undefined, params: ValType[], results: ValType[]): boolean {
  return (
    !!t &&
    t.params.length === params.length &&
    t.results.length === results.length &&
    t.params.every((p, i) => p === params[i]) &&
    t.results.every((r, i) => r === results[i])
  );
}

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

/**
 * Returns a copy of the binary whose defined memories declare `maxPages` as their maximum (or keep
 * a smaller one they already declare). Growth past it then fails inside the module instead of
 * taking the host down.
 */
export function capMemory(b: Uint8Array, info: WasmInfo, maxPages: number): Uint8Array {
  if (!info.memorySection || info.memories.length === 0) return b;
  const payload: number[] = [...leb(info.memories.length)];
  for (const m of info.memories) {
    const max = m.max === null ? maxPages : Math.min(m.max, maxPages);
    const flags = 1 | (m.shared ? 2 : 0) | (m.memory64 ? 4 : 0);
    payload.push(flags, ...leb(m.min), ...leb(max)); // callers refuse min > maxPages first
  }
  const { headerStart: idPos, end } = info.memorySection;
  const header = [5, ...leb(payload.length)];
  const out = new Uint8Array(idPos + header.length + payload.length + (b.length - end));
  out.set(b.subarray(0, idPos), 0);
  out.set(header, idPos);
  out.set(payload, idPos + header.length);
  out.set(b.subarray(end), idPos + header.length + payload.length);
  return out;
}

/**
 * Custom section a toolchain adds to say that its `dealloc(ptr, len)` frees a block whatever `len`
 * is. Only then may a host free output buffers, whose capacity it does not know: Rust's dlmalloc
 * (current std) asserts that `len` matches the block and traps otherwise. Eddy's SDK adds it.
 */
export const DEALLOC_ANY_SIZE_SECTION = 'eddy.dealloc-any-size';

/** `b` with an empty custom section `name` appended (custom sections may stand anywhere). */
export function appendCustomSection(b: Uint8Array, name: string): Uint8Array {
  const nameBytes = Buffer.from(name, 'utf8');
  const payload = [...uleb(nameBytes.length), ...nameBytes];
  return Buffer.concat([b, Uint8Array.of(0, ...uleb(payload.length), ...payload)]);
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}
