/**
 * CRC-32 (the IEEE / zlib polynomial, reflected 0xEDB88320): the trailer checksum of batches
 * stored from this version on (flag bit 5; older batches keep their CRC32C, see batch-format.ts).
 * @node-rs/crc32 computes it with carry-less multiplication (PCLMULQDQ) at ~25 GB/s on the
 * development machine, five times its CRC32C, which the CPU's CRC32 instruction bounds to one
 * 8-byte step per ~3 cycles. Both are 32-bit CRCs over the same bytes: every burst of up to 32
 * bits and all but 2^-32 of other corruptions are detected either way. A table-driven version
 * covers the 8-byte key and platforms without the addon.
 */
import { type Crc, nativeCrc, tableCrc } from './crc-kit.js';

/** Table-driven CRC-32 of `bytes`, continuing from `crc` (the result of an earlier call; 0 to start). */
export const crc32Small: Crc = tableCrc(0xedb88320);

/** CRC-32 of `bytes`, continuing from `crc`. */
export const crc32: Crc = nativeCrc('crc32', 0xcbf43926) ?? crc32Small;
