/**
 * Who writes a data directory. LMDB lets several processes write one environment (its write lock
 * serialises their transactions), but some writers keep state of their own in the process: `eddy
 * run`'s derived streams and socket, topic create/delete, offsets handed out ahead of the commit.
 * So there are two ways to hold a directory:
 *
 * - exclusive (the default): `<dir>/eddy.lock`, a JSON file naming the holder (pid, host, /proc
 *   start time, command line). A second writer of any kind gets DataDirLockedError naming it.
 * - shared (`eddy produce`): each holder has its own `<dir>/eddy.lock.shared-<pid>-<random>`.
 *   Shared holders run side by side (their appends read the log's end inside the LMDB write
 *   transaction, see partition.ts); an exclusive writer is refused while one is alive, and they
 *   are refused while an exclusive writer is.
 *
 * Each side first makes its own file appear, then looks for the other side: of two processes
 * starting at once, at least one sees the other (both may; they retry after a short random pause).
 * Files appear complete or not at all (link(2) or rename(2) from a private temporary file). A
 * file whose process is gone (SIGKILL leaves it behind) is stale and is removed: the exclusive
 * lock is renamed away (one contender wins the rename), checked to be the stale one, removed.
 * A pid reused by another program is told apart by its /proc start time. Readers (`readOnly:
 * true`) take no lock: LMDB gives them consistent snapshots of what the writers committed.
 */
import { linkSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DataDirLockedError, type LockHolderInfo } from './errors.js';

export const LOCK_FILE = 'eddy.lock';
/** Name prefix of a shared writer's lock file. */
export const SHARED_LOCK_PREFIX = `${LOCK_FILE}.shared-`;

export interface WriterLock {
  readonly path: string;
  readonly holder: LockHolderInfo;
  release(): void;
}

/** Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), or null. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(h: LockHolderInfo): boolean {
  if (h.hostname !== hostname()) return true; // cannot check another host: assume it is running
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: exists, owned by someone else
  }
  if (h.startTime !== null) {
    const now = processStartTime(h.pid);
    if (now !== null && now !== h.startTime) return false; // pid reused
  }
  return true;
}

function readHolder(path: string): LockHolderInfo | null {
  try {
    const j = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockHolderInfo>;
    if (typeof j.pid !== 'number') return null;
    return {
      pid: j.pid,
      hostname: String(j.hostname ?? ''),
      startTime: j.startTime ?? null,
      command: String(j.command ?? ''),
      openedAt: Number(j.openedAt ?? 0),
    };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    // Unparsable: written by something else; treat as held by an unknown live process.
    return { pid: -1, hostname: '?', startTime: null, command: `unreadable ${path}`, openedAt: 0 };
  }
}

/** Attempts before giving up on a directory another writer is taking at the same moment. */
const ATTEMPTS = 4;

/**
 * Takes the data directory for writing: exclusively (the default), or shared with other shared
 * writers (`{ shared: true }`, see the file comment). Throws DataDirLockedError naming the holder.
 */
export function acquireWriterLock(dir: string, options: { shared?: boolean } = {}): WriterLock {
  const holder: LockHolderInfo = {
    pid: process.pid,
    hostname: hostname(),
    startTime: processStartTime(process.pid),
    command: process.argv.slice(0, 3).join(' '),
    openedAt: Date.now(),
  };
  for (let attempt = 1; ; attempt++) {
    const mine = options.shared ? announceShared(dir, holder) : takeExclusive(dir, holder);
    const other = options.shared ? liveExclusive(dir) : liveShared(dir);
    if (!other) return mine;
    mine.release();
    if (attempt === ATTEMPTS) throw new DataDirLockedError(dir, other.holder, other.file);
    pause(10 + Math.random() * 40);
  }
}

/** Makes `text` appear at `path` whole: written to a private file first, then linked or renamed. */
function place(path: string, text: string, how: 'link' | 'rename'): void {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  try {
    // Owner-only (it names the command line); removed below whatever happens, also when the
    // write fails half-way (a full disk must not collect empty lock files).
    writeFileSync(tmp, text, { mode: 0o600 });
    if (how === 'link') linkSync(tmp, path);
    else renameSync(tmp, path);
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      /* renamed */
    }
  }
}

function lockFor(path: string, holder: LockHolderInfo): WriterLock {
  return {
    path,
    holder,
    release() {
      const h = readHolder(path);
      if (h && h.pid === holder.pid && h.openedAt === holder.openedAt) {
        try {
          unlinkSync(path);
        } catch {
          /* already gone */
        }
      }
    },
  };
}

function announceShared(dir: string, holder: LockHolderInfo): WriterLock {
  const path = join(dir, `${SHARED_LOCK_PREFIX}${process.pid}-${Math.random().toString(36).slice(2)}`);
  place(path, JSON.stringify(holder), 'rename');
  return lockFor(path, holder);
}

/** A live shared writer other than this process (stale files are removed on the way). */
function liveShared(dir: string): { holder: LockHolderInfo; file: string } | null {
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(SHARED_LOCK_PREFIX)) continue;
    const path = join(dir, name);
    const h = readHolder(path);
    if (h === null) continue;
    if (isAlive(h)) return { holder: h, file: name };
    try {
      unlinkSync(path);
    } catch {
      /* another writer removed it */
    }
  }
  return null;
}

/** The live exclusive writer, if any; a stale exclusive lock is removed. */
function liveExclusive(dir: string): { holder: LockHolderInfo; file: string } | null {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = readHolder(path);
    if (current === null) return null;
    if (isAlive(current)) return { holder: current, file: LOCK_FILE };
    const theirs = removeStale(path, current, attempt);
    if (theirs) return { holder: theirs, file: LOCK_FILE };
  }
  return null;
}

/**
 * Moves a stale exclusive lock away atomically and removes it; returns the holder of a lock that
 * another contender put there in between (it is put back), else null.
 */
function removeStale(path: string, stale: LockHolderInfo, attempt: number): LockHolderInfo | null {
  const aside = `${path}.stale.${process.pid}.${attempt}`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const moved = readHolder(aside);
  if (moved && (moved.pid !== stale.pid || moved.openedAt !== stale.openedAt)) {
    try {
      linkSync(aside, path);
    } catch {
      /* someone else holds it again */
    }
    try {
      unlinkSync(aside);
    } catch {
      /* ignore */
    }
    return moved;
  }
  try {
    unlinkSync(aside);
  } catch {
    /* ignore */
  }
  return null;
}

function takeExclusive(dir: string, holder: LockHolderInfo): WriterLock {
  const path = join(dir, LOCK_FILE);
  const text = JSON.stringify(holder);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      place(path, text, 'link');
      return lockFor(path, holder);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const current = readHolder(path);
    if (current === null) continue; // vanished between link and read: retry
    if (isAlive(current)) throw new DataDirLockedError(dir, current);
    const theirs = removeStale(path, current, attempt);
    if (theirs) throw new DataDirLockedError(dir, theirs);
  }
  const last = readHolder(path);
  throw new DataDirLockedError(
    dir,
    last ?? { pid: -1, hostname: '?', startTime: null, command: 'unknown', openedAt: 0 },
  );
}

/** Sleeps this thread (a lock is taken synchronously, while a storage opens). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
