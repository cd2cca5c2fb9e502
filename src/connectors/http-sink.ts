import { EddyError } from '../errors.js';
import type { ConnectorConfig, Params } from './config.js';
import { ConnectorError, type ConnectorImpl, sleep } from './contract.js';
import { CONNECTOR_DEFAULTS } from './defaults.js';
import {
  describeFailure,
  endpointParam,
  HttpProblem,
  REDIRECT_POLICIES,
  request,
  retryableStatus,
  retryDelay,
} from './http.js';
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
 *   retries: 3                    # network errors, timeouts, 408, 429 and 5xx are retried
 *   retry-backoff: 200ms          # first wait; doubles each time, with jitter
 *   retry-backoff-max: 30s        # the longest wait
 *   follow-redirects: same-origin # same-origin (default) | any | none; 307/308 send the body again
 * ```
 * A record that still fails after the retries, or gets another 4xx (the request itself is wrong,
 * so it is not retried), stops the connector with the error; the named consumer's offset stays
 * before it, so the next run sends it again.
 */
export function httpSink(params: Params, config: ConnectorConfig): ConnectorImpl {
  const url = endpointParam(params, 'http://127.0.0.1:8080/ingest');
  const endpoint = url.href;
  const method = params.string('method', 'POST').toUpperCase();
  const headers = params.headers();
  const userAgent = params.string('user_agent', 'eddy-http-sink');
  const timeoutMs = params.durationMs('http_request_timeout', CONNECTOR_DEFAULTS.httpRequestTimeout);
  const retries = params.integer('retries', 3);
  const backoffMs = params.durationMs('retry_backoff', '200ms');
  const backoffMaxMs = params.durationMs('retry_backoff_max', '30s');
  const redirects = params.choice('follow_redirects', REDIRECT_POLICIES, 'same-origin');
  return {
    summary: `sending records of topic "${config.topic}" to ${method} ${endpoint}`,
    async run(ctx) {
      const send = async (body: Uint8Array): Promise<void> => {
        for (let attempt = 0; ; attempt++) {
          let problem: string;
          let retryable = true;
          try {
            const { res } = await request(ctx.fetch, url, {
              method,
              headers: { 'user-agent': userAgent, ...headers },
              body,
              redirects,
              timeoutMs,
            });
            await res.body?.cancel().catch(() => {});
            if (res.ok) return;
            problem = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
            retryable = retryableStatus(res.status);
          } catch (err) {
            problem = describeFailure(err, timeoutMs);
            if (err instanceof HttpProblem) retryable = err.retryable;
          }
          if (!retryable || attempt >= retries || ctx.signal.aborted) {
            const why =
              !retryable && attempt < retries
                ? ' (not retried: the server refused the request itself)'
                : attempt
                  ? ` (after ${attempt} retries)`
                  : '';
            throw new ConnectorError(
              config.name,
              `${method} ${endpoint} failed: ${problem}${why}; the record was not delivered and will be sent again on the next run`,
            );
          }
          ctx.error(new EddyError('EDDY_CONNECTOR_RETRY', `${method} ${endpoint} failed: ${problem}; retrying`));
          await sleep(retryDelay(attempt, backoffMs, backoffMaxMs), ctx.signal);
        }
      };
      await runSink(ctx, { deliver: (r) => send(r.value) });
    },
  };
}
