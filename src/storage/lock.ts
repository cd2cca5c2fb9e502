/**
 * One writer per data directory. LMDB itself would let several processes write (its write lock
 * serialises them), but Eddy keeps per-partition state (next offset, log position) in the writing
 * process, so a second writer would hand out the same offsets. The writer therefore holds
 * `<dir>/eddy.lock`, a JSON file naming it (pid, host, /proc start time, command line); a second
 * writer gets DataDirLockedError naming that process. Readers (`readOnly: true`) take no lock:
 * LMDB gives them consistent snapshots of what the writer committed.
 *
 * The file is created with link(2) from a private temporary file, so it appears complete or not at
 * all. A lock whose process is gone (killed: SIGKILL leaves the file behind) is stale and is taken
 * over: it is renamed away (one contender wins the rename), checked to be the stale one, removed.
 * A pid reused by another program is told apart by its /proc start time.
 */
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DataDirLockedError, type LockHolderInfo } from './errors.js';

export const LOCK_FILE = 'eddy.lock';

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

export function acquireWriterLock(dir: string): WriterLock {
  const path = join(dir, LOCK_FILE);
  const holder: LockHolderInfo = {
    pid: process.pid,
    hostname: hostname(),
    startTime: processStartTime(process.pid),
    command: process.argv.slice(0, 3).join(' '),
    openedAt: Date.now(),
  };
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  const text = JSON.stringify(holder);
  try {
    // Owner-only (it names the command line); removed below whatever happens, also when the
    // write fails half-way (a full disk must not collect empty lock files).
    writeFileSync(tmp, text, { mode: 0o600 });
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(tmp, path);
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
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const current = readHolder(path);
      if (current === null) continue; // vanished between link and read: retry
      if (isAlive(current)) throw new DataDirLockedError(dir, current);
      // Stale: move it away atomically, then make sure we moved the stale one.
      const aside = `${path}.stale.${process.pid}.${attempt}`;
      try {
        renameSync(path, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      const moved = readHolder(aside);
      if (moved && (moved.pid !== current.pid || moved.openedAt !== current.openedAt)) {
        // Another contender replaced the stale lock in between: put theirs back and give up.
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
        throw new DataDirLockedError(dir, moved);
      }
      try {
        unlinkSync(aside);
      } catch {
        /* ignore */
      }
    }
    const last = readHolder(path);
    throw new DataDirLockedError(dir, last ?? { pid: -1, hostname: '?', startTime: null, command: 'unknown', openedAt: 0 });
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      /* ignore */
    }
  }
}
