/**
 * Checks `data.mdb` with plain reads before LMDB maps it. LMDB trusts its file: a file shorter
 * than the pages its meta page names makes the first read past the end a SIGBUS (no message, no
 * exit code a script can tell from a crash), and a meta page with a flipped bit silently selects
 * another snapshot. Reading the two meta pages first turns both into a DataCorruptError.
 *
 * Meta page layout (LMDB data format 2, 64-bit, little-endian; lmdb-js's LMDB): a 24-byte page
 * header (page number, txnid, pad, u16 flags = P_META 0x08, u32), then MDB_meta:
 * ```
 * +24 u32 magic 0xBEEFC0DE   +28 u32 version (low 16 bits = 2)   +32 u64 fixed address (0)
 * +40 u64 map size           +48 MDB_db free   +96 MDB_db main
 * +144 u64 last used page    +152 u64 txnid    +160 u64 boot id
 * MDB_db: +0 u32 pad (page size in the free db) +4 u16 flags +6 u16 depth
 *         +8 branch pages +16 leaf pages +24 overflow pages +32 entries +40 root page (u64 each)
 * ```
 * Meta page 0 sits at byte 0, meta page 1 at byte `pageSize`; a commit with txnid t writes meta
 * page t & 1, so the two txnids are consecutive with matching parity (or both 0 when nothing was
 * committed yet).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { DataCorruptError } from './errors.js';

export const DATA_FILE = 'data.mdb';

const MAGIC = 0xbeefc0de;
const DATA_VERSION = 2;
const P_META = 0x08;
const NO_PAGE = 0xffff_ffff_ffff_ffffn;
const META_MAX = 168;

/** What the meta page LMDB will use says about the file. */
export interface DataFileInfo {
  path: string;
  /** Bytes on disk. */
  size: number;
  pageSize: number;
  /** Last page number in use: the file must hold pages 0..lastPage. */
  lastPage: number;
  txnid: number;
  /**
   * Entries of LMDB's main database, Eddy's named databases (its sub-databases and partitions), as
   * each meta page counts them: LMDB opens the newest snapshot, or the previous one after a reboot.
   */
  namedDatabases: [number, number];
}

interface Meta {
  pageSize: number;
  lastPage: bigint;
  txnid: bigint;
  mainEntries: bigint;
  roots: bigint[];
}

/**
 * Reads and checks the meta pages of `<dir>/data.mdb`. Returns null when there is no file yet (or
 * an empty one: LMDB initialises it, nothing can be lost). A writer committing while this reads
 * can tear a meta page: a failed check is read again before it is reported.
 */
export function inspectDataFile(dir: string): DataFileInfo | null {
  for (let attempt = 0; ; attempt++) {
    try {
      return readDataFile(dir);
    } catch (err) {
      if (!(err instanceof DataCorruptError) || attempt >= 2) throw err;
    }
  }
}

function readDataFile(dir: string): DataFileInfo | null {
  const path = join(dir, DATA_FILE);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return null;
    const first = Buffer.alloc(META_MAX);
    if (readSync(fd, first, 0, META_MAX, 0) < META_MAX)
      throw new DataCorruptError(path, `it is only ${size} bytes, shorter than one LMDB meta page`);
    const m0 = parseMeta(first, path, 0);
    const second = Buffer.alloc(META_MAX);
    if (size < m0.pageSize + META_MAX || readSync(fd, second, 0, META_MAX, m0.pageSize) < META_MAX) {
      throw new DataCorruptError(
        path,
        `it is ${size} bytes, too short for its second meta page (page size ${m0.pageSize}): the file was truncated`,
      );
    }
    const m1 = parseMeta(second, path, 1);
    if (m1.pageSize !== m0.pageSize)
      throw new DataCorruptError(path, `its meta pages disagree on the page size (${m0.pageSize}, ${m1.pageSize})`);
    checkTxnids(m0.txnid, m1.txnid, path);
    const newest = m1.txnid > m0.txnid ? m1 : m0;
    // biome-ignore lint/complexity/useMathMinMax: bigints (Math.max takes numbers)
    const lastPage = m0.lastPage > m1.lastPage ? m0.lastPage : m1.lastPage;
    const needed = (lastPage + 1n) * BigInt(m0.pageSize);
    if (BigInt(size) < needed) {
      throw new DataCorruptError(
        path,
        `it is ${size} bytes but its meta page uses pages up to ${lastPage} (${needed} bytes): the file was truncated`,
      );
    }
    for (const m of [m0, m1]) {
      for (const root of m.roots) {
        if (root !== NO_PAGE && (root < 2n || root > m.lastPage)) {
          throw new DataCorruptError(
            path,
            `a meta page points at page ${root}, outside the file's pages 2..${m.lastPage}`,
          );
        }
      }
    }
    return {
      path,
      size,
      pageSize: m0.pageSize,
      lastPage: Number(lastPage),
      txnid: Number(newest.txnid),
      namedDatabases: [Number(m0.mainEntries), Number(m1.mainEntries)],
    };
  } finally {
    closeSync(fd);
  }
}

function parseMeta(b: Buffer, path: string, index: number): Meta {
  const what = `meta page ${index}`;
  if (!(b.readUInt16LE(18) & P_META) || b.readUInt32LE(24) !== MAGIC)
    throw new DataCorruptError(path, `${what} is not an LMDB meta page`);
  if ((b.readUInt32LE(28) & 0xffff) !== DATA_VERSION)
    throw new DataCorruptError(
      path,
      `${what} has LMDB data version ${b.readUInt32LE(28) & 0xffff}, expected ${DATA_VERSION}`,
    );
  if (b.readBigUInt64LE(32) !== 0n)
    throw new DataCorruptError(path, `${what} has a fixed map address, which Eddy never sets`);
  const pageSize = b.readUInt32LE(48);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0)
    throw new DataCorruptError(path, `${what} has an invalid page size ${pageSize}`);
  const lastPage = b.readBigUInt64LE(144);
  const pages = (db: number) => b.readBigUInt64LE(db + 8) + b.readBigUInt64LE(db + 16) + b.readBigUInt64LE(db + 24);
  if (pages(48) + pages(96) > lastPage + 1n)
    throw new DataCorruptError(path, `${what} counts more pages than the file's ${lastPage + 1n}`);
  return {
    pageSize,
    lastPage,
    txnid: b.readBigUInt64LE(152),
    mainEntries: b.readBigUInt64LE(96 + 32),
    roots: [b.readBigUInt64LE(48 + 40), b.readBigUInt64LE(96 + 40)],
  };
}

function checkTxnids(t0: bigint, t1: bigint, path: string): void {
  if (t0 === 0n && t1 === 0n) return;
  const ok = (t0 & 1n) === 0n && (t1 === 0n || (t1 & 1n) === 1n) && (t0 > t1 ? t0 - t1 : t1 - t0) === 1n;
  if (!ok)
    throw new DataCorruptError(
      path,
      `its meta pages name transactions ${t0} and ${t1}, which a commit never leaves (damaged meta page)`,
    );
}
