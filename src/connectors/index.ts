/**
 * Connectors: move records between a topic and the outside world, configured as Fluvio's
 * connectors are (`apiVersion`, `meta`, the connector's section, `transforms`). Sources:
 * `http-source`. Sinks: `http-sink`, `file-sink`. `eddy connector run --config file.yml` runs one;
 * `eddy run --connector file.yml` runs them next to the derived streams.
 */
export { parseConnectorConfig, readConnectorConfig, ConnectorConfigError, CONNECTOR_TYPES, Params, type ConnectorConfig, type ConnectorType } from './config.js';
export { startConnector, RunningConnector, type ConnectorEvents, type StartOptions } from './runner.js';
export { ConnectorError, sleep, type ConnectorContext, type ConnectorImpl, type ConnectorStats } from './contract.js';
export { httpSource } from './http-source.js';
export { httpSink } from './http-sink.js';
export { fileSink } from './file-sink.js';
export { runSink, type SinkHandlers } from './sink.js';
export { compileTemplate, TemplateError, type Template, type TemplateRecord } from './template.js';
export { envSecretStore, fileSecretStore, SecretError, type SecretStore } from './secrets.js';
export { REDIRECT_POLICIES, retryDelay, type RedirectPolicy } from './http.js';
