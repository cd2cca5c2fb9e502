/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of Kafka's and Fluvio's
 * record batches. Batch values go to @node-rs/crc32 (prebuilt native addon using the CPU's CRC32
 * instruction: GB/s); a table-driven version covers the 8-byte key and platforms without the addon.
 */
import { type Crc, nativeCrc, tableCrc } from './crc-kit.js';

/** Table-driven CRC32C of `bytes`, continuing from `crc` (the result of an earlier call; 0 to start). */
export const crc32cSmall: Crc = tableCrc(0x82f63b78);

/** CRC32C of `bytes`, continuing from `crc`. */
export const crc32c: Crc = nativeCrc('crc32c', 0xe3069283) ?? crc32cSmall;
