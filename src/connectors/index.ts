/**
 * Connectors: move records between a topic and the outside world, configured as Fluvio's
 * connectors are (`apiVersion`, `meta`, the connector's section, `transforms`). Sources:
 * `http-source`, `kafka-source`. Sinks: `http-sink`, `file-sink`, `kafka-sink`. `eddy connector run --config file.yml` runs one;
 * `eddy run --connector file.yml` runs them next to the derived streams.
 */
export {
  CONNECTOR_TYPES,
  type ConnectorConfig,
  ConnectorConfigError,
  type ConnectorType,
  Params,
  parseConnectorConfig,
  readConnectorConfig,
} from './config.js';
export { type ConnectorContext, ConnectorError, type ConnectorImpl, type ConnectorStats, sleep } from './contract.js';
export { fileSink } from './file-sink.js';
export { REDIRECT_POLICIES, type RedirectPolicy, retryDelay } from './http.js';
export { httpSink } from './http-sink.js';
export { httpSource } from './http-source.js';
export { kafkaSink } from './kafka-sink.js';
export { kafkaSource } from './kafka-source.js';
export { type ConnectorEvents, RunningConnector, type StartOptions, startConnector } from './runner.js';
export { envSecretStore, fileSecretStore, SecretError, type SecretStore } from './secrets.js';
export { runSink, type SinkHandlers } from './sink.js';
export { compileTemplate, type Template, TemplateError, type TemplateRecord } from './template.js';
