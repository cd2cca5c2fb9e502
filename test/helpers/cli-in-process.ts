import { Readable } from 'node:stream';
import type { CliIO } from '../../src/cli/format.js';
import { main } from '../../src/cli/main.js';

/** `eddy` run in this process through main(), on data directory `dir`, with its output collected. */

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runEddy(
  dir: string,
  args: string[],
  stdin = '',
  cwd = process.cwd(),
  env: NodeJS.ProcessEnv = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const text = (c: string | Uint8Array) => (typeof c === 'string' ? c : Buffer.from(c).toString());
  const io: CliIO = {
    stdout: {
      write: (c) => {
        stdout += text(c);
        return true;
      },
    },
    stderr: {
      write: (c) => {
        stderr += text(c);
        return true;
      },
    },
    stdin: Readable.from([Buffer.from(stdin)]),
    cwd,
    env: { EDDY_DATA_DIR: dir, EDDY_WORKERS: '1', ...env },
  };
  const code = await main(['node', 'eddy', ...args], io);
  return { code, stdout, stderr };
}

/** runEddy that must succeed: its stdout. */
export async function eddyOk(dir: string, args: string[], stdin = '', cwd = process.cwd()): Promise<string> {
  const r = await runEddy(dir, args, stdin, cwd);
  if (r.code !== 0) throw new Error(`eddy ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}
