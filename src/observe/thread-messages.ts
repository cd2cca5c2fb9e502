import type { LatencySnapshot } from './latency.js';
import type { Status } from './status.js';

/**
 * What the coordinator (server.ts) and the HTTP thread (http-thread.ts) say to each other. The
 * thread asks; the coordinator answers from its telemetry, and does nothing else for the endpoint.
 */

/** The thread's start data. */
export interface ThreadData {
  host: string;
  port: number;
  /** How old a snapshot may be and still answer a request (telemetry.ts' FRESH_MS unless a test says). */
  freshMs: number;
}

export interface Health {
  healthy: boolean;
  errors: Status['errors'];
}

export interface Readiness {
  ready: boolean;
  waiting: string[];
}

/** Everything `/metrics`, `/api/status` and the page need, taken on the coordinator in one go. */
export interface Snapshot {
  status: Status;
  latency: LatencySnapshot;
}

export type FromThread =
  | { type: 'listening'; port: number }
  | { type: 'listen-failed'; code: string; message: string }
  /** A snapshot, please (at most one asked at a time). */
  | { type: 'snapshot' }
  /** Health and readiness as they are now, for `/healthz` and `/readyz` (at most one asked at a time). */
  | { type: 'probe' };

export type ToThread =
  | { type: 'snapshot'; snapshot: Snapshot }
  | { type: 'probe'; health: Health; readiness: Readiness }
  /** The coordinator could not answer (say, storage closed meanwhile): the waiting requests get a 500. */
  | { type: 'failed'; asked: 'snapshot' | 'probe'; message: string }
  | { type: 'close' };
