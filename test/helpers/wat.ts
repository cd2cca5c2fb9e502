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
export function smartModule(opts: {
  transform?: string;
  body?: string;
  imports?: string;
  extra?: string;
  memory?: string;
  exportsAlloc?: boolean;
  copyRecords?: boolean;
}): Uint8Array {
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

/**
 * A pass-through filter that needs no allocation: the output is the input's own `raw_bytes`
 * followed by the byte after them, which at v22 is the (empty) params map's first byte, 00, i.e.
 * "no error". When the first record's value starts with `L` (no key, 1-byte varints) it spins
 * forever; with `T` it traps. For pool tests.
 */
export function passThroughFilter(): Uint8Array {
  return smartModule({
    body: `(local $len i32)
      (local.set $len (i32.or (i32.or (i32.shl (i32.load8_u (i32.add (local.get 0) (i32.const 8))) (i32.const 24))
                                      (i32.shl (i32.load8_u (i32.add (local.get 0) (i32.const 9))) (i32.const 16)))
                              (i32.or (i32.shl (i32.load8_u (i32.add (local.get 0) (i32.const 10))) (i32.const 8))
                                      (i32.load8_u (i32.add (local.get 0) (i32.const 11))))))
      (if (i32.eq (i32.load8_u (i32.add (local.get 0) (i32.const 22))) (i32.const 76)) (then (loop $spin (br $spin))))
      (if (i32.eq (i32.load8_u (i32.add (local.get 0) (i32.const 22))) (i32.const 84)) (then unreachable))
      (call $copy (i32.add (local.get 0) (i32.const 12)) (i32.add (local.get $len) (i32.const 1)))
      (i32.const 0)`,
    memory: '32',
  }).slice();
}
