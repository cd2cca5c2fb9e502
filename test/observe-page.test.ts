import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { chromium, type Page } from 'playwright-core';
import { open } from '../src/index.js';
import { tempDir } from './helpers/storage.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * The status page in a real headless Chromium (Debian's package) during a run: rows update without
 * a reload, a module failure shows up with its text, and at 700 and 1280 px nothing overflows.
 */

const CHROMIUM = '/usr/bin/chromium';
const step = (name: string) => ({ uses: wasmPath(name), params: {}, lookback: null });
// Long names and paths: they must wrap, not push the layout wider than the window.
const LONG = 'orders-enriched-with-customer-and-warehouse-data-for-eu-region';

/** Elements wider than their box (content clipped or spilling), and anything past the window's right edge. */
// Page-side code goes as source text: the tests compile without the DOM types.
const OVERFLOWING = `(() => {
    const bad = [];
    const doc = document.documentElement;
    if (doc.scrollWidth > doc.clientWidth) bad.push('page ' + doc.scrollWidth + ' > ' + doc.clientWidth);
    for (const el of document.querySelectorAll('body *')) {
      if (!(el instanceof HTMLElement) || el.offsetParent === null || el.clientWidth === 0) continue;
      const name = el.tagName.toLowerCase() + '.' + el.className;
      if (el.scrollWidth > el.clientWidth + 1) bad.push(name + ' scrollWidth ' + el.scrollWidth + ' > clientWidth ' + el.clientWidth);
      const r = el.getBoundingClientRect();
      if (r.right > doc.clientWidth + 1) bad.push(name + ' ends at ' + r.right + ' past ' + doc.clientWidth);
    }
    return bad;
  })()`;
const overflowing = (page: Page) => page.evaluate(OVERFLOWING) as Promise<string[]>;

test('the status page updates in place, shows a module failure, and fits at 700 and 1280 px', async (t) => {
  if (!existsSync(CHROMIUM))
    return t.fail(`${CHROMIUM} is missing: install it with \`apt-get install -y chromium\` (.ci/run does)`);
  const eddy = await open(tempDir(t, 'eddy-page-'), { workers: 2, retentionCheckMs: 0, http: '127.0.0.1:0' });
  t.teardown(() => eddy.close());
  eddy.on('error', () => {});
  await eddy.createTopic('in');
  await eddy.createTopic('out');
  await eddy.createTopic('raw');
  await eddy.createDerived({ name: LONG, source: 'in', target: 'out', transforms: [step('filter')] });
  await eddy.createDerived({ name: 'parse', source: 'raw', target: 'out', transforms: [step('fail-on')] });
  await eddy.startDerived(LONG);
  await eddy.startDerived('parse');

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(eddy.http!.url);
  const card = page.locator(`section.stream[data-name="${LONG}"]`);
  await card.locator('.records-in b').filter({ hasText: /^0$/ }).waitFor({ timeout: 60_000 });
  // A marker that a reload would wipe: the row must change under it.
  await page.evaluate('window.marker = 1');

  await eddy.produce(
    'in',
    Array.from({ length: 300 }, (_, i) => ({ value: Buffer.from(i % 3 ? `apple ${i}` : `kiwi ${i}`) })),
  );
  await card.locator('.records-in b').filter({ hasText: /^300$/ }).waitFor({ timeout: 60_000 });
  await card.locator('.records-out b').filter({ hasText: /^200$/ }).waitFor({ timeout: 60_000 });
  await card.locator('.lag b').filter({ hasText: /^0$/ }).waitFor({ timeout: 60_000 });
  t.is(await page.evaluate('window.marker'), 1, 'updated without a reload');
  // The topics table: what `eddy topic describe` prints for the source.
  const topicRow = page
    .locator('#topics tbody tr')
    .filter({ has: page.locator('td:first-child', { hasText: /^in$/ }) });
  await topicRow.locator('td:nth-child(3)').filter({ hasText: /^300$/ }).waitFor({ timeout: 60_000 });
  t.regex(
    await topicRow.innerText(),
    /^in\s+1\s+300\s+[\d.]+ KiB\s+300$/,
    'topic, partitions, records, size, next offset',
  );
  t.regex(
    await card.locator('table.modules tbody tr').first().innerText(),
    /^filter\s+[\d.]+ (ns|µs|ms)\s+\d+\s+[\d.]+ KiB/,
    'module, cost per record, calls, memory',
  );

  // A module error stops `parse`: its card shows the error text, the header turns unhealthy.
  const parse = page.locator('section.stream[data-name="parse"]');
  t.true(await parse.locator('.last-error').isHidden());
  await eddy.produce(
    'raw',
    ['fine', 'bad'].map((v) => ({ value: Buffer.from(v) })),
  );
  await parse
    .locator('.last-error')
    .filter({ hasText: /EDDY_SM_RUNTIME \(partition 0.*cannot parse bad/ })
    .waitFor({ timeout: 60_000 });
  await parse.locator('.state').filter({ hasText: 'failed' }).waitFor({ timeout: 60_000 });
  await page.locator('#health').filter({ hasText: 'unhealthy' }).waitFor({ timeout: 60_000 });

  const shots = mkdtempSync(join(tmpdir(), 'eddy-page-shots-'));
  for (const width of [1280, 700]) {
    await page.setViewportSize({ width, height: 900 });
    // Layout settles on the next frame after a resize.
    await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
    t.deepEqual(await overflowing(page), [], `at ${width} px`);
    const file = join(shots, `status-${width}.png`);
    await page.screenshot({ path: file, fullPage: true });
    t.true(statSync(file).size > 1000);
    t.log(`screenshot: ${file}`);
  }
  t.deepEqual(errors, [], 'no script errors');
});
