import { EddyError } from '../errors.js';
import type { ConnectorConfig, Params } from './config.js';
import { type ConnectorImpl, sleep } from './contract.js';
import { CONNECTOR_DEFAULTS } from './defaults.js';
import { describeFailure, endpointParam, REDIRECT_POLICIES, readBody, request } from './http.js';

/**
 * `type: http-source` (Fluvio's http-source connector): requests an endpoint every `interval` and
 * produces each response as one record, through the transforms first.
 *
 * ```yaml
 * http:
 *   endpoint: https://catfact.ninja/fact
 *   interval: 10s                 # default 10s, time between the starts of two requests
 *   method: GET                   # default GET
 *   headers: ["Authorization: Bearer ..."]
 *   body: '{"query": 1}'          # request body, for POST
 *   user-agent: eddy-http-source  # default
 *   output-parts: body            # body (default) | full (status line and headers too)
 *   output-type: text             # text (default) | json
 *   http-request-timeout: 10s
 *   follow-redirects: same-origin # same-origin (default) | any | none; headers stay with the endpoint's origin
 *   max-body-size: 1 MiB          # default: the largest record the data directory stores
 * ```
 * A failed request, a non-2xx answer or a body over the limit produces nothing and is reported;
 * polling goes on. `stream: true` (a record per chunk of an endless response) is refused.
 */
export function httpSource(params: Params, config: ConnectorConfig): ConnectorImpl {
  const url = endpointParam(params, 'https://example.com/api');
  const endpoint = url.href;
  if (params.boolean('stream', false)) {
    throw params.error(
      'stream',
      "true is not supported: Eddy's http-source polls (one record per response); remove it, or set it to false",
    );
  }
  const method = params.string('method', 'GET').toUpperCase();
  const headers = params.headers();
  const body = params.optionalString('body');
  const userAgent = params.string('user_agent', 'eddy-http-source');
  const intervalMs = params.durationMs('interval', CONNECTOR_DEFAULTS.httpInterval);
  const timeoutMs = params.durationMs('http_request_timeout', CONNECTOR_DEFAULTS.httpRequestTimeout);
  const parts = params.choice('output_parts', ['body', 'full'] as const, 'body');
  const type = params.choice('output_type', ['text', 'json'] as const, 'text');
  const redirects = params.choice('follow_redirects', REDIRECT_POLICIES, 'same-origin');
  const maxBodyBytes = params.bytes('max_body_size', 0);
  return {
    summary: `polling ${method} ${endpoint} every ${intervalMs} ms into topic "${config.topic}"`,
    async run(ctx) {
      const { lingerMs = 0, batchSize, compression } = config.producer;
      const producer = await ctx.eddy.producer(config.topic, {
        lingerMs,
        ...(batchSize !== undefined ? { batchSize } : {}),
        ...(compression !== undefined ? { compression } : {}),
        ...(ctx.transforms.length ? { transforms: ctx.transforms } : {}),
      });
      const bodyLimit = maxBodyBytes || ctx.eddy.storage.limits.maxRecordBytes;
      try {
        while (!ctx.signal.aborted) {
          const started = Date.now();
          let value: Uint8Array | null = null;
          try {
            const { res } = await request(ctx.fetch, url, {
              method,
              headers: { 'user-agent': userAgent, ...headers },
              ...(body !== undefined ? { body } : {}),
              redirects,
              timeoutMs,
              signal: ctx.signal,
            });
            const bytes = await readBody(res, bodyLimit, `${method} ${endpoint}`);
            if (!res.ok) {
              ctx.error(
                new EddyError(
                  'EDDY_CONNECTOR_HTTP',
                  `${method} ${endpoint}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}; no record produced`,
                ),
              );
            } else {
              value = render(res, bytes, parts, type);
            }
          } catch (err) {
            if (ctx.signal.aborted) break;
            const why = describeFailure(err, timeoutMs);
            ctx.error(
              new EddyError(
                'EDDY_CONNECTOR_HTTP',
                `${method} ${endpoint} failed: ${why}; trying again in ${intervalMs} ms`,
              ),
            );
          }
          if (value !== null) {
            try {
              await producer.send({ value });
              ctx.stats.records++;
              ctx.stats.bytes += value.length;
            } catch (err) {
              // A transform refused the record (or storage did): report it and keep polling.
              if (!(err instanceof EddyError)) throw err;
              ctx.error(err);
            }
          }
          await sleep(intervalMs - (Date.now() - started), ctx.signal);
        }
      } finally {
        await producer.close();
      }
    },
  };
}

const utf8 = new TextEncoder();

/** The record for a response: its body, or (output-parts: full) the status and headers too, as text or JSON. */
export function render(res: Response, body: Uint8Array, parts: 'body' | 'full', type: 'text' | 'json'): Uint8Array {
  if (parts === 'body' && type === 'text') return body;
  const text = new TextDecoder().decode(body);
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    headers[k] = v;
  });
  if (type === 'json') {
    if (parts === 'body') return utf8.encode(JSON.stringify({ body: text }));
    return utf8.encode(
      JSON.stringify({
        status: { version: 'HTTP/1.1', code: res.status, string: res.statusText },
        header: headers,
        body: text,
      }),
    );
  }
  const head = [
    `HTTP/1.1 ${res.status} ${res.statusText}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ].join('\n');
  return utf8.encode(`${head}\n\n${text}`);
}
