import { EddyError } from '../errors.js';

/**
 * Human-readable durations as transforms.yaml's `lookback.age` takes them (spec §7, the
 * `humantime` syntax): one or more `<integer><unit>` pairs, spaces optional anywhere between the
 * parts, summed. Units are case-sensitive (`m` is minutes, `M` is months).
 */

/** Nanoseconds per unit. */
const UNIT_NS: ReadonlyMap<string, bigint> = (() => {
  const ns = 1n,
    us = 1_000n,
    ms = 1_000_000n,
    s = 1_000_000_000n;
  const table: [string[], bigint][] = [
    [['ns', 'nsec', 'nanos'], ns],
    [['us', 'usec'], us],
    [['ms', 'msec', 'millis'], ms],
    [['s', 'sec', 'secs', 'second', 'seconds'], s],
    [['m', 'min', 'mins', 'minute', 'minutes'], 60n * s],
    [['h', 'hr', 'hrs', 'hour', 'hours'], 3_600n * s],
    [['d', 'day', 'days'], 86_400n * s],
    [['w', 'week', 'weeks'], 604_800n * s],
    // 30.44 days and 365.25 days, as humantime counts them.
    [['M', 'month', 'months'], 2_630_016n * s],
    [['y', 'year', 'years'], 31_557_600n * s],
  ];
  const map = new Map<string, bigint>();
  for (const [names, v] of table) for (const n of names) map.set(n, v);
  return map;
})();

/** The longest duration Fluvio can carry (`Duration` = u64 seconds + u32 nanoseconds). */
const MAX_NS = (2n ** 64n - 1n) * 1_000_000_000n + 999_999_999n;

const EXAMPLE = 'a valid duration looks like "12s", "1h 30m" or "1w"';

/** A duration text that does not follow the humantime syntax. `input` is the text given. */
export class DurationError extends EddyError {
  constructor(
    readonly input: string,
    problem: string,
  ) {
    super('EDDY_DURATION', `invalid duration ${JSON.stringify(input)}: ${problem}; ${EXAMPLE}`);
  }
}

/** Parses a duration to nanoseconds (exact). Throws DurationError. */
export function parseDurationNs(input: string): bigint {
  if (typeof input !== 'string') throw new DurationError(String(input), 'expected a text such as "12s"');
  const text = input;
  let i = 0;
  const n = text.length;
  const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r';
  const isDigit = (c: string) => c >= '0' && c <= '9';
  const isLetter = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  let total = 0n;
  let pairs = 0;
  while (true) {
    while (i < n && isSpace(text[i]!)) i++;
    if (i >= n) break;
    const numStart = i;
    while (i < n && isDigit(text[i]!)) i++;
    if (i === numStart) {
      throw new DurationError(
        input,
        `expected a number at position ${numStart}, found ${JSON.stringify(text[numStart])}`,
      );
    }
    const digits = text.slice(numStart, i);
    while (i < n && isSpace(text[i]!)) i++;
    const unitStart = i;
    while (i < n && isLetter(text[i]!)) i++;
    const unit = text.slice(unitStart, i);
    if (unit === '') {
      if (i >= n) throw new DurationError(input, `the number ${digits} has no unit (such as s, m, h)`);
      throw new DurationError(
        input,
        `expected a unit after ${digits} at position ${unitStart}, found ${JSON.stringify(text[unitStart])}`,
      );
    }
    const per = UNIT_NS.get(unit);
    if (per === undefined) {
      throw new DurationError(
        input,
        `unknown unit ${JSON.stringify(unit)} (units: ns, us, ms, s, m, h, d, w, M, y and their long names)`,
      );
    }
    total += BigInt(digits) * per;
    if (total > MAX_NS) throw new DurationError(input, 'the duration is too long');
    pairs++;
  }
  if (pairs === 0) throw new DurationError(input, 'it is empty');
  return total;
}

/** Parses a duration to milliseconds (fractional below 1 ms, e.g. `1500us` → 1.5). */
export function parseDuration(input: string): number {
  const ns = parseDurationNs(input);
  const ms = ns / 1_000_000n;
  const rest = ns % 1_000_000n;
  return Number(ms) + Number(rest) / 1e6;
}

/** Renders milliseconds back as a humantime text (largest exact units first), e.g. 5_400_000 → `1h 30m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`formatDuration: ${ms} is not a non-negative duration`);
  const whole = Math.floor(ms);
  let ns = BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
  if (ns === 0n) return '0s';
  const order: [string, bigint][] = [
    ['d', 86_400_000_000_000n],
    ['h', 3_600_000_000_000n],
    ['m', 60_000_000_000n],
    ['s', 1_000_000_000n],
    ['ms', 1_000_000n],
    ['us', 1_000n],
    ['ns', 1n],
  ];
  const parts: string[] = [];
  for (const [u, per] of order) {
    if (ns >= per) {
      parts.push(`${ns / per}${u}`);
      ns %= per;
    }
  }
  return parts.join(' ');
}
