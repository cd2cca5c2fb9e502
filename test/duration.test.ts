import test from 'ava';
import fc from 'fast-check';
import { EddyError } from '../src/errors.js';
import { DurationError, formatDuration, parseDuration, parseDurationNs } from '../src/smartmodule/duration.js';

const S = 1000;

test('spec examples: 1w is 604800 s; 12 s with a space', (t) => {
  t.is(parseDuration('1w'), 604_800 * S);
  t.is(parseDuration('12 s'), 12 * S);
  t.is(parseDuration('12s'), 12 * S);
});

test('pairs are summed, spaces optional', (t) => {
  t.is(parseDuration('1h 30m'), 5_400 * S);
  t.is(parseDuration('1h30m'), 5_400 * S);
  t.is(parseDuration('1 h 30 m'), 5_400 * S);
  t.is(parseDuration('2d 3h 4m 5s 6ms'), ((2 * 24 + 3) * 3600 + 4 * 60 + 5) * S + 6);
  t.is(parseDuration('1s 1s'), 2 * S);
  t.is(parseDuration('  7m  '), 420 * S);
});

test('every unit name', (t) => {
  const cases: [string[], number][] = [
    [['ns', 'nsec', 'nanos'], 1e-6],
    [['us', 'usec'], 1e-3],
    [['ms', 'msec', 'millis'], 1],
    [['s', 'sec', 'secs', 'second', 'seconds'], S],
    [['m', 'min', 'mins', 'minute', 'minutes'], 60 * S],
    [['h', 'hr', 'hrs', 'hour', 'hours'], 3600 * S],
    [['d', 'day', 'days'], 86_400 * S],
    [['w', 'week', 'weeks'], 604_800 * S],
    [['M', 'month', 'months'], 2_630_016 * S],
    [['y', 'year', 'years'], 31_557_600 * S],
  ];
  for (const [names, ms] of cases) {
    for (const name of names) t.is(parseDuration(`1${name}`), ms, name);
  }
});

test('exact nanoseconds and fractional milliseconds', (t) => {
  t.is(parseDurationNs('1500us'), 1_500_000n);
  t.is(parseDuration('1500us'), 1.5);
  t.is(parseDuration('1ms 1ns'), 1.000001);
  t.is(parseDurationNs('1y'), 31_557_600_000_000_000n);
  t.is(parseDuration('0s'), 0);
});

test('units are case-sensitive: m is minutes, M is months', (t) => {
  t.is(parseDuration('1m'), 60 * S);
  t.is(parseDuration('1M'), 2_630_016 * S);
  t.throws(() => parseDuration('1S'), { instanceOf: DurationError });
  t.throws(() => parseDuration('1H'), { instanceOf: DurationError });
});

test('errors name the input and show an example', (t) => {
  for (const bad of ['', '   ', '12', 'abc', '1.5s', '-1s', '5 parsecs', '1h30', 's', '1s,2s', '+1s', '1µs']) {
    const err = t.throws(() => parseDuration(bad), { instanceOf: DurationError }, bad)!;
    t.true(err instanceof EddyError);
    t.is(err.code, 'EDDY_DURATION');
    t.is(err.input, bad);
    t.true(err.message.includes(JSON.stringify(bad)), err.message);
    t.regex(err.message, /"12s"/);
  }
  t.regex(t.throws(() => parseDuration('12'))!.message, /no unit/);
  t.regex(t.throws(() => parseDuration('5 parsecs'))!.message, /unknown unit "parsecs"/);
});

test('too long for a u64 of seconds', (t) => {
  t.notThrows(() => parseDurationNs('18446744073709551615s'));
  t.throws(() => parseDurationNs('18446744073709551616s'), { message: /too long/ });
  t.throws(() => parseDurationNs('999999999999999999999y'), { message: /too long/ });
});

test('formatDuration round-trips', (t) => {
  t.is(formatDuration(5_400_000), '1h 30m');
  t.is(formatDuration(0), '0s');
  t.is(formatDuration(1.5), '1ms 500us');
  fc.assert(fc.property(fc.integer({ min: 0, max: 10 ** 13 }), (ms) => parseDuration(formatDuration(ms)) === ms));
});
