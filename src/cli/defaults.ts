import { COORDINATOR_DEFAULTS } from '../coordinator/defaults.js';
import { SMARTMODULE_DEFAULTS } from '../smartmodule/defaults.js';
import { formatDuration } from '../smartmodule/duration.js';
import { STORAGE_DEFAULTS } from '../storage/defaults.js';
import { formatBytes } from '../units.js';

const cliDefaults = {
  /** `consume -T` without a number: records before the end. */
  tailRecords: 10,
  /** How often `eddy run`'s status line updates (ms): on a terminal, and otherwise. */
  statusIntervalTtyMs: 1000,
  statusIntervalMs: 5000,
};
/** The command line's own defaults, in one place. */
export const CLI_DEFAULTS: Readonly<typeof cliDefaults> = Object.freeze(cliDefaults);

/** `1GB`, `100GB`: a decimal size written as an option takes it. */
const sizeText = (n: number): string => formatBytes(n).replace(' ', '');

const defaultText = {
  timeout: formatDuration(COORDINATOR_DEFAULTS.deadlineMs),
  memoryLimit: sizeText(SMARTMODULE_DEFAULTS.memoryLimitBytes),
  recycleAfter: `${SMARTMODULE_DEFAULTS.recycleAfterBytes / 1024 ** 2}MiB`,
  retention: formatDuration(STORAGE_DEFAULTS.retentionMs),
  maxPartitionSize: sizeText(STORAGE_DEFAULTS.maxPartitionBytes),
  maxRecordBytes: `${STORAGE_DEFAULTS.maxRecordBytes / 1024 ** 2}MiB`,
  linger: formatDuration(STORAGE_DEFAULTS.producerLingerMs),
  batchSize: `${STORAGE_DEFAULTS.producerBatchBytes} bytes`,
  commitInterval: formatDuration(STORAGE_DEFAULTS.commitIntervalMs),
};
/**
 * The other rooms' defaults as help texts and hints print them (`5s`, `1GB`), so a changed
 * default changes its help text too.
 */
export const DEFAULT_TEXT: Readonly<typeof defaultText> = Object.freeze(defaultText);
