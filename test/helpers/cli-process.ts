import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';

/** `eddy` as real child processes, in a fresh work directory with its own data directory. */

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const bin = join(root, 'bin', 'eddy.js');

export interface Started {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number>;
}

export function setup(t: ExecutionContext, prefix = 'eddy-writer-') {
  const work = mkdtempSync(join(tmpdir(), prefix));
  const data = join(work, 'data');
  const env = { ...process.env, EDDY_DATA_DIR: data, EDDY_WORKERS: '1' };
  /** Starts `eddy args` (or, with `command`, that program with `args`). `stdin` null leaves it open. */
  const start = (
    args: string[],
    stdin: string | null = '',
    cwd = work,
    extra: SpawnOptions & { command?: string } = {},
  ): Started => {
    const { command, ...options } = extra;
    const child = spawn(command ?? process.execPath, command ? args : [bin, ...args], {
      cwd,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      ...options,
    });
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.stdin!.on('error', () => {}); // a child that exits before reading its input
    const exited = new Promise<number>((res) =>
      child.on('close', (code, signal) => res(code ?? (signal === 'SIGKILL' ? -9 : -1))),
    );
    if (stdin !== null) child.stdin!.end(stdin);
    return { child, out: () => out, err: () => err, exited };
  };
  const eddy = async (args: string[], stdin = '', cwd = work, extra: SpawnOptions = {}) => {
    const p = start(args, stdin, cwd, extra);
    const code = await p.exited;
    return { code, stdout: p.out(), stderr: p.err() };
  };
  const ok = async (args: string[], stdin = '', cwd = work) => {
    const r = await eddy(args, stdin, cwd);
    if (r.code !== 0) throw new Error(`eddy ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  return { work, data, env, start, eddy, ok };
}

// Generous: a loaded machine may take long to reach the state; a healthy run returns as soon as it does.
export async function until(cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');

/** Resident memory of a process in bytes (VmRSS), or null once it is gone. */
export function rssBytes(pid: number): number | null {
  const m = /VmRSS:\s+(\d+) kB/.exec(read(`/proc/${pid}/status`));
  return m ? Number(m[1]) * 1024 : null;
}

/**
 * Watches a child's resident memory; past `limit` bytes it is killed (so a test of an unbounded
 * read fails instead of taking the machine down). `peak()` is the highest value seen.
 */
export function memoryGuard(
  t: ExecutionContext,
  child: ChildProcess,
  limit: number,
): { peak(): number; exceeded(): boolean } {
  let peak = 0;
  let exceeded = false;
  const timer = setInterval(() => {
    const rss = child.pid === undefined ? null : rssBytes(child.pid);
    if (rss === null) return;
    peak = Math.max(peak, rss);
    if (rss > limit && !exceeded) {
      exceeded = true;
      child.kill('SIGKILL');
    }
  }, 20);
  t.teardown(() => clearInterval(timer));
  return { peak: () => peak, exceeded: () => exceeded };
}
