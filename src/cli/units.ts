import { DurationError, formatDuration, parseDuration } from '../smartmodule/duration.js';
import { UsageError } from './format.js';

/**
 * Sizes and durations as Fluvio's command line writes them: `--max-partition-size 10GB`
 * (bytesize: decimal KB/MB/GB/TB/PB, binary KiB/MiB/GiB/TiB/PiB, case-insensitive, optional
 * space, bare numbers are bytes) and `--retention-time 7d` (humantime).
 */

const BYTE_UNITS: ReadonlyMap<string, number> = new Map([
  ['', 1], ['b', 1],
  ['k', 1e3], ['kb', 1e3], ['ki', 1024], ['kib', 1024],
  ['m', 1e6], ['mb', 1e6], ['mi', 1024 ** 2], ['mib', 1024 ** 2],
  ['g', 1e9], ['gb', 1e9], ['gi', 1024 ** 3], ['gib', 1024 ** 3],
  ['t', 1e12], ['tb', 1e12], ['ti', 1024 ** 4], ['tib', 1024 ** 4],
  ['p', 1e15], ['pb', 1e15], ['pi', 1024 ** 5], ['pib', 1024 ** 5],
]);

/** Parses `100`, `1KB`, `1.5 GiB`, `10gb` to a whole number of bytes. `what` names the option in errors. */
export function parseBytes(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? BYTE_UNITS.get(m[2]!.toLowerCase()) : undefined;
  if (!m || unit === undefined) {
    throw new UsageError(`${what} expects a size such as 500MB, 10GB or 1GiB, got ${JSON.stringify(text)}`);
  }
  const n = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${what} must be a positive size, got ${JSON.stringify(text)}`);
  return n;
}

/** Bytes for people: `0 B`, `812 B`, `1.2 kB`, `100 GB` (decimal units, as Fluvio's defaults are written). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  const text = v >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1).replace(/\.0$/, '');
  return `${text} ${units[i]}`;
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

/** Counts with thousands separators: 1234567 → `1,234,567`. */
export function formatCount(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * A table as Fluvio's CLI prints it (`fluvio topic list`): two spaces of indent, a header row of
 * capitals, left-aligned columns two spaces apart, no trailing spaces.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  return all.map((r) => ('  ' + r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')).trimEnd()).join('\n') + '\n';
}
