import { EddyError } from '../errors.js';
import type { ConnectorConfig, Params } from './config.js';
import { ConnectorError, sleep, type ConnectorImpl } from './runner.js';
import { runSink } from './sink.js';

/**
 * `type: http-sink` (Fluvio's http-sink connector): sends each record's value as the body of an
 * HTTP request, in order.
 *
 * ```yaml
 * http:
 *   endpoint: http://127.0.0.1:8080/ingest
 *   method: POST                  # default POST
 *   headers: ["Content-Type: application/json"]
 *   user-agent: eddy-http-sink    # default
 *   http-request-timeout: 10s     # default 10s
 *   retries: 3                    # failed requests (network error, non-2xx) are retried, with backoff
 *   retry-backoff: 200ms          # first wait; doubles each time
 * ```
 * A record that still fails after the retries stops the connector with the error; the named
 * consumer's offset stays before it, so the next run sends it again.
 */
export function httpSink(params: Params, config: ConnectorConfig): ConnectorImpl {
  const endpoint = params.string('endpoint');
  try {
    new URL(endpoint);
  } catch {
    throw params.error('endpoint', `${JSON.stringify(endpoint)} is not a URL such as http://127.0.0.1:8080/ingest`);
  }
  const method = params.string('method', 'POST').toUpperCase();
  const headers = params.headers();
  const userAgent = params.string('user_agent', 'eddy-http-sink');
  const timeoutMs = params.durationMs('http_request_timeout', '10s');
  const retries = params.integer('retries', 3);
  const backoffMs = params.durationMs('retry_backoff', '200ms');
  return {
    summary: `sending records of topic "${config.topic}" to ${method} ${endpoint}`,
    async run(ctx) {
      const send = async (body: Uint8Array): Promise<void> => {
        let attempt = 0;
        for (;;) {
          let problem: string;
          try {
            const res = await ctx.fetch(endpoint, {
              method,
              headers: { 'user-agent': userAgent, ...headers },
              body,
              signal: AbortSignal.timeout(timeoutMs),
            });
            await res.arrayBuffer().catch(() => undefined);
            if (res.ok) return;
            problem = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
          } catch (err) {
            const e = err as Error & { cause?: { code?: string; message?: string } };
            problem = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
          }
          if (attempt >= retries || ctx.signal.aborted) {
            throw new ConnectorError(config.name, `${method} ${endpoint} failed: ${problem}${attempt ? ` (after ${attempt} retries)` : ''}; the record was not delivered and will be sent again on the next run`);
          }
          ctx.error(new EddyError('EDDY_CONNECTOR_RETRY', `${method} ${endpoint} failed: ${problem}; retrying`));
          await sleep(backoffMs * 2 ** attempt, ctx.signal);
          attempt++;
        }
      };
      await runSink(ctx, { deliver: (r) => send(r.value) });
    },
  };
}
