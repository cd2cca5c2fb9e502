import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { toErrorCode } from '../src/error-codes.js';
import { EddyError, type EddyErrorCode, ERROR_CODES } from '../src/index.js';
import { eddyRoot } from '../src/sdk-build/compile.js';

// One catalogue of error codes: EddyError's `code` is its union (tsc rejects a code outside it),
// each entry is used somewhere, and one condition has one code.

function sourceText(dir: string): string {
  let text = '';
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) text += sourceText(p);
    else if (name.endsWith('.ts') && name !== 'error-codes.ts') text += readFileSync(p, 'utf8');
  }
  return text;
}

test('the catalogue has no duplicates and every code in it is raised somewhere', (t) => {
  t.is(new Set(ERROR_CODES).size, ERROR_CODES.length);
  const root = eddyRoot();
  const text = sourceText(join(root, 'src')) + sourceText(join(root, 'workers'));
  t.deepEqual(
    ERROR_CODES.filter((c) => !text.includes(`'${c}'`)),
    [],
  );
});

test('an invalid module has one code, EDDY_MODULE_INVALID', (t) => {
  t.true((ERROR_CODES as readonly string[]).includes('EDDY_MODULE_INVALID'));
  t.false((ERROR_CODES as readonly string[]).includes('EDDY_INVALID_MODULE'));
});

test('error.code narrows to the union, and codes from outside the process stay inside it', (t) => {
  const e = new EddyError('EDDY_UNKNOWN_TOPIC', 'no topic');
  const code: EddyErrorCode = e.code;
  t.is(code, 'EDDY_UNKNOWN_TOPIC');
  t.is(toErrorCode('EDDY_SM_TRAP'), 'EDDY_SM_TRAP');
  t.is(toErrorCode('EDDY_FROM_A_NEWER_PEER'), 'EDDY_INTERNAL');
});
