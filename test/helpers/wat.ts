import binaryen from 'binaryen';

/** Assembles WebAssembly text into a binary (for hand-written engine fixtures and broken modules). */
export function wat(source: string): Uint8Array {
  const mod = binaryen.parseText(source);
  try {
    mod.setFeatures(binaryen.Features.All);
    return mod.emitBinary();
  } finally {
    mod.dispose();
  }
}

/** A minimal host-compatible module: bump alloc at 1024, one transform, and the given body/extra. */
export function smartModule(opts: { transform?: string; body?: string; imports?: string; extra?: string; memory?: string; exportsAlloc?: boolean; copyRecords?: boolean }): Uint8Array {
  const transform = opts.transform ?? 'filter';
  return wat(`(module
    ${opts.copyRecords === false ? '' : '(import "env" "copy_records" (func $copy (param i32 i32)))'}
    ${opts.imports ?? ''}
    (memory (export "memory") ${opts.memory ?? '1'})
    (data (i32.const 16) "\\00\\00\\00\\00\\00")
    ${opts.exportsAlloc === false ? '' : '(func (export "alloc") (param $n i32) (result i32) (i32.const 1024))'}
    (func (export "${transform}") (param i32 i32 i32) (result i32)
      ${opts.body ?? '(call $copy (i32.const 16) (i32.const 5)) (i32.const 0)'})
    ${opts.extra ?? ''}
  )`);
}
