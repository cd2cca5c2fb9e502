import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import {
  encodeRequest,
  type FluvioBatch,
  FluvioEngineHarnessError,
  FluvioEngineMissingError,
  type FluvioStep,
  fluvioEnginePath,
  type HarnessOptions,
} from './fluvio-engine.js';

/** Calls per batch message. */
const ITERATIONS = 4;

/**
 * Fluvio's engine kept running for timing: one harness process in time mode (wall time per batch
 * message, ITERATIONS calls each), fed a few batch messages at a time. Its CPU time per round is
 * read from /proc/<pid>/schedstat between rounds, while it waits for input: the kernel brings a
 * thread's CPU total up to date when it blocks, so the figure is exact there (a thread reading its
 * own total mid-run sees it lag by up to a scheduler tick). It includes reading the batches from
 * the pipe, a copy of each batch: a small cost counted against Fluvio. The harness reads its request as a stream and answers each
 * batch as soon as it ran, so rounds of Fluvio's engine can alternate with other measurements
 * while the chain is compiled (wasmtime, seconds for big modules) and initialised only once.
 *
 * Fluvio's engine never frees a module's output, so every call leaks up to a batch's worth of
 * guest memory; past `leakBudget` bytes fed, the process is replaced by a fresh one (in the SPU a
 * chain lives as long as its stream, so its memory grows the same way, up to the 1 GB limit).
 */
export class FluvioTimer {
  private child: ChildProcessByStdio<Writable, Readable, Readable> | null = null;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private wake: (() => void) | null = null;
  private stderr = '';
  private exited: string | null = null;
  private fed = 0;

  constructor(
    private readonly steps: readonly FluvioStep[],
    private readonly options: HarnessOptions & { leakBudget?: number } = {},
  ) {
    const bin = fluvioEnginePath();
    if (!existsSync(bin)) throw new FluvioEngineMissingError(bin);
  }

  /** Starts the harness (compile, init, look-back) unless it runs. */
  async start(): Promise<void> {
    if (this.child) return;
    const bin = fluvioEnginePath();
    const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.buffered = [];
    this.bufferedBytes = 0;
    this.exited = null;
    this.stderr = '';
    this.fed = 0;
    child.stdout.on('data', (c: Buffer) => {
      this.buffered.push(c);
      this.bufferedBytes += c.length;
      this.wake?.();
    });
    child.stderr.on('data', (c: Buffer) => {
      this.stderr += c.toString();
    });
    child.on('error', (err) => {
      this.exited = err.message;
      this.wake?.();
    });
    child.on('exit', (code, signal) => {
      this.exited = `exited with ${code ?? signal}${this.stderr ? `: ${this.stderr.trim()}` : ''}`;
      this.wake?.();
    });
    child.stdin.on('error', () => {
      /* reported through 'exit' */
    });
    const header = encodeRequest(1, ITERATIONS, this.steps, [], this.options);
    child.stdin.write(header.subarray(0, header.length - 1)); // without the end marker
    const setup = await this.read(1);
    if (setup[0] !== 0) {
      await this.stop();
      throw new FluvioEngineHarnessError(`the chain failed to start in Fluvio's engine (reply ${setup[0]})`);
    }
  }

  /**
   * Runs `messages` batch messages (cycling over `batches`), each batch ITERATIONS times; returns
   * the engine's wall nanoseconds, the harness's CPU nanoseconds over the round and the calls made.
   */
  async time(
    batches: readonly FluvioBatch[],
    messages: number,
  ): Promise<{ nanos: number; cpuNanos: number; calls: number; recordsIn: number }> {
    const budget = this.options.leakBudget ?? 120e6;
    const biggest = Math.max(...batches.map((b) => b.raw.length));
    if (this.child && this.fed + messages * ITERATIONS * biggest > budget) await this.stop();
    await this.start();
    const parts: Buffer[] = [];
    let recordsIn = 0;
    for (let i = 0; i < messages; i++) {
      const b = batches[i % batches.length]!;
      parts.push(batchMessage(b));
      recordsIn += Buffer.from(b.raw.buffer, b.raw.byteOffset, 4).readInt32BE(0) * ITERATIONS;
    }
    this.fed += messages * ITERATIONS * biggest;
    const cpu0 = this.childCpuNs();
    this.child!.stdin.write(Buffer.concat(parts));
    const reply = await this.read(13 * messages);
    // The harness blocks on its input after its last reply: give it that moment before reading its CPU total.
    await new Promise((r) => setTimeout(r, 1));
    const cpuNanos = this.childCpuNs() - cpu0;
    let nanos = 0;
    for (let i = 0; i < messages; i++) {
      const at = i * 13;
      if (reply[at] !== 3) throw new FluvioEngineHarnessError(`unexpected reply tag ${reply[at]} in timing mode`);
      nanos += Number(reply.readBigUInt64BE(at + 1));
    }
    return { nanos, cpuNanos, calls: messages * ITERATIONS, recordsIn };
  }

  /** CPU nanoseconds the harness's main thread has run (Linux; NaN elsewhere). */
  private childCpuNs(): number {
    try {
      return Number(readFileSync(`/proc/${this.child!.pid}/schedstat`, 'latin1').split(' ', 1)[0]);
    } catch {
      return NaN;
    }
  }

  /** Ends the harness process (its input ends; it exits). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (this.exited === null) {
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.stdin.end(Buffer.from([0]));
      await done;
    }
  }

  private async read(n: number): Promise<Buffer> {
    while (this.bufferedBytes < n) {
      if (this.exited !== null) throw new FluvioEngineHarnessError(`${fluvioEnginePath()} ${this.exited}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
    }
    const all = Buffer.concat(this.buffered);
    this.buffered = all.length > n ? [all.subarray(n)] : [];
    this.bufferedBytes = all.length - n;
    return all.subarray(0, n);
  }
}

function batchMessage(b: FluvioBatch): Buffer {
  const head = Buffer.alloc(1 + 8 + 8 + 4);
  head.writeUInt8(1, 0);
  head.writeBigInt64BE(BigInt(b.baseOffset), 1);
  head.writeBigInt64BE(BigInt(b.baseTimestamp), 9);
  head.writeUInt32BE(b.raw.length, 17);
  return Buffer.concat([head, b.raw]);
}
