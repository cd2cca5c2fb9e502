import { EddyError } from './errors.js';

/**
 * Sizes as Fluvio writes them (bytesize): decimal KB/MB/GB/TB/PB, binary KiB/MiB/GiB/TiB/PiB,
 * case-insensitive, optional space, bare numbers are bytes. Read by the CLI's options and by
 * connector configs, so it lives below both.
 */

const BYTE_UNITS: ReadonlyMap<string, number> = new Map([
  ['', 1],
  ['b', 1],
  ['k', 1e3],
  ['kb', 1e3],
  ['ki', 1024],
  ['kib', 1024],
  ['m', 1e6],
  ['mb', 1e6],
  ['mi', 1024 ** 2],
  ['mib', 1024 ** 2],
  ['g', 1e9],
  ['gb', 1e9],
  ['gi', 1024 ** 3],
  ['gib', 1024 ** 3],
  ['t', 1e12],
  ['tb', 1e12],
  ['ti', 1024 ** 4],
  ['tib', 1024 ** 4],
  ['p', 1e15],
  ['pb', 1e15],
  ['pi', 1024 ** 5],
  ['pib', 1024 ** 5],
]);

/** A size text that is not one; the message says what was expected and follows the field's name. */
export class SizeError extends EddyError {
  constructor(
    readonly input: string,
    problem: string,
  ) {
    super('EDDY_SIZE', `${problem}, got ${JSON.stringify(input)}`);
  }
}

/** Parses `100`, `1KB`, `1.5 GiB`, `10gb` to a whole, positive number of bytes. Throws SizeError. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? BYTE_UNITS.get(m[2]!.toLowerCase()) : undefined;
  if (!m || unit === undefined) throw new SizeError(text, 'expects a size such as 500MB, 10GB or 1GiB');
  const n = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(n) || n <= 0) throw new SizeError(text, 'must be a positive size');
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

/** Counts with thousands separators: 1234567 → `1,234,567`. */
export function formatCount(n: number): string {
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
