import { Worker } from 'node:worker_threads';
import { EddyError } from '../errors.js';
import { formatAuthority, parseHttpAddress } from './address.js';
import { type Blocking, BlockMeter } from './blocking.js';
import { HttpListenError } from './errors.js';
import { FRESH_MS, type Telemetry } from './telemetry.js';
import type { FromThread, ThreadData, ToThread } from './thread-messages.js';

/**
 * The HTTP endpoint of `eddy run --http` / `open(dir, { http })`: `/metrics`, `/healthz`,
 * `/readyz`, `/api/status` and the status page at `/`, served from a thread of its own
 * (http-thread.ts), so a request never runs on the coordinator's event loop. The coordinator's
 * part is this handle: when the thread asks, it takes a telemetry snapshot (or health and
 * readiness) and posts it, and that is all the endpoint costs the loop the commits run on.
 */

export interface ObserveServer {
  /** The URL it listens on (with the real port when 0 was asked for). */
  readonly url: string;
  /** Set when it listens beyond loopback: what to tell the operator. */
  readonly warning: string | null;
  /**
   * How long answering the HTTP thread held the coordinator's event loop in one go (taking and
   * posting a snapshot, or health and readiness), since the start or the last reset (for the
   * bench, and the tests: one hold per question the thread asked).
   */
  readonly blocking: Blocking;
  resetBlocking(): void;
  /** Have each hold also say how long it waited for a core (the bench; see blocking.ts). */
  measureRunQueue(on: boolean): void;
  close(): Promise<void>;
}

export interface ServeOptions {
  /**
   * Told when the HTTP thread stops on its own (an uncaught error in it): the endpoint is gone,
   * the streams go on. By default a process warning.
   */
  onError?: (error: EddyError) => void;
  /** How old a snapshot may be and still answer a request (default FRESH_MS; tests make it longer). */
  freshMs?: number;
}

/** How long close() waits for the thread to end by itself before it stops it. */
const CLOSE_WAIT_MS = 5000;

export async function serveObserve(
  telemetry: Telemetry,
  address: string,
  options: ServeOptions = {},
): Promise<ObserveServer> {
  const { host, port, loopback } = parseHttpAddress(address);
  const onError =
    options.onError ?? ((e: EddyError) => process.emitWarning(e.message, { type: 'EddyWarning', code: e.code }));
  const meter = new BlockMeter();
  const data: ThreadData = { host, port, freshMs: options.freshMs ?? FRESH_MS };
  // Kept up while it starts; unref'd once it listens.
  const thread = new Worker(new URL('./http-thread.js', import.meta.url), { workerData: data });
  const post = (m: ToThread) => thread.postMessage(m);
  const stopSampling = telemetry.startSampling();

  // One synchronous stretch on the coordinator per question: timed as one hold.
  const answer = (asked: 'snapshot' | 'probe') => {
    const mark = meter.start();
    try {
      if (asked === 'snapshot')
        post({ type: 'snapshot', snapshot: { status: telemetry.status(), latency: telemetry.latency.snapshot() } });
      else post({ type: 'probe', health: telemetry.health(), readiness: telemetry.readiness() });
    } catch (err) {
      post({ type: 'failed', asked, message: (err as Error)?.message ?? String(err) });
    }
    meter.end(mark);
  };

  let phase: 'starting' | 'serving' | 'closing' | 'gone' = 'starting';
  let listening: (port: number) => void = () => {};
  let refused: (err: Error) => void = () => {};
  const started = new Promise<number>((resolve, reject) => {
    listening = resolve;
    refused = reject;
  });
  const authority = formatAuthority(host, port);
  let url = `http://${authority}/`;
  thread.on('message', (m: FromThread) => {
    switch (m.type) {
      case 'snapshot':
      case 'probe':
        return answer(m.type);
      case 'listening':
        return listening(m.port);
      case 'listen-failed': {
        const cause = Object.assign(new Error(m.message), { code: m.code });
        return refused(new HttpListenError(authority, m.code || m.message, { cause }));
      }
    }
  });
  // An uncaught error in the thread (then its exit), or an exit alone: reported once, unless closing.
  const stopped = (why: string, cause?: unknown) => {
    const was = phase;
    if (was === 'gone') return;
    phase = 'gone';
    stopSampling();
    if (was === 'starting')
      refused(new EddyError('EDDY_HTTP_THREAD', `the HTTP endpoint's thread did not start: ${why}`, { cause }));
    else if (was === 'serving')
      onError(
        new EddyError(
          'EDDY_HTTP_THREAD',
          `the HTTP endpoint at ${url} stopped (${why}): metrics, health and the status page are no longer served; the streams go on`,
          { cause },
        ),
      );
  };
  thread.on('error', (err) => stopped((err as Error)?.message ?? String(err), err));
  const exited = new Promise<void>((resolve) =>
    thread.on('exit', (code) => {
      stopped(`it exited with code ${code}`);
      resolve();
    }),
  );

  try {
    url = `http://${formatAuthority(host, await started)}/`;
  } catch (err) {
    phase = 'gone';
    await thread.terminate();
    stopSampling();
    throw err;
  }
  if (phase === 'starting') phase = 'serving';
  // The endpoint does not keep the process up (as an unref'd timer does not).
  thread.unref();
  return {
    url,
    warning: loopback
      ? null
      : `the status page and /metrics at ${url} are reachable from other machines (stream names, topics and error texts included); ` +
        'bind to 127.0.0.1 unless that is meant, and put it behind a firewall or proxy that limits who can connect',
    get blocking() {
      return meter.blocking;
    },
    resetBlocking: () => meter.reset(),
    measureRunQueue: (on) => meter.measureRunQueue(on),
    close: async () => {
      if (phase === 'serving') {
        phase = 'closing';
        // Kept up until the thread has closed its server and ended.
        thread.ref();
        post({ type: 'close' });
        const wait = setTimeout(() => void thread.terminate(), CLOSE_WAIT_MS);
        await exited;
        clearTimeout(wait);
      }
      await exited;
      stopSampling();
      meter.measureRunQueue(false);
    },
  };
}
