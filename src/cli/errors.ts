import { EddyError } from '../errors.js';
import { SmartModuleRuntimeError } from '../smartmodule/errors.js';
import { formatRuntimeError } from './format.js';

/** A SmartModule runtime error as Fluvio prints it (the hint, then the `SmartModule Info` block). */
export function runtimeErrorText(err: SmartModuleRuntimeError): string {
  return formatRuntimeError({ hint: `${err.module}: ${err.hint}`, offset: err.offset, kind: err.kind, key: err.key, value: err.value });
}

/** A delete of something that does not exist: says so, and that nothing changed (not how to create it). */
export class NothingToDeleteError extends EddyError {
  constructor(what: string, name: string, list: string) {
    super('EDDY_NOT_FOUND', `${what} "${name}" does not exist, so nothing was deleted (${list})`);
  }
}

/**
 * Library errors say how to fix things with the API (`eddy.createTopic(...)`); on the command
 * line the fix is a command. This rewrites the messages whose fix differs, by error code, and
 * leaves the others as they are.
 */
export function cliMessage(err: EddyError): string {
  const e = err as EddyError & Record<string, unknown>;
  if (e['preformatted'] === true) return err.message; // from another eddy process, already worded
  switch (err.code) {
    case 'EDDY_UNKNOWN_TOPIC': {
      const topic = String(e['topic'] ?? '');
      return `topic "${topic}" does not exist; create it with \`eddy topic create ${topic}\` (\`eddy topic list\` shows the topics)`;
    }
    case 'EDDY_TOPIC_EXISTS': {
      const topic = String(e['topic'] ?? '');
      return `topic "${topic}" already exists; use it as it is, or delete it first with \`eddy topic delete ${topic}\``;
    }
    case 'EDDY_UNKNOWN_MODULE': {
      if (e['isPath'] === true) return err.message;
      const name = String(e['moduleName'] ?? e['uses'] ?? '');
      return `SmartModule "${name}" is not registered and is not a .wasm file; register it with ` +
        `\`eddy smart-module create ${name} --wasm-file <path>\` (\`eddy smart-module list\` shows them) or give the path of a .wasm`;
    }
    case 'EDDY_MODULE_EXISTS': {
      const name = String(e['moduleName'] ?? '');
      return `a SmartModule named "${name}" is already registered; delete it first with \`eddy smart-module delete ${name}\`, or pick another name`;
    }
    case 'EDDY_DATA_DIR_LOCKED': {
      const holder = e['holder'] as { pid: number; command?: string } | undefined;
      const who = holder ? `process ${holder.pid}${holder.command ? ` (${holder.command})` : ''}` : 'another process';
      return `data directory ${String(e['dir'])} is in use by ${who}; several \`eddy produce\` can write at once, any other writer needs the directory to itself: ` +
        'stop it first (reading commands such as `eddy consume` and `eddy topic list` work meanwhile), ' +
        `or use another directory with --data-dir; if that process is gone, remove ${String(e['dir'])}/${String(e['file'] ?? 'eddy.lock')}`;
    }
    case 'EDDY_RECORD_TOO_LARGE':
    case 'EDDY_DERIVE_COMMIT':
      return err.message.replace(/raise it with openStorage\(dir, \{ maxRecordBytes: (\d+) \}\) \(CLI: --max-record-bytes\)/, 'raise the limit with --max-record-bytes $1');
    case 'EDDY_SM_MEMORY_LIMIT':
      return err.message.replace(/Raise the limit with open\(dir, \{ memoryLimit \}\) \(CLI: --memory-limit\)/, 'Raise the limit with --memory-limit <size> (default 1GB)');
    case 'EDDY_STREAM_TIMEOUT':
      return err.message.replace(/raise the deadline with the deadlineMs option \(CLI: --timeout\)/, 'raise the deadline with --timeout <duration> (default 5s)');
    case 'EDDY_SM_RUNTIME':
      return err instanceof SmartModuleRuntimeError ? runtimeErrorText(err) : err.message;
    case 'EDDY_PRODUCE_TRANSFORM': {
      const cause = (err as { cause?: unknown }).cause;
      if (!(cause instanceof SmartModuleRuntimeError)) return err.message;
      return `producer-side SmartModule failed for ${String(e['topic'])}/${String(e['partition'])}, so none of that batch was stored:\n${runtimeErrorText(cause)}`;
    }
    case 'EDDY_STORAGE_FULL':
      return err.message.replace(/raise it with openStorage\(dir, \{ mapSize: \d+ \}\) \(CLI: --map-size\), or free/, 'free');
    default:
      return err.message;
  }
}
