import test from 'ava';
import type { Message } from 'kafkajs';
import { chunkMessages, outputMessages } from '../src/kafka/records.js';
import { encodeRecords } from '../src/protocol/index.js';

/**
 * A Kafka derived stream's output path without a broker: module output → Kafka messages, and
 * those messages cut into sends the client and the broker take.
 */

test('outputMessages reads keys and values in place from the module output, timestamps made absolute', (t) => {
  const raw = encodeRecords([
    { key: Buffer.from('k1'), value: Buffer.from('first'), offsetDelta: 0, timestampDelta: 0 },
    { key: null, value: Buffer.from('second'), offsetDelta: 1, timestampDelta: 7 },
  ]);
  const out = outputMessages(raw, 1_000, 3);
  t.deepEqual(
    out.map((m) => [m.key?.toString() ?? null, m.value!.toString(), m.timestamp, m.partition]),
    [
      ['k1', 'first', '1000', 3],
      [null, 'second', '1007', 3],
    ],
  );
  // Views, not copies: they share the output's memory (so it must outlive the send).
  t.is((out[1]!.value as Buffer).buffer, raw.buffer);
});

test('chunkMessages keeps order and caps each send by bytes and by count', (t) => {
  const messages: Message[] = Array.from({ length: 2500 }, (_, i) => ({ value: Buffer.alloc(10, i % 256) }));
  const byCount = chunkMessages(messages);
  t.deepEqual(
    byCount.map((c) => c.length),
    [1000, 1000, 500],
  );
  t.deepEqual(byCount.flat(), messages);
  // 42 bytes each against a 4200-byte budget: 100 per send.
  const byBytes = chunkMessages(messages, 4200, 10_000);
  t.is(byBytes.length, 25);
  t.true(byBytes.every((c) => c.length === 100));
  // A record larger than the budget goes alone.
  const big: Message[] = [{ value: Buffer.alloc(10) }, { value: Buffer.alloc(5000) }, { value: Buffer.alloc(10) }];
  t.deepEqual(
    chunkMessages(big, 4200).map((c) => c.length),
    [1, 1, 1],
  );
});
