/** Built fixture modules: the helpers live in src/sdk-build (benches use them too). */
export { wasmBytes, wasmPath } from '../../src/sdk-build/fixtures.js';
