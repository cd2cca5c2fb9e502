import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import test from 'ava';
import { eddyRoot } from '../src/sdk-build/compile.js';

// Every "spec §N" (or "§N–§M" range) the sources cite names a section of docs/smartmodule-abi.md,
// so a reader of a clone can follow each reference.

const root = eddyRoot();
const DOC = join(root, 'docs', 'smartmodule-abi.md');
const SOURCE_DIRS = ['src', 'workers', 'sdk', 'bench', 'conformance', 'test', 'bin'];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.(ts|js|sh)$/.test(name)) out.push(p);
  }
  return out;
}

/** Section numbers of the doc's headings: `## 6. Semantics` → 6, `### 6.7 look_back` → 6.7. */
function headings(): Set<string> {
  const found = new Set<string>();
  for (const m of readFileSync(DOC, 'utf8').matchAll(/^#{2,4} (\d+(?:\.\d+)*)\.? /gm)) found.add(m[1]!);
  return found;
}

/** Every section a file cites: after "spec", or any § in a comment that names the ABI doc. */
function citations(text: string): string[] {
  const cited: string[] = [];
  for (const m of text.matchAll(/spec\s+§(\d+(?:\.\d+)*)/g)) cited.push(m[1]!);
  for (const line of text.split('\n').filter((l) => l.includes('smartmodule-abi.md'))) {
    for (const m of line.matchAll(/§(\d+(?:\.\d+)*)/g)) cited.push(m[1]!);
  }
  return cited.map((c) => c.replace(/\.$/, ''));
}

test('every spec § the sources cite is a heading of docs/smartmodule-abi.md', (t) => {
  const known = headings();
  const missing: string[] = [];
  let count = 0;
  for (const dir of SOURCE_DIRS) {
    for (const file of sources(join(root, dir))) {
      for (const section of citations(readFileSync(file, 'utf8'))) {
        count++;
        if (!known.has(section)) missing.push(`${relative(root, file)}: §${section}`);
      }
    }
  }
  t.true(count >= 40, `only ${count} citations found: is the pattern still right?`);
  t.deepEqual(missing, []);
});

test('the doc numbers its sections 1 to 12 without gaps', (t) => {
  const top = [...headings()]
    .filter((h) => !h.includes('.'))
    .map(Number)
    .sort((a, b) => a - b);
  t.deepEqual(
    top,
    Array.from({ length: 12 }, (_, i) => i + 1),
  );
});
