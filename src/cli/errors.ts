import { EddyError } from '../errors.js';
import { SmartModuleRuntimeError } from '../smartmodule/errors.js';
import { DEFAULT_TEXT } from './defaults.js';
import { formatRuntimeError } from './format.js';

/** A SmartModule runtime error as Fluvio prints it (the hint, then the `SmartModule Info` block). */
export function runtimeErrorText(err: SmartModuleRuntimeError): string {
  return formatRuntimeError({
    hint: `${err.module}: ${err.hint}`,
    offset: err.offset,
    kind: err.kind,
    key: err.key,
    value: err.value,
  });
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
      if (e['isPath'] === true || e['registryChecked'] === false) return err.message;
      const name = String(e['moduleName'] ?? e['uses'] ?? '');
      const step = typeof e['step'] === 'string' ? `${e['step']}: ` : '';
      return (
        `${step}SmartModule "${name}" is not registered and is not a .wasm file; register it with ` +
        `\`eddy smart-module create ${name} --wasm-file <path>\` (\`eddy smart-module list\` shows them) or give the path of a .wasm`
      );
    }
    case 'EDDY_MODULE_EXISTS': {
      const name = String(e['moduleName'] ?? '');
      return `a SmartModule named "${name}" is already registered; delete it first with \`eddy smart-module delete ${name}\`, or pick another name`;
    }
    case 'EDDY_DATA_DIR_LOCKED': {
      const holder = e['holder'] as { pid: number; command?: string } | undefined;
      const who = holder ? `process ${holder.pid}${holder.command ? ` (${holder.command})` : ''}` : 'another process';
      return (
        `data directory ${String(e['dir'])} is in use by ${who}; several \`eddy produce\` can write at once, any other writer needs the directory to itself: ` +
        'stop it first (reading commands such as `eddy consume` and `eddy topic list` work meanwhile), ' +
        `or use another directory with --data-dir; if that process is gone, remove ${String(e['dir'])}/${String(e['file'] ?? 'eddy.lock')}`
      );
    }
    case 'EDDY_RECORD_TOO_LARGE':
    case 'EDDY_DERIVE_COMMIT':
      return err.message.replace(
        /raise it with openStorage\(dir, \{ maxRecordBytes: (\d+) \}\) \(CLI: --max-record-bytes\)/,
        'raise the limit with --max-record-bytes $1',
      );
    case 'EDDY_SM_MEMORY_LIMIT':
      return err.message
        .replace(
          /Raise the limit with open\(dir, \{ memoryLimit \}\) \(CLI: --memory-limit\)/,
          `Raise the limit with --memory-limit <size> (default ${DEFAULT_TEXT.memoryLimit})`,
        )
        .replace(
          /by recycleAfter \(CLI: --recycle-after\)/,
          `by --recycle-after (default ${DEFAULT_TEXT.recycleAfter})`,
        );
    case 'EDDY_SESSION_TIMEOUT':
      return err.message.replace(
        /raise the deadline with the deadlineMs option \(CLI: --timeout\)/,
        `raise the deadline with --timeout <duration> (default ${DEFAULT_TEXT.timeout})`,
      );
    case 'EDDY_SM_RUNTIME':
      return err instanceof SmartModuleRuntimeError ? runtimeErrorText(err) : err.message;
    case 'EDDY_PRODUCE_TRANSFORM': {
      const cause = (err as { cause?: unknown }).cause;
      if (!(cause instanceof SmartModuleRuntimeError)) return err.message;
      return `producer-side SmartModule failed for ${String(e['topic'])}/${String(e['partition'])}, so none of that batch was stored:\n${runtimeErrorText(cause)}`;
    }
    case 'EDDY_PRODUCE_STOPPED': {
      const stopped = err as ProduceStoppedError;
      // The count below is the whole input's: the cause's own "nothing was stored" was about one batch.
      const reason = cliMessage(stopped.reason).replace(/; nothing was stored$/, '');
      return `${reason}\n${storedSummary(stopped.stored, stopped.read, stopped.exact)}`;
    }
    case 'EDDY_STORAGE_FULL':
      return err.message.replace(
        /raise it with openStorage\(dir, \{ mapSize: \d+ \}\) \(CLI: --map-size\), or free/,
        'free',
      );
    default:
      return err.message;
  }
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** A `--key-separator` line without the separator (produce skips it and goes on). */
export class MissingKeySeparatorError extends EddyError {
  constructor(
    readonly line: number,
    readonly separator: string,
  ) {
    super(
      'EDDY_NO_KEY_SEPARATOR',
      `line ${line} has no key separator ${JSON.stringify(separator)}: write each line as KEY${separator}VALUE`,
    );
  }
}

/** A produce line longer than the largest record, refused as soon as it passes the limit. */
export class LineTooLongError extends EddyError {
  constructor(
    readonly line: number,
    readonly limit: number,
    limitFlag = '--max-record-bytes',
  ) {
    super(
      'EDDY_LINE_TOO_LONG',
      `line ${line} is longer than ${limit} bytes, the largest record allowed; raise the limit with ${limitFlag}, ` +
        'or send the whole input as one record with --raw',
    );
  }
}

/** Every line of a `--key-separator` produce was skipped: nothing could be sent. */
export class NothingSentError extends EddyError {
  constructor(
    readonly skipped: number,
    readonly separator: string,
  ) {
    super(
      'EDDY_NOTHING_SENT',
      `none of the ${plural(skipped, 'line')} had the key separator ${JSON.stringify(separator)}, so nothing was sent or stored`,
    );
  }
}

/** How many records a produce stored, for every message about it. */
export function storedSummary(stored: number, read: number, exact: boolean): string {
  return `${exact ? '' : 'at least '}${stored} of the ${plural(read, 'record')} read ${stored === 1 && exact ? 'was' : 'were'} stored`;
}

/** A produce stopped by a failure: the failure, then the true count of what was stored. */
export class ProduceStoppedError extends EddyError {
  constructor(
    readonly reason: EddyError,
    readonly stored: number,
    readonly read: number,
    readonly exact: boolean,
  ) {
    super('EDDY_PRODUCE_STOPPED', `${reason.message}\n${storedSummary(stored, read, exact)}`, { cause: reason });
  }
}

/** The topic went away under a consume (deleted by another command). */
export class TopicDeletedError extends EddyError {
  constructor(readonly topic: string) {
    super(
      'EDDY_TOPIC_DELETED',
      `topic "${topic}" was deleted while it was being consumed; the records printed before were all it had`,
    );
  }
}

/** `delete -c/--continue-on-error` went through every name and some could not be deleted. */
export class DeleteFailedError extends EddyError {
  constructor(
    readonly what: string,
    readonly failed: readonly string[],
    readonly total: number,
  ) {
    super(
      'EDDY_DELETE_FAILED',
      `${failed.length} of the ${plural(total, what)} given could not be deleted (${failed.map((n) => `"${n}"`).join(', ')}); the reasons are above`,
    );
  }
}
