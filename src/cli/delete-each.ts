import { EddyError } from '../errors.js';
import { cliMessage, DeleteFailedError } from './errors.js';
import type { CliIO } from './format.js';

/**
 * Deletes several names one by one, as Fluvio's `topic delete` / `smart-module delete`: each
 * deletion prints `<what> "<name>" deleted`; the first failure stops the command, unless
 * `continueOnError` (`-c`), which reports each failure on stderr, goes on with the others and
 * fails at the end naming what was not deleted.
 */
export async function deleteEach(
  io: CliIO,
  what: string,
  names: readonly string[],
  continueOnError: boolean,
  remove: (name: string) => Promise<void>,
): Promise<void> {
  const failed: string[] = [];
  for (const name of names) {
    try {
      await remove(name);
    } catch (err) {
      if (!continueOnError || !(err instanceof EddyError)) throw err;
      io.stderr.write(`${what} "${name}" delete failed with: ${cliMessage(err)}\n`);
      failed.push(name);
      continue;
    }
    io.stdout.write(`${what} "${name}" deleted\n`);
  }
  if (failed.length > 0) throw new DeleteFailedError(what, failed, names.length);
}
