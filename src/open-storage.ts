import { engineValidator } from './smartmodule/validate.js';
import { openStorage as openStorageOnly, type Storage, type StorageOptions } from './storage/storage.js';

/**
 * Opens a data directory's storage with the engine validating modules at registration (unless
 * `validateModule` says otherwise). Storage does not import the engine; the two meet here, and
 * this is the `openStorage` the package exports.
 */
export function openStorage(dir: string, options: StorageOptions = {}): Promise<Storage> {
  return openStorageOnly(dir, { ...options, validateModule: options.validateModule ?? engineValidator });
}
