import { readFileSync } from 'node:fs';

/**
 * The floor for the engine: the module called directly, with a pre-encoded input copied into its
 * memory and the function called; the output is ignored (but freed, so both sides do the same
 * guest work and memory does not grow).
 */
export function moduleAlone(path: string, fn: string): (input: Uint8Array) => void {
  let outPtr = 0,
    outLen = 0;
  const compiled = new WebAssembly.Module(readFileSync(path));
  const imports: WebAssembly.Imports = {};
  for (const imp of WebAssembly.Module.imports(compiled)) {
    if (imp.name === 'copy_records')
      (imports[imp.module] ??= {})[imp.name] = (p: number, l: number) => {
        outPtr = p;
        outLen = l;
      };
  }
  const ex = new WebAssembly.Instance(compiled, imports).exports;
  const memory = ex['memory'] as WebAssembly.Memory;
  const alloc = ex['alloc'] as (n: number) => number;
  const dealloc = ex['dealloc'] as (p: number, n: number) => void;
  const f = ex[fn] as (p: number, n: number, v: number) => number;
  return (input) => {
    const ptr = alloc(input.length);
    new Uint8Array(memory.buffer).set(input, ptr);
    f(ptr, input.length, 22);
    dealloc(outPtr, outLen);
  };
}
