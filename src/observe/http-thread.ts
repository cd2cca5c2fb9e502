import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { LatencyCounts } from './latency.js';
import { createRegistry } from './metrics.js';
import { statusPage } from './page.js';
import { Renderings } from './rendering.js';
import type { Status } from './status.js';
import type { FromThread, Health, Readiness, Snapshot, ThreadData, ToThread } from './thread-messages.js';

/**
 * The HTTP endpoint's own thread (started by server.ts): it owns the `http.Server`, the routes,
 * the status page, prom-client's registry and the rendering of `/metrics` and `/api/status`, so
 * no request, render or socket write runs on the coordinator's event loop. The numbers stay with
 * the coordinator: when a request needs them and the last snapshot is older than `freshMs`, the
 * thread asks it for one (one question at a time, shared by every request waiting meanwhile).
 * `/healthz` and `/readyz` ask for health and readiness as they are now, so a stream's failure
 * shows at once.
 */

const port = parentPort!;
const data = workerData as ThreadData;
const post = (m: FromThread) => port.postMessage(m);

type Answer<T> = { ok: true; value: T } | { ok: false; error: Error };

/**
 * One question to the coordinator at a time. With `share`, a request that comes while one is
 * asked waits for its answer; without, for the next question (asked when the answer comes), so
 * it sees what happened before it came.
 */
class Question<T> {
  private asked: ((a: Answer<T>) => void)[] | null = null;
  private next: ((a: Answer<T>) => void)[] = [];

  constructor(
    private readonly ask: () => void,
    private readonly share: boolean,
  ) {}

  get(): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const settle = (a: Answer<T>) => (a.ok ? resolve(a.value) : reject(a.error));
      if (this.asked && this.share) return void this.asked.push(settle);
      this.next.push(settle);
      if (!this.asked) this.send();
    });
  }

  answered(a: Answer<T>): void {
    const waiting = this.asked ?? [];
    this.asked = null;
    if (this.next.length > 0) this.send();
    for (const settle of waiting) settle(a);
  }

  private send(): void {
    this.asked = this.next;
    this.next = [];
    this.ask();
  }
}

let current: Snapshot | null = null;
const snapshots = new Question<Status>(() => post({ type: 'snapshot' }), true);
const probes = new Question<{ health: Health; readiness: Readiness }>(() => post({ type: 'probe' }), false);

/** The last snapshot while it is fresh, else a new one from the coordinator. */
function snapshot(): Promise<Status> {
  if (current && Date.now() - current.status.time < data.freshMs) return Promise.resolve(current.status);
  return snapshots.get();
}

// The coordinator's batch-latency counts, copied in at each snapshot, written by this registry.
const latency = new LatencyCounts();
let renderings: Renderings | null = null;
const registry = createRegistry(latency, () => renderings!.source());
renderings = new Renderings(registry);
const rendered = renderings;
const page = statusPage();

const server = createServer((req, res) => {
  try {
    route(req, res);
  } catch (err) {
    failed(res, err);
  }
});

function route(req: IncomingMessage, res: ServerResponse) {
  if (req.method !== 'GET' && req.method !== 'HEAD')
    return send(res, 405, 'text/plain', 'only GET and HEAD\n', { allow: 'GET, HEAD' });
  const path = (req.url ?? '/').split('?')[0];
  switch (path) {
    case '/':
      return send(res, 200, 'text/html; charset=utf-8', page, {
        'content-security-policy':
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
      });
    case '/metrics':
      snapshot()
        .then((s) => rendered.metrics(s))
        .then(
          (text) => send(res, 200, registry.contentType, text),
          (err: unknown) => failed(res, err),
        );
      return;
    case '/api/status':
      snapshot().then(
        (s) => send(res, 200, 'application/json', rendered.status(s)),
        (err: unknown) => failed(res, err),
      );
      return;
    case '/healthz':
      probes.get().then(
        ({ health: h }) => {
          const body = JSON.stringify({ status: h.healthy ? 'ok' : 'unhealthy', errors: h.errors });
          send(res, h.healthy ? 200 : 503, 'application/json', body);
        },
        (err: unknown) => failed(res, err),
      );
      return;
    case '/readyz':
      probes.get().then(
        ({ readiness: r }) => {
          const body = JSON.stringify({ status: r.ready ? 'ready' : 'starting', waiting: r.waiting });
          send(res, r.ready ? 200 : 503, 'application/json', body);
        },
        (err: unknown) => failed(res, err),
      );
      return;
    default:
      return send(res, 404, 'text/plain', 'not found: try /, /metrics, /healthz, /readyz or /api/status\n');
  }
}

function failed(res: ServerResponse, err: unknown): void {
  send(res, 500, 'application/json', JSON.stringify({ error: (err as Error)?.message ?? String(err) }));
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): void {
  // A client gone while its answer was made: nothing to write to.
  if (res.destroyed || res.headersSent) return;
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

port.on('message', (m: ToThread) => {
  switch (m.type) {
    case 'snapshot':
      latency.load(m.snapshot.latency);
      current = m.snapshot;
      return snapshots.answered({ ok: true, value: m.snapshot.status });
    case 'probe':
      return probes.answered({ ok: true, value: { health: m.health, readiness: m.readiness } });
    case 'failed':
      return (m.asked === 'snapshot' ? snapshots : probes).answered({ ok: false, error: new Error(m.message) });
    case 'close':
      server.close();
      server.closeAllConnections();
      // Nothing left to keep the thread up: it ends.
      port.close();
      return;
  }
});

const listenFailed = (err: NodeJS.ErrnoException) => {
  post({ type: 'listen-failed', code: err.code ?? '', message: err.message });
  port.close();
};
server.once('error', listenFailed);
server.listen(data.port, data.host, () => {
  server.off('error', listenFailed);
  // Past the start, a server error ends the thread; the coordinator reports it (server.ts).
  server.on('error', (err) => {
    throw err;
  });
  post({ type: 'listening', port: (server.address() as AddressInfo).port });
});
// A page left open keeps a connection; it must not hold the endpoint up at close.
server.keepAliveTimeout = 5000;
