/**
 * The WebAssembly types Eddy's published declarations name (`SmartModule.compiled`, a sandbox's
 * memory). Node has WebAssembly as a global, but TypeScript types it only in lib.dom, which an
 * embedding program may not load; without these its type-check fails inside Eddy's .d.ts.
 * Interfaces only, so they merge with lib.dom's (and with src/types/webassembly.d.ts here).
 */
declare global {
  namespace WebAssembly {
    interface Module {}
    interface Memory {
      readonly buffer: ArrayBuffer;
    }
  }
}

export {};
