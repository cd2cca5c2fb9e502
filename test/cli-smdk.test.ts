import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { eddyOk, runEddy } from './helpers/cli-in-process.js';

/**
 * smdk's project loop with eddy: `generate` with smdk's flags (--sm-type, --with-params/--no-params,
 * --destination, --project-group), `test` inside the project without --wasm-file, `load`
 * registering the project's build as group/name@version.
 */

test('generate --destination --sm-type --with-params --project-group, then build, test and load inside the project', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'eddy-smdk-'));
  const data = join(work, 'data');
  const project = join(work, 'modules', 'shout');
  t.regex(
    await eddyOk(
      data,
      [
        'generate',
        '--destination',
        project,
        '--sm-type',
        'map',
        '--with-params',
        '--project-group',
        'acme',
        '--silent',
      ],
      '',
      work,
    ),
    /Generated SmartModule map with init parameters in modules\/shout/,
  );
  const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'));
  t.is(pkg.name, 'shout');
  t.deepEqual(pkg.smartmodule, { group: 'acme' });
  t.regex(readFileSync(join(project, 'assembly', 'index.ts'), 'utf8'), /export function init/);

  // Not built yet: test and load say to build first.
  const early = await runEddy(data, ['test', '--text', 'hi', '-e', 'key=k'], '', project);
  t.is(early.code, 1);
  t.regex(early.stderr, /build\/shout\.wasm is not built yet: run `eddy build` first, or give --wasm-file PATH/);
  t.regex((await runEddy(data, ['load'], '', project)).stderr, /is not built yet: run `eddy build` first/);

  await eddyOk(data, ['build'], '', project);
  t.is(await eddyOk(data, ['test', '--text', 'hello', '-e', 'key=k', '-k'], '', project), '[k] HELLO\n');

  t.regex(
    await eddyOk(data, ['load', '--dry-run'], '', project),
    /Dry run mode: acme\/shout@0\.1\.0 is a valid map module; nothing was registered/,
  );
  t.is(await eddyOk(data, ['sm', 'list']), 'no smart modules\n');
  t.regex(
    await eddyOk(data, ['load'], '', project),
    /smartmodule "acme\/shout@0\.1\.0" has been loaded \(map, \d+ bytes\)/,
  );
  // Loading again replaces it; --package-path and --name from elsewhere.
  await eddyOk(data, ['load'], '', project);
  await eddyOk(data, ['load', '--package-path', project, '--name', 'shout'], '', work);
  t.deepEqual(
    JSON.parse(await eddyOk(data, ['sm', 'list', '-O', 'json']))
      .map((m: { name: string }) => m.name)
      .sort(),
    ['acme/shout@0.1.0', 'shout'],
  );
  // sm list --filter keeps the names containing the text, as fluvio's.
  t.deepEqual(
    JSON.parse(await eddyOk(data, ['sm', 'list', '--filter', 'acme', '-O', 'json'])).map(
      (m: { name: string }) => m.name,
    ),
    ['acme/shout@0.1.0'],
  );
  t.regex(await eddyOk(data, ['sm', 'list', '--filter', 'nothing-like-it']), /no smart modules/);
  await eddyOk(data, ['topic', 'create', 'words']);
  await eddyOk(data, ['produce', 'words'], 'quiet\n');
  t.is(
    await eddyOk(data, ['consume', 'words', '-B', '-d', '--smartmodule', 'acme/shout@0.1.0', '-e', 'key=x', '-k']),
    '[x] QUIET\n',
  );

  const outside = await runEddy(data, ['load'], '', work);
  t.is(outside.code, 1);
  t.regex(outside.stderr, /is not a SmartModule project \(no asconfig\.json\)/);
  t.regex((await runEddy(data, ['load', '-p', 'x'], '', project)).stderr, /cargo package/);
});

test('generate: --no-params, the name from --destination; --kind and --sm-type must agree', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'eddy-smdk-'));
  const data = join(work, 'data');
  await eddyOk(data, ['generate', '--destination', 'plain-agg', '--sm-type', 'aggregate', '--no-params'], '', work);
  t.true(existsSync(join(work, 'plain-agg', 'asconfig.json')));
  t.notRegex(readFileSync(join(work, 'plain-agg', 'assembly', 'index.ts'), 'utf8'), /export function init/);
  const both = await runEddy(data, ['generate', 'x', '--with-params', '--no-params'], '', work);
  t.is(both.code, 1);
  t.regex(both.stderr, /--with-params and --no-params cannot be used together/);
  const kinds = await runEddy(data, ['generate', 'y', '--kind', 'map', '--sm-type', 'filter'], '', work);
  t.is(kinds.code, 1);
  t.regex(kinds.stderr, /--kind and --sm-type are the same option/);
  t.regex((await runEddy(data, ['generate'], '', work)).stderr, /give the project's name, or --destination/);
});
