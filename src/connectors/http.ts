import { EddyError } from '../errors.js';
import type { Params } from './config.js';

/**
 * What the http connectors share: the endpoint check, requests that follow redirects by policy
 * (fetch's own following would carry every header to any origin, and fails on a 307 with a
 * body), response bodies read up to a limit, and retry timing.
 */

export type RedirectPolicy = 'same-origin' | 'any' | 'none';
export const REDIRECT_POLICIES: readonly RedirectPolicy[] = ['same-origin', 'any', 'none'];
const MAX_REDIRECTS = 10;

/** `endpoint:` as an http(s) URL; anything else (ws://, a typo) is refused with the field named. */
export function endpointParam(params: Params, example: string): URL {
  const endpoint = params.string('endpoint');
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw params.error('endpoint', `${JSON.stringify(endpoint)} is not a URL such as ${example}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw params.error(
      'endpoint',
      `${url.protocol}// is not supported: Eddy's http connectors speak HTTP and HTTPS only`,
    );
  }
  return url;
}

/** A request that did not end in a usable answer; `retryable` says whether trying again can help. */
export class HttpProblem extends EddyError {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super('EDDY_CONNECTOR_HTTP', message);
  }
}

export interface RequestSpec {
  method: string;
  headers: Record<string, string>;
  body?: Uint8Array | string;
  redirects: RedirectPolicy;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Headers that are sent to every origin; the configured ones (credentials, API keys) stay with the endpoint's. */
const PORTABLE_HEADERS = new Set(['user-agent', 'content-type', 'accept']);

/**
 * Sends a request and follows redirects itself: same-origin ones by default, any with `any`,
 * none with `none`. On another origin only user-agent, content-type and accept are sent. 303 (and
 * 301/302 after a POST) continue as a GET without body, as browsers do; 307/308 send the same
 * method and body again (a fresh copy each time).
 */
export async function request(
  fetchFn: typeof fetch,
  endpoint: URL,
  spec: RequestSpec,
): Promise<{ res: Response; url: URL }> {
  const signal = spec.signal
    ? AbortSignal.any([spec.signal, AbortSignal.timeout(spec.timeoutMs)])
    : AbortSignal.timeout(spec.timeoutMs);
  let url = endpoint;
  let method = spec.method;
  let body = spec.body;
  let headers = spec.headers;
  for (let hop = 0; ; hop++) {
    const res = await fetchFn(url, {
      method,
      headers,
      redirect: 'manual',
      signal,
      ...(body !== undefined ? { body: typeof body === 'string' ? body : body.slice() } : {}),
    });
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || res.status === 304 || location === null) return { res, url };
    await res.body?.cancel().catch(() => {});
    const next = new URL(location, url);
    const crossOrigin = next.origin !== endpoint.origin;
    if (spec.redirects === 'none' || (crossOrigin && spec.redirects === 'same-origin')) {
      throw new HttpProblem(
        `HTTP ${res.status} redirect to ${next.href} not followed (follow-redirects: ${spec.redirects}); ` +
          `point the endpoint at the final address, or set follow-redirects: ${crossOrigin ? 'any' : 'same-origin'}`,
        false,
      );
    }
    if (hop + 1 >= MAX_REDIRECTS)
      throw new HttpProblem(`more than ${MAX_REDIRECTS} redirects (last to ${next.href})`, false);
    if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
      if (method !== 'HEAD') method = 'GET';
      body = undefined;
    }
    if (crossOrigin)
      headers = Object.fromEntries(Object.entries(headers).filter(([k]) => PORTABLE_HEADERS.has(k.toLowerCase())));
    url = next;
  }
}

/** Reads a response body, refusing one over `maxBytes` (by content-length, or once that many bytes arrived). */
export async function readBody(res: Response, maxBytes: number, what: string): Promise<Uint8Array> {
  const tooLarge = () =>
    new HttpProblem(
      `the response body of ${what} is larger than max-body-size (${maxBytes} bytes); raise max-body-size if it is expected`,
      false,
    );
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!res.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

/** Retrying helps for a network failure, a timeout, 408, 429 and 5xx; not for another 4xx (the request itself is wrong). */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Wait before retry `attempt` (0-based): exponential from `baseMs`, capped at `capMs`, with
 * jitter (between half and all of it) so that connectors failing together do not retry together.
 */
export function retryDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const full = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 52));
  return Math.round(full / 2 + (random() * full) / 2);
}

/** A fetch failure in a few words: the timeout, the system error code, or the message. */
export function describeFailure(err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  if (err instanceof HttpProblem) return err.message;
  return e.cause?.code ?? e.cause?.message ?? e.message;
}
