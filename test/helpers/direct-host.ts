/**
 * A minimal SmartModule host for SDK tests: instantiate with only `env.copy_records`, alloc + copy
 * the input, call an export, read the announced bytes. Independent of the engine in
 * src/smartmodule so that SDK bytes are checked against the spec directly.
 */
export interface CallResult {
  rc: number;
  /** The announced output (a copy), or null when nothing was announced. */
  out: Uint8Array | null;
}

export class DirectHost {
  readonly instance: WebAssembly.Instance;
  private announced: [number, number] | null = null;
  /** Free announced output buffers with dealloc, as Eddy does (spec §2.1). */
  freeOutput = true;

  constructor(bytes: Uint8Array) {
    const module = new WebAssembly.Module(bytes);
    this.instance = new WebAssembly.Instance(module, {
      env: {
        copy_records: (ptr: number, len: number) => {
          this.announced = [ptr, len];
        },
      },
    });
  }

  get exports(): Record<string, unknown> {
    return this.instance.exports as Record<string, unknown>;
  }

  get memory(): WebAssembly.Memory {
    return this.instance.exports.memory as WebAssembly.Memory;
  }

  call(fn: string, input: Uint8Array, version = 22): CallResult {
    const e = this.instance.exports as Record<string, (...a: number[]) => number>;
    this.announced = null;
    const ptr = e.alloc!(input.length);
    new Uint8Array(this.memory.buffer, ptr, input.length).set(input);
    const rc = e[fn]!(ptr, input.length, version);
    let out: Uint8Array | null = null;
    const announced = this.announced as [number, number] | null;
    if (announced) {
      const [p, l] = announced;
      out = new Uint8Array(this.memory.buffer, p, l).slice();
      if (this.freeOutput) e.dealloc!(p, l);
    }
    return { rc, out };
  }
}

export interface FuncSig {
  params: string[];
  results: string[];
}
export interface ModuleShape {
  imports: { module: string; name: string; kind: string; sig?: FuncSig }[];
  exports: { name: string; kind: string; sig?: FuncSig }[];
}

const VALTYPES: Record<number, string> = {
  127: 'i32',
  126: 'i64',
  125: 'f32',
  124: 'f64',
  123: 'v128',
  112: 'funcref',
  111: 'externref',
};

/** Reads imports and exports with function signatures from the binary (type/import/function/export sections). */
export function moduleShape(b: Uint8Array): ModuleShape {
  let p = 8;
  const u32 = (): number => {
    let r = 0,
      s = 0,
      x: number;
    do {
      x = b[p++]!;
      r |= (x & 0x7f) << s;
      s += 7;
    } while (x & 0x80);
    return r >>> 0;
  };
  const name = (): string => {
    const n = u32();
    const s = Buffer.from(b.subarray(p, p + n)).toString('utf8');
    p += n;
    return s;
  };
  const types: FuncSig[] = [];
  const funcTypes: number[] = []; // function index space → type index
  const shape: ModuleShape = { imports: [], exports: [] };
  const kinds = ['function', 'table', 'memory', 'global', 'tag'];
  while (p < b.length) {
    const id = b[p++]!;
    const size = u32();
    const end = p + size;
    if (id === 1) {
      for (let n = u32(); n > 0; n--) {
        if (b[p++] !== 0x60) throw new Error('unexpected type form');
        const params = Array.from({ length: u32() }, () => VALTYPES[b[p++]!] ?? '?');
        const results = Array.from({ length: u32() }, () => VALTYPES[b[p++]!] ?? '?');
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = u32(); n > 0; n--) {
        const module = name();
        const field = name();
        const kind = b[p++]!;
        if (kind === 0) {
          const t = u32();
          funcTypes.push(t);
          shape.imports.push({ module, name: field, kind: 'function', sig: types[t] });
        } else {
          shape.imports.push({ module, name: field, kind: kinds[kind] ?? '?' });
          if (kind === 1) {
            p++;
            const f = b[p++]!;
            u32();
            if (f & 1) u32();
          } else if (kind === 2) {
            const f = b[p++]!;
            u32();
            if (f & 1) u32();
          } else if (kind === 3) {
            p += 2;
          } else if (kind === 4) {
            p++;
            u32();
          }
        }
      }
    } else if (id === 3) {
      for (let n = u32(); n > 0; n--) funcTypes.push(u32());
    } else if (id === 7) {
      for (let n = u32(); n > 0; n--) {
        const field = name();
        const kind = b[p++]!;
        const index = u32();
        shape.exports.push({
          name: field,
          kind: kinds[kind] ?? '?',
          ...(kind === 0 ? { sig: types[funcTypes[index]!] } : {}),
        });
      }
    }
    p = end;
  }
  return shape;
}

export const sigText = (s: FuncSig | undefined): string =>
  s ? `(${s.params.join(',')})->(${s.results.join(',')})` : 'none';
