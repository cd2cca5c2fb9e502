import { smartModule } from './wat.js';

/** A filter that keeps no record and whose every call writes "from the module\n" to `fd` (1 stdout, 2 stderr) through WASI. */
export function printingModule(fd: 1 | 2): Uint8Array {
  return smartModule({
    imports: '(import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))',
    extra: '(data (i32.const 64) "from the module\\n") (data (i32.const 32) "\\40\\00\\00\\00\\10\\00\\00\\00")',
    body: `(drop (call $write (i32.const ${fd}) (i32.const 32) (i32.const 1) (i32.const 40)))
      (call $copy (i32.const 16) (i32.const 5)) (i32.const 0)`,
  });
}

/**
 * A pass-through filter (see passThroughFilter) that, on every call, writes the first record's
 * value to stdout through WASI: each batch names itself in the module's output. Values must be 5
 * bytes with no key (1-byte varints).
 */
export function printingPassThrough(): Uint8Array {
  return smartModule({
    imports: '(import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))',
    extra: '(data (i32.const 64) "\\n")',
    body: `(local $len i32)
      (local.set $len (i32.or (i32.or (i32.shl (i32.load8_u (i32.add (local.get 0) (i32.const 8))) (i32.const 24))
                                      (i32.shl (i32.load8_u (i32.add (local.get 0) (i32.const 9))) (i32.const 16)))
                              (i32.or (i32.shl (i32.load8_u (i32.add (local.get 0) (i32.const 10))) (i32.const 8))
                                      (i32.load8_u (i32.add (local.get 0) (i32.const 11))))))
      (i32.store (i32.const 32) (i32.add (local.get 0) (i32.const 22)))
      (i32.store (i32.const 36) (i32.const 5))
      (i32.store (i32.const 40) (i32.const 64))
      (i32.store (i32.const 44) (i32.const 1))
      (drop (call $write (i32.const 1) (i32.const 32) (i32.const 2) (i32.const 48)))
      (call $copy (i32.add (local.get 0) (i32.const 12)) (i32.add (local.get $len) (i32.const 1)))
      (i32.const 0)`,
    memory: '32',
  }).slice();
}
