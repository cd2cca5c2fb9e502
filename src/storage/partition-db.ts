import type { DatabaseOptions } from 'lmdb';
import { STORAGE_DEFAULTS } from './defaults.js';

/**
 * How a partition's database is opened, by the writer and by reader threads alike (they must
 * agree, or a reader cannot decode compressed values).
 */
export function partitionDbOptions(name: string, lz4: boolean): DatabaseOptions & { name: string } {
  return {
    name,
    encoding: 'binary',
    ...(lz4 ? { compression: { threshold: STORAGE_DEFAULTS.lz4ThresholdBytes } } : {}),
  };
}
