import { createWriteStream } from 'node:fs';
import { prng } from './records.js';

/**
 * The JSON log the transform bench runs on: `lines` structured log lines of about 97 bytes, a
 * quarter of them at level debug (a filter dropping debug keeps 3 in 4), from a seeded generator
 * so every run reads the same file.
 */

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
const SERVICES = ['api', 'auth', 'billing', 'search', 'worker'] as const;
const WORDS = [
  'request',
  'handled',
  'cache',
  'miss',
  'user',
  'login',
  'retry',
  'queue',
  'flushed',
  'timeout',
  'ok',
  'slow',
] as const;

export async function writeJsonLog(path: string, lines: number, seed = 7): Promise<number> {
  const rand = prng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const out = createWriteStream(path);
  const start = Date.UTC(2026, 0, 1);
  let bytes = 0;
  let chunk = '';
  for (let i = 0; i < lines; i++) {
    const level = i % 4 === 0 ? 'debug' : LEVELS[1 + Math.floor(rand() * 3)]!;
    const message = `${pick(WORDS)} ${pick(WORDS)} ${pick(WORDS)} in ${Math.floor(rand() * 1000)} ms`;
    const line = `{"ts":${start + i * 37},"level":"${level}","service":"${pick(SERVICES)}","message":"${message}"}\n`;
    chunk += line;
    bytes += line.length;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      chunk = '';
    }
  }
  out.write(chunk);
  await new Promise<void>((r) => out.end(() => r()));
  return bytes;
}
