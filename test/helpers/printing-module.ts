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
