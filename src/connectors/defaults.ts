/** Connector settings a config leaves out take these (durations in Fluvio's text form, as a config writes them). */
const defaults = {
  /** Sinks: how often delivered offsets are committed (ms). */
  flushPeriodMs: 1000,
  /** http-source: time between the starts of two requests. */
  httpInterval: '10s',
  /** http-source and http-sink: how long one request may take. */
  httpRequestTimeout: '10s',
};
export const CONNECTOR_DEFAULTS: Readonly<typeof defaults> = Object.freeze(defaults);
