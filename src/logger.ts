/**
 * Where Eddy's own messages go: a host replaces the logger with `open(dir, { logger })` (pino,
 * winston, console or its own). Eddy never writes to stdout: that belongs to the host.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Structured details of a log line: `stream`, `module`, `code`, `error`, … */
export type LogFields = { [key: string]: unknown };

/** One method per level; each takes a message and optional fields (pino's and winston's shape, fields last). */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * The default: debug and info are dropped; warnings and errors become process warnings
 * (`EddyWarning`, with the fields' `code`), as Eddy reported them before the logger existed.
 */
export const quietLogger: Logger = {
  debug() {},
  info() {},
  warn: (message, fields) => emitWarning(message, fields),
  error: (message, fields) => emitWarning(message, fields),
};

function emitWarning(message: string, fields?: LogFields): void {
  const code = typeof fields?.['code'] === 'string' ? fields['code'] : undefined;
  process.emitWarning(message, code === undefined ? { type: 'EddyWarning' } : { type: 'EddyWarning', code });
}

/** A logger that writes `level message {fields}` lines to stderr from `level` up (what `EDDY_DEBUG` turns on). */
export function stderrLogger(
  level: LogLevel = 'debug',
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  const at =
    (l: LogLevel) =>
    (message: string, fields?: LogFields): void => {
      if (ORDER[l] < ORDER[level]) return;
      const extra = fields && Object.keys(fields).length > 0 ? ` ${formatFields(fields)}` : '';
      write(`eddy ${l}: ${message}${extra}\n`);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function formatFields(fields: LogFields): string {
  return JSON.stringify(fields, (_k, v: unknown) => {
    if (v instanceof Error) return { name: v.name, message: v.message, ...('code' in v ? { code: v.code } : {}) };
    if (typeof v === 'bigint') return v.toString();
    return v;
  });
}

/** The host's logger, else a debug-level stderr logger when `EDDY_DEBUG` is set, else the quiet one. */
export function resolveLogger(logger: Logger | undefined, env: NodeJS.ProcessEnv = process.env): Logger {
  if (logger) return logger;
  const debug = env['EDDY_DEBUG'];
  return debug && debug !== '0' ? stderrLogger('debug') : quietLogger;
}
