import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';

/** bin/eddy.js of this checkout (tests run from dist/test/). */
export const eddyBin = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'), 'bin', 'eddy.js');

export interface EddyProcess {
  child: ChildProcess;
  err(): string;
  /** Exit code; −9 when killed with SIGKILL. */
  exited: Promise<number>;
}

/**
 * Runs `eddy` as real child processes in `cwd` with `env`; each is SIGKILLed at the end of the
 * test if still running; `wrap` is a command prefix that execs eddy. `start` leaves stdin open (the caller writes and ends it); `ok` sends
 * `stdin` and requires exit status 0.
 */
export function eddyProcesses(t: ExecutionContext, cwd: string, env: NodeJS.ProcessEnv, wrap: string[] = []) {
  const start = (args: string[]): EddyProcess => {
    // `wrap` runs eddy through a command that execs it (as `ip netns exec NS`), so the pid stays eddy's.
    const [cmd, ...pre] = [...wrap, process.execPath, eddyBin, ...args];
    const child = spawn(cmd!, pre, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let err = '';
    child.stdout!.resume();
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.stdin!.on('error', () => {}); // a killed process closes its end
    const exited = new Promise<number>((res) =>
      child.on('close', (code, signal) => res(code ?? (signal === 'SIGKILL' ? -9 : -1))),
    );
    return { child, err: () => err, exited };
  };
  const ok = async (args: string[], stdin = ''): Promise<void> => {
    const p = start(args);
    p.child.stdin!.end(stdin);
    const code = await p.exited;
    if (code !== 0) throw new Error(`eddy ${args.join(' ')} exited ${code}: ${p.err()}`);
  };
  return { start, ok };
}

/** Waits until `cond()` holds, checking every 20 ms; fails after `ms`. */
export async function until(cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
