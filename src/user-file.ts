import { constants, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { EddyError } from './errors.js';

/**
 * Reading a file that a user names (a module, a transforms file, a connector config). The name
 * may point anywhere: at /dev/zero (endless), at a FIFO (open blocks until a writer comes, and the
 * process then ignores Ctrl-C while it waits), at a huge file. So only a regular file is read, it
 * is opened without blocking, and never more than `maxBytes` is read, even if it grows meanwhile.
 */

/** Size limits of the files Eddy reads for users. */
export const MAX_MODULE_BYTES = 32 * 1024 * 1024;
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/** Input read whole (`eddy test --file`). */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

export type UserFileProblem = 'missing' | 'directory' | 'not-a-file' | 'too-large' | 'unreadable';

/** A named file that cannot be read; `detail` says why, worded to follow the file's name. */
export class UserFileError extends EddyError {
  constructor(
    readonly path: string,
    readonly problem: UserFileProblem,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super('EDDY_FILE', `${path}: ${detail}`, options);
  }
}

function fileType(s: Stats): string {
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isSocket()) return 'a socket';
  return 'not a regular file';
}

function checkRegular(path: string, s: Stats, maxBytes: number): void {
  if (!s.isFile())
    throw new UserFileError(
      path,
      s.isDirectory() ? 'directory' : 'not-a-file',
      `it is ${fileType(s)}; give the path of a regular file`,
    );
  if (s.size > maxBytes) throw tooLarge(path, maxBytes);
}

function tooLarge(path: string, maxBytes: number): UserFileError {
  return new UserFileError(
    path,
    'too-large',
    `the file is larger than ${maxBytes} bytes, the limit for this kind of file`,
  );
}

function unreadable(path: string, err: unknown): UserFileError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return new UserFileError(path, 'missing', `no such file (${code})`, { cause: err });
  return new UserFileError(path, 'unreadable', `cannot read it (${code ?? (err as Error).message})`, { cause: err });
}

/** Whether `path` is a regular file (no error for anything else). */
export async function isRegularFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The bytes of the regular file at `path`, at most `maxBytes` of them; else a UserFileError. */
export async function readUserFile(path: string, maxBytes: number): Promise<Buffer> {
  let s: Stats;
  try {
    s = await stat(path);
  } catch (err) {
    throw unreadable(path, err);
  }
  checkRegular(path, s, maxBytes);
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    // O_NONBLOCK: if a FIFO was put in its place since the stat, open returns at once.
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw unreadable(path, err);
  }
  try {
    checkRegular(path, await fh.stat(), maxBytes);
    // Read to the end, never past maxBytes + 1: a file that grows (or reports size 0, as /proc does) stays bounded.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, maxBytes + 1 - total));
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > maxBytes) throw tooLarge(path, maxBytes);
    }
    return Buffer.concat(chunks, total);
  } catch (err) {
    if (err instanceof UserFileError) throw err;
    throw unreadable(path, err);
  } finally {
    await fh.close();
  }
}
