import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatAuthority, parseHttpAddress } from './address.js';
import { type Blocking, BlockMeter } from './blocking.js';
import { HttpListenError } from './errors.js';
import { createRegistry } from './metrics.js';
import { Outbox } from './outbox.js';
import { statusPage } from './page.js';
import { Renderings } from './rendering.js';
import type { Telemetry } from './telemetry.js';

/**
 * The HTTP endpoint of `eddy run --http` / `open(dir, { http })`: `/metrics`, `/healthz`,
 * `/readyz`, `/api/status` and the status page at `/`. `/metrics` and `/api/status` are served
 * from bytes rendered once per telemetry snapshot (rendering.ts), so many clients at once cost
 * one render and a socket write each.
 */

export interface ObserveServer {
  /** The URL it listens on (with the real port when 0 was asked for). */
  readonly url: string;
  /** Set when it listens beyond loopback: what to tell the operator. */
  readonly warning: string | null;
  /**
   * How long serving requests held the event loop in one go (a request handler, or one slice of a
   * render one started), since the start or the last reset (for the bench).
   */
  readonly blocking: Blocking;
  resetBlocking(): void;
  /** Have each hold also say how long it waited for a core (the bench; see blocking.ts). */
  measureRunQueue(on: boolean): void;
  close(): Promise<void>;
}

export async function serveObserve(telemetry: Telemetry, address: string): Promise<ObserveServer> {
  const { host, port, loopback } = parseHttpAddress(address);
  const meter = new BlockMeter();
  let renderings: Renderings | null = null;
  const registry = createRegistry(telemetry, () => renderings!.source());
  renderings = new Renderings(telemetry, registry, meter);
  const rendered = renderings;
  const stopSampling = telemetry.startSampling();
  const page = statusPage();
  const outbox = new Outbox(meter);

  const server = createServer((req, res) => {
    const mark = meter.start();
    try {
      route(req, res);
    } catch (err) {
      send(res, 500, 'application/json', JSON.stringify({ error: (err as Error)?.message ?? String(err) }));
    }
    meter.end(mark);
  });
  const route = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(res, 405, 'text/plain', 'only GET and HEAD\n', { allow: 'GET, HEAD' });
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case '/':
        return send(res, 200, 'text/html; charset=utf-8', page, {
          'content-security-policy':
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
        });
      case '/metrics': {
        // The answer is written once the render is done, in the outbox's slices.
        rendered.metrics().then(
          (text) => outbox.push(() => send(res, 200, registry.contentType, text)),
          (err: unknown) => outbox.push(() => send(res, 500, 'text/plain', `${(err as Error)?.message ?? err}\n`)),
        );
        return;
      }
      case '/healthz': {
        const h = telemetry.health();
        return send(
          res,
          h.healthy ? 200 : 503,
          'application/json',
          JSON.stringify({ status: h.healthy ? 'ok' : 'unhealthy', errors: h.errors }),
        );
      }
      case '/readyz': {
        const r = telemetry.readiness();
        return send(
          res,
          r.ready ? 200 : 503,
          'application/json',
          JSON.stringify({ status: r.ready ? 'ready' : 'starting', waiting: r.waiting }),
        );
      }
      case '/api/status':
        return send(res, 200, 'application/json', rendered.status());
      default:
        return send(res, 404, 'text/plain', 'not found: try /, /metrics, /healthz, /readyz or /api/status\n');
    }
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new HttpListenError(formatAuthority(host, port), err.code ?? err.message, { cause: err })),
    );
    server.listen(port, host, () => resolve());
  }).catch((err: unknown) => {
    stopSampling();
    throw err;
  });
  // A page left open keeps a connection; it must not hold the process up at close.
  server.keepAliveTimeout = 5000;
  const bound = server.address() as AddressInfo;
  const url = `http://${formatAuthority(host, bound.port)}/`;
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
    close: () =>
      closeServer(server).finally(() => {
        stopSampling();
        meter.measureRunQueue(false);
      }),
  };
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
