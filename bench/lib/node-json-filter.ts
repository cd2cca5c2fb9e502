// The plain Node program the transform bench compares with: read JSON lines with readline, parse
// each one, keep those whose level is not debug, print them. What a user writes without Eddy.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

const lines = createInterface({ input: createReadStream(process.argv[2]!), crlfDelay: Infinity });
let out: string[] = [];
for await (const line of lines) {
  if (line === '') continue;
  if ((JSON.parse(line) as { level?: string }).level !== 'debug') out.push(line);
  if (out.length >= 4096) {
    if (!process.stdout.write(`${out.join('\n')}\n`)) await new Promise((r) => process.stdout.once('drain', r));
    out = [];
  }
}
if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
