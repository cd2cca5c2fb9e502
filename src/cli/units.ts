import { DurationError, formatDuration, parseDuration } from '../smartmodule/duration.js';
import { parseSize, SizeError } from '../units.js';
import { UsageError } from './format.js';

export { formatBytes, formatCount } from '../units.js';

/**
 * Sizes and durations as Fluvio's command line writes them: `--max-partition-size 10GB`
 * (bytesize, see src/units.ts) and `--retention-time 7d` (humantime).
 */

/** A size option (`--max-partition-size 10GB`) → bytes; `what` names the option in errors. */
export function parseBytes(text: string, what: string): number {
  try {
    return parseSize(text);
  } catch (err) {
    if (err instanceof SizeError) throw new UsageError(`${what} ${err.message}`);
    throw err;
  }
}

/** `--retention-time 7d` / `1h 30m` → milliseconds. */
export function parseRetention(text: string, what = '--retention-time'): number {
  try {
    const ms = parseDuration(text);
    if (!(ms > 0)) throw new UsageError(`${what} must be longer than 0, got ${JSON.stringify(text)}`);
    return ms;
  } catch (err) {
    if (err instanceof DurationError) throw new UsageError(`${what}: ${err.message}`);
    throw err;
  }
}

/** A duration option (`--linger 10ms`, `--interval 5s`) → milliseconds; 0 allowed. */
export function parseDurationOption(text: string, what: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    if (err instanceof DurationError) throw new UsageError(`${what}: ${err.message}`);
    throw err;
  }
}

export function formatRetention(ms: number | null): string {
  return ms === null ? 'none' : formatDuration(ms);
}

/**
 * A table as Fluvio's CLI prints it (`fluvio topic list`): two spaces of indent, a header row of
 * capitals, left-aligned columns two spaces apart, no trailing spaces.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  return `${all.map((r) => `  ${r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')}`.trimEnd()).join('\n')}\n`;
}
